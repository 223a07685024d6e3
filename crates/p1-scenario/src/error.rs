//! [`ScenarioError`]: a bad scenario or replay file, located by path, line and column,
//! with "did you mean" suggestions for misspelt keys and names.

use std::fmt;
use std::ops::Range;

/// A scenario (or a file it refers to) that cannot be simulated.
///
/// Displayed as `path:line:column: message`, the form editors and CI logs link, followed
/// by `; did you mean `x`?` when there is a [`ScenarioError::suggestion`]. A file that
/// cannot be read at all has no position ([`ScenarioError::unreadable`]): `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// The file at fault (the scenario, or a replay CSV it refers to).
    pub path: String,
    /// 1-based line; 0 when the error has no position (see [`ScenarioError::position`]).
    pub line: usize,
    /// 1-based column, in characters; 0 when the error has no position.
    pub column: usize,
    /// What is wrong and what was expected; lowercase, no final full stop.
    pub message: String,
    /// The name that was probably meant (a misspelt key, value or load name).
    pub suggestion: Option<String>,
}

/// The kind of a [`ScenarioError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file cannot be read.
    Read,
    /// The text does not parse: TOML or CSV syntax, a wrong type, an unknown key or name.
    Syntax,
    /// A well-formed value is refused: out of range, contradicting another, or against a
    /// rule of the meter, the panel or the faults.
    Value,
}

impl ScenarioError {
    /// A [`ErrorKind::Value`] error at `line`, `column` of `path`.
    pub fn new(path: &str, line: usize, column: usize, message: String) -> Self {
        ScenarioError {
            kind: ErrorKind::Value,
            path: path.to_owned(),
            line,
            column,
            message,
            suggestion: None,
        }
    }

    /// A [`ErrorKind::Read`] error for a file that cannot be read at all (missing,
    /// unreadable, a directory): there is no line or column to point at.
    pub fn unreadable(path: &str, message: String) -> Self {
        ScenarioError::new(path, 0, 0, message).with_kind(ErrorKind::Read)
    }

    /// Line and column, or `None` for an error about the whole file.
    pub fn position(&self) -> Option<(usize, usize)> {
        (self.line > 0).then_some((self.line, self.column))
    }

    /// An error at byte offset `offset` of `source`.
    pub(crate) fn at_offset(path: &str, source: &str, offset: usize, message: String) -> Self {
        let (line, column) = line_col(source, offset);
        ScenarioError::new(path, line, column, message)
    }

    /// An error at the start of `span` in `source`.
    pub(crate) fn at_span(path: &str, source: &str, span: &Range<usize>, message: String) -> Self {
        Self::at_offset(path, source, span.start, message)
    }

    /// The same error, of kind `kind`.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same error, suggesting `name`.
    pub fn with_suggestion(mut self, name: Option<&str>) -> Self {
        self.suggestion = name.map(str::to_owned);
        self
    }

    /// A TOML parser error (syntax, type, unknown key or name) at byte `offset`: serde's
    /// wording, with the closest name as the suggestion.
    pub(crate) fn toml(path: &str, source: &str, offset: usize, message: &str) -> Self {
        let (message, suggestion) = split_suggestion(message.trim());
        ScenarioError::at_offset(path, source, offset, message)
            .with_kind(ErrorKind::Syntax)
            .with_suggestion(suggestion.as_deref())
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position() {
            Some((line, column)) => write!(f, "{}:{line}:{column}: ", self.path)?,
            None => write!(f, "{}: ", self.path)?,
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The suffix our own value parsers add inside serde messages.
const DID_YOU_MEAN: &str = "; did you mean `";

/// Splits a parser message into its text and a suggestion: ours (`...; did you mean
/// `x`?`, from a value parser) or the closest candidate of serde's "unknown field /
/// variant" messages.
fn split_suggestion(message: &str) -> (String, Option<String>) {
    if let Some((text, rest)) = message.split_once(DID_YOU_MEAN) {
        let name = rest.trim_end_matches("`?").to_owned();
        return (text.to_owned(), Some(name));
    }
    let kinds = [("unknown field `", "key"), ("unknown variant `", "value")];
    let Some((rest, what)) = kinds
        .iter()
        .find_map(|(k, what)| message.strip_prefix(k).map(|r| (r, what)))
    else {
        return (message.to_owned(), None);
    };
    let Some((word, tail)) = rest.split_once('`') else {
        return (message.to_owned(), None);
    };
    let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match suggest(word, candidates) {
        Some(best) => (format!("unknown {what} `{word}`"), Some(best.to_owned())),
        None => (message.to_owned(), None),
    }
}

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
        let (m, s) = split_suggestion("unknown field `modle`, expected one of `model`, `grid`");
        assert_eq!(
            (m.as_str(), s.as_deref()),
            ("unknown key `modle`", Some("model"))
        );
        let (m, s) = split_suggestion("unknown field `zzzzzz`, expected one of `model`, `grid`");
        assert_eq!(s, None, "{m}");
        let (m, s) = split_suggestion("unknown grid `3x400v`; did you mean `3x400V`?");
        assert_eq!(
            (m.as_str(), s.as_deref()),
            ("unknown grid `3x400v`", Some("3x400V"))
        );
    }
}
