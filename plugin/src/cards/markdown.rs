//! Escaping user-supplied text for Feishu card markdown.
//!
//! Feishu's card markdown renders HTML character references, so every character that markdown or
//! Feishu's own tags (`<at>`, `<font>`, links) would interpret is written as a numeric reference. A
//! supplier called `*ACME* <at id=all>` then shows exactly that and mentions nobody.

use std::borrow::Cow;

/// Characters with a meaning anywhere in Feishu markdown (emphasis, links, tags, code, tables,
/// entities).
const SPECIAL: &[char] = &[
    '&', '<', '>', '*', '_', '~', '`', '[', ']', '(', ')', '\\', '|',
];
/// Characters that start a block (list, heading, quote) when they open a line.
const LINE_START: &[char] = &['-', '+', '#'];

/// Characters that change how text around them is shown without being seen themselves: bidi
/// overrides and isolates (a supplier "ACME\u{202E}000,1" shows as "ACME1,000"), zero-width
/// spaces and joiners, the BOM. Dropped from every card field.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `&#N;` for `c`, written without formatting machinery (this runs for every special character of
/// every card).
fn reference(out: &mut String, c: char) {
    let mut digits = [0u8; 10];
    let mut n = c as u32;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str("&#");
    for d in &digits[i..] {
        out.push(char::from(*d));
    }
    out.push(';');
}

/// Escape `text` so that it renders literally inside a markdown element. Line breaks are kept;
/// other control characters are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    out
}

/// `escape`, appending to `out`.
pub fn escape_into(out: &mut String, text: &str) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut at_start = true;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_control() || is_invisible(c) {
                continue;
            }
            if SPECIAL.contains(&c) || (at_start && LINE_START.contains(&c)) {
                reference(out, c);
            } else if at_start && c.is_ascii_digit() {
                // "1. item" would become an ordered list: escape the dot after the number.
                out.push(c);
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
                if chars.next_if_eq(&'.').is_some() {
                    reference(out, '.');
                }
            } else {
                out.push(c);
            }
            if !c.is_whitespace() {
                at_start = false;
            }
        }
    }
}

/// `truncate(&single_line(text), max_chars)`, borrowing the text when it needs neither (the
/// usual case: card fields are short, single-line values).
pub fn clip_line(text: &str, max_chars: usize) -> Cow<'_, str> {
    let trimmed = text.trim();
    let plain = !trimmed.chars().any(|c| c.is_control() || is_invisible(c));
    if plain && trimmed.chars().count() <= max_chars {
        Cow::Borrowed(trimmed)
    } else {
        Cow::Owned(truncate(&single_line(text), max_chars))
    }
}

/// Shorten `text` to at most `max_chars` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    out.push('…');
    out
}

/// One line of plain text for a header (plain_text is not markdown: only line breaks matter).
pub fn single_line(text: &str) -> String {
    text.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_tags_are_neutralised() {
        let e = escape("*ACME* <at id=all></at> [x](http://evil) `c` #h");
        assert!(!e.contains('*') && !e.contains('<') && !e.contains('[') && !e.contains('`'));
        assert_eq!(escape("<at id=all>"), "&#60;at id=all&#62;");
        assert_eq!(escape("a*b"), "a&#42;b");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_dropped() {
        let spoof = "ACME\u{202E}000,1\u{202C} Ltd\u{200B}.\u{FEFF}";
        assert_eq!(escape(spoof), "ACME000,1 Ltd.");
        assert_eq!(single_line(spoof), "ACME000,1 Ltd.");
        assert_eq!(clip_line(spoof, 100), "ACME000,1 Ltd.");
        assert_eq!(clip_line("\u{2067}x\u{2069}", 100), "x");
        assert_eq!(escape("中文 ok"), "中文 ok");
    }

    #[test]
    fn ampersand_is_escaped_so_entities_cannot_be_injected() {
        assert_eq!(escape("&#60;"), "&#38;#60;");
    }

    #[test]
    fn block_markers_are_escaped_only_at_line_start() {
        assert_eq!(escape("PO-2026-0077"), "PO-2026-0077");
        assert_eq!(
            escape("- item\n  # title\n1. first\n2026-12-15"),
            "&#45; item\n  &#35; title\n1&#46; first\n2026-12-15"
        );
        assert_eq!(escape("a > b"), "a &#62; b");
    }

    #[test]
    fn text_without_specials_and_cjk_pass_through() {
        assert_eq!(escape("采购申请 PR 2026 001"), "采购申请 PR 2026 001");
        assert_eq!(escape("line1\r\nline2\u{7}"), "line1\nline2");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("采购申请单", 3), "采购…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3).chars().count(), 3);
    }

    #[test]
    fn single_line_flattens_breaks() {
        assert_eq!(single_line(" a\nb\t"), "a b");
    }

    #[test]
    fn clip_line_is_single_line_then_truncate() {
        for (text, max) in [
            (" a\nb\t", 10),
            ("plain", 10),
            ("  padded  ", 10),
            ("\u{7}bell", 10),
            ("采购申请单", 3),
            ("abcd", 3),
            ("tab\tinside", 20),
            ("", 5),
        ] {
            assert_eq!(
                clip_line(text, max),
                truncate(&single_line(text), max),
                "{text:?}"
            );
        }
        assert!(matches!(
            clip_line(" ACME Ltd. ", 20),
            Cow::Borrowed("ACME Ltd.")
        ));
    }

    #[test]
    fn references_are_decimal_code_points() {
        assert_eq!(escape("|"), "&#124;");
        assert_eq!(escape("#"), "&#35;");
        assert_eq!(escape("x\\"), "x&#92;");
    }
}
