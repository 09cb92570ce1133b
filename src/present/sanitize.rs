//! Every byte of log data passes through here before it reaches a terminal
//! or a table: control and escape sequences become visible text, never
//! executed (`\x1b[2J` in a log line must not clear the on-call's screen).

use std::borrow::Cow;

/// Replaces C0/C1 control characters (and DEL) with visible escapes; tabs
/// become a space so columns stay aligned.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Controls, and the invisible characters that reorder or hide text: bidi
/// overrides and isolates (`U+202E` reverses what follows it, so one file
/// name can pass for another) and
/// zero-width characters, which make two different IDs look the same.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{061c}'
                | '\u{feff}'
        )
}

/// Cuts to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_executed() {
        assert_eq!(for_terminal("plain"), "plain");
        assert_eq!(for_terminal("a\x1b[2Jb"), "a\\e[2Jb");
        assert_eq!(for_terminal("\x1b]0;title\x07"), "\\e]0;title\\x07");
        assert_eq!(for_terminal("x\u{9b}1A"), "x\\x9b1A");
        assert_eq!(for_terminal("l1\nl2\tz"), "l1\\nl2 z");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(for_terminal("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(for_terminal("evt_1\u{200b}2"), "evt_1\\u{200b}2");
        assert_eq!(for_terminal("é ü ✓"), "é ü ✓");
    }
}
