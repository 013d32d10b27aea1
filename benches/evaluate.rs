//! `Evaluate`: throughput against a slow server, overhead per example, and peak memory.
//!
//! 1. 1,000 examples against an in-process `SimServer` (50 ms per request) at concurrency 64,
//!    through lmc's OpenAI-wire client (`LmFactory`, no cache): wall time next to the ideal,
//!    examples × latency / concurrency (target: ideal / actual ≥ 0.9).
//! 2. Overhead per example with an LM that answers at once: 10,000 examples at concurrency 1
//!    and 64, in µs per example (target: under 50 µs), with `ScriptedLm` and with a bare
//!    instant LM that keeps nothing, next to `program.forward` alone (no `Evaluate`).
//! 3. Peak memory for 100,000 examples streamed to an `examples.jsonl` in a temp dir, each
//!    case in a fresh child process: the RSS the in-memory dataset takes, then the peak RSS
//!    (`VmHWM`) during `Evaluate` above that.
//!
//! Run: `cargo bench --bench evaluate` (figures in benches/README.md).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lmc::evaluate::{EvalReport, Evaluate};
use lmc::lm::{LmFactory, ProviderSettings, Wire};
use lmc::metric::{ExactMatch, Metric};
use lmc::sim::server::{FaultConfig, SimServer};
use lmc::sim::{SimSettings, SimWorld};
use lmc::{
    Completion, Example, Lm, LmError, LmIdentity, LmRequest, LmResponse, Module, Predict, RunCx, ScriptedLm, Signature,
    Usage,
};

const REPLY: &str = "[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]";

/// An LM that answers every request at once with [`REPLY`] and keeps nothing (unlike
/// `ScriptedLm`, which records every request it receives).
#[derive(Debug)]
struct InstantLm;

impl Lm for InstantLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: "instant".into(), model: "bench".into(), base_url: None }
    }

    fn complete<'a>(&'a self, _request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            let usage = Usage { input_tokens: 100, output_tokens: 10, ..Usage::default() };
            Ok(LmResponse::new(vec![Completion::stopped(REPLY)], usage))
        })
    }
}

fn program() -> Arc<dyn Module> {
    Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()))
}

fn metric() -> Arc<dyn Metric> {
    Arc::new(ExactMatch::new("answer"))
}

/// `n` distinct arithmetic questions with their answers.
fn examples(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let (a, b) = (i * 7 % 1000, i / 3);
            Example::new()
                .with("question", format!("What is {a} plus {b}? (item {i})"))
                .with("answer", (a + b).to_string())
                .with_inputs(["question"])
        })
        .collect()
}

async fn evaluate(lm: Arc<dyn Lm>, concurrency: usize, data: &[Example]) -> (EvalReport, Duration) {
    let started = Instant::now();
    let report = Evaluate::new(program(), metric())
        .with_cx(RunCx::new().with_lm(lm))
        .with_concurrency(concurrency)
        .run(data)
        .await
        .unwrap();
    (report, started.elapsed())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// An in-process LM that answers with [`REPLY`] after sleeping (no HTTP).
#[derive(Debug)]
struct SleepLm(Duration);

impl Lm for SleepLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: "sleep".into(), model: "bench".into(), base_url: None }
    }

    fn complete<'a>(&'a self, _request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(LmResponse::new(vec![Completion::stopped(REPLY)], Usage::default()))
        })
    }
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat (clock ticks of
/// 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name (which is in parentheses): state is field 3,
    // utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// `forward` over every example with `concurrency` in flight, without `Evaluate`: either as
/// futures polled by one task (as `Evaluate` runs them) or as that many spawned tasks.
async fn forward_concurrently(lm: Arc<dyn Lm>, concurrency: usize, data: &Arc<Vec<Example>>, spawned: bool) {
    use futures::StreamExt;
    let program = program();
    let cx = RunCx::new().with_lm(lm);
    let inputs = |e: &Example| Example::from_fields(e.inputs()).with_inputs(["question"]);
    if !spawned {
        futures::stream::iter(data.iter())
            .map(|e| {
                let (program, cx, inputs) = (program.clone(), cx.fork(), inputs(e));
                async move { program.forward(&cx, &inputs).await.unwrap() }
            })
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
            .await;
        return;
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (program, cx, data, next) = (program.clone(), cx.clone(), data.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(e) = data.get(i) else { break };
                    program.forward(&cx.fork(), &inputs(e)).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

/// 1. 1,000 examples against the simulator server at 50 ms per request, concurrency 64.
async fn against_the_sim_server() {
    const N: usize = 1000;
    const LATENCY_MS: u64 = 50;
    const CONCURRENCY: usize = 64;
    let data = Arc::new(examples(N));
    let records: Vec<_> = data.iter().map(|e| e.fields().clone()).collect();
    let world = Arc::new(SimWorld::new("bench", &records, SimSettings::default()).unwrap());
    let faults = FaultConfig { latency_ms: LATENCY_MS, ..FaultConfig::default() };
    let server = SimServer::bind(world, faults, "127.0.0.1:0".parse().unwrap()).await.unwrap().spawn();
    let settings = ProviderSettings {
        wire: Wire::OpenAi,
        base_url: server.base_url(),
        api_key_env: None,
        key_required: false,
        max_concurrency: CONCURRENCY,
        timeout: Duration::from_secs(30),
    };
    // LmFactory::new has no cache: every example is an HTTP request.
    let lm = LmFactory::new().with_provider("local", settings).build("local/sim").unwrap();
    // Warm the connection pool.
    evaluate(lm.clone(), CONCURRENCY, &data[..CONCURRENCY]).await;

    let ideal = N as f64 * LATENCY_MS as f64 / CONCURRENCY as f64 / 1000.0;
    println!(
        "1. {N} examples, {LATENCY_MS} ms per request, concurrency {CONCURRENCY} (median of 3 runs; CPU = client + server)"
    );
    println!("   ideal = examples x latency / concurrency = {ideal:.3} s");
    println!("{:<62} {:>8} {:>13} {:>7}", "", "wall s", "ideal/actual", "CPU s");
    let rows: [(&str, u8); 5] = [
        ("Evaluate, sim server over HTTP (openai wire, no cache)", 0),
        ("  forward alone over HTTP, futures in one task (no Evaluate)", 1),
        ("  forward alone over HTTP, 64 spawned tasks (no Evaluate)", 2),
        ("Evaluate, in-process LM sleeping 50 ms (no HTTP)", 3),
        ("bare tokio: sleep 50 ms per item, 64 at a time (no lmc)", 4),
    ];
    for (label, kind) in rows {
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        for _ in 0..3 {
            let (cpu, started) = (cpu_seconds(), Instant::now());
            match kind {
                0 => {
                    let (report, _) = evaluate(lm.clone(), CONCURRENCY, &data).await;
                    assert_eq!(report.outcomes.ok, N as u64, "{:?}", report.outcomes);
                }
                1 | 2 => forward_concurrently(lm.clone(), CONCURRENCY, &data, kind == 2).await,
                4 => {
                    use futures::StreamExt;
                    futures::stream::iter(0..N)
                        .map(|_| tokio::time::sleep(Duration::from_millis(LATENCY_MS)))
                        .buffer_unordered(CONCURRENCY)
                        .for_each(|()| async {})
                        .await;
                }
                _ => {
                    let sleepy: Arc<dyn Lm> = Arc::new(SleepLm(Duration::from_millis(LATENCY_MS)));
                    let (report, _) = evaluate(sleepy, CONCURRENCY, &data).await;
                    assert_eq!(report.outcomes.ok, N as u64);
                }
            }
            walls.push(started.elapsed().as_secs_f64());
            cpus.push(cpu_seconds() - cpu);
        }
        let wall = median(walls);
        println!("{label:<62} {wall:>8.3} {:>13.3} {:>7.2}", ideal / wall, median(cpus));
    }
    let stats = server.stats();
    println!("   target: ideal/actual >= 0.9 for the first row");
    println!("   server: {} requests in all, at most {} in flight\n", stats.requests, stats.max_in_flight);
    server.shutdown().await.unwrap();
}

/// µs per example of `forward` alone, with no `Evaluate` around it, one after the other.
async fn forward_alone(lm: Arc<dyn Lm>, data: &[Example]) -> f64 {
    let program = program();
    let cx = RunCx::new().with_lm(lm);
    let started = Instant::now();
    for example in data {
        let inputs = Example::from_fields(example.inputs()).with_inputs(["question"]);
        program.forward(&cx.fork(), &inputs).await.unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / data.len() as f64
}

type MakeLm = fn() -> Arc<dyn Lm>;

/// 2. Overhead per example with an LM that answers at once.
async fn overhead() {
    const N: usize = 10_000;
    let data = examples(N);
    println!("2. overhead per example, {N} examples, an LM that answers at once (median of 3 runs)");
    println!("{:<52} {:>14} {:>15}", "", "concurrency 1", "concurrency 64");
    let lms: [(&str, MakeLm); 2] = [
        ("Evaluate, ScriptedLm (records every request)", || Arc::new(ScriptedLm::new().with_default(REPLY))),
        ("Evaluate, instant LM (keeps nothing)", || Arc::new(InstantLm)),
    ];
    for (label, make) in lms {
        let mut cells = Vec::new();
        for concurrency in [1, 64] {
            evaluate(make(), concurrency, &data[..1000]).await; // warm-up
            let mut runs = Vec::new();
            for _ in 0..3 {
                let (report, wall) = evaluate(make(), concurrency, &data).await;
                assert_eq!(report.outcomes.ok, N as u64);
                runs.push(wall.as_secs_f64() * 1e6 / N as f64);
            }
            cells.push(median(runs));
        }
        println!("{label:<52} {:>11.1} µs {:>12.1} µs", cells[0], cells[1]);
    }
    for (label, make) in lms {
        forward_alone(make(), &data[..1000]).await; // warm-up
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(forward_alone(make(), &data).await);
        }
        let label = label.replacen("Evaluate", "forward alone", 1);
        println!("{label:<52} {:>11.1} µs", median(runs));
    }
    // The report's 95% bootstrap interval: 2,000 resamples of n draws each, in `finish`.
    let scores: Vec<f64> = (0..N).map(|i| f64::from(u8::from(i % 3 != 0))).collect();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        std::hint::black_box(lmc::evaluate::stats::bootstrap_ci(std::hint::black_box(&scores), 0.95, 2000, 0));
        runs.push(started.elapsed().as_secs_f64() * 1e6 / N as f64);
    }
    println!("{:<52} {:>11.1} µs", "  of which the report's bootstrap CI (in Evaluate)", median(runs));
    println!("   target: under 50 µs per example (DSPy 3.4.1: about 600 µs, not measured here)\n");
}

/// A line of /proc/self/status, in kB.
fn status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Part 3, in a child process: evaluates `n` examples with `lm`, streaming to
/// examples.jsonl, and prints `dataset_kb peak_above_dataset_kb rss_after_kb file_bytes`.
fn memory_child(lm: &str, n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("lmc-bench-evaluate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("examples.jsonl");
    let lm: Arc<dyn Lm> = match lm {
        "scripted" => Arc::new(ScriptedLm::new().with_default(REPLY)),
        _ => Arc::new(InstantLm),
    };
    let before = status_kb("VmRSS:");
    let data = examples(n);
    let with_data = status_kb("VmRSS:");
    runtime.block_on(async {
        let report = Evaluate::new(program(), metric())
            .with_cx(RunCx::new().with_lm(lm))
            .with_concurrency(64)
            .with_examples_file(&file)
            .run(&data)
            .await
            .unwrap();
        assert_eq!(report.outcomes.ok, n as u64);
    });
    let peak = status_kb("VmHWM:");
    let after = status_kb("VmRSS:");
    let bytes = std::fs::metadata(&file).unwrap().len();
    let _ = std::fs::remove_dir_all(&dir);
    println!("{} {} {} {}", with_data - before, peak.saturating_sub(with_data), after, bytes);
}

fn memory() {
    println!("3. peak memory, streaming every result to examples.jsonl (concurrency 64; one fresh process per row)");
    println!(
        "{:<30} {:>9} {:>10} {:>16} {:>12} {:>14}",
        "", "examples", "dataset MB", "Evaluate peak MB", "MB per 1k", "jsonl MB"
    );
    let exe = std::env::current_exe().unwrap();
    for (lm, label) in [("instant", "instant LM (keeps nothing)"), ("scripted", "ScriptedLm (records requests)")] {
        for n in [10_000usize, 100_000] {
            let out = Command::new(&exe).args(["--memory-child", lm, &n.to_string()]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout).unwrap();
            let v: Vec<u64> = text.split_whitespace().map(|x| x.parse().unwrap()).collect();
            let (dataset, peak, _after, bytes) = (v[0], v[1], v[2], v[3]);
            println!(
                "{label:<30} {n:>9} {:>10.1} {:>16.1} {:>12.3} {:>14.1}",
                mb(dataset),
                mb(peak),
                mb(peak) / (n as f64 / 1000.0),
                bytes as f64 / 1e6
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        memory_child(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        against_the_sim_server().await;
        overhead().await;
    });
    memory();
}
