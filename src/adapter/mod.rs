//! Adapters: turn a signature, demos and inputs into a [`Prompt`], and an LM reply back into
//! typed fields.
//!
//! [`ChatAdapter`] renders DSPy's `[[ ## field ## ]]` format; [`JsonAdapter`] asks for a JSON
//! object (and a JSON-schema response format). Both render byte for byte what DSPy 3.4.1
//! renders for the same signature, demos and inputs, so programs and demos move between the
//! two systems. Parsing coerces each output to its declared type and fails with a typed
//! [`ParseError`] that keeps the raw text.

mod chat;
mod coerce;
mod error;
mod json;
mod lenient_json;
pub mod pyfmt;
mod render;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use chat::ChatAdapter;
pub use error::{ParseError, ParseProblem};
pub use json::{output_schema, response_format, JsonAdapter};

use crate::data::{Example, Fields};
use crate::prompt::{Message, Prompt};
use crate::signature::Signature;

/// Formats prompts for a signature and parses the LM's replies.
///
/// An adapter knows prompts, not HTTP: it never calls an LM.
pub trait Adapter: Send + Sync + fmt::Debug {
    /// Which adapter this is.
    fn kind(&self) -> AdapterKind;

    /// Renders the system message, the demos as user/assistant turns, and the request.
    fn format(&self, sig: &Signature, demos: &[Example], inputs: &Fields) -> Prompt;

    /// Parses one completion into the signature's outputs, in signature order.
    fn parse(&self, sig: &Signature, completion: &str) -> Result<Fields, ParseError>;
}

/// The built-in adapters, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// [`ChatAdapter`], DSPy's default.
    #[default]
    Chat,
    /// [`JsonAdapter`].
    Json,
}

impl AdapterKind {
    /// The adapter itself.
    pub fn adapter(self) -> &'static dyn Adapter {
        match self {
            AdapterKind::Chat => &ChatAdapter,
            AdapterKind::Json => &JsonAdapter,
        }
    }

    /// The name used on the command line and in files: `chat` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Chat => "chat",
            AdapterKind::Json => "json",
        }
    }
}

impl fmt::Display for AdapterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdapterKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(AdapterKind::Chat),
            "json" => Ok(AdapterKind::Json),
            other => Err(format!("unknown adapter `{other}`; expected `chat` or `json`")),
        }
    }
}

/// The parts in which the two adapters differ; the message sequence is shared.
trait Layout {
    /// The system message, rendered once per signature and cached in it.
    fn system_message<'s>(&self, sig: &'s Signature) -> &'s str;
    fn output_requirements(&self, sig: &Signature) -> String;
    fn assistant_message(&self, sig: &Signature, outputs: &Fields, missing: &str) -> String;
}

/// DSPy's `Adapter.format`: system message, incomplete demos, complete demos, request.
fn assemble(layout: &impl Layout, sig: &Signature, demos: &[Example], inputs: &Fields) -> Vec<Message> {
    let (complete, incomplete) = render::split_demos(sig, demos);
    let mut messages = Vec::with_capacity(2 + 2 * (complete.len() + incomplete.len()));
    messages.push(Message::system(layout.system_message(sig)));
    for demo in incomplete {
        messages.push(Message::user(render::user_message(sig, demo, render::INCOMPLETE_DEMO_PREFIX, None)));
        messages.push(Message::assistant(layout.assistant_message(sig, demo, render::MISSING_IN_INCOMPLETE_DEMO)));
    }
    for demo in complete {
        messages.push(Message::user(render::user_message(sig, demo, "", None)));
        messages.push(Message::assistant(layout.assistant_message(sig, demo, render::MISSING_IN_COMPLETE_DEMO)));
    }
    let request = render::user_message(sig, inputs, "", Some(&layout.output_requirements(sig)));
    if !request.is_empty() {
        messages.push(Message::user(request));
    }
    messages
}
