//! Format + parse per call, at 0, 4 and 16 demos, for both adapters.
//!
//! Run: `cargo bench --bench adapter`. The same workload in DSPy 3.4.1 is timed by
//! `benches/dspy_adapter_baseline.py`; see benches/README.md for figures.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use lmc::{Adapter, ChatAdapter, Example, Fields, JsonAdapter, Signature};
use serde_json::json;

fn signature() -> Signature {
    Signature::parse("question: str, context: list[str] -> answer: str, confidence: float")
        .expect("valid signature")
        .with_instructions("Answer the question using the context.")
}

fn demos(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            Example::new()
                .with("question", format!("What is item {i}?"))
                .with("context", json!([format!("Item {i} is a widget."), "Widgets are small."]))
                .with("answer", format!("A widget ({i})"))
                .with("confidence", 0.75)
        })
        .collect()
}

fn inputs() -> Fields {
    json!({"question": "What is a gadget?", "context": ["A gadget is a tool.", "Tools help."]})
        .as_object()
        .expect("object")
        .clone()
}

fn bench_adapter(c: &mut Criterion, name: &str, adapter: &dyn Adapter, reply: &str) {
    let sig = signature();
    let inputs = inputs();
    let mut group = c.benchmark_group(name);
    for n in [0, 4, 16] {
        let demos = demos(n);
        group.bench_with_input(BenchmarkId::new("format+parse", n), &demos, |b, demos| {
            b.iter(|| {
                let prompt = adapter.format(black_box(&sig), black_box(demos), black_box(&inputs));
                let parsed = adapter.parse(&sig, black_box(reply)).expect("parses");
                black_box((prompt, parsed))
            })
        });
    }
    // The first call for a signature also renders its system message (then cached in the
    // signature): a fresh, uncached signature per iteration.
    group.bench_function("format+parse-cold/0", |b| {
        b.iter_batched(
            signature,
            |sig| {
                let prompt = adapter.format(&sig, &[], black_box(&inputs));
                let parsed = adapter.parse(&sig, black_box(reply)).expect("parses");
                black_box((prompt, parsed))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("parse", |b| b.iter(|| adapter.parse(&sig, black_box(reply)).expect("parses")));
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_adapter(
        c,
        "chat",
        &ChatAdapter,
        "[[ ## answer ## ]]\nA gadget is a tool.\n\n[[ ## confidence ## ]]\n0.9\n\n[[ ## completed ## ]]",
    );
    bench_adapter(c, "json", &JsonAdapter, "{\"answer\": \"A gadget is a tool.\", \"confidence\": 0.9}");
}

criterion_group!(adapter_benches, benches);
criterion_main!(adapter_benches);
