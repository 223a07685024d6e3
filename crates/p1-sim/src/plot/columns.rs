//! The per-pixel reduction behind `p1sim plot`: every sample lands in one of at most
//! `n` time columns, each keeping the minimum and maximum of every series (and which
//! tariffs and breaker states it saw). Memory is fixed by the picture's width, not by the
//! span: a year at 1 s and ten minutes take the same space.
//!
//! When the span is not known beforehand (a capture file), columns start narrow and
//! double in width, merging pairs, whenever a sample falls past the last one.

/// The lowest and highest value seen in a column, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    /// `(min, max)`, `None` while empty.
    pub(crate) range: Option<(i64, i64)>,
}

impl Span {
    /// Takes `v` into the range.
    pub(crate) fn add(&mut self, v: i64) {
        self.range = Some(match self.range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }

    fn merge(&mut self, other: Span) {
        if let Some((lo, hi)) = other.range {
            self.add(lo);
            self.add(hi);
        }
    }
}

/// Everything one column remembers. Powers in W, credit in µ€, M-Bus indexes in dm³;
/// `tariffs` has bit `t` for tariff `t`, `breaker` bit `c` for breaker code `c`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) import: Span,
    pub(crate) export: Span,
    pub(crate) phase_import: [Span; 3],
    pub(crate) phase_export: [Span; 3],
    pub(crate) demand: Span,
    pub(crate) peak: Span,
    pub(crate) credit: Span,
    pub(crate) mbus: [Span; 4],
    pub(crate) tariffs: u8,
    pub(crate) breaker: u8,
}

impl Column {
    fn merge(&mut self, o: &Column) {
        self.import.merge(o.import);
        self.export.merge(o.export);
        for i in 0..3 {
            self.phase_import[i].merge(o.phase_import[i]);
            self.phase_export[i].merge(o.phase_export[i]);
        }
        self.demand.merge(o.demand);
        self.peak.merge(o.peak);
        self.credit.merge(o.credit);
        for i in 0..4 {
            self.mbus[i].merge(o.mbus[i]);
        }
        self.tariffs |= o.tariffs;
        self.breaker |= o.breaker;
    }
}

/// At most `n` columns of equal width from `origin` on.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    origin_ms: i64,
    width_ms: i64,
    cols: Vec<Column>,
}

impl Columns {
    /// `n` columns (at least 1) from `origin_ms`, each `width_ms` wide (at least 1 ms).
    pub(crate) fn new(origin_ms: i64, width_ms: i64, n: usize) -> Columns {
        Columns {
            origin_ms,
            width_ms: width_ms.max(1),
            cols: vec![Column::default(); n.max(1)],
        }
    }

    /// `n` columns exactly covering `[from, to)`.
    pub(crate) fn covering(from_ms: i64, to_ms: i64, n: usize) -> Columns {
        let n = n.max(1);
        let span = to_ms.saturating_sub(from_ms).max(1);
        let count = i64::try_from(n).unwrap_or(i64::MAX);
        Columns::new(from_ms, (span + count - 1) / count, n)
    }

    /// The column holding `at_ms`, widening the columns if it lies past the last one;
    /// `None` before the origin.
    pub(crate) fn at(&mut self, at_ms: i64) -> Option<&mut Column> {
        if at_ms < self.origin_ms {
            return None;
        }
        let n = self.cols.len();
        loop {
            let index = usize::try_from((at_ms - self.origin_ms) / self.width_ms).ok()?;
            if index < n {
                return self.cols.get_mut(index);
            }
            self.widen();
        }
    }

    /// Doubles the width: column `i` becomes columns `2i` and `2i + 1` merged.
    fn widen(&mut self) {
        let n = self.cols.len();
        let mut merged = vec![Column::default(); n];
        for (i, col) in self.cols.iter().enumerate() {
            merged[i / 2].merge(col);
        }
        self.cols = merged;
        self.width_ms = self.width_ms.saturating_mul(2);
    }

    /// Column width, ms.
    pub(crate) fn width_ms(&self) -> i64 {
        self.width_ms
    }

    /// The columns with their start instants.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &Column)> {
        let (origin, width) = (self.origin_ms, self.width_ms);
        self.cols
            .iter()
            .enumerate()
            .map(move |(i, c)| (origin + i64::try_from(i).unwrap_or(0) * width, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_keeps_every_extreme_and_the_memory_fixed() {
        let mut cols = Columns::new(0, 10, 4);
        for t in 0..1000 {
            if let Some(c) = cols.at(t) {
                c.import.add(if t == 517 { -5 } else { t });
            }
        }
        assert_eq!(cols.iter().count(), 4);
        assert_eq!(cols.width_ms(), 320);
        let ranges: Vec<_> = cols.iter().map(|(t, c)| (t, c.import.range)).collect();
        assert_eq!(ranges[0], (0, Some((0, 319))));
        assert_eq!(ranges[1], (320, Some((-5, 639))));
        assert_eq!(ranges[3], (960, Some((960, 999))));
        assert!(cols.at(-1).is_none());
    }

    #[test]
    fn covering_spreads_a_span_over_n_columns() {
        let mut cols = Columns::covering(1000, 2000, 3);
        assert_eq!(cols.width_ms(), 334);
        if let Some(c) = cols.at(1999) {
            c.tariffs |= 1 << 2;
        }
        assert_eq!(cols.width_ms(), 334, "the last instant fits");
        assert_eq!(cols.iter().last().map(|(_, c)| c.tariffs), Some(4));
    }
}
