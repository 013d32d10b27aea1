//! `Candidate`: an immutable overlay of instructions and demos, with a stable hash.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::data::Example;
use crate::module::{Overlay, PredictorOverlay};

/// One program variant an optimizer tries: instructions and demos per predictor name, over
/// the program's own. Immutable and cheap to clone; running it never touches the program.
///
/// The hash is the SHA-256 of the overlay's JSON (predictors in name order, demo fields in
/// their order), so equal candidates hash equally on any machine and scores can be cached by
/// (candidate, example).
///
/// ```
/// use lmc::optimize::Candidate;
/// use lmc::Example;
///
/// let a = Candidate::empty().with_demos("qa", vec![Example::new().with("q", "1+1").with("a", "2")]);
/// let b = Candidate::empty().with_demos("qa", vec![Example::new().with("q", "1+1").with("a", "2")]);
/// assert_eq!(a.hash(), b.hash());
/// assert_ne!(a.hash(), Candidate::empty().hash());
/// ```
#[derive(Clone, PartialEq)]
pub struct Candidate {
    overlay: Arc<Overlay>,
    hash: Arc<str>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate").field("hash", &self.short_hash()).field("overlay", &self.overlay).finish()
    }
}

impl Default for Candidate {
    fn default() -> Self {
        Candidate::empty()
    }
}

impl Candidate {
    /// The candidate that changes nothing: the program as written.
    pub fn empty() -> Self {
        Candidate::new(Overlay::default())
    }

    /// A candidate with this overlay.
    pub fn new(overlay: Overlay) -> Self {
        // Serializing an overlay (strings and JSON values) cannot fail.
        let json = serde_json::to_vec(&overlay).unwrap_or_default();
        let hash = Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect::<String>();
        Candidate { overlay: Arc::new(overlay), hash: hash.into() }
    }

    /// The same candidate with `demos` for the predictor `name`.
    pub fn with_demos(&self, name: &str, demos: Vec<Example>) -> Self {
        let mut overlay = (*self.overlay).clone();
        overlay.predictors.entry(name.to_string()).or_default().demos = Some(demos);
        Candidate::new(overlay)
    }

    /// The same candidate with `instructions` for the predictor `name`.
    pub fn with_instructions(&self, name: &str, instructions: impl Into<String>) -> Self {
        let mut overlay = (*self.overlay).clone();
        overlay.predictors.entry(name.to_string()).or_default().instructions = Some(instructions.into());
        Candidate::new(overlay)
    }

    /// The overlay, shared.
    pub fn overlay(&self) -> &Arc<Overlay> {
        &self.overlay
    }

    /// The overlay for one predictor.
    pub fn predictor(&self, name: &str) -> Option<&PredictorOverlay> {
        self.overlay.get(name)
    }

    /// The demos this candidate gives `name`, if it sets them.
    pub fn demos(&self, name: &str) -> Option<&[Example]> {
        self.predictor(name).and_then(|p| p.demos.as_deref())
    }

    /// The full hash: 64 hex digits.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The first 12 hex digits, for reports.
    pub fn short_hash(&self) -> &str {
        &self.hash[..12]
    }

    /// Demos per predictor, in name order, e.g. `classify=3 extract=2` (`none` when empty).
    pub fn demo_summary(&self) -> String {
        let parts: Vec<String> = self
            .overlay
            .predictors
            .iter()
            .filter_map(|(name, p)| p.demos.as_ref().map(|d| format!("{name}={}", d.len())))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" ")
        }
    }

    /// Demos per predictor of `program` under this candidate, in name order: the overlay's,
    /// else the predictor's own (a program that starts from an artifact has some); `none`
    /// when no predictor has any.
    pub fn demo_summary_in(&self, program: &dyn crate::module::Module) -> String {
        let mut counts: Vec<(String, usize)> = program
            .predictors()
            .iter()
            .map(|p| (p.name().to_string(), self.demos(p.name()).map_or(p.demos().len(), <[_]>::len)))
            .filter(|(_, n)| *n > 0)
            .collect();
        counts.sort();
        if counts.is_empty() {
            "none".into()
        } else {
            counts.iter().map(|(name, n)| format!("{name}={n}")).collect::<Vec<_>>().join(" ")
        }
    }
}
