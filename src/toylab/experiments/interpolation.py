"""Chapter 1, interpolation bounds: DataAlchemy's splits in the toy, and the coverage curve.

DataAlchemy (Zhao et al. 2025, arXiv:2508.01191) trains small transformers on letter
strings under composed transformations and tests them on unseen compositions, lengths and
formats. This module runs the toy versions of its experiments. Every run trains one model
through the lab's pipeline (``toylab.experiment``) and then *probes* it in one of five
ways, chosen by ``probe.kind``:

* ``cells`` (the coverage grid): the named splits, plus per held-out composition its
  exact match and the partners its two transformations had in their slots in training,
  and what each wrong answer computes instead (``SOURCES``).
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
  (0 is the model before fine-tuning), optionally at its own learning rate and with a
  share of each batch replayed from the training set.

``PRESETS`` holds the chapter's panels; the shipped sweeps (``interpolation_*.json``) name a
preset and vary a few fields of it, and the chapter builds its live panels from the same
presets. Mixing held-out examples *into* training is no probe: it is ``split.patch``.

Every metric row carries the config fields in ``Interpolation.columns`` (``trace``,
``coverage``, ``singles``, ``positions`` and the others the sweeps vary), and the counts
derived from the split:
``compositions`` (trained), ``examples_per_cell`` and ``patch_examples`` (held-out examples
mixed in). ``findings()`` computes what the chapter states from the shipped sweeps, and
``frames()`` the tables its figures draw.
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

from toylab.config import check_choice, check_range
from toylab.evaluate import edit_distance, evaluate
from toylab.experiment import Experiment, ExperimentConfig, Rows, Trained, stream_seed
from toylab.objectives import replay_mix
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, per_seed, seed_band, select, span
from toylab.splits import make_split
from toylab.sweep import load_spec, shipped
from toylab.tasks import NOISE_KINDS, NOISE_TARGETS, Examples, make_task
from toylab.tasks.letter_splits import coverage_counts
from toylab.train import TrainConfig, train
from toylab.views import bars_view, curve_view

PROBES = ("splits", "cells", "length", "noise", "finetune")
#: Extra metric columns each probe adds, in front of ``METRIC_COLUMNS``.
PROBE_COLUMNS = {"splits": [], "cells": ["cell", "first_partners", "second_partners",
                                         "source"],
                 "length": ["test_length"],
                 "noise": ["noise_on", "noise_kind", "noise_p"],
                 "finetune": ["finetune_examples"]}
#: What a held-out answer computes (``cells`` probe), checked in this order: the right
#: answer; the output of a composition training covered; of another held-out
#: composition; of one transformation alone; the input string unchanged; the right
#: letters in another order (the letter maps right, the position moves wrong); none.
SOURCES = ("right", "a trained composition", "another held-out composition",
           "one transformation", "the input", "the right letters in another order",
           "none of these")


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
        finetune_steps: optimizer steps of each fine-tuning, 1-10,000 (batch as in
            ``train``).
        finetune_lr: the fine-tuning's learning rate; None: the training's.
        finetune_replay: share of each fine-tuning set drawn from the original training
            set (replay), in [0, 1); the rest are the held-out examples.
    """

    kind: str = "splits"
    noise_ps: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    noise_on: tuple[str, ...] = NOISE_TARGETS
    finetune_examples: tuple[int, ...] = (1, 4, 16, 64, 256)
    finetune_steps: int = 100
    finetune_lr: float | None = None
    finetune_replay: float = 0.0

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
        if self.finetune_lr is not None:
            check_range("probe.finetune_lr", self.finetune_lr, 1e-6, 1.0)
        check_range("probe.finetune_replay", self.finetune_replay, 0.0, 0.99)


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
    # the book's question: four transformations, a grid of 16 compositions, training
    # covers a share of it (vary split.coverage), with and without a trace, with or
    # without each transformation shown alone (split.singles); 250 examples of every
    # trained cell, so a coverage changes which cells are trained, not how thinly.
    "coverage": {"task.transforms": ["rot3", "shift1", "reverse", "atbash"],
                 "task.lengths": [4], "task.trace": True, "split.coverage": 0.5,
                 "split.examples_per_cell": 250, "split.tests": ["id", "cmp"],
                 "probe.kind": "cells", "train.batch_size": 32, "train.max_steps": 2000},
}
# The confound the coverage panel's first version had: one training set of 2,000 examples
# for every coverage, spread thinner over more compositions.
PRESETS["budget"] = {**PRESETS["coverage"], "split.examples_per_cell": None}


def _scored(trained: Trained, tests: dict[str, Examples], cfg: InterpolationConfig,
            **columns: Any) -> Rows:
    metrics, samples = evaluate(trained.model, trained.task, tests, cfg.eval)
    for row in metrics + samples:
        row.update(columns)
    return metrics, samples


def _probe_splits(trained: Trained, cfg: InterpolationConfig) -> Rows:
    return _scored(trained, trained.split.tests, cfg)


def _probe_cells(trained: Trained, cfg: InterpolationConfig) -> Rows:
    """The named splits, plus for the held-out compositions (``cmp``): exact match per
    composition with how many partners each of its transformations had in its slot in
    training (``cell_exact_match``), and what each answer computes (``answer_is``, one row
    per entry of ``SOURCES``; with a trace also ``right_steps_wrong_answer``)."""
    tests = trained.split.tests
    keep = dataclasses.replace(cfg.eval, n_samples=max(len(ex) for ex in tests.values()))
    metrics, samples = evaluate(trained.model, trained.task, tests, keep)
    held = [s for s in samples if s["split"] == "cmp"]
    samples = [s for name in tests  # keep as many per split as the config asks
               for s in [r for r in samples if r["split"] == name][:cfg.eval.n_samples]]
    return metrics + _cell_rows(trained, held) + _source_rows(trained, held), samples


def _cell_rows(trained: Trained, held: list[dict]) -> list[dict]:
    trained_comps = [c.composition for c in trained.split.train_cells
                     if len(c.composition) > 1]
    by_cell: dict[tuple, list[bool]] = {}
    for s in held:
        by_cell.setdefault(tuple(s["cell"].split(" | ")[0].split("∘")), []).append(
            s["correct"])
    return [{"split": "cmp", "part": "full", "metric": "cell_exact_match",
             "value": float(np.mean(right)), "n": len(right), "cell": "∘".join(comp),
             "first_partners": sum(c[0] == comp[0] for c in trained_comps),
             "second_partners": sum(c[-1] == comp[-1] for c in trained_comps)}
            for comp, right in sorted(by_cell.items())]


def _source_rows(trained: Trained, held: list[dict]) -> list[dict]:
    task, split = trained.task, trained.split
    trained_comps = list(dict.fromkeys(c.composition for c in split.train_cells
                                       if len(c.composition) > 1))
    grid = [c for c in task.config.compositions if len(c) > 1]
    singles = [(t,) for t in task.config.transforms]
    counts = dict.fromkeys(SOURCES, 0)
    steps_right = 0
    for s in held:
        target, output = task.parts(s["target"].split()), task.parts(s["output"].split())
        comp = tuple(s["cell"].split(" | ")[0].split("∘"))
        if output["answer"] == target["answer"]:
            counts["right"] += 1
        else:
            prompt = s["prompt"].split()
            found = set(task.sources(prompt, output["answer"], grid + singles + [()]))
            others = [c for c in grid if c not in trained_comps and c != comp]
            source = next((name for name, group in (
                ("a trained composition", trained_comps),
                ("another held-out composition", others),
                ("one transformation", singles), ("the input", [()]))
                if found & set(group)), None)
            if source is None:
                source = ("the right letters in another order"
                          if sorted(output["answer"]) == sorted(target["answer"])
                          else "none of these")
            counts[source] += 1
            steps_right += "reasoning" in target and (
                output["reasoning"] == target["reasoning"])
    n = max(len(held), 1)
    rows = [{"split": "cmp", "part": "answer", "metric": "answer_is", "source": name,
             "value": k / n, "n": len(held)} for name, k in counts.items()]
    if task.config.trace:
        rows.append({"split": "cmp", "part": "answer", "metric": "right_steps_wrong_answer",
                     "value": steps_right / n, "n": len(held)})
    return rows


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
                            batch_size=cfg.train.batch_size,
                            lr=cfg.probe.finetune_lr or cfg.train.lr,
                            weight_decay=cfg.train.weight_decay, target_accuracy=None,
                            threads=cfg.train.threads)
    for n in cfg.probe.finetune_examples:
        # The patch of a split drawn with the same seed: n examples of the held-out cells,
        # from their training share of strings (the test strings stay unseen).
        split_cfg = dataclasses.replace(cfg.split, patch=n / cfg.split.n_train,
                                        patch_split="cmp")
        patch = make_split(trained.task, split_cfg, stream_seed(cfg.seed, "split")).patch
        if cfg.probe.finetune_replay:  # keep showing the training set beside the patch
            share = cfg.probe.finetune_replay
            rng = np.random.default_rng(stream_seed(cfg.seed, "replay", n))
            patch = replay_mix(patch, trained.split.train, share,
                               round(len(patch) / (1 - share)), rng)
        model = copy.deepcopy(trained.model)
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, "batches") + n)
        train(model, patch.to_tensors(), train_cfg, gen)
        tuned = Trained(trained.task, trained.split, model, trained.fitted)
        m, s = _scored(tuned, trained.split.tests, cfg, finetune_examples=n)
        metrics += m
        samples += s
    return metrics, samples


_PROBES: dict[str, Callable[[Trained, InterpolationConfig], Rows]] = {
    "splits": _probe_splits, "cells": _probe_cells, "length": _probe_length,
    "noise": _probe_noise,
    "finetune": _probe_finetune}


SEEDS = [0, 1, 2, 3, 4]
#: The coverages of the headline panel: 2, 4, 8, 12 and 14 of the 16 compositions.
COVERAGES = [0.125, 0.25, 0.5, 0.75, 0.875]
POSITIONS = ["learned", "rotary"]
#: The chapter's live panels, in the order the chapter shows them.
PANELS = {
    "coverage": PanelSpec(
        # a slider starts at its middle value: with a trace, without the singles
        "coverage", {"split.coverage": COVERAGES, "task.trace": [False, True],
                     "split.singles": [True, False], "seed": SEEDS}, "coverage",
        view=curve_view, along="coverage",
        options={"x": "coverage", "series": "trace", "metrics": ["exact_match"],
                 "fixed": {"split": "cmp"},
                 "x_title": "coverage (share of the 16 compositions trained)"},
        description="held-out exact match against coverage, with and without a trace"),
    "splits": PanelSpec("splits", {"task.trace": [False, True], "seed": SEEDS}, "splits",
                        view=bars_view, description="scores by test split"),
    "commute": PanelSpec("commute", {"seed": SEEDS}, "commute", view=bars_view,
                         options={"x": "part", "metrics": ["exact_match"],
                                  "fixed": {"split": "cmp"}},
                         description="exact match of each part on shift1∘rot3"),
    "length": PanelSpec("length", {"model.positions": POSITIONS, "seed": SEEDS}, "length",
                        view=curve_view,
                        options={"x": "test_length", "series": "positions",
                                 "metrics": ["exact_match", "edit_distance"],
                                 "x_title": "test length"},
                        description="scores by test length, learned against rotary "
                                    "positions"),
    # starts with learned positions (a slider starts at its middle value); the live run
    # corrupts the letters only, at two probabilities and with the three pure kinds, so
    # that it answers in seconds (the shipped seeds have every setting)
    "noise": PanelSpec("noise", {"model.positions": POSITIONS[::-1], "seed": SEEDS},
                       "noise_with_chance", view=curve_view,
                       options={"x": "noise_p", "series": "noise_kind",
                                "metrics": ["exact_match", "edit_distance"],
                                "fixed": {"noise_on": "element"},
                                "x_title": "noise probability p"},
                       changes={"probe.noise_on": ["element"], "probe.noise_ps": [0.1, 0.3],
                                "probe.noise_kinds": ["insert", "delete", "modify"]},
                       description="scores on prompts with corrupted letters"),
    "patch": PanelSpec("patch", {"split.patch": [0.0, 0.0025, 0.01, 0.04, 0.16],
                                 "seed": SEEDS},
                       "patch", view=curve_view, along="patch",
                       options={"x": "patch_examples", "series": "split",
                                "metrics": ["exact_match"], "log_x": True,
                                "x_title": "held-out examples mixed in"},
                       description="exact match against the held-out examples mixed in"),
}


class Interpolation(Experiment):
    kind = "toylab.experiments.interpolation/1"
    config_class = InterpolationConfig
    presets = PRESETS
    columns = {"trace": "task.trace", "coverage": "split.coverage", "patch": "split.patch",
               "singles": "split.singles", "positions": "model.positions",
               "split_seed": "split.seed", "early_stop": "train.target_accuracy",
               "replay": "probe.finetune_replay", "finetune_lr": "probe.finetune_lr"}
    chapter = "chapters/01_interpolation_bounds.ipynb"
    panels = PANELS

    def tables(self) -> dict[str, pd.DataFrame]:
        return frames()

    def probe(self, cfg: InterpolationConfig, trained: Trained) -> Rows:
        return _PROBES[cfg.probe.kind](trained, cfg)

    def derived(self, cfg: InterpolationConfig, trained: Trained) -> dict[str, Any]:
        split = trained.split
        return {**coverage_counts(split), "patch_examples": len(split.patch)}


EXPERIMENT = Interpolation()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel


def _noisable() -> dict[str, int]:
    """Prompt tokens of each kind a noise target can corrupt, in panel (d)'s prompts: the
    letters of a string, the transformation tokens, the one instruction token."""
    task = preset("noise").task
    return {"element": max(task.lengths), "transform": max(task.depths), "instruction": 1}


NOISABLE = _noisable()
#: Compositions in the coverage panel's grid; the training examples of every trained
#: composition there; and the one training set the first version spread over them all.
GRID = len(preset("coverage").task.compositions)
PER_CELL = preset("coverage").split.examples_per_cell
N_TRAIN = preset("budget").split.n_train


def twin_classes(config=None) -> list[frozenset[str]]:
    """Compositions of the coverage grid that compute the same function, as sets of names
    such as ``rot3∘reverse`` (classes of one left out). A letter map (rot3, atbash) and a
    position map (shift1, reverse) commute, and reverse∘reverse and atbash∘atbash are both
    the identity; checked on every string of the grid's length."""
    task = make_task(config or preset("coverage").task)
    cfg = task.config
    n = cfg.alphabet_size ** max(cfg.lengths)
    x = np.array(np.unravel_index(np.arange(n), (cfg.alphabet_size,) * max(cfg.lengths))).T
    groups: dict[bytes, set[str]] = {}
    for comp in (c for c in cfg.compositions if len(c) > 1):
        groups.setdefault(task.apply(comp, x)[-1].tobytes(), set()).add("∘".join(comp))
    return [frozenset(g) for g in groups.values() if len(g) > 1]


TWINS = twin_classes()
#: A held-out composition's relation to training (``twin`` column of ``frames()``).
TWIN_TRAINED, TWIN_HELD, NO_TWIN = ("its twin was trained", "its twin was held out too",
                                    "no twin")


def _twin_column(cells: pd.DataFrame) -> pd.Series:
    """For each held-out cell row of a coverage run: whether a composition computing the
    same function was trained in that run (every grid composition not held out was)."""
    run = [c for c in ("trace", "singles", "coverage", "seed") if c in cells]
    held = cells.groupby(run).cell.agg(frozenset)
    of = {name: cls for cls in TWINS for name in cls}

    def status(row) -> str:
        if row.cell not in of:
            return NO_TWIN
        others = of[row.cell] - {row.cell}
        return TWIN_HELD if others <= held[tuple(row[run])] else TWIN_TRAINED
    return cells.apply(status, axis=1)


@analysis
def parts_by_seed(frame: pd.DataFrame, **where: Any) -> pd.DataFrame:
    """Exact match of the reasoning, the answer and the whole output on ``cmp``, one row
    per seed (``where`` filters further, e.g. ``trace=True``)."""
    rows = select(frame, part=None, split="cmp", **where)
    return rows.pivot(index="seed", columns="part", values="value")[
        ["reasoning", "answer", "full"]].round(3)


@analysis
def held_out_report(result) -> str:
    """Which held-out compositions a run got any answer right of (and how many): from a
    run that kept every decoded ``cmp`` example (``eval.n_samples`` large enough)."""
    held = result.samples[result.samples.split == "cmp"]
    right = held.groupby(held.cell.str.split(" | ", regex=False).str[0]).correct.mean()
    right = right[right > 0].sort_values(ascending=False)
    return (f"Trained on {' and '.join(result.info['train_compositions'])}; held-out exact "
            f"match {result.value('cmp'):.3f}. Held-out compositions with any right "
            "answer: " + ", ".join(f"{c} {v:.2f}" for c, v in right.items()) + ".")


@analysis
def wrong_answers(result, n: int = 12, explain: bool = False,
                  computable: bool = False) -> pd.DataFrame:
    """The first ``n`` wrong held-out (``cmp``) answers a run kept (run it with
    ``eval.n_samples`` large to keep them all): the held-out composition, the prompt, the
    model's answer and the right one; with ``explain``, also what the answer computes
    (the grid's compositions, single transformations or the input that give it, marked
    when trained). With ``computable``, only the answers something of those gives (without
    saying what, unless ``explain``)."""
    task = make_task(result.config.task)
    grid = [c for c in task.config.compositions if len(c) > 1]
    singles = [(t,) for t in task.config.transforms]
    trained = [tuple(c.split("∘")) for c in result.info["train_compositions"]]
    rows = []
    for s in result.samples[result.samples.split == "cmp"].itertuples():
        got, want = task.parts(s.output.split()), task.parts(s.target.split())
        if got["answer"] == want["answer"]:
            continue
        found = task.sources(s.prompt.split(), got["answer"], grid + singles + [()])
        if computable and not found:
            continue
        row = {"held_out": s.cell.split(" | ")[0], "prompt": s.prompt,
               "answer": " ".join(got["answer"]), "right": " ".join(want["answer"])}
        if explain:
            row["computes"] = ", ".join(
                ("∘".join(c) + (" (trained)" if c in trained else "")) if c
                else "the input" for c in found) or "none of the grid's"
        rows.append(row)
        if len(rows) == n:
            break
    return pd.DataFrame(rows)


@analysis
def outputs_table(result, split: str = "cmp", n: int = 8) -> pd.DataFrame:
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


# ---------------------------------------------------------------------------------------
# What the chapter states, computed from the shipped sweeps

#: The shipped sweeps of this chapter, by the table they fill.
SWEEPS = {"coverage": "interpolation_coverage", "budget": "interpolation_budget",
          "steps": "interpolation_steps", "seeds": "interpolation_seeds",
          "splits": "interpolation_splits", "commute": "interpolation_commute",
          "length": "interpolation_length", "noise": "interpolation_noise",
          "patch": "interpolation_patch", "finetune": "interpolation_finetune"}
#: "Right steps, wrong answer": at least this share of traces right ...
STEPS_RIGHT = 0.9
#: ... and at most this share of answers right.
ANSWER_WRONG = 0.1
#: A seed "gets a good share" of a test right above this exact match.
GOOD_SHARE = 0.1
#: The series that draws (1 - p)^k beside the noise kinds.
CHANCE = "no token hit: (1-p)^k"
#: The held-out exact match (mean over seeds) a patch must bring back.
PATCH_RECOVERED = 0.8
#: The held-out exact match (mean over seeds) at which coverage "works".
WORKS = 0.5
#: In-distribution exact match below which a run counts as not having learned its data.
LEARNED = 0.9
#: Fine-tuning examples the patch comparison reads off.
TUNED_AT = 64
#: The training set's two designs in the confound chart.
PER_CELL_LABEL = f"{PER_CELL} per trained composition"
BUDGET_LABEL = f"{N_TRAIN:,} in all"


def _fraction(coverage: float) -> str:
    return f"{round(coverage * GRID)}/{GRID}"


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by its name in ``SWEEPS``, and the combined
    ones its figures draw:

    * ``coverage_budget``: held-out exact match against coverage with every trained
      composition at ``PER_CELL`` examples and with one training set of ``N_TRAIN``;
    * ``cells``: exact match per held-out composition and run, with its ``partners`` (the
      fewer of the partners its two transformations had in their slots in training) and
      ``twin`` (whether a trained composition computes the same function, ``TWINS``);
    * ``twins``: held-out exact match per run, by ``twin``;
    * ``partners``: exact match against ``partners`` (mean per seed), over the held-out
      compositions whose twin was not trained;
    * ``sources``: what the held-out answers compute (``SOURCES``), per condition;
    * ``parts``: exact match of each part of ``cmp`` in both experiments of (b);
    * ``noise_with_chance``: the noise sweep plus the share of prompts none of whose
      tokens of the corrupted kind was hit, (1 - p)^k, as one more series;
    * ``patch_both``: held-out examples mixed in or fine-tuned on.

    ``sweeps`` replaces shipped frames by name (e.g. recomputed ones)."""
    out = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    out.update(sweeps or {})
    cov = out["coverage"]
    out["coverage_budget"] = pd.concat([
        select(cov, split="cmp", singles=False).assign(training=PER_CELL_LABEL),
        select(out["budget"], split="cmp").assign(training=BUDGET_LABEL)],
        ignore_index=True)
    cells = select(cov, metric="cell_exact_match", split="cmp").assign(
        partners=lambda f: f[["first_partners", "second_partners"]].min(axis=1))
    cells["twin"] = _twin_column(cells)
    out["cells"] = cells
    out["twins"] = (cells.groupby(["trace", "singles", "coverage", "twin", "seed"])
                    .value.mean().reset_index()
                    .assign(metric="exact_match", part="full", split="cmp"))
    out["partners"] = (cells[cells.twin != TWIN_TRAINED]
                       .groupby(["trace", "singles", "partners", "seed"])
                       .value.mean().reset_index()
                       .assign(metric="exact_match", part="full", split="cmp"))
    out["sources"] = select(cov, metric="answer_is", part="answer", split="cmp")
    out["parts"] = pd.concat([
        select(out["splits"], part=None, split="cmp", trace=True).assign(
            test="train f1f1, f1f2, f2f1; test f2f2"),
        select(out["commute"], part=None, split="cmp").assign(
            test="train f1f2; test f2f1")], ignore_index=True)
    chance = select(out["noise"], metric=None, noise_kind="insert").assign(
        noise_kind=CHANCE)
    exact = chance.metric == "exact_match"
    chance.loc[exact, "value"] = [(1 - p) ** NOISABLE[on] for on, p in zip(
        chance.noise_on[exact], chance.noise_p[exact])]
    out["noise_with_chance"] = pd.concat([out["noise"], chance[exact]], ignore_index=True)
    tuned = select(out["finetune"], metric=None, replay=0.0)
    out["patch_both"] = pd.concat([
        select(out["patch"], metric=None).assign(
            how="mixed in", examples=lambda f: f.patch_examples),
        tuned[tuned.finetune_lr.isna()].assign(
            how="fine-tuned after", examples=lambda f: f.finetune_examples)],
        ignore_index=True)
    return out


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 1 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    for part in (_coverage, _budget, _steps, _seeds, _twins, _partners, _sources, _splits,
                 _parts,
                 _length, _noise, _patch):
        part(f, out)
    _card(out)
    return out


def _condition(trace: bool, singles: bool) -> str:
    return (f"{'with' if trace else 'without'} a trace"
            + (", singles shown" if singles else ""))


@analysis
def _coverage(f: dict, out: Findings) -> None:
    held = select(f["coverage"], split="cmp")
    by = held.groupby(["trace", "singles", "coverage"]).value
    mean, worst, best = by.mean(), by.min(), by.max()
    seeds = held.seed.nunique()
    works, lines = {}, []
    for trace in (True, False):
        for singles in (False, True):
            m = mean[trace, singles]
            lines.append(f"{_condition(trace, singles).capitalize()}: held-out exact "
                         f"match, mean of {seeds} seeds (worst to best seed) at "
                         + "; ".join(
                             f"{_fraction(c)}: {m[c]:.2f} ({worst[trace, singles, c]:.2f}"
                             f" to {best[trace, singles, c]:.2f})" for c in m.index) + ".")
            reached = m[m >= WORKS]
            works[trace, singles] = float(reached.index[0]) if len(reached) else None
    for (trace, singles), c in works.items():
        if c is None:
            lines.append(f"{_condition(trace, singles).capitalize()}, the mean never "
                         f"reaches {WORKS}; its highest is "
                         f"{mean[trace, singles].max():.2f}.")
        else:
            lines.append(f"{_condition(trace, singles).capitalize()}, the mean first "
                         f"reaches {WORKS} at {_fraction(c)} compositions trained; the "
                         f"worst seed "
                         f"there scored {worst[trace, singles, c]:.2f}.")
    reliable = worst[worst >= WORKS]
    lines.append(f"Settings where every seed reached {WORKS}: " + (", ".join(
        f"{_condition(t, s)} at {_fraction(c)}" for t, s, c in reliable.index)
        if len(reliable) else "none") + ".")
    runs = select(f["coverage"], split="id")
    failed = runs[runs.value < LEARNED]
    lines.append(f"In distribution (the trained compositions' test share): "
                 f"{len(runs) - len(failed)} of {len(runs)} runs scored at least "
                 f"{LEARNED}" + ("." if failed.empty else "; below it: " + ", ".join(
                     f"{_condition(r.trace, r.singles)} at {_fraction(r.coverage)}, seed "
                     f"{r.seed}: {r.value:.2f}" for r in failed.itertuples()) + "."))
    out.values.update(coverage_cmp=mean.to_dict(), coverage_worst=worst.to_dict(),
                      coverage_best=best.to_dict(), coverage_works=works,
                      coverage_reliable=[tuple(i) for i in reliable.index],
                      coverage_unlearned=[(r.trace, r.singles, r.coverage, r.seed)
                                          for r in failed.itertuples()])
    out.texts["coverage"] = "\n".join(lines)


@analysis
def _budget(f: dict, out: Findings) -> None:
    both = f["coverage_budget"]
    mean = both.groupby(["trace", "training", "coverage"]).value.mean()
    per_cell = f["budget"].groupby("coverage").examples_per_cell.first()
    diff = (mean.xs(PER_CELL_LABEL, level="training")
            - mean.xs(BUDGET_LABEL, level="training"))
    lines = [f"With one training set of {N_TRAIN:,}, the trained compositions get "
             + ", ".join(f"{v:.0f}" for v in per_cell) + " examples each at "
             + ", ".join(_fraction(c) for c in per_cell.index)
             + f" compositions trained; the controlled sweep gives each {PER_CELL}."]
    for trace in (True, False):
        lines.append(f"{'With' if trace else 'Without'} a trace, held-out mean with "
                     f"{PER_CELL} per composition minus with {N_TRAIN:,} in all: "
                     + ", ".join(f"{_fraction(c)}: {d:+.2f}"
                                 for c, d in diff[trace].items()) + ".")
    out.values.update(budget_diff=diff.to_dict(), budget_per_cell=per_cell.to_dict(),
                      budget_cmp=mean.xs(BUDGET_LABEL, level="training").to_dict())
    out.texts["budget"] = "\n".join(lines)


@analysis
def _steps(f: dict, out: Findings) -> None:
    long = select(f["steps"], split="cmp").set_index(
        ["trace", "coverage", "seed"]).value.sort_index()
    short = select(f["coverage"], split="cmp", singles=False).set_index(
        ["trace", "coverage", "seed"]).value.reindex(long.index)
    diff = (long - short).groupby(level=["trace", "coverage"])
    n = load_spec(SWEEPS["steps"]).base["train.max_steps"]
    lines = []
    for (trace, coverage), d in diff:
        lines.append(f"{'With' if trace else 'Without'} a trace at {_fraction(coverage)}: "
                     f"held-out mean {short[trace, coverage].mean():.2f} at the early "
                     f"stop, {long[trace, coverage].mean():.2f} after {n:,} steps (per "
                     f"seed {d.min():+.2f} to {d.max():+.2f}).")
    out.values.update(steps_diff=diff.mean().to_dict(), steps_n=n,
                      steps_diff_max=float((long - short).abs().max()))
    out.texts["steps"] = "\n".join(lines)


@analysis
def _seeds(f: dict, out: Findings) -> None:
    runs = select(f["seeds"], split="cmp").pivot(index="split_seed", columns="seed",
                                                 values="value")
    by_split, by_init = runs.mean(axis=1), runs.mean(axis=0)
    within_split = (runs.max(axis=1) - runs.min(axis=1)).mean()
    within_init = (runs.max(axis=0) - runs.min(axis=0)).mean()
    out.values.update(seeds_split_range=float(by_split.max() - by_split.min()),
                      seeds_init_range=float(by_init.max() - by_init.min()),
                      seeds_within_split=float(within_split),
                      seeds_within_init=float(within_init), seeds_table=runs)
    out.texts["seeds"] = "\n".join([
        f"{len(runs)} splits x {runs.shape[1]} initialisations at 12/16 with a trace: "
        f"held-out exact match from {runs.values.min():.2f} to {runs.values.max():.2f}.",
        f"Mean per split: {per_seed(by_split, 2)}; mean per initialisation: "
        f"{per_seed(by_init, 2)}.",
        f"Spread over initialisations of one split (max minus min, mean over splits): "
        f"{within_split:.2f}; spread over splits of one initialisation: "
        f"{within_init:.2f}."])


@analysis
def _partners(f: dict, out: Findings) -> None:
    # the figure's numbers: each seed's mean over its compositions (all coverages), then
    # the mean over seeds
    mean = f["partners"].groupby(["trace", "singles", "partners"]).value.mean()
    cells = f["cells"][f["cells"].twin != TWIN_TRAINED]
    count = cells.groupby(["trace", "singles", "partners"]).value.size()
    lines = []
    for trace in (True, False):
        for singles in (False, True):
            lines.append(f"{_condition(trace, singles).capitalize()}: held-out exact match "
                         "of compositions with no trained twin, by the fewer slot partners "
                         "their two transformations had in training (mean over seeds of "
                         "each seed's mean): " + ", ".join(
                             f"{int(k)}: {v:.2f} ({count[trace, singles, k]} cells)"
                             for k, v in mean[trace, singles].items()) + ".")
    out.values.update(partners=mean.to_dict(), partners_count=count.to_dict())
    out.texts["partners"] = "\n".join(lines)


@analysis
def _twins(f: dict, out: Findings) -> None:
    cells = f["cells"]
    mean = cells.groupby(["trace", "singles", "twin"]).value.mean()
    count = cells.groupby(["trace", "singles", "twin"]).value.size()
    lines = ["Compositions of the grid that compute the same function: " + "; ".join(
        " = ".join(sorted(c)) for c in TWINS) + "."]
    for trace in (True, False):
        for singles in (False, True):
            lines.append(f"{_condition(trace, singles).capitalize()}: held-out exact match "
                         "per composition (all coverages and seeds), " + "; ".join(
                             f"{name}: {mean[trace, singles, name]:.2f} "
                             f"({count[trace, singles, name]} cells)"
                             for name in (TWIN_TRAINED, TWIN_HELD, NO_TWIN)
                             if (trace, singles, name) in mean) + ".")
    # per run, the mean over its held-out compositions that had no trained twin
    fair = (cells[cells.twin != TWIN_TRAINED]
            .groupby(["trace", "singles", "coverage", "seed"]).value.mean()
            .groupby(["trace", "singles", "coverage"]))
    fm, fw = fair.mean(), fair.min()
    seeds = cells.seed.nunique()
    for trace in (True, False):
        lines.append(f"{'With' if trace else 'Without'} a trace, held-out compositions "
                     f"whose twin was not trained, mean of {seeds} seeds (worst seed): "
                     + "; ".join(
                         f"{_fraction(c)}: {fm[trace, False, c]:.2f} "
                         f"({fw[trace, False, c]:.2f})"
                         for c in fm[trace, False].index) + ".")
    out.values.update(twins=mean.to_dict(), twins_count=count.to_dict(),
                      fair_cmp=fm.to_dict(), fair_worst=fw.to_dict())
    out.texts["twins"] = "\n".join(lines)


@analysis
def _sources(f: dict, out: Findings) -> None:
    src = f["sources"]
    share = src.groupby(["trace", "singles", "source"]).value.mean().unstack("source")
    wrong = share.drop(columns="right")
    of_wrong = wrong.div(wrong.sum(axis=1), axis=0)
    steps = select(f["coverage"], metric="right_steps_wrong_answer", part="answer",
                   split="cmp")
    steps_share = steps.groupby(["singles"]).value.mean()
    lines = []
    for (trace, singles), row in of_wrong.iterrows():
        lines.append(f"{_condition(trace, singles).capitalize()}, wrong held-out answers "
                     "(all coverages and seeds): " + ", ".join(
                         f"{name} {row[name]:.0%}" for name in SOURCES[1:]) + ".")
    lines.append("With a trace, held-out examples whose trace was right but whose answer "
                 "was wrong: " + ", ".join(f"{v:.0%} {'with' if s else 'without'} singles"
                                           for s, v in steps_share.items())
                 + " of all held-out examples.")
    out.values.update(sources=of_wrong.to_dict("index"),
                      right_steps_wrong=steps_share.to_dict())
    out.texts["sources"] = "\n".join(lines)


@analysis
def _splits(f: dict, out: Findings) -> None:
    splits = f["splits"]
    em = select(splits, trace=True).groupby("split").value
    cmp = select(splits, split="cmp", trace=True).value
    bleu = select(splits, metric="bleu", trace=True).groupby("split").value.mean()
    edit = select(splits, metric="edit_distance", trace=True).groupby("split").value.mean()
    out.values.update(
        id_all=select(splits, split="id").value.tolist(), cmp_trace=cmp.tolist(),
        pood_max=float(em.max()["pood"]), ood_max=float(em.max()["ood"]),
        bleu=bleu.to_dict(), edit=edit.to_dict(),
        cmp_good=int((cmp > GOOD_SHARE).sum()),
        cmp_no_trace_max=float(select(splits, split="cmp", trace=False).value.max()))
    out.texts["splits"] = "\n".join([
        f"With a trace: in distribution every seed scored at least {em.min()['id']:.3f}; "
        f"on the unseen composition the seeds scored {per_seed(cmp)}.",
        f"pood and ood, with an unseen transformation: at most {em.max()['pood']:.3f} and "
        f"{em.max()['ood']:.3f}.",
        f"BLEU of the whole output, mean over seeds: id {bleu['id']:.2f}, cmp "
        f"{bleu['cmp']:.2f}, pood {bleu['pood']:.2f}, ood {bleu['ood']:.2f}.",
        f"Seeds that got more than {GOOD_SHARE:.0%} of cmp right with a trace: "
        f"{out['cmp_good']} of {len(cmp)}.",
        f"Without a trace, the best seed on cmp scored {out['cmp_no_trace_max']:.3f}."])


@analysis
def _parts(f: dict, out: Findings) -> None:
    runs = select(f["splits"], part=None, split="cmp", trace=True).pivot(
        index="seed", columns="part", values="value")
    right_steps = runs[(runs.reasoning >= STEPS_RIGHT) & (runs.answer <= ANSWER_WRONG)]
    commute = select(f["commute"], part=None, split="cmp").pivot(
        index="seed", columns="part", values="value")
    out.values.update(right_steps_seeds=list(right_steps.index), seeds=len(runs),
                      reasoning=runs.reasoning.tolist(),
                      commute_answer=commute.answer.tolist(),
                      commute_reasoning=commute.reasoning.tolist())
    out.texts["right_steps"] = "\n".join([
        f"Traces right on shift1∘shift1, per seed: {per_seed(runs.reasoning)}; answers "
        f"right: {per_seed(runs.answer)}.",
        f"Seeds with at least {STEPS_RIGHT:.0%} of the traces right and at most "
        f"{ANSWER_WRONG:.0%} of the answers: {len(right_steps)} of {len(runs)}."])
    out.texts["commute"] = (
        f"Trained on rot3∘shift1, tested on shift1∘rot3 over {len(commute)} seeds: answers "
        f"right {span(commute.answer)}, traces right {span(commute.reasoning)}.")


@analysis
def _length(f: dict, out: Findings) -> None:
    runs = select(f["length"])
    em = runs.groupby(["positions", "test_length"]).value
    edit = select(f["length"], metric="edit_distance").groupby(
        ["positions", "test_length"]).value.mean()
    out.values.update(
        length_at_train={p: runs[(runs.positions == p) & (runs.test_length == 4)]
                         .value.tolist() for p in POSITIONS},
        length_at_train_min=float(em.min().xs(4, level="test_length").min()),
        length_elsewhere_max=float(em.max().drop(4, level="test_length").max()),
        length_edit=edit.to_dict())
    lines = []
    for pos in POSITIONS:
        lines.append(f"{pos.capitalize()} positions: exact match, mean over seeds, "
                     f"{em.mean()[pos, 4]:.3f} at the training length; at most "
                     f"{em.max()[pos].drop(4).max():.3f} in any seed at any other. Edit "
                     "distance by length: " + ", ".join(
                         f"{n}: {v:.2f}" for n, v in edit[pos].items()) + ".")
    out.texts["length"] = "\n".join(lines)


@analysis
def _noise(f: dict, out: Findings) -> None:
    em = select(f["noise"]).groupby(["positions", "noise_on", "noise_kind",
                                     "noise_p"]).value.mean()
    chance = {(on, p): (1 - p) ** NOISABLE[on] for _, on, _, p in em.index}
    gap = {pos: max(abs(em[pos, on, kind, p] - chance[on, p])
                    for _, on, kind, p in em[[pos]].index if kind in ("insert", "delete"))
           for pos in POSITIONS}
    runs = select(f["noise"]).pivot_table(
        index=["positions", "noise_on", "noise_p", "seed"], columns="noise_kind",
        values="value")
    same = (runs["insert"] - runs["delete"]).abs()
    at = em.xs(0.3, level="noise_p")
    out.values.update(noise=em.to_dict(), noise_at_03=at.to_dict(),
                      noise_chance_gap=gap,
                      insert_delete_gap=same.groupby(level="positions").max().to_dict())
    lines = []
    for pos in POSITIONS:
        lines += [f"{pos.capitalize()} positions, {on}, p = 0.3: exact match with inserted "
                  f"<unk>s {at[pos, on, 'insert']:.3f}, with deletions "
                  f"{at[pos, on, 'delete']:.3f}, with replacements "
                  f"{at[pos, on, 'modify']:.3f}; (1 - p)^{NOISABLE[on]} = "
                  f"{chance[on, 0.3]:.3f}" for on in NOISE_TARGETS]
        lines.append(f"{pos.capitalize()} positions: insertion and deletion differ by at "
                     f"most {out['insert_delete_gap'][pos]:.3f} in any run; with either, "
                     f"the mean is within {gap[pos]:.3f} of (1 - p)^k at every p.")
    out.texts["noise"] = "\n".join(lines)


@analysis
def _patch(f: dict, out: Findings) -> None:
    both = select(f["patch_both"])
    band = seed_band(both, ["how", "examples", "split"])
    mixed = band[(band.how == "mixed in") & (band.split == "cmp")].set_index(
        "examples")["mean"]
    enough = mixed[mixed >= PATCH_RECOVERED]
    tuned = select(f["finetune"], finetune_examples=TUNED_AT).assign(
        lr=lambda d: d.finetune_lr.fillna(preset("finetune").train.lr))
    after = tuned.groupby(["replay", "lr", "split"]).value
    ids_before = select(f["finetune"], finetune_examples=0, split="id").value
    per_cell = float(f["patch"].examples_per_cell.iloc[0])
    out.values.update(
        mixed_cmp=mixed.to_dict(),
        smallest_patch_examples=int(enough.index[0]) if len(enough) else None,
        patch_id_min=float(select(f["patch"], split="id").value.min()),
        tuned=after.mean().to_dict(), tuned_min=after.min().to_dict(),
        tuned_id_before_min=float(ids_before.min()),
        patch_examples_per_trained_cell=per_cell)
    lines = [f"Each trained composition had about {per_cell:.0f} training examples.",
             "Mixed in: held-out exact match " + ", ".join(
                 f"{n} examples: {v:.2f}" for n, v in mixed.items())
             + f"; in distribution every run stayed at or above "
               f"{out['patch_id_min']:.3f}.",
             f"Fine-tuned after on {TUNED_AT} held-out examples (in distribution before: "
             f"at least {ids_before.min():.3f}):"]
    for (replay, lr), _ in tuned.groupby(["replay", "lr"]):
        m, low = after.mean(), after.min()
        lines.append(f"  {'half replayed' if replay else 'held-out only'}, learning rate "
                     f"{lr:g}: held-out {m[replay, lr, 'cmp']:.2f} (worst seed "
                     f"{low[replay, lr, 'cmp']:.2f}), in distribution "
                     f"{m[replay, lr, 'id']:.2f} (worst seed {low[replay, lr, 'id']:.2f}).")
    out.texts["patch"] = "\n".join(lines)


@analysis
def _card(out: Findings) -> None:
    v = out.values
    cmp_t = pd.Series(v["cmp_trace"])
    at3 = v["noise_at_03"]
    smallest = v["smallest_patch_examples"]
    works = v["coverage_works"]
    tuned = v["tuned"]
    lr = preset("finetune").train.lr
    fair = {c: max(m for (t, s, cov), m in v["fair_cmp"].items() if t == c and not s)
            for c in (True, False)}
    fair_low = next(v["fair_worst"][k] for k, m in v["fair_cmp"].items()
                    if k[0] and not k[1] and m == fair[True])
    out.card = [
        ("In distribution", "100% exact match [S]",
         f"{span(pd.Series(v['id_all']))} ({len(v['id_all'])} runs)", "no"),
        ("Unseen composition (cmp), with a trace", "0.01% exact match, BLEU 0.69 [S]",
         f"exact match {span(cmp_t)} per seed (mean {cmp_t.mean():.3f}); BLEU mean "
         f"{v['bleu']['cmp']:.2f}",
         f"{v['cmp_good']} of {len(cmp_t)} seeds get more than {GOOD_SHARE:.0%} right"),
        ("Unseen transformation (pood, ood)", "0.00% [S]",
         f"at most {v['pood_max']:.3f} and {v['ood_max']:.3f}",
         "no; unsolvable by construction in both"),
        ("Right steps, wrong answer (cmp)", "reasoning 100%, answer 0.01% [S]",
         f"{len(v['right_steps_seeds'])} of {v['seeds']} seeds (reasoning at least "
         f"{STEPS_RIGHT}, answer at most {ANSWER_WRONG})",
         "yes: holds in few seeds" if len(v["right_steps_seeds"]) < v["seeds"] else "no"),
        ("Wrong steps, right answer (f1f2 to f2f1)", "reasoning 0%, answer 100% [S]",
         f"reasoning {span(pd.Series(v['commute_reasoning']))}, answer "
         f"{span(pd.Series(v['commute_answer']))}", "no"),
        ("Other lengths (trained at 4)", "100% at 4, 0% at 2, 3, 5, 6 [S]",
         f"at 4: at least {v['length_at_train_min']:.3f}; elsewhere at most "
         f"{v['length_elsewhere_max']:.3f}, with learned or rotary positions",
         "no" + ("; rotary positions do not help either"
                 if v["length_elsewhere_max"] < GOOD_SHARE else "")),
        ("Format noise",
         "insertion hurts most; element and transformation noise more than instruction [S]",
         f"p = 0.3, insert, learned positions: letters "
         f"{at3['learned', 'element', 'insert']:.2f}, transformations "
         f"{at3['learned', 'transform', 'insert']:.2f}, instruction "
         f"{at3['learned', 'instruction', 'insert']:.2f}; within "
         f"{v['noise_chance_gap']['learned']:.2f} of (1 - p)^k",
         "insertion is as bad as deletion, not worse; the order is the count of tokens "
         "of each kind"),
        ("Patch", "a tiny share (about 0.015%) of unseen data restores it [S]",
         f"mixed in: {smallest if smallest is not None else 'none'} examples reach "
         f"{PATCH_RECOVERED} (mean); fine-tuned on {TUNED_AT}: held-out "
         f"{tuned[0.0, lr, 'cmp']:.2f}, in distribution {tuned[0.0, lr, 'id']:.2f}; with "
         f"half replayed: {tuned[0.5, lr, 'cmp']:.2f} and {tuned[0.5, lr, 'id']:.2f}",
         f"fine-tuned on held-out data alone, in distribution falls to "
         f"{tuned[0.0, lr, 'id']:.2f}; half replayed keeps {tuned[0.5, lr, 'id']:.2f} "
         f"(worst seed {v['tuned_min'][0.5, lr, 'id']:.2f})"),
        ("More coverage (the book's question)",
         "not tested in the paper; Yao et al. report CoT composes [P]",
         f"held-out compositions with no trained twin: best mean {fair[True]:.2f} with a "
         f"trace (worst seed there {fair_low:.2f}), {fair[False]:.2f} without; first "
         f"reaches {WORKS} at "
         + (_fraction(works[True, False]) if works[True, False] else "no coverage")
         + " with a trace",
         "the toy's own result; " + ("not reliable in every seed anywhere"
                                     if not v["coverage_reliable"] else
                                     f"every seed reaches {WORKS} in "
                                     f"{len(v['coverage_reliable'])} settings")),
    ]
