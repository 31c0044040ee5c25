#!/usr/bin/env python3
"""Held-out accuracy of the demo model with transformers (greedy), and its answers on Samples/Demo.

Run from the repository root with the reference venv (see tools/README.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/eval_demo_model.py [--model DIR] [--per-task 100]
    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/eval_demo_model.py --samples Samples/Demo

The first form draws PER-TASK fresh samples of every task from the world with EVAL_SEED (training uses
train_demo_model.TRAIN_SEED) and prints exact-match accuracy per task, plus field accuracy for scene captions
(the share of (count, colour, shape) groups named correctly, divided by the larger of the true and the predicted
number of groups). The second form answers every task for each file in DIR (as listed in DIR/expected.jsonl),
prints the answers beside the expected ones and writes DIR/reference-transformers.jsonl: per file and task, the
exact prompt text, its token ids, the greedy token ids and the answer, the reference for vlbatch's parity test.

The model is loaded from the committed bf16 weights into float32 (exact) and run greedily with
repetition_penalty 1.0, prompts rendered by the checkpoint's chat template with enable_thinking=False, as in
training. This is the development yardstick; the issue's acceptance figures come from vlbatch itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import Qwen3_5ForConditionalGeneration

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_demo_tokenizer  # noqa: E402
from demo_world import CAPTION_PROMPT, COLOURS, KIND_PROMPT, NUMBER_WORDS, SHAPES, Sample, World  # noqa: E402
from train_demo_model import Batcher  # noqa: E402

EVAL_SEED = 2
TASKS = ["scene-caption", "scene-count", "scene-kind", "document-kind", "document-caption", "text-kind"]
GROUP = re.compile(rf"({'|'.join(NUMBER_WORDS)}) ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)})s?")


class Answerer:
    def __init__(self, directory: Path):
        self.batcher = Batcher(directory)
        self.model = Qwen3_5ForConditionalGeneration.from_pretrained(directory, dtype=torch.float32).eval()
        self.im_end = self.batcher.tokenizer.token_to_id("<|im_end|>")

    @torch.no_grad()
    def answer(self, sample: Sample) -> dict:
        """The greedy answer to one sample, with the prompt and tokens behind it."""
        vision = self.batcher.images([sample])
        grid = vision["image_grid_thw"][0] if vision["image_grid_thw"] is not None else None
        prompt = self.batcher.prompt(sample, grid)
        ids = torch.tensor([self.batcher.tokenizer.encode(prompt).ids])
        output = self.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=(ids == self.batcher.image_pad).long(),
            max_new_tokens=32, do_sample=False, repetition_penalty=1.0,
            **{key: value for key, value in vision.items() if value is not None})
        generated = output[0, ids.shape[1]:].tolist()
        text = self.batcher.tokenizer.decode([t for t in generated if t != self.im_end], skip_special_tokens=False)
        return {"prompt": prompt, "prompt_ids": ids[0].tolist(), "generated_ids": generated, "answer": text}


def groups(caption: str) -> set[tuple[int, str, str]]:
    return {(NUMBER_WORDS.index(n), c, s) for n, c, s in GROUP.findall(caption.lower())}


def evaluate(answerer: Answerer, per_task: int) -> None:
    world = World(EVAL_SEED)
    total_started = time.time()
    for task in TASKS:
        started, right, field_score, wrong = time.time(), 0, 0.0, []
        for _ in range(per_task):
            sample = world.sample(task)
            predicted = answerer.answer(sample)["answer"]
            right += predicted == sample.answer
            if task == "scene-caption":
                truth, guess = {tuple(g) for g in sample.facts["groups"]}, groups(predicted)
                field_score += len(truth & guess) / max(len(truth), len(guess))
            if predicted != sample.answer and len(wrong) < 3:
                wrong.append(f"{predicted!r} (expected {sample.answer!r})")
        line = f"{task:17s} exact match {100 * right / per_task:5.1f} %"
        if task == "scene-caption":
            line += f"   field accuracy {100 * field_score / per_task:5.1f} %"
        print(f"{line}   ({per_task} samples, {time.time() - started:.0f} s)", flush=True)
        for example in wrong:
            print("    wrong:", example)
    print(f"total {time.time() - total_started:.0f} s")


def answer_samples(answerer: Answerer, directory: Path) -> None:
    """Every task for each file of Samples/Demo; writes reference-transformers.jsonl."""
    records, right, asked = [], 0, 0
    for line in (directory / "expected.jsonl").read_text().splitlines():
        expected = json.loads(line)
        path = directory / expected["file"]
        if path.suffix == ".txt":
            text = path.read_text(encoding="utf-8").rstrip("\n")
            # Both orders of file and question, since the engine's choice is not fixed yet.
            tasks = [(f"kind-question-{order}", Sample("text", KIND_PROMPT, expected["kind"], "kind", text=text,
                                                       question_first=order == "first"))
                     for order in ["first", "last"]]
        else:
            image = Image.open(path).convert("RGB")
            tasks = [("caption", Sample("image", CAPTION_PROMPT, expected["caption"], "caption", image=image)),
                     ("kind", Sample("image", KIND_PROMPT, expected["kind"], "kind", image=image))]
        for task, sample in tasks:
            result = answerer.answer(sample)
            asked += 1
            right += result["answer"] == sample.answer
            mark = "ok " if result["answer"] == sample.answer else "BAD"
            print(f"{mark} {expected['file']:26s} {task:20s} {result['answer']!r}  (expected {sample.answer!r})")
            records.append({"file": expected["file"], "task": task, "expected": sample.answer, **result})
    with open(directory / "reference-transformers.jsonl", "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{right}/{asked} answers as expected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=train_demo_tokenizer.DEFAULT_OUT)
    parser.add_argument("--per-task", type=int, default=100)
    parser.add_argument("--samples", type=Path, help="answer the files of this Samples/Demo-style folder instead")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    answerer = Answerer(args.model)
    if args.samples:
        answer_samples(answerer, args.samples)
    else:
        evaluate(answerer, args.per_task)


if __name__ == "__main__":
    main()
