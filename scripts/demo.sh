#!/usr/bin/env bash
# The whole story on one example (GSM8K math word problems, evals/gsm8k.toml):
#   1. evaluate the program as written,
#   2. compile it (few-shot demos found by BootstrapFewShot),
#   3. evaluate the compiled program,
#   4. compare the two (score, program cost per example, calls per example),
#   5. gate the compiled program against a baseline blessed from the program as written.
#
# With OPENAI_API_KEY set (or LMC_LM naming a model) it calls that model; without one, lmc's
# offline simulator answers (no key, no network, no cost), and the script says which.
# Everything it writes goes under $DEMO_DIR (default runs/demo); the committed artifact and
# baselines are left alone. Exits with the gate's code: 0 pass, 1 a check failed, 2 cannot judge.
#
#   scripts/demo.sh                  # simulator, unless a key is set
#   LMC_LM=sim scripts/demo.sh       # the simulator even with a key set
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${DEMO_DIR:-runs/demo}"
spec_src="evals/gsm8k.toml"

if [[ -n "${LMC_LM:-}" ]]; then
  lm="$LMC_LM"
elif [[ -n "${OPENAI_API_KEY:-}" ]]; then
  lm="openai/gpt-4o-mini"
else
  lm="sim"
fi
if [[ "$lm" == sim || "$lm" == sim/* ]]; then
  echo "== LM: lmc's offline simulator (no key set; set OPENAI_API_KEY to use a real model)."
  echo "   Its scores show the pipeline working, not any model's quality."
else
  echo "== LM: $lm (a real provider: this run costs money; replies are cached, so a rerun is free)"
fi

echo "== building lmc"
cargo build -q -p lmc-cli
lmc="$repo/target/debug/lmc"

# A copy of the task spec whose artifact and baseline live in $out, with the data paths made
# absolute (a spec's paths are relative to the spec file).
rm -rf "$out" && mkdir -p "$out"
spec="$out/gsm8k.toml"
sed -e "s#\"\\.\\./programs/math_qa.compiled.json\"#\"compiled.json\"#" \
    -e "s#\"\\.\\./baselines/gsm8k.json\"#\"baseline.json\"#" \
    -e "s#\"\\.\\./#\"$repo/#g" "$spec_src" > "$spec"

step() { echo; echo "== $*"; }

step "1. evaluate the program as written: lmc eval $spec_src --no-artifact"
"$lmc" eval "$spec" --lm "$lm" --no-artifact --out "$out/written"

step "2. compile: lmc compile $spec_src"
"$lmc" compile "$spec" --lm "$lm" --run-dir "$out/compile-run"

step "3. evaluate the compiled program: lmc eval $spec_src"
"$lmc" eval "$spec" --lm "$lm" --out "$out/compiled"

step "4. compare: lmc compare (A = as written, B = compiled)"
"$lmc" compare "$out/written" "$out/compiled"

step "5. gate the compiled program against a baseline blessed from the program as written"
"$lmc" gate "$spec" --lm "$lm" --no-artifact --bless
set +e
"$lmc" gate "$spec" --lm "$lm" --markdown "$out/gate.md"
code=$?
set -e
echo
echo "gate exit code: $code (0 pass, 1 a check failed, 2 cannot judge); everything is under $out/"
exit "$code"
