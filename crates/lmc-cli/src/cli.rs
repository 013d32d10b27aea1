//! Command-line flags (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::lm_args::LmArgs;

/// lmc: a declarative compiler and optimizer for language-model programs (DSPy-style).
///
/// Declare typed signatures, compose them into programs, and let lmc render DSPy-compatible
/// prompts, run and evaluate them, compile them against labeled data, and gate releases on
/// their scores.
#[derive(Debug, Parser)]
#[command(name = "lmc", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Exit codes: 0 success; 1 a gate check failed; 2 usage, configuration, data or provider error.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a program on one example and print the outputs, tokens, cost and latency.
    #[command(after_help = "Examples:\n  \
        lmc run --program programs/triage.toml --input '{\"ticket\": \"I was charged twice\"}' --lm openai/gpt-4o-mini\n  \
        lmc run --program programs/math_qa.toml --input @question.json --lm ollama/llama3.2 --json")]
    Run(RunArgs),
    /// Evaluate a program on a dataset: score, cost, latency, failures.
    #[command(after_help = "Examples:\n  \
        lmc eval evals/gsm8k.toml --lm sim --limit 50\n  \
        lmc eval evals/gsm8k.toml --split dev --lm openai/gpt-4o-mini --out runs/gsm8k-dev --json\n  \
        lmc eval --program programs/math_qa.toml --dataset datasets/gsm8k/test.jsonl --metric numeric --field answer --lm sim --world datasets/gsm8k/test.jsonl\n\n\
        Exit codes: 0 the evaluation ran (whatever the score); 2 a usage, data or provider error.")]
    Eval(Box<EvalArgs>),
    /// Compile a program: find the demos (and instructions) that score best on labeled data.
    #[command(after_help = "Examples:\n  \
        lmc compile evals/gsm8k.toml --lm sim\n  \
        lmc compile evals/gsm8k.toml --optimizer random-search --num-candidates 8 --max-usd 2 --lm openai/gpt-4o-mini\n  \
        lmc compile evals/gsm8k.toml --dry-run\n  \
        lmc compile --program programs/math_qa.toml --trainset datasets/gsm8k/train.jsonl \\\n      \
        --valset datasets/gsm8k/dev.jsonl --metric numeric --field answer --optimizer bootstrap \\\n      \
        --lm sim --out programs/math_qa.compiled.json\n\n\
        The artifact (--out, or the spec's `artifact`) is JSON with stable key order and no timestamps: \
        the same seed, data and LM replies give the same bytes. Use it with `lmc eval --artifact` and \
        `lmc run --artifact`; read it with `lmc inspect artifact`.\n\n\
        Every LM request and the progress after each trial are kept in a run directory (--run-dir); after a crash \
        or Ctrl-C, `--resume DIR` (or the same command again) continues without sending a completed request twice.\n\n\
        Exit codes: 0 compiled (also when a budget stopped it early: the artifact says so); 2 a usage, data or provider error; \
        130 interrupted (Ctrl-C): resume with --resume DIR.")]
    Compile(Box<CompileArgs>),
    /// Gate a release: evaluate each task, compare with its blessed baseline, check its `[gate]`.
    #[command(after_help = "Examples:\n  \
        lmc gate evals/gsm8k.toml --lm sim --bless\n  \
        lmc gate evals/gsm8k.toml --lm sim\n  \
        lmc gate evals/*.toml --junit gate.xml --markdown gate.md --cache-mode replay-only\n\n\
        Prints one verdict line per check. --bless writes the spec's `baseline` file (commit it) instead of checking. \
        --markdown also appends to $GITHUB_STEP_SUMMARY when it is set.\n\n\
        Exit codes: 0 every check passed; 1 a check failed (score, regression, cost, latency, error rate); \
        2 cannot judge: a usage, spec, data or provider error, a run that stopped early, a replay-only cache miss, \
        fewer scored examples than min_examples, or a missing or incomparable baseline.")]
    Gate(Box<GateArgs>),
    /// Compare two runs example by example: run directories (lmc eval --out) or baseline files.
    #[command(after_help = "Examples:\n  \
        lmc compare baselines/gsm8k.json runs/gsm8k-new\n  \
        lmc compare runs/before runs/after --confidence 0.99 --json\n\n\
        The score difference has a paired-bootstrap confidence interval (seeded), McNemar's exact test when \
        the metric is pass/fail, and the smallest drop the number of examples can detect (one-sided, power 0.8). \
        Runs of different datasets, metrics or splits are reported as not comparable.")]
    Compare(CompareArgs),
    /// Import a DSPy `program.save("x.json")` file as an lmc artifact for a program.
    ImportDspy(crate::dspy_cmd::ImportDspyArgs),
    /// Export an lmc artifact in DSPy's save layout, for a DSPy program's `load()`.
    ExportDspy(crate::dspy_cmd::ExportDspyArgs),
    /// Print the resolved configuration: each setting, its value and where it comes from.
    #[command(
        after_help = "Precedence: flags, then environment (LMC_*, provider keys), then the spec file, then lmc.toml, \
        then built-in defaults. API keys are shown as set or unset, never their value."
    )]
    Config(ConfigArgs),
    /// Inspect and manage the LM cache.
    Cache(CacheArgs),
    /// Serve the simulator as an OpenAI-compatible server on loopback, with fault injection.
    ///
    /// The offline simulator (the response model of `--lm sim`) behind the OpenAI Chat
    /// Completions wire format, with optional latency, 429/500/503 replies, dropped
    /// connections, garbled and truncated replies. A simulator, not a model: its answers say
    /// nothing about any real model's quality.
    #[command(after_help = "Routes: POST /v1/chat/completions, GET /v1/models, GET /stats.\n\n\
        Faults are drawn per request from a hash of the seed, the request body and how many times that body \
        was seen before, so a retry can succeed and a rerun repeats them. Each request draws at most one fault; \
        the probabilities may sum to at most 1.\n\n\
        Examples:\n  \
        lmc sim-server --world datasets/gsm8k/test.jsonl --port 8000\n  \
        lmc sim-server --world datasets/gsm8k/test.jsonl --port 0 \\\n      \
        --p429 0.2 --retry-after 0.05 --p500 0.1 --pdrop 0.1 --seed 7\n  \
        lmc run --program programs/math_qa.toml --input '{\"question\": \"...\"}' \\\n      \
        --lm vllm/sim --base-url http://127.0.0.1:8000/v1")]
    SimServer(SimServerArgs),
    /// Show what lmc sends and how it reads replies, without calling a model.
    Inspect {
        #[command(subcommand)]
        command: InspectCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum InspectCommand {
    /// Print the chat messages a predictor sends, as a JSON array of {"role", "content"}.
    #[command(after_help = "Examples:\n  \
        lmc inspect prompt --signature 'question -> answer: int' --input '{\"question\": \"2+2?\"}'\n  \
        lmc inspect prompt --program programs/triage.toml --step classify \\\n      \
        --input '{\"product\": \"app\", \"issue\": \"login fails\"}' --adapter json")]
    Prompt(PromptArgs),
    /// Parse a completion with a signature's adapter and print the fields as JSON.
    #[command(after_help = "Exit code 2 and the parse error on stderr when the reply does not parse.\n\n\
        Example:\n  printf '[[ ## answer ## ]]\\n4\\n' | \\\n      lmc inspect parse --signature 'question -> answer: int' --completion -")]
    Parse(ParseArgs),
    /// Summarize a program file: its inputs, steps, predictors and outputs.
    Program(ProgramArgs),
    /// Show an evaluation's results from its run directory (`lmc eval --out DIR`).
    Run(InspectRunArgs),
    /// Show a compiled artifact readably: per predictor, its instructions and demos.
    Artifact(InspectArtifactArgs),
}

/// Which module wraps the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModuleArg {
    /// A plain prediction.
    Predict,
    /// Reason step by step first (adds a `reasoning` output); also spelled `cot`.
    #[value(name = "chain_of_thought", alias = "cot")]
    ChainOfThought,
}

/// Which adapter renders and parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AdapterArg {
    /// DSPy's `[[ ## field ## ]]` format.
    Chat,
    /// A JSON object reply.
    Json,
}

/// Where the signature comes from: a string, or a step of a program file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "source")]
pub(crate) struct SignatureSource {
    /// A DSPy string signature, e.g. "question: str, tags: list[str] -> answer: int".
    #[arg(long, value_name = "SIG", group = "source")]
    pub(crate) signature: Option<String>,

    /// A program file (programs/*.toml); pick the step with --step.
    #[arg(long, value_name = "FILE", group = "source", requires = "step")]
    pub(crate) program: Option<PathBuf>,
}

/// Options shared by `inspect prompt` and `inspect parse`.
#[derive(Debug, Args)]
pub(crate) struct PredictorArgs {
    #[command(flatten)]
    pub(crate) source: SignatureSource,

    /// The step of --program to use.
    #[arg(long, value_name = "NAME", requires = "program")]
    pub(crate) step: Option<String>,

    /// The module (default: predict, or the step's module with --program).
    #[arg(long, value_enum)]
    pub(crate) module: Option<ModuleArg>,

    /// The adapter (default: chat, or the program's).
    #[arg(long, value_enum)]
    pub(crate) adapter: Option<AdapterArg>,

    /// Replace the instructions.
    #[arg(long, value_name = "TEXT")]
    pub(crate) instructions: Option<String>,

    /// Describe a field; repeat for several.
    #[arg(long = "desc", value_name = "FIELD=TEXT")]
    pub(crate) descriptions: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PromptArgs {
    #[command(flatten)]
    pub(crate) predictor: PredictorArgs,

    /// The inputs: a JSON object, or @FILE to read one from a file.
    #[arg(long, value_name = "JSON")]
    pub(crate) input: String,

    /// Few-shot demos: a JSON array of objects (or a .jsonl file, one object per line).
    #[arg(long, value_name = "FILE")]
    pub(crate) demos: Option<PathBuf>,

    /// Print {"messages", "response_format"} instead of the bare message array.
    #[arg(long)]
    pub(crate) response_format: bool,

    /// `json` (default) for the exact messages; `text` to read them with real line breaks.
    #[arg(long, value_enum, default_value_t = PromptFormat::Json)]
    pub(crate) format: PromptFormat,
}

/// How `inspect prompt` prints the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PromptFormat {
    /// A JSON array of {"role", "content"}: exact, machine-readable.
    Json,
    /// Each message under a `--- role ---` line, for reading.
    Text,
}

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    #[command(flatten)]
    pub(crate) predictor: PredictorArgs,

    /// The completion to parse: a file, or - for standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) completion: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ProgramArgs {
    /// The program file.
    #[arg(value_name = "FILE")]
    pub(crate) program: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The program file (programs/*.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) program: PathBuf,

    /// The program's inputs: a JSON object, or @FILE to read one from a file.
    #[arg(long, value_name = "JSON")]
    pub(crate) input: String,

    /// A compiled artifact (lmc compile --out) to install: its instructions and demos.
    #[arg(long, value_name = "FILE")]
    pub(crate) artifact: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) lm: LmArgs,

    /// Print one JSON object (outputs, usage, cost, latency, per-call trace).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(flatten)]
    pub(crate) lm: LmArgs,

    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// The cache database (default: LMC_CACHE_PATH, else ~/.cache/lmc/cache.sqlite).
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) cache_path: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Entries, size on disk, entries per model.
    Stats {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove every entry.
    Clear,
    /// Write every entry to a portable JSONL file (commit it, or pass it between CI jobs).
    Export {
        /// The file to write.
        file: PathBuf,
    },
    /// Add the entries of an exported file (existing keys are kept).
    Import {
        /// The file to read.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SimServerArgs {
    /// The world: a labeled dataset (JSONL, or a JSON array of objects).
    #[arg(long, value_name = "DATASET")]
    pub(crate) world: PathBuf,

    /// The port on 127.0.0.1 (0 picks a free one; the URL is printed).
    #[arg(long, value_name = "P")]
    pub(crate) port: u16,

    /// The output field the simulator answers right or wrong (default: answer).
    #[arg(long, value_name = "FIELD")]
    pub(crate) answer_field: Option<String>,

    /// The dataset column with the gold answer (default: the answer field).
    #[arg(long, value_name = "COLUMN")]
    pub(crate) answer_column: Option<String>,

    /// A phrase that helps when the instructions contain it; repeat for several.
    #[arg(long = "hint", value_name = "TEXT")]
    pub(crate) hints: Vec<String>,

    /// The seed of the fault and latency draws.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub(crate) seed: u64,

    /// The response model's seed (which answers are right), as --sim-seed of `lmc run --lm sim`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) sim_seed: u64,

    /// Base latency of each chat request, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) latency_ms: u64,

    /// The latency varies by up to this many milliseconds either way.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) jitter_ms: u64,

    /// Rate of 429 replies (with Retry-After).
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) p429: f64,

    /// Rate of 500 replies.
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) p500: f64,

    /// Rate of 503 replies.
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) p503: f64,

    /// Rate of connections dropped before or during the reply.
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) pdrop: f64,

    /// Rate of 200 replies whose body is not JSON.
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) pgarbage: f64,

    /// Rate of replies cut in half with finish_reason "length".
    #[arg(long, value_name = "X", default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    pub(crate) ptrunc: f64,

    /// The Retry-After sent with a 429, in seconds (fractions allowed).
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = seconds, allow_negative_numbers = true)]
    pub(crate) retry_after: f64,
}

/// A probability flag: a number in [0, 1].
fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability: it must be between 0 and 1"))
    }
}

/// A duration flag in seconds: a finite, non-negative number.
fn seconds(text: &str) -> Result<f64, String> {
    let s: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if s.is_finite() && s >= 0.0 {
        Ok(s)
    } else {
        Err(format!("{s} is not a number of seconds: it must be 0 or more"))
    }
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// A task spec (evals/*.toml): program, data, metric, LM.
    #[arg(value_name = "SPEC")]
    pub(crate) spec: Option<PathBuf>,

    /// The split of the spec to evaluate (train, dev or test; default: the spec's `[eval]` split, else test).
    #[arg(long, value_name = "NAME")]
    pub(crate) split: Option<String>,

    /// The program file (without a spec).
    #[arg(long, value_name = "FILE", conflicts_with = "spec")]
    pub(crate) program: Option<PathBuf>,

    /// The dataset (JSONL, JSON, CSV or Parquet; without a spec).
    #[arg(long, value_name = "FILE", conflicts_with = "spec")]
    pub(crate) dataset: Option<PathBuf>,

    /// Dataset columns that are program inputs (default: the program's inputs).
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub(crate) inputs: Vec<String>,

    /// Gold labels: OUTPUT=COLUMN (or just OUTPUT when the names match); repeatable.
    #[arg(long, value_name = "OUTPUT=COLUMN", value_delimiter = ',')]
    pub(crate) labels: Vec<String>,

    /// The metric: exact_match, f1, contains, numeric, regex, json_valid, schema_valid, judge.
    #[arg(long, value_name = "NAME")]
    pub(crate) metric: Option<String>,

    /// The output field the metric scores (default: answer).
    #[arg(long, value_name = "FIELD")]
    pub(crate) field: Option<String>,

    /// The LM that judges, for --metric judge (its cost is reported as judge cost).
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) judge_lm: Option<String>,

    /// A compiled artifact (lmc compile --out) to install: its instructions and demos
    /// (default: the spec's `artifact`, when that file exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) artifact: Option<PathBuf>,

    /// Evaluate the program as written, ignoring the spec's artifact.
    #[arg(long, conflicts_with = "artifact")]
    pub(crate) no_artifact: bool,

    #[command(flatten)]
    pub(crate) lm: LmArgs,

    /// Examples in flight at once (default 8).
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<usize>,

    /// Runs per example, each a distinct rollout: mean, pass@k and flaky examples.
    #[arg(long, value_name = "K")]
    pub(crate) repeats: Option<u32>,

    /// Evaluate only the first N examples.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,

    /// Stop after more than N failed examples (partial results are kept and reported).
    #[arg(long, value_name = "N")]
    pub(crate) max_errors: Option<usize>,

    /// Stop once this many dollars are spent (cache hits are free).
    #[arg(long, value_name = "USD")]
    pub(crate) max_usd: Option<f64>,

    /// Report scores per value of this column; repeatable.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) slice_by: Vec<String>,

    /// Write report.json and examples.jsonl (every example, with prompts and completions) here.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,

    /// Also write one row per example to this table (.csv or .parquet).
    #[arg(long, value_name = "FILE")]
    pub(crate) export: Option<PathBuf>,

    /// Print a summary JSON (score, n, outcomes, usage, cost_usd, wall_seconds) instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GateArgs {
    /// Task specs (evals/*.toml) with a `[gate]` table.
    #[arg(value_name = "SPEC", required = true)]
    pub(crate) specs: Vec<PathBuf>,

    /// Run the evaluation and write it as the spec's `baseline` file, instead of checking.
    #[arg(long)]
    pub(crate) bless: bool,

    /// The split to gate on (default: the spec's `[gate]` split, else its `[eval]` split, else test).
    #[arg(long, value_name = "NAME")]
    pub(crate) split: Option<String>,

    /// Write a JUnit XML report here: one test case per check, failing examples listed.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,

    /// Write a Markdown summary here (also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,

    /// Print the verdicts as JSON instead of lines.
    #[arg(long)]
    pub(crate) json: bool,

    /// Keep each evaluation's run directory here (DIR/SPEC-NAME with several specs), for `lmc compare`.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,

    /// A compiled artifact to install instead of the spec's `artifact`.
    #[arg(long, value_name = "FILE")]
    pub(crate) artifact: Option<PathBuf>,

    /// Gate the program as written, ignoring the spec's artifact.
    #[arg(long, conflicts_with = "artifact")]
    pub(crate) no_artifact: bool,

    /// Examples in flight at once (default: the spec's, else 8).
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<usize>,

    #[command(flatten)]
    pub(crate) lm: LmArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline: a run directory (lmc eval --out DIR) or a baseline file (lmc gate --bless).
    #[arg(value_name = "A")]
    pub(crate) baseline: PathBuf,

    /// The run to compare with it: a run directory or a baseline file.
    #[arg(value_name = "B")]
    pub(crate) current: PathBuf,

    /// The confidence of the interval and the detectable drop.
    #[arg(long, value_name = "C", default_value_t = 0.95)]
    pub(crate) confidence: f64,

    /// The paired bootstrap's seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub(crate) seed: u64,

    /// Print the comparison as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InspectRunArgs {
    /// The run directory (lmc eval --out DIR).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Only the examples that failed or scored below 1.
    #[arg(long)]
    pub(crate) failed: bool,

    /// Only this example (its index in the dataset).
    #[arg(long, value_name = "INDEX")]
    pub(crate) example: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArtifactArgs {
    /// The artifact (lmc compile --out).
    #[arg(value_name = "FILE")]
    pub(crate) artifact: PathBuf,

    /// Check it against this program file too.
    #[arg(long, value_name = "FILE")]
    pub(crate) program: Option<PathBuf>,

    /// Show at most this many demos per predictor (default: all).
    #[arg(long, value_name = "N")]
    pub(crate) demos: Option<usize>,
}

/// The optimizers `lmc compile` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OptimizerArg {
    /// k labeled training examples as demos (no LM calls).
    Labeled,
    /// Demos from the traces of teacher runs that pass the metric (BootstrapFewShot).
    Bootstrap,
    /// Zero-shot, labeled and several bootstraps scored on the valset; the best wins.
    RandomSearch,
    /// The k training examples nearest each input, chosen at inference time.
    Knn,
    /// MIPROv2: proposed instructions and demo sets searched together (TPE on minibatches).
    Mipro,
    /// GEPA: instructions evolved by reflecting on traces and metric feedback (a Pareto pool).
    Gepa,
    /// SIMBA: mini-batch ascent appending demos from good trajectories or LM-written rules.
    Simba,
    /// COPRO: coordinate ascent over each predictor's instruction, proposing from the scored history.
    Copro,
}

/// MIPROv2's and GEPA's presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AutoArg {
    /// 6 candidates, valset ≤ 100.
    Light,
    /// 12 candidates, valset ≤ 300.
    Medium,
    /// 18 candidates, valset ≤ 1000.
    Heavy,
    /// No preset: --num-candidates and --num-trials as given.
    Off,
}

/// What `lmc compile` ranks candidates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ObjectiveArg {
    /// The metric's mean score.
    Score,
    /// The score less λ × the program's dollars per example (--lambda).
    ScoreCost,
}

#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// A task spec (evals/*.toml): program, data splits, metric, LM and `[compile]` settings.
    #[arg(value_name = "SPEC")]
    pub(crate) spec: Option<PathBuf>,

    /// The program file (without a spec).
    #[arg(long, value_name = "FILE", conflicts_with = "spec")]
    pub(crate) program: Option<PathBuf>,

    /// The training examples (without a spec; JSONL, JSON, CSV or Parquet).
    #[arg(long, value_name = "FILE", conflicts_with = "spec")]
    pub(crate) trainset: Option<PathBuf>,

    /// Validation examples candidates are scored on (default: the spec's dev split, else the trainset).
    #[arg(long, value_name = "FILE")]
    pub(crate) valset: Option<PathBuf>,

    /// Dataset columns that are program inputs (default: the program's inputs).
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub(crate) inputs: Vec<String>,

    /// Gold labels: OUTPUT=COLUMN (or just OUTPUT when the names match); repeatable.
    #[arg(long, value_name = "OUTPUT=COLUMN", value_delimiter = ',')]
    pub(crate) labels: Vec<String>,

    /// The metric: exact_match, f1, contains, numeric, regex, json_valid, schema_valid, judge.
    #[arg(long, value_name = "NAME")]
    pub(crate) metric: Option<String>,

    /// The output field the metric scores (default: answer).
    #[arg(long, value_name = "FIELD")]
    pub(crate) field: Option<String>,

    /// The optimizer (default: the spec's, else bootstrap).
    #[arg(long, value_enum)]
    pub(crate) optimizer: Option<OptimizerArg>,

    #[command(flatten)]
    pub(crate) lm: LmArgs,

    /// A stronger LM for the teacher's runs (bootstrap, random-search).
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) teacher_lm: Option<String>,

    /// The LM that judges, for --metric judge.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) judge_lm: Option<String>,

    /// The seed of every random choice (default 0; 0 is a seed).
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,

    /// What searching optimizers maximize: score, or score-cost (score − λ × $/example; needs --lambda).
    #[arg(long, value_enum)]
    pub(crate) objective: Option<ObjectiveArg>,

    /// score-cost: the score given up to save one dollar per example (e.g. 1000).
    #[arg(long, value_name = "X")]
    pub(crate) lambda: Option<f64>,

    /// Write the N-th candidate of the Pareto front (as numbered in the report) instead of the chosen one.
    #[arg(long, value_name = "N")]
    pub(crate) pick: Option<usize>,

    /// Stop after this many LM calls (checked before each run; cached calls count).
    #[arg(long, value_name = "N")]
    pub(crate) max_calls: Option<u64>,

    /// Stop after this many tokens, input plus output, in all.
    #[arg(long, value_name = "N")]
    pub(crate) max_total_tokens: Option<u64>,

    /// Stop after this many dollars (by usage: cache hits count).
    #[arg(long, value_name = "USD")]
    pub(crate) max_usd: Option<f64>,

    /// Program runs in flight at once (default 8).
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<usize>,

    /// random-search: shuffled bootstraps beyond zero-shot, labeled and bootstrap (default 16); mipro: instruction candidates; simba: rollouts per example (default 6).
    #[arg(long, value_name = "N")]
    pub(crate) num_candidates: Option<usize>,

    /// Bootstrapped demos per predictor (default 4); simba: demos per predictor at most (default 4).
    #[arg(long, value_name = "N")]
    pub(crate) max_bootstrapped_demos: Option<usize>,

    /// Demos per predictor in all, labeled ones filling up (default 16).
    #[arg(long, value_name = "N")]
    pub(crate) max_labeled_demos: Option<usize>,

    /// Bootstrap rounds (default 1); later rounds retry at temperature 1.0.
    #[arg(long, value_name = "N")]
    pub(crate) max_rounds: Option<u32>,

    /// The score a teacher run must reach to become demos (default: any score above 0).
    #[arg(long, value_name = "X")]
    pub(crate) metric_threshold: Option<f64>,

    /// Demos per call for labeled and knn (default 16 and 3).
    #[arg(long, value_name = "N")]
    pub(crate) k: Option<usize>,

    /// knn: the embedding model (provider/model), instead of BM25 over the inputs' text.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) embedder: Option<String>,

    /// mipro: a preset for candidates, trials and valset size; gepa: for the metric-call budget (default light).
    #[arg(long, value_enum)]
    pub(crate) auto: Option<AutoArg>,

    /// mipro: search trials (default: DSPy's formula from the candidates and predictors).
    #[arg(long, value_name = "N")]
    pub(crate) num_trials: Option<usize>,

    /// mipro: validation examples per trial (default 35); gepa: training examples per reflection (default 3); simba: examples per mini-batch (default 32).
    #[arg(long, value_name = "N")]
    pub(crate) minibatch_size: Option<usize>,

    /// mipro, copro, simba: the LM that proposes instructions or rules (default: the program's); its cost is reported apart.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) prompt_lm: Option<String>,

    /// gepa: the LM that reflects and writes instructions (default: the program's); its cost is reported apart.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub(crate) reflection_lm: Option<String>,

    /// gepa: the budget in metric calls (instead of --auto).
    #[arg(long, value_name = "N")]
    pub(crate) max_metric_calls: Option<u64>,

    /// gepa: never merge lineages.
    #[arg(long)]
    pub(crate) no_merge: bool,

    /// simba: steps (default 8).
    #[arg(long, value_name = "N")]
    pub(crate) max_steps: Option<usize>,

    /// copro: instructions per predictor and round (default 10).
    #[arg(long, value_name = "N")]
    pub(crate) breadth: Option<usize>,

    /// copro: rounds (default 3).
    #[arg(long, value_name = "N")]
    pub(crate) depth: Option<usize>,

    /// Start from this compiled artifact's instructions and demos (e.g. gepa after bootstrap).
    #[arg(long, value_name = "ARTIFACT")]
    pub(crate) start_from: Option<PathBuf>,

    /// Use only the first N training examples.
    #[arg(long, value_name = "N")]
    pub(crate) limit_train: Option<usize>,

    /// Use only the first N validation examples.
    #[arg(long, value_name = "N")]
    pub(crate) limit_val: Option<usize>,

    /// Where to write the artifact (default: the spec's `artifact`).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// Print the planned program runs and an estimated cost, and spend nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Keep the compile's checkpoints here: each LM request as it completes and the progress
    /// after each trial (default: runs/compile-PROGRAM-HASH beside the LM cache). A rerun of
    /// the same command continues a compile that did not finish.
    #[arg(long, value_name = "DIR")]
    pub(crate) run_dir: Option<PathBuf>,

    /// Continue the compile in DIR after a crash or Ctrl-C (give the same settings): completed
    /// LM requests are replayed, never sent again, and the artifact is an uninterrupted run's.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["run_dir", "fresh", "dry_run"])]
    pub(crate) resume: Option<PathBuf>,

    /// Start over: clear the run directory instead of continuing the compile it holds.
    #[arg(long)]
    pub(crate) fresh: bool,

    /// Print a JSON summary instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
}
