//! Escaping user-supplied text for Feishu card markdown.
//!
//! Feishu's card markdown renders HTML character references, so every character that markdown or
//! Feishu's own tags (`<at>`, `<font>`, links) would interpret is written as a numeric reference. A
//! supplier called `*ACME* <at id=all>` then shows exactly that and mentions nobody.

/// Characters with a meaning in Feishu markdown (emphasis, links, tags, lists, headings, code,
/// tables, quotes, entities).
const SPECIAL: &[char] = &[
    '&', '<', '>', '*', '_', '~', '`', '[', ']', '(', ')', '#', '\\', '|', '!', '-', '+', '$', '"',
    '\'',
];

/// Escape `text` so that it renders literally inside a markdown element. Line breaks are kept;
/// other control characters are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if SPECIAL.contains(&c) {
            out.push_str("&#");
            out.push_str(&(c as u32).to_string());
            out.push(';');
        } else if c == '\r' {
            continue;
        } else if c.is_control() && c != '\n' {
            continue;
        } else {
            out.push(c);
        }
    }
    out
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
    fn ampersand_is_escaped_so_entities_cannot_be_injected() {
        assert_eq!(escape("&#60;"), "&#38;&#35;60;");
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
}
