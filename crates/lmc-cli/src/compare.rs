//! `lmc compare A B`: two runs (run directories or baseline files), example by example.

use std::process::ExitCode;

use lmc::gate::compare::{compare as paired, Comparison};
use lmc::gate::stats::POWER;
use lmc::gate::Baseline;

use crate::cli::CompareArgs;
use crate::output::{print_json, print_line};

/// Regressed and improved examples printed; the rest are counted.
const MAX_LISTED: usize = 20;

pub(crate) fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if !(args.confidence > 0.5 && args.confidence < 1.0) {
        anyhow::bail!("--confidence {}: it must be above 0.5 and below 1 (e.g. 0.95)", args.confidence);
    }
    let a = Baseline::open(&args.baseline)?;
    let b = Baseline::open(&args.current)?;
    let c = paired(&a, &b, args.confidence, args.seed);
    if args.json {
        print_json(&serde_json::to_value(&c)?)?;
    } else {
        print_line(&render(args, &a, &b, &c))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(args: &CompareArgs, a: &Baseline, b: &Baseline, c: &Comparison) -> String {
    let mut lines = Vec::new();
    for (label, path, run) in [("A", &args.baseline, a), ("B", &args.current, b)] {
        let p = &run.provenance;
        let artifact = p
            .artifact_hash
            .as_deref()
            .map_or("no artifact".to_string(), |h| format!("artifact {}", &h[..h.len().min(12)]));
        lines.push(format!(
            "{label}  {}: {} ({artifact}) on {}, {}{}",
            path.display(),
            p.program,
            if p.dataset.ends_with(&format!("({})", p.split)) {
                p.dataset.clone()
            } else {
                format!("{} [{}]", p.dataset, p.split)
            },
            p.metric,
            if p.simulated { ", offline simulator" } else { "" }
        ));
    }
    for m in &c.mismatches {
        lines.push(format!("NOT COMPARABLE: {m}"));
    }
    if !c.comparable() {
        lines.push("(the figures below cover only the examples that match by index and content)".into());
    }
    let pct = c.confidence * 100.0;
    lines.push(format!(
        "paired examples   {} ({} only in A, {} only in B)",
        c.paired,
        c.only_baseline.len(),
        c.only_current.len()
    ));
    lines.push(format!(
        "score             {:.3} → {:.3}   Δ {:+.3}  [{pct:.0}% CI {:+.3}, {:+.3}; paired bootstrap, seed {}]",
        c.baseline_score, c.current_score, c.delta.mean, c.delta.ci.low, c.delta.ci.high, c.seed
    ));
    if let Some(m) = &c.mcnemar {
        lines.push(format!(
            "McNemar exact     {} regressed, {} improved, p = {}",
            m.regressed,
            m.improved,
            lmc::gate::stats::format_p(m.p_value)
        ));
    }
    if let Some(mdr) = c.min_detectable_regression {
        lines
            .push(format!("detectable drop   {mdr:.3} ({pct:.0}% confidence, one-sided, power {:.0}%)", POWER * 100.0));
    }
    let cost = |x: Option<f64>| x.map_or("unpriced".to_string(), |x| format!("${x:.6}"));
    lines.push(format!(
        "cost / example    {} → {}",
        cost(a.summary.cost_per_example_usd),
        cost(b.summary.cost_per_example_usd)
    ));
    lines.push(format!(
        "p95 latency       {:.0} ms → {:.0} ms ({:+.0} ms)",
        a.summary.latency_p95_ms, b.summary.latency_p95_ms, c.latency_p95_delta_ms
    ));
    lines.push(format!("calls / example   {:.2} → {:.2}", a.summary.calls_per_example, b.summary.calls_per_example));
    for (title, list) in [("regressed", &c.regressed), ("improved", &c.improved)] {
        if list.is_empty() {
            continue;
        }
        let mut shown: Vec<String> =
            list.iter().take(MAX_LISTED).map(|e| format!("#{} {:.2}→{:.2}", e.index, e.baseline, e.current)).collect();
        if list.len() > MAX_LISTED {
            shown.push(format!("… and {} more", list.len() - MAX_LISTED));
        }
        lines.push(format!("{title} ({}): {}", list.len(), shown.join(", ")));
    }
    lines.join("\n")
}
