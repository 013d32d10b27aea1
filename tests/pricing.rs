use std::path::PathBuf;

use lmc::lm::pricing::{PriceError, PriceTable};
use lmc::Usage;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-tests-pricing-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
}

fn usage(input: u64, cached: u64, cache_write: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        cached_input_tokens: cached,
        cache_write_tokens: cache_write,
        output_tokens: output,
        ..Usage::default()
    }
}

#[test]
fn builtin_table_is_dated_versioned_and_priced() {
    let table = PriceTable::builtin();
    assert_eq!(table.version(), Some(1));
    assert_eq!(table.date(), Some("2026-11-21"));
    assert!(table.source().is_some_and(|s| !s.urls.is_empty()));
    assert!(table.describe().starts_with("built-in price table (version 1, checked 2026-11-21)"));
    assert!(table.len() >= 17, "{}", table.len());
    for (key, price) in table.entries() {
        if key.starts_with("sim/") {
            assert_eq!((price.input, price.output), (0.0, 0.0), "{key}");
            continue;
        }
        assert!(price.input > 0.0 && price.output > 0.0, "{key}: {price:?}");
        assert!(price.output >= price.input, "{key}: output is never cheaper than input here");
        if let Some(cached) = price.cached_input {
            assert!(cached > 0.0 && cached < price.input, "{key}: cached reads are discounted");
        }
        if let Some(write) = price.cache_write {
            assert!(write > price.input, "{key}: cache writes cost more than plain input");
        }
    }
    for model in [
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "openai/gpt-4.1",
        "openai/gpt-4.1-mini",
        "openai/gpt-4.1-nano",
        "openai/o3",
        "openai/o4-mini",
        "openai/gpt-5",
        "openai/gpt-5-mini",
        "openai/gpt-5-nano",
        "anthropic/claude-3-5-haiku",
        "anthropic/claude-3-7-sonnet",
        "anthropic/claude-sonnet-4",
        "anthropic/claude-sonnet-4-5",
        "anthropic/claude-opus-4",
        "anthropic/claude-opus-4-1",
        "anthropic/claude-haiku-4-5",
    ] {
        let (provider, name) = model.split_once('/').unwrap();
        assert!(table.price(provider, name).is_some(), "{model} is priced");
    }
}

#[test]
fn exact_and_snapshot_lookups() {
    let table = PriceTable::builtin();
    let input = |provider: &str, model: &str| table.price(provider, model).map(|p| p.input);
    assert_eq!(input("openai", "gpt-4o-mini"), Some(0.15));
    assert_eq!(input("openai", "gpt-4o-mini-2024-07-18"), Some(0.15));
    assert_eq!(input("openai", "gpt-4o-2024-08-06"), Some(2.50));
    assert_eq!(input("openai", "gpt-4.1-nano-2025-04-14"), Some(0.10));
    assert_eq!(input("openai", "gpt-5-mini-2025-08-07"), Some(0.25));
    // An exact entry wins over the suffix rule: the first gpt-4o snapshot kept its price.
    assert_eq!(input("openai", "gpt-4o-2024-05-13"), Some(5.00));
    assert_eq!(input("anthropic", "claude-sonnet-4-20250514"), Some(3.00));
    assert_eq!(input("anthropic", "claude-opus-4-1-20250805"), Some(15.00));
    assert_eq!(input("anthropic", "claude-haiku-4-5-20251001"), Some(1.00));
    assert_eq!(input("anthropic", "claude-3-5-haiku-latest"), Some(0.80));
    assert_eq!(input("anthropic", "claude-sonnet-4@20250514"), Some(3.00));
    assert_eq!(input("anthropic", "claude-opus-4-0"), Some(15.00));
    // The offline simulator is free, whatever its model is called.
    assert_eq!(input("sim", "sim"), Some(0.0));
    assert_eq!(input("sim", ""), Some(0.0));
}

#[test]
fn no_loose_prefix_matching() {
    let table = PriceTable::builtin();
    let mini = table.price("openai", "gpt-4o-mini").unwrap();
    let full = table.price("openai", "gpt-4o").unwrap();
    assert_ne!(mini, full);
    assert_eq!(table.price("openai", "gpt-4o-mini-2024-07-18"), Some(mini));
    for model in [
        "gpt-4o-mini-search-preview",
        "gpt-4o-audio-preview",
        "gpt-4o-2024",
        "gpt-4o-9999-99-99",
        "gpt-4o-12345678",
        "gpt-5-chat-latest",
        "chatgpt-4o-latest",
        "gpt-4",
        "gpt",
        "o3-pro",
        "my-fine-tune",
    ] {
        assert_eq!(table.price("openai", model), None, "{model}");
    }
    assert_eq!(table.price("anthropic", "claude-sonnet-4-5-extra"), None);
    assert_eq!(table.price("anthropic", "gpt-4o"), None, "the provider is part of the key");
    // Local servers are unpriced until the user says they are free.
    assert_eq!(table.price("ollama", "llama3.2"), None);
    assert_eq!(table.price("vllm", "Qwen/Qwen2.5-7B-Instruct"), None);
}

#[test]
fn cost_counts_cached_and_cache_write_tokens_apart() {
    let table = PriceTable::builtin();
    // claude-sonnet-4-5: input $3, cache hit $0.30, cache write $3.75, output $15 per million.
    // 10,000 prompt tokens of which 4,000 cache hits and 2,000 cache writes, 1,000 output:
    // 4,000·3 + 4,000·0.30 + 2,000·3.75 + 1,000·15 = 12,000 + 1,200 + 7,500 + 15,000 = 35,700 µ$.
    let cost = table.cost("anthropic", "claude-sonnet-4-5-20250929", &usage(10_000, 4_000, 2_000, 1_000)).unwrap();
    assert!(close(cost, 0.0357), "{cost}");

    // gpt-4o-mini: input $0.15, cached $0.075, output $0.60.
    // 2,000 prompt tokens of which 1,000 cached, 500 output: 150 + 75 + 300 = 525 µ$.
    let cost = table.cost("openai", "gpt-4o-mini", &usage(2_000, 1_000, 0, 500)).unwrap();
    assert!(close(cost, 0.000525), "{cost}");

    // Reasoning tokens are part of the output tokens and are not billed twice.
    let with_reasoning = Usage { reasoning_tokens: 400, ..usage(2_000, 1_000, 0, 500) };
    assert_eq!(table.cost("openai", "gpt-4o-mini", &with_reasoning), Some(cost));

    // No cached price: cached tokens bill at the input price. gpt-4o-2024-05-13: $5 / $15.
    // 1,000 prompt tokens (500 cached) and 100 output: 1,000·5 + 100·15 = 6,500 µ$.
    let cost = table.cost("openai", "gpt-4o-2024-05-13", &usage(1_000, 500, 0, 100)).unwrap();
    assert!(close(cost, 0.0065), "{cost}");

    // One million plain tokens each way is the list price.
    let cost = table.cost("openai", "gpt-5", &usage(1_000_000, 0, 0, 1_000_000)).unwrap();
    assert!(close(cost, 11.25), "{cost}");

    assert_eq!(table.cost("sim", "sim", &usage(1_000, 0, 0, 1_000)), Some(0.0));
    assert_eq!(table.cost("openai", "gpt-4o-mini", &Usage::default()), Some(0.0));
}

#[test]
fn inconsistent_usage_saturates() {
    let table = PriceTable::builtin();
    // More cached and written tokens than prompt tokens: no plain input, nothing negative.
    // 200·0.30 + 50·3.75 = 60 + 187.5 = 247.5 µ$.
    let cost = table.cost("anthropic", "claude-sonnet-4-5", &usage(100, 200, 50, 0)).unwrap();
    assert!(close(cost, 0.0002475), "{cost}");
    let huge = usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    let cost = table.cost("anthropic", "claude-sonnet-4-5", &huge).unwrap();
    assert!(cost.is_finite() && cost > 0.0);
}

#[test]
fn unknown_model_has_no_cost() {
    let table = PriceTable::builtin();
    assert_eq!(table.cost("openai", "gpt-unknown", &usage(1_000, 0, 0, 1_000)), None);
    assert_eq!(table.cost("acme", "model", &Usage::default()), None, "not even for zero tokens");
}

#[test]
fn a_user_file_replaces_and_adds_entries() {
    let dir = scratch("override");
    let path = dir.join("prices.toml");
    std::fs::write(
        &path,
        r#"
version = 7
date = 2026-12-01

[models."openai/gpt-4o"]
input = 1.0
output = 2.0

[models."acme/widget-1"]
input = 0.5
cached_input = 0.25
output = 1.5

[models."ollama/*"]
input = 0.0
output = 0.0
"#,
    )
    .unwrap();
    let user = PriceTable::load(&path).unwrap();
    assert_eq!(user.version(), Some(7));
    assert_eq!(user.date(), Some("2026-12-01"));
    let table = PriceTable::builtin().with_overrides(&user);

    assert_eq!(table.price("openai", "gpt-4o").unwrap().input, 1.0);
    assert_eq!(table.price("openai", "gpt-4o-2024-08-06").unwrap().output, 2.0);
    assert_eq!(table.price("openai", "gpt-4o").unwrap().cached_input, None, "the whole entry is replaced");
    assert_eq!(table.price("openai", "gpt-4o-mini").unwrap().input, 0.15, "other entries stay");
    let cost = table.cost("acme", "widget-1", &usage(2_000, 1_000, 0, 1_000)).unwrap();
    assert!(close(cost, (1_000.0 * 0.5 + 1_000.0 * 0.25 + 1_000.0 * 1.5) / 1e6), "{cost}");
    assert_eq!(table.cost("ollama", "llama3.2", &usage(10, 0, 0, 10)), Some(0.0));
    assert_eq!(table.len(), PriceTable::builtin().len() + 2);

    // The merged table keeps the built-in version and names both layers.
    assert_eq!(table.version(), Some(1));
    assert_eq!(table.date(), Some("2026-11-21"));
    let described = table.describe();
    assert!(described.contains("built-in price table") && described.contains("prices.toml"), "{described}");
    assert!(described.contains("version 7"), "{described}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn load_err(name: &str, text: &str) -> (PathBuf, PriceError) {
    let dir = scratch(name);
    let path = dir.join("prices.toml");
    std::fs::write(&path, text).unwrap();
    let err = PriceTable::load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    (path, err)
}

#[test]
fn broken_files_name_the_file_and_the_entry() {
    let (path, err) = load_err("negative", "[models.\"openai/gpt-x\"]\ninput = 1.0\noutput = -2.0\n");
    assert_eq!(err.path.as_deref(), Some(path.as_path()));
    assert_eq!(err.entry.as_deref(), Some("openai/gpt-x"));
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()) && shown.contains("openai/gpt-x"), "{shown}");
    assert!(shown.contains("output"), "{shown}");

    let (_, err) = load_err("typo", "[models.\"anthropic/claude-x\"]\ninput = 1.0\ncache_input = 0.1\noutput = 2.0\n");
    assert_eq!(err.entry.as_deref(), Some("anthropic/claude-x"));
    assert!(err.message.contains("cache_input"), "{err}");

    let (_, err) = load_err("missing", "[models.\"openai/gpt-y\"]\ninput = 1.0\n");
    assert_eq!(err.entry.as_deref(), Some("openai/gpt-y"));
    assert!(err.message.contains("output"), "{err}");

    let (_, err) = load_err("string", "[models.\"openai/gpt-z\"]\ninput = \"cheap\"\noutput = 1.0\n");
    assert_eq!(err.entry.as_deref(), Some("openai/gpt-z"));

    let (_, err) = load_err("no-provider", "[models.\"gpt-4o\"]\ninput = 1.0\noutput = 2.0\n");
    assert_eq!(err.entry.as_deref(), Some("gpt-4o"));
    assert!(err.message.contains("provider/model"), "{err}");

    let (_, err) = load_err("nan", "[models.\"openai/gpt-n\"]\ninput = nan\noutput = 2.0\n");
    assert_eq!(err.entry.as_deref(), Some("openai/gpt-n"));

    let (path, err) = load_err("syntax", "version = 1\n[models.\"openai/gpt-4o\"\ninput = 1.0\n");
    assert_eq!(err.path.as_deref(), Some(path.as_path()));
    assert!(err.message.contains("line 2"), "{err}");

    let (_, err) = load_err("top", "verison = 1\n");
    assert!(err.message.contains("verison"), "{err}");

    let err = PriceTable::load("/nonexistent/lmc/prices.toml").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/lmc/prices.toml"), "{err}");
}
