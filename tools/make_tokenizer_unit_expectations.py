#!/usr/bin/env python3
"""Prints the HF tokenizers expectations hard-coded in Tests/VLTokenizerTests (unit tests beyond the fixtures).

    .venv-ref/bin/python tools/make_tokenizer_unit_expectations.py

Builds the same small byte-level BPE tokenizer.json as Tests/VLTokenizerTests/TinyTokenizer.swift (256 byte tokens,
7 merges, the Qwen2 pattern, NFC, added tokens with every flag) and prints what tokenizers 0.23.3 gives for the
texts in AddedTokenTests, BytePairModelTests, DecodingTests.invalidUTF8, PreTokenizerTests and NormalizationTests.
"""
import json
import tempfile
from pathlib import Path

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from transformers.convert_slow_tokenizer import bytes_to_unicode

Q2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
Q35 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("a", "a"), ("Ġ", "Ġ")]
BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def added(id, content, special=False, lstrip=False, rstrip=False, single_word=False, normalized=False):
    return dict(id=id, content=content, special=special, lstrip=lstrip, rstrip=rstrip, single_word=single_word,
                normalized=normalized)


def document(merge_form="pairs"):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for index, (a, b) in enumerate(MERGES):
        vocab[a + b] = 256 + index
    merges = [list(m) for m in MERGES] if merge_form == "pairs" else ["#version: 0.2"] + [f"{a} {b}" for a, b in MERGES]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(300, "<tok>", special=True), added(301, "<lst>", lstrip=True),
                         added(302, "<rst>", rstrip=True), added(303, "<sw>", single_word=True),
                         added(304, "ṩ", normalized=True), added(308, "é", special=True), added(305, "<to"),
                         added(306, "ab"), added(307, "abc")],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": Q2}, "behavior": "Isolated", "invert": False}, BYTE_LEVEL]},
        "post_processor": BYTE_LEVEL, "decoder": BYTE_LEVEL,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def load(doc):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tokenizer.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        return Tokenizer.from_file(str(path))


def main():
    tok = load(document())
    print("== AddedTokenTests.cases: text, ids, decode, decode(skip_special_tokens=True)")
    for text in ["hello world", "a <lst> b", "a  <lst>b", "a <rst>  b", "a\t<lst>\u3000<rst>\u00a0b", "<lst><lst>",
                 " <rst> <lst> ", "x<sw>y", "x <sw> y", "<sw>", "_<sw>_", "s\u0323\u0307 \u1e69 s\u0307\u0323 é",
                 "<to <tok> <tok><tok>", "xabcx ab"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        print(json.dumps(text), ids, json.dumps(tok.decode(ids, skip_special_tokens=False)),
              json.dumps(tok.decode(ids, skip_special_tokens=True)))
    print("added token ids", {t.content: i for i, t in sorted(tok.get_added_tokens_decoder().items())})
    tok.encode_special_tokens = True
    print("encode_special_tokens", tok.encode("<tok><lst>", add_special_tokens=False).ids)

    print("== BytePairModelTests")
    for form in ("pairs", "strings"):
        print(form, load(document(form)).encode("hello world aaa", add_special_tokens=False).ids,
              load(document(form)).encode("aaaa aaa", add_special_tokens=False).ids)
    for ignore in (False, True):
        doc = document()
        doc["model"]["vocab"]["llo"] = 263
        doc["model"]["ignore_merges"] = ignore
        print("ignore_merges", ignore, load(doc).encode("llo hello", add_special_tokens=False).ids)

    print("== DecodingTests.invalidUTF8 (ids are bytes)")
    tok = load(document())
    for seq in [[0x61, 0xE0, 0x80, 0x62], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                [0xC0, 0xAF], [0xE4, 0xB8, 0x41], [0xF0, 0x9F, 0x98, 0x80, 0x80], [0xE0, 0xA0], [0xFF, 0xFE, 0x41],
                [0xF5, 0x80]]:
        print([hex(b) for b in seq], json.dumps(tok.decode(seq)))

    print("== PreTokenizerTests.matchesHF: qwen2 pieces, qwen3.5 pieces")
    for text in ["'ſa 'S 'Sa 'LL 'Re 'ver", "Hello  world\n\n  x", "a\u0301b \u0301c", "  \n \t\n  y",
                 "x\u00a0y\u3000z\u2028w\u180e", "(hello) 123 ½", "tab\tx \u0085y", "...\r\n\r\nend  ",
                 "é\u0301\u0301", "١٢٣abc"]:
        pieces = [[p for p, _ in pre_tokenizers.Split(Regex(q), behavior="isolated").pre_tokenize_str(text)]
                  for q in (Q2, Q35)]
        print(json.dumps(text), json.dumps(pieces, ensure_ascii=False))

    print("== PreTokenizerTests.regexPreTokenizers")
    doc = document()
    doc["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    print("gpt2", load(doc).encode("hello world  hello\n\nit's 123 ok?!", add_special_tokens=False).ids)
    doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "l"}, "behavior": "Isolated", "invert": False}, BYTE_LEVEL]}
    print("literal", load(doc).encode("hello world", add_special_tokens=False).ids)

    print("== NormalizationTests")
    nfc = normalizers.NFC()
    for text in ["e\u0301", "A\u030a\u0323", "\u1100\u1161\u11a8", "\u0344", "\U0001e8d6\u0f75", "a\u0301\u0f73",
                 "\u0f40\u0f81\u0316", "x\u0f75\u0f72", "\U00011935\U00011930", "a\U00010f47\u0301",
                 "a\U0001e130\u0316", "a\u1df6\u0316"]:
        print(" ".join(f"{ord(c):04X}" for c in text), "->", " ".join(f"{ord(c):04X}" for c in nfc.normalize_str(text)))


if __name__ == "__main__":
    main()
