//! `[supply]`: what the grid delivers (voltage per phase, its jitter, the power factor),
//! raw and converted into a [`Supply`].

use std::fmt;

use p1_meter::MeterConfig;
use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::Ctx;
use crate::error::ScenarioError;
use crate::units::{Duration, Ratio, Voltage};

/// `[supply]`: what the grid delivers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSupply {
    pub voltage_v: Option<Spanned<Voltages>>,
    pub voltage_jitter_v: Option<Voltage>,
    pub jitter_period: Option<Spanned<Duration>>,
    pub power_factor: Option<Spanned<Ratio>>,
}

/// `voltage_v`: one voltage (`"230.0"`, `230`) or a list of them (one, or one per phase).
#[derive(Debug)]
pub(crate) struct Voltages(pub Vec<Voltage>);

impl<'de> Deserialize<'de> for Voltages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Voltages, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Voltages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a voltage such as \"230.4\" or 230, or a list of one per phase")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Voltages, E> {
                Voltage::deserialize(v.into_deserializer()).map(|v| Voltages(vec![v]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Voltages, E> {
                Voltage::deserialize(v.into_deserializer()).map(|v| Voltages(vec![v]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Voltages, E> {
                Voltage::deserialize(v.into_deserializer()).map(|v| Voltages(vec![v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Voltages, A::Error> {
                Vec::<Voltage>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(Voltages)
            }
        }
        d.deserialize_any(V)
    }
}

/// What the grid delivers: voltage per phase, its seeded jitter and the power factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    /// Nominal voltage per phase, dV.
    pub voltage_dv: [u32; 3],
    /// Voltage varies uniformly within ± this, dV (0 = steady).
    pub jitter_dv: u32,
    /// How long each voltage draw holds, ms.
    pub jitter_period_ms: i64,
    /// Power factor, per-mille.
    pub power_factor_permille: u32,
}

pub(super) fn convert_supply(
    ctx: &Ctx<'_>,
    s: Option<&RawSupply>,
    meter: &MeterConfig,
) -> Result<Supply, ScenarioError> {
    let mut supply = Supply {
        voltage_dv: [2300; 3],
        jitter_dv: 0,
        jitter_period_ms: 60_000,
        power_factor_permille: 1000,
    };
    let Some(s) = s else {
        return Ok(supply);
    };
    if let Some(v) = &s.voltage_v {
        let n = meter.model.phases();
        match v.get_ref().0.as_slice() {
            [one] => supply.voltage_dv = [one.0; 3],
            [a, b, c] if n == 3 => supply.voltage_dv = [a.0, b.0, c.0],
            _ => {
                return Err(ctx.err(
                    &v.span(),
                    format!("give one voltage, or one per phase ({n} for this model)"),
                ));
            }
        }
    }
    if let Some(j) = s.voltage_jitter_v {
        supply.jitter_dv = j.0;
    }
    if let Some(p) = &s.jitter_period {
        if p.get_ref().0 <= 0 {
            return Err(ctx.err(&p.span(), "the jitter period must be positive"));
        }
        supply.jitter_period_ms = p.get_ref().0;
    }
    if let Some(pf) = &s.power_factor {
        let v = pf.get_ref().0;
        if !(1..=1000).contains(&v) {
            return Err(ctx.err(&pf.span(), "a power factor is above 0 and at most 1"));
        }
        supply.power_factor_permille = v as u32;
    }
    Ok(supply)
}
