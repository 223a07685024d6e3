//! Reading Fluvius customer-portal exports (quarter-hour electricity, hourly gas) into a
//! compact index, streaming: the file is never held whole, each row is checked as it
//! arrives and located by the `csv` crate's per-record position, so loading is linear in
//! the file's length and memory grows only with the index.
//!
//! The portal's four layouts are known (English and Dutch, electricity and gas):
//! `;`-separated, decimal commas, `="EAN"` cells, a UTF-8 byte-order mark, empty
//! "No consumption" rows, "Estimated" rows, and the repeated hour of the October DST
//! change (two rows with the same local start: the first is summer time). Every row is
//! complete (as many cells as the header) or refused with `file:line:column`, what was
//! expected and what was found: unknown registers and units, a row whose interval is not
//! one quarter (one hour for gas), a quarter given twice. A missing quarter is a gap,
//! and [`Gaps`] says what it means.
//!
//! The index costs 16 bytes a quarter (560 KiB for a year of electricity) and 12 bytes
//! an hour of gas; the CSV reader itself holds one record and an 8 KiB buffer.
//! How a quarter's energy is spread over its seconds is [`shape`]'s business.

pub(crate) mod load;
pub mod shape;

use std::io::{self, Read};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use p1_meter::SimTime;
use p1_meter::time::local_instants;

use crate::error::{ErrorKind, ScenarioError};
use crate::units::{MAX_FLOW_ML_PER_H, MAX_POWER_W, parse_decimal};

pub use shape::Shape;

/// Largest offtake or injection of one quarter, Wh (125 000 kWh): a quarter with both
/// becomes 8·E W for half the quarter, which stays within the largest power a scenario
/// may name (1 GW).
pub const MAX_QUARTER_WH: i64 = MAX_POWER_W / 8;

/// Largest gas volume of one hour, dm³: V dm³ becomes V·1000 ml/h, which stays within
/// the largest flow a scenario may name (1000 m³).
pub const MAX_HOUR_DM3: i64 = MAX_FLOW_ML_PER_H / 1000;

/// Longest line of an export, bytes (a real row is about 150): anything longer is not
/// an export, and refusing it bounds the reader's memory (`/dev/zero` fails at once).
pub const MAX_LINE_BYTES: usize = 4096;

/// Longest period an export may span, in quarters: twenty years (the index then takes
/// at most 11 MiB). A row dated further from the first row is refused.
pub const MAX_SPAN_QUARTERS: usize = 20 * 366 * 96;

/// Most lines an export may have: eight rows a quarter over [`MAX_SPAN_QUARTERS`], so
/// that an endless input (a pipe of empty lines) ends in an error too.
pub const MAX_LINES: u64 = 8 * MAX_SPAN_QUARTERS as u64;

const QUARTER_MS: i64 = 900_000;
const HOUR_MS: i64 = 3_600_000;

/// The tariff a Fluvius export assigns to a quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// "Day" / "Dag": tariff 1.
    Day,
    /// "Night" / "Nacht": tariff 2.
    Night,
}

/// What a missing quarter (or gas hour) means: no row at all between two that exist.
/// "No consumption" rows are not gaps: they are rows, with a volume of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gaps {
    /// Refuse the export, naming the rows before and after the gap (the default: a gap
    /// is usually a cut or concatenated download).
    #[default]
    Refuse,
    /// Nothing was drawn (0 Wh, 0 m³).
    Zero,
    /// The previous quarter's (hour's) volume again, that is the same average power.
    Hold,
}

impl Gaps {
    /// The policy's name in scenarios and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Gaps::Refuse => "refuse",
            Gaps::Zero => "zero",
            Gaps::Hold => "hold",
        }
    }
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
    /// (an empty "No consumption" row without a `Register` cell, or a filled gap).
    pub label: Option<Label>,
    /// Line in the CSV (1-based) of the quarter's first labelled row (its first row when
    /// none is; for a filled gap, the line of the quarter before it), for messages.
    pub line: usize,
}

/// One hour of a gas export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasHour {
    /// Start of the hour.
    pub start: SimTime,
    /// Volume, dm³.
    pub dm3: i64,
    /// Line in the CSV (1-based) of the hour's m³ row (for a filled gap, the line of the
    /// hour before it).
    pub line: usize,
}

/// The accessors both exports share, each over its [`Index`] (`$period`: "quarter";
/// `$meter_row`: the row whose `Meter` cell names the meter).
macro_rules! period_accessors {
    ($item:ty, $period:literal, $periods:literal, $meter_row:literal) => {
        #[doc = concat!("The `Meter` column of the ", $meter_row, ", if not empty.")]
        pub fn meter_id(&self) -> Option<&str> {
            self.0.meter_id.as_deref()
        }

        #[doc = concat!("Start of the first ", $period, ".")]
        pub fn start(&self) -> SimTime {
            self.0.start_of(0)
        }

        #[doc = concat!("End of the last ", $period, " (exclusive).")]
        pub fn end(&self) -> SimTime {
            self.0.start_of(self.0.slots.len())
        }

        #[doc = concat!("Number of ", $periods, ", filled gaps included.")]
        pub fn len(&self) -> usize {
            self.0.slots.len()
        }

        #[doc = concat!("Whether the export has no ", $period, " (a header without rows).")]
        pub fn is_empty(&self) -> bool {
            self.0.slots.is_empty()
        }

        #[doc = concat!("How many ", $periods, " were gaps filled by the [`Gaps`] policy.")]
        pub fn filled_gaps(&self) -> usize {
            self.0.filled
        }

        #[doc = concat!("The ", $periods, " in time order.")]
        pub fn iter(&self) -> impl Iterator<Item = $item> + '_ {
            self.0.range(0, self.0.slots.len())
        }

        #[doc = concat!("The ", $periods, " that overlap `lo..hi`.")]
        pub fn overlapping(&self, lo: SimTime, hi: SimTime) -> impl Iterator<Item = $item> + '_ {
            self.0.overlapping(lo, hi)
        }
    };
}

/// A quarter-hour electricity export: one entry per quarter from the first row's to
/// the last row's, gaps filled by the chosen [`Gaps`] policy.
#[derive(Debug, Clone)]
pub struct ElectricityExport(Index<QuarterSlot>);

impl ElectricityExport {
    period_accessors!(Quarter, "quarter", "quarters", "first row (`1SAG…`)");

    /// The quarter holding `t`, if the export covers it.
    pub fn quarter_at(&self, t: SimTime) -> Option<Quarter> {
        self.0.at(t)
    }
}

/// An hourly gas export: one entry per hour from the first row's to the last row's,
/// gaps filled by the chosen [`Gaps`] policy.
#[derive(Debug, Clone)]
pub struct GasExport(Index<GasSlot>);

impl GasExport {
    period_accessors!(GasHour, "hour", "hours", "first m³ row (`7MIT…`)");
}

/// What an export's index stores a period in, and what its reader needs to know of it:
/// the period's length and words, how a row is checked and recorded, how a gap is
/// filled. [`QuarterSlot`] (electricity) and [`GasSlot`] are the two.
trait Period: Copy + Default {
    /// The period's length.
    const MS: i64;
    /// Most periods an export may span.
    const SPAN_MAX: usize;
    /// The period in gap messages ("quarter").
    const NAME: &'static str;
    /// The period's length in messages about a row's `Until` ("a quarter").
    const LENGTH: &'static str;
    /// Where a period starts, in messages about a row off the grid.
    const GRID: &'static str;
    /// A period as the export hands it out.
    type Item;
    /// What a row's register and unit say, checked before its start and volume.
    type Row;

    /// Whether a row (or a filled gap) is in the period.
    fn present(&self) -> bool;
    /// The period's line in the CSV, for messages.
    fn line(&self) -> u32;
    /// The period starting at `start`, as handed out.
    fn item(&self, start: SimTime) -> Self::Item;
    /// The period filling a gap after `prev`, by the `gaps` policy (never `Refuse`).
    fn fill(prev: &Self, gaps: Gaps) -> Self;

    /// Checks the current row's register and unit; `None` for a row the export skips.
    fn row<R: Read>(rows: &Rows<'_, '_, R>) -> Result<Option<Self::Row>, ScenarioError>;
    /// The current row's volume in the slot's unit, checked against its bounds.
    fn volume<R: Read>(rows: &Rows<'_, '_, R>, row: &Self::Row) -> Result<i64, ScenarioError>;
    /// The row's kind in messages about misplaced rows ("offtake", "gas").
    fn kind(row: &Self::Row) -> &'static str;
    /// Whether the period already has a row of the kind of `row`.
    fn has(&self, row: &Self::Row) -> bool;
    /// Records the current row (`row`, its `volume`) in the period.
    fn record<R: Read>(
        &mut self,
        rows: &Rows<'_, '_, R>,
        row: &Self::Row,
        volume: i64,
    ) -> Result<(), ScenarioError>;
}

/// The index of an export: one slot per period from the first row's to the last row's.
#[derive(Debug, Clone)]
struct Index<S> {
    meter_id: Option<String>,
    /// Period number (ms since the epoch / `S::MS`) of the first slot.
    first: i64,
    slots: Vec<S>,
    /// How many slots are filled gaps.
    filled: usize,
}

impl<S: Period> Index<S> {
    fn start_of(&self, i: usize) -> SimTime {
        SimTime((self.first + i as i64) * S::MS)
    }

    /// The periods `from..to`, handed out.
    fn range(&self, from: usize, to: usize) -> impl Iterator<Item = S::Item> + '_ {
        (from..to).map(|i| self.slots[i].item(self.start_of(i)))
    }

    /// The period holding `t`, if the index covers it.
    fn at(&self, t: SimTime) -> Option<S::Item> {
        let i = usize::try_from(t.millis().div_euclid(S::MS) - self.first).ok()?;
        (i < self.slots.len()).then(|| self.slots[i].item(self.start_of(i)))
    }

    /// The periods that overlap `lo..hi`.
    fn overlapping(&self, lo: SimTime, hi: SimTime) -> impl Iterator<Item = S::Item> + '_ {
        let clamp = |n: i64| {
            usize::try_from(n - self.first)
                .unwrap_or(0)
                .min(self.slots.len())
        };
        let from = clamp(lo.millis().div_euclid(S::MS));
        let to = clamp((hi.millis() + S::MS - 1).div_euclid(S::MS));
        self.range(from, to.max(from))
    }
}

/// Slot flags: which rows a quarter has.
const PRESENT: u8 = 1;
const OFFTAKE: u8 = 2;
const INJECTION: u8 = 4;
const UNLABELLED: u8 = 8;
const DAY: u8 = 16;
const NIGHT: u8 = 32;

/// One quarter in the index: 16 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct QuarterSlot {
    offtake: u32,
    injection: u32,
    line: u32,
    flags: u8,
}

/// One gas hour in the index: 12 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct GasSlot {
    dm3: u32,
    line: u32,
    present: bool,
}

const _: () = assert!(std::mem::size_of::<QuarterSlot>() == 16);
const _: () = assert!(std::mem::size_of::<GasSlot>() == 12);
const _: () = assert!(MAX_QUARTER_WH <= u32::MAX as i64);
const _: () = assert!(MAX_HOUR_DM3 <= u32::MAX as i64);

/// A known header: the portal's column names in order, `;`-separated as in the file. All
/// four put the same column at the same index, so the rows are read alike.
struct Layout {
    name: &'static str,
    header: &'static str,
}

const LAYOUTS: [Layout; 4] = [
    Layout {
        name: "English quarter-hour electricity",
        header: "From (date);From (time);Until (date);Until (time);EAN code;Meter;\
                 Meter type;Register;Volume;Unit;Validation status;Description",
    },
    Layout {
        name: "English hourly gas",
        header: "From (date);From (time);Until (date);Until (time);EAN code;Meter;\
                 Meter type;Register;Volume;Unit;Validation status;Caloric upper value;\
                 Description",
    },
    Layout {
        name: "Dutch quarter-hour electricity",
        header: "Van datum;Van tijdstip;Tot datum;Tot tijdstip;EAN;Meter;Metertype;\
                 Register;Volume;Eenheid;Validatiestatus",
    },
    Layout {
        name: "Dutch hourly gas",
        header: "Van datum;Van tijdstip;Tot datum;Tot tijdstip;EAN-code;Meter;Metertype;\
                 Register;Volume;Eenheid;Validatiestatus;Calorische Bovenwaarde",
    },
];

/// Column indexes, the same in every layout.
const FROM_DATE: usize = 0;
const FROM_TIME: usize = 1;
const UNTIL_DATE: usize = 2;
const UNTIL_TIME: usize = 3;
const METER: usize = 5;
const REGISTER: usize = 7;
const VOLUME: usize = 8;
const UNIT: usize = 9;

/// Why [`Guard`] stopped an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trip {
    LongLine,
    TooManyLines,
}

/// Counts lines as bytes pass and refuses over-long lines and endless inputs, so that
/// the `csv` reader's record never grows past [`MAX_LINE_BYTES`]; reports progress.
struct Guard<'p, R> {
    inner: R,
    /// 1-based line of the next byte.
    line: u64,
    /// Bytes since the last `\n`.
    run: usize,
    total: u64,
    tripped: Option<Trip>,
    progress: Option<&'p mut dyn FnMut(u64)>,
}

impl<R: Read> Read for Guard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.run = 0;
                if self.line > MAX_LINES {
                    self.tripped = Some(Trip::TooManyLines);
                }
            } else {
                self.run += 1;
                if self.run > MAX_LINE_BYTES {
                    self.tripped = Some(Trip::LongLine);
                }
            }
            if self.tripped.is_some() {
                return Err(io::Error::other("export refused"));
            }
        }
        self.total += n as u64;
        if let Some(progress) = self.progress.as_mut() {
            progress(self.total);
        }
        Ok(n)
    }
}

/// The rows of one export being read.
struct Rows<'a, 'p, R> {
    path: &'a str,
    reader: csv::Reader<Guard<'p, R>>,
    record: csv::StringRecord,
    width: usize,
    line: usize,
}

impl<'a, 'p, R: Read> Rows<'a, 'p, R> {
    fn open(
        path: &'a str,
        input: R,
        progress: Option<&'p mut dyn FnMut(u64)>,
    ) -> Result<Self, ScenarioError> {
        let guard = Guard {
            inner: input,
            line: 1,
            run: 0,
            total: 0,
            tripped: None,
            progress,
        };
        // No quoting: the portal never quotes a cell (its EAN cells are `="…"`, which a
        // CSV reader keeps as they are), so every cell's text is exactly what the line
        // shows and columns in messages are exact. `\n` ends a record and the `\r`
        // before it is trimmed: with CRLF as terminator the reader would place a
        // record's position before the previous line's `\n`.
        let reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .quoting(false)
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            .flexible(true)
            .from_reader(guard);
        let mut rows = Rows {
            path,
            reader,
            record: csv::StringRecord::new(),
            width: 0,
            line: 1,
        };
        if !rows.advance()? {
            return Err(rows.syntax(1, 1, "the file is empty: expected a Fluvius export".into()));
        }
        let found: Vec<&str> = (0..rows.record.len()).map(|i| rows.cell(i)).collect();
        let found = found.join(";");
        if !LAYOUTS.iter().any(|l| l.header == found) {
            let known: Vec<String> = LAYOUTS
                .iter()
                .map(|l| format!("{}: `{}`", l.name, l.header))
                .collect();
            return Err(rows.syntax(
                1,
                1,
                format!(
                    "not a Fluvius portal export: found the header `{found}`; the layouts \
                     known are {}",
                    known.join("; ")
                ),
            ));
        }
        rows.width = rows.record.len();
        Ok(rows)
    }

    fn error(&self, line: usize, column: usize, message: String) -> ScenarioError {
        ScenarioError::new(self.path, line, column, message)
    }

    /// A malformed file or row (as opposed to a well-formed row refused for its value).
    fn syntax(&self, line: usize, column: usize, message: String) -> ScenarioError {
        self.error(line, column, message)
            .with_kind(ErrorKind::Syntax)
    }

    /// An error at the cell `field` of the current row.
    fn error_at(&self, field: usize, message: String) -> ScenarioError {
        self.error(self.line, self.column(field), message)
    }

    /// Reads the next record; `false` at the end.
    fn advance(&mut self) -> Result<bool, ScenarioError> {
        match self.reader.read_record(&mut self.record) {
            Ok(more) => {
                if let Some(p) = self.record.position() {
                    self.line = usize::try_from(p.line()).unwrap_or(usize::MAX);
                }
                Ok(more)
            }
            Err(e) => {
                let guard = self.reader.get_ref();
                let line = usize::try_from(guard.line).unwrap_or(usize::MAX);
                Err(match (guard.tripped, e.kind()) {
                    (Some(Trip::LongLine), _) => self.syntax(
                        line,
                        MAX_LINE_BYTES + 1,
                        format!(
                            "a line longer than {MAX_LINE_BYTES} bytes: expected a Fluvius \
                             export (rows of about 150 bytes)"
                        ),
                    ),
                    (Some(Trip::TooManyLines), _) => self.error(
                        line,
                        1,
                        format!("more than {MAX_LINES} lines: an export spans at most 20 years"),
                    ),
                    (None, csv::ErrorKind::Utf8 { pos, .. }) => self.syntax(
                        pos.as_ref()
                            .map_or(line, |p| usize::try_from(p.line()).unwrap_or(line)),
                        1,
                        "not UTF-8 text: expected a Fluvius export".into(),
                    ),
                    (None, _) => self
                        .error(line, 1, format!("cannot read the export: {e}"))
                        .with_kind(ErrorKind::Read),
                })
            }
        }
    }

    /// The next data row (blank lines skipped), checked to have every cell.
    fn next_row(&mut self) -> Result<bool, ScenarioError> {
        loop {
            if !self.advance()? {
                return Ok(false);
            }
            let n = self.record.len();
            if (0..n).all(|i| self.cell(i).is_empty()) {
                continue;
            }
            if n != self.width {
                let end = (0..n)
                    .map(|i| self.raw(i).chars().count() + 1)
                    .sum::<usize>();
                return Err(self.syntax(
                    self.line,
                    end,
                    format!(
                        "a row of {n} cells: expected {} as in the header (a cut or \
                         damaged row)",
                        self.width
                    ),
                ));
            }
            return Ok(true);
        }
    }

    /// Cell `i` as written (the line's final `\r` removed).
    fn raw(&self, i: usize) -> &str {
        let cell = self.record.get(i).unwrap_or("");
        let cell = if i + 1 == self.record.len() {
            cell.strip_suffix('\r').unwrap_or(cell)
        } else {
            cell
        };
        if i == 0 && self.line == 1 {
            cell.strip_prefix('\u{feff}').unwrap_or(cell)
        } else {
            cell
        }
    }

    /// Cell `i`, trimmed.
    fn cell(&self, i: usize) -> &str {
        self.raw(i).trim()
    }

    /// The 1-based character column where cell `i` starts.
    fn column(&self, i: usize) -> usize {
        (0..i.min(self.record.len()))
            .map(|j| self.raw(j).chars().count() + 1)
            .sum::<usize>()
            + 1
    }

    fn date(&self, field: usize) -> Result<NaiveDate, ScenarioError> {
        let text = self.cell(field);
        parse_date(text).ok_or_else(|| {
            self.error_at(
                field,
                format!("`{text}` is not a date: expected DD/MM/YYYY or DD-MM-YYYY"),
            )
        })
    }

    fn time(&self, field: usize) -> Result<NaiveTime, ScenarioError> {
        let text = self.cell(field);
        parse_time(text).ok_or_else(|| {
            self.error_at(field, format!("`{text}` is not a time: expected HH:MM:SS"))
        })
    }

    /// The Volume cell, scaled by `10^decimals` (empty: 0).
    fn volume(&self, decimals: u32, example: &str) -> Result<i64, ScenarioError> {
        let text = self.cell(VOLUME);
        if text.is_empty() {
            return Ok(0);
        }
        let value = parse_decimal(&text.replace(',', "."), decimals).map_err(|e| {
            self.error_at(
                VOLUME,
                format!("volume {e}: expected a number with a decimal comma such as {example}"),
            )
        })?;
        if value < 0 {
            return Err(self.error_at(VOLUME, "a volume cannot be negative".into()));
        }
        Ok(value)
    }
}

/// `DD/MM/YYYY` or `DD-MM-YYYY`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[2] != b[5] || !(b[2] == b'/' || b[2] == b'-') {
        return None;
    }
    let day = digits(&b[0..2])?;
    let month = digits(&b[3..5])?;
    let year = digits(&b[6..10])?;
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

/// `HH:MM:SS` or `HH:MM`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    let (hms, second) = match b.len() {
        8 if b[5] == b':' => (&b[..5], digits(&b[6..8])?),
        5 => (b, 0),
        _ => return None,
    };
    if hms[2] != b':' {
        return None;
    }
    NaiveTime::from_hms_opt(digits(&hms[..2])?, digits(&hms[3..5])?, second)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// The instants a row's `From` may mean (two in the repeated October hour), cached for
/// the rows of one quarter, which share their start.
#[derive(Default)]
struct Starts {
    key: (String, String),
    local: Option<NaiveDateTime>,
    instants: Vec<SimTime>,
}

impl Starts {
    fn of<R: Read>(&mut self, rows: &Rows<'_, '_, R>) -> Result<(), ScenarioError> {
        let (date, time) = (rows.cell(FROM_DATE), rows.cell(FROM_TIME));
        if self.local.is_some() && self.key.0 == date && self.key.1 == time {
            return Ok(());
        }
        let naive = NaiveDateTime::new(rows.date(FROM_DATE)?, rows.time(FROM_TIME)?);
        self.instants = local_instants(naive);
        if self.instants.is_empty() {
            return Err(rows.error_at(
                FROM_TIME,
                format!(
                    "local time {naive} does not exist in Belgium (the clock skips that \
                     hour in March)"
                ),
            ));
        }
        self.key = (date.to_owned(), time.to_owned());
        self.local = Some(naive);
        Ok(())
    }
}

/// Reads a quarter-hour electricity export from `input`, naming it `path` in errors.
///
/// Volumes in `kWh` (the portal's unit), `Wh` or `MWh` are converted exactly to Wh (a
/// value finer than 1 Wh is refused). `progress`, if given, is called with the number of
/// bytes read so far.
pub fn read_electricity(
    path: &str,
    input: impl Read,
    gaps: Gaps,
    progress: Option<&mut dyn FnMut(u64)>,
) -> Result<ElectricityExport, ScenarioError> {
    read_index(path, input, gaps, progress).map(ElectricityExport)
}

/// Reads an hourly gas export from `input`, naming it `path` in errors: the m³ rows
/// (`m³` or `m3`, exact to the dm³); the kWh rows are the portal's conversions of the same
/// volumes and are skipped.
pub fn read_gas(
    path: &str,
    input: impl Read,
    gaps: Gaps,
    progress: Option<&mut dyn FnMut(u64)>,
) -> Result<GasExport, ScenarioError> {
    read_index(path, input, gaps, progress).map(GasExport)
}

/// Reads an export into its index: each row checked (register and unit, start, volume,
/// place, `Until`) and recorded in turn, then the gaps filled or refused.
fn read_index<S: Period>(
    path: &str,
    input: impl Read,
    gaps: Gaps,
    progress: Option<&mut dyn FnMut(u64)>,
) -> Result<Index<S>, ScenarioError> {
    let mut rows = Rows::open(path, input, progress)?;
    let mut starts = Starts::default();
    let mut index: Index<S> = Index {
        meter_id: None,
        first: 0,
        slots: Vec::new(),
        filled: 0,
    };
    while rows.next_row()? {
        let Some(row) = S::row(&rows)? else {
            continue;
        };
        starts.of(&rows)?;
        let volume = S::volume(&rows, &row)?;
        let i = index.place(&rows, &starts.instants, &row)?;
        index.check_until(&rows, i)?;
        index.slots[i].record(&rows, &row, volume)?;
        if index.meter_id.is_none() {
            let id = rows.cell(METER);
            index.meter_id = (!id.is_empty()).then(|| id.to_owned());
        }
    }
    index.fill_gaps(path, gaps)?;
    index.slots.shrink_to_fit();
    Ok(index)
}

impl<S: Period> Index<S> {
    /// Places the current row (`row`) in the index: the period number of its start among
    /// `instants` that has no row of its kind yet, growing the index to it.
    fn place<R: Read>(
        &mut self,
        rows: &Rows<'_, '_, R>,
        instants: &[SimTime],
        row: &S::Row,
    ) -> Result<usize, ScenarioError> {
        let what = S::kind(row);
        for t in instants {
            if t.millis().rem_euclid(S::MS) != 0 {
                return Err(rows.error_at(FROM_TIME, S::GRID.into()));
            }
            let n = t.millis().div_euclid(S::MS);
            if self.slots.is_empty() {
                self.first = n;
            }
            let Ok(i) = usize::try_from(n - self.first) else {
                return Err(rows.error_at(
                    FROM_DATE,
                    format!(
                        "this row starts before the export's first row: expected the rows \
                         in time order ({what})"
                    ),
                ));
            };
            if i >= S::SPAN_MAX {
                return Err(rows.error_at(
                    FROM_DATE,
                    "this row lies more than 20 years after the export's first row".into(),
                ));
            }
            if i >= self.slots.len() {
                self.slots.resize(i + 1, S::default());
            }
            if !self.slots[i].has(row) {
                return Ok(i);
            }
        }
        let (date, time) = (rows.cell(FROM_DATE), rows.cell(FROM_TIME));
        Err(rows.error_at(
            FROM_TIME,
            if instants.len() > 1 {
                format!(
                    "duplicated {what} row for {date} {time}: the clock shows this time \
                     twice (summer time, then winter time), and both already have one"
                )
            } else {
                format!(
                    "duplicated {what} row for {date} {time}: expected one row per register \
                     and period"
                )
            },
        ))
    }

    /// Fills or refuses the gaps of the index (`path` names the export in the refusal).
    fn fill_gaps(&mut self, path: &str, gaps: Gaps) -> Result<(), ScenarioError> {
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].present() {
                i += 1;
                continue;
            }
            // The first slot always holds the first row and the last one the row that grew
            // the index to it, so a gap has a present slot on either side.
            let from = i;
            while !self.slots[i].present() {
                i += 1;
            }
            if gaps == Gaps::Refuse {
                return Err(self.gap_error(path, from, i));
            }
            for k in from..i {
                self.slots[k] = S::fill(&self.slots[k - 1], gaps);
            }
            self.filled += i - from;
        }
        Ok(())
    }

    /// Checks the current row's `Until` against the start of its period `i`: one period
    /// later, on the local clock.
    fn check_until<R: Read>(&self, rows: &Rows<'_, '_, R>, i: usize) -> Result<(), ScenarioError> {
        let (expected, _) = self.start_of(i + 1).local();
        let (date, time) = (rows.date(UNTIL_DATE)?, rows.time(UNTIL_TIME)?);
        if NaiveDateTime::new(date, time) != expected {
            let field = if date == expected.date() {
                UNTIL_TIME
            } else {
                UNTIL_DATE
            };
            return Err(rows.error_at(
                field,
                format!(
                    "the row's interval ends at {} {}: expected {} (its start plus {}), rows \
                     must not overlap",
                    rows.cell(UNTIL_DATE),
                    rows.cell(UNTIL_TIME),
                    expected.format("%d/%m/%Y %H:%M:%S"),
                    S::LENGTH,
                ),
            ));
        }
        Ok(())
    }

    /// The refusal of the gap of periods `from..to`, placed at the row after it.
    fn gap_error(&self, path: &str, from: usize, to: usize) -> ScenarioError {
        let at = |i: usize| self.start_of(i).local().0.format("%d/%m/%Y %H:%M");
        let (before, after) = (self.slots[from - 1].line(), self.slots[to].line());
        let n = to - from;
        ScenarioError::new(
            path,
            after as usize,
            1,
            format!(
                "the export has no rows for {n} {}{} from {} to {} (between the rows at \
                 line {before} and line {after}): fill them in, or say what a gap means with \
                 `gaps = \"zero\"` or `gaps = \"hold\"` (`--gaps` for `p1sim replay`)",
                S::NAME,
                if n == 1 { "" } else { "s" },
                at(from),
                at(to),
            ),
        )
    }
}

/// What an electricity row's register and unit say.
struct Register {
    /// `OFFTAKE`, `INJECTION` or, for an empty row without a register, `UNLABELLED`.
    kind: u8,
    label: Option<Label>,
    /// The unit's decimals below a Wh.
    decimals: u32,
}

impl Period for QuarterSlot {
    const MS: i64 = QUARTER_MS;
    const SPAN_MAX: usize = MAX_SPAN_QUARTERS;
    const NAME: &'static str = "quarter";
    const LENGTH: &'static str = "a quarter";
    const GRID: &'static str = "a quarter starts at :00, :15, :30 or :45";
    type Item = Quarter;
    type Row = Register;

    fn present(&self) -> bool {
        self.flags & PRESENT != 0
    }

    fn line(&self) -> u32 {
        self.line
    }

    fn item(&self, start: SimTime) -> Quarter {
        let label = if self.flags & DAY != 0 {
            Some(Label::Day)
        } else if self.flags & NIGHT != 0 {
            Some(Label::Night)
        } else {
            None
        };
        Quarter {
            start,
            offtake_wh: i64::from(self.offtake),
            injection_wh: i64::from(self.injection),
            label,
            line: self.line as usize,
        }
    }

    fn fill(prev: &Self, gaps: Gaps) -> Self {
        let hold = gaps == Gaps::Hold;
        QuarterSlot {
            offtake: if hold { prev.offtake } else { 0 },
            injection: if hold { prev.injection } else { 0 },
            line: prev.line,
            flags: PRESENT,
        }
    }

    fn row<R: Read>(rows: &Rows<'_, '_, R>) -> Result<Option<Register>, ScenarioError> {
        let register = rows.cell(REGISTER);
        let (kind, label) = match register {
            "Offtake Day" | "Afname Dag" => (OFFTAKE, Some(Label::Day)),
            "Offtake Night" | "Afname Nacht" => (OFFTAKE, Some(Label::Night)),
            "Injection Day" | "Injectie Dag" => (INJECTION, Some(Label::Day)),
            "Injection Night" | "Injectie Nacht" => (INJECTION, Some(Label::Night)),
            "" => (UNLABELLED, None),
            _ => {
                return Err(rows.error_at(
                    REGISTER,
                    format!(
                        "unknown register `{register}`: expected Offtake/Injection Day/Night \
                         or Afname/Injectie Dag/Nacht (a gas export goes in `gas`)"
                    ),
                ));
            }
        };
        let unit = rows.cell(UNIT);
        let decimals = match unit {
            "kWh" => 3,
            "Wh" => 0,
            "MWh" => 6,
            _ => {
                return Err(rows.error_at(
                    UNIT,
                    format!("unknown unit `{unit}`: expected kWh (or Wh, MWh)"),
                ));
            }
        };
        Ok(Some(Register {
            kind,
            label,
            decimals,
        }))
    }

    fn volume<R: Read>(rows: &Rows<'_, '_, R>, row: &Register) -> Result<i64, ScenarioError> {
        let wh = rows.volume(row.decimals, "0,173")?;
        if row.label.is_none() && wh != 0 {
            return Err(rows.error_at(
                REGISTER,
                "a row with a volume needs its register (Offtake/Injection Day/Night)".into(),
            ));
        }
        if wh > MAX_QUARTER_WH {
            return Err(rows.error_at(
                VOLUME,
                "a quarter's offtake or injection is at most 125000 kWh (a 1 GW load)".into(),
            ));
        }
        Ok(wh)
    }

    fn kind(row: &Register) -> &'static str {
        match row.kind {
            OFFTAKE => "offtake",
            INJECTION => "injection",
            _ => "register-less",
        }
    }

    fn has(&self, row: &Register) -> bool {
        self.flags & row.kind != 0
    }

    /// Refuses a label other than the one an earlier row of the quarter gave.
    fn record<R: Read>(
        &mut self,
        rows: &Rows<'_, '_, R>,
        row: &Register,
        wh: i64,
    ) -> Result<(), ScenarioError> {
        let label_bits = match row.label {
            Some(Label::Day) => DAY,
            Some(Label::Night) => NIGHT,
            None => 0,
        };
        let known = self.flags & (DAY | NIGHT);
        if known != 0 && label_bits != 0 && known != label_bits {
            return Err(rows.error_at(
                REGISTER,
                format!(
                    "register `{}` disagrees with line {} on the tariff of this quarter",
                    rows.cell(REGISTER),
                    self.line
                ),
            ));
        }
        // The quarter's line is its first labelled row's, else its first row's.
        if self.flags & PRESENT == 0 || (known == 0 && label_bits != 0) {
            self.line = u32::try_from(rows.line).unwrap_or(u32::MAX);
        }
        self.flags |= PRESENT | row.kind | label_bits;
        // At most MAX_QUARTER_WH, which fits (checked at compile time).
        let wh = u32::try_from(wh).unwrap_or(u32::MAX);
        match row.kind {
            OFFTAKE => self.offtake = wh,
            INJECTION => self.injection = wh,
            _ => {}
        }
        Ok(())
    }
}

impl Period for GasSlot {
    const MS: i64 = HOUR_MS;
    const SPAN_MAX: usize = MAX_SPAN_QUARTERS / 4;
    const NAME: &'static str = "gas hour";
    const LENGTH: &'static str = "an hour";
    const GRID: &'static str = "a gas hour starts on the hour";
    type Item = GasHour;
    /// A gas row has one register (Offtake), so nothing to tell rows apart.
    type Row = ();

    fn present(&self) -> bool {
        self.present
    }

    fn line(&self) -> u32 {
        self.line
    }

    fn item(&self, start: SimTime) -> GasHour {
        GasHour {
            start,
            dm3: i64::from(self.dm3),
            line: self.line as usize,
        }
    }

    fn fill(prev: &Self, gaps: Gaps) -> Self {
        GasSlot {
            dm3: if gaps == Gaps::Hold { prev.dm3 } else { 0 },
            line: prev.line,
            present: true,
        }
    }

    fn row<R: Read>(rows: &Rows<'_, '_, R>) -> Result<Option<()>, ScenarioError> {
        let unit = rows.cell(UNIT);
        if unit == "kWh" {
            return Ok(None);
        }
        if unit != "m³" && unit != "m3" {
            return Err(rows.error_at(
                UNIT,
                format!("unknown unit `{unit}`: expected m³ (kWh rows are skipped)"),
            ));
        }
        let register = rows.cell(REGISTER);
        if register != "Offtake" && register != "Afname" {
            return Err(rows.error_at(
                REGISTER,
                format!(
                    "unknown gas register `{register}`: expected Offtake or Afname (an \
                     electricity export goes in `electricity`)"
                ),
            ));
        }
        Ok(Some(()))
    }

    fn volume<R: Read>(rows: &Rows<'_, '_, R>, (): &()) -> Result<i64, ScenarioError> {
        let dm3 = rows.volume(3, "0,495")?;
        if dm3 > MAX_HOUR_DM3 {
            return Err(rows.error_at(
                VOLUME,
                "an hour's gas volume is at most 1000 m³ (a flow of 1000 m³/h)".into(),
            ));
        }
        Ok(dm3)
    }

    fn kind((): &()) -> &'static str {
        "gas"
    }

    fn has(&self, (): &()) -> bool {
        self.present
    }

    fn record<R: Read>(
        &mut self,
        rows: &Rows<'_, '_, R>,
        (): &(),
        dm3: i64,
    ) -> Result<(), ScenarioError> {
        *self = GasSlot {
            dm3: u32::try_from(dm3).unwrap_or(u32::MAX),
            line: u32::try_from(rows.line).unwrap_or(u32::MAX),
            present: true,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;\
                          Meter;Meter type;Register;Volume;Unit;Validation status;Description\r\n";

    fn row(date: &str, time: &str, until: &str, register: &str, volume: &str) -> String {
        format!(
            "{date};{time};{date};{until};=\"123\";1SAG;Digital meter;{register};{volume};kWh;\
             Read;\r\n"
        )
    }

    fn read(text: &str) -> Result<ElectricityExport, ScenarioError> {
        read_electricity("x.csv", text.as_bytes(), Gaps::Refuse, None)
    }

    #[test]
    fn repeated_hour_first_is_summer() {
        let mut text = HEADER.to_owned();
        // As the portal writes it: each local quarter twice, summer time first; the
        // summer 02:45 quarter ends at 02:00 winter time.
        for (time, until) in [
            ("02:00:00", "02:15:00"),
            ("02:15:00", "02:30:00"),
            ("02:30:00", "02:45:00"),
        ] {
            for v in ["0,100", "0,200"] {
                text += &row("29/10/2023", time, until, "Offtake Night", v);
                text += &row("29/10/2023", time, until, "Injection Night", "0,000");
            }
        }
        text += &row(
            "29/10/2023",
            "02:45:00",
            "02:00:00",
            "Offtake Night",
            "0,100",
        );
        text += &row(
            "29/10/2023",
            "02:45:00",
            "02:00:00",
            "Injection Night",
            "0,000",
        );
        text += &row(
            "29/10/2023",
            "02:45:00",
            "03:00:00",
            "Offtake Night",
            "0,200",
        );
        text += &row(
            "29/10/2023",
            "02:45:00",
            "03:00:00",
            "Injection Night",
            "0,000",
        );
        let export = read(&text).unwrap();
        let q: Vec<Quarter> = export.iter().collect();
        assert_eq!(q.len(), 8);
        // 02:00 CEST = 00:00 UTC, 02:00 CET = 01:00 UTC.
        assert_eq!(q[0].start.0, 1_698_537_600_000);
        assert_eq!(q[4].start.0 - q[0].start.0, 3_600_000);
        let wh: Vec<i64> = q.iter().map(|q| q.offtake_wh).collect();
        assert_eq!(wh, [100, 100, 100, 100, 200, 200, 200, 200]);
        assert_eq!(export.filled_gaps(), 0);
    }

    #[test]
    fn bad_volume_points_at_its_cell() {
        let mut text = HEADER.to_owned();
        text += &row(
            "22/10/2023",
            "00:00:00",
            "00:15:00",
            "Offtake Night",
            "0,1x3",
        );
        let e = read(&text).unwrap_err();
        assert_eq!((e.line, e.column), (2, 81), "{e}");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(
            parse_date("29/10/2023"),
            NaiveDate::from_ymd_opt(2023, 10, 29)
        );
        assert_eq!(
            parse_date("29-10-2023"),
            NaiveDate::from_ymd_opt(2023, 10, 29)
        );
        assert_eq!(parse_date("29/10-2023"), None);
        assert_eq!(parse_date("31/02/2023"), None);
        assert_eq!(parse_date("2023-10-29"), None);
        assert_eq!(parse_time("02:45:00"), NaiveTime::from_hms_opt(2, 45, 0));
        assert_eq!(parse_time("02:45"), NaiveTime::from_hms_opt(2, 45, 0));
        assert_eq!(parse_time("24:00:00"), None);
        assert_eq!(parse_time("2:45:00"), None);
    }
}
