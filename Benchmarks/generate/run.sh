#!/usr/bin/env bash
# One image, one answer: vlbatch generate next to transformers (float32, the reference implementation) on the same
# checkpoint, image and prompt, one after the other in one run, then the ratios.
# Usage: Benchmarks/generate/run.sh MODEL_DIR IMAGE [MAX_NEW_TOKENS] [PYTHON]
#   MODEL_DIR: a Qwen2-VL / Qwen2.5-VL checkpoint (tools/make_qwen_vl_fixtures.py --full-size makes a random one)
#   PYTHON: an interpreter with torch 2.13 and transformers 5.23 (default .venv-ref/bin/python, see tools/README.md)
# Prints vision-encode seconds, prefill and decode tokens/s and peak RSS for vlbatch in bf16, q8 and q4 and for
# transformers, and checks that vlbatch bf16 and transformers chose the same greedy tokens. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?usage: $0 MODEL_DIR IMAGE [MAX_NEW_TOKENS] [PYTHON]}
image=${2:?usage: $0 MODEL_DIR IMAGE [MAX_NEW_TOKENS] [PYTHON]}
tokens=${3:-32}
python=${4:-.venv-ref/bin/python}
prompt="Describe this image."
swift build -c release --product vlbatch >/dev/null
mkdir -p .build-bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for weights in bf16 q8 q4; do
    .build/release/vlbatch generate --model "$model" --image "$image" --prompt "$prompt" --max-tokens "$tokens" \
        --greedy --json --weights "$weights" >".build-bench/generate-$weights.json"
done
HF_HUB_OFFLINE=1 "$python" tools/bench_transformers_generate.py --model "$model" --image "$image" \
    --prompt "$prompt" --max-new-tokens "$tokens" | head -1 >.build-bench/generate-transformers.json
"$python" - <<'PY'
import json
runs = {w: json.load(open(f".build-bench/generate-{w}.json")) for w in ("bf16", "q8", "q4")}
ref = json.load(open(".build-bench/generate-transformers.json"))
print(f"prompt {ref['prompt_tokens']} tokens ({ref['visual_tokens']} visual), {ref['new_tokens']} new tokens")
print(f"{'':22} {'vision s':>9} {'prefill tok/s':>14} {'decode tok/s':>13} {'peak RSS GiB':>13}")
print(f"{'transformers fp32':22} {ref['vision_encode_s']:9.2f} {ref['prefill_tokens_per_s']:14.1f} "
      f"{ref['decode_tokens_per_s']:13.2f} {ref['peak_rss_mib'] / 1024:13.2f}")
for weights, run in runs.items():
    t = run["timings"]
    print(f"{'vlbatch ' + weights:22} {t['vision_seconds']:9.2f} {t['prefill_tokens_per_second']:14.1f} "
          f"{t['decode_tokens_per_second']:13.2f} {run['peak_resident_bytes'] / 2**30:13.2f}"
          f"   ratios: vision {ref['vision_encode_s'] / t['vision_seconds']:.2f}x, "
          f"prefill {t['prefill_tokens_per_second'] / ref['prefill_tokens_per_s']:.2f}x, "
          f"decode {t['decode_tokens_per_second'] / ref['decode_tokens_per_s']:.2f}x")
same = runs["bf16"]["token_ids"] == ref["generated_ids"][: len(runs["bf16"]["token_ids"])]
print("greedy tokens, vlbatch bf16 vs transformers:", "identical" if same else "DIFFERENT")
PY
