"""Greedy decoding and the metrics DataAlchemy reports, as tidy rows.

Each test example is decoded greedily from its prompt until ``<eos>``. The output and the
gold target are cut into the task's parts (for the letter task: ``full``, ``reasoning`` and
``answer``) and every part is scored with

* ``exact_match``: 1 if the part equals the gold part token for token, else 0;
* ``edit_distance``: Levenshtein distance over tokens divided by the longer length, in
  [0, 1] (0 is identical), as DataAlchemy's ``scoring.py`` does over characters;
* ``bleu``: NLTK's ``sentence_bleu`` over tokens with smoothing method 1, as DataAlchemy
  does. With the default 4-gram weights a part shorter than four tokens scores below 1 even
  when it is exact, so read BLEU on short parts with care.

``evaluate`` returns one row per split x part x metric (the mean over the split's examples)
and a few decoded examples per split for the chapters' tables.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rapidfuzz.distance import Levenshtein

from toylab.config import check_range
from toylab.tasks import EOS, Examples, Task

_SMOOTH = SmoothingFunction().method1


@dataclass(frozen=True)
class EvalConfig:
    """How to evaluate.

    Attributes:
        n_samples: decoded examples kept per test split for display, 0-1000.
        extra_tokens: how many tokens past the longest gold target decoding may run, 0-64
            (a model that pads its output needs room to show it).
        batch_size: sequences decoded at once, 1-8192.
    """

    n_samples: int = 8
    extra_tokens: int = 4
    batch_size: int = 1024

    def __post_init__(self):
        check_range("n_samples", self.n_samples, 0, 1000, integer=True)
        check_range("extra_tokens", self.extra_tokens, 0, 64, integer=True)
        check_range("batch_size", self.batch_size, 1, 8192, integer=True)


@torch.inference_mode()
def greedy_decode(model: nn.Module, prompts: Sequence[np.ndarray],
                  max_new: int | Sequence[int], eos_id: int, batch_size: int = 1024
                  ) -> list[list[int]]:
    """Decode each prompt greedily until ``<eos>`` or its ``max_new`` tokens.

    Prompts of equal length (and limit) are decoded together; the returned outputs exclude
    the prompt and include the ``<eos>`` if one was produced.
    """
    was_training = model.training
    model.eval()
    block = getattr(model, "block_size", None)
    limits = [max_new] * len(prompts) if isinstance(max_new, int) else list(max_new)
    outputs: list[list[int]] = [[] for _ in prompts]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (p, limit) in enumerate(zip(prompts, limits)):
        groups[len(p), limit].append(i)
    for (plen, limit), rows in groups.items():
        steps = limit if block is None else min(limit, block - plen)
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            seq = torch.from_numpy(np.stack([prompts[i] for i in chunk]))  # (B, P)
            done = torch.zeros(len(chunk), dtype=torch.bool)
            for _ in range(steps):
                nxt = model(seq)[:, -1].argmax(-1)  # (B,)
                seq = torch.cat([seq, nxt[:, None]], dim=1)
                done |= nxt == eos_id
                if done.all():
                    break
            for i, row in zip(chunk, seq[:, plen:].tolist()):
                outputs[i] = row[:row.index(eos_id) + 1] if eos_id in row else row
    model.train(was_training)
    return outputs


@torch.inference_mode()
def decode_examples(model: nn.Module, ex: Examples, max_new: int, eos_id: int,
                    batch_size: int = 1024) -> list[list[int]]:
    """Greedy outputs for examples whose targets are known, found with less work.

    Greedy decoding reproduces the target for as long as the target token is the argmax,
    and one teacher-forced pass shows how long that is for every example. So each output is
    the target up to the first position the model gets wrong, then the model's token there,
    then ordinary greedy decoding from that point: the same output as ``greedy_decode`` from
    the prompt, without re-running the model over the prefix it gets right.
    """
    was_training = model.training
    model.eval()
    data = ex.to_tensors()
    tokens, mask = data["tokens"], data["mask"]
    outputs: list[list[int]] = []
    resume: list[tuple[int, np.ndarray, int]] = []  # (row, new prompt, tokens left)
    for start in range(0, len(tokens), batch_size):
        x, m = tokens[start:start + batch_size], mask[start:start + batch_size]
        pred = model(x[:, :-1]).argmax(-1)  # (B, T-1)
        wrong = (pred != x[:, 1:]) & m
        for b in range(len(x)):
            i = start + b
            p, n = int(ex.prompt_len[i]), int(ex.length[i])
            target = ex.tokens[i, p:n].tolist()
            if not wrong[b].any():
                outputs.append(target)
                continue
            pos = int(wrong[b].nonzero()[0])  # the label at pos is token pos + 1
            out = target[:pos + 1 - p] + [int(pred[b, pos])]
            outputs.append(out)
            if out[-1] != eos_id and len(out) < max_new:
                resume.append((i, np.concatenate([ex.tokens[i, :p], out]),
                               max_new - len(out)))
    rest = greedy_decode(model, [r[1] for r in resume], [r[2] for r in resume], eos_id,
                         batch_size)
    for (i, _, _), more in zip(resume, rest):
        outputs[i] = outputs[i] + more
    model.train(was_training)
    return outputs


@functools.lru_cache(maxsize=100_000)
def bleu(reference: tuple[str, ...], hypothesis: tuple[str, ...]) -> float:
    """NLTK sentence BLEU with smoothing method 1 (cached: most pairs repeat)."""
    if not hypothesis:
        return 0.0
    return float(sentence_bleu([list(reference)], list(hypothesis),
                               smoothing_function=_SMOOTH))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """Token Levenshtein distance over the longer length; 0.0 for two empty parts."""
    if not reference and not hypothesis:
        return 0.0
    return float(Levenshtein.normalized_distance(list(reference), list(hypothesis)))


def score(reference: Sequence[str], hypothesis: Sequence[str]) -> dict[str, float]:
    """The three metrics for one part of one example."""
    return {"exact_match": float(list(reference) == list(hypothesis)),
            "edit_distance": edit_distance(reference, hypothesis),
            "bleu": bleu(tuple(reference), tuple(hypothesis))}


def evaluate(model: nn.Module, task: Task, tests: dict[str, Examples],
             cfg: EvalConfig = EvalConfig()) -> tuple[list[dict], list[dict]]:
    """Decode every test split and score it.

    Returns:
        ``(metrics, samples)``: metrics rows ``{split, part, metric, value, n}`` with the
        mean over the split; samples rows ``{split, cell, prompt, target, output,
        correct}`` for the first ``cfg.n_samples`` examples of each split.
    """
    vocab = task.vocab
    eos_id = vocab.index[EOS]
    metrics: list[dict] = []
    samples: list[dict] = []
    for split, ex in tests.items():
        if not len(ex):
            continue
        prompts, targets = ex.prompts(), ex.targets()
        max_new = max(len(t) for t in targets) + cfg.extra_tokens
        outputs = decode_examples(model, ex, max_new, eos_id, cfg.batch_size)
        sums: dict[tuple[str, str], float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for i, (target, output) in enumerate(zip(targets, outputs)):
            gold, pred = vocab.decode(target), vocab.decode(output)
            gold_parts, pred_parts = task.parts(gold), task.parts(pred)
            for part, gold_part in gold_parts.items():
                counts[part] += 1
                for metric, value in score(gold_part, pred_parts.get(part, [])).items():
                    sums[part, metric] += value
            if i < cfg.n_samples:
                samples.append({
                    "split": split, "cell": str(ex.cells[i]),
                    "prompt": " ".join(vocab.decode(prompts[i])),
                    "target": " ".join(gold_parts["full"]),
                    "output": " ".join(pred_parts["full"]),
                    "correct": gold_parts["full"] == pred_parts["full"]})
        for (part, metric), total in sums.items():
            metrics.append({"split": split, "part": part, "metric": metric,
                            "value": total / counts[part], "n": counts[part]})
    return metrics, samples
