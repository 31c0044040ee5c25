#!/usr/bin/env python3
"""Reference renderings of the Qwen-VL chat templates with transformers' own chat-template machinery.

Run from the repository root with the reference venv (see tools/README.md), after tools/make_tokenizer_fixtures.py
(the token ids use its tokenizer.json files):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_chat_template_fixtures.py [--llama-cpp DIR]

DIR is llama.cpp's source tree as vendored by the llama-cpp-python 0.3.36 sdist (default DEFAULT_LLAMA_CPP); only
its models/templates/Qwen3.5-4B.jinja is read.

Last run with: Python 3.11.7, transformers 5.23.0, Jinja2 3.1.6, tokenizers 0.23.3. Deterministic (no randomness):
a second run with the same versions rewrites byte-identical files.

Inputs and outputs, in Tests/Fixtures/chat-templates/ (SOURCES.md says where each template came from):
  * qwen2-vl.jinja, qwen3-vl.jinja -- committed inputs, transcribed from public copies of the Hub files; the script
    only checks them (sha256, and the length of their JSON-escaped text, which equals the length of the string
    literals in the copies cited in SOURCES.md).
  * qwen3.5.jinja -- written: llama.cpp's models/templates/Qwen3.5-4B.jinja, byte for byte.
  * qwen3.5-small.jinja -- written, DERIVED (not a verbatim copy): qwen3.5.jinja with only the generation-prompt
    block changed to the one third-party copies report for Qwen3.5-0.8B and -2B (thinking off unless
    enable_thinking is true). See SOURCES.md.
  * cases.json -- the three official templates (qwen2-vl, qwen3-vl, qwen3.5): a list of
    {"name", "template", "messages", "kwargs", "rendered", "tokenizer", "ids"}, every entry a successful rendering.
  * extra-cases.json -- the same schema for what cases.json leaves out so that every cases.json entry is a plain
    success on an official template: all cases of the derived qwen3.5-small template, the add_vision_id cases of
    all four templates, and the cases where the template raises, which carry "error" (the message of the jinja2
    TemplateError raised by the template's raise_exception()) instead of rendered/tokenizer/ids.
  In both: rendered = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=<template text>,
    **kwargs) with a transformers TokenizersBackend built on ../tokenizer/<tokenizer>/tokenizer.json (qwen2 for
    qwen2-vl and qwen3-vl, qwen3.5 for the Qwen3.5 templates); kwargs always holds add_generation_prompt and any
    template variables (enable_thinking, add_vision_id) the case passes; a key that is absent was not passed.
    ids = Tokenizer.from_file(tokenizer.json).encode(rendered, add_special_tokens=False).ids (checked equal to
    apply_chat_template(..., tokenize=True)). Message content is either a string or a list of parts
    {"type": "image"} / {"type": "text", "text": ...}.

transformers renders with jinja2's ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) plus the
loopcontrols extension, a tojson filter, raise_exception() and namespace(); the tokenizer's special tokens
(eos_token, pad_token, ...) are passed as extra variables. A Swift renderer must apply trim_blocks/lstrip_blocks
and drop one trailing newline at the end of the template (jinja2's keep_trailing_newline=False) to match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import jinja2
import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "chat-templates"
TOKENIZERS = ROOT / "Tests" / "Fixtures" / "tokenizer"
DEFAULT_LLAMA_CPP = "/tmp/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"

# name -> (sha256 of the file, length of json.dumps(text) without its quotes, as measured in the cited copies)
TRANSCRIBED = {
    "qwen2-vl": ("a0bc6f6fc7a29a80017a433e8f03a1cc1236e838a944a2d034295a60c4f2fddb", 1023),
    "qwen3-vl": ("3636d0f0bd6bef02654cdffdc447b79cb2cef8ab02cc75267345946291a489e4", 5472),
}
QWEN35_4B_SHA256 = "a4aee8afcf2e0711942cf848899be66016f8d14a889ff9ede07bca099c28f715"
GEN_PROMPT_4B = """\
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- else %}
        {{- '<think>\\n' }}
    {%- endif %}
{%- endif %}"""
GEN_PROMPT_SMALL = """\
    {%- if enable_thinking is defined and enable_thinking is true %}
        {{- '<think>\\n' }}
    {%- else %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""

TEMPLATE_TOKENIZER = {"qwen2-vl": "qwen2", "qwen3-vl": "qwen2", "qwen3.5": "qwen3.5", "qwen3.5-small": "qwen3.5"}

IMAGE = {"type": "image"}


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def user(*parts) -> dict:
    return {"role": "user", "content": list(parts)}


# (name, messages, kwargs). Every case is rendered with every template.
CASES = [
    ("one_image_then_text", [user(IMAGE, text("Describe this image."))], {"add_generation_prompt": True}),
    ("text_only", [user(text("What is the capital of France?"))], {"add_generation_prompt": True}),
    ("text_only_string_content", [{"role": "user", "content": "What is the capital of France?"}],
     {"add_generation_prompt": True}),
    ("two_images_then_text", [user(IMAGE, IMAGE, text("What changed between these two images?"))],
     {"add_generation_prompt": True}),
    ("text_image_text_interleaved",
     [user(text("Here is a photo:"), IMAGE, text("and here is another one:"), IMAGE, text("Which is older?"))],
     {"add_generation_prompt": True}),
    ("text_then_image", [user(text("Read the sign."), IMAGE)], {"add_generation_prompt": True}),
    ("system_message_parts",
     [{"role": "system", "content": [text("You are a terse assistant. Answer in one word.")]},
      user(IMAGE, text("What animal is this?"))], {"add_generation_prompt": True}),
    ("system_message_string",
     [{"role": "system", "content": "You are a terse assistant."}, user(IMAGE, text("What animal is this?"))],
     {"add_generation_prompt": True}),
    ("user_text_with_surrounding_whitespace",
     [user(text("\n\n  What is written here?  \n"), IMAGE, text("  Answer briefly.\n\n"))],
     {"add_generation_prompt": True}),
    ("whitespace_only_text_after_image", [user(IMAGE, text(" \n\t "))], {"add_generation_prompt": True}),
    ("empty_text_part", [user(IMAGE, text(""))], {"add_generation_prompt": True}),
    ("image_only", [user(IMAGE)], {"add_generation_prompt": True}),
    ("enable_thinking_false", [user(IMAGE, text("Describe this image."))],
     {"add_generation_prompt": True, "enable_thinking": False}),
    ("enable_thinking_true", [user(IMAGE, text("Describe this image."))],
     {"add_generation_prompt": True, "enable_thinking": True}),
    ("no_generation_prompt", [user(IMAGE, text("Describe this image."))], {"add_generation_prompt": False}),
    ("two_turns",
     [user(IMAGE, text("What is in the picture?")),
      {"role": "assistant", "content": "A cat sitting on a windowsill."},
      user(text("What colour is it?"))], {"add_generation_prompt": True}),
    ("two_turns_thinking_true",
     [user(IMAGE, text("What is in the picture?")),
      {"role": "assistant", "content": "A cat sitting on a windowsill."},
      user(text("What colour is it?"))], {"add_generation_prompt": True, "enable_thinking": True}),
    ("assistant_history_with_think_block",
     [user(text("2+2?")), {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n4"},
      user(text("And 3+3?"))], {"add_generation_prompt": True}),
    ("final_assistant_turn_no_generation_prompt",
     [user(IMAGE, text("Describe this image.")),
      {"role": "assistant", "content": [text("A red bicycle.")]}], {"add_generation_prompt": False}),
    ("add_vision_id", [user(IMAGE, IMAGE, text("Compare them."))],
     {"add_generation_prompt": True, "add_vision_id": True}),
    ("special_tokens_and_unicode_in_text",
     [user(IMAGE, text("Is <|im_end|> or <think> in the caption \u201ccaf\u00e9 \U0001f30d\u201d?"))],
     {"add_generation_prompt": True}),
    ("system_only", [{"role": "system", "content": "You are a helpful assistant."}],
     {"add_generation_prompt": True}),
    ("image_in_system_message", [{"role": "system", "content": [IMAGE, text("Context image.")]},
                                 user(text("What is in the context image?"))], {"add_generation_prompt": True}),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, transformers {transformers.__version__}, Jinja2 {jinja2.__version__}, "
          f"tokenizers {tokenizers.__version__}")

    templates: dict[str, str] = {}
    for name, (digest, escaped_len) in TRANSCRIBED.items():
        data = (OUT / f"{name}.jinja").read_bytes()
        assert sha256(data) == digest, f"{name}.jinja changed"
        assert len(json.dumps(data.decode("utf-8"))) - 2 == escaped_len
        templates[name] = data.decode("utf-8")
    src = (Path(args.llama_cpp) / "models" / "templates" / "Qwen3.5-4B.jinja").read_bytes()
    assert sha256(src) == QWEN35_4B_SHA256
    qwen35 = src.decode("utf-8")
    assert qwen35.count(GEN_PROMPT_4B) == 1 and qwen35.endswith(GEN_PROMPT_4B)
    templates["qwen3.5"] = qwen35
    templates["qwen3.5-small"] = qwen35.replace(GEN_PROMPT_4B, GEN_PROMPT_SMALL)
    (OUT / "qwen3.5.jinja").write_bytes(src)
    (OUT / "qwen3.5-small.jinja").write_text(templates["qwen3.5-small"], encoding="utf-8")

    backends = {name: PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZERS / name / "tokenizer.json"))
                for name in ("qwen2", "qwen3.5")}
    raw = {name: Tokenizer.from_file(str(TOKENIZERS / name / "tokenizer.json")) for name in ("qwen2", "qwen3.5")}

    cases = []
    for template_name, template in templates.items():
        tok_name = TEMPLATE_TOKENIZER[template_name]
        backend = backends[tok_name]
        for case_name, messages, kwargs in CASES:
            entry = {"name": case_name, "template": template_name, "messages": messages, "kwargs": kwargs}
            try:
                rendered = backend.apply_chat_template(messages, tokenize=False, chat_template=template, **kwargs)
            except jinja2.exceptions.TemplateError as e:
                entry["error"] = str(e)
                cases.append(entry)
                continue
            ids = raw[tok_name].encode(rendered, add_special_tokens=False).ids
            via_hf = backend.apply_chat_template(messages, tokenize=True, return_dict=False, chat_template=template,
                                                 **kwargs)
            assert list(via_hf) == ids, (template_name, case_name)
            entry.update({"rendered": rendered, "tokenizer": tok_name, "ids": ids})
            cases.append(entry)

    # Sanity checks against the prompts documented in the team's qwen-architecture.md section 6.3.
    by_key = {(c["template"], c["name"]): c for c in cases}
    body = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n"
    assert by_key[("qwen2-vl", "one_image_then_text")]["rendered"] == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" + body + "<|im_start|>assistant\n")
    assert by_key[("qwen3-vl", "one_image_then_text")]["rendered"] == body + "<|im_start|>assistant\n"
    assert by_key[("qwen3.5", "one_image_then_text")]["rendered"] == body + "<|im_start|>assistant\n<think>\n"
    assert by_key[("qwen3.5-small", "one_image_then_text")]["rendered"] == (
        body + "<|im_start|>assistant\n<think>\n\n</think>\n\n")

    def is_extra(c: dict) -> bool:
        return "error" in c or c["template"] == "qwen3.5-small" or "add_vision_id" in c["kwargs"]

    main_cases = [c for c in cases if not is_extra(c)]
    extra_cases = [c for c in cases if is_extra(c)]
    for name, subset in (("cases.json", main_cases), ("extra-cases.json", extra_cases)):
        (OUT / name).write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    errors = [(c["template"], c["name"]) for c in cases if "error" in c]
    print(f"rendered {len(CASES)} message lists x {len(templates)} templates: {len(main_cases)} in cases.json, "
          f"{len(extra_cases)} in extra-cases.json; template errors: {errors}")


if __name__ == "__main__":
    main()
