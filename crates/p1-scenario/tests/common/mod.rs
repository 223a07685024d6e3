//! What the replay tests share to write Fluvius exports: the portal's headers (with their
//! byte-order mark and CRLF) and the clock arithmetic of a row's interval.
#![allow(dead_code, reason = "not every test writes both kinds of export")]

/// The English quarter-hour electricity header.
pub(crate) const HEADER: &str = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;\
                          Meter;Meter type;Register;Volume;Unit;Validation status;\
                          Description\r\n";

/// The English hourly gas header.
pub(crate) const GAS_HEADER: &str = "\u{feff}From (date);From (time);Until (date);Until (time);\
                              EAN code;Meter;Meter type;Register;Volume;Unit;\
                              Validation status;Caloric upper value;Description\r\n";

/// `time` (`HH:MM:SS`) plus `minutes`, as `HH:MM:00` (within the day).
pub(crate) fn plus_minutes(time: &str, minutes: u32) -> String {
    let start = time[..2].parse::<u32>().unwrap() * 60 + time[3..5].parse::<u32>().unwrap();
    let end = start + minutes;
    format!("{:02}:{:02}:00", end / 60, end % 60)
}
