//! `--out DIR/`: the directory holds one `NNNNNN.p1` file per telegram. A run replaces
//! what an earlier run left there: files of p1sim's own `NNNNNN.p1` form that this run
//! did not write (an earlier, longer run; an instant that is now silent) are removed once
//! the run has succeeded. Any other file in the directory is left alone.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::error::CliError;

/// The telegram file name of 1-based `index`.
pub(crate) fn file_name(index: u64) -> String {
    format!("{index:06}.p1")
}

/// The index of a p1sim telegram file name (six or more digits, `.p1`), if it is one.
fn index_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".p1")?;
    (digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The telegram files found in the directory before the run, less those rewritten since.
/// Memory is bounded by what the directory held, not by the run's length.
pub(crate) struct Earlier {
    left: BTreeSet<u64>,
}

impl Earlier {
    /// Lists `dir`'s telegram files (none if it does not exist yet).
    pub(crate) fn scan(dir: &Path) -> Result<Earlier, CliError> {
        let shown = || dir.display().to_string();
        let mut left = BTreeSet::new();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Earlier { left }),
            Err(e) => return Err(CliError::io(&shown(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| CliError::io(&shown(), e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if let (true, Some(i)) = (is_file, entry.file_name().to_str().and_then(index_of)) {
                left.insert(i);
            }
        }
        Ok(Earlier { left })
    }

    /// This run wrote telegram `index`.
    pub(crate) fn rewritten(&mut self, index: u64) {
        self.left.remove(&index);
    }

    /// Removes the earlier telegram files this run did not rewrite; returns how many.
    pub(crate) fn remove_stale(self, dir: &Path) -> Result<usize, CliError> {
        for &i in &self.left {
            let path = dir.join(file_name(i));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CliError::io(&path.display().to_string(), e)),
            }
        }
        Ok(self.left.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_p1sim_names_count() {
        assert_eq!(index_of("000001.p1"), Some(1));
        assert_eq!(index_of("1234567.p1"), Some(1_234_567));
        assert_eq!(index_of("00001.p1"), None);
        assert_eq!(index_of("000001.p1.bak"), None);
        assert_eq!(index_of("notes.p1"), None);
        assert_eq!(file_name(42), "000042.p1");
    }
}
