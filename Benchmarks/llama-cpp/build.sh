#!/usr/bin/env bash
# Builds llama.cpp (as vendored in the llama-cpp-python source package on PyPI) for the side-by-side benchmark and
# converts a Hugging Face Qwen-VL checkpoint to GGUF: text model in bf16, Q8_0 and Q4_0, plus the vision projector.
# Nothing of it goes into the repository: sources, build tree and GGUF files live under WORK (default /work/llama.cpp-src).
# Usage: Benchmarks/llama-cpp/build.sh MODEL_DIR [WORK]
#   needs: cmake and a C++ compiler (apt-get install -y cmake), python3 with venv, network access to PyPI only.
#   LLAMA_VENV (default /work/llama-venv): a venv made for pip; CONVERT_PYTHON: see step 3.
#   LLAMA_CPP_PYTHON_VERSION (default 0.3.36) picks the sdist; JOBS (default nproc) the build parallelism.
# Writes WORK/gguf/NAME/{text-bf16,text-q8_0,text-q4_0,mmproj-f16}.gguf and WORK/VERSION (llama.cpp commit).
set -euo pipefail
model=$(cd "${1:?usage: $0 MODEL_DIR [WORK]}" && pwd)
work=${2:-/work/llama.cpp-src}
version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
jobs=${JOBS:-$(nproc)}
venv=${LLAMA_VENV:-/work/llama-venv}
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
cd "$work"

command -v cmake >/dev/null || { echo "cmake missing: apt-get install -y cmake" >&2; exit 1; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py=$venv/bin/python

# 1. sources: llama-cpp-python's sdist carries the whole llama.cpp tree in vendor/llama.cpp
src=$work/llama_cpp_python-$version/vendor/llama.cpp
if [ ! -f "$src/CMakeLists.txt" ]; then
    "$py" -m pip download --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$work"
    tar xzf "llama_cpp_python-$version.tar.gz"
fi
commit=$(sed -n 's/.*update llama.cpp to ggml-org\/llama.cpp@\([0-9a-f]*\).*/\1/ip' \
    "$work/llama_cpp_python-$version/CHANGELOG.md" | head -1)
echo "llama-cpp-python $version, llama.cpp ${commit:-unknown commit} (from its CHANGELOG)" | tee "$work/VERSION"

# 2. build only what the benchmark runs: Release, tuned for this CPU (GGML_NATIVE), no curl/openssl/server
build=$work/build
if [ ! -x "$build/bin/llama-bench" ] || [ ! -x "$build/bin/llama-mtmd-cli" ] || [ ! -x "$build/bin/llama-quantize" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
        -DBUILD_SHARED_LIBS=OFF >"$work/cmake-configure.log"
    cmake --build "$build" --config Release -j "$jobs" --target llama-bench llama-mtmd-cli llama-quantize
fi

# 3. convert with the same tree's convert_hf_to_gguf.py and gguf-py. It needs torch and transformers: taken from
#    CONVERT_PYTHON (default: the repository's reference venv .venv-ref, see tools/README.md), plus a few small
#    packages it lacks (pyyaml, tqdm, requests, sentencepiece) pip-installed into $venv/convert-extra.
convert_python=${CONVERT_PYTHON:-$repo/.venv-ref/bin/python}
extra=$venv/convert-extra
[ -d "$extra/yaml" ] || "$py" -m pip install --quiet --target "$extra" pyyaml tqdm requests sentencepiece
name=$(basename "$model")
out=$work/gguf/$name
mkdir -p "$out"
export PYTHONPATH=$src/gguf-py:$extra
# A config that announces multi-token-prediction layers without any mtp.* tensor in the files (the random full-size
# Qwen3.5 of tools/make_qwen_vl_fixtures.py) would make llama.cpp expect an extra block: convert without them.
convert_args=()
if "$convert_python" - "$model" <<'PY'; then convert_args+=(--no-mtp); fi
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
config = json.loads((root / "config.json").read_text())
announced = config.get("text_config", config).get("mtp_num_hidden_layers", 0)
index = root / "model.safetensors.index.json"
names = json.loads(index.read_text())["weight_map"] if index.exists() else {}
sys.exit(0 if announced and index.exists() and not any(n.startswith(("mtp.", "model.mtp.")) for n in names) else 1)
PY
[ -f "$out/text-bf16.gguf" ] || "$convert_python" "$src/convert_hf_to_gguf.py" "$model" --outtype bf16 \
    "${convert_args[@]}" --outfile "$out/text-bf16.gguf"
[ -f "$out/mmproj-f16.gguf" ] || "$convert_python" "$src/convert_hf_to_gguf.py" "$model" --mmproj --outtype f16 \
    --outfile "$out/mmproj-f16.gguf"
[ -f "$out/text-q8_0.gguf" ] || "$build/bin/llama-quantize" "$out/text-bf16.gguf" "$out/text-q8_0.gguf" Q8_0 "$jobs"
[ -f "$out/text-q4_0.gguf" ] || "$build/bin/llama-quantize" "$out/text-bf16.gguf" "$out/text-q4_0.gguf" Q4_0 "$jobs"
ls -l "$out"
