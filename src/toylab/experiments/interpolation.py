"""Chapter 1, interpolation bounds: DataAlchemy's splits in the toy, and the coverage curve.

DataAlchemy (Zhao et al. 2025, arXiv:2508.01191) trains small transformers on letter
strings under composed transformations and tests them on unseen compositions, lengths and
formats. This module runs the toy versions of its experiments. Every run trains one model
through the lab's pipeline (``toylab.experiment``) and then *probes* it in one of four
ways, chosen by ``probe.kind``:

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

Every metric row carries ``trace``, ``coverage`` (when the preset sets one) and ``patch``
(the config fields the sliders set), and the counts derived from the split:
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
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, per_seed, seed_band, select, span
from toylab.splits import make_split
from toylab.sweep import shipped
from toylab.tasks import NOISE_KINDS, NOISE_TARGETS, Examples, make_task
from toylab.tasks.letter_splits import coverage_counts
from toylab.train import TrainConfig, train
from toylab.views import bars_view, curve_view

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


def _scored(trained: Trained, tests: dict[str, Examples], cfg: InterpolationConfig,
            **columns: Any) -> Rows:
    metrics, samples = evaluate(trained.model, trained.task, tests, cfg.eval)
    for row in metrics + samples:
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


SEEDS = [0, 1, 2, 3, 4]
#: The chapter's live panels, (a) to (f).
PANELS = {
    "a": PanelSpec("splits", {"task.trace": [False, True], "seed": SEEDS}, "splits",
                   view=bars_view, description="scores by test split"),
    "b": PanelSpec("commute", {"seed": SEEDS}, "commute", view=bars_view,
                   options={"x": "part", "metrics": ["exact_match"],
                            "fixed": {"split": "cmp"}},
                   description="exact match of each part on shift1∘rot3"),
    "c": PanelSpec("length", {"seed": SEEDS}, "length", view=curve_view,
                   options={"x": "test_length", "metrics": ["exact_match", "edit_distance"],
                            "x_title": "test length"},
                   description="scores by test length"),
    "d": PanelSpec("noise", {"seed": SEEDS}, "noise_with_chance", view=curve_view,
                   options={"x": "noise_p", "series": "noise_kind",
                            "metrics": ["exact_match", "edit_distance"],
                            "fixed": {"noise_on": "element"},
                            "x_title": "noise probability p"},
                   changes={"probe.noise_on": ["element"]},  # the live run: letters only
                   description="scores on prompts with corrupted letters"),
    "e": PanelSpec("patch", {"split.patch": [0.0, 0.0025, 0.01, 0.04, 0.16], "seed": SEEDS},
                   "patch", view=curve_view, along="patch",
                   options={"x": "patch_examples", "series": "split",
                            "metrics": ["exact_match"], "log_x": True,
                            "x_title": "held-out examples mixed in"},
                   description="exact match against the held-out examples mixed in"),
    "f": PanelSpec("coverage", {
        "split.coverage": [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875],
        "task.trace": [False, True], "seed": SEEDS}, "coverage"),
}


class Interpolation(Experiment):
    kind = "toylab.experiments.interpolation/1"
    config_class = InterpolationConfig
    presets = PRESETS
    columns = {"trace": "task.trace", "coverage": "split.coverage", "patch": "split.patch"}
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
#: Compositions in panel (f)'s grid, and the training examples spread over them.
GRID = len(preset("coverage").task.compositions)
N_TRAIN = preset("coverage").split.n_train


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

#: The shipped sweeps of this chapter, by the panel they draw.
SWEEPS = {"splits": "interpolation_splits", "commute": "interpolation_commute",
          "length": "interpolation_length", "noise": "interpolation_noise",
          "patch": "interpolation_patch", "finetune": "interpolation_finetune",
          "coverage": "interpolation_coverage"}
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


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by panel name, and two combined ones the
    figures draw: ``parts`` (exact match of each part of ``cmp`` in both experiments of
    panel b), ``noise_with_chance`` (panel d's sweep and, as one more series, the share of
    prompts none of whose tokens of the corrupted kind was hit, (1 - p)^k) and
    ``patch_both`` (held-out examples mixed in or fine-tuned on, panel e).
    ``sweeps`` replaces shipped frames by panel name (e.g. recomputed ones)."""
    out = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    out.update(sweeps or {})
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
    out["patch_both"] = pd.concat([
        select(out["patch"], metric=None).assign(
            how="mixed in", examples=lambda f: f.patch_examples),
        select(out["finetune"], metric=None).assign(
            how="fine-tuned after", examples=lambda f: f.finetune_examples)],
        ignore_index=True)
    return out


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 1 states and its claim card, from the shipped sweeps (or the
    frames given by panel name)."""
    f = frames(sweeps)
    out = Findings()
    _splits(f, out)
    _parts(f, out)
    _length(f, out)
    _noise(f, out)
    _patch(f, out)
    _coverage(f, out)
    _card(out)
    return out


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
        cmp_no_trace_max=float(select(splits, split="cmp", trace=False).value.max()))
    out.texts["splits"] = "\n".join([
        f"With a trace: in distribution every seed scored at least {em.min()['id']:.3f}; "
        f"on the unseen composition the seeds scored {per_seed(cmp)}.",
        f"pood and ood, with an unseen transformation: at most {em.max()['pood']:.3f} and "
        f"{em.max()['ood']:.3f}.",
        f"BLEU of the whole output, mean over seeds: id {bleu['id']:.2f}, cmp "
        f"{bleu['cmp']:.2f}, pood {bleu['pood']:.2f}, ood {bleu['ood']:.2f}.",
        f"Seeds that got more than {GOOD_SHARE:.0%} of cmp right with a trace: "
        f"{int((cmp > GOOD_SHARE).sum())} of {len(cmp)}.",
        f"Without a trace, the best seed on cmp scored {out['cmp_no_trace_max']:.3f}."])


@analysis
def _parts(f: dict, out: Findings) -> None:
    runs = select(f["splits"], part=None, split="cmp", trace=True).pivot(
        index="seed", columns="part", values="value")
    right_steps = runs[(runs.reasoning >= STEPS_RIGHT) & (runs.answer <= ANSWER_WRONG)]
    commute = select(f["commute"], part=None, split="cmp").pivot(
        index="seed", columns="part", values="value")
    out.values.update(right_steps_seeds=list(right_steps.index), seeds=len(runs),
                      commute_answer=commute.answer.tolist(),
                      commute_reasoning=commute.reasoning.tolist())
    out.texts["right_steps"] = (
        f"Seeds with at least {STEPS_RIGHT:.0%} of the traces right and at most "
        f"{ANSWER_WRONG:.0%} of the answers: {list(right_steps.index)} of {len(runs)}.")
    out.texts["commute"] = (
        f"Trained on rot3∘shift1, tested on shift1∘rot3 over {len(commute)} seeds: answers "
        f"right {span(commute.answer)}, traces right {span(commute.reasoning)}.")


@analysis
def _length(f: dict, out: Findings) -> None:
    by_length = seed_band(select(f["length"], metric=None),
                          ["metric", "test_length"]).pivot(
        index="test_length", columns="metric", values="mean")
    em = by_length.exact_match
    em_runs = select(f["length"]).groupby("test_length").value
    out.values.update(length_at_train=select(f["length"], test_length=4).value.tolist(),
                      length_at_train_min=float(em_runs.min()[4]),
                      length_elsewhere_max=float(em_runs.max().drop(4).max()),
                      length_edit=by_length.edit_distance.to_dict())
    out.texts["length"] = "\n".join([
        f"Exact match, mean over seeds: {em[4]:.3f} at the training length; at most "
        f"{em.drop(4).max():.3f} at any other.",
        "Edit distance rises with the distance from length 4: " + ", ".join(
            f"{n}: {v:.2f}" for n, v in by_length.edit_distance.items()) + "."])


@analysis
def _noise(f: dict, out: Findings) -> None:
    em = select(f["noise"]).groupby(["noise_on", "noise_kind", "noise_p"]).value.mean()
    at = em.xs(0.3, level="noise_p")
    chance = {(on, p): (1 - p) ** NOISABLE[on] for on, _, p in em.index}
    gap = max(abs(em[on, kind, p] - chance[on, p]) for on, kind, p in em.index
              if kind in ("insert", "delete"))
    runs = select(f["noise"]).pivot_table(index=["noise_on", "noise_p", "seed"],
                                          columns="noise_kind", values="value")
    out.values.update(noise=em.to_dict(), noise_at_03=at.to_dict(),
                      noise_chance_gap=float(gap),
                      insert_equals_delete=bool((runs["insert"] == runs["delete"]).all()))
    out.texts["noise"] = "\n".join(
        f"{on}, p = 0.3: exact match with inserted <unk>s {at[on, 'insert']:.3f}, with "
        f"deletions {at[on, 'delete']:.3f}, with replacements {at[on, 'modify']:.3f}; "
        f"share of prompts with none of their {NOISABLE[on]} such token(s) corrupted, "
        f"(1 - p)^{NOISABLE[on]}: {chance[on, 0.3]:.3f}"
        for on in NOISE_TARGETS) + (
        f"\nInsertion and deletion give the same exact match in "
        f"{'every' if out['insert_equals_delete'] else 'not every'} run; with either, "
        f"exact match is within {gap:.3f} of (1 - p)^k at every p.")


@analysis
def _patch(f: dict, out: Findings) -> None:
    both = select(f["patch_both"])
    band = seed_band(both, ["how", "examples", "split"])
    mixed = band[(band.how == "mixed in") & (band.split == "cmp")].set_index(
        "examples")["mean"]
    tuned = band[band.how == "fine-tuned after"].pivot(index="examples", columns="split",
                                                      values="mean")
    enough = mixed[mixed >= PATCH_RECOVERED]
    after = select(f["finetune"], split="id")
    out.values.update(
        mixed_cmp=mixed.to_dict(), tuned_cmp=tuned.cmp.to_dict(),
        tuned_id=tuned.id.to_dict(),
        smallest_patch_examples=int(enough.index[0]) if len(enough) else None,
        patch_id_min=float(select(f["patch"], split="id").value.min()),
        tuned_id_after_max=float(after[after.finetune_examples > 0].value.max()))
    per_cell = float(f["patch"].examples_per_cell.iloc[0])
    out.values["patch_examples_per_trained_cell"] = per_cell
    out.texts["patch"] = "\n".join([
        f"Each trained composition had about {per_cell:.0f} training examples.",
        "Mixed in: held-out exact match " + ", ".join(
            f"{n} examples: {v:.2f}" for n, v in mixed.items()) + ".",
        "Fine-tuned after: held-out exact match " + ", ".join(
            f"{n}: {v:.2f}" for n, v in tuned.cmp.items())
        + f"; in distribution, {tuned.id[0]:.3f} before and at most "
          f"{tuned.id.drop(0).max():.3f} after any of these fine-tunes."])


@analysis
def _coverage(f: dict, out: Findings) -> None:
    held = select(f["coverage"], split="cmp")
    mean = held.groupby(["trace", "coverage"]).value.mean()
    best = held.groupby(["trace", "coverage"]).value.max()
    ids = select(f["coverage"], split="id").groupby(["trace", "coverage"]).value.mean()
    lines = []
    for trace in (True, False):
        lines.append(f"{'With' if trace else 'Without'} a trace, held-out exact match, "
                     "mean of 5 seeds (best seed) by compositions trained: " + "; ".join(
                         f"{round(c * GRID)}/{GRID}: {mean[trace, c]:.2f} "
                         f"({best[trace, c]:.2f})" for c in mean[trace].index))
    works = mean[True][mean[True] >= WORKS]
    if len(works):
        lines.append(f"With a trace the mean first reaches {WORKS} at coverage "
                     f"{works.index[0]} ({round(works.index[0] * GRID)} of {GRID} "
                     f"compositions trained); its highest mean is {mean[True].max():.2f}.")
    else:
        lines.append(f"With a trace the mean never reaches {WORKS}.")
    lines.append(f"Without a trace the highest mean is {mean[False].max():.2f}.")
    worst = held.groupby(["trace", "coverage"]).value.min()
    top = mean[True].idxmax()
    no_trace_top = mean[False].idxmax()
    no_trace_runs = held[~held.trace & (held.coverage == no_trace_top)].value
    lines.append(f"At {round(top * GRID)} of {GRID} with a trace (the best mean) the worst "
                 f"seed scored {worst[True, top]:.2f}; without a trace at "
                 f"{round(no_trace_top * GRID)} of {GRID}, the seeds scored "
                 f"{span(no_trace_runs, 2)}.")
    cells = f["coverage"].groupby("compositions").examples_per_cell.first()
    lines.append(f"The training set stays {N_TRAIN:,} examples, so examples per trained "
                 "composition fall as coverage grows: " + ", ".join(
                     f"{n}/{GRID}: {v:.0f}" for n, v in cells.items()) + ".")
    out.values.update(coverage_worst_at_best=float(worst[True, top]),
                      coverage_cmp=mean.to_dict(), coverage_best=best.to_dict(),
                      coverage_id=ids.to_dict(),
                      coverage_works=float(works.index[0]) if len(works) else None)
    out.texts["coverage"] = "\n".join(lines)


@analysis
def _card(out: Findings) -> None:
    v = out.values
    cmp_t = pd.Series(v["cmp_trace"])
    at3 = v["noise_at_03"]
    mean = pd.Series(v["coverage_cmp"])
    smallest = v["smallest_patch_examples"]
    out.card = [
        ("In distribution", "100% exact match [S]",
         f"{span(pd.Series(v['id_all']))} ({len(v['id_all'])} runs)", "no"),
        ("Unseen composition (cmp), with a trace", "0.01% exact match, BLEU 0.69 [S]",
         f"exact match {span(cmp_t)} per seed (mean {cmp_t.mean():.3f}); BLEU mean "
         f"{v['bleu']['cmp']:.2f}",
         f"{int((cmp_t > GOOD_SHARE).sum())} of {len(cmp_t)} seeds get more than "
         f"{GOOD_SHARE:.0%} of it right"),
        ("Unseen transformation (pood, ood)", "0.00% [S]",
         f"at most {v['pood_max']:.3f} and {v['ood_max']:.3f}",
         "no; unsolvable by construction in both"),
        ("Right steps, wrong answer (cmp)", "reasoning 100%, answer 0.01% [S]",
         f"{len(v['right_steps_seeds'])} of {v['seeds']} seeds (reasoning at least "
         f"{STEPS_RIGHT}, answer at most {ANSWER_WRONG})", "only in some seeds"),
        ("Wrong steps, right answer (f1f2 to f2f1)", "reasoning 0%, answer 100% [S]",
         f"reasoning {span(pd.Series(v['commute_reasoning']))}, answer "
         f"{span(pd.Series(v['commute_answer']))}", "no"),
        ("Other lengths (trained at 4)", "100% at 4, 0% at 2, 3, 5, 6 [S]",
         f"{span(pd.Series(v['length_at_train']))} at 4; at most "
         f"{v['length_elsewhere_max']:.3f} elsewhere", "no"),
        ("Format noise",
         "insertion hurts most; element and transformation noise more than instruction [S]",
         f"p = 0.3, insert: letters {at3['element', 'insert']:.2f}, transformations "
         f"{at3['transform', 'insert']:.2f}, instruction "
         f"{at3['instruction', 'insert']:.2f}; letters, delete: "
         f"{at3['element', 'delete']:.2f}; within {v['noise_chance_gap']:.2f} of "
         "(1 - p)^k, the share of prompts left uncorrupted",
         "insertion is as bad as deletion, not worse; the order follows how many tokens "
         "of each kind a prompt has"),
        ("Patch", "a tiny share (about 0.015%) of unseen data restores it [S]",
         f"mixed in: {smallest if smallest is not None else 'none'} examples reach "
         f"{PATCH_RECOVERED} (mean); fine-tuned: 64 examples give "
         f"{v['tuned_cmp'][64]:.2f}, in distribution then {v['tuned_id'][64]:.2f}",
         "fine-tuning on held-out data alone erases the rest"),
        ("More coverage (the book's question)",
         "not tested in the paper; Yao et al. report CoT composes [P]",
         f"with a trace, mean {mean[True].iloc[0]:.2f} at 2/16 to {mean[True].max():.2f} "
         f"at best (worst seed there {v['coverage_worst_at_best']:.2f}); without, at most "
         f"{mean[False].max():.2f}", "the toy's own result; confounded with examples per "
         "composition and not reliable in every seed"),
    ]
