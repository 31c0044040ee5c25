#!/usr/bin/env python3
"""Time transformers' own float32 CPU inference of a Qwen2-VL / Qwen2.5-VL / Qwen3-VL / Qwen3.5 checkpoint on one
image: the baseline vlbatch is compared with.

Run from the repository root with the reference venv (see tools/README.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/bench_transformers_generate.py \
        --model /work/full-size/qwen2-vl-2b-random --image /work/full-size/bench-448x448.png \
        [--prompt "Describe this image."] [--max-new-tokens 32] [--threads N] [--attn sdpa|eager] [--repeat N]

Model types: qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_5 (from the checkpoint's config.json).

Last run with: Python 3.11.7, transformers 5.23.0, torch 2.13.0+cpu, Pillow 13.0.0, numpy 2.4.6.

What it does, all in one process and in this order (no warm-up pass; with --repeat N, steps 3-5 run N times in
turn and the medians are reported, each run listed in "runs"):
1. loads the checkpoint with dtype=torch.float32 (bf16 weights upcast exactly) and the chosen attention
   (default "sdpa", torch's scaled_dot_product_attention; "eager" is the plain matmul-softmax path);
2. preprocesses the image with transformers' PIL backend (Qwen2VLImageProcessorPil, configured from the
   checkpoint's preprocessor_config.json), renders the prompt with the checkpoint's chat template (one user turn,
   the image then the text; Qwen3.5 with enable_thinking=False, vlbatch's default, so the prompt ends with the
   empty think block) and expands <|image_pad|> to t*h*w/4 copies;
3. vision encode: model.model.get_image_features(pixel_values, image_grid_thw), timed alone (Qwen3-VL: including
   the DeepStack mergers, whose outputs travel in the same result object);
4. prefill: the whole prompt (text and visual tokens) through the language model with the precomputed image
   features, timed alone: model(..., mm_encoder_outputs={"image": <get_image_features' result>}), which every
   one of the four 5.23 model classes accepts in place of pixel_values (it scatters pooler_output into the image
   pads; Qwen3-VL also adds the DeepStack features after the first decoder layers; Qwen3.5 runs its Gated DeltaNet
   layers with the chunked delta rule and fills their conv / recurrent states); tokens/s = prompt tokens /
   prefill seconds;
5. decode: greedy (argmax of float32 logits, no repetition penalty, the same as
   generate(do_sample=False, repetition_penalty=1.0)) with the cache (KV, and for Qwen3.5 the DeltaNet states),
   positions prompt_len + step + rope_delta; --max-new-tokens tokens are produced whatever they are (EOS does not
   stop the loop, so the count is fixed); tokens/s = (max_new_tokens - 1) / the time of those decode steps (the
   first new token comes from the prefill);
6. peak RSS: getrusage(RUSAGE_SELF).ru_maxrss (the whole process: weights, activations, caches); and the bytes
   the cache holds after the last decode step (keys/values, and for Qwen3.5 conv + recurrent states).

Output: one JSON line (machine-readable), then one readable line. torch's thread count defaults to torch's own
default (the number of cores); --threads sets torch.set_num_threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import PIL
import torch
import transformers
from PIL import Image
from transformers import (
    AutoConfig,
    AutoTokenizer,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLForConditionalGeneration,
    Qwen3_5ForConditionalGeneration,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

MODEL_CLASSES = {
    "qwen2_vl": Qwen2VLForConditionalGeneration,
    "qwen2_5_vl": Qwen2_5_VLForConditionalGeneration,
    "qwen3_vl": Qwen3VLForConditionalGeneration,
    "qwen3_5": Qwen3_5ForConditionalGeneration,
}
# apply_chat_template arguments: Qwen3.5's template thinks unless told not to; vlbatch renders with thinking off
TEMPLATE_KWARGS = {"qwen3_5": {"enable_thinking": False}}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def cache_bytes(cache) -> dict:
    """Bytes held by a 5.23 cache: attention keys/values, and linear-attention conv / recurrent states."""
    sizes = {"kv": 0, "conv": 0, "recurrent": 0}
    for layer in cache.layers:
        for name in ("keys", "values"):
            t = getattr(layer, name, None)
            if isinstance(t, torch.Tensor):
                sizes["kv"] += t.numel() * t.element_size()
        for name, key in (("conv_states", "conv"), ("recurrent_states", "recurrent")):
            for t in (getattr(layer, name, None) or {}).values():
                if isinstance(t, torch.Tensor):
                    sizes[key] += t.numel() * t.element_size()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--image", required=True, type=Path)
    parser.add_argument("--prompt", default="Describe this image.")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time vision, prefill and decode this many times in turn; report the medians")
    args = parser.parse_args()
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        sys.exit("set HF_HUB_OFFLINE=1")
    if args.max_new_tokens < 2:
        sys.exit("--max-new-tokens must be at least 2")
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    config = AutoConfig.from_pretrained(args.model)
    model_class = MODEL_CLASSES[config.model_type]
    model = model_class.from_pretrained(args.model, dtype=torch.float32, attn_implementation=args.attn).eval()
    load_s = time.perf_counter() - t0
    rss_after_load = rss_mib()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    preprocessor = json.loads((args.model / "preprocessor_config.json").read_text())
    image_processor = Qwen2VLImageProcessorPil.from_dict(preprocessor)
    image = Image.open(args.image).convert("RGB")
    t = time.perf_counter()
    vision_inputs = image_processor([image], return_tensors="pt")
    preprocess_s = time.perf_counter() - t
    pixel_values, grid = vision_inputs["pixel_values"], vision_inputs["image_grid_thw"]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": args.prompt}]}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         **TEMPLATE_KWARGS.get(config.model_type, {}))
    merge = image_processor.merge_size
    text = text.replace("<|image_pad|>", "<|image_pad|>" * (int(grid[0].prod()) // (merge * merge)))
    input_ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    mm_token_type_ids = (input_ids == config.image_token_id).to(torch.int64)
    prompt_tokens = input_ids.shape[1]
    visual_tokens = int(mm_token_type_ids.sum())

    runs = []
    with torch.inference_mode():
        position_ids, rope_deltas = model.model.get_rope_index(
            input_ids, mm_token_type_ids=mm_token_type_ids, image_grid_thw=grid)
        rope_delta = int(rope_deltas.reshape(-1)[0])
        for _ in range(args.repeat):
            t = time.perf_counter()
            vision = model.model.get_image_features(pixel_values, grid, return_dict=True)
            vision_s = time.perf_counter() - t

            t = time.perf_counter()
            out = model(input_ids=input_ids, position_ids=position_ids, mm_token_type_ids=mm_token_type_ids,
                        image_grid_thw=grid, mm_encoder_outputs={"image": vision}, use_cache=True, logits_to_keep=1)
            prefill_s = time.perf_counter() - t

            tokens = [int(out.logits[0, -1].argmax())]
            cache = out.past_key_values
            t = time.perf_counter()
            for step in range(1, args.max_new_tokens):
                pos = torch.full((3, 1, 1), prompt_tokens + step - 1 + rope_delta, dtype=torch.long)
                out = model(input_ids=torch.tensor([[tokens[-1]]]), position_ids=pos, past_key_values=cache,
                            use_cache=True)
                cache = out.past_key_values
                tokens.append(int(out.logits[0, -1].argmax()))
            decode_s = time.perf_counter() - t
            held = cache_bytes(cache)
            del cache, out
            runs.append({"vision_encode_s": round(vision_s, 3), "prefill_s": round(prefill_s, 3),
                         "decode_s": round(decode_s, 3), "generated_ids": tokens})
        assert all(r["generated_ids"] == runs[0]["generated_ids"] for r in runs)
    vision_s = statistics.median(r["vision_encode_s"] for r in runs)
    prefill_s = statistics.median(r["prefill_s"] for r in runs)
    decode_s = statistics.median(r["decode_s"] for r in runs)

    result = {
        "model": str(args.model),
        "model_type": config.model_type,
        "parameters": sum(p.numel() for p in model.parameters()),
        "image": str(args.image),
        "image_size": [image.width, image.height],
        "image_grid_thw": grid[0].tolist(),
        "prompt_tokens": prompt_tokens,
        "visual_tokens": visual_tokens,
        "new_tokens": len(tokens),
        "dtype": "float32",
        "attn_implementation": args.attn,
        "threads": torch.get_num_threads(),
        "load_s": round(load_s, 3),
        "preprocess_s": round(preprocess_s, 4),
        "vision_encode_s": round(vision_s, 3),
        "prefill_s": round(prefill_s, 3),
        "prefill_tokens_per_s": round(prompt_tokens / prefill_s, 2),
        "decode_s": round(decode_s, 3),
        "decode_tokens_per_s": round((len(tokens) - 1) / decode_s, 3),
        "rss_after_load_mib": round(rss_after_load),
        "peak_rss_mib": round(rss_mib()),
        "cache_bytes_after_decode": held,
        "repeat": args.repeat,
        "runs": [{k: v for k, v in r.items() if k != "generated_ids"} for r in runs],
        "generated_ids": tokens,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "pillow": PIL.__version__, "numpy": np.__version__},
    }
    print(json.dumps(result))
    print(f"{args.model.name} fp32 {args.attn} threads={result['threads']} (median of {args.repeat}): "
          f"image {image.width}x{image.height} -> "
          f"{visual_tokens} visual tokens, prompt {prompt_tokens} tokens | vision encode {vision_s:.2f} s | "
          f"prefill {prefill_s:.2f} s = {result['prefill_tokens_per_s']:.1f} tok/s | decode "
          f"{len(tokens) - 1} tokens in {decode_s:.2f} s = {result['decode_tokens_per_s']:.2f} tok/s | "
          f"peak RSS {result['peak_rss_mib'] / 1024:.2f} GiB (after load {rss_after_load / 1024:.2f} GiB)")


if __name__ == "__main__":
    main()
