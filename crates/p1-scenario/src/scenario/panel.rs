//! `[panel]`: the raw table of the front panel's settings and its conversion into a
//! [`p1_panel::PanelConfig`].

use p1_panel::{Code, PanelConfig};
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

/// Converts `[panel]` into the panel's settings, checking each where it is written.
pub(super) fn convert_panel(
    ctx: &Ctx<'_>,
    p: &Spanned<RawPanel>,
) -> Result<PanelConfig, ScenarioError> {
    let r = p.get_ref();
    let mut cfg = PanelConfig::default();
    let positive = |d: &Spanned<crate::units::Duration>, what: &str| {
        let ms = d.get_ref().0;
        if ms > 0 {
            Ok(ms)
        } else {
            Err(ctx.err(&d.span(), format!("{what} must be positive")))
        }
    };
    if let Some(d) = &r.screen_timeout {
        cfg.screen_timeout_ms = positive(d, "the screen timeout")?;
    }
    if let Some(d) = &r.led_flash {
        cfg.led_flash_ms = positive(d, "the LED flash")?;
    }
    for (value, slot) in [
        (&r.control_imp_per_kwh, &mut cfg.control_imp_per_kwh),
        (&r.blind_imp_per_kvarh, &mut cfg.blind_imp_per_kvarh),
    ] {
        if let Some(v) = value {
            *slot = u32::try_from(*v.get_ref())
                .ok()
                .filter(|c| (1..=1_000_000).contains(c))
                .ok_or_else(|| {
                    ctx.err(
                        &v.span(),
                        format!(
                            "an LED constant is 1 to 1000000 pulses, found {}",
                            v.get_ref()
                        ),
                    )
                })?;
        }
    }
    if let Some(v) = &r.signal_max {
        cfg.signal_max = u8::try_from(*v.get_ref())
            .ok()
            .filter(|n| (1..=9).contains(n))
            .ok_or_else(|| {
                ctx.err(
                    &v.span(),
                    format!("`signal_max` is 1 to 9 bars, found {}", v.get_ref()),
                )
            })?;
    }
    if let Some(seq) = &r.sequence {
        if seq.get_ref().is_empty() {
            return Err(ctx.err(&seq.span(), "the sequence lists at least one code"));
        }
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
    // The panel's own checks, so that `Simulation::new` cannot fail on them later.
    cfg.validate()
        .map_err(|e| ctx.err(&p.span(), format!("panel: {e}")))?;
    Ok(cfg)
}
