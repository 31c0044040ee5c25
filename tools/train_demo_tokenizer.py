#!/usr/bin/env python3
"""A small byte-level BPE tokenizer for the demo world, laid out like Qwen3.5's (deterministic; seeded).

Run from the repository root with the reference venv (see tools/README.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/train_demo_tokenizer.py [--out Samples/Models/vlbatch-demo-qwen3.5]

tools/train_demo_model.py calls `build` itself; this entry point rewrites only the tokenizer files.

Writes OUT/tokenizer.json, OUT/tokenizer_config.json and OUT/chat_template.jinja:
  * tokenizer.json has the pipeline of Qwen3.5's own file (Tests/Fixtures/tokenizer/qwen3.5): NFC, the Qwen3.5
    pre-tokenizer regex (Split, Isolated) followed by ByteLevel without its regex, a byte-level BPE model with
    ignore_merges, the ByteLevel decoder. Only the vocabulary is new: 1,024 entries (the 256 byte symbols and
    512 merges) learnt from the world's prompts, answers and documents by Hugging Face tokenizers' BpeTrainer,
    followed by Qwen3.5's 33 added tokens in Qwen3.5's order and with its `special` flags, so every special
    token keeps its role (ids VOCAB+0 ... VOCAB+32 instead of 248044 ... 248076).
  * chat_template.jinja is Qwen3.5-4B's official template (Tests/Fixtures/chat-templates/qwen3.5.jinja), the one
    vlbatch recognises; the demo model is trained and evaluated with enable_thinking=False, which is vlbatch's
    default rendering.
The BPE trainer is deterministic for a given corpus, and the corpus is a seeded stream of the world.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_world import World  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "Samples" / "Models" / "vlbatch-demo-qwen3.5"
CHAT_TEMPLATE = ROOT / "Tests" / "Fixtures" / "chat-templates" / "qwen3.5.jinja"
BPE_VOCAB_SIZE = 768
CORPUS_SEED = 101
CORPUS_SAMPLES = 2000

# transformers' tokenization_qwen3_5.py (the Qwen2 regex with \p{M} joined to the letters).
QWEN35_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)

# Qwen3.5's added tokens 248044-248076 in id order, with the `special` flag of its tokenizer.json
# (qwen-architecture.md §6.2; Tests/Fixtures/tokenizer/qwen3.5/tokenizer.json).
ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
    ("<|repo_name|>", False), ("<|file_sep|>", False), ("<tool_response>", False), ("</tool_response>", False),
    ("<think>", False), ("</think>", False), ("<|audio_start|>", True), ("<|audio_end|>", True), ("<tts_pad>", True),
    ("<tts_text_bos>", True), ("<tts_text_eod>", True), ("<tts_text_bos_single>", True), ("<|audio_pad|>", True),
]


def corpus() -> list[str]:
    """The text the model will read and write: chat-turn framing, prompts, answers and text files."""
    world = World(CORPUS_SEED)
    texts = []
    for _ in range(CORPUS_SAMPLES):
        sample = world.sample()
        # The text between special tokens in a rendered training sequence (see tools/train_demo_model.py).
        texts += ["user\n" + sample.user_text(), "\n", "assistant\n", "\n\n" + sample.answer]
    return texts


def build(out: Path) -> Tokenizer:
    """Trains the tokenizer and writes tokenizer.json, tokenizer_config.json and chat_template.jinja to `out`."""
    tokenizer = Tokenizer(models.BPE(unk_token=None, byte_fallback=False, ignore_merges=True))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN35_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE, min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    if tokenizer.get_vocab_size() != BPE_VOCAB_SIZE:
        raise SystemExit(f"the corpus gave {tokenizer.get_vocab_size()} BPE entries, not {BPE_VOCAB_SIZE}")
    for content, special in ADDED_TOKENS:  # one at a time: ids follow the list order
        tokenizer.add_tokens([AddedToken(content, special=special, normalized=False)])

    # Qwen3.5's file also carries a ByteLevel post-processor (a no-op for ids); copy it for the same layout.
    data = json.loads(tokenizer.to_str())
    data["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                              "use_regex": False}
    for expected_id, (entry, (content, _)) in enumerate(zip(data["added_tokens"], ADDED_TOKENS), BPE_VOCAB_SIZE):
        assert entry["id"] == expected_id and entry["content"] == content, entry
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    config = {
        "add_bos_token": False, "add_prefix_space": False, "bos_token": None, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 262144, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "TokenizersBackend", "unk_token": None,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    return Tokenizer.from_file(str(out / "tokenizer.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    tokenizer = build(args.out)
    sample = World(7).sample("scene-caption")
    print(f"vocabulary {tokenizer.get_vocab_size()} (BPE {BPE_VOCAB_SIZE} + {len(ADDED_TOKENS)} added);",
          sample.answer, "->", tokenizer.encode(sample.answer).tokens)


if __name__ == "__main__":
    main()
