//! `[panel]`: the raw table of the front panel's settings and its conversion into a
//! [`p1_panel::PanelConfig`].

use std::ops::Range;

use p1_panel::{Code, PanelConfig, PanelConfigError, PanelField};
use serde::Deserialize;
use toml::Spanned;

use super::Ctx;
use crate::error::ScenarioError;
use crate::units::Duration;

/// `[panel]`: the front panel's settings ([`p1_panel::PanelConfig`]) in human units.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPanel {
    pub screen_timeout: Option<Spanned<Duration>>,
    pub sequence: Option<Spanned<Vec<Spanned<String>>>>,
    pub control_imp_per_kwh: Option<Spanned<i64>>,
    pub blind_imp_per_kvarh: Option<Spanned<i64>>,
    pub led_flash: Option<Spanned<Duration>>,
    pub signal_max: Option<Spanned<i64>>,
}

/// Converts `[panel]` into the panel's settings. The ranges are the panel's rules
/// ([`PanelConfig::validate`], run by [`p1_panel::Panel::new`]); [`locate`] maps its
/// errors back to the key. Numbers too large for a setting's type saturate, so the panel
/// refuses them with their own message.
pub(super) fn convert_panel(
    ctx: &Ctx<'_>,
    p: &Spanned<RawPanel>,
) -> Result<PanelConfig, ScenarioError> {
    let r = p.get_ref();
    let mut cfg = PanelConfig::default();
    if let Some(d) = &r.screen_timeout {
        cfg.screen_timeout_ms = d.get_ref().0;
    }
    if let Some(d) = &r.led_flash {
        cfg.led_flash_ms = d.get_ref().0;
    }
    let saturate = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    if let Some(v) = &r.control_imp_per_kwh {
        cfg.control_imp_per_kwh = saturate(*v.get_ref());
    }
    if let Some(v) = &r.blind_imp_per_kvarh {
        cfg.blind_imp_per_kvarh = saturate(*v.get_ref());
    }
    if let Some(v) = &r.signal_max {
        cfg.signal_max = u8::try_from((*v.get_ref()).max(0)).unwrap_or(u8::MAX);
    }
    if let Some(seq) = &r.sequence {
        cfg.sequence = seq
            .get_ref()
            .iter()
            .map(|c| {
                c.get_ref()
                    .parse::<Code>()
                    .map_err(|e| ctx.err(&c.span(), e.to_string()))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(cfg)
}

/// Where the panel setting `e` names is written (the `[panel]` table, or `fallback` when
/// the panel comes from panel events only).
pub(super) fn locate(
    ctx: &Ctx<'_>,
    p: Option<&Spanned<RawPanel>>,
    fallback: &Range<usize>,
    e: &PanelConfigError,
) -> ScenarioError {
    let span = p.map(|p| {
        let r = p.get_ref();
        match e.field {
            PanelField::ScreenTimeout => r.screen_timeout.as_ref().map(Spanned::span),
            PanelField::Sequence => r.sequence.as_ref().map(Spanned::span),
            PanelField::ControlImpPerKwh => r.control_imp_per_kwh.as_ref().map(Spanned::span),
            PanelField::BlindImpPerKvarh => r.blind_imp_per_kvarh.as_ref().map(Spanned::span),
            PanelField::LedFlash => r.led_flash.as_ref().map(Spanned::span),
            PanelField::SignalMax => r.signal_max.as_ref().map(Spanned::span),
        }
        .unwrap_or_else(|| p.span())
    });
    ctx.err(&span.unwrap_or_else(|| fallback.clone()), e.message.clone())
}
