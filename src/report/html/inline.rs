//! Inline pieces of the HTML report: titles and predicates with their names in `<code>`,
//! numbers, shares and q-values as people read them, severity badges, anchors and row lists.

use std::fmt::Write as _;

use crate::report::esc;
use crate::report::model::Finding;

/// A title or predicate as written in the other reports (`name` in backticks), with the quoted
/// names set in `<code>`.
pub(super) fn rich(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        // An unmatched last backtick stays a backtick.
        if i % 2 == 1 && i + 1 < parts.len() {
            let _ = write!(out, "<code>{}</code>", esc(p));
        } else if i % 2 == 1 {
            let _ = write!(out, "`{}", esc(p));
        } else {
            out.push_str(&esc(p));
        }
    }
    out
}

/// A number as people read it: integers without a fraction, very small or large numbers in
/// scientific notation, the rest in their shortest form.
pub(crate) fn number(x: f64) -> String {
    let a = x.abs();
    if x != 0.0 && a.is_finite() && !(1e-4..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        crate::report::markdown::number(x)
    }
}

/// A share as a percentage with the digits that matter: 46%, 9.4%, 0.023%.
pub(crate) fn share(x: f64) -> String {
    let p = 100.0 * x;
    if !p.is_finite() {
        "–".into()
    } else if p == 0.0 {
        "0%".into()
    } else if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else if p.abs() >= 1.0 {
        format!("{p:.1}%")
    } else {
        // Two significant digits.
        let digits = (1 - p.abs().log10().floor() as i32).clamp(2, 12) as usize;
        let s = format!("{p:.digits$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}%")
    }
}

pub(super) fn q_text(q: Option<f64>) -> String {
    match q {
        None => "–".into(),
        Some(0.0) => "0".into(),
        Some(q) if q >= 0.001 => format!("{q:.3}"),
        Some(q) => format!("{q:.1e}"),
    }
}

pub(super) fn severity_badge(name: &str) -> String {
    format!("<span class=\"sev sev-{name}\">{name}</span>")
}

/// The anchor of the i-th finding.
pub(super) fn anchor(i: usize) -> String {
    format!("f{}", i + 1)
}

pub(super) fn title_html(f: &Finding) -> String {
    match &f.accepted {
        Some(a) => format!(
            "{} <span class=\"accepted\">(accepted until {}: {})</span>",
            rich(&f.title),
            esc(&a.expires),
            esc(&a.reason)
        ),
        None => rich(&f.title),
    }
}

pub(super) fn examples(f: &Finding, n: usize) -> String {
    f.example_rows
        .iter()
        .take(n)
        .map(|e| format!("<code>{}</code>:{}", esc(&e.source), e.row))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names set in `<code>`, joined by `sep`.
pub(super) fn code_list(names: &[String], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("<code>{}</code>", esc(n)))
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_code() {
        assert_eq!(
            esc("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos; "
        );
        assert_eq!(
            rich("`income` < 6139 & `x`"),
            "<code>income</code> &lt; 6139 &amp; <code>x</code>"
        );
        assert_eq!(rich("a `b"), "a `b");
    }

    #[test]
    fn shares_keep_the_digits_that_matter() {
        assert_eq!(share(0.46), "46%");
        assert_eq!(share(0.0938667), "9.4%");
        assert_eq!(share(0.000226322), "0.023%");
        assert_eq!(share(0.0), "0%");
        assert_eq!(share(0.001), "0.1%");
    }

    #[test]
    fn numbers_stay_short() {
        assert_eq!(number(4.8874e-319), "4.8874e-319");
        assert_eq!(number(0.266258), "0.266258");
        assert_eq!(number(274705.0), "274705");
        assert_eq!(number(2.5e17), "2.5e17");
        assert_eq!(number(0.0), "0");
    }
}
