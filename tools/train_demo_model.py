#!/usr/bin/env python3
"""Train vlbatch's demo model: a tiny genuine Qwen3.5 vision-language checkpoint for the demo world (seeded).

Run from the repository root with the reference venv (see tools/README.md):

    HF_HUB_OFFLINE=1 nice -n 10 .venv-ref/bin/python tools/train_demo_model.py [--steps 3000] [--out DIR]

Writes a complete Hugging Face checkpoint directory (default Samples/Models/vlbatch-demo-qwen3.5/): config.json
(model_type qwen3_5, architectures Qwen3_5ForConditionalGeneration), model.safetensors (bf16, Hub tensor names),
generation_config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja.
The model is transformers' own Qwen3_5ForConditionalGeneration built from a small config that keeps every
architectural feature of the family: Gated DeltaNet layers and gated full-attention layers in the real 3:1
pattern, zero-centred RMSNorm, partial interleaved M-RoPE (rotary quarter of the head, sections in the real
proportions), the vision tower with learned interpolated position embeddings, 2D RoPE, 16-pixel patches, 2x2
merging and no DeepStack, tied embeddings, and the Qwen3.5 special tokens (see tools/train_demo_tokenizer.py).

Training: teacher forcing on the answer tokens and the closing <|im_end|> only, samples drawn on the fly from
tools/demo_world.py (seed TRAIN_SEED; nothing is stored), prompts rendered with the checkpoint's chat template and
enable_thinking=False, images through transformers' Qwen2VLImageProcessorPil with the checkpoint's small pixel
budget. AdamW with warm-up and cosine decay, float32 on the CPU; the weights are saved in bfloat16, as the
official checkpoints are, and tools/eval_demo_model.py measures that bf16 checkpoint.

A checkpoint is written every --save-every steps, so an interrupted run leaves a usable model. Runtime and the loss
curve are printed; the figures of the committed model are in tools/README.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import AutoTokenizer, Qwen3_5Config, Qwen3_5ForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_demo_tokenizer  # noqa: E402
from demo_world import World  # noqa: E402

TRAIN_SEED = 1
TORCH_SEED = 1234

# The form of Samples/Processors/qwen3.5/preprocessor_config.json (Qwen3.5's), with a pixel budget of 4 to 16
# visual tokens (64x64 to 128x128 pixels): the world's pictures are small, and CPU runs stay quick.
PREPROCESSOR = {
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "Qwen2VLImageProcessorFast",
    "image_std": [0.5, 0.5, 0.5],
    "merge_size": 2,
    "patch_size": 16,
    "processor_class": "Qwen3VLProcessor",
    "size": {"longest_edge": 16384, "shortest_edge": 4096},
    "temporal_patch_size": 2,
}


def model_config(tokenizer: Tokenizer) -> Qwen3_5Config:
    """Qwen3.5-0.8B's config (qwen-architecture.md §7.3) scaled down; comments give the real values."""
    ids = {name: tokenizer.token_to_id(name) for name in
           ["<|endoftext|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"]}
    vocab = 64 * math.ceil(tokenizer.get_vocab_size() / 64)  # padded like the real 248320
    text = {
        "model_type": "qwen3_5_text",
        "vocab_size": vocab,
        "hidden_size": 128,  # 1024
        "intermediate_size": 384,  # 3584
        "num_hidden_layers": 4,  # 24; layers 0-2 linear_attention, 3 full_attention (interval 4, as real)
        "full_attention_interval": 4,
        "num_attention_heads": 4,  # 8
        "num_key_value_heads": 2,  # 2
        "head_dim": 64,  # 256
        "linear_num_key_heads": 4,  # 16
        "linear_num_value_heads": 4,  # 16
        "linear_key_head_dim": 32,  # 128
        "linear_value_head_dim": 32,  # 128
        "linear_conv_kernel_dim": 4,  # 4
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096,  # 262144
        # A quarter of the 64-wide head rotates: 16 dims, 8 frequencies split T/H/W 3/3/2 (real: 11/11/10 of 32).
        "rope_parameters": {"rope_type": "default", "rope_theta": 10_000_000.0, "partial_rotary_factor": 0.25,
                            "mrope_section": [3, 3, 2], "mrope_interleaved": True},
        "attention_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision = {
        "model_type": "qwen3_5_vision",
        "depth": 2,  # 12
        "hidden_size": 96,  # 768
        "intermediate_size": 384,  # 3072
        "num_heads": 3,  # 12 (head dim 32; real 64)
        "hidden_act": "gelu_pytorch_tanh",
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "in_channels": 3,
        "out_hidden_size": 128,  # the text width
        "num_position_embeddings": 64,  # 2304 (48x48); 8x8 covers the 128-pixel side at 16 pixels a patch
        "deepstack_visual_indexes": [],
    }
    return Qwen3_5Config(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


class Batcher:
    """Turns world samples into model inputs exactly as inference will see them."""

    def __init__(self, directory: Path):
        self.chat = AutoTokenizer.from_pretrained(directory)  # renders chat_template.jinja
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.processor = Qwen2VLImageProcessorPil.from_dict(PREPROCESSOR)
        self.pad = self.tokenizer.token_to_id("<|endoftext|>")
        self.image_pad = self.tokenizer.token_to_id("<|image_pad|>")

    def prompt(self, sample, grid: torch.Tensor | None) -> str:
        """The rendered prompt, each <|image_pad|> expanded to the image's token count (t*h*w / merge²)."""
        text = self.chat.apply_chat_template(
            sample.messages(), tokenize=False, add_generation_prompt=True, enable_thinking=False)
        if grid is not None:
            text = text.replace("<|image_pad|>", "<|image_pad|>" * (int(grid.prod()) // 4))
        return text

    def images(self, samples) -> dict:
        images = [s.image for s in samples if s.image is not None]
        if not images:
            return {"pixel_values": None, "image_grid_thw": None}
        out = self.processor(images, return_tensors="pt")
        return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}

    def batch(self, samples) -> dict:
        vision = self.images(samples)
        grids = iter(vision["image_grid_thw"]) if vision["image_grid_thw"] is not None else iter(())
        rows = []
        for sample in samples:
            prompt = self.prompt(sample, next(grids) if sample.image is not None else None)
            prompt_ids = self.tokenizer.encode(prompt).ids
            ids = self.tokenizer.encode(prompt + sample.answer + "<|im_end|>").ids
            # The answer must tokenize the same inside the sequence as after the prompt alone, or the labels
            # would teach a split the model never sees at inference.
            assert ids[: len(prompt_ids)] == prompt_ids, prompt
            rows.append((ids, len(prompt_ids)))
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (ids, answer_start) in enumerate(rows):  # right padding: causal layers never see the pads
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, answer_start: len(ids)] = torch.tensor(ids[answer_start:])
            mask[i, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels,
                "mm_token_type_ids": (input_ids == self.image_pad).long(), **vision}


class Batches(torch.utils.data.IterableDataset):
    """The endless, seeded stream of training steps, built in a worker process while the model trains.

    Each step's samples go into two micro-batches, pictures and text files, so that the short picture prompts
    (about 45 tokens) are not padded to the length of the text files (up to about 130): half the compute.
    """

    def __init__(self, directory: Path, batch_size: int):
        self.directory, self.batch_size = directory, batch_size

    def __iter__(self):
        batcher = Batcher(self.directory)
        world = World(TRAIN_SEED)
        while True:
            samples = [world.sample() for _ in range(self.batch_size)]
            groups = [[s for s in samples if s.image is not None], [s for s in samples if s.image is None]]
            yield [batcher.batch(group) for group in groups if group]


def save(model, directory: Path, tokenizer: Tokenizer) -> None:
    """Writes the checkpoint: bf16 safetensors, config, generation and preprocessor configs."""
    # A bf16 copy: casting the model itself would round the float32 weights that training goes on with.
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(directory, safe_serialization=True)
    eos = [tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")]
    generation = {"bos_token_id": eos[1], "do_sample": False, "eos_token_id": eos, "pad_token_id": eos[1]}
    (directory / "generation_config.json").write_text(json.dumps(generation, indent=2, sort_keys=True) + "\n")
    (directory / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2, sort_keys=True) + "\n")


def optimizer_for(model, lr: float) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only."""
    # No weight decay on norms, biases and the DeltaNet decay parameters (A_log, dt_bias): they are not weights.
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.98))


def train(model, steps, optimizer, args, stop: int, checkpoint) -> float:
    """Runs steps 0 ..< stop of a schedule of args.steps steps (linear warm-up over args.warmup, then cosine down to
    5 % of args.lr), logging every args.log_every steps and calling checkpoint() every args.save_every steps and
    after the last one. Returns the time training started."""

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    train_started = time.time()
    window: list[float] = []
    for step in range(stop):
        micro = next(steps)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        # The mean over all answer tokens of the step, whatever micro-batch they fell into.
        tokens = sum(int((batch["labels"] != -100).sum()) for batch in micro)
        total = 0.0
        for batch in micro:
            count = int((batch["labels"] != -100).sum())
            loss = model(**batch).loss * (count / tokens)
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window.append(total)
        if (step + 1) % args.log_every == 0:
            elapsed = time.time() - train_started
            print(f"step {step + 1:5d}  loss {sum(window) / len(window):.4f}  lr {lr_at(step):.2e}  "
                  f"{elapsed / (step + 1):.3f} s/step  {elapsed / 60:.1f} min", flush=True)
            window.clear()
        if (step + 1) % args.save_every == 0 or step + 1 == stop:
            checkpoint()
    return train_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=train_demo_tokenizer.DEFAULT_OUT)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--save-every", type=int, default=1000)
    parser.add_argument("--log-every", type=int, default=100)
    # One thread: on two shared cores it ran twice as fast as two (1.1 against 2.5 s a step), and float sums
    # depend on the thread count, so the same count reproduces the same weights.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(TORCH_SEED)
    started = time.time()
    tokenizer = train_demo_tokenizer.build(args.out)
    config = model_config(tokenizer)
    model = Qwen3_5ForConditionalGeneration(config)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    visual = sum(p.numel() for p in model.model.visual.parameters())
    print(f"parameters: {params:,} ({visual:,} vision); layer types {config.text_config.layer_types}", flush=True)

    # One worker: the stream stays in one seeded order, and it overlaps with the model's two threads.
    steps = iter(torch.utils.data.DataLoader(
        Batches(args.out, args.batch_size), batch_size=None, num_workers=1, prefetch_factor=8))
    optimizer = optimizer_for(model, args.lr)
    print(f"setup {time.time() - started:.1f} s", flush=True)
    train_started = train(model, steps, optimizer, args, args.steps, lambda: save(model, args.out, tokenizer))
    print(f"trained {args.steps} steps in {(time.time() - train_started) / 60:.1f} min "
          f"(total {(time.time() - started) / 60:.1f} min); checkpoint in {args.out}", flush=True)


if __name__ == "__main__":
    main()
