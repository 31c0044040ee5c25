#!/usr/bin/env python3
"""The Python reference for the tokenizer benchmark: Hugging Face `tokenizers`, single-threaded encode throughput.

    .venv-ref/bin/python Benchmarks/tokenizer/reference.py --tokenizer Tests/Fixtures/tokenizer/qwen2/tokenizer.json \
        TEXTFILE [--repeats 3] [--chunk-bytes 4096]

Run from the repository root with the reference venv (tokenizers 0.23.3 when last run, Python 3.11.7). Make the
input with Benchmarks/tokenizer/make_text.py.

Chunking rule (the Swift benchmark must do exactly the same to be comparable, including the token count): read the
file as bytes, split it after every "\\n" into lines (each line keeps its "\\n"; a last line without one is kept as
is), then pack consecutive whole lines into chunks of at most --chunk-bytes UTF-8 bytes (default 4096); a line
longer than that is a chunk on its own. --chunk-bytes 0 encodes line by line. Each chunk is encoded with
Tokenizer.encode(chunk, add_special_tokens=False), one after the other on one thread (RAYON_NUM_THREADS=1,
TOKENIZERS_PARALLELISM=false). The timed region is only the encode calls (the chunks are split and decoded to str
beforehand); one untimed warm-up pass runs first, then the best of --repeats passes is reported.

Prints: input bytes, chunk count, total tokens (the sum over chunks), best seconds, MB/s (10^6 bytes of input per
second) and tokens/s.
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def chunks_of(data: bytes, chunk_bytes: int) -> list[bytes]:
    lines = split_lines(data)
    if chunk_bytes <= 0:
        return lines
    out: list[bytes] = []
    current = b""
    for line in lines:
        if current and len(current) + len(line) > chunk_bytes:
            out.append(current)
            current = b""
        current += line
    if current:
        out.append(current)
    return out


def split_lines(data: bytes) -> list[bytes]:
    # Split after "\n" only (bytes.splitlines would also split at "\r").
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", required=True, help="a tokenizer.json")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-bytes", type=int, default=4096)
    parser.add_argument("textfile")
    args = parser.parse_args()
    data = Path(args.textfile).read_bytes()
    chunks = [c.decode("utf-8") for c in chunks_of(data, args.chunk_bytes)]
    assert "".join(chunks).encode("utf-8") == data
    tok = Tokenizer.from_file(args.tokenizer)
    encode = tok.encode
    tokens = sum(len(encode(c, add_special_tokens=False).ids) for c in chunks)  # warm-up, and the token count
    best = None
    for _ in range(args.repeats):
        start = time.perf_counter()
        for c in chunks:
            encode(c, add_special_tokens=False)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"tokenizers {tokenizers.__version__}, {args.tokenizer}")
    print(f"input bytes {len(data)}")
    print(f"chunks {len(chunks)} (at most {args.chunk_bytes} bytes, whole lines)" if args.chunk_bytes > 0
          else f"chunks {len(chunks)} (one per line)")
    print(f"tokens {tokens}")
    print(f"seconds {best:.4f} (best of {args.repeats})")
    print(f"MB/s {len(data) / best / 1e6:.2f}")
    print(f"tokens/s {tokens / best:.0f}")


if __name__ == "__main__":
    main()
