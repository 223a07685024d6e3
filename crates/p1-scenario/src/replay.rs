//! Replay of Fluvius customer-portal exports (quarter-hour electricity, hourly gas), in
//! the English and the Dutch form: `;`-separated, decimal commas, `="EAN"` cells, a
//! UTF-8 byte-order mark, empty "No consumption" rows, "Estimated" rows, and the
//! repeated hour of the October DST change (two rows with the same local start: the first
//! is summer time). A row with an empty `Register` cell carries no tariff label; it must
//! have no volume either (there is no telling offtake from injection).
//!
//! A quarter's offtake of E Wh becomes a constant import of 4·E W for the quarter
//! (4·E W × 900 s = E Wh exactly), so the meter's quarter demand equals 4·E. A quarter
//! with both offtake and injection imports 8·E W during its first half and exports
//! during its second, which keeps both registers exact. Gas hours of V dm³ become a flow
//! of V·1000 ml/h.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use p1_meter::SimTime;
use p1_meter::time::local_instants;

use crate::error::ScenarioError;
use crate::units::{MAX_FLOW_ML_PER_H, MAX_POWER_W, parse_decimal};

/// Largest offtake or injection of one quarter, Wh: a quarter with both becomes
/// 8·E W for half the quarter, which stays within [`MAX_POWER_W`] (125 000 kWh).
pub const MAX_QUARTER_WH: i64 = MAX_POWER_W / 8;

/// Largest gas volume of one hour, dm³: V dm³ becomes V·1000 ml/h, which stays within
/// the largest flow a scenario may name (1000 m³).
pub const MAX_HOUR_DM3: i64 = MAX_FLOW_ML_PER_H / 1000;

/// The tariff a Fluvius export assigns to a quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// "Day" / "Dag": tariff 1.
    Day,
    /// "Night" / "Nacht": tariff 2.
    Night,
}

/// One quarter of an electricity export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarter {
    /// Start of the quarter.
    pub start: SimTime,
    /// Offtake (import), Wh.
    pub offtake_wh: i64,
    /// Injection (export), Wh.
    pub injection_wh: i64,
    /// Tariff label of the rows; `None` when no row of the quarter names its register
    /// (an empty "No consumption" row without a `Register` cell).
    pub label: Option<Label>,
    /// Line in the CSV (1-based) of the quarter's first labelled row (its first row when
    /// none is), for messages.
    pub line: usize,
}

/// One hour of a gas export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasHour {
    /// Start of the hour.
    pub start: SimTime,
    /// Volume, dm³.
    pub dm3: i64,
}

/// Column indexes found in the header.
struct Columns {
    date: usize,
    time: usize,
    register: usize,
    volume: usize,
    unit: Option<usize>,
}

/// A CSV being read: its label for messages and its text (without the BOM).
struct CsvFile<'a> {
    path: &'a str,
    text: &'a str,
}

impl CsvFile<'_> {
    fn error(&self, line: usize, field: usize, message: String) -> ScenarioError {
        let column = self
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .map_or(1, |l| field_column(l, field));
        ScenarioError::new(self.path, line, column, message)
    }

    /// The 1-based line of the record starting at byte `offset`; the reader may report
    /// the offset just before the previous line's terminator, so terminators are skipped.
    fn line_at(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut start = offset.min(bytes.len());
        while start < bytes.len() && (bytes[start] == b'\r' || bytes[start] == b'\n') {
            start += 1;
        }
        self.text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn records(&self) -> Result<(Columns, Vec<(usize, csv::StringRecord)>), ScenarioError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(true)
            .flexible(true)
            .from_reader(self.text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| self.error(1, 0, format!("cannot read the header: {e}")))?
            .clone();
        let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
        let need = |names: &[&str]| {
            find(names).ok_or_else(|| {
                self.error(
                    1,
                    0,
                    format!(
                        "not a Fluvius export: no column `{}` in the header",
                        names.join("` or `")
                    ),
                )
            })
        };
        let columns = Columns {
            date: need(&["From (date)", "Van datum"])?,
            time: need(&["From (time)", "Van tijdstip"])?,
            register: need(&["Register"])?,
            volume: need(&["Volume"])?,
            unit: find(&["Unit", "Eenheid"]),
        };
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(1, |p| p.line() as usize);
                self.error(line, 0, format!("unreadable CSV row: {e}"))
            })?;
            let line = record
                .position()
                .map_or(0, |p| self.line_at(p.byte() as usize));
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            rows.push((line, record));
        }
        Ok((columns, rows))
    }

    /// The local start instant of a row; `seen` disambiguates the repeated hour.
    fn start(
        &self,
        line: usize,
        record: &csv::StringRecord,
        columns: &Columns,
        seen: &mut BTreeMap<(NaiveDateTime, String), u32>,
        key: &str,
    ) -> Result<SimTime, ScenarioError> {
        let date_text = record.get(columns.date).unwrap_or("").trim();
        let date = NaiveDate::parse_from_str(date_text, "%d/%m/%Y")
            .or_else(|_| NaiveDate::parse_from_str(date_text, "%d-%m-%Y"))
            .map_err(|_| {
                self.error(
                    line,
                    columns.date,
                    format!("`{date_text}` is not a date: expected DD/MM/YYYY or DD-MM-YYYY"),
                )
            })?;
        let time_text = record.get(columns.time).unwrap_or("").trim();
        let time = NaiveTime::parse_from_str(time_text, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(time_text, "%H:%M"))
            .map_err(|_| {
                self.error(
                    line,
                    columns.time,
                    format!("`{time_text}` is not a time: expected HH:MM:SS"),
                )
            })?;
        let naive = NaiveDateTime::new(date, time);
        let earlier_rows = seen.entry((naive, key.to_owned())).or_insert(0);
        let n = *earlier_rows;
        *earlier_rows = n.saturating_add(1);
        // A time the clock shows once is that instant for every row (rows of a quarter
        // add up); in the repeated October hour the first row is the summer-time
        // occurrence, the second the winter-time one, and a third has none.
        let instants = local_instants(naive);
        let chosen = match instants.as_slice() {
            [only] => Some(*only),
            several => several.get(n as usize).copied(),
        };
        chosen.ok_or_else(|| {
            self.error(
                line,
                columns.time,
                format!(
                    "local time {naive} does not exist in Belgium, or a row for it appears \
                     more often than the clock shows it"
                ),
            )
        })
    }

    fn volume(
        &self,
        line: usize,
        record: &csv::StringRecord,
        columns: &Columns,
    ) -> Result<i64, ScenarioError> {
        let text = record.get(columns.volume).unwrap_or("").trim();
        if text.is_empty() {
            return Ok(0);
        }
        let value = parse_decimal(&text.replace(',', "."), 3).map_err(|e| {
            self.error(
                line,
                columns.volume,
                format!("volume {e}: expected a number with a decimal comma such as 0,173"),
            )
        })?;
        if value < 0 {
            return Err(self.error(line, columns.volume, "a volume cannot be negative".into()));
        }
        Ok(value)
    }
}

/// The 1-based character column where field `field` (0-based) starts in `line`.
fn field_column(line: &str, field: usize) -> usize {
    let mut current = 0;
    let mut quoted = false;
    for (i, c) in line.chars().enumerate() {
        if current == field {
            return i + 1;
        }
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => current += 1,
            _ => {}
        }
    }
    line.chars().count() + 1
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Reads a quarter-hour electricity export.
pub fn parse_electricity(path: &str, text: &str) -> Result<Vec<Quarter>, ScenarioError> {
    let file = CsvFile {
        path,
        text: strip_bom(text),
    };
    let (columns, rows) = file.records()?;
    let mut seen = BTreeMap::new();
    let mut quarters: BTreeMap<SimTime, Quarter> = BTreeMap::new();
    for (line, record) in rows {
        let register = record.get(columns.register).unwrap_or("").trim();
        let (injection, label) = match register {
            "Offtake Day" | "Afname Dag" => (false, Some(Label::Day)),
            "Offtake Night" | "Afname Nacht" => (false, Some(Label::Night)),
            "Injection Day" | "Injectie Dag" => (true, Some(Label::Day)),
            "Injection Night" | "Injectie Nacht" => (true, Some(Label::Night)),
            "" => (false, None),
            other => {
                return Err(file.error(
                    line,
                    columns.register,
                    format!(
                        "unknown register `{other}`: expected Offtake/Injection Day/Night \
                         or Afname/Injectie Dag/Nacht"
                    ),
                ));
            }
        };
        let start = file.start(line, &record, &columns, &mut seen, register)?;
        let wh = file.volume(line, &record, &columns)?;
        if label.is_none() && wh != 0 {
            return Err(file.error(
                line,
                columns.register,
                "a row with a volume needs its register (Offtake/Injection Day/Night)".into(),
            ));
        }
        let quarter = quarters.entry(start).or_insert(Quarter {
            start,
            offtake_wh: 0,
            injection_wh: 0,
            label,
            line,
        });
        if quarter.label.is_none() {
            quarter.label = label;
            quarter.line = line;
        }
        if label.is_some() && quarter.label != label {
            return Err(file.error(
                line,
                columns.register,
                format!(
                    "register `{register}` disagrees with line {} on the tariff of this quarter",
                    quarter.line
                ),
            ));
        }
        if start.millis() % 900_000 != 0 {
            return Err(file.error(
                line,
                columns.time,
                "a quarter must start at :00, :15, :30 or :45".into(),
            ));
        }
        let total = if injection {
            &mut quarter.injection_wh
        } else {
            &mut quarter.offtake_wh
        };
        *total = total
            .checked_add(wh)
            .filter(|&t| t <= MAX_QUARTER_WH)
            .ok_or_else(|| {
                file.error(
                    line,
                    columns.volume,
                    "a quarter's offtake or injection is at most 125000 kWh \
                     (a 1 GW load)"
                        .into(),
                )
            })?;
    }
    Ok(quarters.into_values().collect())
}

/// Reads an hourly gas export (only the m³ rows; the kWh rows are conversions).
pub fn parse_gas(path: &str, text: &str) -> Result<Vec<GasHour>, ScenarioError> {
    let file = CsvFile {
        path,
        text: strip_bom(text),
    };
    let (columns, rows) = file.records()?;
    let mut seen = BTreeMap::new();
    let mut hours: BTreeMap<SimTime, GasHour> = BTreeMap::new();
    for (line, record) in rows {
        let unit = columns
            .unit
            .and_then(|c| record.get(c))
            .unwrap_or("m³")
            .trim();
        if unit == "kWh" {
            continue;
        }
        if unit != "m³" && unit != "m3" {
            return Err(file.error(
                line,
                columns.unit.unwrap_or(0),
                format!("unknown unit `{unit}`: expected m³ (kWh rows are skipped)"),
            ));
        }
        let register = record.get(columns.register).unwrap_or("").trim();
        if register != "Offtake" && register != "Afname" {
            return Err(file.error(
                line,
                columns.register,
                format!("unknown gas register `{register}`: expected Offtake or Afname"),
            ));
        }
        let start = file.start(line, &record, &columns, &mut seen, "gas")?;
        let dm3 = file.volume(line, &record, &columns)?;
        let hour = hours.entry(start).or_insert(GasHour { start, dm3: 0 });
        hour.dm3 = hour
            .dm3
            .checked_add(dm3)
            .filter(|&t| t <= MAX_HOUR_DM3)
            .ok_or_else(|| {
                file.error(
                    line,
                    columns.volume,
                    "an hour's gas volume is at most 1000 m³ (a flow of 1000 m³/h)".into(),
                )
            })?;
    }
    Ok(hours.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;\
                          Meter;Meter type;Register;Volume;Unit;Validation status;Description\r\n";

    fn row(date: &str, time: &str, register: &str, volume: &str) -> String {
        format!(
            "{date};{time};{date};{time};=\"123\";1SAG;Digital meter;{register};{volume};kWh;Read;\r\n"
        )
    }

    #[test]
    fn repeated_hour_first_is_summer() {
        let mut text = HEADER.to_owned();
        for v in ["0,100", "0,200"] {
            text += &row("29/10/2023", "02:00:00", "Offtake Night", v);
            text += &row("29/10/2023", "02:00:00", "Injection Night", "0,000");
        }
        let q = parse_electricity("x.csv", &text).unwrap();
        assert_eq!(q.len(), 2);
        // 02:00 CEST = 00:00 UTC, 02:00 CET = 01:00 UTC.
        assert_eq!(q[1].start.0 - q[0].start.0, 3_600_000);
        assert_eq!((q[0].offtake_wh, q[1].offtake_wh), (100, 200));
    }

    #[test]
    fn bad_volume_points_at_its_cell() {
        let mut text = HEADER.to_owned();
        text += &row("22/10/2023", "00:00:00", "Offtake Night", "0,1x3");
        let e = parse_electricity("x.csv", &text).unwrap_err();
        assert_eq!((e.line, e.column), (2, 81), "{e}");
    }

    #[test]
    fn field_columns() {
        assert_eq!(field_column("a;=\"1;2\";c", 2), 10);
        assert_eq!(field_column("a;b", 0), 1);
    }
}
