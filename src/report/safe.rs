//! Values from the data (column names, categories, file names, partition keys) reach the
//! human-readable outputs inside titles and tables. There they must stay text: a category value
//! must not be able to end a line and print a fake `verdict: PASS` in the text summary, move the
//! cursor or retitle the terminal with ANSI/OSC sequences, reorder what is shown with bidi
//! controls, or break out of a Markdown code span or table cell into links, images or HTML in a
//! pull-request comment. JSON, HTML and JUnit escape by their own rules (serde_json, the HTML
//! and XML writers) and are left as they are.
//!
//! Written here because what is unsafe is specific to these two outputs: a terminal (control and
//! format characters) and GitHub-flavoured Markdown (its inline syntax).

use std::borrow::Cow;

/// Whether `c` can change how text around it is shown rather than being shown: C0 and C1
/// controls (newline, escape and the ANSI/OSC introducers among them), DEL, the line and
/// paragraph separators, the bidirectional formatting characters, and the invisible ones
/// (zero-width spaces and joiners, word joiner, BOM, soft hyphen, tag characters) that make two
/// values look the same.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{feff}' | '\u{00ad}'
        )
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2060}'..='\u{2069}').contains(&c)
        || ('\u{e0000}'..='\u{e007f}').contains(&c)
}

/// `c` as visible text: `\n`, `\t`, `\r` as written in code, others as `\u{1b}`.
fn shown(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// Text for a terminal or a log: every character that could act rather than be shown is
/// written out as an escape (`\n`, `\u{1b}`), so one value is one piece of one line.
pub fn plain(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            shown(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for inline Markdown (a table cell, a line of prose), as GitHub and GitLab render it.
/// Backtick pairs become `<code>` elements and every character with a meaning in Markdown or
/// HTML is escaped, inside them too, so that no value can start a link, an image, emphasis,
/// an HTML tag or a new cell, and a backtick in a value is shown rather than closing a span.
/// Control characters are written out as in [`plain`].
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let parts: Vec<&str> = s.split('`').collect();
    // Backtick `i` stands before part `i`; they pair up left to right, and an odd part is
    // code when the backtick after it closes its pair. A last, unpaired backtick is text.
    let paired = (parts.len() - 1) & !1;
    for (i, part) in parts.iter().enumerate() {
        let code = i % 2 == 1 && i < paired;
        if i > paired {
            out.push_str("&#96;");
        }
        if code {
            out.push_str("<code>");
        }
        for c in part.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '|' => out.push_str("&#124;"),
                // No @-mention of a user or team from a value.
                '@' => out.push_str("&#64;"),
                // Emphasis, links and images, strikethrough, and escapes themselves.
                '\\' | '*' | '_' | '[' | ']' | '!' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                c if is_unsafe(c) => shown(c, &mut out),
                c => out.push(c),
            }
        }
        if code {
            out.push_str("</code>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_keeps_one_value_on_one_line() {
        assert_eq!(plain("income"), "income");
        assert!(matches!(plain("ünïcode ok"), Cow::Borrowed(_)));
        assert_eq!(
            plain("x\nverdict: PASS (fail-on high)"),
            "x\\nverdict: PASS (fail-on high)"
        );
        assert_eq!(plain("\x1b[2K\rok"), "\\u{1b}[2K\\rok");
        assert_eq!(plain("\x1b]0;title\x07"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(plain("a\u{202e}b\u{9b}c"), "a\\u{202e}b\\u{9b}c");
    }

    #[test]
    fn markdown_values_cannot_break_out() {
        assert_eq!(
            markdown("`education` = `Doctorate`"),
            "<code>education</code> = <code>Doctorate</code>"
        );
        // A value with a backtick: spans are paired left to right, the odd one is text, and
        // nothing inside can act.
        let m = markdown("`a`b` = `![x](http://e/i.png)<img src=x>`");
        assert!(!m.contains('`'), "{m}");
        assert!(!m.contains("<img"), "{m}");
        assert!(!m.replace("\\]", "").contains("]("), "{m}");
        assert_eq!(markdown("a|b\nc"), "a&#124;b\\nc");
        assert_eq!(markdown("**x** _y_"), "\\*\\*x\\*\\* \\_y\\_");
        assert_eq!(markdown("`odd"), "&#96;odd");
    }
}
