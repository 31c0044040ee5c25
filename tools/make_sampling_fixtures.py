"""Generates Tests/Fixtures/sampling/processors.json: transformers' logits processors applied to small rows.

Run with the team's reference environment (tools/README.md); the reference venv at the repository root was not
ready when this was written, so the committed fixture was made in a venv of its own with the same pins:

    python3 -m venv /work/venv-sampling
    /work/venv-sampling/bin/pip install 'torch==2.13.0+cpu'
    /work/venv-sampling/bin/pip install transformers==5.23.0 numpy
    /work/venv-sampling/bin/python tools/make_sampling_fixtures.py     # or .venv-ref/bin/python

Everything is seeded: a rerun with the same versions writes the same bytes.

What it writes (about 100 KB):
  rows   four float32 logits rows of a few hundred entries: Gaussian with forced ties at the top and at the 10th
         value, peaked (one dominant token, a tied runner-up), quantized to halves (many ties), and mostly negative
         with some entries already -inf (as a constrained decoder leaves them).
  cases  a row, the token ids seen so far (prompt and generated, with repeats and one id past the row, which
         transformers clamps and ignores), the resolved generation parameters (all six, transformers' global
         defaults filled in, plus vlbatch's run seed 0), the processor classes `GenerationMixin._get_logits_processor` builds for them, in
         order, the processed row (-inf for removed tokens) and its argmax.
         "alone" cases switch on one processor and are computed by calling that class directly (the script checks
         the builder gives the same single class and the same output); "combined" cases run the list the builder
         returns for a GenerationConfig.

Numbers are written as the shortest decimal that reads back (through a double) as the same float32; -inf as the
string "-inf".

Borderline cases are refused rather than recorded: a top-p case must keep the same tokens when top_p moves by
+-1e-5, a min-p case when min_p moves by a relative +-1e-5 (vlbatch's fp32 softmax may differ from torch's by an
ulp or so), and no group of tokens with equal logits may be split by the top-p cut (torch.sort is not stable on the
CPU, so which of them transformers keeps is arbitrary). The script stops if any case fails these checks.
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import transformers
from transformers import GenerationConfig
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.generation.utils import GenerationMixin

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "sampling" / "processors.json"
RNG = np.random.default_rng(20260611)


def make_rows():
    rows = {}
    # Gaussian, with the maximum tied three times and five extra copies of the 10th largest value.
    r = RNG.normal(0, 2.5, 300).astype(np.float32)
    top = r.max()
    r[[7, 150, 299]] = top
    tenth = np.sort(r)[::-1][9]
    r[[11, 12, 200, 201, 250]] = tenth
    rows["gaussian-ties"] = r
    # Peaked: one dominant token and a tied runner-up.
    r = RNG.normal(-2, 1.5, 257).astype(np.float32)
    r[40] = 9.0
    r[[3, 90]] = 6.5
    rows["peaked"] = r
    # Quantized to halves: many ties everywhere.
    rows["quantized"] = (np.round(RNG.normal(0, 3, 400) * 2) / 2).astype(np.float32)
    # Mostly negative, with some entries already removed.
    r = RNG.normal(-5, 3, 300).astype(np.float32)
    r[RNG.choice(300, 40, replace=False)] = -np.inf
    rows["masked"] = r
    return rows


def seen_ids(row):
    """Prompt-and-generated ids: repeats, the row's top tokens (so the penalty can move the argmax), one id past the
    row's end."""
    n = len(row)
    ids = list(RNG.integers(0, n, 20))
    ids += list(np.argsort(-row, kind="stable")[:3])
    ids += ids[:5]
    ids.append(n + 5)
    return [int(i) for i in ids]


DEFAULTS = GenerationConfig._get_default_generation_params()


def resolved(**params):
    """A GenerationConfig with transformers' global defaults filled in, as `_prepare_generation_config` does."""
    config = GenerationConfig(**params)
    config.update(**DEFAULTS, defaults_only=True)
    return config


def params_of(config):
    return {
        "do_sample": bool(config.do_sample),
        "temperature": float(config.temperature),
        "top_k": int(config.top_k),
        "top_p": float(config.top_p),
        "min_p": float(config.min_p) if config.min_p is not None else 0.0,
        "repetition_penalty": float(config.repetition_penalty),
        "seed": 0,  # vlbatch's run seed, so the object decodes as a SamplingParameters
    }


class FakeModel(GenerationMixin):
    """Just enough of a decoder-only model for `_get_logits_processor`."""

    def __init__(self):
        self.config = SimpleNamespace(is_encoder_decoder=False)


def builder_list(config, input_ids):
    return GenerationMixin._get_logits_processor(
        FakeModel(),
        generation_config=config,
        input_ids_seq_length=input_ids.shape[1],
        encoder_input_ids=None,
        prefix_allowed_tokens_fn=None,
        logits_processor=LogitsProcessorList(),
        device="cpu",
        model_kwargs={"attention_mask": torch.ones_like(input_ids)},
    )


def run(processors, input_ids, row):
    scores = torch.from_numpy(row.copy())[None, :]
    for processor in processors:
        scores = processor(input_ids, scores)
    return scores[0].numpy().astype(np.float32)


def kept(values):
    return tuple(np.nonzero(values != -np.inf)[0].tolist())


def check_robust(name, config, input_ids, row, out):
    """Refuses cases whose kept set hinges on an fp32 rounding (see the module docstring)."""
    perturbed = []
    if config.do_sample and config.top_p < 1.0:
        for delta in (-1e-5, 1e-5):
            c = resolved(**{**params_of(config), "top_p": min(1.0, config.top_p + delta)})
            perturbed.append(c)
    if config.do_sample and config.min_p:
        for factor in (1 - 1e-5, 1 + 1e-5):
            c = resolved(**{**params_of(config), "min_p": min(1.0, config.min_p * factor)})
            perturbed.append(c)
    for c in perturbed:
        if kept(run(builder_list(c, input_ids), input_ids, row)) != kept(out):
            sys.exit(f"{name}: the kept set changes when top_p / min_p move slightly; pick other values")
    if config.do_sample and config.top_p < 1.0:
        # The scores the top-p warper sees: everything before it in the list.
        processors = builder_list(config, input_ids)
        index = [type(p) for p in processors].index(TopPLogitsWarper)
        before = run(processors[:index], input_ids, row)
        after = run(processors[: index + 1], input_ids, row)
        for value in np.unique(before[before != -np.inf]):
            group = before == value
            survivors = after[group] != -np.inf
            if survivors.any() and not survivors.all():
                sys.exit(f"{name}: tokens tied at {value} straddle the top-p cut; pick other values")


ALONE = {
    "RepetitionPenaltyLogitsProcessor": lambda c: RepetitionPenaltyLogitsProcessor(c.repetition_penalty),
    "TemperatureLogitsWarper": lambda c: TemperatureLogitsWarper(c.temperature),
    "TopKLogitsWarper": lambda c: TopKLogitsWarper(top_k=c.top_k),
    "TopPLogitsWarper": lambda c: TopPLogitsWarper(top_p=c.top_p),
    "MinPLogitsWarper": lambda c: MinPLogitsWarper(min_p=c.min_p),
}

# (name, row, processor class when alone or None when combined, GenerationConfig arguments)
CASES = [
    ("penalty-1.3", "gaussian-ties", "RepetitionPenaltyLogitsProcessor", dict(repetition_penalty=1.3)),
    ("penalty-1.3", "peaked", "RepetitionPenaltyLogitsProcessor", dict(repetition_penalty=1.3)),
    ("penalty-1.3", "masked", "RepetitionPenaltyLogitsProcessor", dict(repetition_penalty=1.3)),
    ("penalty-0.7", "gaussian-ties", "RepetitionPenaltyLogitsProcessor", dict(repetition_penalty=0.7)),
    ("temperature-0.7", "gaussian-ties", "TemperatureLogitsWarper", dict(do_sample=True, temperature=0.7, top_k=0)),
    ("temperature-1.6", "quantized", "TemperatureLogitsWarper", dict(do_sample=True, temperature=1.6, top_k=0)),
    ("top-k-1", "gaussian-ties", "TopKLogitsWarper", dict(do_sample=True, top_k=1)),
    ("top-k-10", "gaussian-ties", "TopKLogitsWarper", dict(do_sample=True, top_k=10)),
    ("top-k-7", "quantized", "TopKLogitsWarper", dict(do_sample=True, top_k=7)),
    ("top-k-50", "masked", "TopKLogitsWarper", dict(do_sample=True, top_k=50)),
    ("top-k-1000", "peaked", "TopKLogitsWarper", dict(do_sample=True, top_k=1000)),
    ("top-p-0.9", "gaussian-ties", "TopPLogitsWarper", dict(do_sample=True, top_k=0, top_p=0.9)),
    ("top-p-0.05", "peaked", "TopPLogitsWarper", dict(do_sample=True, top_k=0, top_p=0.05)),
    ("top-p-0.5", "peaked", "TopPLogitsWarper", dict(do_sample=True, top_k=0, top_p=0.5)),
    ("top-p-0.85", "quantized", "TopPLogitsWarper", dict(do_sample=True, top_k=0, top_p=0.85)),
    ("top-p-0.99", "masked", "TopPLogitsWarper", dict(do_sample=True, top_k=0, top_p=0.99)),
    ("min-p-0.05", "gaussian-ties", "MinPLogitsWarper", dict(do_sample=True, top_k=0, min_p=0.05)),
    ("min-p-0.2", "peaked", "MinPLogitsWarper", dict(do_sample=True, top_k=0, min_p=0.2)),
    ("min-p-1", "quantized", "MinPLogitsWarper", dict(do_sample=True, top_k=0, min_p=1.0)),
    ("min-p-0.01", "masked", "MinPLogitsWarper", dict(do_sample=True, top_k=0, min_p=0.01)),
    # Combined: the list the builder makes.
    ("qwen3-vl", "gaussian-ties", None, dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.8)),
    ("qwen3-vl-top-p-0.9", "quantized", None, dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.9)),
    ("qwen2-vl-greedy", "gaussian-ties", None, dict(repetition_penalty=1.05)),
    ("qwen2-vl-greedy", "peaked", None, dict(repetition_penalty=1.05)),
    ("sample-defaults", "quantized", None, dict(do_sample=True)),
    ("no-top-k", "gaussian-ties", None,
     dict(do_sample=True, temperature=1.3, top_k=0, top_p=0.9, min_p=0.05, repetition_penalty=1.2)),
    ("no-top-k", "masked", None,
     dict(do_sample=True, temperature=1.3, top_k=0, top_p=0.9, min_p=0.05, repetition_penalty=1.2)),
    ("everything", "quantized", None,
     dict(do_sample=True, temperature=0.5, top_k=5, top_p=0.95, min_p=0.1, repetition_penalty=0.9)),
    ("everything", "peaked", None,
     dict(do_sample=True, temperature=0.5, top_k=5, top_p=0.95, min_p=0.1, repetition_penalty=0.9)),
    ("greedy-ignores-warpers", "masked", None,
     dict(temperature=0.7, top_k=5, top_p=0.5, repetition_penalty=1.3)),
    ("temperature-then-min-p", "peaked", None, dict(do_sample=True, temperature=2.0, top_k=0, min_p=0.1)),
]


def number(x):
    x = np.float32(x)
    if x == -np.inf:
        return '"-inf"'
    short = str(x)
    if np.float32(float(short)) != x:  # the short form does not survive a trip through a double
        short = repr(float(x))
    return short


def array(values):
    return "[" + ",".join(number(v) for v in values) + "]"


def main():
    torch.manual_seed(0)
    rows = make_rows()
    seen = {name: seen_ids(row) for name, row in rows.items()}
    cases = []
    arrays = {}
    for index, (name, row_name, alone, arguments) in enumerate(CASES):
        row = rows[row_name]
        config = resolved(**arguments)
        input_ids = torch.tensor([seen[row_name]], dtype=torch.long)
        processors = builder_list(config, input_ids)
        classes = [type(p).__name__ for p in processors]
        out = run(processors, input_ids, row)
        if alone is not None:
            if classes != [alone]:
                sys.exit(f"{name}: the builder made {classes}, not [{alone}]")
            direct = run([ALONE[alone](config)], input_ids, row)
            if not np.array_equal(direct, out):
                sys.exit(f"{name}: {alone} called directly differs from the builder's list")
        check_robust(f"{name}/{row_name}", config, input_ids, row, out)
        key = f"__array_{index}__"
        arrays[key] = array(out)
        cases.append({
            "id": f"{name}/{row_name}",
            "row": row_name,
            "alone": alone is not None,
            "parameters": params_of(config),
            "processors": classes,
            "expected": key,
            "argmax": int(torch.argmax(torch.from_numpy(out)).item()),
            "kept": int((out != -np.inf).sum()),
        })
    for name, row in rows.items():
        arrays[f"__row_{name}__"] = array(row)
    document = {
        "note": "Made by tools/make_sampling_fixtures.py; see its docstring.",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__},
        "rows": {name: {"logits": f"__row_{name}__", "seen": seen[name]} for name, row in rows.items()},
        "cases": cases,
    }
    text = json.dumps(document, indent=1, sort_keys=True)
    for key, raw in arrays.items():
        text = text.replace(f'"{key}"', raw)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
