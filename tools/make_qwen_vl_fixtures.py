#!/usr/bin/env python3
"""Tiny Qwen-VL checkpoints with transformers goldens (issues 5 and 7), and full-size random-weight checkpoints.

Run from the repository root with the reference venv (see tools/README.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_qwen_vl_fixtures.py
    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_qwen_vl_fixtures.py --full-size qwen2_vl \
        --out /work/full-size/qwen2-vl-2b-random          # not committed; 4.4 GB, 5 GB RAM, under a minute
    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_qwen_vl_fixtures.py --full-size qwen3_5 \
        --out /work/full-size/qwen3.5-2b-random          # not committed; 4.4 GB, 5.2 GB RAM, about 80 s

Last run with: Python 3.11.7, transformers 5.23.0, torch 2.13.0+cpu, tokenizers 0.23.3, safetensors 0.8.0,
Pillow 13.0.0, numpy 2.4.6. Seeded and deterministic (torch runs on one thread): a second run with the same
versions rewrites byte-identical files (the script first deletes everything in Tests/Fixtures/models/ but
README.md).

Default mode: writes Tests/Fixtures/models/ (about 5.6 MB, in about 7 s); Tests/Fixtures/models/README.md says
what each file holds and the conventions. Four tiny models: qwen2-vl-tiny and qwen2.5-vl-tiny (issue 5; patch 14,
CLIP mean/std) and qwen3-vl-tiny and qwen3.5-tiny (issue 7; patch 16, mean/std 0.5, their own images and pixel
inputs). Adding a model appends to TINY_MODELS (seed SEED + 100 * index), so earlier models stay byte-identical.

* images/*.png -- three seeded synthetic RGB images (gradients, flat and outlined shapes, lines, +-24 noise), named
  by width x height: windows-168x140.png (sides multiples of 28 and exactly at the pixel budget, so not resized:
  patch grid h x w = 10 x 12, merged 5 x 6, i.e. 2 x 2 Qwen2.5-VL attention windows of 16, 8, 4 and 2 merged
  tokens), budget-210x150.png (above the budget: smart_resize's max_pixels branch takes it to 168 x 112, grid
  8 x 12, merged 4 x 6; 210 / 28 = 7.5 rounds to 8 on the way; a merged height of 4 makes transformers pad a
  whole empty row of windows) and odd-84x140.png (grid 10 x 6, merged 5 x 3: odd in both directions). Patch 16
  (factor 32, 4096 .. 30720 = 32*32*30 pixels): exact-192x160.png (at the budget, not resized: grid 10 x 12,
  merged 5 x 6), budget-240x114.png (max_pixels branch: 224 x 96, grid 6 x 14, merged 3 x 7; 240 / 32 = 7.5 rounds
  to 8 on the way) and odd-96x160.png (grid 10 x 6, merged 5 x 3). No patch-16 grid has a side of 8, so the 8 x 8
  position-embedding table of the Qwen3 tiny models is interpolated along both axes for every image.
* inputs/<case>/pixel_values_u8.npy, inputs/normalize_lut.npy -- the pixel values, shared by both models (their
  image processors are configured identically; asserted). Stored as the uint8 levels [N, 1176] in pixel_values'
  row and column order plus the float32 [3, 256] normalisation table: transformers' float32 pixel_values are
  exactly lut[j // 392, u8[i, j]] (asserted bit for bit). Two float32 copies would have cost 2.6 MB of the 3 MB.
  inputs/patch16/ holds the same for the Qwen3 models ([N, 1536], lut[j // 512, ...], mean/std 0.5).
* qwen2-vl-tiny/, qwen2.5-vl-tiny/ -- Hub-style checkpoint directories of transformers' own
  Qwen2VLForConditionalGeneration (qwen2_vl) and Qwen2_5_VLForConditionalGeneration (qwen2_5_vl), built from
  the tiny configs below (qwen2_vl_tiny_config, qwen2_5_vl_tiny_config), weights re-randomised (seeded: matrices
  ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), norm weights ~ 1 + N(0, 0.1^2)) and saved with save_pretrained in
  bfloat16 (config.json in 5.23's nested text_config / vision_config form; Hub tensor names model.* / visual.*;
  no lm_head.weight when tied), plus generation_config.json (greedy; eos [<|im_end|>, <|endoftext|>]),
  preprocessor_config.json (qwen2-vl-tiny: the Hub spelling with top-level min_pixels / max_pixels, as
  Qwen2-VL-2B-Instruct ships it; qwen2.5-vl-tiny: the size {shortest_edge, longest_edge} spelling 5.23's
  save_pretrained writes; both 3136 .. 23520 = 28*28*30 pixels), the demo tokenizer
  (Samples/Models/vlbatch-demo-qwen3.5/tokenizer.json + tokenizer_config.json: 768 BPE tokens, Qwen's added
  tokens, <|endoftext|> = 768 ... <|image_pad|> = 780; vocabulary padded to 832) and chat_template.jinja
  (Tests/Fixtures/chat-templates/qwen2-vl.jinja, the Qwen2-VL template with the default system prompt).
* qwen3-vl-tiny/, qwen3.5-tiny/ -- the same for Qwen3VLForConditionalGeneration (qwen3_vl: head_dim 32 != 64 / 4,
  q/k norms, interleaved M-RoPE [6, 5, 5], 8 x 8 learned position table, DeepStack taps [0, 1]) and
  Qwen3_5ForConditionalGeneration (qwen3_5: layer_types [linear x 3, full], Gated DeltaNet with 2 key heads < 4
  value heads, gated attention with partial rotary 8 of 32 and sections [2, 1, 1]); Qwen3.5's zero-centred norms
  ~ N(0, 0.1^2), A_log = log U(0.05, 1), dt_bias ~ N(0, 0.5^2) (qwen3_5_draw_rules); preprocessor_config.json in
  Qwen3-VL's Hub spelling (size {longest_edge, shortest_edge}); chat templates qwen3-vl.jinja and qwen3.5.jinja
  (the latter rendered with enable_thinking=False, as vlbatch does: its own default is to think). Extra goldens:
  vision_pos_embed (both), vision_deepstack and hidden_states_after_deepstack (Qwen3-VL).
* <model>/goldens/<case>/ -- the case's inputs and transformers' float32 outputs as .npy (float32 / int64), and
  case.json (the messages and rendered prompt, the images and their geometry, every file's shape, dtype and
  meaning, the greedy tokens with their top-1/top-2 margins). Cases: one-image (windows image +
  "Describe this image."), two-images (budget and odd images + a question), text-only. FILE_NOTES below says
  what each file holds.
* manifest.json -- versions, seed, special-token ids, parameter counts, a summary of every case.

Reference computation: the saved bf16 checkpoint loaded with dtype=torch.float32 and attn_implementation="eager";
pixel values from transformers' PIL backend (Qwen2VLImageProcessorPil); the prompt from the tokenizer's
apply_chat_template, each <|image_pad|> expanded to t*h*w/4 copies and tokenised with HF tokenizers; the script
asserts that transformers' own Qwen2VLProcessor / Qwen2_5_VLProcessor / Qwen3VLProcessor (built with the
video-processor class check skipped, see the workaround below) gives the same input_ids, mm_token_type_ids,
pixel_values and grid. Position ids from model.model.get_rope_index(input_ids, mm_token_type_ids,
image_grid_thw=...) (the 5.23 signature); the prefill passes them explicitly. The greedy loop runs 8 steps with
the KV cache, positions prompt_len + step + rope_delta on all three axes, ignoring EOS; it is checked against
generate(do_sample=False, repetition_penalty=1.0) up to the first EOS and against a cache-free forward pass.

--full-size qwen2_vl|qwen2_5_vl|qwen3_5 --out DIR: a random-weight checkpoint with the Qwen2-VL-2B-Instruct
(2.209 B parameters, 4.4 GB), Qwen2.5-VL-3B-Instruct (3.755 B, 7.5 GB) or Qwen3.5-2B (2.213 B, 4.4 GB) configuration
of the shared docs'
qwen-architecture.md (7.3, 3.x), bf16, sharded like a Hub download (model-0000k-of-0000n.safetensors + index, 4 GB
shards; tied lm_head not stored). config.json is the Hub's flat legacy form (FULL_SIZE_HUB_CONFIGS, which 5.23
parses, checked; --config-form transformers writes 5.23's nested form instead); the genuine Qwen2 tokenizer
(Tests/Fixtures/tokenizer/qwen2/; its tokenizer_config.json without the Qwen3 chat_template entry, which
chat_template.jinja replaces and would override anyway; TOKENIZER-NOTICE is its licence notice), Qwen2-VL's
preprocessor config (Tests/Fixtures/preprocess/configs/qwen2-vl/; processor_class Qwen2_5_VLProcessor for the
other) and the Qwen2-VL chat template. Weights from the same distributions as the tiny models (logits have a
standard deviation of about 1). The model is built in bf16 without transformers' default init and filled tensor
by tensor: the 2B took 47 s with a peak RSS of 4.9 GB here (the 3B about 70 s). The script then loads the
directory back with transformers (in bf16, to stay within that memory; tools/bench_transformers_generate.py loads
it in float32) and generates 4 tokens from a 56x56 image.
Qwen3.5-2B: config.json is the nested Hub form with Qwen's extra keys (FULL_SIZE_HUB_CONFIGS["qwen3_5"]; 18 linear +
6 full layers, no mtp.* tensors: transformers builds none), the Qwen3.5 tokenizer (Tests/Fixtures/tokenizer/qwen3.5/,
converted, see its NOTICE), the Qwen3.5 chat template (qwen3.5.jinja) and Qwen3-VL's preprocessor config (65536 ..
16777216 pixels, mean/std 0.5, processor_class Qwen3VLProcessor); the check also measures the DeltaNet state
transformers keeps per sequence against deltanet_state_bytes (conv [1, 6144, 4] bf16 x 18 = 884,736 B; recurrent
[1, 16, 128, 128] float32 x 18 = 18,874,368 B). Built in 29 s, 81 s with the check, peak RSS 5.2 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import PIL
import safetensors
import tokenizers
import torch
import transformers
from PIL import Image, ImageDraw
from tokenizers import Tokenizer
from transformers import (
    AutoTokenizer,
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen3_5Config,
    Qwen3_5ForConditionalGeneration,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil, smart_resize
from transformers.vision_utils import (
    get_vision_attention_seqlens,
    get_vision_interpolation_indices_and_weights,
    get_vision_window_index,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "models"
DEMO_TOKENIZER = REPO / "Samples" / "Models" / "vlbatch-demo-qwen3.5"
QWEN2_TOKENIZER = REPO / "Tests" / "Fixtures" / "tokenizer" / "qwen2"
QWEN2_VL_TEMPLATE = REPO / "Tests" / "Fixtures" / "chat-templates" / "qwen2-vl.jinja"
QWEN2_VL_PREPROCESSOR = REPO / "Tests" / "Fixtures" / "preprocess" / "configs" / "qwen2-vl" / "preprocessor_config.json"
QWEN3_VL_TEMPLATE = REPO / "Tests" / "Fixtures" / "chat-templates" / "qwen3-vl.jinja"
QWEN3_5_TEMPLATE = REPO / "Tests" / "Fixtures" / "chat-templates" / "qwen3.5.jinja"
QWEN3_5_TOKENIZER = REPO / "Tests" / "Fixtures" / "tokenizer" / "qwen3.5"
QWEN3_VL_PREPROCESSOR = REPO / "Tests" / "Fixtures" / "preprocess" / "configs" / "qwen3-vl" / "preprocessor_config.json"

SEED = 20250505
NEW_TOKENS = 8

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
MIN_PIXELS = 3136  # 56 x 56
MAX_PIXELS = 28 * 28 * 30  # 23520: the windows image (168 x 140 = 23520) just fits, the budget image does not

# The two spellings of the same image-processor configuration (both give identical pixel values).
PREPROCESSOR_HUB = {  # Qwen2-VL-2B-Instruct's keys (see Tests/Fixtures/preprocess), with the small budget
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": CLIP_MEAN,
    "image_processor_type": "Qwen2VLImageProcessor",
    "image_std": CLIP_STD,
    "max_pixels": MAX_PIXELS,
    "merge_size": 2,
    "min_pixels": MIN_PIXELS,
    "patch_size": 14,
    "processor_class": "Qwen2VLProcessor",
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "temporal_patch_size": 2,
}

# Qwen3-VL / Qwen3.5 (patch 16, factor 32): the Hub's preprocessor_config.json spelling of Qwen3-VL-2B-Instruct
# (Tests/Fixtures/preprocess/configs/qwen3-vl/: size {longest_edge, shortest_edge}, mean/std 0.5; the class defaults
# give bicubic and rescale 1/255) with a small budget instead of 65536 .. 16777216.
MIN_PIXELS_P16 = 4096  # 64 x 64
MAX_PIXELS_P16 = 32 * 32 * 30  # 30720: the exact image (192 x 160 = 30720) just fits, the budget image does not
PREPROCESSOR_QWEN3 = {
    "size": {"longest_edge": MAX_PIXELS_P16, "shortest_edge": MIN_PIXELS_P16},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessorFast",
}

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

# --------------------------------------------------------------------------------------------------
# Model families. A family knows its transformers classes, how to build a tiny config from the tokenizer's
# special-token ids, which extra vision goldens it has, and its image set, template and preprocessor (patch 14 and
# the CLIP mean/std for Qwen2-VL / Qwen2.5-VL; patch 16 and mean/std 0.5 for Qwen3-VL / Qwen3.5).
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Family:
    model_type: str
    config_class: type
    model_class: type
    processor_class_name: str  # transformers class used only for the cross-check
    tiny_config: Callable[[dict], object]
    vision_extras: Callable[[object, torch.Tensor], dict]  # (model, grid_thw) -> {file stem: array}
    vision_block_order: str
    template: Path = QWEN2_VL_TEMPLATE
    template_kwargs: dict = dataclasses.field(default_factory=dict)  # extra apply_chat_template arguments
    preprocessor: dict = dataclasses.field(default_factory=lambda: PREPROCESSOR_HUB)
    image_set: str = "p14"  # which images and cases (IMAGE_SETS)
    pos_embed: bool = False  # Qwen3-VL / Qwen3.5: block 0's input is patch_embed + the interpolated pos_embed
    draw_rules: Callable[[torch.nn.Module], dict] | None = None  # rerandomise's per-parameter exceptions
    file_notes: dict = dataclasses.field(default_factory=dict)  # FILE_NOTES overrides and additions


def qwen2_vl_tiny_config(ids: dict):
    text = {
        "vocab_size": 832, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu", "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096, "max_window_layers": 2, "use_sliding_window": False,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": True,
    }
    vision = {
        "depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 4, "hidden_act": "quick_gelu",
        "in_channels": 3, "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
    }
    return Qwen2VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def qwen2_5_vl_tiny_config(ids: dict):
    text = {
        "vocab_size": 832, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu", "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096, "max_window_layers": 2, "use_sliding_window": False,
        # Not the real proportion [16,24,24] ([2,3,3] here): unequal h and w sections, so a reader that
        # hard-codes the Qwen2-VL split or swaps h and w fails.
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 2, 4]},
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": False,
    }
    vision = {
        "depth": 3, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "hidden_act": "silu",
        "in_channels": 3, "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
        "window_size": 112, "fullatt_block_indexes": [1], "out_hidden_size": 64, "tokens_per_second": 2,
    }
    return Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=False,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def no_vision_extras(model, grid):
    cu, _ = get_vision_attention_seqlens(grid, model.model.visual.config)
    return {"vision_cu_seqlens": cu.to(torch.int64).numpy()}


def qwen2_5_vision_extras(model, grid):
    visual = model.model.visual
    cu, _ = get_vision_attention_seqlens(grid, visual.config)
    window_index, cu_window = get_vision_window_index(
        grid, spatial_merge_size=visual.spatial_merge_size, window_size=visual.window_size,
        patch_size=visual.patch_size)
    return {
        "vision_cu_seqlens": cu.to(torch.int64).numpy(),
        "vision_window_index": window_index.to(torch.int64).numpy(),
        "vision_cu_window_seqlens": cu_window.to(torch.int64).numpy(),
    }


def qwen3_vl_tiny_config(ids: dict):
    text = {
        "vocab_size": 832, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
        # head_dim 32 != hidden / heads = 16: q_proj is 64 -> 128, o_proj 128 -> 64
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "hidden_act": "silu",
        "rms_norm_eps": 1e-6, "max_position_embeddings": 4096, "attention_bias": False,
        # 16 frequencies, interleaved: T at i = 0, 3, ..., 15 (6), H at 1, 4, ..., 13 (5), W at 2, 5, ..., 14 (5)
        "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [6, 5, 5],
                            "mrope_interleaved": True},
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": True,
    }
    vision = {
        "depth": 3, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "hidden_act": "gelu_pytorch_tanh",
        "in_channels": 3, "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
        "num_position_embeddings": 64,  # an 8 x 8 table: no image grid here is 8 x 8, so every one interpolates
        "out_hidden_size": 64, "deepstack_visual_indexes": [0, 1],
    }
    return Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def qwen3_5_tiny_config(ids: dict):
    text = {
        "vocab_size": 832, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
        "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "hidden_act": "silu",
        "rms_norm_eps": 1e-6, "max_position_embeddings": 4096, "attention_bias": False,
        # Gated DeltaNet: 2 key heads < 4 value heads (each q/k head serves 2 consecutive value heads)
        "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 16,
        "linear_value_head_dim": 16, "linear_conv_kernel_dim": 4,
        # rotary dim 32 * 0.25 = 8 (4 frequencies): T at i = 0, 3, H at 1, W at 2
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000000.0, "mrope_section": [2, 1, 1],
                            "mrope_interleaved": True, "partial_rotary_factor": 0.25},
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": True,
    }
    vision = {
        "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "hidden_act": "gelu_pytorch_tanh",
        "in_channels": 3, "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
        "num_position_embeddings": 64, "out_hidden_size": 64, "deepstack_visual_indexes": [],
    }
    return Qwen3_5Config(
        text_config=text, vision_config=vision, tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def vision_pos_embed(visual, grid) -> torch.Tensor:
    """The interpolated learned position embedding Qwen3-VL / Qwen3.5 add after the patch embedding, [N, hidden] in
    patch (merge-block) order: the same helper and weighted sum as the vision model's forward."""
    indices, weights = get_vision_interpolation_indices_and_weights(
        grid, num_grid_per_side=visual.num_grid_per_side, mode=visual.interpolation_mode,
        align_corners=visual.interpolation_align_corners, spatial_merge_size=visual.config.spatial_merge_size)
    return (visual.pos_embed(indices) * weights[:, :, None]).sum(1)


def qwen3_vision_extras(model, grid):
    visual = model.model.visual
    assert visual.num_grid_per_side ** 2 == visual.config.num_position_embeddings
    assert (visual.interpolation_mode, visual.interpolation_align_corners) == ("bilinear", True)
    cu, _ = get_vision_attention_seqlens(grid, visual.config)
    with torch.no_grad():
        pos = vision_pos_embed(visual, grid)
    return {"vision_cu_seqlens": cu.to(torch.int64).numpy(), "vision_pos_embed": pos}


def qwen3_5_draw_rules(model) -> dict:
    """Qwen3.5's exceptions to rerandomise's rules: the zero-centred RMSNorms (input/post-attention norms, the final
    norm, q_norm, k_norm: scale 1 + w) get w ~ N(0, 0.1^2); A_log = log(A), A ~ U(0.05, 1) per value head (decays
    exp(-A * softplus(a + dt_bias)) spread over about 0.1 .. 0.99, so the recurrent state carries over tokens);
    dt_bias ~ N(0, 0.5^2). The gated norm (linear_attn.norm, plain weight) keeps 1 + N(0, 0.1^2), the conv1d kernels
    [C, 1, 4] N(0, 1/4)."""
    from transformers.models.qwen3_5.modeling_qwen3_5 import Qwen3_5RMSNorm

    rules = {}
    for module_name, module in model.named_modules():
        if isinstance(module, Qwen3_5RMSNorm):
            rules[f"{module_name}.weight"] = ("normal", 0.0, 0.1)
    for name, _ in model.named_parameters():
        if name.endswith(".A_log"):
            rules[name] = ("log_uniform", 0.05, 1.0)
        elif name.endswith(".dt_bias"):
            rules[name] = ("normal", 0.0, 0.5)
    assert any(n.endswith("q_norm.weight") for n in rules) and any(n.endswith(".A_log") for n in rules)
    return rules


QWEN3_FILE_NOTES = {
    "vision_patch_embed": "output of visual.patch_embed (Conv3d with bias, as a matmul plus bias), BEFORE the "
                          "position embedding is added; rows in pixel_values order",
    "vision_pos_embed": "the bilinearly interpolated (align_corners) learned position embedding added to "
                        "vision_patch_embed before block 0 ([N, vision hidden], rows in pixel_values order; "
                        "block 0's input = vision_patch_embed + vision_pos_embed, checked bit for bit)",
}

QWEN3_VL_FILE_NOTES = {
    **QWEN3_FILE_NOTES,
    "vision_deepstack": "the DeepStack features, [len(deepstack_visual_indexes), N/4, 64]: entry j = "
                        "deepstack_merger_list[j] applied to the output of vision block deepstack_visual_indexes[j] "
                        "(post-shuffle LayerNorm over 4 x hidden), merged tokens in natural (image-pad) order, images "
                        "concatenated; entry j is added at the image positions after text decoder layer j (prefill "
                        "only)",
    "hidden_states": "output_hidden_states of the language model, [L+1, T, hidden]: [0] = the input embeddings "
                     "after the image merge, [i] = decoder layer i-1's output for i < L, [L] = the LAST layer's "
                     "output AFTER the final RMSNorm (5.23 replaces the last entry with last_hidden_state). "
                     "Entries are the decoder layers' own outputs, captured by a hook on the layer: they do NOT "
                     "include the DeepStack addition, which the text model applies after the layer returns (see "
                     "hidden_states_after_deepstack)",
    "hidden_states_after_deepstack": "[len(deepstack_visual_indexes), T, hidden]: entry j = decoder layer j's "
                                     "output after `h[image positions] += vision_deepstack[j]`, i.e. the input of "
                                     "layer j+1 (equal to hidden_states[j+1] at text positions; checked against a "
                                     "pre-hook on layer j+1)",
}

FAMILIES = {
    "qwen2_vl": Family("qwen2_vl", Qwen2VLConfig, Qwen2VLForConditionalGeneration, "Qwen2VLProcessor",
                       qwen2_vl_tiny_config, no_vision_extras,
                       "natural: the rows of pixel_values (merge-block raster order)"),
    "qwen2_5_vl": Family("qwen2_5_vl", Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, "Qwen2_5_VLProcessor",
                         qwen2_5_vl_tiny_config, qwen2_5_vision_extras,
                         "window-permuted, as transformers holds it: row j is patch "
                         "4*vision_window_index[j//4] + j%4 of pixel_values (patch_embed is before the "
                         "permutation, in natural order; image_embeds is after the un-permutation)"),
    "qwen3_vl": Family("qwen3_vl", Qwen3VLConfig, Qwen3VLForConditionalGeneration, "Qwen3VLProcessor",
                       qwen3_vl_tiny_config, qwen3_vision_extras,
                       "natural: the rows of pixel_values (merge-block raster order)",
                       template=QWEN3_VL_TEMPLATE, preprocessor=PREPROCESSOR_QWEN3, image_set="p16", pos_embed=True,
                       file_notes=QWEN3_VL_FILE_NOTES),
    # Qwen3.5's template (the 4B one, the one vlbatch recognises) opens a think block by default; vlbatch renders
    # with thinking off, so the prompts end with the empty block "<think>\n\n</think>\n\n".
    "qwen3_5": Family("qwen3_5", Qwen3_5Config, Qwen3_5ForConditionalGeneration, "Qwen3VLProcessor",
                      qwen3_5_tiny_config, qwen3_vision_extras,
                      "natural: the rows of pixel_values (merge-block raster order)",
                      template=QWEN3_5_TEMPLATE, template_kwargs={"enable_thinking": False},
                      preprocessor=PREPROCESSOR_QWEN3, image_set="p16", pos_embed=True,
                      draw_rules=qwen3_5_draw_rules, file_notes=QWEN3_FILE_NOTES),
}


@dataclasses.dataclass
class TinyModel:
    name: str
    family: str
    preprocessor_form: str  # "hub" (top-level min/max_pixels) or "transformers" (5.23's size dict)


TINY_MODELS = [  # the seed of model k is SEED + 100 k: append, do not reorder
    TinyModel("qwen2-vl-tiny", "qwen2_vl", "hub"),
    TinyModel("qwen2.5-vl-tiny", "qwen2_5_vl", "transformers"),
    TinyModel("qwen3-vl-tiny", "qwen3_vl", "hub"),
    TinyModel("qwen3.5-tiny", "qwen3_5", "hub"),
]

# --------------------------------------------------------------------------------------------------
# Images and cases
# --------------------------------------------------------------------------------------------------

# name -> (width, height, seed)
IMAGES = {
    "windows-168x140.png": (168, 140, 1),
    "budget-210x150.png": (210, 150, 2),
    "odd-84x140.png": (84, 140, 3),
    # patch 16 (Qwen3-VL / Qwen3.5): the same three roles for factor 32 and 4096 .. 30720 pixels
    "exact-192x160.png": (192, 160, 4),
    "budget-240x114.png": (240, 114, 5),
    "odd-96x160.png": (96, 160, 6),
}

CASES = [
    ("one-image", ["windows-168x140.png"], "Describe this image."),
    ("two-images", ["budget-210x150.png", "odd-84x140.png"], "What is different between these two pictures?"),
    ("text-only", [], "Name three colours."),
]

CASES_P16 = [
    ("one-image", ["exact-192x160.png"], "Describe this image."),
    ("two-images", ["budget-240x114.png", "odd-96x160.png"], "What is different between these two pictures?"),
    ("text-only", [], "Name three colours."),
]


@dataclasses.dataclass
class ImageSet:
    """The images, cases and shared pixel inputs of the families with one patch size."""
    cases: list
    inputs: str  # directory under OUT for inputs/<case>/pixel_values_u8.npy and normalize_lut.npy
    preprocessor: dict
    shared_by: str  # for the pixel_values note in case.json


IMAGE_SETS = {
    "p14": ImageSet(CASES, "inputs", PREPROCESSOR_HUB, "both tiny models"),
    "p16": ImageSet(CASES_P16, "inputs/patch16", PREPROCESSOR_QWEN3, "qwen3-vl-tiny and qwen3.5-tiny"),
}


def synth_image(w: int, h: int, seed: int) -> Image.Image:
    """Gradient background, a few flat and outlined shapes and lines, then +-24 uniform noise."""
    rng = np.random.default_rng(SEED + seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / (w - 1), yy / (h - 1)
    mix = rng.uniform(0.2, 1.0, (3, 3))
    grad = np.stack([mix[c, 0] * u + mix[c, 1] * v + mix[c, 2] * (1 - 0.5 * (u + v)) for c in range(3)], -1)
    grad = 255 * grad / grad.reshape(-1, 3).max(axis=0)
    img = Image.fromarray(np.clip(np.rint(grad), 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for i in range(6):
        x0, x1 = sorted(rng.integers(-w // 8, w + w // 8, 2).tolist())
        y0, y1 = sorted(rng.integers(-h // 8, h + h // 8, 2).tolist())
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = i % 4
        if kind == 0:
            d.rectangle([x0, y0, max(x1, x0 + 4), max(y1, y0 + 4)], fill=col)
        elif kind == 1:
            d.ellipse([x0, y0, max(x1, x0 + 6), max(y1, y0 + 6)], fill=col,
                      outline=(255 - col[0], 255 - col[1], 255 - col[2]), width=2)
        elif kind == 2:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(4)]
            d.polygon(pts, fill=col)
        else:
            d.line([x0, y0, x1, y1], fill=col, width=int(rng.integers(1, 4)))
    arr = np.asarray(img).astype(np.int16) + rng.integers(-24, 25, (h, w, 3), dtype=np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
    }


def write_json(path: Path, obj, compact: bool = False) -> None:
    """indent 2; with compact, lists of scalars and small flat dicts stay on one line."""

    def rec(v, level):
        pad, end = "  " * (level + 1), "  " * level
        flat = lambda xs: all(not isinstance(x, (dict, list)) for x in xs)  # noqa: E731
        if isinstance(v, dict) and v:
            if compact and flat(v.values()) and len(v) <= 4:
                return "{" + ", ".join(json.dumps(k) + ": " + json.dumps(x) for k, x in v.items()) + "}"
            items = [pad + json.dumps(k) + ": " + rec(x, level + 1) for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + end + "}"
        if isinstance(v, list) and v:
            if compact and flat(v):
                return "[" + ", ".join(json.dumps(x) for x in v) + "]"
            return "[\n" + ",\n".join(pad + rec(x, level + 1) for x in v) + "\n" + end + "]"
        return json.dumps(v)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rec(obj, 0) + "\n")


def save_npy(path: Path, arr) -> dict:
    """Writes float32 or int64 little-endian C-order .npy; returns its entry for case.json."""
    if isinstance(arr, torch.Tensor):
        arr = arr.detach().cpu().numpy()
    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        arr = arr.astype("<f4")
        assert np.isfinite(arr).all(), path
    elif arr.dtype == np.uint8:
        pass
    elif arr.dtype.kind in "iu":
        arr = arr.astype("<i8")
    else:
        raise TypeError(arr.dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr, allow_pickle=False)
    return {"dtype": {"f": "float32", "i": "int64", "u": "uint8"}[arr.dtype.kind], "shape": list(arr.shape)}


def special_ids(tokenizer_json: Path) -> dict:
    data = json.loads(tokenizer_json.read_text())
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    return {name: ids[name] for name in SPECIAL_TOKENS}


def rerandomise(model: torch.nn.Module, seed: int, rules: dict | None = None) -> None:
    """matrices ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), norm weights ~ 1 + N(0, 0.1^2), in name order; `rules`
    maps parameter names to exceptions: ("normal", mean, std) or ("log_uniform", lo, hi) (log of U(lo, hi)).

    Tensors are drawn in float32 in chunks of rows and cast to the parameter's dtype, so a bf16 model of several
    billion parameters needs only one extra chunk of memory."""
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())  # tied parameters appear once
    rules = rules or {}
    assert set(rules) <= set(params), sorted(set(rules) - set(params))
    for name in sorted(params):
        p = params[name]
        with torch.no_grad():
            kind = "normal"
            if name in rules:
                kind, mean, std = rules[name]
            elif name.endswith(".bias"):
                mean, std = 0.0, 0.05
            elif p.ndim == 1:  # RMSNorm / LayerNorm weights
                mean, std = 1.0, 0.1
            else:
                mean, std = 0.0, 1.0 / math.sqrt(p[0].numel())  # fan_in = product of the non-output dims
            if kind == "log_uniform":
                lo, hi = mean, std
                u = torch.rand(p.shape, generator=gen, dtype=torch.float32)
                p.copy_(torch.log(lo + (hi - lo) * u))
                continue
            assert kind == "normal", kind
            flat = p.view(p.shape[0], -1) if p.ndim > 1 else p.view(1, -1)
            rows = max(1, (1 << 24) // flat.shape[1])
            for start in range(0, flat.shape[0], rows):
                chunk = torch.randn(flat[start:start + rows].shape, generator=gen, dtype=torch.float32)
                flat[start:start + rows].copy_(chunk * std + mean)


def image_geometry(img, grid, image_processor) -> dict:
    p, f = image_processor.patch_size, image_processor.patch_size * image_processor.merge_size
    h, w = smart_resize(img.height, img.width, factor=f, min_pixels=image_processor.size["shortest_edge"],
                        max_pixels=image_processor.size["longest_edge"])
    assert [1, h // p, w // p] == grid.tolist()
    return {"width": img.width, "height": img.height, "resized_width": w, "resized_height": h,
            "grid_thw": grid.tolist(), "merged_hw": [h // f, w // f]}


def normalize_lut(image_processor) -> np.ndarray:
    """float32 [3, 256]: the processor's value for each channel and uint8 level (PIL backend: float64 rescale
    by 1/255 rounded to float32, then (x - mean) / std in float32)."""
    levels = np.arange(256, dtype=np.float64)
    lut = np.empty((3, 256), dtype=np.float32)
    for c in range(3):
        x = (levels * image_processor.rescale_factor).astype(np.float32)
        lut[c] = (x - np.float32(image_processor.image_mean[c])) / np.float32(image_processor.image_std[c])
    return lut


def patch_rows_u8(images: list, image_processor) -> np.ndarray:
    """uint8 [N, 1176 or 1536]: the pixel_values rows before rescale/normalise (Pillow bicubic to the smart_resize size,
    two identical frames, merge-block patch order, columns (channel, frame, y, x))."""
    p, m = image_processor.patch_size, image_processor.merge_size
    rows = []
    for img in images:
        h, w = smart_resize(img.height, img.width, factor=p * m, min_pixels=image_processor.size["shortest_edge"],
                            max_pixels=image_processor.size["longest_edge"])
        if (h, w) != (img.height, img.width):
            img = img.resize((w, h), Image.BICUBIC)
        chw = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        frames = np.stack([chw, chw])  # (2, 3, h, w)
        gh, gw = h // p, w // p
        x = frames.reshape(1, 2, 3, gh // m, m, p, gw // m, m, p)
        x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)  # (gt, bh, bw, u, v, C, T, y, x)
        rows.append(x.reshape(gh * gw, 3 * 2 * p * p))
    return np.concatenate(rows)


# --------------------------------------------------------------------------------------------------
# The processor cross-check (transformers 5.23 cannot build a Qwen processor without torchvision: the
# video-processor class check fails with AttributeError VIDEO_PROCESSOR_MAPPING._extra_content; skip it for None)
# --------------------------------------------------------------------------------------------------


def build_processor(family: Family, image_processor, tokenizer):
    from transformers import processing_utils

    original = processing_utils.ProcessorMixin.check_argument_for_proper_class

    def check(self, argument_name, argument):
        if argument is None:
            return None
        return original(self, argument_name, argument)

    processing_utils.ProcessorMixin.check_argument_for_proper_class = check
    try:
        cls = getattr(transformers, family.processor_class_name)
        return cls(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                   chat_template=tokenizer.chat_template)
    finally:
        processing_utils.ProcessorMixin.check_argument_for_proper_class = original


# --------------------------------------------------------------------------------------------------
# Tiny checkpoints
# --------------------------------------------------------------------------------------------------


def write_tiny_checkpoint(spec: TinyModel, directory: Path, seed: int) -> dict:
    family = FAMILIES[spec.family]
    ids = special_ids(DEMO_TOKENIZER / "tokenizer.json")
    config = family.tiny_config(ids)
    torch.manual_seed(seed)
    model = family.model_class(config).eval()
    rerandomise(model, seed, family.draw_rules(model) if family.draw_rules else None)
    assert not any(n.startswith("mtp") for n, _ in model.named_parameters())  # no multi-token-prediction head
    model.to(torch.bfloat16).save_pretrained(directory, safe_serialization=True)
    GenerationConfig(
        bos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]], do_sample=False,
    ).save_pretrained(directory)
    shutil.copyfile(DEMO_TOKENIZER / "tokenizer.json", directory / "tokenizer.json")
    shutil.copyfile(DEMO_TOKENIZER / "tokenizer_config.json", directory / "tokenizer_config.json")
    shutil.copyfile(family.template, directory / "chat_template.jinja")
    if spec.preprocessor_form == "hub":
        write_json(directory / "preprocessor_config.json", family.preprocessor)
    else:
        Qwen2VLImageProcessorPil.from_dict(family.preprocessor).save_pretrained(directory)
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["chat_template.jinja", "config.json", "generation_config.json", "model.safetensors",
                     "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"], files
    return ids


def greedy_loop(model, prompt_ids, position_ids, rope_delta, forward_kwargs, n_steps):
    """Prefill + n_steps-1 cached decode steps; returns (tokens, logits rows [n_steps, V])."""
    out = model(input_ids=prompt_ids, position_ids=position_ids, use_cache=True, **forward_kwargs)
    rows = [out.logits[0, -1].clone()]
    cache = out.past_key_values
    tokens = [int(rows[-1].argmax())]
    t = prompt_ids.shape[1]
    for step in range(1, n_steps):
        pos = torch.full((3, 1, 1), t + step - 1 + rope_delta, dtype=torch.long)
        out = model(input_ids=torch.tensor([[tokens[-1]]]), position_ids=pos, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        rows.append(out.logits[0, -1].clone())
        tokens.append(int(rows[-1].argmax()))
    return tokens, torch.stack(rows)


FILE_NOTES = {
    "input_ids": "prompt token ids (chat template, one user turn, add_generation_prompt; each <|image_pad|> "
                 "expanded to t*h*w/4 copies)",
    "mm_token_type_ids": "0 = text, 1 = image token (what the 5.23 processor returns and get_rope_index needs)",
    "image_grid_thw": "[t, h, w] per image in patches (h, w before the 2x2 merge)",
    "position_ids": "M-RoPE positions [t; h; w] x T from model.model.get_rope_index (text-only: 0..T-1 on all axes)",
    "rope_delta": "[1]: max(position_ids) + 1 - T; the token at absolute index L >= T gets position L + rope_delta "
                  "on all three axes",
    "vision_patch_embed": "output of visual.patch_embed (Conv3d as a matmul), rows in pixel_values order",
    "vision_blocks": "output of each vision block, [depth, N, width]; row order: see vision_block_order",
    "vision_cu_seqlens": "cumulative patch counts per image (full-attention segments)",
    "vision_window_index": "Qwen2.5-VL window permutation of the merged tokens (get_vision_window_index)",
    "vision_cu_window_seqlens": "Qwen2.5-VL window boundaries in patches, in permuted order (after "
                                "unique_consecutive)",
    "image_embeds": "the merger's output in natural (image-pad) order: the rows scattered into the image-pad "
                    "embeddings, images concatenated",
    "hidden_states": "output_hidden_states of the language model, [L+1, T, hidden]: [0] = the input embeddings "
                     "after the image merge, [i] = decoder layer i-1's output for i < L, [L] = the LAST layer's "
                     "output AFTER the final RMSNorm (5.23 replaces the last entry with last_hidden_state)",
    "last_layer_output": "the last decoder layer's output BEFORE the final norm, [T, hidden] (forward hook)",
    "logits_last": "lm_head logits at the last prompt position, [V] (= step_logits[0])",
    "generated_ids": "8 greedy tokens (argmax, no repetition penalty, EOS not stopping the loop)",
    "step_logits": "the logits row each greedy token was picked from, [8, V]; row 0 from the prefill, row k from "
                   "the cached decode step fed generated_ids[k-1] at position T + k - 1 + rope_delta",
}


def golden_case(model, family: Family, tok_raw: Tokenizer, chat_tok, processor, image_processor,
                images: dict, case, ids: dict, model_dir: Path) -> dict:
    name, image_names, text = case
    out_dir = model_dir / "goldens" / name
    image_set = IMAGE_SETS[family.image_set]
    notes = {**FILE_NOTES, **family.file_notes}
    files = {}
    content = [{"type": "image"} for _ in image_names] + [{"type": "text", "text": text}]
    messages = [{"role": "user", "content": content}]
    template_text = chat_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                 **family.template_kwargs)
    if family.model_type == "qwen3_5":  # thinking off: the generation prompt ends with an empty think block
        assert template_text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), template_text
        assert chat_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True).endswith(
            "<|im_start|>assistant\n<think>\n")  # the 4B template's own default is to think
    elif family.model_type == "qwen3_vl":  # no default system prompt
        assert template_text.startswith("<|im_start|>user\n") and "<think>" not in template_text

    pixel_values = grid = None
    prompt = template_text
    if image_names:
        pil = [images[n] for n in image_names]
        proc_out = image_processor(pil, return_tensors="pt")
        pixel_values, grid = proc_out["pixel_values"], proc_out["image_grid_thw"]
        pieces = prompt.split("<|image_pad|>")
        assert len(pieces) == len(image_names) + 1
        prompt = pieces[0]
        for g, piece in zip(grid, pieces[1:]):
            prompt += "<|image_pad|>" * (int(g.prod()) // 4) + piece
    input_ids = torch.tensor([tok_raw.encode(prompt).ids])
    mm_types = (input_ids == ids["<|image_pad|>"]).to(torch.int64)

    # transformers' own processor must agree on everything.
    p_out = processor(text=[template_text], images=[images[n] for n in image_names] or None, return_tensors="pt")
    assert torch.equal(p_out["input_ids"], input_ids), name
    assert torch.equal(p_out["mm_token_type_ids"].to(torch.int64), mm_types), name
    if image_names:
        assert torch.equal(p_out["pixel_values"], pixel_values) and torch.equal(p_out["image_grid_thw"], grid)
    # and the chat tokenizer (AutoTokenizer on the checkpoint directory) too
    assert chat_tok(prompt, add_special_tokens=False)["input_ids"] == input_ids[0].tolist(), name

    T = input_ids.shape[1]
    with torch.no_grad():
        position_ids, rope_deltas = model.model.get_rope_index(
            input_ids, mm_token_type_ids=mm_types, image_grid_thw=grid)
    rope_delta = int(rope_deltas.reshape(-1)[0])
    if not image_names:
        assert torch.equal(position_ids[:, 0], torch.arange(T).expand(3, T)) and rope_delta == 0

    files["input_ids"] = save_npy(out_dir / "input_ids.npy", input_ids[0])
    files["mm_token_type_ids"] = save_npy(out_dir / "mm_token_type_ids.npy", mm_types[0])
    files["position_ids"] = save_npy(out_dir / "position_ids.npy", position_ids[:, 0])
    files["rope_delta"] = save_npy(out_dir / "rope_delta.npy", np.array([rope_delta]))

    fwd = {}
    vision = {}
    if image_names:
        files["image_grid_thw"] = save_npy(out_dir / "image_grid_thw.npy", grid)
        fwd = {"pixel_values": pixel_values, "image_grid_thw": grid, "mm_token_type_ids": mm_types}
        visual = model.model.visual
        captured = {"blocks": []}
        hooks = [visual.patch_embed.register_forward_hook(lambda m, a, o: captured.__setitem__("patch_embed", o))]
        hooks += [b.register_forward_hook(lambda m, a, o: captured["blocks"].append(o)) for b in visual.blocks]
        hooks.append(visual.blocks[0].register_forward_pre_hook(lambda m, a: captured.__setitem__("block0_in", a[0])))
        with torch.no_grad():
            vis_out = model.model.get_image_features(pixel_values, grid, return_dict=True)
        for h in hooks:
            h.remove()
        image_embeds = torch.cat(vis_out.pooler_output, dim=0)
        blocks = torch.stack(captured["blocks"])
        assert torch.equal(blocks[-1], vis_out.last_hidden_state)
        vision = {"patch_embed": captured["patch_embed"], "blocks": blocks, "image_embeds": image_embeds}
        deepstack_indexes = list(getattr(model.config.vision_config, "deepstack_visual_indexes", None) or [])
        if deepstack_indexes:
            # one tensor per tap, split per image by get_image_features: concatenate the images back
            vision["deepstack"] = torch.stack([torch.cat(f, dim=0) for f in vis_out.deepstack_features])
            assert vision["deepstack"].shape == (len(deepstack_indexes), *image_embeds.shape)
            with torch.no_grad():  # entry j is deepstack_merger_list[j] of block deepstack_indexes[j]'s output
                for j, k in enumerate(deepstack_indexes):
                    assert torch.equal(model.model.visual.deepstack_merger_list[j](blocks[k]), vision["deepstack"][j])
        else:
            assert not getattr(vis_out, "deepstack_features", None)
        # the documented block-row order: row j of a block is patch 4 * window_index[j // 4] + j % 4
        extras = family.vision_extras(model, grid)
        order = torch.arange(pixel_values.shape[0])
        if "vision_window_index" in extras:
            wi = torch.from_numpy(extras["vision_window_index"])
            order = (4 * wi[:, None] + torch.arange(4)[None, :]).reshape(-1)
            assert not torch.equal(order, torch.arange(pixel_values.shape[0]))
        if family.pos_embed:  # Qwen3-VL / Qwen3.5: block 0 sees patch_embed + the interpolated position embedding
            pos = extras["vision_pos_embed"]
            assert pos.shape == captured["patch_embed"].shape
            assert torch.equal(captured["block0_in"], captured["patch_embed"] + pos.to(captured["patch_embed"].dtype))
            assert not torch.equal(captured["block0_in"], captured["patch_embed"])
        else:
            assert torch.equal(captured["block0_in"], captured["patch_embed"][order])

    captured_layer = {}
    layers = model.model.language_model.layers
    last_layer = layers[-1]
    hook = last_layer.register_forward_hook(lambda m, a, o: captured_layer.__setitem__("out", o))
    # every layer's output and input (to see where transformers adds the DeepStack features)
    layer_outs, layer_ins = {}, {}

    def record_input(i):
        def hook(module, args, kwargs):
            layer_ins[i] = (args[0] if args else kwargs["hidden_states"])[0].clone()
        return hook

    hooks = [layer.register_forward_hook(lambda m, a, o, i=i: layer_outs.__setitem__(i, o[0].clone()))
             for i, layer in enumerate(layers)]
    hooks += [layer.register_forward_pre_hook(record_input(i), with_kwargs=True) for i, layer in enumerate(layers)]
    with torch.no_grad():
        out = model(input_ids=input_ids, position_ids=position_ids, output_hidden_states=True, **fwd)
    hook.remove()
    for h in hooks:
        h.remove()
    hidden = torch.stack([h[0] for h in out.hidden_states])
    n_layers = model.config.text_config.num_hidden_layers
    assert hidden.shape[0] == n_layers + 1
    after_deepstack = None
    for i in range(n_layers - 1):  # output_hidden_states[i + 1] is layer i's own output
        assert torch.equal(hidden[i + 1], layer_outs[i])
        if "deepstack" in vision and i < vision["deepstack"].shape[0]:
            mask = mm_types[0].bool()
            expect = layer_outs[i].clone()
            expect[mask] = layer_outs[i][mask] + vision["deepstack"][i]
            assert torch.equal(layer_ins[i + 1], expect)  # the next layer sees the DeepStack addition
            assert not torch.equal(layer_ins[i + 1], layer_outs[i])
        else:
            assert torch.equal(layer_ins[i + 1], layer_outs[i])
    if "deepstack" in vision:
        assert vision["deepstack"].shape[0] < n_layers  # (the last layer's output is hidden_states[L]'s input)
        after_deepstack = torch.stack([layer_ins[j + 1] for j in range(vision["deepstack"].shape[0])])
    final_norm = model.model.language_model.norm
    with torch.no_grad():
        assert torch.equal(hidden[-1], final_norm(captured_layer["out"])[0])
        assert not torch.allclose(hidden[-1], captured_layer["out"][0])
        # the merge: image rows of hidden_states[0] are image_embeds, the rest embed_tokens
        emb = model.model.get_input_embeddings()(input_ids)[0]
        if image_names:
            mask = mm_types[0].bool()
            assert torch.equal(hidden[0][mask], vision["image_embeds"])
            assert torch.equal(hidden[0][~mask], emb[~mask])
        else:
            assert torch.equal(hidden[0], emb)
        # letting the model compute positions itself gives the same logits
        out2 = model(input_ids=input_ids, **fwd)
        assert torch.equal(out2.logits, out.logits)

    with torch.no_grad():
        tokens, step_logits = greedy_loop(model, input_ids, position_ids, rope_delta, fwd, NEW_TOKENS)
    assert torch.allclose(step_logits[0], out.logits[0, -1], atol=1e-5, rtol=0)
    # cache-free recomputation of every step (positions from get_rope_index over the whole sequence)
    full = torch.cat([input_ids, torch.tensor([tokens[:-1]])], dim=1)
    full_types = torch.cat([mm_types, torch.zeros((1, NEW_TOKENS - 1), dtype=torch.int64)], dim=1)
    with torch.no_grad():
        full_pos, full_delta = model.model.get_rope_index(full, mm_token_type_ids=full_types, image_grid_thw=grid)
        assert int(full_delta.reshape(-1)[0]) == rope_delta
        assert torch.equal(full_pos[:, 0, T:], (torch.arange(T, T + NEW_TOKENS - 1) + rope_delta).expand(3, -1))
        ref = model(input_ids=full, position_ids=full_pos, **fwd).logits[0, T - 1:]
    recompute_err = float((ref - step_logits).abs().max())
    assert recompute_err < 1e-4, recompute_err
    # generate() agrees up to the first EOS
    eos = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    gen_kwargs = {k: v for k, v in fwd.items()}
    with torch.no_grad():
        gen = model.generate(input_ids=input_ids, **gen_kwargs, max_new_tokens=NEW_TOKENS, do_sample=False,
                             repetition_penalty=1.0)
    gen_tokens = gen[0, T:].tolist()
    expect = []
    for t in tokens:
        expect.append(t)
        if t in eos:
            break
    assert gen_tokens == expect, (gen_tokens, tokens)

    top2 = torch.topk(step_logits, 2, dim=-1)
    margins = (top2.values[:, 0] - top2.values[:, 1]).tolist()

    if image_names:
        files["vision_patch_embed"] = save_npy(out_dir / "vision_patch_embed.npy", vision["patch_embed"])
        files["vision_blocks"] = save_npy(out_dir / "vision_blocks.npy", vision["blocks"])
        for stem, arr in extras.items():
            files[stem] = save_npy(out_dir / f"{stem}.npy", arr)
        files["image_embeds"] = save_npy(out_dir / "image_embeds.npy", vision["image_embeds"])
        if "deepstack" in vision:
            files["vision_deepstack"] = save_npy(out_dir / "vision_deepstack.npy", vision["deepstack"])
    files["hidden_states"] = save_npy(out_dir / "hidden_states.npy", hidden)
    if after_deepstack is not None:
        files["hidden_states_after_deepstack"] = save_npy(out_dir / "hidden_states_after_deepstack.npy",
                                                          after_deepstack)
    files["last_layer_output"] = save_npy(out_dir / "last_layer_output.npy", captured_layer["out"][0])
    files["logits_last"] = save_npy(out_dir / "logits_last.npy", step_logits[0])
    files["generated_ids"] = save_npy(out_dir / "generated_ids.npy", np.array(tokens))
    files["step_logits"] = save_npy(out_dir / "step_logits.npy", step_logits)
    for stem, entry in files.items():
        entry["file"] = f"{stem}.npy"
        entry["holds"] = notes[stem]

    record = {
        "case": name,
        "model": model_dir.name,
        "messages": messages,
        "prompt_text": template_text,
        **({"chat_template_kwargs": family.template_kwargs} if family.template_kwargs else {}),
        "images": [f"../../../images/{n}" for n in image_names],
        "image_geometry": [image_geometry(images[n], g, image_processor) for n, g in
                           zip(image_names, grid if grid is not None else [])],
        "pixel_values": (None if not image_names else {
            "file": f"../../../{image_set.inputs}/{name}/pixel_values_u8.npy", "dtype": "uint8",
            "shape": list(pixel_values.shape),
            "lut": f"../../../{image_set.inputs}/normalize_lut.npy",
            "holds": f"Qwen2VLImageProcessorPil's float32 pixel_values [N, {pixel_values.shape[1]}] are exactly "
                     f"lut[j // {pixel_values.shape[1] // 3}, u8[i, j]] (lut float32 [3, 256]); shared by "
                     f"{image_set.shared_by}"}),
        "num_tokens": T,
        "num_image_tokens": int(mm_types.sum()),
        "rope_delta": rope_delta,
        "vision_block_order": family.vision_block_order if image_names else None,
        "files": files,
        "greedy": {
            "tokens": tokens,
            "text": tok_raw.decode(tokens, skip_special_tokens=False),
            "top1_top2_margins": [round(m, 6) for m in margins],
            "top2_ids": top2.indices[:, 1].tolist(),
            "min_margin": round(min(margins), 6),
            "eos_ids": eos,
            "generate_tokens": gen_tokens,
            "cache_free_recompute_max_abs_diff": float(f"{recompute_err:.3g}"),
        },
    }
    write_json(out_dir / "case.json", record, compact=True)
    return {"pixel_values": pixel_values, "record": record}


def make_tiny(args) -> None:
    torch.set_num_threads(1)
    if OUT.exists():  # everything but the hand-written README.md
        for path in OUT.iterdir():
            if path.name != "README.md":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    images = {}
    for fname, (w, h, seed) in IMAGES.items():
        img = synth_image(w, h, seed)
        path = OUT / "images" / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG", optimize=False)
        images[fname] = Image.open(path).convert("RGB")
        assert np.array_equal(np.asarray(images[fname]), np.asarray(img))

    # geometry asserts (see the docstring)
    f = 28
    geom = {n: smart_resize(h, w, factor=f, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
            for n, (w, h, _) in IMAGES.items()}
    assert geom["windows-168x140.png"] == (140, 168) and 140 * 168 == MAX_PIXELS  # at the budget: not resized
    assert geom["budget-210x150.png"] == (112, 168)
    assert round(150 / f) * f * round(210 / f) * f > MAX_PIXELS  # the max_pixels branch is taken
    assert geom["odd-84x140.png"] == (140, 84)
    # patch 16: factor 32, 4096 .. 30720 pixels; the 8 x 8 position table is interpolated along both axes for every
    # grid (10 x 12, 6 x 14, 10 x 6)
    f = 32
    geom = {n: smart_resize(h, w, factor=f, min_pixels=MIN_PIXELS_P16, max_pixels=MAX_PIXELS_P16)
            for n, (w, h, _) in IMAGES.items() if n in {"exact-192x160.png", "budget-240x114.png", "odd-96x160.png"}}
    assert geom["exact-192x160.png"] == (160, 192) and 160 * 192 == MAX_PIXELS_P16  # at the budget: not resized
    assert geom["budget-240x114.png"] == (96, 224)  # aspect changed; 240 / 32 = 7.5 rounds (to even) to 8 on the way
    assert round(114 / f) * f * round(240 / f) * f > MAX_PIXELS_P16  # the max_pixels branch is taken
    assert geom["odd-96x160.png"] == (160, 96)
    assert all(8 not in (h // 16, w // 16) for h, w in geom.values())

    shared_pixels = {}
    luts = {}
    for key, image_set in IMAGE_SETS.items():
        luts[key] = normalize_lut(Qwen2VLImageProcessorPil.from_dict(image_set.preprocessor))
        save_npy(OUT / image_set.inputs / "normalize_lut.npy", luts[key])
    summary = {"versions": versions(), "seed": SEED, "models": {}}
    for index, spec in enumerate(TINY_MODELS):
        family = FAMILIES[spec.family]
        model_dir = OUT / spec.name
        ids = write_tiny_checkpoint(spec, model_dir, SEED + 100 * index)
        model = family.model_class.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
        # bf16 -> fp32 is exact: the loaded weights are the saved bf16 values
        tok_raw = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        chat_tok = AutoTokenizer.from_pretrained(model_dir)
        pre = json.loads((model_dir / "preprocessor_config.json").read_text())
        image_processor = Qwen2VLImageProcessorPil.from_dict(pre)
        image_set = IMAGE_SETS[family.image_set]
        budget = (MIN_PIXELS, MAX_PIXELS) if family.image_set == "p14" else (MIN_PIXELS_P16, MAX_PIXELS_P16)
        assert (image_processor.size["shortest_edge"], image_processor.size["longest_edge"]) == budget
        lut = luts[family.image_set]
        processor = build_processor(family, image_processor, chat_tok)
        cases = {}
        for case in image_set.cases:
            result = golden_case(model, family, tok_raw, chat_tok, processor, image_processor, images, case, ids,
                                 model_dir)
            pv = result["pixel_values"]
            if pv is not None:
                key = (family.image_set, case[0])
                if key in shared_pixels:
                    assert torch.equal(shared_pixels[key], pv), "the models' pixel values differ"
                else:
                    shared_pixels[key] = pv
                    rows = patch_rows_u8([images[n] for n in case[1]], image_processor)
                    width = rows.shape[1]
                    assert np.array_equal(lut[np.arange(width) // (width // 3), rows], pv.numpy()), case[0]
                    save_npy(OUT / image_set.inputs / case[0] / "pixel_values_u8.npy", rows)
            rec = result["record"]
            cases[case[0]] = {"tokens": rec["num_tokens"], "image_tokens": rec["num_image_tokens"],
                              "rope_delta": rec["rope_delta"], "greedy": rec["greedy"]["tokens"],
                              "min_margin": rec["greedy"]["min_margin"]}
            print(f"{spec.name} {case[0]}: T={rec['num_tokens']} image tokens={rec['num_image_tokens']} "
                  f"rope_delta={rec['rope_delta']} greedy={rec['greedy']['tokens']} "
                  f"margins={rec['greedy']['top1_top2_margins']}", flush=True)
        n_params = sum(p.numel() for p in model.parameters())
        summary["models"][spec.name] = {"model_type": family.model_type, "parameters": n_params,
                                        "special_token_ids": ids, "cases": cases}
        del model
        gc.collect()
    write_json(OUT / "manifest.json", summary, compact=True)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file() and p.name != "README.md")
    print(f"wrote {OUT.relative_to(REPO)}: {total / 1e6:.2f} MB")


# --------------------------------------------------------------------------------------------------
# Full-size random checkpoints
# --------------------------------------------------------------------------------------------------

# The Hub's config.json of each model. Values: qwen-architecture.md 7.3 / 3.x. Qwen2-VL / Qwen2.5-VL: the flat
# (legacy) transformers 4.4x form the Qwen repos ship (text keys at the top level, rope_scaling {type: mrope}, vision
# keys in_chans / spatial_patch_size). Qwen3.5: the nested text_config / vision_config form with the keys the
# Qwen3.5 repos carry beyond what 5.23 writes (attn_output_gate, full_attention_interval, mamba_ssm_dtype,
# mlp_only_layers, mtp_num_hidden_layers, mtp_use_dedicated_embeddings; vision model_type "qwen3_5", which 5.23
# renames); Qwen3.5-2B's shape, where the architecture notes mark values unverified, follows the 0.8B and
# Qwen3-VL-2B (vision depth 24, width 1024, 16 heads, MLP 4096, out 2048; theta 1e7, sections [11, 11, 10]).
# Reconstructed, not copied from the Hub files.
QWEN3_5_2B_LAYER_TYPES = ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(24)]
FULL_SIZE_HUB_CONFIGS = {
    "qwen2_vl": {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "vision_start_token_id": 151652,
        "vision_end_token_id": 151653,
        "vision_token_id": 151654,
        "image_token_id": 151655,
        "video_token_id": 151656,
        "hidden_act": "silu",
        "hidden_size": 1536,
        "initializer_range": 0.02,
        "intermediate_size": 8960,
        "max_position_embeddings": 32768,
        "max_window_layers": 28,
        "model_type": "qwen2_vl",
        "num_attention_heads": 12,
        "num_hidden_layers": 28,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.41.2",
        "use_cache": True,
        "use_sliding_window": False,
        "vision_config": {
            "depth": 32,
            "embed_dim": 1280,
            "mlp_ratio": 4,
            "num_heads": 16,
            "in_chans": 3,
            "hidden_size": 1536,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "spatial_patch_size": 14,
            "temporal_patch_size": 2,
        },
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "vocab_size": 151936,
    },
    "qwen2_5_vl": {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "vision_start_token_id": 151652,
        "vision_end_token_id": 151653,
        "vision_token_id": 151654,
        "image_token_id": 151655,
        "video_token_id": 151656,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 11008,
        "max_position_embeddings": 128000,
        "max_window_layers": 70,
        "model_type": "qwen2_5_vl",
        "num_attention_heads": 16,
        "num_hidden_layers": 36,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.41.2",
        "use_cache": True,
        "use_sliding_window": False,
        "vision_config": {
            "depth": 32,
            "hidden_act": "silu",
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "in_chans": 3,
            "out_hidden_size": 2048,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "spatial_patch_size": 14,
            "window_size": 112,
            "fullatt_block_indexes": [7, 15, 23, 31],
            "tokens_per_second": 2,
            "temporal_patch_size": 2,
        },
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
        "vocab_size": 151936,
    },
}

FULL_SIZE_HUB_CONFIGS["qwen3_5"] = {
    "architectures": ["Qwen3_5ForConditionalGeneration"],
    "image_token_id": 248056,
    "model_type": "qwen3_5",
    "text_config": {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_output_gate": True,
        "dtype": "bfloat16",
        "eos_token_id": 248044,
        "full_attention_interval": 4,
        "head_dim": 256,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 6144,
        "layer_types": QWEN3_5_2B_LAYER_TYPES,
        "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128,
        "linear_num_key_heads": 16,
        "linear_num_value_heads": 16,
        "linear_value_head_dim": 128,
        "mamba_ssm_dtype": "float32",
        "max_position_embeddings": 262144,
        "mlp_only_layers": [],
        "model_type": "qwen3_5_text",
        "mtp_num_hidden_layers": 1,
        "mtp_use_dedicated_embeddings": False,
        "num_attention_heads": 8,
        "num_hidden_layers": 24,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_parameters": {
            "mrope_interleaved": True,
            "mrope_section": [11, 11, 10],
            "rope_type": "default",
            "rope_theta": 10000000,
            "partial_rotary_factor": 0.25,
        },
        "tie_word_embeddings": True,
        "use_cache": True,
        "vocab_size": 248320,
    },
    "tie_word_embeddings": True,
    "transformers_version": "4.57.0.dev0",
    "video_token_id": 248057,
    "vision_config": {
        "deepstack_visual_indexes": [],
        "depth": 24,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 1024,
        "in_channels": 3,
        "initializer_range": 0.02,
        "intermediate_size": 4096,
        "model_type": "qwen3_5",
        "num_heads": 16,
        "num_position_embeddings": 2304,
        "out_hidden_size": 2048,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "vision_end_token_id": 248054,
    "vision_start_token_id": 248053,
}

# Expected values after transformers parses the Hub config (checked, so a parsing change is noticed).
FULL_SIZE_EXPECT = {
    "qwen2_vl": {"text": (1536, 28, 12, 2, 8960, 151936), "vision_depth": 32, "vision_out": 1536, "tied": True,
                 "rope": ([16, 24, 24], 1e6)},
    "qwen2_5_vl": {"text": (2048, 36, 16, 2, 11008, 151936), "vision_depth": 32, "vision_out": 2048, "tied": True,
                   "rope": ([16, 24, 24], 1e6)},
    "qwen3_5": {"text": (2048, 24, 8, 2, 6144, 248320), "vision_depth": 24, "vision_out": 2048, "tied": True,
                "rope": ([11, 11, 10], 1e7)},
}


@dataclasses.dataclass
class FullSizeFiles:
    """What goes next to the weights of a full-size checkpoint, and the token ids its check needs."""
    tokenizer: Path
    template: Path
    preprocessor: Path
    processor_class: str | None  # overrides the preprocessor file's processor_class
    endoftext: int
    im_end: int
    image_token: int
    template_kwargs: dict = dataclasses.field(default_factory=dict)


FULL_SIZE_FILES = {
    "qwen2_vl": FullSizeFiles(QWEN2_TOKENIZER, QWEN2_VL_TEMPLATE, QWEN2_VL_PREPROCESSOR, None, 151643, 151645, 151655),
    "qwen2_5_vl": FullSizeFiles(QWEN2_TOKENIZER, QWEN2_VL_TEMPLATE, QWEN2_VL_PREPROCESSOR, "Qwen2_5_VLProcessor",
                                151643, 151645, 151655),
    # Qwen3.5: the converted Qwen3.5 tokenizer, the Qwen3.5 (4B) template vlbatch recognises, rendered with
    # thinking off as vlbatch does, and Qwen3-VL's preprocessor config (the same values: qwen-architecture.md 2.2)
    "qwen3_5": FullSizeFiles(QWEN3_5_TOKENIZER, QWEN3_5_TEMPLATE, QWEN3_VL_PREPROCESSOR, None, 248044, 248046, 248056,
                             {"enable_thinking": False}),
}


def deltanet_state_bytes(tc, conv_dtype_bytes: int) -> dict:
    """Per-sequence Gated DeltaNet state of a Qwen3.5 text config: the conv window (transformers keeps the last
    linear_conv_kernel_dim inputs of every conv channel, although kernel - 1 suffice) in the activation dtype and the
    recurrent state [nv, dk, dv] per linear layer in float32."""
    n_linear = sum(t == "linear_attention" for t in tc.layer_types)
    conv_dim = (2 * tc.linear_num_key_heads * tc.linear_key_head_dim
                + tc.linear_num_value_heads * tc.linear_value_head_dim)
    k = tc.linear_conv_kernel_dim
    recurrent = n_linear * tc.linear_num_value_heads * tc.linear_key_head_dim * tc.linear_value_head_dim * 4
    return {"linear_layers": n_linear, "conv_channels": conv_dim,
            "conv_bytes_as_stored": n_linear * conv_dim * k * conv_dtype_bytes,
            "conv_bytes_needed": n_linear * conv_dim * (k - 1) * conv_dtype_bytes,
            "recurrent_bytes": recurrent}


def make_full_size(args) -> None:
    family = FAMILIES[args.full_size]
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    hub = FULL_SIZE_HUB_CONFIGS[args.full_size]
    config = family.config_class.from_dict(json.loads(json.dumps(hub)))
    tc, vc = config.text_config, config.vision_config
    exp = FULL_SIZE_EXPECT[args.full_size]
    got = (tc.hidden_size, tc.num_hidden_layers, tc.num_attention_heads, tc.num_key_value_heads,
           tc.intermediate_size, tc.vocab_size)
    assert got == exp["text"], got
    assert tc.rope_parameters["mrope_section"] == exp["rope"][0] and tc.rope_parameters["rope_theta"] == exp["rope"][1]
    assert tc.rms_norm_eps == 1e-6 and vc.depth == exp["vision_depth"] and config.tie_word_embeddings == exp["tied"]
    assert (vc.hidden_size if args.full_size == "qwen2_vl" else vc.out_hidden_size) == exp["vision_out"]
    if args.full_size == "qwen3_5":
        assert tc.layer_types == QWEN3_5_2B_LAYER_TYPES and tc.head_dim == 256
        assert (tc.linear_num_key_heads, tc.linear_num_value_heads, tc.linear_key_head_dim, tc.linear_value_head_dim,
                tc.linear_conv_kernel_dim) == (16, 16, 128, 128, 4)
        assert tc.rope_parameters["partial_rotary_factor"] == 0.25 and tc.rope_parameters["mrope_interleaved"]
        assert (vc.hidden_size, vc.num_heads, vc.intermediate_size, vc.patch_size, vc.num_position_embeddings) == (
            1024, 16, 4096, 16, 2304)
        assert vc.model_type == "qwen3_5_vision" and not getattr(vc, "deepstack_visual_indexes", [])

    torch.set_num_threads(args.threads)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        from transformers.initialization import no_init_weights  # skips the (slow, replaced anyway) default init
    except ImportError:  # pragma: no cover
        from transformers.modeling_utils import no_init_weights
    with no_init_weights():
        model = family.model_class(config)
    torch.set_default_dtype(default)
    model = model.to(torch.bfloat16).eval()  # (the rotary inv_freq buffers are not saved; loading recomputes them)
    model.tie_weights()  # init_weights, skipped above, is what normally ties lm_head to embed_tokens
    lm_tied = model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    assert lm_tied == exp["tied"]
    assert not any(n.startswith("mtp") for n, _ in model.named_parameters())  # transformers builds no MTP head
    rerandomise(model, SEED + 7, family.draw_rules(model) if family.draw_rules else None)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"built {args.full_size} ({n_params / 1e9:.3f} B parameters) in {time.time() - t0:.0f} s", flush=True)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="4GB")
    del model
    gc.collect()
    if args.config_form == "hub":
        write_json(out / "config.json", hub)
    files = FULL_SIZE_FILES[args.full_size]
    GenerationConfig(bos_token_id=files.endoftext, pad_token_id=files.endoftext,
                     eos_token_id=[files.im_end, files.endoftext], do_sample=False).save_pretrained(out)
    shutil.copyfile(files.tokenizer / "tokenizer.json", out / "tokenizer.json")
    tok_cfg = json.loads((files.tokenizer / "tokenizer_config.json").read_text())
    tok_cfg.pop("chat_template", None)
    write_json(out / "tokenizer_config.json", tok_cfg)
    shutil.copyfile(files.tokenizer / "NOTICE", out / "TOKENIZER-NOTICE")
    shutil.copyfile(files.template, out / "chat_template.jinja")
    preprocessor = json.loads(files.preprocessor.read_text())
    if files.processor_class:  # Qwen2.5-VL ships the same values as Qwen2-VL under its own processor class
        preprocessor["processor_class"] = files.processor_class
    write_json(out / "preprocessor_config.json", preprocessor)
    print(f"wrote {out} in {time.time() - t0:.0f} s:", ", ".join(sorted(p.name for p in out.iterdir())), flush=True)

    # check: transformers loads it and generates (in bf16, to stay within the memory of the writing step;
    # tools/bench_transformers_generate.py loads it in float32)
    t1 = time.time()
    model = family.model_class.from_pretrained(out, dtype=torch.bfloat16).eval()
    assert model.config.tie_word_embeddings == exp["tied"]
    if exp["tied"]:
        assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    tok = AutoTokenizer.from_pretrained(out)
    ip = Qwen2VLImageProcessorPil.from_dict(json.loads((out / "preprocessor_config.json").read_text()))
    img = synth_image(56, 56, 9)
    pv = ip([img], return_tensors="pt")
    text = tok.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe this image."}]}],
        tokenize=False, add_generation_prompt=True, **files.template_kwargs)
    text = text.replace("<|image_pad|>", "<|image_pad|>" * (int(pv["image_grid_thw"][0].prod()) // 4))
    input_ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    mm_token_type_ids = (input_ids == files.image_token).long()
    with torch.no_grad():
        gen = model.generate(input_ids=input_ids, pixel_values=pv["pixel_values"], image_grid_thw=pv["image_grid_thw"],
                             mm_token_type_ids=mm_token_type_ids, max_new_tokens=4, do_sample=False,
                             repetition_penalty=1.0)
    new = gen[0, input_ids.shape[1]:].tolist()
    with torch.no_grad():
        out_fwd = model(input_ids=input_ids, pixel_values=pv["pixel_values"], image_grid_thw=pv["image_grid_thw"],
                        mm_token_type_ids=mm_token_type_ids, use_cache=True)
    logits = out_fwd.logits
    assert torch.isfinite(logits).all()
    print(f"check: loaded in bfloat16 and generated {new} ({tok.decode(new)!r}) from {input_ids.shape[1]} prompt "
          f"tokens ({int(mm_token_type_ids.sum())} visual, grid {pv['image_grid_thw'][0].tolist()}); logits std "
          f"{float(logits[0, -1].std()):.3f}; {time.time() - t1:.0f} s", flush=True)
    if args.full_size == "qwen3_5":  # the DeltaNet state transformers keeps per sequence, against the formula
        conv = recurrent = 0
        shapes = set()
        for layer in out_fwd.past_key_values.layers:
            states = getattr(layer, "conv_states", None)
            if states and states.get(0) is not None:
                c, r = layer.conv_states[0], layer.recurrent_states[0]
                shapes.add((tuple(c.shape), str(c.dtype), tuple(r.shape), str(r.dtype)))
                conv += c.numel() * c.element_size()
                recurrent += r.numel() * r.element_size()
        expect = deltanet_state_bytes(model.config.text_config, conv_dtype_bytes=2)
        assert (conv, recurrent) == (expect["conv_bytes_as_stored"], expect["recurrent_bytes"]), (conv, recurrent,
                                                                                                   expect)
        print(f"DeltaNet state per sequence (bf16 model): conv {conv} B + recurrent {recurrent} B = "
              f"{conv + recurrent} B (cache shapes {sorted(shapes)}; formula {expect})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-size", choices=sorted(FULL_SIZE_HUB_CONFIGS),
                        help="write a full-size random checkpoint")
    parser.add_argument("--out", help="output directory for --full-size")
    parser.add_argument("--config-form", choices=["hub", "transformers"], default="hub",
                        help="--full-size config.json: the Hub's flat legacy form (default) or 5.23's nested form")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for --full-size (tiny mode uses 1)")
    args = parser.parse_args()
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        sys.exit("set HF_HUB_OFFLINE=1")
    if args.full_size:
        if not args.out:
            sys.exit("--full-size needs --out DIR")
        make_full_size(args)
    else:
        make_tiny(args)


if __name__ == "__main__":
    main()
