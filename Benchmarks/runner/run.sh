#!/usr/bin/env bash
# The runner's own overhead: `vlbatch run` over 10,000 small files with the built-in echo engine, which answers at
# once, so items/s measures walking, reading, scheduling, JSON and writing: everything but the model.
# Usage: Benchmarks/runner/run.sh [FILES] [WORKERS]   (release build; not run by CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
files=${1:-10000}
workers=${2:-2}
swift build -c release --product vlbatch >/dev/null
binary=$(swift build -c release --show-bin-path)/vlbatch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Tiny PNG headers in 100 folders: what the echo engine reads is the IHDR chunk.
python3 - "$work/in" "$files" <<'PY'
import os, struct, sys
root, count = sys.argv[1], int(sys.argv[2])
for index in range(count):
    folder = os.path.join(root, f"{index % 100:02d}")
    os.makedirs(folder, exist_ok=True)
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 64 + index % 500, 48) + b"\x08\x02\x00\x00\x00"
    with open(os.path.join(folder, f"image-{index}.png"), "wb") as file:
        file.write(header)
PY

# Prints the wall time of the whole command (walk, output checks, run) and the runner's own summary line.
run() {
    local start summary
    start=$EPOCHREALTIME
    summary=$("$binary" run caption-images "$work/in" --model builtin:echo --workers "$workers" "$@" 2>&1 >/dev/null \
        | tail -1)
    python3 -c 'import sys; f, s = int(sys.argv[1]), float(sys.argv[2]); print(f"  whole command: {f} files in {s:.2f} s, {f / s:,.0f} files/s")' \
        "$files" "$(python3 -c "print($EPOCHREALTIME - $start)")"
    echo "  runner: ${summary#*; }"
}

echo "to a JSONL file, $workers workers:"
run --output "$work/out.jsonl"
lines=$(wc -l <"$work/out.jsonl")
[ "$lines" -eq "$files" ] || { echo "expected $files records, found $lines" >&2; exit 1; }
echo "resume with everything done (reads and checks the output, skips all):"
run --output "$work/out.jsonl"
echo "to standard output:"
run
