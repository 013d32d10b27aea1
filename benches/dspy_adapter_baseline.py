"""Times DSPy 3.4.1's ChatAdapter/JSONAdapter format + parse on the workload of benches/adapter.rs.

Run with a venv that has dspy==3.4.1:  python benches/dspy_adapter_baseline.py
Prints microseconds per call (median of 7 repeats).
"""

import statistics
import time

import dspy

sig = dspy.Signature(
    "question: str, context: list[str] -> answer: str, confidence: float",
    "Answer the question using the context.",
)
inputs = {"question": "What is a gadget?", "context": ["A gadget is a tool.", "Tools help."]}


def demos(n):
    return [
        {
            "question": f"What is item {i}?",
            "context": [f"Item {i} is a widget.", "Widgets are small."],
            "answer": f"A widget ({i})",
            "confidence": 0.75,
        }
        for i in range(n)
    ]


def per_call(fn, loops):
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


for name, adapter, reply in [
    ("chat", dspy.ChatAdapter(), "[[ ## answer ## ]]\nA gadget is a tool.\n\n[[ ## confidence ## ]]\n0.9\n\n[[ ## completed ## ]]"),
    ("json", dspy.JSONAdapter(), '{"answer": "A gadget is a tool.", "confidence": 0.9}'),
]:
    for n in (0, 4, 16):
        d = demos(n)
        us = per_call(lambda: (adapter.format(sig, d, inputs), adapter.parse(sig, reply)), 200)
        print(f"{name}/format+parse/{n}: {us:.1f} us")
    print(f"{name}/parse: {per_call(lambda: adapter.parse(sig, reply), 2000):.1f} us")
