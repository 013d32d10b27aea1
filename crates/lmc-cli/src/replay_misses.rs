//! What `lmc eval` says when a replay-only cache missed: which predictors' prompts changed
//! since the cache was recorded, and how to refresh the committed export.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

use lmc::evaluate::ExampleResult;

/// The text of [`lmc::LmError::CacheMiss`] that marks a replay-only miss in a trace.
const MISS: &str = "cache miss in replay-only mode";

/// Predictor → the examples whose calls to it missed, read from a results file
/// (`examples.jsonl`); unreadable lines are skipped.
pub(crate) fn by_predictor(results: &Path) -> BTreeMap<String, BTreeSet<usize>> {
    let mut misses: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let Ok(file) = std::fs::File::open(results) else { return misses };
    for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
        let Ok(result) = serde_json::from_str::<ExampleResult>(&line) else { continue };
        for call in &result.trace {
            if call.error.as_deref().is_some_and(|e| e.contains(MISS)) {
                misses.entry(call.predictor.clone()).or_default().insert(result.index);
            }
        }
    }
    misses
}

/// The warning for `misses` (none when empty): the predictors whose prompts changed, and the
/// commands that record them again and refresh the export. `rerun` is the command that ran.
pub(crate) fn message(misses: &BTreeMap<String, BTreeSet<usize>>, rerun: &str) -> Option<String> {
    if misses.is_empty() {
        return None;
    }
    let who: Vec<String> = misses
        .iter()
        .map(|(predictor, examples)| {
            let n = examples.len();
            format!("`{predictor}` ({n} example{})", if n == 1 { "" } else { "s" })
        })
        .collect();
    Some(format!(
        "the replay-only cache has no reply for the prompts of predictor {}: its prompts (instructions, demos, \
         signature or inputs) changed since the cache was recorded, or the committed export was not imported \
         (lmc cache import FILE). To refresh the export, record again where the model can be called (with its key \
         set): `LMC_CACHE_MODE=read-write {rerun}`, then `lmc cache export FILE` over the committed file and \
         commit it",
        who.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_each_predictor_and_the_refresh_commands() {
        let mut misses = BTreeMap::new();
        misses.insert("classify".to_string(), BTreeSet::from([0, 3]));
        misses.insert("extract".to_string(), BTreeSet::from([1]));
        let text = message(&misses, "lmc eval evals/x.toml").unwrap();
        assert!(text.contains("`classify` (2 examples), `extract` (1 example)"), "{text}");
        assert!(text.contains("LMC_CACHE_MODE=read-write lmc eval evals/x.toml"), "{text}");
        assert!(text.contains("lmc cache export"), "{text}");
        assert_eq!(message(&BTreeMap::new(), "lmc eval"), None);
    }
}
