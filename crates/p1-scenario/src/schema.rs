//! Value types shared by several scenario tables: the power limiter ([`Limiter`]) and
//! current threshold ([`Fuse`]) of `[meter]` and of events, and [`named!`], which
//! generates a closed set of names with "did you mean" suggestions. Each table's own raw
//! struct lives with its conversion in [`crate::scenario`].

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::units::parse_decimal;

/// Power limiter `0-0:17.0.0`: `"off"`, `"2.3"` (kW) or `10` (kW), kept in hW.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limiter(pub u32);

fn limiter_from(hw: i64) -> Result<Limiter, String> {
    u32::try_from(hw)
        .ok()
        .filter(|&v| v <= 9999)
        .map(Limiter)
        .ok_or_else(|| "a limiter must be between 0.0 and 999.9 kW, or \"off\"".to_owned())
}

impl<'de> Deserialize<'de> for Limiter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limiter, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Limiter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a limiter in kW such as \"2.3\", or \"off\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limiter, E> {
                limiter_from(v.saturating_mul(10)).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limiter, E> {
                if v.trim() == "off" {
                    return Ok(Limiter(9999));
                }
                let hw =
                    parse_decimal(v.trim().trim_end_matches("kW").trim(), 1).map_err(E::custom)?;
                limiter_from(hw).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Current threshold `1-0:31.4.0`: `10` (A) or `"off"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fuse(pub u32);

impl<'de> Deserialize<'de> for Fuse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fuse, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Fuse;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a current threshold in A such as 10, or \"off\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fuse, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&a| a <= 999)
                    .map(Fuse)
                    .ok_or_else(|| E::custom("a current threshold must be 0 to 999 A, or \"off\""))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fuse, E> {
                match v.trim() {
                    "off" => Ok(Fuse(999)),
                    other => match other.trim_end_matches('A').trim().parse::<i64>() {
                        Ok(a) => self.visit_i64(a),
                        Err(_) => Err(E::custom(format!(
                            "`{v}` is not a current threshold: write e.g. 10 or \"off\""
                        ))),
                    },
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Generates a `Deserialize` wrapper for a closed set of names, with suggestions.
macro_rules! named {
    ($ty:ident, $inner:ty, $what:expr, [$(($name:expr, $value:expr)),+ $(,)?]) => {
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $ty(pub $inner);

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "{}: {}", $what, [$(concat!("\"", $name, "\"")),+].join(", "))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        $(if v == $name { return Ok($ty($value)); })+
                        let hint = crate::error::suggest(v, [$($name),+])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        Err(E::custom(format!(
                            "unknown {} `{v}`, expected {}{hint}",
                            $what,
                            [$(concat!("`", $name, "`")),+].join(" or ")
                        )))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
pub(crate) use named;
