#!/usr/bin/env bash
# vlbatch next to llama.cpp on the same checkpoint, image and weight format, one after the other in one run, then the
# ratios (vlbatch / llama.cpp). Run Benchmarks/llama-cpp/build.sh MODEL_DIR first (builds llama.cpp, makes the GGUFs).
# Usage: Benchmarks/llama-cpp/run.sh MODEL_DIR IMAGE [WORK]
#   MODEL_DIR: a Qwen2-VL checkpoint in Hugging Face form; IMAGE: a 448x448 image; WORK: build.sh's (/work/llama.cpp-src)
#   THREADS (default 2), TOKENS (default 32), BATCH (default 4), REPEATS (default 3), FORMATS (default "bf16 q8 q4")
# llama.cpp, per format (text model bf16 / Q8_0 / Q4_0, projector F16 in every case):
#   llama-bench -m TEXT.gguf -t THREADS -p PROMPT -n TOKENS -r REPEATS -o json   (other flags at their defaults:
#     -b 2048 -ub 512 -fa auto, mmap); prompt tokens/s and decode tokens/s, the best of the REPEATS samples;
#     PROMPT is vlbatch's prompt length for this model and image (281 tokens for Qwen2-VL at 448x448)
#   llama-mtmd-cli -m TEXT.gguf --mmproj MMPROJ.gguf --image IMAGE -p "Describe this image." -n TOKENS -t THREADS
#     --temp 0 --ignore-eos: "image slice encoded in N ms" (vision encode), "image decoded ... in N ms" (prefill of
#     the visual tokens), and the wall time of the whole call (one request at a time, as the CLI is used)
# vlbatch: vlbatch bench model --model MODEL_DIR --image IMAGE --weights bf16|q8|q4 --batch BATCH --tokens TOKENS
#   --threads THREADS --repeats REPEATS (best of the repeats; decode at batch 1 and BATCH; captioning job of 2*BATCH images)
set -euo pipefail
cd "$(dirname "$0")/../.."
model=$(cd "${1:?usage: $0 MODEL_DIR IMAGE [WORK]}" && pwd)
image=${2:?usage: $0 MODEL_DIR IMAGE [WORK]}
work=${3:-/work/llama.cpp-src}
threads=${THREADS:-2}
tokens=${TOKENS:-32}
batch=${BATCH:-4}
repeats=${REPEATS:-3}
formats=${FORMATS:-bf16 q8 q4}
bin=$work/build/bin
gguf=$work/gguf/$(basename "$model")
out=.build-bench/llama-cpp
mkdir -p "$out"
swift build -c release --product vlbatch >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "llama.cpp: $(cat "$work/VERSION" 2>/dev/null || echo unknown)"
declare -A ggml=([bf16]=bf16 [q8]=q8_0 [q4]=q4_0)
for weights in $formats; do
    [ -n "${TABLE_ONLY:-}" ] && break   # TABLE_ONLY=1: print the table of the last run again
    text=$gguf/text-${ggml[$weights]}.gguf
    [ -f "$text" ] || { echo "missing $text: run Benchmarks/llama-cpp/build.sh $model" >&2; exit 1; }
    echo "== $weights" >&2
    .build/release/vlbatch bench model --model "$model" --image "$image" --weights "$weights" --batch "$batch" \
        --tokens "$tokens" --threads "$threads" --repeats "$repeats" | tee "$out/vlbatch-$weights.txt" >&2
    prompt=$(sed -n 's/^prompt \([0-9]*\) tokens.*/\1/p' "$out/vlbatch-$weights.txt")
    "$bin/llama-bench" -m "$text" -t "$threads" -p "$prompt" -n "$tokens" -r "$repeats" -o json \
        >"$out/bench-$weights.json" 2>"$out/bench-$weights.log"
    start=$(date +%s.%N)
    "$bin/llama-mtmd-cli" -m "$text" --mmproj "$gguf/mmproj-f16.gguf" --image "$image" -p "Describe this image." \
        -n "$tokens" -t "$threads" --temp 0 --ignore-eos >"$out/mtmd-$weights.out" 2>"$out/mtmd-$weights.log"
    echo "$(date +%s.%N) - $start" | bc >"$out/mtmd-$weights.wall"
    grep -E "encoding done in|encoded in|decoded .*in|eval time|load time" "$out/mtmd-$weights.log" >&2 || true
    echo "llama-mtmd-cli wall $(cat "$out/mtmd-$weights.wall") s" >&2
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
python3 - "$out" "$threads" "$batch" $formats <<'PY'
import json, re, sys
out, threads, batch, formats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def vl(w):
    t = open(f"{out}/vlbatch-{w}.txt").read()
    num = lambda pattern: float(re.search(pattern, t).group(1))
    return {"vision": num(r"vision encode\s+([\d.]+) s"), "prefill": num(r"prefill\s+([\d.]+) tokens/s"),
            "decode": num(r"decode, batch 1\s+([\d.]+) tokens/s"),
            "batch": num(rf"decode, batch {batch}\s+([\d.]+) tokens/s") if batch > 1 else None,
            "job": num(r"captioning job\s+([\d.]+) images/minute"), "prompt": int(num(r"prompt (\d+) tokens"))}
def ll(w):
    runs = json.load(open(f"{out}/bench-{w}.json"))
    best = lambda r: max(r["samples_ts"])
    pp = next(r for r in runs if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r for r in runs if r["n_gen"] > 0 and r["n_prompt"] == 0)
    log = open(f"{out}/mtmd-{w}.log").read()
    enc = re.search(r"(?:mtmd batch encoding done|image slice encoded) in (\d+) ms", log)
    wall = float(open(f"{out}/mtmd-{w}.wall").read())
    return {"vision": int(enc.group(1)) / 1e3 if enc else float("nan"), "prefill": best(pp), "decode": best(tg),
            "job": 60 / wall, "wall": wall,
            "build": runs[0].get("build_commit", "?"), "type": runs[0].get("model_type", "?")}
print(f"\n{threads} threads on both sides; best of the repeats on both sides")
print(f"{'':14} {'vision s':>9} {'prompt tok/s':>13} {'decode tok/s':>13} {'batch-' + str(batch) + ' tok/s':>13} "
      f"{'images/min':>11}")
rows = []
for w in formats:
    v, l = vl(w), ll(w)
    rows.append((w, v, l))
    print(f"{'llama.cpp ' + w:14} {l['vision']:9.2f} {l['prefill']:13.1f} {l['decode']:13.2f} {'(1 seq)':>13} "
          f"{l['job']:11.2f}")
    print(f"{'vlbatch ' + w:14} {v['vision']:9.2f} {v['prefill']:13.1f} {v['decode']:13.2f} "
          f"{v['batch'] or float('nan'):13.2f} {v['job']:11.2f}")
    print(f"{'  ratio':14} {l['vision'] / v['vision']:8.2f}x {v['prefill'] / l['prefill']:12.2f}x "
          f"{v['decode'] / l['decode']:12.2f}x {(v['batch'] or 0) / l['decode']:12.2f}x {v['job'] / l['job']:10.2f}x")
print("ratios: vlbatch / llama.cpp for rates; llama.cpp / vlbatch for vision seconds (so > 1 means vlbatch is faster);")
print(f"the batch-{batch} column compares vlbatch's {batch} sequences decoded together with llama.cpp's one sequence.")
print(f"prompt tok/s: llama-bench -p {rows[0][1]['prompt']} (text tokens) vs vlbatch's prefill of the same-length prompt "
      "with the image's visual tokens")
print("images/min: llama.cpp = 60 / wall time of one llama-mtmd-cli call (model load, encode, prefill, "
      f"decode); vlbatch = bench model's captioning job ({2 * batch} images, batch {batch})")
print("llama.cpp build " + rows[0][2]["build"] + "; model types: " + ", ".join(f"{w} {l['type']}" for w, _, l in rows))
PY
