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
from toylab.tasks import EOS
from toylab.tasks.calls import (
    CONDITIONS,
    ERRORS,
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
           *(f"error_{e}" for e in ERRORS), "trained_pair")


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
    # spent as one umbrella task, as marked subtasks, or as the same subtasks unmarked
    "coverage": {"split.coverage": 0.4, "split.condition": "granular"},
}


def score_outputs(gold: list[list[str]], outputs: list[list[str]],
                  trained_pairs: set[str]) -> pd.DataFrame:
    """One row per example: ``exact_match``, ``name_accuracy``, ``argument_f1``,
    ``error`` (``correct`` or the first kind of error) and ``trained_pair``."""
    rows = []
    for g, o in zip(gold, outputs):
        error = classify(g, o)
        parsed = parse_calls(o)
        rows.append({
            "exact_match": float(error == "correct"),
            "name_accuracy": float(names_right(g, o)),
            "argument_f1": argument_f1(g, o),
            "error": error,
            "trained_pair": float(error != "correct" and parsed is not None
                                  and " ".join(parsed.names) in trained_pairs)})
    return pd.DataFrame(rows)


def metric_rows(split: str, kind: str, scored: pd.DataFrame) -> list[dict]:
    """The probe's metric rows of one split and kind from ``score_outputs``' rows."""
    n = len(scored)
    values = {m: float(scored[m].mean()) for m in
              ("exact_match", "name_accuracy", "argument_f1")}
    values.update({f"error_{e}": float((scored.error == e).mean()) for e in ERRORS})
    values["trained_pair"] = float(scored.trained_pair.mean())
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
    order = [c for c in (*CONDITIONS, "this run") if c in set(band[TRAINED_AS])]
    chart = alt.Chart(band).mark_bar().encode(
        x=alt.X(f"{TRAINED_AS}:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", stack="zero", title="share of held-out calls",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("error:N", scale=alt.Scale(domain=list(ERROR_COLORS),
                                                   range=list(ERROR_COLORS.values())),
                        sort=list(ERROR_COLORS),
                        legend=alt.Legend(title="first thing wrong")),
        order=alt.Order("error:N"),
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


Decomposition.panels = {
    "a": PanelSpec("coverage", {"split.coverage": list(COVERAGES),
                                "split.condition": list(CONDITIONS),
                                "seed": list(SEEDS)},
                   band="panel", view=_coverage_panel_view, along="coverage",
                   description="held-out exact match, function names and argument F1 "
                               "against coverage, every condition"),
    "b": PanelSpec("coverage", {"split.coverage": list(COVERAGES),
                                "split.condition": list(CONDITIONS),
                                "seed": list(SEEDS)},
                   band="panel", view=_error_panel_view,
                   description="the first thing wrong in each held-out call, per "
                               "condition"),
}


# ---------------------------------------------------------------------------------------
# What the chapter states, computed from the shipped sweeps

from toylab.results import Findings, analysis, paired  # noqa: E402
from toylab.sweep import shipped  # noqa: E402

#: The shipped sweeps of this chapter, by table name.
SWEEPS = {"coverage": "decomposition_coverage"}
#: The held-out exact match (mean over seeds) at which coverage "works".
WORKS = 0.5


def _tables(self) -> dict[str, pd.DataFrame]:
    out = frames()
    out["panel"] = _as_band(out["coverage"])
    return out


Decomposition.tables = _tables


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by name (``sweeps`` replaces them, e.g.
    by recomputed frames), and ``held`` (held-out rows only)."""
    out = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    out.update(sweeps or {})
    out["held"] = out["coverage"][out["coverage"].split == "held"]
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
        works[cond] = float(reached.index[0]) if len(reached) else None
    lines.append(f"Coverage at which the mean first reaches {WORKS}: " + ", ".join(
        f"{cond} {works[cond] if works[cond] is not None else 'never in the grid'}"
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
                 & (frame.metric.str.startswith("error_") | (frame.metric ==
                                                             "trained_pair"))]
    share = rows.groupby(["condition", "metric"]).value.mean()
    by_cov = rows.groupby(["condition", "coverage", "metric"]).value.mean()
    lines = []
    for cond in CONDITIONS:
        lines.append(f"{cond}: of all held-out calls, first wrong in " + ", ".join(
            f"{e} {share[cond, f'error_{e}']:.2f}" for e in ERRORS)
            + f"; a trained pair written instead {share[cond, 'trained_pair']:.2f} "
              "(mean over coverages and seeds).")
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
    max_steps = DecompositionConfig().train.max_steps
    capped = frame[(frame.metric == "steps") & (frame.value >= max_steps)].groupby(
        "condition").seed.count()
    lines = [
        "In distribution (trained pairs, new requests), exact match, mean (lowest seed): "
        + "; ".join(f"{cond} " + ", ".join(f"{ids.mean()[cond, c]:.2f} "
                                           f"({ids.min()[cond, c]:.2f})"
                                           for c in ids.mean()[cond].index)
                    for cond in CONDITIONS) + " (by coverage).",
        f"Single calls: lowest run {single.value.min():.2f}.",
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
                      single_min=float(single.value.min()),
                      steps_median={k: float(v) for k, v in steps.median().items()},
                      capped={c: int(capped.get(c, 0)) for c in CONDITIONS},
                      calls_per_cell={k: float(v) for k, v in cells.items()})
    out.texts["confounds"] = "\n".join(lines)


@analysis
def _card(out: Findings) -> None:
    v = out.values
    covs = sorted({k[1] for k in v["held_mean"]})
    gu = {c: v["paired"]["granular", "umbrella", "exact_match", c] for c in covs}
    ug = {c: v["paired"]["granular", "unmarked", "exact_match", c] for c in covs}
    name = {c: v["paired"]["granular", "umbrella", "name_accuracy", c] for c in covs}
    f1 = {c: v["paired"]["granular", "umbrella", "argument_f1", c] for c in covs}
    eff = v["coverage_effect"]["umbrella"]

    def sign(d):
        return f"{d[0]:+.2f} ({d[1]} of {d[3]} seeds higher, {d[2]} lower)"

    out.card = [
        ("Granular tasks generalize better than umbrella data",
         "better generalizability on seven evaluation datasets, comparing different "
         "models trained on different data [P, abstract]",
         "granular minus umbrella, held-out exact match, by coverage: " + "; ".join(
             f"{c:g}: {sign(gu[c])}" for c in covs),
         "the toy is a controlled comparison at equal token budget, the paper's is not"),
        ("Strong at names, weaker at parameters",
         "summary of the paper's results [S]",
         "held-out names right minus umbrella: " + "; ".join(
             f"{c:g}: {sign(name[c])}" for c in covs) + "; argument F1: " + "; ".join(
             f"{c:g}: {sign(f1[c])}" for c in covs), "see the mechanism panel"),
        ("Coverage of the pair grid (the book's question)", "not studied in the paper",
         f"umbrella, {covs[-1]:g} against {covs[0]:g} coverage: {eff[0]:+.2f} (higher in "
         f"{eff[1]} of {eff[3]} seeds)", "the toy's own result"),
        ("Subtask markers", "not studied in the paper",
         "granular minus the same data unmarked: " + "; ".join(
             f"{c:g}: {sign(ug[c])}" for c in covs), "the toy's own result"),
        ("A controlled granular-versus-umbrella ablation",
         "none was run in the paper (findings.md, section 3)",
         "this chapter's sweep: 3 conditions x 4 coverages x "
         f"{v['seeds']} seeds, one tiny model",
         "do not conclude that Granite's gains came from granularity"),
    ]


# ---------------------------------------------------------------------------------------
# Tables for reading, and the chapter's exercise checks


@analysis
def mistakes(result, split: str = "held", n: int = 6) -> pd.DataFrame:
    """The first ``n`` wrong calls of a run's test split (its kept samples):
    ``kind, prompt, target, output`` (the kind of error left out, for exercise 3.2)."""
    rows = result.samples[(result.samples.split == split) & ~result.samples.correct]
    return rows[["kind", "prompt", "target", "output"]].head(n).reset_index(drop=True)


def _report(ok: bool, good: str, bad: str) -> bool:
    print(("Correct: " + good) if ok else ("Not yet: " + bad))
    return ok


def check_paired_prediction(prediction: float, coverage: float = 0.4,
                            slack: float = 0.05) -> bool:
    """Exercise 3.1: your prediction of granular minus umbrella, held-out exact match,
    mean over the shipped seeds at ``coverage``. Right when it lies within ``slack`` of
    the seeds' range (lowest to highest per-seed difference)."""
    from toylab.config import check_range

    check_range("prediction", prediction, -1.0, 1.0)
    table = paired_table(shipped(SWEEPS["coverage"]), "granular", "umbrella")
    rows = table[(table.coverage - coverage).abs() < 1e-9].difference
    if rows.empty:
        raise ValueError(f"coverage must be one of {sorted(table.coverage.unique())}, "
                         f"got {coverage}")
    low, high = float(rows.min()), float(rows.max())
    ok = low - slack <= prediction <= high + slack
    return _report(ok, f"the {len(rows)} seeds' differences run from {low:+.3f} to "
                   f"{high:+.3f} (mean {rows.mean():+.3f}, higher in "
                   f"{int((rows > 0).sum())} of {len(rows)} seeds)",
                   f"{prediction:+.3f} lies outside every shipped seed's difference by "
                   f"more than {slack}. Keep it written down, then read panel (b): what "
                   "did your guess assume the subtasks teach?")


def check_error_class(target: str, output: str, answer: str) -> bool:
    """Exercise 3.2: the first thing wrong in ``output`` against ``target`` (tokens
    separated by spaces): one of ``format``, ``name``, ``order``, ``nesting``,
    ``argument`` (``toylab.tasks.calls.classify`` decides)."""
    from toylab.config import check_choice

    check_choice("answer", answer, ERRORS)
    truth = classify(target.split(), output.split())
    if truth == "correct":
        raise ValueError("this output is the target itself; pick a wrong one")
    hints = {"format": "is the output a well-formed call sequence at all?",
             "name": "compare which functions are called, ignoring their order",
             "order": "the functions are right; are they in the right order?",
             "nesting": "names and order are right; is one call inside the other, or "
                        "does the second take $1, as the request asks?",
             "argument": "names, order and structure are right; compare the values"}
    return _report(answer == truth, f"{answer}: {hints[answer]}",
                   f"check in this order: format, name, order, nesting, argument. "
                   f"For {answer!r}: {hints[answer]}")


def check_own_experiment(granular, umbrella, difference: float) -> bool:
    """Exercise 3.3: two runs of your own (``run`` results), one ``granular`` and one
    ``umbrella``, on the same seed and coverage with a change of your own to the data or
    the model (any config field the shipped sweep does not vary), and the held-out exact
    match difference you measured from them, granular minus umbrella."""
    a, b = granular.config, umbrella.config
    if (a.split.condition, b.split.condition) != ("granular", "umbrella"):
        return _report(False, "", "pass the granular run first, then the umbrella run")
    if a.seed != b.seed or a.split.coverage != b.split.coverage:
        return _report(False, "", "a paired difference needs the same seed and the same "
                       "coverage in both runs")
    from toylab.config import override

    base = override(EXPERIMENT.preset("coverage"), {
        "seed": a.seed, "split.coverage": a.split.coverage, "split.condition":
        "granular"})
    if a == base:
        return _report(False, "", "these are the shipped settings; change the data (e.g. "
                       "split.budget or split.subtask_share) or the model first")
    measured = float(_held(granular.metrics).value.iloc[0]
                     - _held(umbrella.metrics).value.iloc[0])
    ok = abs(measured - difference) < 0.005
    return _report(ok, f"your runs differ by {measured:+.3f}; compare it with the "
                   "shipped seeds' spread at this coverage in panel (b)",
                   "that is not the difference of the two runs' held-out exact match "
                   "(kind 'all'); recompute it from the runs' metrics")
