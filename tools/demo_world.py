#!/usr/bin/env python3
"""The synthetic world the vlbatch demo model is trained and evaluated on (deterministic; seeded).

Run from the repository root with the reference venv (see tools/README.md):

    .venv-ref/bin/python tools/demo_world.py --out Samples/Demo --seed 8008 --count 12

writes COUNT samples of every kind into OUT (scenes/, documents/, texts/) plus OUT/expected.jsonl, the exact answer
to every task asked of each file. tools/train_demo_tokenizer.py, tools/train_demo_model.py and
tools/eval_demo_model.py import this module; each uses its own seed, so training, evaluation and the committed
samples never share a sample stream.

The world is small and unambiguous on purpose, so that right and wrong answers are obvious to a reader:

* scenes: one or two groups of shapes (circle, square, triangle) in four colours (red, green, blue, yellow), one to
  three of each group, placed in separate cells of a grid so that none overlap, on a light noisy background. The
  caption names the groups in a canonical order: "Two red circles and one blue square." Scenes also answer "How
  many COLOUR SHAPEs are there?" with a digit (0 when there are none) and, asked for a document kind, "other".
* document images: invoice, receipt, letter and form, each with its own layout (an invoice's item table, a
  receipt's narrow slip, a letter's paragraphs and signature, a form's boxes and check boxes) and rendered text
  lines, drawn larger than the model's pixel budget so that the processor's downscaling is part of every sample.
  The kind is the one-word answer; their caption is "An invoice." and so on.
* text files: the same four kinds plus "other" (recipes, meeting notes, shopping lists), as plain text.

The prompts are the ones vlbatch's built-in pipelines send (Pipelines/*.swift): CAPTION_PROMPT for
caption-images and KIND_PROMPT for classify-documents. How the engine joins a text file and the question is not
fixed yet, so text samples put the question before or after the text, one or the other at random.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTION_PROMPT = "Describe this image in one sentence."  # Pipelines/CaptionImages.swift
KIND_PROMPT = "What kind of document is this?"  # Pipelines/ClassifyDocuments.swift
KINDS = ["invoice", "receipt", "letter", "form"]
TEXT_KINDS = KINDS + ["other"]  # the labels of classify-documents

COLOURS = {"red": (215, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 215), "yellow": (235, 195, 25)}
SHAPES = ["circle", "square", "triangle"]
NUMBER_WORDS = ["zero", "one", "two", "three"]

VENDORS = [
    "Northwind Supplies", "Blue Harbor Ltd", "Acme Tools", "Green Valley Farm", "Summit Office",
    "Riverside Books", "Maple Hardware", "Sunrise Bakery", "Polar Electric", "Oakwood Garden",
]
PEOPLE = ["Anna Berg", "Tom Lee", "Maria Rossi", "John Smith", "Lena Novak", "Omar Haddad", "Eva Klein", "Sam Ito"]
ITEMS = ["paper", "ink", "cables", "coffee", "bread", "nails", "chairs", "lamps", "tea", "apples", "pens", "soap"]
CITIES = ["Oslo", "Lyon", "Porto", "Graz", "Turin", "Leeds", "Bergen", "Ghent"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
LETTER_SENTENCES = [
    "Thank you for your visit last week.", "I am writing about the order we discussed.",
    "Please find the signed copy enclosed.", "We are glad to welcome you to the team.",
    "The meeting has moved to next Monday.", "I hope this letter finds you well.",
    "Our office will be closed in August.", "Let me know if you have any questions.",
    "We would like to thank you for your help.", "The new address is printed below.",
]
FORM_FIELDS = ["Name", "Date of birth", "Address", "Phone", "Email", "City", "Signature", "Date", "Member number"]
FORM_TITLES = ["APPLICATION FORM", "Registration form", "MEMBERSHIP FORM", "Request form", "FORM"]
OTHER_TEXTS = {
    "recipe": (["Pancakes", "Tomato soup", "Apple cake", "Rice salad"],
               ["Mix the flour and the milk.", "Add two eggs and a pinch of salt.", "Cook for ten minutes.",
                "Serve warm.", "Chop the onions.", "Bake for forty minutes.", "Stir well."]),
    "notes": (["Meeting notes", "Team sync", "Notes from Monday", "Project notes"],
              ["We agreed on the new plan.", "Next step: ask the design team.", "The release moves to May.",
               "Anna will send the slides.", "Budget is fine for now.", "Open question: who owns testing?"]),
    "list": (["Shopping list", "To do", "Packing list", "Things to buy"],
             ["- milk", "- bread", "- apples", "- call the bank", "- water the plants", "- socks", "- charger"]),
}


@dataclass
class Sample:
    """One file of the world and one task about it."""

    kind: str  # "scene", "document" or "text"
    prompt: str  # the user's question (for text, the question alone; see `user_text`)
    answer: str  # the exact expected answer
    task: str  # "caption", "count" or "kind"
    image: Image.Image | None = None
    text: str | None = None
    question_first: bool = False  # text samples: question before the text
    facts: dict = field(default_factory=dict)  # what the answer is made of, for field accuracy

    def user_text(self) -> str:
        """The text part of the user turn: the question, or for a text file the file and the question."""
        if self.text is None:
            return self.prompt
        return f"{self.prompt}\n\n{self.text}" if self.question_first else f"{self.text}\n\n{self.prompt}"

    def messages(self) -> list[dict]:
        """The user turn in the chat format of transformers' apply_chat_template (image first, then text)."""
        content = [{"type": "image"}] if self.image is not None else []
        content.append({"type": "text", "text": self.user_text()})
        return [{"role": "user", "content": content}]


def plural(shape: str, count: int) -> str:
    return shape if count == 1 else shape + "s"


def scene_caption(groups: list[tuple[int, str, str]]) -> str:
    """"Two red circles and one blue square.": groups in colour order, then shape order (canonical)."""
    ordered = sorted(groups, key=lambda g: (list(COLOURS).index(g[1]), SHAPES.index(g[2])))
    parts = [f"{NUMBER_WORDS[n]} {colour} {plural(shape, n)}" for n, colour, shape in ordered]
    sentence = " and ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font, so every machine with the same Pillow draws the same pixels."""
    return ImageFont.load_default(size=size)


def noisy_background(rng: random.Random, width: int, height: int, base: tuple[int, int, int]) -> Image.Image:
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0.0, 4.0, (height, width, 3))
    pixels = np.asarray(base, dtype=np.float64)[None, None, :] + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def jitter(rng: random.Random, colour: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)


class World:
    """A seeded stream of samples; the same seed gives the same samples in the same order."""

    # How often each kind of task is drawn when none is asked for.
    MIX = [("scene-caption", 0.34), ("scene-count", 0.14), ("scene-kind", 0.04), ("document-kind", 0.20),
           ("document-caption", 0.08), ("text-kind", 0.20)]

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def sample(self, what: str | None = None) -> Sample:
        if what is None:
            what = self.rng.choices([m for m, _ in self.MIX], weights=[w for _, w in self.MIX])[0]
        source, task = what.split("-")
        if source == "scene":
            return self.scene(task)
        if source == "document":
            return self.document_image(task, self.rng.choice(KINDS))
        return self.text_file(self.rng.choice(TEXT_KINDS))

    # MARK: scenes

    def scene(self, task: str) -> Sample:
        rng = self.rng
        types = [(c, s) for c in COLOURS for s in SHAPES]
        chosen = rng.sample(types, rng.choice([1, 1, 2, 2, 2]))
        groups = [(rng.randint(1, 3), colour, shape) for colour, shape in chosen]
        # Cells of 32 px at the model's resolution (the processor keeps 128 px sides), or 64 px drawn at twice the
        # size, which the processor halves: both sizes occur so that downscaling is learned too.
        columns, rows = rng.choice([(4, 4), (4, 3), (3, 4), (3, 3)])
        scale = rng.choice([1, 1, 2])
        cell = 32 * scale
        image = noisy_background(rng, columns * cell, rows * cell, jitter(rng, (235, 235, 228), 18))
        draw = ImageDraw.Draw(image)
        cells = rng.sample([(x, y) for x in range(columns) for y in range(rows)], sum(n for n, _, _ in groups))
        placed = [(colour, shape) for n, colour, shape in groups for _ in range(n)]
        for (cx, cy), (colour, shape) in zip(cells, placed):
            size = rng.randint(14, 26) * scale
            left = cx * cell + rng.randint(1, cell - size - 1)
            top = cy * cell + rng.randint(1, cell - size - 1)
            fill = jitter(rng, COLOURS[colour], 15)
            box = [left, top, left + size, top + size]
            if shape == "circle":
                draw.ellipse(box, fill=fill)
            elif shape == "square":
                draw.rectangle(box, fill=fill)
            else:
                draw.polygon([(left + size / 2, top), (left, top + size), (left + size, top + size)], fill=fill)
        facts = {"groups": sorted([n, c, s] for n, c, s in groups)}
        if task == "caption":
            return Sample("scene", CAPTION_PROMPT, scene_caption(groups), "caption", image=image, facts=facts)
        if task == "kind":
            return Sample("scene", KIND_PROMPT, "other", "kind", image=image, facts={"kind": "other"})
        # Ask about a type that is there two times in three, else about one that is absent (answer 0).
        colour, shape = rng.choice(chosen) if rng.random() < 0.67 else rng.choice(types)
        count = sum(n for n, c, s in groups if (c, s) == (colour, shape))
        prompt = f"How many {colour} {shape}s are there?"
        return Sample("scene", prompt, str(count), "count", image=image, facts={"count": count})

    # MARK: documents (shared content for images and text files)

    def amount(self) -> str:
        return f"{self.rng.randint(1, 400)}.{self.rng.randint(0, 99):02d}"

    def date(self) -> str:
        return f"2026-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def line_items(self, count: int) -> list[tuple[int, str, str]]:
        return [(self.rng.randint(1, 9), self.rng.choice(ITEMS), self.amount()) for _ in range(count)]

    # MARK: document images

    def document_image(self, task: str, kind: str) -> Sample:
        image = getattr(self, f"draw_{kind}")()
        if task == "caption":
            article = "An" if kind[0] in "aeiou" else "A"
            return Sample("document", CAPTION_PROMPT, f"{article} {kind}.", "caption", image=image,
                          facts={"kind": kind})
        return Sample("document", KIND_PROMPT, kind, "kind", image=image, facts={"kind": kind})

    def paper(self, width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        image = noisy_background(self.rng, width, height, jitter(self.rng, (246, 244, 238), 8))
        return image, ImageDraw.Draw(image)

    def ink(self) -> tuple[int, int, int]:
        grey = self.rng.randint(10, 70)
        return (grey, grey, grey + self.rng.randint(0, 30))

    def draw_invoice(self) -> Image.Image:
        rng = self.rng
        image, draw = self.paper(192, 256)
        ink = self.ink()
        accent = jitter(rng, rng.choice([(40, 80, 160), (150, 40, 40), (40, 120, 80), (60, 60, 60)]), 20)
        draw.rectangle([0, 0, 191, 34], fill=accent)
        draw.text((10, 8), rng.choice(["INVOICE", "Invoice", "TAX INVOICE"]), fill=(255, 255, 255), font=font(16))
        draw.text((10, 42), rng.choice(VENDORS), fill=ink, font=font(11))
        draw.text((10, 56), f"No. {rng.randint(1000, 9999)}   {self.date()}", fill=ink, font=font(10))
        draw.text((10, 70), "Bill to: " + rng.choice(PEOPLE), fill=ink, font=font(10))
        top, rows = 92, rng.randint(3, 5)
        draw.rectangle([8, top, 183, top + 16], fill=jitter(rng, (215, 215, 215), 10))
        for x, heading in [(12, "Item"), (80, "Qty"), (128, "Price")]:
            draw.text((x, top + 3), heading, fill=ink, font=font(10))
        for i, (qty, item, price) in enumerate(self.line_items(rows)):
            y = top + 16 + i * 18
            draw.line([8, y, 183, y], fill=(150, 150, 150))
            draw.text((12, y + 3), item, fill=ink, font=font(10))
            draw.text((80, y + 3), str(qty), fill=ink, font=font(10))
            draw.text((128, y + 3), self.amount(), fill=ink, font=font(10))
        bottom = top + 16 + rows * 18
        draw.rectangle([8, top, 183, bottom], outline=(120, 120, 120))
        draw.line([70, top, 70, bottom], fill=(150, 150, 150))
        draw.line([118, top, 118, bottom], fill=(150, 150, 150))
        draw.text((90, bottom + 10), f"Total {self.amount()} {rng.choice(CURRENCIES)}", fill=ink, font=font(11))
        draw.text((10, 236), "Payment within 30 days", fill=ink, font=font(9))
        return image

    def draw_receipt(self) -> Image.Image:
        rng = self.rng
        # A narrow slip on a darker table, as a phone photo of a till receipt looks.
        image = noisy_background(rng, 128, 256, jitter(rng, (120, 100, 80), 25))
        draw = ImageDraw.Draw(image)
        left, right = rng.randint(6, 16), 128 - rng.randint(6, 16)
        draw.rectangle([left, 4, right, 251], fill=jitter(rng, (250, 250, 246), 5))
        ink = self.ink()
        vendor = rng.choice(VENDORS)
        draw.text(((left + right) // 2, 14), vendor.split()[0].upper(), fill=ink, font=font(11), anchor="mt")
        draw.text(((left + right) // 2, 30), "RECEIPT", fill=ink, font=font(9), anchor="mt")
        y = 46
        for _, item, price in self.line_items(rng.randint(3, 7)):
            draw.text((left + 4, y), item, fill=ink, font=font(9))
            draw.text((right - 4, y), price, fill=ink, font=font(9), anchor="ra")
            y += 14
        for x in range(left + 3, right - 3, 6):
            draw.line([x, y + 2, x + 3, y + 2], fill=ink)
        draw.text((left + 4, y + 8), "TOTAL", fill=ink, font=font(10))
        draw.text((right - 4, y + 8), self.amount(), fill=ink, font=font(10), anchor="ra")
        draw.text(((left + right) // 2, 236), "Thank you!", fill=ink, font=font(9), anchor="mt")
        return image

    def draw_letter(self) -> Image.Image:
        rng = self.rng
        image, draw = self.paper(192, 256)
        ink = self.ink()
        sender = rng.choice(PEOPLE)
        draw.text((110, 10), sender, fill=ink, font=font(9))
        draw.text((110, 22), rng.choice(CITIES), fill=ink, font=font(9))
        draw.text((110, 40), self.date(), fill=ink, font=font(9))
        draw.text((12, 62), f"Dear {rng.choice(PEOPLE).split()[0]},", fill=ink, font=font(10))
        y = 80
        for _ in range(rng.randint(2, 3)):
            for width in [rng.randint(150, 172) for _ in range(rng.randint(2, 4))] + [rng.randint(50, 130)]:
                words = rng.choice(LETTER_SENTENCES)
                draw.text((12, y), words[: width // 5], fill=ink, font=font(9))
                y += 12
            y += 8
        draw.text((12, y + 4), rng.choice(["Best regards,", "Sincerely,", "Kind regards,"]), fill=ink, font=font(9))
        points = [(14 + i * 6, y + 26 + rng.randint(-5, 5)) for i in range(10)]
        draw.line(points, fill=(30, 40, 120), width=2)  # the signature
        draw.text((12, y + 38), sender, fill=ink, font=font(9))
        return image

    def draw_form(self) -> Image.Image:
        rng = self.rng
        image, draw = self.paper(192, 256)
        ink = self.ink()
        draw.text((96, 10), rng.choice(FORM_TITLES), fill=ink, font=font(13), anchor="mt")
        draw.line([10, 30, 182, 30], fill=ink, width=2)
        y = 40
        for name in rng.sample(FORM_FIELDS, rng.randint(4, 6)):
            draw.text((10, y + 4), name + ":", fill=ink, font=font(9))
            draw.rectangle([84, y, 182, y + 18], outline=(90, 90, 90), fill=(255, 255, 255))
            if rng.random() < 0.5:  # some boxes filled in by hand
                draw.text((88, y + 4), rng.choice(PEOPLE + CITIES), fill=(30, 40, 120), font=font(9))
            y += 26
        for i, option in enumerate(rng.sample(["Member", "Guest", "Student", "Staff"], 2)):
            x = 10 + i * 86
            draw.rectangle([x, y + 4, x + 10, y + 14], outline=ink, fill=(255, 255, 255))
            if rng.random() < 0.5:
                draw.line([x + 2, y + 9, x + 5, y + 12, x + 9, y + 5], fill=(30, 40, 120), width=2)
            draw.text((x + 16, y + 4), option, fill=ink, font=font(9))
        return image

    # MARK: text files

    def text_file(self, kind: str) -> Sample:
        text = getattr(self, f"write_{kind}")()
        return Sample("text", KIND_PROMPT, kind, "kind", text=text, question_first=self.rng.random() < 0.5,
                      facts={"kind": kind})

    def write_invoice(self) -> str:
        rng = self.rng
        lines = [f"{rng.choice(['INVOICE', 'Invoice', 'Tax invoice'])} No. {rng.randint(1000, 9999)}",
                 f"From: {rng.choice(VENDORS)}", f"To: {rng.choice(PEOPLE)}, {rng.choice(CITIES)}",
                 f"Date: {self.date()}"]
        lines += [f"{qty} x {item}  {price}" for qty, item, price in self.line_items(rng.randint(1, 4))]
        lines += [f"Total due: {self.amount()} {rng.choice(CURRENCIES)}",
                  rng.choice(["Payment within 30 days.", "Please pay by bank transfer.", "Due on receipt."])]
        return "\n".join(lines)

    def write_receipt(self) -> str:
        rng = self.rng
        lines = [rng.choice(VENDORS), f"Receipt {rng.randint(100, 9999)}  {self.date()} "
                 f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"]
        lines += [f"{item}   {price}" for _, item, price in self.line_items(rng.randint(1, 5))]
        lines += [f"TOTAL {self.amount()} {rng.choice(CURRENCIES)}",
                  rng.choice(["Paid by card. Thank you!", "Cash. Thank you for shopping!", "Thank you!"])]
        return "\n".join(lines)

    def write_letter(self) -> str:
        rng = self.rng
        body = " ".join(rng.sample(LETTER_SENTENCES, rng.randint(2, 4)))
        return "\n".join([f"{rng.choice(CITIES)}, {self.date()}", "", f"Dear {rng.choice(PEOPLE).split()[0]},", "",
                          body, "", rng.choice(["Best regards,", "Sincerely,", "Kind regards,"]),
                          rng.choice(PEOPLE)])

    def write_form(self) -> str:
        rng = self.rng
        lines = [rng.choice(FORM_TITLES)]
        for name in rng.sample(FORM_FIELDS, rng.randint(3, 6)):
            lines.append(f"{name}: " + (rng.choice(PEOPLE + CITIES) if rng.random() < 0.4 else "__________"))
        options = rng.sample(["Member", "Guest", "Student", "Staff"], 2)
        lines.append("  ".join(f"[{rng.choice([' ', 'x'])}] {o}" for o in options))
        return "\n".join(lines)

    def write_other(self) -> str:
        titles, lines = OTHER_TEXTS[self.rng.choice(sorted(OTHER_TEXTS))]
        return "\n".join([self.rng.choice(titles)] + self.rng.sample(lines, self.rng.randint(3, 5)))


def write_samples(out: Path, seed: int, count: int) -> None:
    """COUNT files of each kind under OUT and expected.jsonl with every task's answer per file."""
    world = World(seed)
    records = []
    what = [("scenes", f"scene-{i + 1:02d}.png", lambda: world.scene("caption")) for i in range(count)]
    what += [("documents", f"document-{i + 1:02d}.png", lambda i=i: world.document_image("kind", KINDS[i % 4]))
             for i in range(count)]
    what += [("texts", f"text-{i + 1:02d}.txt", lambda i=i: world.text_file(TEXT_KINDS[i % 5])) for i in range(count)]
    # The kinds cycle above so that every kind is present; shuffle so that names do not give the kind away.
    world.rng.shuffle(what)
    numbers: dict[str, int] = {}
    for folder, _, make in what:
        numbers[folder] = numbers.get(folder, 0) + 1
        sample = make()
        stem = {"scenes": "scene", "documents": "document", "texts": "text"}[folder]
        name = f"{folder}/{stem}-{numbers[folder]:02d}." + ("txt" if sample.text is not None else "png")
        (out / folder).mkdir(parents=True, exist_ok=True)
        if sample.text is not None:
            (out / name).write_text(sample.text + "\n", encoding="utf-8")
            records.append({"file": name, "kind": sample.answer})
        else:
            sample.image.save(out / name, optimize=True)
            if sample.kind == "scene":
                records.append({"file": name, "caption": sample.answer, "kind": "other",
                                "groups": sample.facts["groups"]})
            else:
                records.append({"file": name, "caption": f"{'An' if sample.answer[0] in 'aeiou' else 'A'} "
                                f"{sample.answer}.", "kind": sample.answer})
    records.sort(key=lambda r: r["file"])
    with open(out / "expected.jsonl", "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=8008)
    parser.add_argument("--count", type=int, default=12, help="files of each kind (scenes, documents, texts)")
    args = parser.parse_args()
    write_samples(args.out, args.seed, args.count)


if __name__ == "__main__":
    main()
