"""Chapter 4, learning from wrong examples: what a teacher's negatives teach a small
student through DPO, and how much of the error space they must cover.

Manduzio et al. 2024 (arXiv:2410.18890) had a large model write function-call reasoning
chains, labelled them right or wrong by executing them, and trained a small model with DPO
(Rafailov et al. 2023, arXiv:2305.18290) on (right, wrong) pairs. Here the task family is
``toylab.tasks.chains`` (arithmetic problems solved by a chain of calls; a teacher that is
the oracle with an error of known type injected; execution labels), and every run trains
one *student* from scratch through the lab's pipeline, in one or two phases:

* ``sft``: supervised fine-tuning on the teacher's right chains (``split.n_train`` of them)
  for ``train.max_steps`` steps; every other student starts with exactly this phase (same
  data, same seeds), then trains ``tune.max_steps`` more steps on ``split.n_pairs``
  problems:
* ``sft_more``: the control: more SFT on the right chains of the pairs' problems (the
  chosen side), so "more training" can be told apart from "negatives";
* ``dpo``: DPO on the (right, wrong) pairs against the frozen SFT model (``beta``);
* ``dpo_sft``: the same DPO loss plus ``sft_weight`` times the likelihood term on the
  chosen chain.

The probe decodes every test problem greedily and labels the chain by execution:
``accuracy`` (right by execution), ``format_valid`` (it parses), ``exact_match`` (the
teacher's right chain, token for token) and, for each outcome of
``toylab.tasks.chains.classify``, ``error_<type>``, the share of test chains whose first
error is of that type. During the second phase a tracker records, every
``track_every`` steps, the summed log-probability of held-out right chains and of wrong
chains of each error type, minus the same under the frozen SFT model (``logp_chosen``,
``logp_<type>``), and the teacher-forced exact match of the right chains
(``tf_exact_match``); rows carry ``tune_step``.

Every metric row carries ``student``, ``n_train``, ``n_pairs``, ``negatives``, ``beta``,
``lr`` (of the second phase), ``sft_weight`` and ``model`` (the student's size).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import torch

from toylab.config import check_choice, check_range, override
from toylab.evaluate import decode_examples
from toylab.experiment import Experiment, ExperimentConfig, Phase, Rows, Trained
from toylab.objectives import (
    Objective,
    dpo,
    frozen_copy,
    pair_tensors,
    recording,
    sequence_logprob,
)
from toylab.objectives import sft as sft_objective
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, paired, seed_band, select, span
from toylab.sweep import shipped
from toylab.tasks import EOS
from toylab.tasks.chains import (
    ERROR_TYPES,
    OUTCOMES,
    ChainConfig,
    ChainSplitConfig,
    ChainTask,
)
from toylab.train import TrainConfig, sequence_correct
from toylab.views import curve_view

STUDENTS = ("sft", "sft_more", "dpo", "dpo_sft")
STUDENT_NAMES = {"sft": "SFT", "sft_more": "SFT, then more SFT (control)",
                 "dpo": "SFT, then DPO", "dpo_sft": "SFT, then DPO + likelihood"}
TRACKED = ("logp_chosen", *(f"logp_{t}" for t in ERROR_TYPES), "tf_exact_match")


@dataclass(frozen=True)
class NegativesConfig(ExperimentConfig):
    """An ``ExperimentConfig`` for a student of the chain task (see the module docstring).

    Attributes:
        student: one of ``STUDENTS``.
        tune: steps, batch and learning rate of the second phase (every student but
            ``sft``); ``train`` is the first, supervised phase.
        beta: DPO's inverse temperature, in [0.001, 100].
        sft_weight: weight of the likelihood term on the chosen chain (``dpo_sft``
            only), in (0, 100].
        track_every: steps between log-probability records in the second phase, 1-1000.
        n_track: held-out problems the tracker scores, 1-1000.
    """

    task: Any = field(default_factory=ChainConfig)
    split: Any = field(default_factory=ChainSplitConfig)
    student: str = "dpo"
    tune: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=100, batch_size=32, lr=1e-3, target_accuracy=None))
    beta: float = 0.1
    sft_weight: float = 1.0
    track_every: int = 10
    n_track: int = 64

    def __post_init__(self):
        super().__post_init__()
        check_choice("student", self.student, STUDENTS)
        check_range("beta", self.beta, 1e-3, 100.0)
        check_range("sft_weight", self.sft_weight, 1e-6, 100.0)
        check_range("track_every", self.track_every, 1, 1000, integer=True)
        check_range("n_track", self.n_track, 1, 1000, integer=True)
        if self.n_track > self.split.n_test:
            raise ValueError(f"n_track ({self.n_track}) may be at most split.n_test "
                             f"({self.split.n_test})")


_BASE = {
         "train.batch_size": 32, "train.target_accuracy": None,
         "eval.n_samples": 256}
#: name -> overrides of ``NegativesConfig()``.
PRESETS: dict[str, dict[str, Any]] = {
    # the chapter's regime: a small student, a few hundred right chains, a short SFT
    "students": {**_BASE, "task.modulus": 7, "task.lengths": [2],
                 "train.max_steps": 300, "split.n_train": 1000},
    # where SFT leaves format failures: chains of three and four calls, 100 steps of SFT
    # (a measured search: with two calls, or after 300 steps, the SFT student's chains
    # parse in at least 98% of test problems in every seed)
    "format": {**_BASE, "task.modulus": 7, "task.lengths": [3, 4],
               "train.max_steps": 100, "split.n_train": 1000},
}


class Tracker:
    """Wraps a phase's objective: every ``every`` steps (and before the first) it records
    the log-probabilities of held-out right and wrong chains under the trained model minus
    those under the model as the phase began, and the teacher-forced exact match."""

    def __init__(self, objective: Objective, chosen: dict, rejected: dict[str, dict],
                 every: int):
        self.objective, self.chosen, self.rejected, self.every = (objective, chosen,
                                                                  rejected, every)
        self.rows: list[dict] = []

    def _logps(self, model) -> dict[str, float]:
        with torch.no_grad():
            out = {"logp_chosen": sequence_logprob(model, self.chosen["tokens"],
                                                   self.chosen["mask"])}
            for kind, data in self.rejected.items():
                out[f"logp_{kind}"] = sequence_logprob(model, data["tokens"], data["mask"])
        return out

    def _record(self, model, step: int) -> None:
        was = model.training
        model.eval()
        now = self._logps(model)
        model.train(was)
        row = {"tune_step": step, **{k: float((v - self.start[k]).mean())
                                     for k, v in now.items()}}
        row["tf_exact_match"] = float(sequence_correct(model, self.chosen).float().mean())
        self.rows.append(row)

    def __call__(self, model):
        loss_fn = recording(self.objective, self.every, self._record)(model)
        self.start = self._logps(frozen_copy(model))
        self._record(model, 0)
        return loss_fn


class Negatives(Experiment):
    kind = "toylab.experiments.negatives/1"
    config_class = NegativesConfig
    presets = PRESETS
    columns = {"student": "student", "n_train": "split.n_train",
               "n_pairs": "split.n_pairs", "negatives": "split.negatives", "beta": "beta",
               "lr": "tune.lr", "sft_weight": "sft_weight"}
    chapter = "chapters/04_negatives.ipynb"

    def tables(self) -> dict[str, pd.DataFrame]:
        return frames()

    def phases(self, cfg: NegativesConfig, task: ChainTask, split) -> list[Phase]:
        first = Phase("sft", split.train.to_tensors(), cfg.train, sft_objective())
        if cfg.student == "sft":
            return [first]
        chosen, rejected = split.pools["chosen"], split.pools["rejected"]
        if cfg.student == "sft_more":
            data, objective = chosen.to_tensors(), sft_objective()
        else:
            weight = cfg.sft_weight if cfg.student == "dpo_sft" else 0.0
            data, objective = pair_tensors(chosen, rejected), dpo(cfg.beta, weight)
        tracker = Tracker(objective, *self._tracked(cfg, task, split), cfg.track_every)
        split.record["tracker"] = tracker
        return [first, Phase(cfg.student, data, cfg.tune, tracker)]

    @staticmethod
    def _tracked(cfg: NegativesConfig, task: ChainTask, split):
        """Held-out right chains and wrong chains of every error type for the tracker
        (the first ``n_track`` test problems; their own random stream)."""
        test = split.tests["test"]
        rng = np.random.default_rng([cfg.seed, 0x7EAC])
        keep, problems, wrong = [], [], {kind: [] for kind in ERROR_TYPES}
        for i, prompt in enumerate(test.prompts()):  # problems with every error type
            if len(keep) == cfg.n_track:
                break
            p = task.parse_prompt(task.vocab.decode(prompt))
            try:
                chains = {kind: task.teacher(p, kind, rng) for kind in ERROR_TYPES}
            except ValueError:
                continue
            keep.append(i)
            problems.append(p)
            for kind, chain in chains.items():
                wrong[kind].append(chain)
        test = test.subset(np.array(keep))
        rejected = {kind: task.examples(problems, chains).to_tensors()
                    for kind, chains in wrong.items()}
        return test.to_tensors(), rejected

    def probe(self, cfg: NegativesConfig, trained: Trained) -> Rows:
        task: ChainTask = trained.task
        test = trained.split.tests["test"]
        eos = task.vocab.index[EOS]
        outputs = decode_examples(trained.model, test, task.max_len, eos)
        counts = dict.fromkeys(OUTCOMES, 0)
        valid = exact = 0
        samples = []
        for i, (prompt, target, out) in enumerate(zip(test.prompts(), test.targets(),
                                                      outputs)):
            problem = task.parse_prompt(task.vocab.decode(prompt))
            chain = task.vocab.decode(out)
            outcome = task.classify(problem, chain)
            counts[outcome] += 1
            valid += task.parse_chain(chain) is not None
            exact += list(out) == list(target)
            if i < cfg.eval.n_samples:
                samples.append({"split": "test", "cell": str(test.cells[i]),
                                "prompt": " ".join(task.vocab.decode(prompt)),
                                "target": " ".join(task.vocab.decode(target)[:-1]),
                                "output": " ".join(c for c in chain if c != EOS),
                                "outcome": outcome, "correct": outcome == "right"})
        n = len(test)
        metrics = [{"split": "test", "part": "full", "metric": name, "value": v / n,
                    "n": n} for name, v in (("accuracy", counts["right"]),
                                            ("format_valid", valid),
                                            ("exact_match", exact))]
        metrics += [{"split": "test", "part": "full", "metric": f"error_{k}",
                     "value": counts[k] / n, "n": n} for k in OUTCOMES if k != "right"]
        tracker = trained.split.record.pop("tracker", None)
        if tracker is not None:  # the last record: the model as the phase left it
            tracker._record(trained.model, cfg.tune.max_steps)
        for row in tracker.rows if tracker is not None else []:
            metrics += [{"tune_step": row["tune_step"], "split": "test", "part": "full",
                         "metric": name, "value": row[name], "n": cfg.n_track}
                        for name in TRACKED]
        return metrics, samples

    def derived(self, cfg: NegativesConfig, trained: Trained) -> dict[str, Any]:
        m = cfg.model
        return {"model": f"{m.n_layer}x{m.d_model}"}


EXPERIMENT = Negatives()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel




# ---------------------------------------------------------------------------------------
# Views of the chapter (Altair; they compute nothing but means and bands)

STUDENT_COLORS = {"sft": "#4d4d4d", "sft_more": "#bf812d", "dpo": "#c51b7d",
                  "dpo_sft": "#35978f"}
SERIES_COLORS = {"chosen": "#1b7837", "format": "#c51b7d", "function": "#e08214",
                 "argument": "#8073ac", "arithmetic": "#2166ac"}
NEGATIVES = ("format", "function", "argument", "arithmetic", "all")
METRIC_TITLES = {"accuracy": "accuracy (right by execution)",
                 "format_valid": "format validity (parses)",
                 "exact_match": "exact match with the teacher's chain"}


def _student_scale(students) -> alt.Scale:
    order = [s for s in STUDENTS if s in set(students)]
    return alt.Scale(domain=order, range=[STUDENT_COLORS[s] for s in order])


@analysis
def coverage_view(frame: pd.DataFrame, *, metrics=("accuracy", "format_valid"),
                  live: pd.DataFrame | None = None, title: str | None = None
                  ) -> alt.TopLevelMixin:
    """Mean over seeds (bar) and lowest to highest seed (rule) of each metric, by the
    error types the negatives cover and by student; ``live`` as black diamonds."""
    rows = frame[frame.metric.isin(list(metrics)) & (frame.part == "full")]
    if "tune_step" in rows:
        rows = rows[rows.tune_step.isna()]
    band = seed_band(rows, ["negatives", "student", "metric"])
    order = [n for n in NEGATIVES if n in set(band.negatives)]
    students = [s for s in STUDENTS if s in set(band.student)]
    charts = []
    for metric in metrics:
        base = alt.Chart(band[band.metric == metric])
        x = alt.X("negatives:N", sort=order, title="negatives cover",
                  axis=alt.Axis(labelAngle=0))
        off = alt.XOffset("student:N", sort=students)
        layer = (base.mark_bar().encode(
            x=x, xOffset=off,
            y=alt.Y("mean:Q", title=METRIC_TITLES.get(metric, metric),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("student:N", scale=_student_scale(students),
                            legend=alt.Legend(title="student", orient="bottom")),
            tooltip=["negatives", "student", alt.Tooltip("mean:Q", format=".3f"),
                     alt.Tooltip("low:Q", format=".3f"),
                     alt.Tooltip("high:Q", format=".3f"), "seeds"])
            + base.mark_rule(color="black").encode(x=x, xOffset=off, y="low:Q",
                                                   y2="high:Q"))
        if live is not None:
            mine = live[(live.metric == metric) & (live.part == "full")]
            if "tune_step" in mine:
                mine = mine[mine.tune_step.isna()]
            layer += alt.Chart(mine).mark_point(
                shape="diamond", size=110, filled=True, color="black").encode(
                x=x, xOffset=off, y="value:Q",
                tooltip=["student", alt.Tooltip("value:Q", format=".3f")])
        charts.append(layer.properties(width=270, height=200,
                                       title=METRIC_TITLES.get(metric, metric)))
    return alt.hconcat(*charts).properties(title=title or "")


@analysis
def logprob_view(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
                 title: str | None = None) -> alt.TopLevelMixin:
    """Left: the change of the summed log-probability of held-out right chains (chosen)
    and of wrong chains of each error type since the second phase began, mean over seeds
    with the band from the lowest to the highest seed; right: the teacher-forced exact
    match of the right chains. One row of charts per student in ``frame``."""
    rows = frame[frame.tune_step.notna()] if "tune_step" in frame else frame.iloc[:0]
    logp = rows[rows.metric.str.startswith("logp_")].assign(
        chain=lambda f: f.metric.str[5:])
    band = seed_band(logp, ["student", "tune_step", "chain"])
    em = seed_band(rows[rows.metric == "tf_exact_match"], ["student", "tune_step"])
    steps = sorted(rows.tune_step.unique()) if len(rows) else [0]
    x = alt.X("tune_step:Q", title="steps of the second phase",
              axis=alt.Axis(values=list(steps), format="d"))
    chains = ["chosen", *ERROR_TYPES]
    color = alt.Color("chain:N", scale=alt.Scale(
        domain=chains, range=[SERIES_COLORS[c] for c in chains]),
        legend=alt.Legend(title="chain", orient="bottom"))
    out = []
    for student in [s for s in STUDENTS if s in set(band.student)]:
        b = alt.Chart(band[band.student == student])
        left = (b.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q", color=color)
                + b.mark_line(point=True).encode(
                    x=x, color=color,
                    y=alt.Y("mean:Q", title="log-prob minus reference (nats)"),
                    tooltip=["chain", "tune_step", alt.Tooltip("mean:Q", format=".2f"),
                             alt.Tooltip("low:Q", format=".2f"),
                             alt.Tooltip("high:Q", format=".2f")]))
        e = alt.Chart(em[em.student == student])
        right = (e.mark_area(opacity=0.15, color="#1b7837").encode(x=x, y="low:Q",
                                                                   y2="high:Q")
                 + e.mark_line(point=True, color="#1b7837").encode(
                     x=x, y=alt.Y("mean:Q", title="teacher-forced exact match",
                                  scale=alt.Scale(domain=[0, 1]))))
        if live is not None and "tune_step" in live:
            mine = live[live.tune_step.notna() & (live.student == student)]
            lp = mine[mine.metric.str.startswith("logp_")].assign(
                chain=lambda f: f.metric.str[5:])
            left += alt.Chart(lp).mark_point(shape="diamond", size=50, filled=True,
                                             color="black").encode(x=x, y="value:Q")
            right += alt.Chart(mine[mine.metric == "tf_exact_match"]).mark_point(
                shape="diamond", size=50, filled=True, color="black").encode(
                x=x, y="value:Q")
        name = STUDENT_NAMES[student]
        out.append(alt.hconcat(left.properties(width=300, height=200, title=name),
                               right.properties(width=200, height=200, title=name)))
    if not out:
        raise ValueError("no log-probability curves in this frame (only the students "
                         "with a second phase have them)")
    return alt.vconcat(*out).properties(title=title or "")


@analysis
def errors_view(frame: pd.DataFrame, *, title: str | None = None) -> alt.Chart:
    """Stacked shares of test chains by outcome (right, or the first error's type), mean
    over seeds, per student."""
    rows = frame[frame.metric.isin(["accuracy", *(f"error_{k}" for k in OUTCOMES[1:])])
                 & (frame.part == "full")]
    if "tune_step" in rows:
        rows = rows[rows.tune_step.isna()]
    mean = rows.groupby(["student", "metric"], as_index=False).value.mean()
    mean["outcome"] = mean.metric.str.replace("error_", "").replace({"accuracy": "right"})
    outcomes = list(OUTCOMES)
    colors = ["#1b7837", *(SERIES_COLORS[k] for k in ERROR_TYPES), "#999999"]
    return alt.Chart(mean).mark_bar().encode(
        y=alt.Y("student:N", sort=[s for s in STUDENTS if s in set(mean.student)],
                title=None),
        x=alt.X("value:Q", stack="zero", title="share of test chains (mean over seeds)",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=outcomes, range=colors),
                        sort=outcomes, legend=alt.Legend(title="outcome")),
        order=alt.Order("order:Q"),
        tooltip=["student", "outcome", alt.Tooltip("value:Q", format=".3f")]
    ).transform_calculate(order=f"indexof({outcomes}, datum.outcome)").properties(
        width=420, height=130, title=title or "")


# ---------------------------------------------------------------------------------------
# Panels, tables and what the chapter states

SEEDS = [0, 1, 2, 3, 4]
#: The chapter's live panels.
PANELS = {
    "coverage": PanelSpec("students", {"split.negatives": list(NEGATIVES), "seed": SEEDS},
                          "coverage", view=coverage_view, along="negatives",
                          changes={"student": "dpo"},
                          description="accuracy and format validity of each student "
                                      "by the error types the negatives cover"),
    "curves": PanelSpec("students", {"student": ["sft_more", "dpo", "dpo_sft"],
                                     "seed": SEEDS}, "curves", view=logprob_view,
                        description="log-probabilities of right and wrong held-out "
                                    "chains during the second phase"),
    "pairs": PanelSpec("students", {"split.n_pairs": [50, 400, 2000], "seed": SEEDS},
                       "pairs", view=curve_view, along="n_pairs",
                       changes={"student": "dpo_sft"},
                       options={"x": "n_pairs", "series": "student",
                                "metrics": ["accuracy", "format_valid"], "log_x": True,
                                "metric_titles": METRIC_TITLES,
                                "x_title": "pairs (right and wrong chain of a problem)"},
                       description="accuracy and format validity against the pairs"),
    "beta": PanelSpec("students", {"beta": [0.03, 0.1, 0.3, 1.0], "seed": SEEDS}, "beta",
                      view=curve_view, along="beta", changes={"student": "dpo"},
                      options={"x": "beta", "series": "student",
                               "metrics": ["accuracy", "format_valid"], "log_x": True,
                               "x_title": "beta", "metric_titles": METRIC_TITLES},
                      description="accuracy and format validity against beta"),
    "lr": PanelSpec("students", {"tune.lr": [0.0003, 0.001, 0.003], "seed": SEEDS}, "lr",
                    view=curve_view, along="lr", changes={"student": "dpo"},
                    options={"x": "lr", "series": "student",
                             "metrics": ["accuracy", "format_valid"], "log_x": True,
                             "x_title": "learning rate of the second phase",
                             "metric_titles": METRIC_TITLES},
                    description="accuracy and format validity against the learning rate"),
}
Negatives.panels = PANELS

#: The shipped sweeps of this chapter, by table name.
SWEEPS = {"students": "negatives_students", "coverage": "negatives_coverage",
          "regime": "negatives_regime", "pairs": "negatives_pairs",
          "beta": "negatives_beta", "lr": "negatives_lr", "format": "negatives_format"}
#: The main setting's value of each swept field (its runs are in ``negatives_students``).
MAIN = {"n_pairs": 400, "beta": 0.1, "lr": 0.001, "negatives": "all"}


def _final(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.tune_step.isna()] if "tune_step" in frame else frame


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by name (final scores only; ``sweeps``
    replaces frames by name, e.g. recomputed ones), with the main setting's runs of
    ``negatives_students`` (seeds 0-4) added to ``coverage``, ``pairs``, ``beta`` and
    ``lr`` at their grid value, and ``curves``: the log-probability records of the
    ``students`` sweep."""
    raw = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    raw.update(sweeps or {})
    out = {name: _final(f) for name, f in raw.items()}
    main = out["students"][out["students"].seed.isin(SEEDS)]
    for name in ("coverage", "pairs", "beta", "lr"):
        students = set(out[name].student)
        out[name] = pd.concat([out[name], main[main.student.isin(students)]],
                              ignore_index=True)
    # the SFT student and the control see no negatives: one bar each, at "all"
    out["coverage"] = pd.concat([out["coverage"], main[main.student.isin(
        ["sft", "sft_more"])]], ignore_index=True).drop_duplicates()
    curves = raw["students"]
    out["curves"] = curves[curves.tune_step.notna()].reset_index(drop=True)
    # the log-probability records of the knob sweeps (the main setting's from students)
    for name in ("beta", "lr"):
        knob = raw[name]
        main_curves = out["curves"][out["curves"].seed.isin(SEEDS)
                                    & out["curves"].student.isin(set(knob.student))]
        out[f"{name}_curves"] = pd.concat([knob[knob.tune_step.notna()], main_curves],
                                          ignore_index=True)
    return out


def _means(frame: pd.DataFrame, by: list[str], metric: str) -> pd.Series:
    return select(frame, metric).groupby(by).value.mean()


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 4 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    _regime(f, out)
    _format(f, out)
    _students(f, out)
    _coverage(f, out)
    _curves(f, out)
    _knobs(f, out)
    _card(out)
    return out


@analysis
def _regime(f: dict, out: Findings) -> None:
    regime = f["regime"]
    by = select(regime, "format_valid")
    steps = sorted(by.max_steps.unique()) if "max_steps" in by else []
    fmt_min = by.groupby("max_steps").value.min()
    acc = select(regime, "accuracy").groupby("max_steps").value
    exact = select(regime, "exact_match").groupby("max_steps").value
    sft = select(f["students"], "format_valid", student="sft").value
    sft_acc = select(f["students"], "accuracy", student="sft").value
    formed = [s for s in steps if fmt_min[s] >= 0.99]
    out.values.update(regime_format_min=fmt_min.to_dict(),
                      regime_accuracy=acc.mean().to_dict(),
                      regime_accuracy_min=acc.min().to_dict(),
                      regime_exact=exact.mean().to_dict(),
                      first_formed=formed[0] if formed else None,
                      sft_format_min=float(sft.min()), sft_accuracy=float(sft_acc.mean()),
                      sft_accuracy_span=span(sft_acc, 2))
    out.texts["regime"] = "\n".join([
        "SFT alone, lowest format validity over 5 seeds by training steps: " + ", ".join(
            f"{s}: {fmt_min[s]:.2f}" for s in steps) + ".",
        "Accuracy (right by execution), mean over 5 seeds: " + ", ".join(
            f"{s}: {acc.mean()[s]:.2f}" for s in steps) + "; exact match with the "
        "teacher's chain: " + ", ".join(f"{s}: {exact.mean()[s]:.2f}" for s in steps)
        + ".",
        f"At the chapter's setting (300 steps, 10 seeds) the SFT student's chains parse "
        f"in at least {sft.min():.1%} of test problems in every seed; accuracy "
        f"{sft_acc.mean():.2f} (seeds {span(sft_acc, 2)})."])


@analysis
def _format(f: dict, out: Findings) -> None:
    """The regime where SFT leaves format failures (``negatives_format``)."""
    frame = f["format"]
    # the SFT student and the control see no negatives: their runs at "all" stand for
    # both settings
    rows = frame[frame.student.isin(["dpo", "dpo_sft"]) | (frame.negatives == "all")]
    tuned = rows.student.isin(["dpo", "dpo_sft"])
    rows = rows.assign(who=rows.student.where(~tuned, rows.student + " ("
                                              + rows.negatives + ")"))
    order = ["sft", "sft_more", "dpo (format)", "dpo_sft (format)", "dpo (all)",
             "dpo_sft (all)"]
    names = {w: STUDENT_NAMES[w.split(" ")[0]] + (f", {w.split(' ')[1][1:-1]} negatives"
                                                   if " " in w else "") for w in order}
    lines, values = [], {}
    for metric in ("format_valid", "accuracy"):
        vals = select(rows, metric)
        mean, low = vals.groupby("who").value.mean(), vals.groupby("who").value.min()
        values[metric] = {w: float(mean[w]) for w in order}
        values[f"{metric}_min"] = {w: float(low[w]) for w in order}
        lines.append(f"{METRIC_TITLES[metric]}, mean over {vals.seed.nunique()} seeds "
                     "(lowest seed): " + "; ".join(f"{names[w]} {mean[w]:.2f} "
                                                  f"({low[w]:.2f})" for w in order) + ".")
    sft = select(rows, "format_valid", who="sft").value
    failing = int((sft < 0.99).sum())
    lines.append(f"SFT leaves format failures (under 0.99 of chains parse) in {failing} of "
                 f"{len(sft)} seeds.")
    diffs = {}
    for a, b in (("sft_more", "sft"), ("dpo (format)", "sft_more"),
                 ("dpo_sft (format)", "sft_more"), ("dpo_sft (all)", "sft_more")):
        for metric in ("format_valid", "accuracy"):
            diffs[a, b, metric] = paired(select(rows, metric), "who", a, b)
    lines.append("Paired over seeds, format validity: " + "; ".join(
        f"{names[a]} minus {names[b]} {diffs[a, b, 'format_valid']}"
        for a, b in (("sft_more", "sft"), ("dpo (format)", "sft_more"),
                     ("dpo_sft (format)", "sft_more"))) + ".")
    lines.append("Accuracy: " + "; ".join(
        f"{names[a]} minus {names[b]} {diffs[a, b, 'accuracy']}"
        for a, b in (("sft_more", "sft"), ("dpo_sft (format)", "sft_more"),
                     ("dpo_sft (all)", "sft_more"))) + ".")
    out.values.update(format_regime=values, format_failing=(failing, len(sft)),
                      format_diffs={
        k: (d.mean, d.positive, d.negative, d.seeds) for k, d in diffs.items()})
    out.texts["format"] = "\n".join(lines)


@analysis
def _students(f: dict, out: Findings) -> None:
    main = f["students"]
    lines = []
    for metric in ("accuracy", "format_valid"):
        vals = select(main, metric)
        mean = vals.groupby("student").value.mean()
        lines.append(f"{METRIC_TITLES[metric]}, mean over {vals.seed.nunique()} seeds "
                     "(lowest to highest seed): " + "; ".join(
                         f"{STUDENT_NAMES[s]} {mean[s]:.2f} "
                         f"({span(vals[vals.student == s].value, 2)})"
                         for s in STUDENTS) + ".")
        out.values[f"students_{metric}"] = mean.to_dict()
        out.values[f"students_{metric}_min"] = vals.groupby(
            "student").value.min().to_dict()
    diffs = {}
    for a, b in (("dpo", "sft_more"), ("dpo_sft", "sft_more"), ("dpo_sft", "sft"),
                 ("sft_more", "sft")):
        for metric in ("accuracy", "format_valid"):
            d = paired(select(main, metric), "student", a, b)
            diffs[a, b, metric] = d
            out.values[f"diff_{a}_{b}_{metric}"] = {
                "mean": d.mean, "positive": d.positive, "negative": d.negative,
                "seeds": d.seeds}
    lines.append("Paired over seeds, accuracy: DPO + likelihood minus the control "
                 f"{diffs['dpo_sft', 'sft_more', 'accuracy']}; DPO minus the control "
                 f"{diffs['dpo', 'sft_more', 'accuracy']}; more SFT minus SFT "
                 f"{diffs['sft_more', 'sft', 'accuracy']}; DPO + likelihood minus SFT "
                 f"{diffs['dpo_sft', 'sft', 'accuracy']}.")
    errs = select(main, None).pipe(lambda r: r[r.metric.str.startswith("error_")])
    share = errs.groupby(["student", "metric"]).value.mean()
    out.values["errors"] = {f"{s}|{m}": float(v) for (s, m), v in share.items()}
    top = {s: share[s].idxmax()[6:] for s in STUDENTS}
    lines.append("Most common first error: " + "; ".join(
        f"{STUDENT_NAMES[s]}: {top[s]} ({share[s].max():.2f} of test chains)"
        for s in STUDENTS) + ".")
    out.texts["students"] = "\n".join(lines)


@analysis
def _coverage(f: dict, out: Findings) -> None:
    cov = f["coverage"]
    lines = []
    for metric in ("accuracy", "format_valid"):
        mean = _means(cov[cov.student.isin(["dpo", "dpo_sft"])], ["student", "negatives"],
                      metric)
        low = select(cov, metric).groupby(["student", "negatives"]).value.min()
        out.values[f"coverage_{metric}"] = {f"{s}|{n}": float(v)
                                            for (s, n), v in mean.items()}
        out.values[f"coverage_{metric}_min"] = {f"{s}|{n}": float(v)
                                                for (s, n), v in low.items()}
        for student in ("dpo", "dpo_sft"):
            lines.append(f"{STUDENT_NAMES[student]}, {METRIC_TITLES[metric]} by the "
                         "negatives' error types (mean of 5 seeds, lowest seed): "
                         + "; ".join(f"{n} {mean[student, n]:.2f} "
                                     f"({low[student, n]:.2f})"
                                     for n in NEGATIVES) + ".")
    control = select(cov, "accuracy", student="sft_more").value
    lines.append(f"For comparison, the control (no negatives) over the same 5 seeds: "
                 f"accuracy {control.mean():.2f}, lowest {control.min():.2f}.")
    out.values["coverage_control_accuracy"] = float(control.mean())
    out.texts["coverage"] = "\n".join(lines)


@analysis
def _curves(f: dict, out: Findings) -> None:
    curves = f["curves"]
    last = curves[curves.tune_step == curves.tune_step.max()]
    mean = last.groupby(["student", "metric"]).value.mean()
    low = last.groupby(["student", "metric"]).value.min()
    high = last.groupby(["student", "metric"]).value.max()
    steps = int(curves.tune_step.max())
    out.values["curves_end"] = {f"{s}|{m}": float(v) for (s, m), v in mean.items()}
    out.values["curves_end_high"] = {f"{s}|{m}": float(v) for (s, m), v in high.items()}
    out.values["curves_end_low"] = {f"{s}|{m}": float(v) for (s, m), v in low.items()}
    lines = [f"After {steps} steps of the second phase, change of the log-probability of "
             "a held-out right chain (mean over 10 seeds, lowest to highest): " + "; ".join(
                 f"{STUDENT_NAMES[s]} {mean[s, 'logp_chosen']:+.1f} "
                 f"({low[s, 'logp_chosen']:+.1f} to {high[s, 'logp_chosen']:+.1f})"
                 for s in ("sft_more", "dpo", "dpo_sft")) + " nats."]
    for s in ("sft_more", "dpo", "dpo_sft"):
        lines.append(f"{STUDENT_NAMES[s]}, wrong chains: " + ", ".join(
            f"{t} {mean[s, f'logp_{t}']:+.1f}" for t in ERROR_TYPES)
            + "; teacher-forced exact match of right chains "
            f"{mean[s, 'tf_exact_match']:.2f}.")
    out.texts["curves"] = "\n".join(lines)


@analysis
def _knobs(f: dict, out: Findings) -> None:
    lines = []
    for name, field_, label in (("pairs", "n_pairs", "pairs"), ("beta", "beta", "beta"),
                                ("lr", "lr", "learning rate")):
        for metric in ("accuracy", "format_valid"):
            mean = _means(f[name], ["student", field_], metric)
            out.values[f"{name}_{metric}"] = {f"{s}|{v}": float(x)
                                              for (s, v), x in mean.items()}
            lines.append(f"{METRIC_TITLES[metric]} by {label} (mean of 5 seeds): "
                         + "; ".join(
                f"{STUDENT_NAMES[s]}: " + ", ".join(
                    f"{v:g}: {mean[s, v]:.2f}" for v in sorted(mean[s].index))
                for s in STUDENTS if s in mean.index.get_level_values(0)) + ".")
        if f"{name}_curves" in f:
            curves = f[f"{name}_curves"]
            last = curves[(curves.tune_step == curves.tune_step.max())
                          & (curves.metric == "logp_chosen")]
            chosen = last.groupby(["student", field_]).value.mean()
            out.values[f"{name}_logp_chosen"] = {f"{s}|{v}": float(x)
                                                 for (s, v), x in chosen.items()}
            lines.append(f"Log-probability of a held-out right chain at the end of the "
                         f"second phase, minus the reference, by {label} (mean of 5 "
                         "seeds): " + "; ".join(
                f"{STUDENT_NAMES[s]}: " + ", ".join(
                    f"{v:g}: {chosen[s, v]:+.1f}" for v in sorted(chosen[s].index))
                for s in STUDENTS if s in chosen.index.get_level_values(0)) + " nats.")
        out.texts[name] = "\n".join(lines)
        lines = []


@analysis
def _card(out: Findings) -> None:
    v = out.values
    acc, fmt = v["students_accuracy"], v["students_format_valid"]
    d = v["diff_dpo_sft_sft_more_accuracy"]
    d_dpo = v["diff_dpo_sft_more_format_valid"]
    end = v["curves_end"]
    reg = v["format_regime"]
    out.card = [
        ("DPO on the teacher's (right, wrong) pairs improves a small model's function "
         "calling", "claimed in the abstract, no numbers confirmed [P]",
         f"accuracy: SFT {acc['sft']:.2f}, more SFT {acc['sft_more']:.2f}, DPO "
         f"{acc['dpo']:.2f}, DPO + likelihood {acc['dpo_sft']:.2f} (10 seeds); DPO + "
         f"likelihood minus the control {d['mean']:+.3f}, higher in {d['positive']} of "
         f"{d['seeds']} seeds",
         "in this toy, not beyond the same steps of SFT on the right chains"),
        ("Negatives fix rigid format failures that SFT leaves",
         "a secondary summary [S]; not in the abstract",
         f"main setting: SFT's chains parse in at least {v['sft_format_min']:.1%} of "
         f"problems in every seed, so there is no format failure to fix, and DPO alone "
         f"lowers format validity to {fmt['dpo']:.2f} (lower than the control in "
         f"{d_dpo['negative']} of {d_dpo['seeds']} seeds). Longer chains, shorter SFT: "
         f"SFT's worst seed parses {reg['format_valid_min']['sft']:.2f}; DPO + likelihood "
         f"on format negatives {reg['format_valid']['dpo_sft (format)']:.2f} (worst "
         f"{reg['format_valid_min']['dpo_sft (format)']:.2f}), the control as long "
         f"{reg['format_valid']['sft_more']:.2f} (worst "
         f"{reg['format_valid_min']['sft_more']:.2f}), DPO alone "
         f"{reg['format_valid']['dpo (format)']:.2f}",
         "yes: where SFT leaves format failures, training as long on the right chains "
         "fixes them as well as negatives do, and DPO alone breaks the format"),
        ("The chosen chain's likelihood during DPO", "not reported by the paper",
         f"falls under DPO alone ({end['dpo|logp_chosen']:+.1f} nats after the phase, "
         f"mean), stays near the reference with the likelihood term "
         f"({end['dpo_sft|logp_chosen']:+.1f}); rises under more SFT "
         f"({end['sft_more|logp_chosen']:+.1f})", "the toy's own measurement"),
        ("A small student matches a large teacher", "a third-party note's framing [S]",
         "not tested: the teacher is a program (an oracle with injected errors), not a "
         "larger model", "must not be concluded from this chapter"),
    ]


def student_runs(seed: int = 0, changes: dict[str, Any] | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """The four students of the chapter's setting for one seed (cached), by student."""
    return {s: run(preset("students", {**(changes or {}), "student": s, "seed": seed}),
                   progress=progress) for s in STUDENTS}


@analysis
def differing_chains(runs: dict[str, Any], n: int = 8) -> pd.DataFrame:
    """Test problems on which the students' chains differ in outcome: the prompt, the
    teacher's right chain, and each student's chain ("= teacher" when it is the teacher's)
    with its outcome; the first ``n`` such problems."""
    samples = {s: r.samples.drop_duplicates("prompt").set_index("prompt")
               for s, r in runs.items()}
    first = next(iter(samples.values()))
    rows = []
    for prompt in first.index:
        if not all(prompt in f.index for f in samples.values()):
            continue
        outcomes = {s: f.loc[prompt, "outcome"] for s, f in samples.items()}
        if len(set(outcomes.values())) < 2:
            continue
        target = first.loc[prompt, "target"]
        row = {"prompt": prompt, "teacher": target}
        for s, f in samples.items():
            out = f.loc[prompt, "output"]
            row[s] = "= teacher" if out == target else f"{out}  [{outcomes[s]}]"
        rows.append(row)
        if len(rows) == n:
            break
    return pd.DataFrame(rows, columns=["prompt", "teacher", *samples])


@analysis
def teacher_examples(n: int = 2, seed: int = 0) -> pd.DataFrame:
    """The teacher's chains for ``n`` problems of the chapter's task: the right one and
    one with each error type, and what execution says of each."""
    task = ChainTask(preset("students").task)
    rng = np.random.default_rng(seed)
    rows = []
    for p in task.draw_problems(n, rng, "train", salt=seed, test_share=0.2):
        for kind in (None, *ERROR_TYPES):
            chain = task.teacher(p, kind, rng)
            rows.append({"prompt": " ".join(task.prompt_tokens(p)),
                         "error injected": kind or "none",
                         "chain": " ".join(c for c in chain if c != EOS),
                         "execution says": "right" if task.execute(p, chain) else "wrong"})
    return pd.DataFrame(rows)


@analysis
def wrong_chains(result, n: int = 10) -> pd.DataFrame:
    """The first ``n`` test chains of a run that execution labels wrong: prompt, the
    teacher's chain, the student's (without saying which error it made)."""
    wrong = result.samples[~result.samples.correct]
    return wrong[["prompt", "target", "output"]].head(n).reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Reading runs (the exercise checks are in toylab.exercises)


def runs_for(student: str, seeds, changes: dict[str, Any] | None = None,
             name: str = "students") -> list:
    """Runs of one ``student`` of preset ``name`` with ``changes``, one per seed (cached),
    in the order of ``seeds``."""
    return [run(preset(name, {**(changes or {}), "student": student, "seed": s}))
            for s in seeds]


def first_error(result, row: int) -> str:
    """The first error of row ``row`` of ``wrong_chains(result)``: ``format``,
    ``function``, ``argument``, ``arithmetic`` or ``other`` (execution decides)."""
    wrong = wrong_chains(result, n=len(result.samples))
    if not 0 <= row < len(wrong):
        raise ValueError(f"row must be 0 to {len(wrong) - 1}: the rows of "
                         "wrong_chains(result)")
    task = ChainTask(result.config.task)
    r = wrong.iloc[row]
    return task.classify(task.parse_prompt(r.prompt.split()), r.output.split())


def mean_difference(treated: list, control: list, metric: str = "accuracy") -> float:
    """Mean over seeds of ``metric`` of ``treated`` minus ``control`` (runs in seed
    order, which must differ only in the student)."""
    if not treated or len(treated) != len(control):
        raise ValueError("give two equally long, non-empty lists of results, one run per "
                         "seed in each")
    diffs = []
    for a, b in zip(treated, control):
        if override(a.config, {"student": b.config.student}) != b.config:
            raise ValueError(f"seed {a.config.seed}: the two runs differ in more than the "
                             "student; change one thing at a time")
        diffs.append(a.value("test", metric) - b.value("test", metric))
    return float(np.mean(diffs))
