#!/usr/bin/env python3
"""Held-out accuracy of the demo model run through vlbatch itself (issue 8's acceptance), not through PyTorch.

Run from the repository root with the reference venv (see tools/README.md; only numpy and Pillow are needed):

    .venv-ref/bin/python tools/eval_demo_vlbatch.py [--model DIR] [--scenes 300] [--documents 200] [--texts 200]

Draws fresh files from the demo world (tools/demo_world.py) with EVAL_SEED, which neither training
(train_demo_model.TRAIN_SEED), eval_demo_model.py (its EVAL_SEED), the tokenizer corpus nor Samples/Demo (8008)
use, into a temporary folder laid out like Samples/Demo (scenes/, documents/, texts/), then runs the release
`vlbatch` with the built-in pipelines exactly as tools/demo.sh does:

    vlbatch run caption-images TMP/scenes TMP/documents
    vlbatch run classify-documents TMP/documents TMP/texts

and compares the JSONL answers with the world's: caption exact match (scenes and document images apart, with the
scene captions' field accuracy: the share of (count, colour, shape) groups named correctly, divided by the larger of
the true and the predicted number of groups), document-image kind and text-file kind. Every failure is printed.

Without --model, vlbatch uses the bundled demo model (Samples/Models/vlbatch-demo-qwen3.5), as the README's main
command does; --model DIR evaluates another checkpoint directory. The exit status is 1 when a figure is below the
issue's thresholds (scene caption exact match < 95 %, document-image or text-file kind < 98 %), 2 when vlbatch fails.
vlbatch is built with `swift build -c release --product vlbatch` first unless --vlbatch names a binary.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_world import COLOURS, KINDS, NUMBER_WORDS, SHAPES, TEXT_KINDS, World  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVAL_SEED = 9009
CAPTION_THRESHOLD = 95.0
KIND_THRESHOLD = 98.0
GROUP = re.compile(rf"({'|'.join(NUMBER_WORDS)}) ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)})s?")


def groups(caption: str) -> set[tuple[int, str, str]]:
    return {(NUMBER_WORDS.index(n), c, s) for n, c, s in GROUP.findall(caption.lower())}


def write_world(out: Path, seed: int, scenes: int, documents: int, texts: int) -> dict[str, dict]:
    """The held-out files under OUT and, per file name, the expected answers (as in Samples/Demo/expected.jsonl)."""
    world = World(seed)
    expected: dict[str, dict] = {}
    for folder in ["scenes", "documents", "texts"]:
        (out / folder).mkdir(parents=True)
    for i in range(scenes):
        sample = world.scene("caption")
        name = f"scene-{i + 1:03d}.png"
        sample.image.save(out / "scenes" / name)
        expected[name] = {"caption": sample.answer, "kind": "other", "groups": sample.facts["groups"]}
    for i in range(documents):
        kind = KINDS[i % len(KINDS)]  # balanced; the model never sees the file name
        sample = world.document_image("kind", kind)
        name = f"document-{i + 1:03d}.png"
        sample.image.save(out / "documents" / name)
        expected[name] = {"caption": f"{'An' if kind[0] in 'aeiou' else 'A'} {kind}.", "kind": kind}
    for i in range(texts):
        kind = TEXT_KINDS[i % len(TEXT_KINDS)]
        sample = world.text_file(kind)
        name = f"text-{i + 1:03d}.txt"
        (out / "texts" / name).write_text(sample.text + "\n", encoding="utf-8")
        expected[name] = {"kind": kind}
    return expected


def vlbatch_binary(given: Path | None) -> Path:
    if given is not None:
        return given
    subprocess.run(["swift", "build", "-c", "release", "--product", "vlbatch"], cwd=ROOT, check=True,
                   stdout=sys.stderr)
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    return Path(bin_path) / "vlbatch"


def run(vlbatch: Path, pipeline: str, inputs: list[Path], model: Path | None, threads: int | None) -> list[dict]:
    inputs = [folder for folder in inputs if any(folder.iterdir())]  # --scenes 0 and the like
    if not inputs:
        return []
    command = [str(vlbatch), "run", pipeline, *map(str, inputs), "--quiet"]
    if model is not None:
        command += ["--model", str(model)]
    if threads is not None:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        print(f"vlbatch failed (exit {result.returncode}): {' '.join(command)}", file=sys.stderr)
        sys.exit(2)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


class Tally:
    def __init__(self, name: str):
        self.name, self.right, self.total, self.failures = name, 0, 0, []

    def add(self, file: str, got, expected) -> None:
        self.total += 1
        if got == expected:
            self.right += 1
        else:
            self.failures.append(f"{file}: {got!r} (expected {expected!r})")

    @property
    def percent(self) -> float:
        return 100.0 * self.right / max(1, self.total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="checkpoint directory (default: vlbatch's bundled demo model)")
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--threads", type=int, help="vlbatch's --threads (default: its own, one per core)")
    parser.add_argument("--vlbatch", type=Path, help="a vlbatch binary to use instead of building the release one")
    parser.add_argument("--keep", type=Path, help="write the held-out files here (must not exist) and keep them")
    args = parser.parse_args()

    vlbatch = vlbatch_binary(args.vlbatch)
    model = args.model.resolve() if args.model is not None else None
    with tempfile.TemporaryDirectory(prefix="vlbatch-demo-eval-") as scratch:
        folder = args.keep if args.keep is not None else Path(scratch) / "world"
        started = time.time()
        expected = write_world(folder, args.seed, args.scenes, args.documents, args.texts)
        generated = time.time() - started
        started = time.time()
        captions = run(vlbatch, "caption-images", [folder / "scenes", folder / "documents"], model, args.threads)
        kinds = run(vlbatch, "classify-documents", [folder / "documents", folder / "texts"], model, args.threads)
        elapsed = time.time() - started

    scene_caption, document_caption = Tally("scene caption"), Tally("document caption")
    document_kind, text_kind = Tally("document-image kind"), Tally("text-file kind")
    field_score, model_names = 0.0, set()
    for record in captions + kinds:
        model_names.add(record.get("model"))
        file = Path(record["id"]).name
        truth = expected[file]
        if "error" in record:
            got = f"error: {record['error']}"
        else:
            got = record.get("text") if record["pipeline"] == "caption-images" else record.get("label")
        if record["pipeline"] == "caption-images":
            tally = scene_caption if file.startswith("scene-") else document_caption
            tally.add(file, got, truth["caption"])
            if tally is scene_caption:
                right, guess = {tuple(g) for g in truth["groups"]}, groups(got or "")
                field_score += len(right & guess) / max(len(right), len(guess))
        else:
            (text_kind if file.endswith(".txt") else document_kind).add(file, got, truth["kind"])

    tallies = [scene_caption, document_caption, document_kind, text_kind]
    expected_counts = [args.scenes, args.documents, args.documents, args.texts]
    print(f"model: {', '.join(sorted(map(str, model_names)))}")
    print(f"held-out world: seed {args.seed}, {args.scenes} scenes, {args.documents} document images, "
          f"{args.texts} text files ({generated:.0f} s to draw); vlbatch {elapsed:.1f} s for both pipelines")
    for tally in tallies:
        line = f"{tally.name:20s} {tally.percent:6.1f} %  ({tally.right}/{tally.total})"
        if tally is scene_caption:
            line += f"   field accuracy {100 * field_score / max(1, tally.total):.1f} %"
        print(line)
    all_captions = scene_caption.right + document_caption.right
    print(f"{'all captions':20s} {100 * all_captions / max(1, scene_caption.total + document_caption.total):6.1f} %  "
          f"({all_captions}/{scene_caption.total + document_caption.total})")
    for tally in tallies:
        if tally.failures:
            print(f"\n{tally.name} failures ({len(tally.failures)}):")
            for failure in tally.failures:
                print("   ", failure)

    problems = [f"{t.name}: {t.total} records for {n} files" for t, n in zip(tallies, expected_counts) if t.total != n]
    if scene_caption.percent < CAPTION_THRESHOLD:
        problems.append(f"scene caption exact match {scene_caption.percent:.1f} % < {CAPTION_THRESHOLD:.0f} %")
    for tally in [document_kind, text_kind]:
        if tally.percent < KIND_THRESHOLD:
            problems.append(f"{tally.name} {tally.percent:.1f} % < {KIND_THRESHOLD:.0f} %")
    print()
    if problems:
        print("BELOW issue 8's thresholds: " + "; ".join(problems))
        sys.exit(1)
    print(f"meets issue 8's thresholds (scene captions >= {CAPTION_THRESHOLD:.0f} %, kinds >= {KIND_THRESHOLD:.0f} %)")


if __name__ == "__main__":
    main()
