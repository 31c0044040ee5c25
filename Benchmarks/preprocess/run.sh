#!/usr/bin/env bash
# Decode + Qwen preprocessing throughput: vlbatch next to Pillow + transformers on the same 12-megapixel JPEGs.
# Usage: Benchmarks/preprocess/run.sh [PYTHON]   (PYTHON: an interpreter with transformers 5.23,
# Pillow and numpy; default .venv-ref/bin/python, see tools/README.md). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-.venv-ref/bin/python}
photos=.build-bench/photos
processor=Samples/Processors/qwen2-vl
max_pixels=1003520   # transformers' class default for Qwen2-VL (1280 visual tokens); 12 MP is reduced to ~1 MP
[ -f "$photos/photo-07.jpg" ] || "$python" Benchmarks/preprocess/make_photos.py "$photos" 8
swift build -c release --product vlbatch >/dev/null
for workers in 1 2; do
    echo "== $workers worker(s), 8 photos of 4000x3000, max_pixels $max_pixels"
    echo "-- vlbatch"
    ours=$(.build/release/vlbatch bench preprocess --processor "$processor" --max-pixels "$max_pixels" \
        --workers "$workers" "$photos"/*.jpg | tee /dev/stderr | awk '/^images\/s/ {print $2}')
    echo "-- Pillow + transformers (Qwen2VLImageProcessorPil)"
    theirs=$("$python" Benchmarks/preprocess/reference.py --processor "$processor" --max-pixels "$max_pixels" \
        --workers "$workers" "$photos"/*.jpg | tee /dev/stderr | awk '/^images\/s/ {print $2}')
    echo "ratio vlbatch / reference: $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')x"
done
