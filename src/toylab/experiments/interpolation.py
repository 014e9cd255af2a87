"""Chapter 1, interpolation bounds: DataAlchemy's splits in the toy, and the coverage curve.

DataAlchemy (Zhao et al. 2025, arXiv:2508.01191) trains small transformers on letter
strings under composed transformations and tests them on unseen compositions, lengths and
formats. This module runs the toy versions of its experiments. Every run trains one model
(``toylab.experiment.train_model``) and then *probes* it in one of four ways, chosen by
``probe.kind``:

* ``splits``: the named test splits of the config (``id``, ``cmp``, ``pood``, ``ood``),
  exact match, edit distance and BLEU on the full output, the reasoning and the answer.
* ``length``: the training compositions at every length of the grid; rows carry
  ``test_length``.
* ``noise``: the same trained model on prompts corrupted with each probability, kind and
  target of ``probe`` (the gold target stays clean); rows carry ``noise_on``,
  ``noise_kind`` and ``noise_p``, with the clean in-distribution score at ``noise_p = 0``.
* ``finetune``: the trained model fine-tuned afterwards on ``n`` examples of the held-out
  ``cmp`` compositions (drawn from their training share, so the test strings stay unseen),
  for each ``n`` in ``probe.finetune_examples``; rows carry ``finetune_examples``
  (0 is the model before fine-tuning).

``PRESETS`` holds the chapter's panels; the shipped sweeps (``interpolation_*.json``) name a
preset and vary a few fields of it, and the chapter builds its live panels from the same
presets. Mixing held-out examples *into* training is no probe: it is ``split.patch``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from toylab.cache import Cache, cached
from toylab.config import check_choice, check_range, override
from toylab.evaluate import edit_distance, evaluate
from toylab.experiment import (
    METRIC_COLUMNS,
    ExperimentConfig,
    Result,
    Trained,
    stream_seed,
    torch_threads,
    train_model,
)
from toylab.splits import make_split
from toylab.tasks import NOISE_KINDS, NOISE_TARGETS, Examples, make_task
from toylab.train import Progress, TrainConfig, train

KIND = "toylab.experiments.interpolation/1"
PROBES = ("splits", "length", "noise", "finetune")
#: Extra metric columns each probe adds, in front of ``METRIC_COLUMNS``.
PROBE_COLUMNS = {"splits": [], "length": ["test_length"],
                 "noise": ["noise_on", "noise_kind", "noise_p"],
                 "finetune": ["finetune_examples"]}


@dataclass(frozen=True)
class ProbeConfig:
    """How a trained model is probed (see the module docstring).

    Attributes:
        kind: one of ``PROBES``.
        noise_ps: corruption probabilities for ``noise``, each in (0, 1].
        noise_kinds: ``insert``, ``delete``, ``modify``, ``hybrid`` (``noise``).
        noise_on: which prompt tokens are corrupted, each probed separately: ``element``
            (the letters), ``transform`` (the transformation tokens), ``instruction``.
        finetune_examples: held-out examples to fine-tune on, each 1-20,000 (``finetune``).
        finetune_steps: optimizer steps of each fine-tuning, 1-10,000 (batch and learning
            rate as in ``train``).
    """

    kind: str = "splits"
    noise_ps: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    noise_on: tuple[str, ...] = NOISE_TARGETS
    finetune_examples: tuple[int, ...] = (1, 4, 16, 64, 256)
    finetune_steps: int = 100

    def __post_init__(self):
        check_choice("probe.kind", self.kind, PROBES)
        for name, values, allowed in (("noise_kinds", self.noise_kinds, NOISE_KINDS),
                                      ("noise_on", self.noise_on, NOISE_TARGETS)):
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"probe.{name} must be a non-empty tuple of {allowed}")
            for v in values:
                check_choice(f"probe.{name} entry", v, allowed)
        if not isinstance(self.noise_ps, tuple) or not self.noise_ps:
            raise ValueError("probe.noise_ps must be a non-empty tuple of probabilities")
        for p in self.noise_ps:
            check_range("probe.noise_ps entry", p, 1e-9, 1.0)
        if not isinstance(self.finetune_examples, tuple) or not self.finetune_examples:
            raise ValueError("probe.finetune_examples must be a non-empty tuple of counts")
        for n in self.finetune_examples:
            check_range("probe.finetune_examples entry", n, 1, 20_000, integer=True)
        check_range("probe.finetune_steps", self.finetune_steps, 1, 10_000, integer=True)


@dataclass(frozen=True)
class InterpolationConfig(ExperimentConfig):
    """An ``ExperimentConfig`` plus how the trained model is probed."""

    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __post_init__(self):
        super().__post_init__()
        if self.probe.kind == "finetune" and max(self.probe.finetune_examples) > (
                self.split.n_train):
            raise ValueError(f"probe.finetune_examples may be at most split.n_train "
                             f"({self.split.n_train}), got {self.probe.finetune_examples}")


_DATAALCHEMY = {  # f1 = rot3, f2 = shift1, f3 = reverse never trained on
    "task.transforms": ["rot3", "shift1", "reverse"],
    "task.lengths": [4],
    "task.trace": True,
    "split.coverage": None,
    "split.train_compositions": [["rot3", "rot3"], ["rot3", "shift1"], ["shift1", "rot3"]],
    "split.unseen_transforms": ["reverse"],
    # batch 32 needed about half the steps of 16 for these three compositions with a trace
    # (median 430 steps over 5 seeds, against 790), so it is the faster live retrain
    "train.batch_size": 32,
    "train.max_steps": 2000,
}

#: The chapter's panels: name -> overrides of ``InterpolationConfig()``.
PRESETS: dict[str, dict[str, Any]] = {
    # (a, b) DataAlchemy's transformation splits: train f1f1, f1f2, f2f1; test f2f2 (cmp),
    # compositions with the never-trained reverse (pood) and reverse twice (ood).
    "splits": {**_DATAALCHEMY, "split.tests": ["id", "cmp", "pood", "ood"]},
    # (b) the reverse case: train f1f2 only, test f2f1. ROT and shift commute, so the
    # answer can be right while the trace (which applies them in the other order) is not.
    "commute": {**_DATAALCHEMY, "split.train_compositions": [["rot3", "shift1"]],
                "split.test_compositions": [["shift1", "rot3"]],
                "split.tests": ["id", "cmp"]},
    # (c) train at length 4, test at 2 to 6.
    "length": {**_DATAALCHEMY, "task.lengths": [2, 3, 4, 5, 6],
               "split.tests": ["id", "length"], "probe.kind": "length"},
    # (d) train clean, test with corrupted prompts.
    "noise": {**_DATAALCHEMY, "split.tests": ["id"], "probe.kind": "noise"},
    # (e) held-out examples mixed into training (vary split.patch) ...
    "patch": {**_DATAALCHEMY, "split.tests": ["id", "cmp"], "split.patch_split": "cmp"},
    # ... or fine-tuned on afterwards, as the paper did.
    "finetune": {**_DATAALCHEMY, "split.tests": ["id", "cmp"], "probe.kind": "finetune"},
    # (f) the book's question: four transformations, a grid of 16 compositions, training
    # covers a share of it (vary split.coverage), with and without a trace.
    "coverage": {"task.transforms": ["rot3", "shift1", "reverse", "atbash"],
                 "task.lengths": [4], "task.trace": True, "split.coverage": 0.5,
                 "split.tests": ["id", "cmp"], "train.batch_size": 32,
                 "train.max_steps": 2000},
}


def preset(name: str, changes: dict[str, Any] | None = None) -> InterpolationConfig:
    """The config of one panel, with optional further ``override`` changes."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets are {list(PRESETS)}")
    return override(override(InterpolationConfig(), PRESETS[name]), changes or {})


def default_config(preset_name: str | None = None) -> InterpolationConfig:
    """What a sweep starts from: a preset, or the plain config."""
    return preset(preset_name) if preset_name else InterpolationConfig()


Rows = tuple[list[dict], list[dict]]  # metrics rows, sample rows


def _scored(trained: Trained, tests: dict[str, Examples], cfg: InterpolationConfig,
            **columns: Any) -> Rows:
    metrics, samples = evaluate(trained.model, trained.task, tests, cfg.eval)
    for row in metrics:
        row.update(columns, seed=cfg.seed)
    for row in samples:
        row.update(columns)
    return metrics, samples


def _probe_splits(trained: Trained, cfg: InterpolationConfig) -> Rows:
    return _scored(trained, trained.split.tests, cfg)


def _probe_length(trained: Trained, cfg: InterpolationConfig) -> Rows:
    metrics, samples = [], []
    tests = trained.split.tests
    for name, ex in (("id", tests["id"]), ("length", tests["length"])):
        lengths = np.array([c.length for c in ex.cells])
        for n in sorted(set(lengths.tolist())):
            m, s = _scored(trained, {name: ex.subset(lengths == n)}, cfg, test_length=n)
            metrics += m
            samples += s
    return metrics, samples


def _probe_noise(trained: Trained, cfg: InterpolationConfig) -> Rows:
    """Score the trained model on noisy prompts. The noisy tests come from the split the
    model was trained on, rebuilt with noise in the task config: the same seed gives the
    same training set and the same share of test strings, so nothing leaks."""
    clean, _ = _scored(trained, {"id": trained.split.tests["id"]}, cfg)
    metrics, samples = [], []
    for on in cfg.probe.noise_on:
        for kind in cfg.probe.noise_kinds:
            metrics += [{**row, "noise_on": on, "noise_kind": kind, "noise_p": 0.0}
                        for row in clean]
            for p in cfg.probe.noise_ps:
                task_cfg = dataclasses.replace(cfg.task, noise_p=p, noise_kind=kind,
                                               noise_on=(on,))
                split_cfg = dataclasses.replace(cfg.split, tests=("noise",))
                noisy = make_split(make_task(task_cfg), split_cfg,
                                   stream_seed(cfg.seed, "split"))
                m, s = _scored(trained, noisy.tests, cfg, noise_on=on, noise_kind=kind,
                               noise_p=p)
                metrics += m
                samples += s
    return metrics, samples


def _probe_finetune(trained: Trained, cfg: InterpolationConfig) -> Rows:
    """Fine-tune copies of the trained model on ``n`` held-out examples each."""
    metrics, samples = _scored(trained, trained.split.tests, cfg, finetune_examples=0)
    train_cfg = TrainConfig(max_steps=cfg.probe.finetune_steps,
                            batch_size=cfg.train.batch_size, lr=cfg.train.lr,
                            weight_decay=cfg.train.weight_decay, target_accuracy=None,
                            threads=cfg.train.threads)
    for n in cfg.probe.finetune_examples:
        # The patch of a split drawn with the same seed: n examples of the held-out cells,
        # from their training share of strings (the test strings stay unseen).
        split_cfg = dataclasses.replace(cfg.split, patch=n / cfg.split.n_train,
                                        patch_split="cmp")
        patch = make_split(trained.task, split_cfg, stream_seed(cfg.seed, "split")).patch
        model = copy.deepcopy(trained.model)
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, "batches") + n)
        train(model, patch.to_tensors(), train_cfg, gen)
        tuned = Trained(trained.task, trained.split, model, trained.fitted)
        m, s = _scored(tuned, trained.split.tests, cfg, finetune_examples=n)
        metrics += m
        samples += s
    return metrics, samples


_PROBES: dict[str, Callable[[Trained, InterpolationConfig], Rows]] = {
    "splits": _probe_splits, "length": _probe_length, "noise": _probe_noise,
    "finetune": _probe_finetune}


def _compute(cfg: InterpolationConfig, callback, progress: bool) -> dict:
    trained = train_model(cfg, callback, progress)
    metrics, samples = _PROBES[cfg.probe.kind](trained, cfg)
    return {"metrics": metrics, "history": trained.fitted.history, "samples": samples,
            "info": trained.info()}


def run(cfg: InterpolationConfig | None = None, *, cache: Cache | None | bool = True,
        callback: Callable[[Progress], bool | None] | None = None,
        progress: bool = False) -> Result:
    """Train one model of a chapter-1 config, probe it, and return the tidy result.

    Same contract as ``toylab.experiment.run`` (cache, progress callback that can cancel,
    progress bar); the metrics frame has the probe's columns (``PROBE_COLUMNS``) in front
    of ``seed, split, part, metric, value, n``.
    """
    cfg = cfg if cfg is not None else preset("splits")
    if not isinstance(cfg, InterpolationConfig):
        raise ValueError("interpolation.run needs an InterpolationConfig; build one with "
                         "interpolation.preset(name)")
    store = Cache() if cache is True else (cache or None)
    with torch_threads(cfg.train.threads):
        payload = cached(KIND, cfg, lambda: _compute(cfg, callback, progress), store)
    result = Result.from_payload(cfg, payload)
    result.metrics = result.metrics[PROBE_COLUMNS[cfg.probe.kind] + METRIC_COLUMNS]
    return result


def outputs_table(result: Result, split: str = "cmp", n: int = 8) -> pd.DataFrame:
    """Decoded examples of one split with each part judged: is the reasoning right, is the
    answer right, and how far the output is from the target (edit distance)."""
    rows = []
    for s in result.samples[result.samples.split == split].head(n).itertuples():
        gold, out = s.target.split(), s.output.split()
        cut = lambda t: t.index("<answer>") if "<answer>" in t else len(t)  # noqa: E731
        rows.append({"prompt": s.prompt, "target": s.target, "output": s.output,
                     "reasoning right": gold[:cut(gold)] == out[:cut(out)],
                     "answer right": gold[cut(gold) + 1:] == out[cut(out) + 1:],
                     "edit distance": round(edit_distance(gold, out), 3)})
    return pd.DataFrame(rows)
