//! The offline simulator: a deterministic stand-in LM, so that anyone can run, evaluate,
//! compile and gate lmc programs with no key and no network.
//!
//! **It is a simulator. Its scores say nothing about any real model's quality**; they show
//! that the pipeline works and that better prompts (more correct demos, reasoning, helpful
//! instructions) score better, by a documented, fixed rule. Every identity it reports is
//! `sim/<world>`, and lmc's reports say a run used it.
//!
//! # The world
//!
//! A labeled dataset (JSONL records, usually the task's own data) plus [`SimSettings`]: the
//! `answer_field` it answers right or wrong (default `answer`), the dataset column with the gold
//! answer (`answer_column`, default the same name; a GSM8K-style `... #### 42` gives `42`), the
//! input columns (default: all others), an optional label set, and `hints`: phrases that help,
//! as good instructions help a real model.
//!
//! # The response model
//!
//! 1. **Recognise the item.** The request's input sections (`[[ ## question ## ]]` in the last
//!    user turn, lmc's ChatAdapter and JsonAdapter formats alike) are matched, whitespace
//!    normalized, against the world's input columns. An unrecognized request gets filler.
//! 2. **Probability of a correct answer:**
//!
//!    `p = sigmoid(base + w_demo·min(correct_demos, max_demos) + w_reason·[reasoning requested]
//!    + w_hint·(fraction of hints in the instructions) − difficulty(item))`
//!
//!    where `correct_demos` counts the demos whose answer is their own item's gold answer,
//!    "reasoning requested" means the outputs include `reasoning` (or `rationale`), hints are
//!    matched case-insensitively in the instructions, and `difficulty` is a fixed per-item draw
//!    from `Normal(0, difficulty_sd)` that depends on the item alone.
//! 3. **Correct iff `u(seed, item, rollout) < p`**, with `u` a uniform draw from a stable hash.
//!    These are common random numbers: raising `p` turns wrong answers right and never turns a
//!    right answer wrong, and the same request always gets the same answer.
//! 4. **Wrong answers are plausible:** another label of the label set, a near-miss number (±1,
//!    ±2, ×1.1, ×2, ÷2), or another item's answer for free text.
//! 5. **Other fields** get short deterministic filler of their type; `reasoning` names the topic
//!    and the answer given. A field whose name contains `instruction` (an optimizer's
//!    instruction proposal) gets the current instruction plus a seeded random subset of the
//!    hints it lacks and one filler phrase, so some proposals are better than others. A GEPA
//!    reflection prompt (DSPy's wording: the current instruction in triple backticks, then
//!    examples with feedback) gets such a proposal built on the instruction it shows, in
//!    triple backticks; the sim does not read the feedback.
//! 6. **Verifiers.** A `bool` output named `correct` (or `is_correct`) on a request that shows
//!    a recognized item and a proposed answer (the answer field among the inputs) is a verdict
//!    on that answer, right with probability `sigmoid(w_verify − difficulty(item))` (a draw of
//!    the item, the answer and the rollout): verifying is easier than solving, and still fallible.
//! 7. **n > 1** choices are distinct rollouts (`rollout · 1,000,003 + i`).
//! 8. **Usage** is counted from the text: four characters per token, plus four tokens per
//!    message. The sim's price is $0.
//!
//! # Constants
//!
//! | constant | default | effect |
//! |---|---|---|
//! | `base` | 0.0 | zero-shot accuracy ≈ 50% on average |
//! | `w_demo` | 0.35 | per correct demo, up to `max_demos` = 4 (+1.4 logit) |
//! | `w_reason` | 0.8 | a reasoning output |
//! | `w_hint` | 1.2 | all hints present (scaled by the fraction present) |
//! | `difficulty_sd` | 1.0 | spread of item difficulty |
//! | `w_verify` | 2.0 | a verifier's logit of judging rightly (about 84% on average) |
//! | `seed` | 0 | every draw but difficulty |
//!
//! With the defaults, accuracy over the shipped GSM8K test subset (200 items) is 53% zero-shot,
//! 67% with a reasoning field, 78% with four correct demos, 86% with both, and 94% with every
//! hint in the instructions as well (`tests/sim.rs` pins these within 8 points). The constants are fixed once chosen;
//! they are not tuned to make any optimizer look good.
//!
//! ```
//! use std::sync::Arc;
//! use lmc::sim::{SimLm, SimSettings, SimWorld};
//! use lmc::{Example, Module, Predict, RunCx, Signature};
//! use serde_json::json;
//!
//! let records = vec![json!({"question": "2+2?", "answer": "4"}), json!({"question": "3+3?", "answer": "6"})];
//! let records: Vec<_> = records.into_iter().map(|r| r.as_object().unwrap().clone()).collect();
//! let world = SimWorld::new("toy", &records, SimSettings::default())?;
//! let lm = Arc::new(SimLm::new(Arc::new(world)));
//! let predict = Predict::new("qa", Signature::parse("question -> answer: int")?);
//! let out = futures::executor::block_on(predict.forward(&RunCx::new().with_lm(lm), &Example::new().with("question", "2+2?")))?;
//! assert!(out.get("answer").is_some()); // right or a near miss, the same every run
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod read;
mod respond;
mod rng;
pub mod server;
mod world;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use world::{SimSettings, SimWorld, WorldError};

use crate::lm::{Completion, Lm, LmError, LmIdentity, LmRequest, LmResponse, Usage};

/// Rollouts of one request's n choices are spread by this factor so they never collide with
/// the choices of the next rollout.
const ROLLOUT_STRIDE: u64 = 1_000_003;

/// The simulator as an in-process [`Lm`] (`--lm sim`).
#[derive(Debug, Clone)]
pub struct SimLm {
    world: Arc<SimWorld>,
}

impl SimLm {
    /// A simulator answering from `world`.
    pub fn new(world: Arc<SimWorld>) -> Self {
        SimLm { world }
    }

    /// The world.
    pub fn world(&self) -> &SimWorld {
        &self.world
    }

    /// The reply to `request` (all n choices), computed synchronously; the HTTP server uses
    /// the same function.
    pub fn respond(&self, request: &LmRequest) -> LmResponse {
        let read = read::read(request);
        let key = request_key(request);
        let n = request.sampling.n();
        let mut completions = Vec::with_capacity(n as usize);
        for i in 0..u64::from(n) {
            let rollout = u64::from(request.rollout) * ROLLOUT_STRIDE + i;
            let text = respond::reply(&self.world, &read, rollout, key);
            completions.push(Completion::stopped(text));
        }
        let input_tokens: u64 = request.messages.iter().map(|m| tokens(&m.content) + 4).sum();
        let output_tokens = completions.iter().map(|c| tokens(&c.text)).sum();
        let usage = Usage { input_tokens, output_tokens, ..Usage::default() };
        let mut response = LmResponse::new(completions, usage);
        response.served_model = Some(format!("sim/{}", self.world.name()));
        response.cost_usd = Some(0.0);
        response
    }

    /// The probability the model assigns to a correct answer for `request`, and whether the
    /// item was recognized (for tests and the documentation's accuracy figures).
    pub fn probability(&self, request: &LmRequest) -> Option<f64> {
        let read = read::read(request);
        let item = self.world.find(&read.inputs)?;
        Some(respond::probability(&self.world, &read, item))
    }
}

/// About four characters per token.
fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// A stable key of the request's content (messages and sampling), for draws that should vary
/// between different requests about the same item (instruction proposals).
fn request_key(request: &LmRequest) -> u64 {
    let text = serde_json::to_string(&request.messages).unwrap_or_default();
    rng::hash(&[text.as_bytes()])
}

impl Lm for SimLm {
    fn identity(&self) -> LmIdentity {
        LmIdentity { provider: "sim".into(), model: self.world.name().to_string(), base_url: None }
    }

    fn complete<'a>(&'a self, request: &'a LmRequest) -> BoxFuture<'a, Result<LmResponse, LmError>> {
        Box::pin(async move { Ok(self.respond(request)) })
    }
}
