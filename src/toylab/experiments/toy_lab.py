"""Chapter 0, the toy lab: the plain pipeline on the letter task, with its two presets.

* ``toylab``: two letter maps, ROT-3 and atbash, composed in pairs (a grid of four
  compositions), no trace; training covers a share of the grid (vary ``split.coverage``)
  and is tested on new strings of the trained compositions (``id``) and on the held-out
  ones (``cmp``). The shipped sweep ``toylab`` covers 1, 2 or 3 of the 4.
* ``demo``: DataAlchemy's split (train rot3∘rot3, rot3∘shift1, shift1∘rot3; hold out
  shift1∘shift1), with or without a trace (``python -m toylab demo``; sweep ``demo``).

Every metric row carries ``coverage`` and ``trace`` (the config fields the sliders set) and
the counts that come with a coverage: ``compositions`` (trained) and ``examples_per_cell``
(the fixed training set spread over the trained cells).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from toylab.config import override
from toylab.experiment import Experiment, Trained
from toylab.model import PRESETS as MODEL_SIZES
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, seed_band, select
from toylab.sweep import shipped
from toylab.tasks import Task
from toylab.tasks.letter_splits import coverage_counts

#: A run has learned its training compositions when it gets at least this share of new
#: strings of them exactly right.
LEARNED = 0.9


class ToyLab(Experiment):
    kind = "toylab.experiments.toy_lab/1"
    presets: dict[str, dict[str, Any]] = {
        "toylab": {"task.transforms": ["rot3", "atbash"], "task.lengths": [4],
                   "task.trace": False, "split.tests": ["id", "cmp"],
                   "train.target_accuracy": 0.98, "split.coverage": 0.25},
        "demo": {"task.transforms": ["rot3", "shift1"], "task.lengths": [4],
                 "split.coverage": None,
                 "split.train_compositions": [["rot3", "rot3"], ["rot3", "shift1"],
                                              ["shift1", "rot3"]],
                 "split.tests": ["id", "cmp"]},
    }
    columns = {"coverage": "split.coverage", "trace": "task.trace"}
    chapter = "chapters/00_toy_lab.ipynb"
    panels = {"coverage": PanelSpec("toylab", {"split.coverage": [0.25, 0.5, 0.75],
                                               "seed": [0, 1, 2, 3, 4]}, band="toylab")}

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: shipped(name) for name in ("toylab", "demo")}

    def derived(self, cfg, trained: Trained) -> dict[str, Any]:
        return coverage_counts(trained.split)


EXPERIMENT = ToyLab()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel


@analysis
def findings(toylab=None, demo=None) -> Findings:
    """What chapter 0 states, from the shipped sweeps ``toylab`` and ``demo`` (or frames
    of the same shape, e.g. recomputed ones)."""
    toylab = shipped("toylab") if toylab is None else toylab
    demo = shipped("demo") if demo is None else demo
    out = Findings()
    ids, cmps = select(toylab, split="id"), select(toylab, split="cmp")
    stuck = ids[ids.value < LEARNED]
    demo_id = select(demo, split="id").set_index(["trace", "seed"]).value
    demo_gap = demo_id - select(demo, split="cmp").set_index(["trace", "seed"]).value
    out.values.update(
        cmp_best=float(cmps.value.max()), runs=len(ids), learned=len(ids) - len(stuck),
        id_median_worst=float(ids.groupby("coverage").value.median().min()),
        stuck=[(float(r.coverage), int(r.seed), float(r.value))
               for r in stuck.itertuples()],
        gap_min=float((ids.set_index(["coverage", "seed"]).value
                       - cmps.set_index(["coverage", "seed"]).value)[
                           ids.set_index(["coverage", "seed"]).value >= LEARNED].min()),
        demo_id_min=float(demo_id.min()),
        demo_id_median_worst=float(demo_id.groupby(level="trace").median().min()),
        demo_learned=int((demo_id >= LEARNED).sum()),
        demo_gap_min=float(demo_gap[demo_id >= LEARNED].min()),
        demo_cmp_best={bool(t): float(v) for t, v in
                       select(demo, split="cmp").groupby("trace").value.max().items()})
    lines = [f"Best held-out exact match of any seed at any coverage: "
             f"{out['cmp_best']:.3f}.",
             f"{out['learned']} of {out['runs']} runs learned their training compositions "
             f"(at least {LEARNED} exact match on new strings)."]
    lines += [f"Not learned: coverage {c}, seed {s}: {v:.3f} in distribution."
              for c, s, v in out["stuck"]]
    out.texts["sweep"] = "\n".join(lines)
    return out


@analysis
def coverage_table(toylab=None):
    """Mean, lowest and highest seed of full-output exact match per coverage and split."""
    toylab = shipped("toylab") if toylab is None else toylab
    return seed_band(select(toylab), ["coverage", "split"]).round(3)


@analysis
def model_sizes(task: Task) -> pd.DataFrame:
    """The model's size presets (layers, heads, width) and their parameters for ``task``
    (the position table not counted)."""
    sizes = pd.DataFrame(MODEL_SIZES, index=["layers", "heads", "width"]).T
    sizes["parameters"] = [
        EXPERIMENT.model(override(EXPERIMENT.config_class(), {
            "model.n_layer": layers, "model.n_head": heads, "model.d_model": width}),
            task).n_params()
        for layers, heads, width in MODEL_SIZES.values()]
    return sizes
