//! [`ScenarioError`]: a bad scenario or replay file, located by path, line and column,
//! with "did you mean" suggestions for misspelt keys and names.

use std::fmt;
use std::ops::Range;

/// A scenario (or a file it refers to) that cannot be simulated.
///
/// Displayed as `path:line:column: message`, the form editors and CI logs link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file at fault (the scenario, or a replay CSV it refers to).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected; lowercase, no final full stop.
    pub message: String,
}

impl ScenarioError {
    /// An error at byte offset `offset` of `source`.
    pub(crate) fn at_offset(path: &str, source: &str, offset: usize, message: String) -> Self {
        let (line, column) = line_col(source, offset);
        ScenarioError {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    }

    /// An error at the start of `span` in `source`.
    pub(crate) fn at_span(path: &str, source: &str, span: &Range<usize>, message: String) -> Self {
        Self::at_offset(path, source, span.start, message)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and character column of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Levenshtein distance, for suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Adds `; did you mean `x`?` to serde's "unknown field/variant" messages.
pub(crate) fn with_suggestion(message: &str) -> String {
    let kinds = [("unknown field `", "key"), ("unknown variant `", "value")];
    let Some((rest, what)) = kinds
        .iter()
        .find_map(|(k, what)| message.strip_prefix(k).map(|r| (r, what)))
    else {
        return message.to_owned();
    };
    let Some((word, tail)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match suggest(word, candidates) {
        Some(best) => format!("unknown {what} `{word}`; did you mean `{best}`?"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        // 'é' is two bytes: byte 10 is the '=' after "bé ", the 4th character.
        assert_eq!(line_col(src, 10), (2, 4));
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let m = with_suggestion("unknown field `modle`, expected one of `model`, `grid`");
        assert_eq!(m, "unknown key `modle`; did you mean `model`?");
        let m = with_suggestion("unknown field `zzzzzz`, expected one of `model`, `grid`");
        assert!(!m.contains("did you mean"), "{m}");
    }
}
