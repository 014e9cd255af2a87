"""Chapter 3, decomposition: granular subtasks against one umbrella task, at an equal token
budget, over coverage of the function-pair grid.

Granite-20B-FunctionCalling (Abdelaziz et al. 2024, arXiv:2407.00121) was tuned on seven
granular function-calling tasks and generalized better than models tuned on umbrella
datasets; the paper compared different models trained on different data, and ran no
controlled ablation. This module runs a controlled version in the toy: one model, the
function-call family (``toylab.tasks.calls``), three ways to spend the same training-token
budget (``split.condition``: ``umbrella``, ``granular``, ``unmarked``), and a ``coverage``
of the pair grid (which ordered pairs of functions training composes). Every condition is
tested on the same prompts: full calls of trained pairs in new requests (``id``), of
held-out pairs (``held``), and single calls (``single``).

The probe scores each test split per composite kind (``kind``: ``parallel``, ``chained``,
``nested``, and ``all`` of them; ``single`` for single calls) with

* ``exact_match``: the whole call sequence right;
* ``name_accuracy``: the output calls exactly the right functions (in any order);
* ``argument_f1``: F1 of its (function, argument, value) triples;
* ``error_<kind of error>``: the share of examples whose first error is of that kind
  (``toylab.tasks.calls.classify``: format, name, order, nesting, argument);
* ``trained_pair``: the share of examples answered by a wrong call sequence whose two
  functions form a pair training composed (the model fell back on a composition it knows);
* ``one_call``: the share of two-function requests answered by a single well-formed call
  (the model stopped after one function, as an ``args`` subtask's target does);
* ``names_only``: the share answered by function names alone (a ``names`` subtask's
  answer given where a full call was asked for);

and one row ``split = "train"``, ``metric = "steps"``: how long the run trained (early stop
on in-distribution full calls), kept as a value because it moves between processors.

Every metric row carries ``coverage``, ``condition`` and ``budget`` (the config fields the
sliders set) and the counts that come with them: ``pairs`` (trained), ``train_examples``,
``call_examples`` (full calls among them) and ``calls_per_cell`` (full-call examples per
trained composite cell). ``findings()`` computes what the chapter states from the shipped
sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toylab.evaluate import decode_examples
from toylab.experiment import Experiment, ExperimentConfig, Rows, Trained
from toylab.model import ModelConfig
from toylab.panels import PanelSpec
from toylab.tasks import EOS, until_eos
from toylab.tasks.calls import (
    CONDITIONS,
    ERRORS,
    LIBRARY,
    CallConfig,
    CallSplitConfig,
    argument_f1,
    classify,
    names_right,
    parse_calls,
    split_counts,
)
from toylab.train import TrainConfig

#: The metrics the probe reports for every test split and kind.
METRICS = ("exact_match", "name_accuracy", "argument_f1",
           *(f"error_{e}" for e in ERRORS), "trained_pair", "one_call", "names_only")


@dataclass(frozen=True)
class DecompositionConfig(ExperimentConfig):
    """An ``ExperimentConfig`` on the function-call family."""

    task: Any = field(default_factory=CallConfig)
    split: Any = field(default_factory=CallSplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    # lr 5e-3 rather than the lab's 3e-3: about a third fewer steps here at batch 32
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=1200, batch_size=32, lr=5e-3, target_accuracy=0.95))


#: The chapter's presets: name -> overrides of ``DecompositionConfig()``.
PRESETS: dict[str, dict[str, Any]] = {
    # the book's question: a share of the 30-pair grid composed in training, the budget
    # spent as one umbrella task, as marked subtasks, or as the same subtasks unmarked.
    # Every run trains until its in-distribution full calls reach the target, up to 3,000
    # steps: at 1,200 most granular runs stopped short of it (an earlier sweep: 22 of 40
    # capped, against 2 of 40 umbrella runs), which made granular look worse than it is
    "coverage": {"split.coverage": 0.4, "split.condition": "granular",
                 "train.max_steps": 3000, "train.eval_every": 50},
    # the live panels: the same family, model and budget, 500 steps in every condition
    # (no early stop) on two threads, about 4 s: umbrella runs get most of the way to
    # their training target, granular ones, with more to learn, less far
    "live": {"split.coverage": 0.6, "split.condition": "granular",
             "train.max_steps": 500, "train.eval_every": 500,
             "train.target_accuracy": None, "train.threads": 2},
}


def score_outputs(gold: list[list[str]], outputs: list[list[str]],
                  trained_pairs: set[str]) -> pd.DataFrame:
    """One row per example: ``exact_match``, ``name_accuracy``, ``argument_f1``,
    ``error`` (``correct`` or the first kind of error), ``trained_pair``, ``one_call``
    and ``names_only`` (the module docstring)."""
    rows = []
    for g, o in zip(gold, outputs):
        error = classify(g, o)
        parsed = parse_calls(o)
        two = len(parse_calls(g).names) == 2
        answer = list(until_eos(o))
        rows.append({
            "exact_match": float(error == "correct"),
            "name_accuracy": float(names_right(g, o)),
            "argument_f1": argument_f1(g, o),
            "error": error,
            "trained_pair": float(error != "correct" and parsed is not None
                                  and " ".join(parsed.names) in trained_pairs),
            "one_call": float(two and parsed is not None and len(parsed.names) == 1),
            "names_only": float(bool(answer) and all(t in LIBRARY for t in answer))})
    return pd.DataFrame(rows)


def metric_rows(split: str, kind: str, scored: pd.DataFrame) -> list[dict]:
    """The probe's metric rows of one split and kind from ``score_outputs``' rows."""
    n = len(scored)
    values = {m: float(scored[m].mean()) for m in
              ("exact_match", "name_accuracy", "argument_f1")}
    values.update({f"error_{e}": float((scored.error == e).mean()) for e in ERRORS})
    for m in ("trained_pair", "one_call", "names_only"):
        values[m] = float(scored[m].mean())
    return [{"split": split, "kind": kind, "part": "full", "metric": m,
             "value": values[m], "n": n} for m in METRICS]


class Decomposition(Experiment):
    kind = "toylab.experiments.decomposition/1"
    config_class = DecompositionConfig
    presets = PRESETS
    columns = {"coverage": "split.coverage", "condition": "split.condition",
               "budget": "split.budget"}
    chapter = "chapters/03_decomposition.ipynb"

    def derived(self, cfg, trained: Trained) -> dict[str, Any]:
        return split_counts(trained.split)

    def probe(self, cfg, trained: Trained) -> Rows:
        task, split, model = trained.task, trained.split, trained.model
        vocab = task.vocab
        eos = vocab.index[EOS]
        pairs = set(split.record["trained_pairs"])
        metrics: list[dict] = [{"split": "train", "kind": "all", "part": "full",
                                "metric": "steps", "value": float(trained.fitted.steps),
                                "n": 1}]
        samples: list[dict] = []
        for name, ex in split.tests.items():
            targets, prompts = ex.targets(), ex.prompts()
            max_new = max(len(t) for t in targets) + cfg.eval.extra_tokens
            outputs = decode_examples(model, ex, max_new, eos, cfg.eval.batch_size)
            gold = [vocab.decode(t) for t in targets]
            out = [vocab.decode(o) for o in outputs]
            scored = score_outputs(gold, out, pairs)
            kinds = np.array([c.kind for c in ex.cells])
            for kind in dict.fromkeys(kinds):
                metrics += metric_rows(name, kind, scored[kinds == kind])
            if name != "single":
                metrics += metric_rows(name, "all", scored)
            keep = np.unique(np.linspace(0, len(ex) - 1, cfg.eval.n_samples).astype(int)
                             ) if cfg.eval.n_samples else []
            for i in keep:
                samples.append({
                    "split": name, "cell": str(ex.cells[i]), "kind": kinds[i],
                    "prompt": " ".join(vocab.decode(prompts[i])),
                    "target": " ".join(gold[i][:-1]),
                    "output": " ".join(o for o in out[i] if o != EOS),
                    "error": scored.error.iloc[i],
                    "correct": bool(scored.exact_match.iloc[i])})
        return metrics, samples


EXPERIMENT = Decomposition()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel


# ---------------------------------------------------------------------------------------
# Panels and views

#: The column the panels' bands name the condition by: a panel narrows its band to the
#: value of every slider it finds there, and these views draw every condition at once.
TRAINED_AS = "trained as"
#: Colours of the three conditions.
CONDITION_COLORS = {"umbrella": "#4d4d4d", "granular": "#1b7837", "unmarked": "#bf812d"}
ERROR_COLORS = {"format": "#762a83", "name": "#c51b7d", "order": "#e08214",
                "nesting": "#35978f", "argument": "#4393c3"}
COVERAGES = (0.2, 0.4, 0.6, 0.8)
SEEDS = tuple(range(10))


def _as_band(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"condition": TRAINED_AS})


def coverage_curves(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
                    kind: str = "all", split: str = "held",
                    metrics: tuple[str, ...] = ("exact_match", "name_accuracy",
                                                "argument_f1"),
                    select: dict | None = None, title: str | None = None):
    """Scores of one test split against coverage, one line per condition (mean over seeds,
    band from the lowest to the highest seed); ``live``, one fresh run, as black diamonds.
    """
    import altair as alt

    rows = frame[(frame.split == split) & (frame.part == "full")]
    rows = rows if select and "kind" in select else rows[rows.kind == kind]
    rows = _as_band(rows) if "condition" in rows else rows
    keys = ["coverage", TRAINED_AS, "metric", *(select or {})]
    band = rows[rows.metric.isin(metrics)].groupby(keys, sort=False).value.agg(
        mean="mean", low="min", high="max", seeds="count").reset_index()
    xs = sorted(band.coverage.unique())
    color = alt.Color(f"{TRAINED_AS}:N", scale=alt.Scale(
        domain=list(CONDITION_COLORS), range=list(CONDITION_COLORS.values())),
        legend=alt.Legend(title="trained as", orient="bottom"))
    params, charts = [], []
    predicates = []
    for column, options in (select or {}).items():
        options = list(options)
        param = alt.param(name=column.replace(" ", "_"), value=options[0],
                          bind=alt.binding_radio(options=options, name=f"{column} "))
        params.append(param)
        predicates.append(alt.datum[column] == param)
    titles = {"exact_match": "exact match", "name_accuracy": "function names right",
              "argument_f1": "argument F1"}
    for metric in metrics:
        base = alt.Chart(band[band.metric == metric])
        x = alt.X("coverage:Q", title="coverage of the pair grid",
                  axis=alt.Axis(values=xs, format=".4~f"), scale=alt.Scale(zero=False))
        layer = (base.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q",
                                                     color=color)
                 + base.mark_line(point=True).encode(
                     x=x, color=color,
                     y=alt.Y("mean:Q", title=titles.get(metric, metric),
                             scale=alt.Scale(domain=[0, 1])),
                     tooltip=["coverage", TRAINED_AS, alt.Tooltip("mean:Q", format=".3f"),
                              alt.Tooltip("low:Q", format=".3f"),
                              alt.Tooltip("high:Q", format=".3f"), "seeds"]))
        for predicate in predicates:
            layer = layer.transform_filter(predicate)
        if live is not None:
            mine = live[(live.split == split) & (live.kind == kind)
                        & (live.metric == metric) & (live.part == "full")]
            layer += alt.Chart(_as_band(mine)).mark_point(
                shape="diamond", size=110, filled=True, color="black").encode(
                x=x, y="value:Q", tooltip=[TRAINED_AS, alt.Tooltip("value:Q",
                                                                   format=".3f")])
        charts.append(layer.properties(width=170, height=190,
                                       title=titles.get(metric, metric)))
    chart = alt.hconcat(*charts)
    if params:
        chart = chart.add_params(*params)
    return chart.properties(title=title or "")


def error_bars(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
               split: str = "held", kind: str = "all", select: dict | None = None,
               title: str | None = None):
    """What goes wrong in a test split: the share of examples whose first error is each
    kind (stacked), per condition, mean over seeds; ``live`` adds one fresh run's bar."""
    import altair as alt

    rows = frame[(frame.split == split) & (frame.kind == kind)
                 & frame.metric.str.startswith("error_")]
    rows = _as_band(rows) if "condition" in rows else rows
    keys = [TRAINED_AS, "metric", *(select or {})]
    band = rows.groupby(keys, sort=False).value.mean().reset_index()
    if live is not None:
        mine = live[(live.split == split) & (live.kind == kind)
                    & live.metric.str.startswith("error_")]
        band = pd.concat([band, mine.assign(**{TRAINED_AS: "this run"})[
            [TRAINED_AS, "metric", "value"]]], ignore_index=True)
    band["error"] = band.metric.str.removeprefix("error_")
    # stacked from the bottom in the classifier's order: format first, argument last
    band["rank"] = band.error.map({e: i for i, e in enumerate(ERRORS)})
    order = [c for c in (*CONDITIONS, "this run") if c in set(band[TRAINED_AS])]
    chart = alt.Chart(band).mark_bar().encode(
        x=alt.X(f"{TRAINED_AS}:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", stack="zero", title="share of held-out calls",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("error:N", scale=alt.Scale(domain=list(ERROR_COLORS),
                                                   range=list(ERROR_COLORS.values())),
                        sort=list(ERROR_COLORS),
                        legend=alt.Legend(title="first thing wrong")),
        order=alt.Order("rank:Q"),
        tooltip=[TRAINED_AS, "error", alt.Tooltip("value:Q", format=".3f")])
    for column, options in (select or {}).items():
        options = list(options)
        param = alt.param(name=column.replace(" ", "_"), value=options[0],
                          bind=alt.binding_radio(options=options, name=f"{column} "))
        chart = chart.add_params(param).transform_filter(alt.datum[column] == param)
    return chart.properties(width=60 * len(order), height=220, title=title or "")


def paired_view(frame: pd.DataFrame, *, a: str = "granular", b: str = "umbrella",
                metric: str = "exact_match", kind: str = "all", title: str | None = None):
    """Held-out ``metric`` of condition ``a`` minus ``b``, seed by seed (dots), against
    coverage, with the mean (line) and zero (rule); the tooltip gives the sign count."""
    import altair as alt

    diffs = paired_table(frame, a, b, metric=metric, kind=kind)
    xs = sorted(diffs.coverage.unique())
    x = alt.X("coverage:Q", title="coverage of the pair grid",
              axis=alt.Axis(values=xs, format=".4~f"), scale=alt.Scale(zero=False))
    y = alt.Y("difference:Q", title=f"{a} minus {b}")
    dots = alt.Chart(diffs).mark_circle(size=45, opacity=0.6, color="#1b7837").encode(
        x=x, y=y, tooltip=["coverage", "seed", alt.Tooltip("difference:Q", format=".3f")])
    summary = diffs.groupby("coverage").difference.agg(
        mean="mean", higher=lambda d: int((d > 0).sum()),
        lower=lambda d: int((d < 0).sum()), seeds="count").reset_index()
    line = alt.Chart(summary).mark_line(point=True, color="black").encode(
        x=x, y=alt.Y("mean:Q"), tooltip=["coverage", alt.Tooltip("mean:Q", format=".3f"),
                                         "higher", "lower", "seeds"])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="gray",
                                                           strokeDash=[4, 3]).encode(y="y")
    return (zero + dots + line).properties(width=320, height=220, title=title or "")


def _coverage_panel_view(band: pd.DataFrame, live: pd.DataFrame | None = None, **opts):
    return coverage_curves(band, live=live, **opts)


def _error_panel_view(band: pd.DataFrame, live: pd.DataFrame | None = None, **opts):
    return error_bars(band, live=live, **opts)


#: The live panels' sliders (each starts at its middle value: 0.6, granular, seed 5).
SLIDERS = {"split.coverage": list(COVERAGES), "split.condition": list(CONDITIONS),
           "seed": list(SEEDS)}
Decomposition.panels = {
    "coverage": PanelSpec("live", SLIDERS, band="panel", view=_coverage_panel_view,
                          along="coverage",
                          description="held-out exact match, function names and argument "
                                      "F1 against coverage, every condition (500 steps)"),
    "errors": PanelSpec("live", SLIDERS, band="panel", view=_error_panel_view,
                        description="the first thing wrong in each held-out call, per "
                                    "condition (500 steps)"),
}


# ---------------------------------------------------------------------------------------
# What the chapter states, computed from the shipped sweeps

from toylab.results import Findings, analysis, paired  # noqa: E402
from toylab.sweep import shipped  # noqa: E402

#: The shipped sweeps of this chapter, by table name.
SWEEPS = {"coverage": "decomposition_coverage", "live": "decomposition_live",
          "budget": "decomposition_budget"}
#: The held-out exact match (mean over seeds) at which coverage "works".
WORKS = 0.5


def _tables(self) -> dict[str, pd.DataFrame]:
    out = frames()
    out["panel"] = _as_band(out["live"])
    return out


Decomposition.tables = _tables


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by name (``sweeps`` replaces them, e.g.
    by recomputed frames); ``held`` (the headline's held-out rows only); ``budgets``
    (the budget sweep with the headline's runs at the same coverage and conditions)."""
    out = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    out.update(sweeps or {})
    head = out["coverage"]
    out["held"] = head[head.split == "held"]
    budget = out["budget"]
    same = head[head.coverage.isin(budget.coverage.unique())
                & head.condition.isin(budget.condition.unique())]
    out["budgets"] = pd.concat([budget, same[budget.columns]], ignore_index=True)
    return out


@analysis
def paired_table(frame: pd.DataFrame, a: str, b: str, metric: str = "exact_match",
                 kind: str = "all", split: str = "held") -> pd.DataFrame:
    """Per coverage and seed: ``difference`` = value under condition ``a`` minus under
    ``b`` (same seed: same held-out pairs, same test prompts, same initial weights)."""
    rows = frame[(frame.split == split) & (frame.kind == kind) & (frame.metric == metric)
                 & (frame.part == "full")]
    wide = rows.pivot_table(index=["coverage", "seed"], columns="condition",
                            values="value")
    return (wide[a] - wide[b]).rename("difference").reset_index()


@analysis
def held_table(frame: pd.DataFrame, metric: str = "exact_match", kind: str = "all",
               split: str = "held") -> pd.DataFrame:
    """Mean, lowest and highest seed of one metric by coverage and condition."""
    rows = frame[(frame.split == split) & (frame.kind == kind) & (frame.metric == metric)
                 & (frame.part == "full")]
    band = rows.groupby(["coverage", "condition"]).value.agg(
        mean="mean", low="min", high="max", seeds="count")
    return band.unstack("condition").round(3)


def _held(frame: pd.DataFrame, metric: str = "exact_match", kind: str = "all",
          split: str = "held") -> pd.DataFrame:
    return frame[(frame.split == split) & (frame.kind == kind) & (frame.metric == metric)
                 & (frame.part == "full")]


@analysis
def coverage_shift(means: pd.Series, reference: pd.Series) -> dict[float, float | None]:
    """For each coverage c: how much more (or less) coverage the ``reference`` curve
    (mean over seeds, linear between grid points) needs to reach ``means[c]``; None where
    it never does within the grid. Positive: the condition of ``means`` reaches at ``c``
    what the reference reaches only with more coverage."""
    xs, ys = reference.index.to_numpy(float), reference.to_numpy(float)
    out: dict[float, float | None] = {}
    for c, target in means.items():
        found = None
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            if min(y0, y1) <= target <= max(y0, y1):
                found = x0 if y1 == y0 else x0 + (target - y0) / (y1 - y0) * (x1 - x0)
                break
        out[float(c)] = None if found is None else round(float(found - c), 3)
    return out


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 3 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    _coverage(f, out)
    _paired(f, out)
    _kinds(f, out)
    _mechanism(f, out)
    _confounds(f, out)
    _budget(f, out)
    _live(f, out)
    _answer(out)
    _card(out)
    return out


@analysis
def _coverage(f: dict, out: Findings) -> None:
    held = _held(f["coverage"])
    mean = held.groupby(["condition", "coverage"]).value.mean()
    low = held.groupby(["condition", "coverage"]).value.min()
    high = held.groupby(["condition", "coverage"]).value.max()
    seeds = int(held.groupby(["condition", "coverage"]).seed.nunique().min())
    lines = []
    for cond in CONDITIONS:
        lines.append(f"{cond}: held-out exact match, mean of {seeds} seeds (lowest to "
                     "highest seed) by coverage: " + "; ".join(
                         f"{c:g}: {mean[cond, c]:.2f} ({low[cond, c]:.2f} to "
                         f"{high[cond, c]:.2f})" for c in mean[cond].index) + ".")
    works = {}
    for cond in CONDITIONS:
        reached = mean[cond][mean[cond] >= WORKS]
        works[cond] = float(reached.index[0]) if len(reached) else "never"
    lines.append(f"Coverage at which the mean first reaches {WORKS}: " + ", ".join(
        f"{cond} {works[cond] if works[cond] != 'never' else 'never in the grid'}"
        for cond in CONDITIONS) + ".")
    effect = {}
    for cond in CONDITIONS:
        rows = held[held.condition == cond]
        top, bottom = rows.coverage.max(), rows.coverage.min()
        effect[cond] = paired(rows[rows.coverage.isin([top, bottom])], "coverage", top,
                              bottom)
    lines.append(f"Coverage itself, {held.coverage.max():g} against "
                 f"{held.coverage.min():g}, seed by seed: " + "; ".join(
                     f"{cond} {effect[cond]}" for cond in CONDITIONS) + ".")
    out.values.update(
        held_mean={k: float(v) for k, v in mean.items()},
        held_low={k: float(v) for k, v in low.items()},
        held_high={k: float(v) for k, v in high.items()}, seeds=seeds, works=works,
        coverage_effect={c: (p.mean, p.positive, p.negative, p.seeds)
                         for c, p in effect.items()})
    out.texts["coverage"] = "\n".join(lines)


@analysis
def _paired(f: dict, out: Findings) -> None:
    frame = f["coverage"]
    lines, diffs, shifts = [], {}, {}
    for a, b in (("granular", "umbrella"), ("unmarked", "umbrella"),
                 ("granular", "unmarked")):
        for metric in ("exact_match", "name_accuracy", "argument_f1"):
            table = paired_table(frame, a, b, metric=metric)
            for c, rows in table.groupby("coverage"):
                d = rows.difference
                diffs[a, b, metric, float(c)] = (float(d.mean()), int((d > 0).sum()),
                                                 int((d < 0).sum()), len(d))
        parts = []
        for c in sorted({k[3] for k in diffs if k[:3] == (a, b, "exact_match")}):
            m, pos, neg, n = diffs[a, b, "exact_match", c]
            parts.append(f"{c:g}: {m:+.3f} (higher in {pos} of {n} seeds, lower in {neg})")
        lines.append(f"{a} minus {b}, held-out exact match, seed by seed: "
                     + "; ".join(parts) + ".")
    mean = _held(frame).groupby(["condition", "coverage"]).value.mean()
    for cond in ("granular", "unmarked"):
        shifts[cond] = coverage_shift(mean[cond], mean["umbrella"])
    lines.append("In coverage: the umbrella's mean reaches the granular mean at each "
                 "coverage with this much more (+) or less (-) coverage of the grid: "
                 + ", ".join(f"{c:g}: {'outside the grid' if s is None else f'{s:+.2f}'}"
                             for c, s in shifts["granular"].items()) + ".")
    all_diffs = [v[0] for k, v in diffs.items() if k[:3] == ("granular", "umbrella",
                                                              "exact_match")]
    out.values.update(paired=diffs, shift=shifts,
                      granular_gain_max=float(max(all_diffs)),
                      granular_gain_min=float(min(all_diffs)))
    out.texts["paired"] = "\n".join(lines)
    name = [f"{c:g}: {diffs['granular', 'umbrella', 'name_accuracy', c][0]:+.3f} "
            f"({diffs['granular', 'umbrella', 'name_accuracy', c][1]} of "
            f"{diffs['granular', 'umbrella', 'name_accuracy', c][3]} higher)"
            for c in sorted({k[3] for k in diffs})]
    f1 = [f"{c:g}: {diffs['granular', 'umbrella', 'argument_f1', c][0]:+.3f} "
          f"({diffs['granular', 'umbrella', 'argument_f1', c][1]} of "
          f"{diffs['granular', 'umbrella', 'argument_f1', c][3]} higher)"
          for c in sorted({k[3] for k in diffs})]
    out.texts["parts"] = "\n".join([
        "granular minus umbrella, function names right: " + "; ".join(name) + ".",
        "granular minus umbrella, argument F1: " + "; ".join(f1) + "."])


@analysis
def _kinds(f: dict, out: Findings) -> None:
    held = f["coverage"]
    rows = held[(held.split == "held") & (held.metric == "exact_match")
                & (held.kind != "all")]
    mean = rows.groupby(["kind", "condition", "coverage"]).value.mean()
    kinds = [k for k in ("parallel", "chained", "nested") if k in set(rows.kind)]
    lines = []
    for kind in kinds:
        lines.append(f"{kind}: " + "; ".join(
            f"{cond} " + ", ".join(f"{mean[kind, cond, c]:.2f}"
                                   for c in mean[kind, cond].index)
            for cond in CONDITIONS) + " (by coverage).")
    gaps = {}
    for kind in kinds:
        table = paired_table(held, "granular", "umbrella", kind=kind)
        d = table.difference
        gaps[kind] = (float(d.mean()), int((d > 0).sum()), int((d < 0).sum()), len(d))
    lines.append("granular minus umbrella over every coverage and seed, by kind: "
                 + "; ".join(f"{k} {m:+.3f} (higher in {p} of {n}, lower in {q})"
                             for k, (m, p, q, n) in gaps.items()) + ".")
    out.values.update(kind_mean={k: float(v) for k, v in mean.items()}, kind_gap=gaps)
    out.texts["kinds"] = "\n".join(lines)


@analysis
def _mechanism(f: dict, out: Findings) -> None:
    frame = f["coverage"]
    rows = frame[(frame.split == "held") & (frame.kind == "all")
                 & (frame.metric.str.startswith("error_")
                    | frame.metric.isin(["trained_pair", "one_call", "names_only"]))]
    share = rows.groupby(["condition", "metric"]).value.mean()
    by_cov = rows.groupby(["condition", "coverage", "metric"]).value.mean()
    lines = []
    for cond in CONDITIONS:
        lines.append(f"{cond}: of all held-out calls, first wrong in " + ", ".join(
            f"{e} {share[cond, f'error_{e}']:.2f}" for e in ERRORS)
            + f"; a trained pair written instead {share[cond, 'trained_pair']:.2f}; "
              f"one call for two functions {share[cond, 'one_call']:.2f}; names alone "
              f"{share[cond, 'names_only']:.2f} (mean over coverages and seeds).")
    out.values.update(errors={k: float(v) for k, v in share.items()},
                      errors_by_coverage={k: float(v) for k, v in by_cov.items()})
    out.texts["mechanism"] = "\n".join(lines)


@analysis
def _confounds(f: dict, out: Findings) -> None:
    frame = f["coverage"]
    ids = _held(frame, split="id").groupby(["condition", "coverage"]).value
    single = frame[(frame.split == "single") & (frame.metric == "exact_match")]
    steps = frame[frame.metric == "steps"].groupby(["condition", "coverage"]).value
    cells = frame.groupby(["condition", "coverage"]).calls_per_cell.first()
    examples = frame.groupby(["condition", "coverage"]).train_examples.mean()
    calls = frame.groupby(["condition", "coverage"]).call_examples.mean()
    max_steps = EXPERIMENT.preset("coverage").train.max_steps
    capped = frame[(frame.metric == "steps") & (frame.value >= max_steps)].groupby(
        "condition").seed.count()
    lines = [
        "In distribution (trained pairs, new requests), exact match, mean (lowest seed): "
        + "; ".join(f"{cond} " + ", ".join(f"{ids.mean()[cond, c]:.2f} "
                                           f"({ids.min()[cond, c]:.2f})"
                                           for c in ids.mean()[cond].index)
                    for cond in CONDITIONS) + " (by coverage).",
        "Single calls, lowest run: " + ", ".join(
            f"{cond} {single[single.condition == cond].value.min():.2f}"
            for cond in CONDITIONS) + ".",
        "Training steps, median by coverage: " + "; ".join(
            f"{cond} " + ", ".join(f"{steps.median()[cond, c]:.0f}"
                                   for c in steps.median()[cond].index)
            for cond in CONDITIONS) + f"; runs stopped at {max_steps} steps without "
        "reaching the target: " + ", ".join(f"{c} {int(capped.get(c, 0))}"
                                            for c in CONDITIONS) + ".",
        "Training examples in the same budget: " + "; ".join(
            f"{cond} {examples[cond].mean():.0f} ({calls[cond].mean():.0f} of them full "
            "calls)" for cond in CONDITIONS) + ".",
        "Full-call examples per trained composite cell, by coverage: " + "; ".join(
            f"{cond} " + ", ".join(f"{cells[cond, c]:.0f}" for c in cells[cond].index)
            for cond in CONDITIONS) + " (seed 0)."]
    out.values.update(id_mean={k: float(v) for k, v in ids.mean().items()},
                      id_min={k: float(v) for k, v in ids.min().items()},
                      single_min={c: float(single[single.condition == c].value.min())
                                  for c in CONDITIONS},
                      steps_median={k: float(v) for k, v in steps.median().items()},
                      capped={c: int(capped.get(c, 0)) for c in CONDITIONS},
                      calls_per_cell={k: float(v) for k, v in cells.items()})
    out.texts["confounds"] = "\n".join(lines)


@analysis
def _budget(f: dict, out: Findings) -> None:
    frame = f["budgets"]
    held = _held(frame)
    cov = float(held.coverage.iloc[0])
    budgets = sorted(held.budget.unique())
    mean = held.groupby(["condition", "budget"]).value.mean()
    low = held.groupby(["condition", "budget"]).value.min()
    gaps = {}
    for b in budgets:
        rows = held[held.budget == b]
        gaps[int(b)] = paired(rows, "condition", "granular", "umbrella")
    more = {cond: paired(held[(held.condition == cond)
                              & held.budget.isin([budgets[0], budgets[-1]])],
                         "budget", budgets[-1], budgets[0]) for cond in ("umbrella",
                                                                        "granular")}
    steps = frame[frame.metric == "steps"].groupby(["condition", "budget"]).value.median()
    max_steps = EXPERIMENT.preset("coverage").train.max_steps
    capped = (frame[frame.metric == "steps"].value >= max_steps).groupby(
        [frame.condition, frame.budget]).sum()
    ids = _held(frame, split="id").groupby(["condition", "budget"]).value.mean()
    lines = [
        f"At {cov:g} coverage, held-out exact match, mean (lowest seed) by budget of "
        "training tokens: " + "; ".join(
            f"{cond} " + ", ".join(f"{int(b):,}: {mean[cond, b]:.2f} ({low[cond, b]:.2f})"
                                   for b in budgets) for cond in ("umbrella", "granular"))
        + ".",
        "granular minus umbrella, seed by seed: " + "; ".join(
            f"{b:,} tokens {gaps[b]}" for b in gaps) + ".",
        f"{int(budgets[-1]):,} against {int(budgets[0]):,} tokens, seed by seed: "
        + "; ".join(f"{cond} {p}" for cond, p in more.items())
        + ".",
        "By budget: in-distribution exact match (mean), training steps (median) and runs "
        f"stopped at {max_steps:,} steps short of the target: " + "; ".join(
            f"{cond} " + ", ".join(f"{int(b):,} tokens {ids[cond, b]:.2f} / "
                                   f"{steps[cond, b]:,.0f} steps / "
                                   f"{int(capped[cond, b])} stopped" for b in budgets)
            for cond in ("umbrella", "granular")) + "."]
    out.values.update(budget_coverage=cov, budget_mean={k: float(v) for k, v in
                                                         mean.items()},
                      budget_gap={b: (p.mean, p.positive, p.negative, p.seeds)
                                  for b, p in gaps.items()},
                      budget_effect={c: (p.mean, p.positive, p.negative, p.seeds)
                                     for c, p in more.items()},
                      budget_capped={k: int(v) for k, v in capped.items()},
                      budget_id={k: float(v) for k, v in ids.items()})
    out.texts["budget"] = "\n".join(lines)


@analysis
def _live(f: dict, out: Findings) -> None:
    frame = f["live"]
    held, ids = _held(frame), _held(frame, split="id")
    mean = held.groupby(["condition", "coverage"]).value.mean()
    low = held.groupby(["condition", "coverage"]).value.min()
    id_mean = ids.groupby(["condition", "coverage"]).value.mean()
    steps = int(frame[frame.metric == "steps"].value.max())
    gaps = {float(c): paired(rows, "condition", "granular", "umbrella")
            for c, rows in held.groupby("coverage")}
    lines = [
        f"Live setting ({steps} steps in every run, {held.seed.nunique()} seeds), "
        "held-out exact match, mean (lowest seed) by coverage: " + "; ".join(
            f"{cond} " + ", ".join(f"{mean[cond, c]:.2f} ({low[cond, c]:.2f})"
                                   for c in mean[cond].index) for cond in CONDITIONS)
        + ".",
        "In distribution, mean by coverage: " + "; ".join(
            f"{cond} " + ", ".join(f"{id_mean[cond, c]:.2f}" for c in id_mean[cond].index)
            for cond in CONDITIONS) + ".",
        "granular minus umbrella, held-out, seed by seed: " + "; ".join(
            f"{c:g}: {p}" for c, p in gaps.items()) + "."]
    out.values.update(live_mean={k: float(v) for k, v in mean.items()},
                      live_id={k: float(v) for k, v in id_mean.items()},
                      live_gap={c: (p.mean, p.positive, p.negative, p.seeds)
                                for c, p in gaps.items()}, live_steps=steps)
    out.texts["live"] = "\n".join(lines)


@analysis
def _answer(out: Findings) -> None:
    v = out.values
    covs = sorted({k[1] for k in v["held_mean"]})
    shift = v["shift"]["granular"]
    inside = [abs(x) for x in shift.values() if x is not None]
    eff = v["coverage_effect"]
    gu = [v["paired"]["granular", "umbrella", "exact_match", c] for c in covs]
    out.values.update(shift_max=max(inside) if inside else None)
    out.texts["answer"] = (
        f"Coverage: from {covs[0]:g} to {covs[-1]:g} of the pair grid, held-out exact "
        f"match rises by {eff['umbrella'][0]:+.2f} for umbrella data "
        f"({eff['umbrella'][1]} of {eff['umbrella'][3]} seeds higher) and "
        f"{eff['granular'][0]:+.2f} for granular data ({eff['granular'][1]} of "
        f"{eff['granular'][3]}). Decomposition: granular minus umbrella lies between "
        f"{min(g[0] for g in gu):+.3f} and {max(g[0] for g in gu):+.3f} at every coverage, "
        "and at no coverage do more than "
        f"{max(max(g[1], g[2]) for g in gu)} of {gu[0][3]} seeds agree on its sign. In "
        f"coverage, the umbrella reaches the granular mean with at most "
        f"{max(inside) if inside else float('nan'):.2f} more or less of the grid (where "
        f"both are inside it); the mean first reaches {WORKS} at "
        + (f"{v['works']['umbrella']} for both." if v["works"]["umbrella"]
           == v["works"]["granular"] else f"{v['works']['umbrella']} for umbrella and "
           f"{v['works']['granular']} for granular data."))


@analysis
def _card(out: Findings) -> None:
    v = out.values
    covs = sorted({k[1] for k in v["held_mean"]})
    gu = {c: v["paired"]["granular", "umbrella", "exact_match", c] for c in covs}
    ug = {c: v["paired"]["granular", "unmarked", "exact_match", c] for c in covs}
    name = {c: v["paired"]["granular", "umbrella", "name_accuracy", c] for c in covs}
    f1 = {c: v["paired"]["granular", "umbrella", "argument_f1", c] for c in covs}
    eff = v["coverage_effect"]["umbrella"]
    steps = v["steps_median"]
    nested = v["kind_gap"]["nested"]

    def sign(d):
        return f"{d[0]:+.2f} ({d[1]} of {d[3]} seeds higher, {d[2]} lower)"

    out.card = [
        ("Granular tasks generalize better than umbrella data",
         "better generalizability on seven evaluation datasets, comparing different "
         "models trained on different data [P, abstract]",
         "granular minus umbrella, held-out exact match, by coverage: " + "; ".join(
             f"{c:g}: {sign(gu[c])}" for c in covs)
         + f"; nested calls alone, over every coverage and seed: {sign(nested)}",
         "yes: at an equal token budget, trained to the same in-distribution target, "
         "the toy shows no reliable gain"),
        ("Strong at names, weaker at parameters",
         "summary of the paper's results [S]",
         "held-out names right, granular minus umbrella: " + "; ".join(
             f"{c:g}: {sign(name[c])}" for c in covs) + "; argument F1: " + "; ".join(
             f"{c:g}: {sign(f1[c])}" for c in covs),
         "no comparison: the paper's is one model's profile, the toy's a difference"),
        ("Coverage of the pair grid (the book's question)", "not studied in the paper",
         f"umbrella, {covs[-1]:g} against {covs[0]:g} coverage: {eff[0]:+.2f} (higher in "
         f"{eff[1]} of {eff[3]} seeds); the mean first reaches {WORKS} at "
         f"{v['works']['umbrella']} (umbrella) and {v['works']['granular']} (granular)",
         "the toy's own result"),
        ("Subtask markers", "not studied in the paper",
         "granular minus the same data unmarked: " + "; ".join(
             f"{c:g}: {sign(ug[c])}" for c in covs), "the toy's own result"),
        ("What decomposition costs", "not reported",
         "median training steps to the in-distribution target, by coverage: umbrella "
         + ", ".join(f"{steps['umbrella', c]:.0f}" for c in covs) + "; granular "
         + ", ".join(f"{steps['granular', c]:.0f}" for c in covs),
         "the toy's own result"),
        ("A controlled granular-versus-umbrella ablation",
         "none was run in the paper (findings.md, section 3)",
         "this chapter's sweep: 3 conditions x 4 coverages x "
         f"{v['seeds']} seeds, one 100,000-parameter model",
         "do not conclude that Granite's gains came from granularity, or did not"),
    ]


# ---------------------------------------------------------------------------------------
# Tables for reading a run (the exercise checks are in toylab.exercises)


@analysis
def mistakes(result, split: str = "held", n: int | None = 6) -> pd.DataFrame:
    """The first ``n`` wrong calls of a run's test split (its kept samples; ``n`` None:
    all): ``kind, prompt, target, output`` (the kind of error left out, for exercise
    3.2)."""
    rows = result.samples[(result.samples.split == split) & ~result.samples.correct]
    rows = rows[["kind", "prompt", "target", "output"]].reset_index(drop=True)
    return rows if n is None else rows.head(n)


@analysis
def run_table(result, kind: str = "all") -> pd.DataFrame:
    """A run's scores by test split (rows) over the calls of ``kind`` (``all``: every
    composite kind; single calls are their own split): exact match, function names
    right, argument F1, and the share answered with one call for two functions."""
    m = result.metrics
    rows = m[(m.part == "full") & (m.split != "train")
             & ((m.kind == kind) | (m.split == "single"))
             & m.metric.isin(["exact_match", "name_accuracy", "argument_f1", "one_call"])]
    order = list(dict.fromkeys(rows.split))
    return rows.pivot_table(index="split", columns="metric", values="value").loc[
        order, ["exact_match", "name_accuracy", "argument_f1", "one_call"]].round(3)


def score(result, split: str = "held", metric: str = "exact_match",
          kind: str = "all") -> float:
    """One number of a run: ``metric`` on test ``split`` over the calls of ``kind``."""
    m = result.metrics
    rows = m[(m.split == split) & (m.metric == metric) & (m.kind == kind)
             & (m.part == "full")]
    if len(rows) != 1:
        raise ValueError(f"no single {metric} for split {split!r}, kind {kind!r}; splits "
                         f"here: {sorted(map(str, m.split.unique()))}, kinds here: "
                         f"{sorted(map(str, m.kind.unique()))}")
    return float(rows.value.iloc[0])


# ---------------------------------------------------------------------------------------
# What the data looks like


@analysis
def formats_table(cell: tuple[str, tuple[str, str]] = ("chained", ("COPY", "TURN")),
                  code: int = 17) -> pd.DataFrame:
    """One request (instance ``code`` of ``cell``: kind and functions) written as each
    condition writes its training examples: the full call, and under ``granular`` and
    ``unmarked`` its two kinds of subtask (``args`` of the second function)."""
    from toylab.tasks import make_task
    from toylab.tasks.calls import CallCell

    task = make_task(CallConfig())
    call_cell = CallCell(cell[0], tuple(cell[1]))
    parts = task._decode(call_cell, code)
    rows = []
    for condition in CONDITIONS:
        jobs = [("call", 0)] + ([] if condition == "umbrella" else [("names", 0),
                                                                      ("args", 1)])
        for job, which in jobs:
            prompt, target = task.example(call_cell, parts, job, which,
                                          marked=condition != "unmarked")
            rows.append({"condition": condition, "example": job,
                         "prompt": " ".join(prompt), "target": " ".join(target)})
    return pd.DataFrame(rows).set_index(["condition", "example"])


@analysis
def budget_table(coverage: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """What the same budget of training tokens buys in each condition (one split of the
    headline preset): tokens, examples, full calls, subtask examples, and full-call
    examples per trained composite cell."""
    from toylab.config import override

    cfg = EXPERIMENT.preset("coverage", {"split.coverage": coverage, "seed": seed})
    rows = []
    for condition in CONDITIONS:
        _, split = EXPERIMENT.data(override(cfg, {"split.condition": condition}))
        rec = split.record
        rows.append({"condition": condition, "tokens": rec["train_tokens"],
                     "examples": rec["train_examples"], "full calls": rec["call_examples"],
                     "subtask examples": rec["subtask_examples"],
                     "full calls per trained cell": split_counts(split)["calls_per_cell"]})
    return pd.DataFrame(rows).set_index("condition")


@analysis
def pair_grid(coverage: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """The pair grid of one split (the headline preset at ``coverage`` and ``seed``):
    first-named function down, second across, each pair ``trained`` or ``held out`` (a
    function is never paired with itself)."""
    cfg = EXPERIMENT.preset("coverage", {"split.coverage": coverage, "seed": seed})
    _, split = EXPERIMENT.data(cfg)
    trained = {tuple(p.split()) for p in split.record["trained_pairs"]}
    names = cfg.task.functions
    return pd.DataFrame([[("·" if a == b else "trained" if (a, b) in trained
                           else "held out") for b in names] for a in names],
                        index=pd.Index(names, name="first named"),
                        columns=pd.Index(names, name="second named"))
