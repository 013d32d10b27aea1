use std::sync::Arc;

use lmc::evaluate::{Evaluate, ExampleResult, Outcome};
use lmc::metric::{ExactMatch, Metric};
use lmc::{Example, LmError, Predict, RunCx, ScriptedLm, Signature};

use crate::support::Priced;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

fn program() -> Arc<Predict> {
    Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()))
}

fn metric() -> Arc<dyn Metric> {
    Arc::new(ExactMatch::new("answer"))
}

/// `n` examples "q{i}" whose gold answer is "a{i}", sliced by parity.
fn data(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new()
                .with("question", format!("q{i}"))
                .with("answer", format!("a{i}"))
                .with("parity", if i % 2 == 0 { "even" } else { "odd" })
                .with_inputs(["question"])
        })
        .collect()
}

/// Answers question q{i} with a{i}, except: multiples of 3 answer wrong, 5 gives no answer
/// field (parse error), 7 fails at the LM.
fn scripted() -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_fn(|request| {
        let user = request.last_user_message().unwrap_or("");
        let q = user.lines().nth(1).unwrap_or("").trim().to_string();
        let i: usize = q.trim_start_matches('q').parse().unwrap_or(0);
        if i == 7 {
            return Err(LmError::Transport { provider: "scripted".into(), message: "connection reset".into() });
        }
        if i == 5 {
            return Ok("I am not sure.".into());
        }
        let answer = if i % 3 == 0 && i > 0 { "wrong".to_string() } else { format!("a{i}") };
        Ok(format!("[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"))
    }))
}

#[test]
fn every_example_is_accounted_for_with_its_outcome() {
    let report =
        block_on(Evaluate::new(program(), metric()).with_cx(RunCx::new().with_lm(scripted())).run(&data(10))).unwrap();
    // 0..10: 3, 6, 9 wrong; 5 parse error; 7 LM error; the rest right.
    assert_eq!(report.n, 10);
    assert_eq!(report.outcomes.ok, 8);
    assert_eq!(report.outcomes.parse_error, 1);
    assert_eq!(report.outcomes.lm_error, 1);
    assert_eq!(report.outcomes.metric_error, 0);
    assert!((report.score - 0.5).abs() < 1e-12, "{}", report.score);
    assert_eq!(report.usage.calls, 10);
    assert_eq!(report.predictors["qa"].calls, 10);
    assert_eq!(report.predictors["qa"].errors, 2);
    assert!(report.slices.is_empty());
    assert!(report.stopped.is_none());
}

#[test]
fn results_stream_to_examples_jsonl_in_example_order() {
    let dir = std::env::temp_dir().join(format!("lmc-eval-{}", std::process::id()));
    let path = dir.join("examples.jsonl");
    let report = block_on(
        Evaluate::new(program(), metric())
            .with_cx(RunCx::new().with_lm(scripted()))
            .with_concurrency(4)
            .with_examples_file(&path)
            .with_slices(vec!["parity".into()])
            .run(&data(12)),
    )
    .unwrap();
    let lines: Vec<ExampleResult> =
        std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|r| r.index).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    let parse_failure = &lines[5];
    assert_eq!(parse_failure.outcome, Outcome::ParseError);
    assert!(
        parse_failure.feedback.as_deref().unwrap().contains("missing field `answer`"),
        "{:?}",
        parse_failure.feedback
    );
    assert_eq!(parse_failure.trace[0].completions, ["I am not sure."], "the raw completion is kept");
    assert!(parse_failure.trace[0].request.messages[0].content.contains("Your input fields are"));
    assert_eq!(lines[7].outcome, Outcome::LmError);
    assert_eq!(lines[3].prediction.as_ref().unwrap()["answer"], "wrong");
    assert_eq!(lines[3].gold["answer"], "a3");
    // Slices: even = 0,2,4,6,8,10 → wrong at 6 → 5/6; odd = 1,3,5,7,9,11 → 3,5,7,9 fail → 2/6.
    assert!((report.slices["parity"]["even"].score - 5.0 / 6.0).abs() < 1e-12);
    assert!((report.slices["parity"]["odd"].score - 2.0 / 6.0).abs() < 1e-12);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrency_never_changes_the_results() {
    let run = |c| {
        let mut r = block_on(
            Evaluate::new(program(), metric())
                .with_cx(RunCx::new().with_lm(scripted()))
                .with_concurrency(c)
                .run(&data(30)),
        )
        .unwrap();
        r.wall_seconds = 0.0;
        r.latency_p50_ms = 0.0;
        r.latency_p95_ms = 0.0;
        for p in r.predictors.values_mut() {
            p.mean_latency_ms = 0.0;
        }
        r
    };
    assert_eq!(run(1), run(16));
}

#[test]
fn max_errors_stops_early_and_keeps_the_partial_results() {
    let report = block_on(
        Evaluate::new(program(), metric())
            .with_cx(RunCx::new().with_lm(scripted()))
            .with_concurrency(1)
            .with_max_errors(0)
            .run(&data(20)),
    )
    .unwrap();
    // With one in flight: 0..5 run, 5 fails (parse) → stop; 6.. not run.
    assert_eq!(report.outcomes.parse_error, 1);
    assert_eq!(report.outcomes.ok, 5);
    assert_eq!(report.outcomes.not_run, 14);
    assert_eq!(report.n_run, 6);
    assert!(report.stopped.as_deref().unwrap().contains("max_errors"));
    let total = report.outcomes.ok
        + report.outcomes.parse_error
        + report.outcomes.lm_error
        + report.outcomes.metric_error
        + report.outcomes.not_run;
    assert_eq!(total, 20, "every example is accounted for");
}

#[test]
fn the_spend_cap_stops_cleanly_and_says_so() {
    let lm = // One cent per call.
    Arc::new(Priced::new(Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\na0")), |_| 0.01));
    let report = block_on(
        Evaluate::new(program(), metric())
            .with_cx(RunCx::new().with_lm(lm))
            .with_concurrency(1)
            .with_max_usd(0.05)
            .run(&data(20)),
    )
    .unwrap();
    assert_eq!(report.n_run, 5);
    assert_eq!(report.outcomes.not_run, 15);
    assert!((report.cost_usd.spent.unwrap() - 0.05).abs() < 1e-9);
    assert!(report.stopped.as_deref().unwrap().contains("spend cap"), "{:?}", report.stopped);
    assert!(report.render().contains("stopped early: spend cap"));
}

#[test]
fn repeats_are_distinct_rollouts_with_pass_at_k_and_flaky_examples() {
    // Right on even rollouts only for odd questions; always right for even questions.
    let lm = Arc::new(ScriptedLm::new().with_fn(|request| {
        let user = request.last_user_message().unwrap_or("");
        let i: usize = user.lines().nth(1).unwrap_or("").trim().trim_start_matches('q').parse().unwrap_or(0);
        let right = i % 2 == 0 || request.rollout % 2 == 0;
        Ok(format!("[[ ## answer ## ]]\n{}", if right { format!("a{i}") } else { "nope".into() }))
    }));
    let report =
        block_on(Evaluate::new(program(), metric()).with_cx(RunCx::new().with_lm(lm)).with_repeats(2).run(&data(10)))
            .unwrap();
    let repeats = report.repeats.unwrap();
    assert_eq!(repeats.k, 2);
    assert_eq!(repeats.pass_at_k, 1.0);
    assert_eq!(repeats.flaky, 5);
    assert!((report.score - 0.75).abs() < 1e-12);
    assert_eq!(report.outcomes.ok, 20);
}

#[test]
fn metric_errors_are_their_own_outcome() {
    let lm = Arc::new(ScriptedLm::new().with_default("[[ ## answer ## ]]\nx"));
    let no_gold = vec![Example::new().with("question", "q").with_inputs(["question"])];
    let report = block_on(Evaluate::new(program(), metric()).with_cx(RunCx::new().with_lm(lm)).run(&no_gold)).unwrap();
    assert_eq!(report.outcomes.metric_error, 1);
    assert_eq!(report.score, 0.0);
}

#[test]
fn the_summary_json_has_the_documented_keys() {
    let report =
        block_on(Evaluate::new(program(), metric()).with_cx(RunCx::new().with_lm(scripted())).run(&data(4))).unwrap();
    let json = report.summary_json();
    for key in ["score", "n", "outcomes", "usage", "cost_usd", "wall_seconds"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    for key in ["ok", "parse_error", "lm_error", "metric_error"] {
        assert!(json["outcomes"].get(key).is_some(), "{key}");
    }
    for key in ["calls", "cache_hits", "input_tokens", "output_tokens"] {
        assert!(json["usage"].get(key).is_some(), "{key}");
    }
    assert!(json["cost_usd"].get("spent").is_some() && json["cost_usd"].get("program").is_some());
    assert_eq!(json["cost_usd"]["program"], serde_json::Value::Null, "ScriptedLm is unpriced: null, not 0");
}

#[test]
fn results_export_to_csv_and_parquet() {
    let dir = std::env::temp_dir().join(format!("lmc-export-{}", std::process::id()));
    let jsonl = dir.join("examples.jsonl");
    block_on(
        Evaluate::new(program(), metric())
            .with_cx(RunCx::new().with_lm(scripted()))
            .with_examples_file(&jsonl)
            .run(&data(9)),
    )
    .unwrap();
    let csv = dir.join("results.csv");
    assert_eq!(lmc::evaluate::export_results(&jsonl, &csv).unwrap(), 9);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("index,repeat,outcome,score,feedback"), "{text}");
    assert_eq!(text.lines().count(), 10);
    assert!(text.lines().nth(6).unwrap().contains("parse_error"));
    let parquet = dir.join("results.parquet");
    assert_eq!(lmc::evaluate::export_results(&jsonl, &parquet).unwrap(), 9);
    assert!(std::fs::metadata(&parquet).unwrap().len() > 100);
    let bad = lmc::evaluate::export_results(&jsonl, &dir.join("results.xlsx")).unwrap_err();
    assert!(bad.to_string().contains(".csv or .parquet"));
    std::fs::remove_dir_all(&dir).unwrap();
}
