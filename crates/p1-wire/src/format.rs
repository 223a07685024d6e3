//! The one table of numeric formats (DSMR 5.0.2 §6.4 `Fn(x,y)`, spec §3.2): for each kind
//! of value, its integer digits, decimals and unit. The encoder prints and the decoder
//! checks through the same [`Fixed`] constants, so the two cannot drift apart.

use crate::Version;

/// A fixed-point field: `int` integer digits, `dec` decimals (no point when 0), then
/// `*unit` when there is a unit. Values are integers in units of 10^-dec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    pub(crate) int: usize,
    pub(crate) dec: usize,
    pub(crate) unit: Option<&'static str>,
}

const fn f(int: usize, dec: usize, unit: &'static str) -> Fixed {
    Fixed {
        int,
        dec,
        unit: Some(unit),
    }
}

const fn digits(int: usize) -> Fixed {
    Fixed {
        int,
        dec: 0,
        unit: None,
    }
}

/// `1-0:1.8.x`, `1-0:2.8.x`: F9(3,3) kWh.
pub(crate) const ENERGY: Fixed = f(6, 3, "kWh");
/// Powers `x.7.0`, demand `1.4.0`, peaks: F5(3,3) kW.
pub(crate) const POWER: Fixed = f(2, 3, "kW");
/// Voltages: F4(1,1) V.
pub(crate) const VOLTAGE: Fixed = f(3, 1, "V");
/// Currents from 50214: F5(2,2) A.
pub(crate) const CURRENT: Fixed = f(3, 2, "A");
/// Currents on 50213: F3(0,0) A.
pub(crate) const CURRENT_WHOLE: Fixed = f(3, 0, "A");
/// `0-0:17.0.0`: F4(1,1) kW.
pub(crate) const LIMITER: Fixed = f(3, 1, "kW");
/// `1-0:31.4.0`: F3(0,0) A.
pub(crate) const FUSE: Fixed = f(3, 0, "A");
/// M-Bus readings: F8(3,3) m³.
pub(crate) const VOLUME: Fixed = f(5, 3, "m3");
/// The unit-less reading of a silent M-Bus channel, `00000.000`.
pub(crate) const VOLUME_SILENT: Fixed = Fixed {
    int: 5,
    dec: 3,
    unit: None,
};
/// `0-0:96.14.0`: four digits.
pub(crate) const TARIFF: Fixed = digits(4);
/// `0-n:24.1.0`: three digits.
pub(crate) const DEVICE_TYPE: Fixed = digits(3);
/// `0-0:96.1.4`: five digits.
pub(crate) const VERSION: Fixed = digits(5);
/// Breaker and valve states: one digit.
pub(crate) const STATE: Fixed = digits(1);

/// The current format of `version`.
pub(crate) const fn current(version: Version) -> Fixed {
    if version.integer_currents() {
        CURRENT_WHOLE
    } else {
        CURRENT
    }
}

impl Fixed {
    /// The largest value the field can print.
    pub(crate) fn max(self) -> u64 {
        10u64.saturating_pow((self.int + self.dec) as u32) - 1
    }

    /// Prints `raw`, zero-padded, saturating at [`Fixed::max`].
    pub(crate) fn print(self, raw: u64) -> String {
        let mut out = Vec::with_capacity(self.int + self.dec + 6);
        self.write(&mut out, raw);
        // Digits, '.', '*' and the ASCII units only.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Appends `raw` as [`Fixed::print`] prints it, without `core::fmt` (built on the
    /// stack, one copy). Always inlined: every call site has a constant format, which
    /// then folds into straight-line code.
    #[inline(always)]
    pub(crate) fn write(self, out: &mut Vec<u8>, raw: u64) {
        // At most 20 digits, the point, `*` and a unit of up to 5 bytes.
        let mut text = [0u8; 32];
        let width = (self.int + self.dec).min(20);
        let mut digits = [b'0'; 20];
        write_padded(&mut digits[..width], raw.min(self.max()));
        let int = self.int.min(width);
        text[..int].copy_from_slice(&digits[..int]);
        let mut n = int;
        if self.dec > 0 {
            text[n] = b'.';
            text[n + 1..n + 1 + width - int].copy_from_slice(&digits[int..width]);
            n += 1 + width - int;
        }
        if let Some(unit) = self.unit {
            let unit = &unit.as_bytes()[..unit.len().min(32 - n - 1)];
            text[n] = b'*';
            text[n + 1..n + 1 + unit.len()].copy_from_slice(unit);
            n += 1 + unit.len();
        }
        out.extend_from_slice(&text[..n]);
    }

    /// Parses exactly this format; `None` for anything else (other width, sign, comma,
    /// missing or other unit).
    pub(crate) fn parse(self, text: &str) -> Option<u64> {
        self.parse_bytes(text.as_bytes())
    }

    /// [`Fixed::parse`] of bytes (the decoder's fast lane reads its buffer directly).
    /// Inlined: every call site has a constant format, which turns the digit loops
    /// into straight runs of compares.
    #[inline(always)]
    pub(crate) fn parse_bytes(self, b: &[u8]) -> Option<u64> {
        if b.len() != self.len() {
            return None;
        }
        let (int, rest) = b.split_at(self.int);
        let (frac, rest) = match rest.split_first() {
            Some((b'.', rest)) if self.dec > 0 => rest.split_at(self.dec),
            _ if self.dec > 0 => return None,
            _ => (&[][..], rest),
        };
        // `*unit` exactly when the format has a unit (the length says it is all there).
        let unit_ok = match self.unit {
            Some(unit) => rest.split_first() == Some((&b'*', unit.as_bytes())),
            None => rest.is_empty(),
        };
        if !unit_ok {
            return None;
        }
        let digits = |text: &[u8]| {
            text.iter().try_fold(0u64, |v, &c| {
                c.is_ascii_digit().then(|| v * 10 + u64::from(c - b'0'))
            })
        };
        Some(digits(int)? * 10u64.pow(self.dec as u32) + digits(frac)?)
    }

    /// Length of the printed value: the digits, the point when there are decimals, and
    /// `*unit` when there is a unit (`000000.000*kWh` is 14).
    pub(crate) const fn len(self) -> usize {
        let point = if self.dec > 0 { 1 } else { 0 };
        let unit = match self.unit {
            Some(unit) => 1 + unit.len(),
            None => 0,
        };
        self.int + point + self.dec + unit
    }

    /// How the field looks, for error messages: `F9(3,3) like (000000.000*kWh)`.
    pub(crate) fn describe(self) -> String {
        if self.unit.is_none() && self.dec == 0 {
            return format!("{} digit(s)", self.int);
        }
        format!(
            "F{}({},{}) like ({})",
            self.int + self.dec,
            self.dec,
            self.dec,
            self.print(0)
        )
    }
}

/// Two decimal digits of 0..=99, indexed by `2 * n`.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Fills `slot` with the low `slot.len()` decimal digits of `v`, zero-padded.
#[inline(always)]
pub(crate) fn write_padded(slot: &mut [u8], mut v: u64) {
    let mut end = slot.len();
    while end >= 2 {
        let pair = (v % 100) as usize * 2;
        slot[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
        v /= 100;
        end -= 2;
    }
    if end == 1 {
        slot[0] = b'0' + (v % 10) as u8;
    }
}

/// Appends `v` in decimal without padding (what `{}` prints for an integer).
#[inline]
pub(crate) fn write_decimal(out: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 20];
    let len = v.checked_ilog10().map_or(1, |l| l as usize + 1);
    write_padded(&mut digits[..len], v);
    out.extend_from_slice(&digits[..len]);
}

/// Appends `v` as at least two digits (what `{:02}` prints).
#[inline]
pub(crate) fn write_two(out: &mut Vec<u8>, v: u8) {
    if v < 100 {
        let pair = usize::from(v) * 2;
        out.extend_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        write_decimal(out, u64::from(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_widths_real_meters_print() {
        assert_eq!(ENERGY.print(3_457_591), "003457.591*kWh");
        assert_eq!(POWER.print(524), "00.524*kW");
        assert_eq!(VOLTAGE.print(2316), "231.6*V");
        assert_eq!(CURRENT_WHOLE.print(2), "002*A");
        assert_eq!(LIMITER.print(23), "002.3*kW");
        assert_eq!(FUSE.print(10), "010*A");
        assert_eq!(VOLUME_SILENT.print(0), "00000.000");
        assert_eq!(POWER.print(100_000), "99.999*kW");
        assert_eq!(TARIFF.print(2), "0002");
    }

    #[test]
    fn digit_writers_agree_with_core_fmt() {
        for v in [0u64, 1, 9, 10, 99, 100, 12_345, 999_999_999, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
            for width in 1..=20 {
                let mut slot = vec![0u8; width];
                write_padded(&mut slot, v);
                let full = format!("{v:020}");
                assert_eq!(slot, full.as_bytes()[20 - width..], "{v} in {width}");
            }
        }
        for v in 0..=u8::MAX {
            let mut out = Vec::new();
            write_two(&mut out, v);
            assert_eq!(out, format!("{v:02}").as_bytes());
        }
        for (fmt, raw) in [(ENERGY, 3_457_591), (POWER, 100_000), (VOLUME_SILENT, 0)] {
            let width = fmt.int + fmt.dec;
            let digits = format!("{:0width$}", raw.min(fmt.max()));
            let (i, d) = digits.split_at(fmt.int);
            let unit = fmt.unit.map(|u| format!("*{u}")).unwrap_or_default();
            let point = if fmt.dec > 0 { "." } else { "" };
            assert_eq!(fmt.print(raw), format!("{i}{point}{d}{unit}"));
        }
    }

    #[test]
    fn parses_exactly_its_own_format() {
        assert_eq!(ENERGY.parse("003457.591*kWh"), Some(3_457_591));
        assert_eq!(CURRENT_WHOLE.parse("002*A"), Some(2));
        assert_eq!(VOLUME_SILENT.parse("00000.000"), Some(0));
        for bad in [
            "03457.591*kWh",
            "003457,591*kWh",
            "003457.591*kW",
            "003457.591",
            "+03457.591*kWh",
            "003457.591*kWh*",
        ] {
            assert_eq!(ENERGY.parse(bad), None, "{bad}");
        }
        assert_eq!(ENERGY.describe(), "F9(3,3) like (000000.000*kWh)");
    }

    /// What [`Fixed::parse`] means, a byte at a time.
    fn parse_plainly(fmt: Fixed, b: &[u8]) -> Option<u64> {
        let number = fmt.int + usize::from(fmt.dec > 0) + fmt.dec;
        let unit = fmt.unit.map(|u| [b"*", u.as_bytes()].concat());
        let (digits, rest) = b.split_at_checked(number)?;
        if rest != unit.as_deref().unwrap_or_default() {
            return None;
        }
        let mut v = 0;
        for (i, &c) in digits.iter().enumerate() {
            match c {
                b'.' if fmt.dec > 0 && i == fmt.int => {}
                b'0'..=b'9' if fmt.dec == 0 || i != fmt.int => v = v * 10 + u64::from(c - b'0'),
                _ => return None,
            }
        }
        Some(v)
    }

    #[test]
    fn parse_is_the_plain_reading_for_every_byte_anywhere() {
        let formats = [
            ENERGY,
            POWER,
            VOLTAGE,
            CURRENT,
            CURRENT_WHOLE,
            LIMITER,
            FUSE,
            VOLUME,
            VOLUME_SILENT,
            TARIFF,
            DEVICE_TYPE,
            VERSION,
            STATE,
        ];
        for fmt in formats {
            for raw in [0, 7, fmt.max()] {
                let base = fmt.print(raw).into_bytes();
                assert_eq!(fmt.parse_bytes(&base), Some(raw));
                for at in 0..=base.len() {
                    for b in 0..=u8::MAX {
                        let mut text = base.clone();
                        text.insert(at, b);
                        assert_eq!(fmt.parse_bytes(&text), parse_plainly(fmt, &text));
                        text.remove(at);
                        if at < text.len() {
                            text[at] = b;
                            assert_eq!(fmt.parse_bytes(&text), parse_plainly(fmt, &text));
                            text.remove(at);
                            assert_eq!(fmt.parse_bytes(&text), parse_plainly(fmt, &text));
                        }
                    }
                }
            }
        }
    }
}
