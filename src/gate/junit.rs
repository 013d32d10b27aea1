//! JUnit XML: one `<testsuite>` per task, one `<testcase>` per check; a failed check is a
//! `<failure>` and a check that cannot be judged an `<error>`, each listing the examples
//! behind it. No timestamps, so the same verdicts give the same bytes.

use std::fmt::Write;

use super::checks::{Check, Status, Verdict};

/// Examples listed per check; the rest are counted.
const MAX_LISTED: usize = 50;

/// The verdicts as a JUnit XML report.
pub fn render(verdicts: &[Verdict]) -> String {
    let count = |status: Status| verdicts.iter().flat_map(|v| &v.checks).filter(|c| c.status == status).count();
    let tests: usize = verdicts.iter().map(|v| v.checks.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"lmc gate\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\">",
        count(Status::Failed),
        count(Status::CannotJudge)
    );
    for v in verdicts {
        let in_suite = |status: Status| v.checks.iter().filter(|c| c.status == status).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            escape(&v.task),
            v.checks.len(),
            in_suite(Status::Failed),
            in_suite(Status::CannotJudge)
        );
        for check in &v.checks {
            testcase(&mut out, v, check);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(out: &mut String, v: &Verdict, check: &Check) {
    let open = format!("    <testcase classname=\"{}\" name=\"{}\"", escape(&v.task), escape(&check.name));
    let tag = match check.status {
        Status::Passed => {
            let _ = writeln!(out, "{open}/>");
            return;
        }
        Status::Failed => "failure",
        Status::CannotJudge => "error",
    };
    let _ = writeln!(out, "{open}>");
    let mut body = check.message.clone();
    if !check.examples.is_empty() {
        let _ = write!(body, "\nexamples ({}):", check.examples.len());
        for &index in check.examples.iter().take(MAX_LISTED) {
            let _ = write!(body, "\n  #{index}{}", example_detail(v, check, index));
        }
        if check.examples.len() > MAX_LISTED {
            let _ = write!(body, "\n  ... and {} more", check.examples.len() - MAX_LISTED);
        }
    }
    let _ = writeln!(
        out,
        "      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>",
        serde_name(check.status),
        escape(&check.message),
        escape(&body)
    );
    out.push_str("    </testcase>\n");
}

/// `: score 1.000 → 0.000` for a regressed example.
pub(crate) fn example_detail(v: &Verdict, check: &Check, index: usize) -> String {
    if check.name != "max_regression" {
        return String::new();
    }
    v.comparison
        .as_ref()
        .and_then(|c| c.regressed.iter().find(|e| e.index == index))
        .map(|e| format!(": score {:.3} → {:.3}", e.baseline, e.current))
        .unwrap_or_default()
}

fn serde_name(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::CannotJudge => "cannot_judge",
    }
}

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write other control characters.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            // Nor these two noncharacters.
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
