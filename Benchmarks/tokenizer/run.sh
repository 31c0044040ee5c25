#!/usr/bin/env bash
# Tokenizer encode throughput on one thread: vlbatch next to Hugging Face tokenizers, same text, same chunks.
# Usage: Benchmarks/tokenizer/run.sh [PYTHON]   (PYTHON: an interpreter with tokenizers 0.23; default
# .venv-ref/bin/python, see tools/README.md). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-.venv-ref/bin/python}
text=.build-bench/tokenizer-text.txt
[ -f "$text" ] || { mkdir -p .build-bench && "$python" Benchmarks/tokenizer/make_text.py "$text"; }
swift build -c release --product vlbatch >/dev/null
for vocabulary in qwen2 qwen3.5; do
    tokenizer=Tests/Fixtures/tokenizer/$vocabulary
    echo "== $vocabulary, $(wc -c <"$text") bytes of mixed text in chunks of at most 4096 bytes"
    echo "-- vlbatch"
    ours=$(.build/release/vlbatch bench tokenizer --tokenizer "$tokenizer" "$text" | tee /dev/stderr)
    echo "-- Hugging Face tokenizers"
    theirs=$("$python" Benchmarks/tokenizer/reference.py --tokenizer "$tokenizer/tokenizer.json" "$text" |
        tee /dev/stderr)
    field() { awk -v key="$1" '$1 == key { print $2 }'; }
    if [ "$(field tokens <<<"$ours")" != "$(field tokens <<<"$theirs")" ]; then
        echo "token counts differ: the tokenizers disagree on this text" >&2
        exit 1
    fi
    echo "ratio vlbatch / tokenizers: $(awk -v a="$(field MB/s <<<"$ours")" -v b="$(field MB/s <<<"$theirs")" \
        'BEGIN { printf "%.2f", a / b }')x"
done
