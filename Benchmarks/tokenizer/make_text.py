#!/usr/bin/env python3
"""Writes the tokenizer benchmark's input: a few MB of seeded, mixed-script text.

    .venv-ref/bin/python Benchmarks/tokenizer/make_text.py OUT.txt [--megabytes 4]

Run from the repository root (any Python 3.9+ works; it needs only the standard library). Last run with Python
3.11.7. Deterministic: the same arguments give byte-identical output (random.Random(SEED), no other input).

The file is UTF-8 text in paragraphs (lines ending in "\\n", blank lines between some of them), about this mix by
bytes: English prose-like sentences ~40 %, source code (Python, Swift, JSON, HTML) ~20 %, Chinese/Japanese ~12 %,
Cyrillic ~8 %, Arabic ~6 %, numbers and tables ~8 %, emoji-rich chat text ~6 %. It stops at the first paragraph
boundary at or after --megabytes * 1,000,000 bytes.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SEED = 20260524

EN_WORDS = ("time person year way day thing man world life hand part child eye woman place work week case point "
            "government company number group problem fact image model picture color light window street river city "
            "the of and to a in is it you that he was for on are with as his they be at one have this from or had "
            "by not word but what some we can out other were all there when up use your how said an each she which "
            "do their if will way about many then them would write like so these her long make thing see him two "
            "has look more day could go come did my sound no most people over know water than call first who may "
            "down side been now find quickly slowly bright dark small large old new red green blue careful").split()
CODE = [
    "def load(path: str) -> dict:\n    with open(path, encoding=\"utf-8\") as f:\n        return json.load(f)\n",
    "for i, (name, value) in enumerate(items.items()):\n    if value is None:\n        continue\n"
    "    print(f\"{i:4d} {name:<20} {value!r}\")\n",
    "func resize(_ image: Image, to size: Size) throws -> Image {\n    guard size.width > 0 else { throw Error.size }\n"
    "    return try image.scaled(width: size.width, height: size.height)\n}\n",
    "struct Config: Codable, Sendable {\n    var maxPixels: Int = 12_845_056\n    var patchSize = 14\n}\n",
    "{\"model_type\": \"qwen2_vl\", \"hidden_size\": 1536, \"vision_config\": {\"depth\": 32, \"embed_dim\": 1280}, "
    "\"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 24]}}\n",
    "<div class=\"card\">\n  <img src=\"/static/img/cat.jpg\" alt=\"A cat\" width=\"640\" height=\"480\">\n"
    "  <p>Caption &amp; credits</p>\n</div>\n",
    "if (x < 0 || x >= width) { return -1; }\nconst idx = y * stride + x * 3;\npixels[idx] = 0xff;\n",
]
CJK = ("视觉语言模型可以理解图像和文本。这张图片显示了一只猫坐在窗台上，阳光照在它的身上。"
       "今日はとても良い天気ですね。写真にはたくさんの人が写っています。東京の街並みは美しい。"
       "机器学习和深度学习正在改变世界。请描述这张图片中的内容，并说明主要的颜色。")
CYRILLIC_WORDS = ("модель изображение текст кошка сидит на окне солнце светит ярко город улица река время человек "
                  "работа день неделя вопрос ответ описание красный зелёный синий большой маленький новый").split()
ARABIC_WORDS = ("نموذج صورة نص قطة تجلس على النافذة الشمس مشرقة المدينة الشارع النهر الوقت الإنسان العمل اليوم "
                "سؤال جواب وصف أحمر أخضر أزرق كبير صغير جديد").split()
EMOJI = ["😀", "😂", "👍", "🎉", "🐱", "🌍", "🚀", "❤️", "👩‍💻", "👍🏽", "🇯🇵", "✅", "🔥", "🤔"]


def paragraph(rng: random.Random) -> str:
    kind = rng.choices(["en", "code", "cjk", "ru", "ar", "num", "emoji"], [40, 20, 12, 8, 6, 8, 6])[0]
    if kind == "en":
        sentences = []
        for _ in range(rng.randint(2, 7)):
            words = [rng.choice(EN_WORDS) for _ in range(rng.randint(5, 18))]
            words[0] = words[0].capitalize()
            if rng.random() < 0.2:
                words.insert(rng.randrange(len(words)), rng.choice(["don't", "it's", "we're", "I've", "they'll"]))
            sentences.append(" ".join(words) + rng.choice([".", ".", ".", "!", "?", ";"]))
        return " ".join(sentences) + "\n"
    if kind == "code":
        return "".join(rng.sample(CODE, rng.randint(1, 3)))
    if kind == "cjk":
        start = rng.randrange(len(CJK) - 40)
        return CJK[start:start + rng.randint(20, 40)] + "\n"
    if kind == "ru":
        words = [rng.choice(CYRILLIC_WORDS) for _ in range(rng.randint(8, 30))]
        return words[0].capitalize() + " " + " ".join(words[1:]) + ".\n"
    if kind == "ar":
        return " ".join(rng.choice(ARABIC_WORDS) for _ in range(rng.randint(8, 30))) + ".\n"
    if kind == "num":
        rows = []
        for _ in range(rng.randint(2, 6)):
            rows.append(" | ".join([f"{rng.randint(0, 99999):>5}", f"{rng.uniform(-1000, 1000):.3f}",
                                    f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(10, 30)}",
                                    f"{rng.randint(0, 10**9):,}"]))
        return "\n".join(rows) + "\n"
    out = []
    for _ in range(rng.randint(3, 10)):
        out.append(rng.choice(EN_WORDS))
        if rng.random() < 0.4:
            out.append(rng.choice(EMOJI))
    return " ".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--megabytes", type=float, default=4.0)
    args = parser.parse_args()
    rng = random.Random(SEED)
    target = int(args.megabytes * 1_000_000)
    parts, size = [], 0
    while size < target:
        p = paragraph(rng)
        if rng.random() < 0.3:
            p += "\n"
        parts.append(p)
        size += len(p.encode("utf-8"))
    Path(args.out).write_bytes("".join(parts).encode("utf-8"))
    print(f"wrote {args.out}: {size} bytes")


if __name__ == "__main__":
    main()
