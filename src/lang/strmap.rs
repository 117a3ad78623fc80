//! Mapping offsets in a decoded TOML string back into the TOML file, so that an
//! error inside `gap = "..."` points at the file's own characters.
//!
//! Literal strings (`'...'`, `'''...'''`) map by a fixed offset. Basic strings
//! (`"..."`, `"""..."""`) are re-decoded here, escape by escape: every byte a
//! escape produces maps to the backslash that starts it, and a line-ending
//! backslash of a multi-line string maps nothing (its whitespace is skipped).
//! Our decoding is compared with the TOML parser's; should they ever differ
//! (a TOML feature this module does not know), every offset maps to the opening
//! quote: the message still names the right file, item and line.

use std::ops::Range;

/// Decoded-string byte offset to file byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrMap {
    /// One entry per byte of the decoded string, plus one for its end.
    offsets: Vec<usize>,
}

impl StrMap {
    /// The file offset of a decoded-string offset (clamped to the end).
    pub fn file_offset(&self, offset: usize) -> usize {
        self.offsets[offset.min(self.offsets.len() - 1)]
    }

    /// Maps a span of the decoded string to a span of the file.
    pub fn file_range(&self, r: Range<usize>) -> Range<usize> {
        let start = self.file_offset(r.start);
        let end = if r.end > r.start {
            // The end is just past the last byte of the span.
            let last = self.file_offset(r.end - 1);
            let next = self.file_offset(r.end);
            next.max(last + 1)
        } else {
            start
        };
        start..end.max(start)
    }
}

/// Builds the map for the string token at `token` in `file`, whose decoded value
/// is `decoded`. The boolean is `false` when only the fallback map was possible.
pub fn map_string(file: &str, token: Range<usize>, decoded: &str) -> (StrMap, bool) {
    match try_map(file, token.clone(), decoded) {
        Some(map) => (map, true),
        None => (
            StrMap {
                offsets: vec![token.start; decoded.len() + 1],
            },
            false,
        ),
    }
}

fn try_map(file: &str, token: Range<usize>, decoded: &str) -> Option<StrMap> {
    let raw = file.get(token.clone())?;
    let (delim, basic) = if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else {
        return None;
    };
    if raw.len() < 2 * delim {
        return None;
    }
    let mut start = token.start + delim;
    let end = token.end - delim;
    if delim == 3 {
        // A newline right after the opening delimiter is trimmed.
        if file[start..end].starts_with("\r\n") {
            start += 2;
        } else if file[start..end].starts_with('\n') {
            start += 1;
        }
    }
    let content = &file[start..end];
    let mut text = String::with_capacity(content.len());
    let mut offsets = Vec::with_capacity(content.len() + 1);
    if !basic {
        text.push_str(content);
        offsets.extend(start..=end);
    } else {
        let mut chars = content.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let at = start + i;
            if c != '\\' {
                text.push(c);
                offsets.extend(std::iter::repeat_n(at, c.len_utf8()));
                continue;
            }
            let (_, e) = chars.next()?;
            let simple = match e {
                'b' => Some('\u{8}'),
                't' => Some('\t'),
                'n' => Some('\n'),
                'f' => Some('\u{c}'),
                'r' => Some('\r'),
                'e' => Some('\u{1b}'),
                '"' => Some('"'),
                '\\' => Some('\\'),
                _ => None,
            };
            let produced = if let Some(ch) = simple {
                Some(ch)
            } else if let Some(digits) = match e {
                'x' => Some(2),
                'u' => Some(4),
                'U' => Some(8),
                _ => None,
            } {
                let mut hex = String::new();
                for _ in 0..digits {
                    hex.push(chars.next()?.1);
                }
                Some(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?)
            } else if delim == 3 && e.is_whitespace() {
                // Line-ending backslash: skip whitespace and newlines.
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
                None
            } else {
                return None;
            };
            if let Some(ch) = produced {
                text.push(ch);
                offsets.extend(std::iter::repeat_n(at, ch.len_utf8()));
            }
        }
        offsets.push(end);
    }
    (text == decoded).then_some(StrMap { offsets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(file: &str, decoded: &str, sub: &str) -> (String, bool) {
        let token = file.find(['"', '\'']).unwrap()..file.len();
        let (map, exact) = map_string(file, token, decoded);
        let at = decoded.find(sub).unwrap();
        let r = map.file_range(at..at + sub.len());
        (file[r].to_string(), exact)
    }

    #[test]
    fn maps_every_string_form() {
        assert_eq!(
            check("x = 'a + bad'", "a + bad", "bad"),
            ("bad".into(), true)
        );
        assert_eq!(
            check("x = \"a + bad\"", "a + bad", "bad"),
            ("bad".into(), true)
        );
        assert_eq!(
            check("x = \"\\u0061 + bad\"", "a + bad", "bad"),
            ("bad".into(), true)
        );
        assert_eq!(
            check(
                "x = \"sex == \\\"F\\\" and bad\"",
                "sex == \"F\" and bad",
                "\"F\""
            ),
            ("\\\"F\\\"".into(), true)
        );
        assert_eq!(
            check("x = \"\"\"\na and \\\n   bad\"\"\"", "a and bad", "bad"),
            ("bad".into(), true)
        );
        assert_eq!(
            check("x = '''\nfirst\nbad'''", "first\nbad", "bad"),
            ("bad".into(), true)
        );
    }

    #[test]
    fn falls_back_to_the_opening_quote() {
        let file = "x = \"odd\"";
        let (map, exact) = map_string(file, 4..9, "something else");
        assert!(!exact);
        assert_eq!(map.file_range(3..5), 4..5);
    }
}
