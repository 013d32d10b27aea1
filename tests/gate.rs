//! Release gating: the statistics against known values, baselines on disk, paired comparison
//! and its mismatches, every check's outcome and exit code, and the JUnit, Markdown and JSON
//! reports as snapshots.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lmc::evaluate::{Evaluate, Outcome};
use lmc::gate::baseline::{Baseline, BaselineError, ExampleScore, FORMAT_VERSION};
use lmc::gate::checks::{bless_refusal, exit_code, judge, Status, Verdict};
use lmc::gate::compare::compare;
use lmc::gate::stats::{
    clopper_pearson_lower, exact_paired_upper, mcnemar_exact, min_detectable_regression, normal_quantile,
    paired_bootstrap, paired_delta, t_quantile, UpperMethod,
};
use lmc::gate::{json, junit, markdown};
use lmc::metric::{ExactMatch, Metric};
use lmc::spec::{SpecGate, TaskSpec};
use lmc::{Example, Predict, RunCx, ScriptedLm, Signature};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-gate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A run with these per-example scores (outcome `ok`, free, 10 ms each) on dataset "d".
fn run(scores: &[f64]) -> Baseline {
    let examples: Vec<ExampleScore> = scores
        .iter()
        .enumerate()
        .map(|(index, &score)| ExampleScore {
            index,
            hash: format!("h{index}"),
            score,
            outcome: Outcome::Ok,
            cost_usd: Some(0.001),
            latency_ms: 10.0,
        })
        .collect();
    let mut b = Baseline {
        format_version: FORMAT_VERSION,
        summary: Default::default(),
        provenance: Default::default(),
        examples,
    };
    b.summary.n = scores.len() as u64;
    b.summary.n_scored = scores.len() as u64;
    b.summary.score = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    b.summary.cost_per_example_usd = Some(0.001);
    b.summary.latency_p95_ms = 10.0;
    b.provenance.dataset = "datasets/t/test.jsonl (test)".into();
    b.provenance.dataset_hash = "d".repeat(64);
    b.provenance.metric = "exact_match on `answer`".into();
    b.provenance.split = "test".into();
    b
}

/// 100 pass/fail scores with `passes` ones first.
fn binary(passes: usize) -> Vec<f64> {
    (0..100).map(|i| if i < passes { 1.0 } else { 0.0 }).collect()
}

fn gate() -> SpecGate {
    SpecGate {
        baseline: Some("baselines/t.json".into()),
        min_score: Some(0.5),
        max_regression: Some(0.02),
        confidence: Some(0.95),
        min_examples: Some(50),
        max_cost_per_example_usd: Some(0.002),
        max_p95_latency_ms: Some(100.0),
        max_error_rate: Some(0.05),
        ..SpecGate::default()
    }
}

fn status_of(v: &Verdict, name: &str) -> Status {
    v.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}")).status
}

#[test]
fn mcnemar_exact_known_values() {
    // 2 · P(X ≤ 1), X ~ Bin(10, ½) = 2 · 11/1024.
    assert!((mcnemar_exact(1, 9) - 0.021_484_375).abs() < 1e-12);
    assert!((mcnemar_exact(9, 1) - 0.021_484_375).abs() < 1e-12);
    assert!((mcnemar_exact(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    assert_eq!(mcnemar_exact(5, 5), 1.0);
    // 2 · P(X ≤ 3), X ~ Bin(20, ½) = 2 · 1351/1048576.
    assert!((mcnemar_exact(3, 17) - 2.0 * 1351.0 / 1_048_576.0).abs() < 1e-12);
    // Large n stays finite and tiny.
    let p = mcnemar_exact(100, 400);
    assert!(p > 0.0 && p < 1e-30, "{p}");
}

#[test]
fn normal_quantile_and_min_detectable_regression() {
    assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
    assert!((normal_quantile(0.95) - 1.644_853_627).abs() < 1e-8);
    assert!((normal_quantile(0.8) - 0.841_621_234).abs() < 1e-8);
    assert!(normal_quantile(0.5).abs() < 1e-12);
    assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-7);
    // (z_0.95 + z_0.8) · 0.5 / √100
    let mdr = min_detectable_regression(0.5, 100, 0.95, 0.8).unwrap();
    assert!((mdr - 0.124_323_743).abs() < 1e-7, "{mdr}");
    // Four times the examples halve it.
    let quarter = min_detectable_regression(0.5, 400, 0.95, 0.8).unwrap();
    assert!((quarter - mdr / 2.0).abs() < 1e-12);
    assert_eq!(min_detectable_regression(0.5, 0, 0.95, 0.8), None);
}

#[test]
fn paired_bootstrap_is_seeded_and_brackets_the_difference() {
    let before = binary(80);
    let mut after = before.clone();
    for x in after.iter_mut().take(10) {
        *x = 0.0;
    }
    let a = paired_bootstrap(&before, &after, 0.95, 0);
    assert!((a.mean + 0.10).abs() < 1e-12);
    assert_eq!(a, paired_bootstrap(&before, &after, 0.95, 0));
    assert_ne!(a.ci, paired_bootstrap(&before, &after, 0.95, 1).ci);
    assert!(a.ci.low < a.mean && a.mean < a.ci.high, "{a:?}");
    // The one-sided bound lies inside the two-sided interval (the means are discrete: ≤).
    assert!(a.upper <= a.ci.high && a.upper > a.mean, "{a:?}");
    // Normal approximation: sd of the differences is 0.3015, se 0.03015.
    assert!((a.ci.high - (-0.10 + 1.96 * 0.030_15)).abs() < 0.02, "{a:?}");
    // Identical runs: a zero-width interval.
    let same = paired_bootstrap(&before, &before, 0.95, 0);
    assert_eq!((same.ci.low, same.ci.high, same.mean), (0.0, 0.0, 0.0));
}

#[test]
fn compare_pairs_by_index_and_hash_and_counts_the_rest() {
    let before = run(&binary(80));
    let mut after = run(&binary(70));
    after.examples[5].score = 0.0; // one more regression
    after.examples[95].score = 1.0; // one improvement
    after.examples.pop(); // example 99 only in the baseline
    after.examples.push(ExampleScore { index: 100, hash: "h100".into(), ..after.examples[0].clone() });
    after.examples[0].hash = "changed".into(); // example 0's content changed
    let c = compare(&before, &after, 0.95, 0);
    assert!(c.comparable());
    assert_eq!(c.paired, 98);
    assert_eq!(c.only_baseline, [0, 99]);
    assert_eq!(c.only_current, [0, 100]);
    assert_eq!(c.regressed.len(), 11);
    assert_eq!(c.improved.iter().map(|e| e.index).collect::<Vec<_>>(), [95]);
    let m = c.mcnemar.unwrap();
    assert_eq!((m.regressed, m.improved), (11, 1));
    assert!((m.p_value - mcnemar_exact(11, 1)).abs() < 1e-15);
    assert!(c.min_detectable_regression.unwrap() > 0.0);
    // Not pass/fail: no McNemar.
    let partial = compare(&run(&[0.5, 1.0, 0.0]), &run(&[0.25, 1.0, 0.0]), 0.95, 0);
    assert!(partial.mcnemar.is_none());
    assert_eq!(partial.regressed[0].index, 0);
}

#[test]
fn compare_reports_a_changed_dataset_metric_or_split() {
    let before = run(&binary(80));
    let mut after = run(&binary(80));
    assert!(compare(&before, &after, 0.95, 0).mismatches.is_empty());
    // The same examples under another file name are the same dataset.
    after.provenance.dataset = "moved/test.jsonl (test)".into();
    assert!(compare(&before, &after, 0.95, 0).comparable());
    after.provenance.dataset_hash = "e".repeat(64);
    after.provenance.metric = "f1 on `answer`".into();
    after.provenance.split = "dev".into();
    let c = compare(&before, &after, 0.95, 0);
    assert!(!c.comparable());
    let what: Vec<&str> = c.mismatches.iter().map(|m| m.what.as_str()).collect();
    assert_eq!(what, ["dataset", "metric", "split"]);
    assert!(c.mismatches[0].to_string().contains("dddddddddddd"), "{}", c.mismatches[0]);
    assert!(c.mismatches[1].to_string().contains("f1 on `answer`"));
}

#[test]
fn baseline_round_trips_and_rejects_other_versions() {
    let dir = scratch("roundtrip");
    let path = dir.join("nested/b.json");
    let b = run(&[1.0, 0.0, 0.5]);
    b.write(&path).unwrap();
    assert_eq!(Baseline::read(&path).unwrap(), b);
    assert_eq!(Baseline::open(&path).unwrap(), b);
    // Deterministic bytes.
    let first = std::fs::read(&path).unwrap();
    b.write(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
    let text = std::fs::read_to_string(&path).unwrap().replace("\"format_version\": 1", "\"format_version\": 9");
    std::fs::write(&path, text).unwrap();
    assert!(matches!(Baseline::read(&path), Err(BaselineError::Version { found: 9, .. })));
    std::fs::write(&path, "{\"format_version\": 1}").unwrap();
    let err = Baseline::read(&path).unwrap_err();
    assert!(matches!(err, BaselineError::Parse { .. }), "{err}");
    assert!(matches!(Baseline::read(&dir.join("none.json")), Err(BaselineError::Read { .. })));
}

#[test]
fn a_run_directory_reads_into_per_example_scores() {
    let dir = scratch("rundir");
    let program = Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()));
    let lm = Arc::new(
        ScriptedLm::new()
            .when_user_contains("q1", "[[ ## answer ## ]]\nwrong")
            .when_user_contains("q2", "no fields here")
            .with_default("[[ ## answer ## ]]\nright"),
    );
    let data: Vec<Example> = (0..4)
        .map(|i| Example::new().with("question", format!("q{i}")).with("answer", "right").with_inputs(["question"]))
        .collect();
    let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
    let report = futures::executor::block_on(
        Evaluate::new(program, metric)
            .with_cx(RunCx::new().with_lm(lm))
            .with_examples_file(dir.join("examples.jsonl"))
            .run(&data),
    )
    .unwrap();
    let mut report_json = serde_json::to_value(&report).unwrap();
    report_json["provenance"]["dataset"] = "data.jsonl (dev)".into();
    std::fs::write(dir.join("report.json"), report_json.to_string()).unwrap();
    let b = Baseline::open(&dir).unwrap();
    assert_eq!(b.provenance.split, "dev");
    assert_eq!(b.examples.iter().map(|e| e.score).collect::<Vec<_>>(), [1.0, 0.0, 0.0, 1.0]);
    assert_eq!(b.examples[2].outcome, Outcome::ParseError);
    assert_eq!(b.summary.n_scored, 4);
    assert!((b.summary.error_rate - 0.25).abs() < 1e-12);
    assert_eq!(b.summary.score, 0.5);
    // Same content, same hash; different content, different hash.
    let again = Baseline::open(&dir).unwrap();
    assert_eq!(again.examples[0].hash, b.examples[0].hash);
    assert_ne!(b.examples[0].hash, b.examples[1].hash);
}

#[test]
fn every_check_passes_on_a_good_run() {
    let v = judge("evals/t.toml", &gate(), &run(&binary(80)), Some(&run(&binary(80))));
    assert_eq!(v.status, Status::Passed, "{:#?}", v.checks);
    assert_eq!(v.exit_code(), 0);
    let names: Vec<&str> = v.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "run",
            "min_examples",
            "min_score",
            "baseline",
            "max_regression",
            "max_cost_per_example_usd",
            "max_p95_latency_ms",
            "max_error_rate"
        ]
    );
    // No thresholds: only the run is checked.
    let bare = judge("evals/t.toml", &SpecGate::default(), &run(&binary(80)), None);
    assert_eq!(bare.checks.len(), 1);
    assert_eq!(bare.exit_code(), 0);
}

#[test]
fn t_and_clopper_pearson_match_scipy() {
    // scipy.stats.t.ppf(p, df) and scipy.stats.beta.ppf(1 - c, k, m - k + 1).
    for (p, df, want) in [
        (0.95, 3.0, 2.353_363_434_801_823),
        (0.95, 5.0, 2.015_048_373_333_023),
        (0.99, 10.0, 2.763_769_458_112_696),
        (0.95, 30.0, 1.697_260_886_593_957),
        (0.975, 4.0, 2.776_445_105_197_793),
        (0.9, 3.0, 1.637_744_353_696_209),
    ] {
        let got = t_quantile(p, df);
        assert!((got - want).abs() / want < 2e-3, "t({p}, {df}) = {got}, scipy {want}");
    }
    assert!((t_quantile(0.95, 1.0) - 6.313_751_514_675_04).abs() < 1e-9);
    assert!((t_quantile(0.95, 2.0) - 2.919_985_580_353_72).abs() < 1e-9);
    for (k, m, want) in
        [(3, 3, 0.368_403_149_864_038_7), (38, 38, 0.924_192_348_317_035_5), (7, 10, 0.393_375_783_894_587_6)]
    {
        assert!((clopper_pearson_lower(k, m, 0.95) - want).abs() < 1e-9, "{k}/{m}");
    }
    assert_eq!(clopper_pearson_lower(0, 10, 0.95), 0.0);
}

#[test]
fn small_samples_are_not_called_confident_regressions() {
    // 3 of 20 pairs regressed: the percentile bootstrap alone would call it a confident drop
    // beyond 0.02, but a sign test cannot tell it from chance (one-sided p = 0.125).
    let baseline = vec![1.0; 20];
    let mut current = baseline.clone();
    current[..3].fill(0.0);
    assert!(paired_bootstrap(&baseline, &current, 0.95, 0).upper < -0.02);
    let d = paired_delta(&baseline, &current, 0.95, 0);
    assert_eq!(d.upper_method, UpperMethod::Exact);
    assert!(d.upper > 0.0, "{d:?}");
    let g = SpecGate { min_examples: None, ..gate() };
    let v = judge("t", &g, &run(&current), Some(&run(&baseline)));
    assert_eq!(status_of(&v, "max_regression"), Status::Passed);
    // One regressed pair of one: nothing can be concluded.
    assert!(exact_paired_upper(1, 0, 1, 0.95) > 0.0);
    // Continuous scores: Student's t when it is more cautious than the bootstrap.
    let before = [0.9, 0.8, 0.95];
    let after = [0.6, 0.7, 0.9];
    let d = paired_delta(&before, &after, 0.95, 0);
    assert_eq!(d.upper_method, UpperMethod::StudentT);
    assert!(d.upper > -0.02, "three pairs are too few for a confident drop: {d:?}");
}

#[test]
fn each_threshold_fails_with_exit_1() {
    let baseline = run(&binary(80));
    // min_score
    let v = judge("t", &gate(), &run(&binary(40)), None);
    assert_eq!(status_of(&v, "min_score"), Status::Failed);
    assert_eq!(v.checks.iter().find(|c| c.name == "min_score").unwrap().examples.len(), 60);
    // max_regression: 80 → 60 passes is a confident drop of more than 0.02.
    let v = judge("t", &gate(), &run(&binary(60)), Some(&baseline));
    assert_eq!(status_of(&v, "max_regression"), Status::Failed);
    assert_eq!(v.exit_code(), 1);
    let check = v.checks.iter().find(|c| c.name == "max_regression").unwrap();
    assert!(check.message.starts_with("regression"), "{}", check.message);
    assert_eq!(check.examples, (60..80).collect::<Vec<_>>());
    // A drop within the noise passes: 80 → 79.
    let v = judge("t", &gate(), &run(&binary(79)), Some(&baseline));
    assert_eq!(status_of(&v, "max_regression"), Status::Passed);
    // cost
    let mut costly = run(&binary(80));
    costly.summary.cost_per_example_usd = Some(0.01);
    assert_eq!(status_of(&judge("t", &gate(), &costly, Some(&baseline)), "max_cost_per_example_usd"), Status::Failed);
    // latency
    let mut slow = run(&binary(80));
    slow.summary.latency_p95_ms = 250.0;
    slow.examples[3].latency_ms = 250.0;
    let v = judge("t", &gate(), &slow, Some(&baseline));
    assert_eq!(status_of(&v, "max_p95_latency_ms"), Status::Failed);
    assert_eq!(v.checks.iter().find(|c| c.name == "max_p95_latency_ms").unwrap().examples, [3]);
    // error rate
    let mut failing = run(&binary(80));
    failing.summary.error_rate = 0.1;
    failing.examples[7].outcome = Outcome::LmError;
    let v = judge("t", &gate(), &failing, Some(&baseline));
    assert_eq!(status_of(&v, "max_error_rate"), Status::Failed);
    assert_eq!(v.exit_code(), 1);
}

#[test]
fn runs_that_cannot_be_judged_exit_2() {
    let baseline = run(&binary(80));
    // Too few examples.
    let v = judge("t", &gate(), &run(&[1.0; 10]), None);
    assert_eq!(status_of(&v, "min_examples"), Status::CannotJudge);
    assert_eq!(v.exit_code(), 2);
    // Aborted run.
    let mut aborted = run(&binary(80));
    aborted.summary.stopped = Some("more than 3 failed examples (max_errors)".into());
    let v = judge("t", &gate(), &aborted, Some(&baseline));
    assert_eq!(status_of(&v, "run"), Status::CannotJudge);
    assert_eq!(v.exit_code(), 2);
    // A replay-only cache miss names the predictor.
    let mut missed = run(&binary(80));
    missed.summary.replay_misses.insert("solve".into(), 3);
    let v = judge("t", &gate(), &missed, Some(&baseline));
    assert_eq!(v.exit_code(), 2);
    assert!(v.checks[0].message.contains("`solve` (3 examples)"), "{}", v.checks[0].message);
    // No baseline yet.
    let v = judge("t", &gate(), &run(&binary(80)), None);
    assert_eq!(status_of(&v, "baseline"), Status::CannotJudge);
    assert_eq!(status_of(&v, "max_regression"), Status::CannotJudge);
    assert!(v.checks.iter().any(|c| c.message.contains("--bless")));
    // The dataset changed.
    let mut changed = run(&binary(80));
    changed.provenance.dataset_hash = "e".repeat(64);
    let v = judge("t", &gate(), &changed, Some(&baseline));
    assert_eq!(status_of(&v, "baseline"), Status::CannotJudge);
    assert!(v.checks.iter().any(|c| c.message.contains("the dataset changed")));
    assert_eq!(v.exit_code(), 2);
    // Unpriced model.
    let mut unpriced = run(&binary(80));
    unpriced.summary.cost_per_example_usd = None;
    assert_eq!(
        status_of(&judge("t", &gate(), &unpriced, Some(&baseline)), "max_cost_per_example_usd"),
        Status::CannotJudge
    );
    // Several tasks: the worst wins, cannot-judge over failed.
    let failed = judge("a", &gate(), &run(&binary(40)), Some(&baseline));
    let passed = judge("b", &gate(), &baseline, Some(&baseline));
    assert_eq!(exit_code(&[passed.clone(), failed.clone()]), 1);
    assert_eq!(exit_code(&[passed.clone(), failed, v]), 2);
    assert_eq!(exit_code(&[passed]), 0);
}

#[test]
fn runs_the_gate_cannot_judge_are_never_blessed() {
    // DESIGN.md §4: too few scored examples is as broken as an aborted run.
    let few = bless_refusal(&gate(), &run(&[1.0; 10])).unwrap();
    assert!(few.contains("fewer than 50"), "{few}");
    assert!(bless_refusal(&SpecGate::default(), &run(&[])).unwrap().contains("no example was scored"));
    let mut aborted = run(&binary(80));
    aborted.summary.stopped = Some("max_errors".into());
    assert!(bless_refusal(&gate(), &aborted).unwrap().contains("stopped early"));
    let mut missed = run(&binary(80));
    missed.summary.replay_misses.insert("solve".into(), 1);
    assert!(bless_refusal(&gate(), &missed).unwrap().contains("replay-only"));
    // A complete run is blessed whatever its score: the baseline records, it does not judge.
    assert_eq!(bless_refusal(&gate(), &run(&binary(10))), None);
}

#[test]
fn one_pair_claims_no_detectable_regression() {
    // One pair has no spread: its sd of 0 must not claim that every drop is detectable.
    let c = compare(&run(&[1.0]), &run(&[1.0]), 0.95, 0);
    assert_eq!(c.min_detectable_regression, None);
    let two = compare(&run(&[1.0, 0.0]), &run(&[1.0, 0.0]), 0.95, 0);
    assert!(two.min_detectable_regression.unwrap() > 0.5, "{two:?}");
    let mut lone = gate();
    lone.min_examples = None;
    let v = judge("t", &lone, &run(&[1.0]), Some(&run(&[1.0])));
    let check = v.checks.iter().find(|c| c.name == "max_regression").unwrap();
    assert!(check.message.contains("too few to detect a drop"), "{}", check.message);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SPEC_HEAD: &str = "program = \"p.toml\"\n[data]\ntest = { path = \"t.jsonl\" }\n[metric]\nname = \"exact_match\"\nfield = \"answer\"\n";

#[test]
fn spec_gate_is_typed_with_clear_errors() {
    let dir = scratch("spec");
    let ok = write(&dir, "ok.toml", &format!("{SPEC_HEAD}[gate]\nbaseline = \"../b/t.json\"\nmax_regression = 0.02\n"));
    let spec = TaskSpec::load(&ok).unwrap();
    let gate = spec.gate.unwrap();
    assert_eq!(gate.baseline.clone().unwrap(), dir.parent().unwrap().join("b/t.json"));
    assert_eq!(gate.confidence(), 0.95);
    let unknown = write(&dir, "unknown.toml", &format!("{SPEC_HEAD}[gate]\nmin_scor = 0.5\n"));
    let err = TaskSpec::load(&unknown).unwrap_err().to_string();
    assert!(err.contains("unknown field `min_scor`") && err.contains("min_score"), "{err}");
    let bad = write(&dir, "bad.toml", &format!("{SPEC_HEAD}[gate]\nmin_score = 80\n"));
    let err = TaskSpec::load(&bad).unwrap_err().to_string();
    assert!(err.contains("min_score = 80") && err.contains("between 0 and 1"), "{err}");
    let conf = write(&dir, "conf.toml", &format!("{SPEC_HEAD}[gate]\nconfidence = 95\n"));
    assert!(TaskSpec::load(&conf).unwrap_err().to_string().contains("confidence = 95"));
    let orphan = write(&dir, "orphan.toml", &format!("{SPEC_HEAD}[gate]\nmax_regression = 0.02\n"));
    assert!(TaskSpec::load(&orphan).unwrap_err().to_string().contains("needs a `baseline`"));
    let typed = write(&dir, "typed.toml", &format!("{SPEC_HEAD}[gate]\nmin_examples = \"many\"\n"));
    assert!(TaskSpec::load(&typed).unwrap_err().to_string().contains("min_examples"));
}

/// One failing task (a regression and a slow example) and one that cannot be judged.
fn report_verdicts() -> Vec<Verdict> {
    let baseline = run(&binary(80));
    let mut worse = run(&binary(60));
    worse.summary.latency_p95_ms = 150.0;
    worse.examples[2].latency_ms = 150.0;
    worse.provenance.simulated = true;
    let mut few = run(&[1.0; 10]);
    few.examples[4].outcome = Outcome::ParseError;
    few.examples[4].score = 0.0;
    few.summary.error_rate = 0.1;
    few.summary.score = 0.9;
    vec![
        judge("evals/worse.toml", &gate(), &worse, Some(&baseline)),
        judge("evals/few & <odd>.toml", &gate(), &few, None),
    ]
}

#[test]
fn junit_report_snapshot() {
    let text = junit::render(&report_verdicts());
    assert!(text.contains("failures=\"2\"") && text.contains("&amp; &lt;odd&gt;"));
    insta::assert_snapshot!("gate_junit", text);
}

#[test]
fn markdown_report_snapshot() {
    insta::assert_snapshot!("gate_markdown", markdown::render(&report_verdicts()));
}

#[test]
fn json_report_snapshot() {
    let value = json::render(&report_verdicts());
    assert_eq!(value["exit_code"], 2);
    insta::assert_json_snapshot!("gate_json", value);
}

#[test]
fn reports_escape_what_would_break_them() {
    let mut verdicts = vec![judge("evals/t.toml", &gate(), &run(&binary(80)), None)];
    verdicts[0].checks[0].message = "stopped: <b>bold</b> | a\r\nb \u{fffe}".into();
    verdicts[0].checks[0].status = Status::CannotJudge;
    let md = markdown::render(&verdicts);
    let row = md.lines().find(|l| l.contains("stopped:")).unwrap();
    assert!(row.contains("&lt;b>bold&lt;/b> \\| a b"), "{row}");
    let xml = junit::render(&verdicts);
    assert!(!xml.contains('\u{fffe}') && xml.contains("&lt;b&gt;bold"), "{xml}");
}
