//! BootstrapFewShot wall time against an LM with 20 ms latency.
//!
//! Bootstraps 100 training examples (every teacher run passes, and `max_bootstrapped_demos`
//! is 100, so all 100 runs are made) at concurrency 1, 4, 16 and 32, and prints the wall
//! time next to the ideal, runs × latency / concurrency. DSPy's bootstrap loop is
//! sequential, so concurrency 1 is what DSPy takes at best with the same LM. "bare sleeps" is
//! the floor: 100 sleeps of 20 ms at the same concurrency and nothing else (whole waves, the
//! timer's millisecond granularity).
//!
//! Run: `cargo bench --bench compile` (figures in benches/README.md).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lmc::data::dataset::Dataset;
use lmc::metric::{ExactMatch, Metric};
use lmc::optimize::{BootstrapFewShot, CompileCx, Optimizer};
use lmc::{
    Completion, Example, Lm, LmError, LmIdentity, LmRequest, LmResponse, Module, Predict, RunCx, Signature, Usage,
};

const LATENCY: Duration = Duration::from_millis(20);
const EXAMPLES: usize = 100;

/// Answers `question: qN` with `aN` after [`LATENCY`].
#[derive(Debug)]
struct SlowLm;

impl Lm for SlowLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: "slow".into(), model: "bench".into(), base_url: None }
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move {
            tokio::time::sleep(LATENCY).await;
            let user = &request.messages.last().unwrap().content;
            let id = user.split("[[ ## question ## ]]\nq").nth(1).unwrap().split_whitespace().next().unwrap();
            let reply = format!("[[ ## answer ## ]]\na{id}\n\n[[ ## completed ## ]]");
            let usage = Usage { input_tokens: 100, output_tokens: 10, ..Usage::default() };
            Ok(LmResponse::new(vec![Completion::stopped(reply)], usage))
        })
    }
}

fn trainset() -> Dataset {
    let examples = (0..EXAMPLES)
        .map(|i| {
            Example::new().with("question", format!("q{i}")).with("answer", format!("a{i}")).with_inputs(["question"])
        })
        .collect();
    Dataset::from_examples("bench", examples)
}

/// The floor: the same number of sleeps at the same concurrency, with nothing else (whole
/// waves and the timer's granularity included).
async fn bare_sleeps(concurrency: usize) -> f64 {
    use futures::stream::{self, StreamExt};
    let started = Instant::now();
    stream::iter(0..EXAMPLES)
        .map(|_| tokio::time::sleep(LATENCY))
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let optimizer =
        BootstrapFewShot { max_bootstrapped_demos: EXAMPLES, max_labeled_demos: 4, ..BootstrapFewShot::default() };
    println!("BootstrapFewShot, {EXAMPLES} training examples, {} ms per LM call", LATENCY.as_millis());
    println!(
        "{:>11} {:>9} {:>9} {:>13} {:>14} {:>11}",
        "concurrency", "wall", "ideal", "ideal/actual", "bare sleeps", "bare/actual"
    );
    for concurrency in [1, 4, 16, 32] {
        let program: Arc<dyn Module> = Arc::new(Predict::new("qa", Signature::parse("question -> answer").unwrap()));
        let metric: Arc<dyn Metric> = Arc::new(ExactMatch::new("answer"));
        let cx = CompileCx::new(program, metric, trainset())
            .with_run_cx(RunCx::new().with_lm(Arc::new(SlowLm)))
            .with_concurrency(concurrency);
        let started = Instant::now();
        let compiled = runtime.block_on(optimizer.compile(&cx)).unwrap();
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(compiled.candidate.demos("qa").unwrap().len(), EXAMPLES);
        assert_eq!(cx.meter().totals().calls, EXAMPLES as u64);
        let ideal = EXAMPLES as f64 * LATENCY.as_secs_f64() / concurrency as f64;
        let bare = runtime.block_on(bare_sleeps(concurrency));
        println!(
            "{concurrency:>11} {:>8.3}s {:>8.3}s {:>13.2} {:>13.3}s {:>11.2}",
            wall,
            ideal,
            ideal / wall,
            bare,
            bare / wall
        );
    }
}
