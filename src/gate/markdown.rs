//! The Markdown summary: a table per task for a pull-request comment or GitHub's job summary.

use std::fmt::Write;

use super::checks::{Status, Verdict};
use super::compare::Comparison;

/// Regressed and improved examples listed per task; the rest are counted.
const MAX_LISTED: usize = 20;

/// The verdicts as Markdown.
pub fn render(verdicts: &[Verdict]) -> String {
    let worst = verdicts.iter().map(|v| v.status).max().unwrap_or(Status::Passed);
    let mut out = format!("## lmc gate: {}\n", badge(worst));
    for v in verdicts {
        let _ = write!(out, "\n### `{}`: {} · score {:.3} (n = {})", v.task, badge(v.status), v.score, v.n_scored);
        if v.simulated {
            out.push_str(" · offline simulator (scores say nothing about a model)");
        }
        out.push_str("\n\n| check | result | observed | threshold | detail |\n|---|---|---|---|---|\n");
        for c in &v.checks {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                c.name,
                badge(c.status),
                figure(c.observed),
                figure(c.threshold),
                cell(&c.message)
            );
        }
        if let Some(c) = &v.comparison {
            comparison(&mut out, c);
        }
    }
    out
}

fn comparison(out: &mut String, c: &Comparison) {
    let pct = c.confidence * 100.0;
    let _ = write!(
        out,
        "\nAgainst the baseline: score {:.3} → {:.3}, Δ {:+.3} ({pct:.0}% CI {:+.3} to {:+.3}, paired bootstrap, seed {})",
        c.baseline_score, c.current_score, c.delta.mean, c.delta.ci.low, c.delta.ci.high, c.seed
    );
    if let Some(m) = &c.mcnemar {
        let _ = write!(out, "; McNemar exact p = {}", super::stats::format_p(m.p_value));
    }
    if let Some(mdr) = c.min_detectable_regression {
        let _ = write!(out, "; smallest detectable drop {mdr:.3}");
    }
    if let Some(cost) = c.cost_per_example_delta_usd {
        let _ = write!(out, "; cost/example {cost:+.6} $");
    }
    let _ = writeln!(out, "; p95 latency {:+.0} ms.", c.latency_p95_delta_ms);
    for (title, list) in [("Regressed", &c.regressed), ("Improved", &c.improved)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, "\n<details><summary>{title} examples ({})</summary>\n\n", list.len());
        for e in list.iter().take(MAX_LISTED) {
            let _ = writeln!(out, "- #{}: {:.3} → {:.3}", e.index, e.baseline, e.current);
        }
        if list.len() > MAX_LISTED {
            let _ = writeln!(out, "- … and {} more", list.len() - MAX_LISTED);
        }
        out.push_str("\n</details>\n");
    }
}

fn badge(status: Status) -> &'static str {
    match status {
        Status::Passed => "✅ pass",
        Status::Failed => "❌ fail",
        Status::CannotJudge => "⚠️ cannot judge",
    }
}

fn figure(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| if x.fract() == 0.0 { format!("{x}") } else { format!("{x:.4}") })
}

/// Table cells cannot hold pipes or line breaks.
fn cell(text: &str) -> String {
    // Pipes end a cell, line breaks end the row, and `<` would open raw HTML in GitHub's renderer.
    text.replace('|', "\\|").replace("\r\n", " ").replace(['\n', '\r'], " ").replace('<', "&lt;")
}
