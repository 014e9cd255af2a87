"""Chapter 6, training order: two schedules cover the same data; do they end in the same
place?

Omni-Thinker (Li et al. 2025, arXiv:2507.14783) trains one policy on structured and
open-ended domains and orders them by backward transfer (BWT, Lopez-Paz & Ranzato 2017,
arXiv:1706.08840). This module runs a toy version on the lab's phased pipeline, with the
families of ``toylab.tasks.families``: two structured letter transformations (``rot3``,
``reverse``) and ``gen``, open-ended or its deterministic control, trained

* one after another in an ``order`` (``"rot3>reverse>gen"``: each family one phase of
  ``phase_steps`` steps), with a ``replay`` share of every later phase's examples drawn from
  the earlier families' training examples (``toylab.objectives.replay_mix``); or
* jointly (``order="joint"``): one phase on the mixture of every family, as many steps as
  all the phases together.

Every schedule trains the same number of steps on the same training examples (no early
stop), so schedules differ only in the order the examples come in.

What a run measures (its metric rows; ``split`` is the family, ``stage`` how many phases
are done, ``step`` how many steps):

* at the start and after every phase (``probe="phase"``): one row of the accuracy matrix
  R. ``score`` is each family's one number: exact match (greedy) for a family with one
  answer; for the open family, the share of ``samples`` answers sampled per test prompt
  that are valid and different from each other (out of as many as there can be), times
  the model's answer entropy over the ideal answer entropy of the prompt (capped at 1):
  validity, diversity and entropy together. Also ``entropy`` (mean entropy in nats of the
  model's next-letter distribution over the answer, teacher-forced on the test answer),
  ``validity`` and ``diversity`` (``gen``), and, for a family with one answer, what its
  wrong outputs are: ``wrong_other_family`` (another family's answer to the same letters: it
  ran the wrong function) and ``wrong_gen_like`` (some other string of the prompt's own
  letters: a valid open-ended answer);
* every ``curve_every`` steps (``probe="curve"``): ``entropy`` of every family and
  ``exact_match`` (teacher-forced, which equals greedy) of the families with one answer.

``findings()`` computes what the chapter states from the shipped sweeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from toylab.config import check_choice, check_range
from toylab.evaluate import decode_examples
from toylab.experiment import (
    Experiment,
    ExperimentConfig,
    Phase,
    Rows,
    Trained,
    stream_seed,
)
from toylab.objectives import recording, replay_mix, sft
from toylab.panels import PanelSpec
from toylab.results import Findings, analysis, mean_paired, seed_band, select
from toylab.sweep import shipped
from toylab.tasks import EOS, Examples, KeyCell
from toylab.tasks.families import GEN, FamilyConfig, FamilySplitConfig, FamilyTask
from toylab.train import sequence_correct
from toylab.views import menu

SEP = ">"
JOINT = "joint"
#: What an answer of a family with one answer can be, by the metric that counts it.
WRONG_KINDS = {"exact_match": "right", "wrong_other_family": "another family's answer",
               "wrong_gen_like": "a valid open-ended answer", "other": "anything else"}


def orders(families: Sequence[str]) -> list[str]:
    """Every order of the families, as ``"a>b>c"`` strings."""
    return [SEP.join(p) for p in itertools.permutations(families)]


@dataclass(frozen=True)
class OrderConfig(ExperimentConfig):
    """An ``ExperimentConfig`` for schedules of task families.

    Attributes:
        order: the families in training order, ``"rot3>reverse>gen"`` (every family once),
            or ``"joint"`` (all mixed in one phase as long as all the phases).
        replay: share of each later phase's examples drawn from the earlier families'
            training examples, in [0, 0.9] (must be 0 with ``joint``, which mixes
            everything from the start).
        phase_steps: optimizer steps of each family's phase, 10-5,000.
        curve_every: steps between two points of the curves (entropy, exact match), 0
            (no curves) or 5-5,000.
        samples: answers sampled per test prompt to score the open family, 2-64.
    """

    task: FamilyConfig = field(default_factory=FamilyConfig)
    split: FamilySplitConfig = field(default_factory=FamilySplitConfig)
    order: str = "rot3>reverse>gen"
    replay: float = 0.0
    phase_steps: int = 200
    curve_every: int = 0
    samples: int = 8

    def __post_init__(self):
        super().__post_init__()
        check_choice("order", self.order, [*orders(self.task.families), JOINT])
        check_range("replay", self.replay, 0.0, 0.9)
        if self.order == JOINT and self.replay:
            raise ValueError("joint training mixes every family from the first step; "
                             "replay must be 0 with order='joint'")
        check_range("phase_steps", self.phase_steps, 10, 5000, integer=True)
        if self.curve_every:
            check_range("curve_every", self.curve_every, 5, 5000, integer=True)
        check_range("samples", self.samples, 2, 64, integer=True)

    @property
    def families(self) -> tuple[str, ...]:
        return self.task.families

    @property
    def sequence(self) -> list[str]:
        """The phases' names: the families in order, or ``["joint"]``."""
        return [JOINT] if self.order == JOINT else self.order.split(SEP)

    @property
    def total_steps(self) -> int:
        return self.phase_steps * len(self.families)


PRESETS: dict[str, dict[str, Any]] = {
    # the chapter's runs: 200 steps of batch 32 per family (each of its 2,000 training
    # examples seen about 3 times), on one torch thread (two runs share the two cores)
    "order": {"train.batch_size": 32},
    # the live panels: the same runs on two threads (a panel retrains in about 2.5 s)
    "live": {"train.batch_size": 32, "train.threads": 2},
}


# ---------------------------------------------------------------------------------------
# Measuring a model on every family


@torch.inference_mode()
def answer_entropy(model: nn.Module, ex: Examples, length: int) -> torch.Tensor:
    """(n,) mean entropy (nats) of the model's next-token distribution over the ``length``
    answer letters of each example, teacher-forced on its answer."""
    logits = model(torch.from_numpy(ex.tokens[:, :-1]))[:, length:2 * length]  # (n, k, V)
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1).mean(-1)


def letter_entropy(x: np.ndarray) -> np.ndarray:
    """(n,) entropy (nats) of the letter frequencies of each row of letter ids: the entropy
    of one answer letter of the open family, which copies a random position."""
    out = np.zeros(len(x))
    for i, row in enumerate(x):
        _, counts = np.unique(row, return_counts=True)
        p = counts / counts.sum()
        out[i] = -(p * np.log(p)).sum()
    return out


@torch.inference_mode()
def sample_answers(model: nn.Module, prompts: np.ndarray, samples: int, steps: int,
                   gen: torch.Generator) -> np.ndarray:
    """(n, samples, steps) token ids sampled at temperature 1 after each prompt."""
    seq = torch.from_numpy(prompts).repeat_interleave(samples, dim=0)  # (n*s, P)
    was = model.training
    model.eval()
    for _ in range(steps):
        probs = torch.softmax(model(seq)[:, -1].float(), dim=-1)  # (n*s, V)
        seq = torch.cat([seq, torch.multinomial(probs, 1, generator=gen)], dim=1)
    model.train(was)
    return seq[:, prompts.shape[1]:].reshape(len(prompts), samples, steps).numpy()


def _valid(out: Sequence[int], prompt: Sequence[int], k: int, eos: int) -> bool:
    """Whether token ids ``out`` are ``k`` of the prompt's letters, then ``<eos>``."""
    return len(out) >= k + 1 and out[k] == eos and set(out[:k]) <= set(prompt)


def _row(family: str, metric: str, value: float, n: int, **cols: Any) -> dict:
    return {"split": family, "part": "full", "metric": metric, "value": float(value),
            "n": int(n), **cols}


def one_answer(task: FamilyTask) -> list[str]:
    """The families scored by exact match (all but the open family)."""
    return [f for f in task.families if not (f == GEN and task.config.gen == "open")]


def measure(model: nn.Module, task: FamilyTask, tests: dict[str, Examples], samples: int,
            gen: torch.Generator, **cols: Any) -> list[dict]:
    """One row of the accuracy matrix and what goes with it, for every family (the
    ``probe="phase"`` metrics of the module docstring)."""
    k = task.config.length
    eos = task.vocab.index[EOS]
    single = one_answer(task)
    rows = []
    for family, ex in tests.items():
        n = len(ex)
        prompts = ex.tokens[:, :k]
        letters = prompts - task.letter_ids[0]
        entropy = answer_entropy(model, ex, k)
        rows.append(_row(family, "entropy", entropy.mean(), n, **cols))
        if family in single:
            out = decode_examples(model, ex, k + 1, eos)
            right = np.array([o == list(g) for o, g in zip(out, ex.tokens[:, k + 1:])])
            other = np.zeros(n, bool)
            for g in single:
                if g != family:
                    ans = task.answer(g, letters) + task.letter_ids[0]
                    other |= np.array([o == [*a, eos] for o, a in zip(out, ans.tolist())])
            like = np.array([_valid(o, p, k, eos) for o, p in zip(out, prompts.tolist())])
            rows += [_row(family, "score", right.mean(), n, **cols),
                     _row(family, "exact_match", right.mean(), n, **cols),
                     _row(family, "wrong_other_family", (~right & other).mean(), n, **cols),
                     _row(family, "wrong_gen_like", (~right & ~other & like).mean(), n,
                          **cols)]
        if family == GEN:
            drawn = sample_answers(model, ex.tokens[:, :k + 1], samples, k + 1, gen)
            valid = np.array([[_valid(list(s), p, k, eos) for s in draws]
                              for draws, p in zip(drawn, prompts.tolist())])  # (n, s)
            kinds = np.array([len(set(p)) ** k for p in prompts.tolist()])
            distinct = np.array([len({tuple(s) for s, v in zip(draws, ok) if v})
                                 for draws, ok in zip(drawn, valid)])
            diversity = distinct / np.minimum(samples, kinds)
            ideal = letter_entropy(letters)
            spread = np.where(ideal > 0, np.minimum(1.0, entropy.numpy()
                                                    / np.maximum(ideal, 1e-9)), 1.0)
            rows += [_row(family, "validity", valid.mean(), n, **cols),
                     _row(family, "diversity", diversity.mean(), n, **cols)]
            if task.config.gen == "open":
                rows.append(_row(family, "score", (diversity * spread).mean(), n, **cols))
    return rows


@torch.inference_mode()
def curve_point(model: nn.Module, task: FamilyTask, tests: dict[str, Examples],
                **cols: Any) -> list[dict]:
    """Teacher-forced entropy (every family) and exact match (families with one answer).
    """
    k = task.config.length
    was = model.training
    model.eval()
    rows = []
    for family, ex in tests.items():
        rows.append(_row(family, "entropy", answer_entropy(model, ex, k).mean(), len(ex),
                         **cols))
        if family in one_answer(task):
            right = sequence_correct(model, ex.to_tensors()).float().mean()
            rows.append(_row(family, "exact_match", right, len(ex), **cols))
    model.train(was)
    return rows


def answer_kind(task: FamilyTask, family: str, prompt: Sequence[str],
                output: Sequence[str]) -> str:
    """What an output of a family with one answer is (``WRONG_KINDS``' labels): right,
    another family's answer to the same letters, some other string of the prompt's
    letters (a valid open-ended answer), or anything else."""
    letters, out = list(prompt[:-1]), list(output)
    if out == task.solve([*letters, task.tags[family]]):
        return WRONG_KINDS["exact_match"]
    for other in one_answer(task):
        if other != family and out == task.solve([*letters, task.tags[other]]):
            return WRONG_KINDS["wrong_other_family"]
    if task.valid(prompt, out) and out[-1:] == [EOS]:
        return WRONG_KINDS["wrong_gen_like"]
    return WRONG_KINDS["other"]


def final_answers(model: nn.Module, task: FamilyTask, tests: dict[str, Examples],
                  n: int) -> list[dict]:
    """The greedy answers to the first ``n`` test prompts of every family with one
    answer, with what each is (``answer_kind``): the sample rows of a run."""
    eos = task.vocab.index[EOS]
    rows = []
    for family in one_answer(task):
        ex = tests[family].subset(np.arange(min(n, len(tests[family]))))
        outputs = decode_examples(model, ex, task.config.length + 1, eos)
        for prompt, target, out in zip(ex.prompts(), ex.targets(), outputs):
            p, t, o = (task.vocab.decode(x) for x in (prompt, target, out))
            rows.append({"split": family, "cell": family, "prompt": " ".join(p),
                         "target": " ".join(t), "output": " ".join(o),
                         "kind": answer_kind(task, family, p, o)})
    return rows


class Watch:
    """What a run records while it trains: the matrix row as every phase begins (the
    pipeline calls a phase's objective with the model then) and the curves every
    ``curve_every`` steps (``objectives.recording``, which never touches training)."""

    def __init__(self, cfg: OrderConfig, task: FamilyTask, tests: dict[str, Examples]):
        self.cfg, self.task, self.tests = cfg, task, tests
        self.rows: list[dict] = []

    def phase_row(self, model: nn.Module, stage: int, step: int, trained: str) -> None:
        gen = torch.Generator().manual_seed(stream_seed(self.cfg.seed, "batches",
                                                        1000 + stage))
        self.rows += measure(model, self.task, self.tests, self.cfg.samples, gen,
                             probe="phase", stage=stage, step=step, trained=trained)

    def curve(self, model: nn.Module, stage: int, step: int) -> None:
        self.rows += curve_point(model, self.task, self.tests, probe="curve", stage=stage,
                                 step=step, trained="")

    def objective(self, stage: int, offset: int, before: str):
        """The SFT objective of phase ``stage`` (which starts at step ``offset``, after
        training ``before``), recording the matrix row first and the curve as it goes."""
        def start(model: nn.Module):
            self.phase_row(model, stage, offset, before)
            if self.cfg.curve_every:
                self.curve(model, stage, offset)
            if not self.cfg.curve_every:
                return sft()(model)
            every = self.cfg.curve_every
            return recording(sft(), every,
                             lambda m, s: self.curve(m, stage, offset + s))(model)

        return start


class Order(Experiment):
    kind = "toylab.experiments.order/2"
    config_class = OrderConfig
    presets = PRESETS
    columns = {"order": "order", "gen": "task.gen", "replay": "replay",
               "phase_steps": "phase_steps"}
    chapter = "chapters/06_training_order.ipynb"

    def tables(self) -> dict[str, pd.DataFrame]:
        return frames()

    def phases(self, cfg: OrderConfig, task: FamilyTask, split) -> list[Phase]:
        watch = Watch(cfg, task, split.tests)
        split.record["watch"] = watch
        train = replace(cfg.train, max_steps=cfg.phase_steps, target_accuracy=None)
        if cfg.order == JOINT:
            train = replace(train, max_steps=cfg.total_steps)
            return [Phase(JOINT, split.train.to_tensors(), train,
                          watch.objective(0, 0, "init"))]
        rng = np.random.default_rng(stream_seed(cfg.seed, "replay"))
        order = cfg.sequence
        out = []
        for k, family in enumerate(order):
            data = split.pools[family]
            if k and cfg.replay:
                earlier = Examples.concat([split.pools[f] for f in order[:k]])
                data = replay_mix(data, earlier, cfg.replay, len(data), rng)
            out.append(Phase(family, data.to_tensors(), train,
                             watch.objective(k, k * cfg.phase_steps,
                                             order[k - 1] if k else "init")))
        return out

    def probe(self, cfg: OrderConfig, trained: Trained) -> Rows:
        watch: Watch = trained.split.record.pop("watch")
        last = cfg.sequence[-1]
        watch.phase_row(trained.model, len(cfg.sequence), cfg.total_steps, last)
        if cfg.curve_every:
            watch.curve(trained.model, len(cfg.sequence), cfg.total_steps)
        return watch.rows, final_answers(trained.model, trained.task, trained.split.tests,
                                         cfg.eval.n_samples)


EXPERIMENT = Order()
run = EXPERIMENT.run
preset = EXPERIMENT.preset


# ---------------------------------------------------------------------------------------
# The chapter's grid, colours and tables

FAMILIES = FamilyConfig().families
#: Every order of the default families, and the replay shares and seeds swept.
ORDERS = orders(FAMILIES)
REPLAYS = [0.0, 0.1, 0.2, 0.3, 0.5]
GENS = ("open", "control")
SEEDS = list(range(10))
MEAN = "mean of families"
FAMILY_COLORS = {**{s.name: s.color for s in FamilyTask.test_splits}, MEAN: "#4d4d4d"}
ORDER_COLORS = ("#1b7837", "#5aae61", "#2166ac", "#92c5de", "#b35806", "#fdb863")
#: The shipped sweeps of this chapter, by table name.
SWEEPS = {"replay": "order_replay", "joint": "order_joint", "curves": "order_curves"}
#: A family holds when its final score is at least this share of what it reached in its
#: own phase, in the mean over seeds and in the worst seed (HOLDS_WORST).
HOLDS, HOLDS_WORST = 0.9, 0.75


def _family_scale(names: Sequence[str]) -> alt.Scale:
    names = [n for n in FAMILY_COLORS if n in set(names)]
    return alt.Scale(domain=names, range=[FAMILY_COLORS[n] for n in names])


@analysis
def final_rows(frame: pd.DataFrame, metric: str = "score") -> pd.DataFrame:
    """Each run's final row of ``metric`` per family (after its last phase), plus the mean
    of the families (``split="mean of families"``, for ``score``)."""
    rows = frame[(frame.probe == "phase") & (frame.metric == metric)]
    last = rows.groupby(["order", "gen", "replay", "seed"]).stage.transform("max")
    rows = rows[rows.stage == last]
    if metric != "score" or rows.empty:
        return rows
    mean = rows.groupby(["order", "gen", "replay", "seed"], as_index=False).agg(
        value=("value", "mean"), n=("n", "sum"))
    mean = mean.assign(split=MEAN, metric=metric, part="full", probe="phase",
                       stage=rows.stage.max())
    return pd.concat([rows, mean], ignore_index=True)


@analysis
def with_joint(sequential: pd.DataFrame, joint: pd.DataFrame) -> pd.DataFrame:
    """The sequential rows with the joint runs' rows copied to every order and replay
    share of ``sequential`` (``schedule`` is ``"joint"`` on the copies, ``"in order"``
    on the rest), so a panel narrowed to one order still draws joint training beside
    it."""
    copies = [joint.assign(order=o, replay=r)
              for o in sequential.order.unique() for r in sequential.replay.unique()]
    return pd.concat([sequential.assign(schedule="in order"),
                      *[c.assign(schedule=JOINT) for c in copies]], ignore_index=True)


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by name (``sweeps`` replaces frames by
    name, e.g. recomputed ones); ``final`` (every run's final scores, with the mean of
    the families; joint runs have ``order="joint"``); ``panel`` (the final scores in order
    with the joint runs beside every order, for the replay panel); ``matrix`` (the score
    rows of every phase, for the matrix panel)."""
    f = {name: (sweeps or {}).get(name) for name in SWEEPS}
    f = {name: frame if frame is not None else shipped(SWEEPS[name])
         for name, frame in f.items()}
    for name in f:
        f[name] = f[name].assign(replay=f[name].replay.astype(float))
    f["final"] = pd.concat([final_rows(f["replay"]), final_rows(f["joint"])],
                           ignore_index=True)
    f["panel"] = with_joint(final_rows(f["replay"]), final_rows(f["joint"]))
    f["matrix"] = f["replay"][(f["replay"].probe == "phase")
                              & (f["replay"].metric == "score")]
    return f


# ---------------------------------------------------------------------------------------
# Reading the accuracy matrix: backward transfer and its additive prediction


@analysis
def bwt_rows(matrix: pd.DataFrame) -> pd.DataFrame:
    """Backward transfer of every run of ``matrix`` (its ``probe="phase"`` score rows):
    GEM's ``mean over i < T of R[T, i] - R[i, i]`` with R[j, i] the score of the i-th
    family of the order after phase j (``order, gen, replay, seed, bwt``)."""
    out = []
    for (order, gen, replay, seed), run_rows in matrix.groupby(
            ["order", "gen", "replay", "seed"]):
        if order == JOINT:
            continue
        families = order.split(SEP)
        r = run_rows.set_index(["stage", "split"]).value
        last = len(families)
        drops = [r[last, f] - r[i + 1, f] for i, f in enumerate(families[:-1])]
        out.append({"order": order, "gen": gen, "replay": replay, "seed": seed,
                    "bwt": float(np.mean(drops))})
    return pd.DataFrame(out)


@analysis
def pairwise_transfer(matrix: pd.DataFrame) -> pd.DataFrame:
    """The pairwise backward transfer ``b[later, earlier]``: how much training ``later``
    right after ``earlier`` changes ``earlier``'s score (phase 2 minus phase 1 of the order
    that starts ``earlier>later``), and ``own[f]``, what ``f`` reaches in its first phase
    (mean over the two orders that start with it); mean over seeds, per gen and replay."""
    rows = []
    for (gen, replay), m in matrix.groupby(["gen", "replay"]):
        r = m.groupby(["order", "stage", "split"]).value.mean()
        for order in m.order.unique():
            first, second, _ = order.split(SEP)
            rows.append({"gen": gen, "replay": replay, "earlier": first,
                         "later": second, "b": r[order, 2, first] - r[order, 1, first],
                         "own": r[order, 1, first]})
    return pd.DataFrame(rows)


@analysis
def predictions(matrix: pd.DataFrame) -> pd.DataFrame:
    """The final score of every family in every order as the additive model predicts it
    from ``pairwise_transfer``: what the family reaches in its own phase plus the pairwise
    transfer of every family trained after it, clipped to [0, 1]; beside the observed
    final scores (mean over seeds). One row per (gen, replay, order, family), plus the
    mean of the families."""
    pair = pairwise_transfer(matrix)
    observed = matrix.groupby(["gen", "replay", "order", "stage", "split"]).value.mean()
    rows = []
    for (gen, replay), p in pair.groupby(["gen", "replay"]):
        own = p.groupby("earlier").own.mean()
        b = p.set_index(["later", "earlier"]).b
        for order in ORDERS:
            families = order.split(SEP)
            if (gen, replay, order, len(families), families[0]) not in observed:
                continue
            for i, f in enumerate(families):
                later = families[i + 1:]
                if (later and f not in own) or any((x, f) not in b for x in later):
                    continue  # not measured in these runs: no prediction
                # the last family is never trained over: it keeps what it reaches
                start = own[f] if later else observed[gen, replay, order, i + 1, f]
                guess = start + sum(b[x, f] for x in later)
                rows.append({"gen": gen, "replay": replay, "order": order, "split": f,
                             "predicted": float(np.clip(guess, 0, 1)),
                             "observed": float(observed[gen, replay, order,
                                                        len(families), f])})
    out = pd.DataFrame(rows)
    counts = out.groupby(["gen", "replay", "order"]).split.transform("count")
    whole = counts == len(FAMILIES)
    mean = out[whole].groupby(["gen", "replay", "order"], as_index=False)[
        ["predicted", "observed"]].mean().assign(split=MEAN)
    return pd.concat([out, mean], ignore_index=True)


# ---------------------------------------------------------------------------------------
# Views (Altair; live runs drawn as black diamonds)


def _seed_lines(chart: alt.Chart, x: alt.X, color: alt.Color, tooltip: list,
                title: str = "final score") -> alt.LayerChart:
    stats = [alt.Tooltip(f"{c}:Q", format=".2f") for c in ("mean", "low", "high")]
    return (chart.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q", color=color)
            + chart.mark_line(point=True).encode(
                x=x, color=color, tooltip=[*tooltip, *stats],
                y=alt.Y("mean:Q", title=title, scale=alt.Scale(domain=[0, 1]))))


def _replay_axis() -> alt.X:
    return alt.X("replay:Q", title="replay share of each later phase",
                 axis=alt.Axis(values=REPLAYS, format="g"),
                 scale=alt.Scale(domain=[0, max(REPLAYS)]))


@analysis
def schedules_view(final: pd.DataFrame, *, title: str | None = None
                   ) -> alt.TopLevelMixin:
    """The headline: the mean of the three families' final scores against the replay
    share, one line per order (mean over seeds, band lowest to highest seed), joint
    training on the same examples and steps as a grey band; a menu picks the open-ended
    family or its control."""
    rows = final[final.split == MEAN]
    seq = seed_band(rows[rows.order != JOINT], ["gen", "order", "replay"])
    joint = seed_band(rows[rows.order == JOINT], ["gen"])
    param = menu("gen", GENS, label="the gen family")
    color = alt.Color("order:N", scale=alt.Scale(domain=ORDERS, range=ORDER_COLORS),
                      legend=alt.Legend(title="order (first>second>last)",
                                        symbolOpacity=1))
    lines = _seed_lines(alt.Chart(seq).transform_filter(alt.datum.gen == param),
                        _replay_axis(), color, ["order", "replay", "seeds"],
                        "final score, mean of the three families")
    base = alt.Chart(joint).transform_filter(alt.datum.gen == param)
    band = (base.mark_rect(color="#999999", opacity=0.25).encode(
        y="low:Q", y2="high:Q", x=alt.value(0), x2=alt.value(440))
        + base.mark_rule(color="#555555", strokeDash=[6, 3]).encode(
            y="mean:Q", tooltip=[alt.Tooltip("mean:Q", format=".2f", title="joint mean"),
                                 alt.Tooltip("low:Q", format=".2f"),
                                 alt.Tooltip("high:Q", format=".2f")]))
    return (band + lines).add_params(param).properties(
        width=440, height=260, title=title or "every order against joint training "
                                              "(grey, dashed)")


@analysis
def replay_view(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
                value: float | None = None, title: str | None = None
                ) -> alt.TopLevelMixin:
    """One order's final score of each family against the replay share (mean over seeds,
    band lowest to highest seed) beside joint training (dashed lines, one per family);
    ``frame`` is ``frames()["panel"]`` narrowed to one order and gen; ``live`` as black
    diamonds."""
    rows = frame[frame.split != MEAN]
    if rows.empty:
        raise ValueError("no rows to draw: narrow frames()['panel'] to one order and gen")
    seq = seed_band(rows[rows.schedule != JOINT], ["split", "replay"])
    joint = seed_band(rows[(rows.schedule == JOINT) & (rows.replay == 0)], ["split"])
    color = alt.Color("split:N", scale=_family_scale(seq.split),
                      legend=alt.Legend(title="family", orient="bottom",
                                        symbolOpacity=1))
    x = _replay_axis()
    layer = _seed_lines(alt.Chart(seq), x, color, ["split", "replay", "seeds"])
    layer += alt.Chart(joint).mark_rule(strokeDash=[6, 3]).encode(
        y="mean:Q", color=color,
        tooltip=["split", alt.Tooltip("mean:Q", format=".2f", title="joint mean")])
    if live is not None:
        mine = final_rows(live)
        mine = mine[mine.split != MEAN]
        layer += alt.Chart(mine).mark_point(
            shape="diamond", size=100, filled=True, color="black").encode(
            x=x, y="value:Q", tooltip=["split", alt.Tooltip("value:Q", format=".2f")])
    order = rows.order.iloc[0]
    return layer.properties(width=420, height=240, title=title or (
        f"{order} ({rows.gen.iloc[0]} gen): final score by family; dashed: joint"))


def _matrix_frame(rows: pd.DataFrame) -> pd.DataFrame:
    order = rows.order.iloc[0].split(SEP)
    label = {0: "at the start", **{i + 1: f"after {i + 1}: {f}"
                                   for i, f in enumerate(order)}}
    band = seed_band(rows, ["stage", "split"])
    return band.assign(phase=band.stage.map(label))


@analysis
def matrix_view(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
                title: str | None = None) -> alt.TopLevelMixin:
    """The accuracy matrix R of one schedule: the score of every family (columns) at the
    start and after every phase (rows), mean over the seeds of ``frame`` (the
    ``matrix`` table narrowed to one order, replay and gen), with its backward transfer in
    the title; ``live`` (one run) drawn beside it."""
    if frame.empty or frame.order.nunique() != 1:
        raise ValueError("matrix_view draws one order: narrow the frame to one order, "
                         "replay and gen")
    order = frame.order.iloc[0].split(SEP)

    def heat(rows: pd.DataFrame, name: str) -> alt.LayerChart:
        data = _matrix_frame(rows)
        bwt = bwt_rows(rows).bwt
        phases = list(dict.fromkeys(data.sort_values("stage").phase))
        base = alt.Chart(data).encode(
            x=alt.X("split:N", sort=order, title="family scored",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("phase:N", sort=phases, title=None))
        text = (f"BWT {bwt.mean():+.2f} (seeds {bwt.min():+.2f} to {bwt.max():+.2f})"
                if len(bwt) > 1 else f"BWT {bwt.mean():+.2f}")
        return (base.mark_rect().encode(
            color=alt.Color("mean:Q", title="score",
                            scale=alt.Scale(domain=[0, 1], scheme="greens")),
            tooltip=["phase", "split", alt.Tooltip("mean:Q", format=".2f"),
                     alt.Tooltip("low:Q", format=".2f"),
                     alt.Tooltip("high:Q", format=".2f")])
            + base.mark_text(fontSize=13).encode(
                text=alt.Text("mean:Q", format=".2f"),
                color=alt.condition(alt.datum.mean > 0.6, alt.value("white"),
                                    alt.value("black")))
        ).properties(width=210, height=170, title=[name, text])

    charts = [heat(frame, f"mean of {frame.seed.nunique()} shipped seeds")]
    if live is not None:
        mine = live[(live.probe == "phase") & (live.metric == "score")]
        charts.append(heat(mine, f"this run (seed {int(mine.seed.iloc[0])})"))
    head = frame.iloc[0]
    return alt.hconcat(*charts).properties(title=title or (
        f"R for {head.order}, replay {head.replay:g}, {head.gen} gen"))


@analysis
def entropy_view(curves: pd.DataFrame, *, title: str | None = None
                 ) -> alt.TopLevelMixin:
    """Each family's answer entropy over training (mean over seeds, band lowest to
    highest seed), with the phase boundaries; menus pick the schedule, the replay share
    and the gen family."""
    rows = curves[(curves.probe == "curve") & (curves.metric == "entropy")]
    band = seed_band(rows, ["order", "replay", "gen", "split", "step"])
    schedules = [*ORDERS, JOINT]
    params = [menu("order", schedules, value=ORDERS[0], label="schedule"),
              menu("replay", sorted(band.replay.unique()), label="replay"),
              menu("gen", GENS, label="the gen family")]
    base = alt.Chart(band)
    for column, param in zip(("order", "replay", "gen"), params):
        base = base.transform_filter(alt.datum[column] == param)
    color = alt.Color("split:N", scale=_family_scale(band.split),
                      legend=alt.Legend(title="prompts of family", orient="bottom",
                                        symbolOpacity=1))
    x = alt.X("step:Q", title="training step",
              axis=alt.Axis(values=sorted(band.step.unique())[::2]))
    stats = [alt.Tooltip(f"{c}:Q", format=".2f") for c in ("mean", "low", "high")]
    steps = rows.step.max()
    bounds = pd.DataFrame({"step": [steps / 3, 2 * steps / 3]})
    chart = (alt.Chart(bounds).mark_rule(color="#bbbbbb").encode(x="step:Q")
             + base.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q",
                                                   color=color)
             + base.mark_line().encode(
                 x=x, color=color, tooltip=["split", "step", *stats],
                 y=alt.Y("mean:Q", title="answer entropy (nats)")))
    return chart.add_params(*params).properties(
        width=440, height=240, title=title or "answer entropy on each family's prompts "
                                              "(grey: phase boundaries)")


@analysis
def prediction_view(table: pd.DataFrame, *, title: str | None = None
                    ) -> alt.TopLevelMixin:
    """Predicted (additive pairwise backward transfer) against observed mean final score,
    one point per order and replay share; a menu picks the gen family."""
    rows = table[table.split == MEAN]
    param = menu("gen", GENS, label="the gen family")
    base = alt.Chart(rows).transform_filter(alt.datum.gen == param)
    scale = alt.Scale(domain=[0, 1])
    diagonal = alt.Chart(pd.DataFrame({"v": [0, 1]})).mark_line(
        color="#999999", strokeDash=[4, 4]).encode(x="v:Q", y="v:Q")
    points = base.mark_point(filled=True, size=80).encode(
        x=alt.X("predicted:Q", scale=scale, title="predicted from pairwise BWT"),
        y=alt.Y("observed:Q", scale=scale, title="observed (mean of seeds)"),
        color=alt.Color("replay:O", scale=alt.Scale(scheme="viridis"),
                        legend=alt.Legend(title="replay")),
        shape=alt.Shape("order:N", legend=alt.Legend(title="order")),
        tooltip=["order", "replay", alt.Tooltip("predicted:Q", format=".2f"),
                 alt.Tooltip("observed:Q", format=".2f")])
    return (diagonal + points).add_params(param).properties(
        width=300, height=300, title=title or "final score, mean of the families")



@analysis
def mechanism_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """What the first family of every order writes at the end (share of its test
    prompts): right, another family's answer to the same letters, some other string of the
    prompt's letters, anything else; mean over seeds and the orders whose first family has
    one answer, by what was trained last (``last``: gen, or a structured family)."""
    rows = frame[(frame.probe == "phase") & frame.metric.isin(list(WRONG_KINDS))]
    final = rows.groupby(["order", "gen", "replay", "seed"]).stage.transform("max")
    rows = rows[rows.stage == final]
    first = rows.order.str.split(SEP).str[0]
    rows = rows[(rows.split == first) & (rows.split != GEN)]
    rows = rows.assign(last=np.where(rows.order.str.endswith(SEP + GEN), "gen last",
                                     "a structured family last"))
    keys = ["gen", "last", "replay", "order", "seed"]
    wide = rows.pivot_table(index=keys, columns="metric", values="value").reset_index()
    wide["other"] = 1 - wide[[m for m in WRONG_KINDS if m != "other"]].sum(axis=1)
    long = wide.melt(id_vars=keys, value_vars=list(WRONG_KINDS), var_name="metric")
    out = long.groupby(["gen", "last", "replay", "metric"], as_index=False).value.mean()
    return out.assign(kind=out.metric.map(WRONG_KINDS))


@analysis
def mechanism_view(frame: pd.DataFrame, *, title: str | None = None
                   ) -> alt.TopLevelMixin:
    """What the first-trained structured family answers at the end, by replay share: with
    the open-ended family or its control in the schedule, trained last or not."""
    rows = mechanism_rows(frame)
    kinds = list(WRONG_KINDS.values())
    color = alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=[
        "#1b7837", "#762a83", "#e08214", "#bbbbbb"]), legend=alt.Legend(
        title="its answers are", orient="bottom"))
    charts = []
    for gen in GENS:
        for last in ("gen last", "a structured family last"):
            data = rows[(rows.gen == gen) & (rows.last == last)]
            charts.append(alt.Chart(data).mark_bar().encode(
                x=alt.X("replay:O", title="replay share", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("value:Q", title="share of its test prompts", stack="zero",
                        scale=alt.Scale(domain=[0, 1])),
                color=color, order=alt.Order("order_key:Q"),
                tooltip=["replay", "kind", alt.Tooltip("value:Q", format=".2f")]
            ).transform_calculate(order_key=f"indexof({kinds!r}, datum.kind)").properties(
                width=150, height=180, title=[f"{gen} gen,", last]))
    rows_of_two = [alt.hconcat(*charts[i:i + 2]) for i in range(0, len(charts), 2)]
    return alt.vconcat(*rows_of_two).properties(title=title or (
        "the first family's answers at the end (structured families trained first)"))


PANELS = {
    "replay": PanelSpec("live", {"order": ORDERS, "replay": REPLAYS,
                                 "task.gen": ["control", "open"], "seed": SEEDS[:5]},
                        "panel", view=replay_view, along="replay",
                        description="final score of each family against the replay share "
                                    "for one order, beside joint training"),
    "matrix": PanelSpec("live", {"order": ORDERS, "replay": REPLAYS,
                                 "task.gen": ["control", "open"], "seed": SEEDS[:5]},
                        "matrix", view=matrix_view,
                        description="the accuracy matrix R after each phase, with its "
                                    "backward transfer"),
}
Order.panels = PANELS
panel = EXPERIMENT.panel


# ---------------------------------------------------------------------------------------
# What the chapter states, computed from the shipped sweeps


def _band(values: pd.Series, digits: int = 2) -> str:
    return (f"{values.mean():.{digits}f} (seeds {values.min():.{digits}f} to "
            f"{values.max():.{digits}f})")


@analysis
def _per_seed(final: pd.DataFrame, split: str = MEAN, **where: Any) -> pd.Series:
    """One value per seed: ``split``'s final score averaged over the runs of ``where``
    (e.g. the two orders that end with gen)."""
    return select(final, "score", split=split, **where).groupby("seed").value.mean()


def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 6 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    _schedules(f, out)
    _structured_first(f, out)
    _replay(f, out)
    _control(f, out)
    _mechanism(f, out)
    _prediction(f, out)
    _curves(f, out)
    _card(out)
    return out


GEN_LAST = [o for o in ORDERS if o.endswith(SEP + GEN)]
GEN_FIRST = [o for o in ORDERS if o.startswith(GEN + SEP)]


@analysis
def _schedules(f: dict, out: Findings) -> None:
    final = f["final"]
    joint = {g: _per_seed(final, order=JOINT, gen=g) for g in GENS}
    lines = []
    for g in GENS:
        j = joint[g]
        out.values[f"joint_{g}"] = (j.mean(), j.min(), j.max())
        fam = select(final, "score", order=JOINT, gen=g).groupby("split").value
        out.values[f"joint_{g}_family"] = fam.mean().to_dict()
        lines.append(f"Joint training, {g} gen: mean of the families {_band(j)}; by "
                     "family " + ", ".join(f"{k} {v:.2f}" for k, v in fam.mean().items()
                                           if k != MEAN) + ".")
    spread, best_gap = {}, {}
    for g in GENS:
        for r in REPLAYS:
            by_order = {o: _per_seed(final, order=o, gen=g, replay=r) for o in ORDERS}
            means = pd.Series({o: v.mean() for o, v in by_order.items()})
            best, worst = means.idxmax(), means.idxmin()
            diff = by_order[best] - joint[g]
            key = f"{g}|{r:g}"
            spread[key] = (float(means.max() - means.min()), best, worst)
            best_gap[key] = (float(diff.mean()), int((diff > 0).sum()),
                             int((diff < 0).sum()), len(diff), float(diff.max()))
            lines.append(
                f"{g} gen, replay {r:g}: mean of the families by order from "
                f"{means.min():.2f} ({worst}) to {means.max():.2f} ({best}), a spread of "
                f"{means.max() - means.min():.2f}; the best order minus joint "
                f"{diff.mean():+.2f} (seeds {diff.min():+.2f} to {diff.max():+.2f}, above "
                f"joint in {(diff > 0).sum()} of {len(diff)} seeds).")
    out.values["order_spread"] = spread
    out.values["best_minus_joint"] = best_gap
    last = select(final, "score", replay=0.0)
    last = last[last.split == last.order.str.split(SEP).str[-1]]
    earlier = select(final, "score", replay=0.0)
    earlier = earlier[(earlier.split != MEAN)
                      & (earlier.split != earlier.order.str.split(SEP).str[-1])
                      & (earlier.order != JOINT)]
    out.values["no_replay_earlier_max"] = float(earlier.value.max())
    out.values["no_replay_last"] = last.groupby(["gen", "split"]).value.mean().to_dict()
    lines.insert(0, "Without replay only the family trained last survives: every earlier "
                 f"family ends at most {earlier.value.max():.2f} in every run "
                 f"({len(earlier)} family-runs), while the last one keeps "
                 + ", ".join(f"{s} {v:.2f}" for (g, s), v in last.groupby(
                     ["gen", "split"]).value.mean().items() if g == "open")
                 + " (open gen; the control keeps "
                 f"{select(last, 'score', gen='control', split=GEN).value.mean():.2f}).")
    out.texts["schedules"] = "\n".join(lines)


@analysis
def _structured_first(f: dict, out: Findings) -> None:
    """The paper's curriculum, structured families first and the open-ended one last,
    against the orders that start with the open-ended family (paired by seed)."""
    final = f["final"]
    lines, values = [], {}
    for g in GENS:
        for r in REPLAYS:
            a = _per_seed(final, order=GEN_LAST, gen=g, replay=r)
            b = _per_seed(final, order=GEN_FIRST, gen=g, replay=r)
            d = (a - b).dropna()
            values[f"{g}|{r:g}"] = (float(d.mean()), int((d > 0).sum()),
                                    int((d < 0).sum()), len(d))
            lines.append(f"{g} gen, replay {r:g}: {d.mean():+.2f} (higher in "
                         f"{(d > 0).sum()} of {len(d)} seeds, lower in {(d < 0).sum()})")
    out.values["structured_first"] = values
    out.texts["structured_first"] = (
        "The two orders that train gen last minus the two that train it first, mean of "
        "the families, paired by seed:\n" + "\n".join(lines))


@analysis
def retention(matrix: pd.DataFrame) -> pd.DataFrame:
    """Each family's final score over what it reached at the end of its own phase, in
    every run where it is not last: ``position`` (1 = trained first), ``own``, ``final``,
    ``kept`` (final / own; NaN if own is 0)."""
    rows = []
    for (order, gen, replay, seed), m in matrix.groupby(["order", "gen", "replay",
                                                          "seed"]):
        families = order.split(SEP)
        r = m.set_index(["stage", "split"]).value
        for i, fam in enumerate(families[:-1]):
            own, last = r[i + 1, fam], r[len(families), fam]
            rows.append({"order": order, "gen": gen, "replay": replay, "seed": seed,
                         "family": fam if fam != GEN else f"{GEN} ({gen})",
                         "position": i + 1, "own": own, "final": last,
                         "kept": last / own if own > 0 else np.nan})
    return pd.DataFrame(rows)


@analysis
def _replay(f: dict, out: Findings) -> None:
    kept = retention(f["matrix"])
    # the structured families are the same in both sweeps' halves: pool gens for them
    lines, needs, table = [], {}, {}
    for (family, position), k in kept.groupby(["family", "position"]):
        by = k.groupby("replay").kept
        mean, low = by.mean(), by.min()
        table[f"{family}|{position}"] = {r: (float(mean[r]), float(low[r]))
                                         for r in mean.index}
        enough = [r for r in mean.index if mean[r] >= HOLDS and low[r] >= HOLDS_WORST]
        needs[f"{family}|{position}"] = enough[0] if enough else None
        lines.append(f"{family}, trained {'first' if position == 1 else 'second'} "
                     f"({by.size().iloc[0]} runs per share): kept " + "; ".join(
                         f"{r:g}: {mean[r]:.2f} (worst {low[r]:.2f})" for r in mean.index)
                     + " → holds from "
                     + (f"replay {enough[0]:g}" if enough else "no share swept") + ".")
    out.values["replay_kept"] = table
    out.values["replay_needed"] = needs
    # how the open family loses its score when it is trained first: validity, or entropy?
    rows = f["replay"]
    rows = rows[(rows.probe == "phase") & (rows.split == GEN) & (rows.gen == "open")
                & rows.order.isin(GEN_FIRST) & (rows.replay == REPLAYS[-1])]
    parts = rows.groupby(["metric", "stage"]).value.mean()
    own, end = 1, len(FAMILIES)
    out.values["open_first_parts"] = {m: (float(parts[m, own]), float(parts[m, end]))
                                      for m in ("validity", "diversity", "entropy")}
    lines.append(
        f"The open family trained first, replay {REPLAYS[-1]:g}, from the end of its own "
        f"phase to the end: valid samples {parts['validity', own]:.2f} -> "
        f"{parts['validity', end]:.2f}, diversity {parts['diversity', own]:.2f} -> "
        f"{parts['diversity', end]:.2f}, answer entropy {parts['entropy', own]:.2f} -> "
        f"{parts['entropy', end]:.2f} nats.")
    out.texts["replay"] = (
        f"Share of its own score a family keeps to the end (final over the end of its "
        f"phase; mean, worst run), by replay share. It 'holds' when the mean is at least "
        f"{HOLDS} and the worst run at least {HOLDS_WORST}:\n" + "\n".join(lines))


@analysis
def _structured_end(frame: pd.DataFrame, gen: str, replay: float) -> pd.Series:
    """Per seed: the two structured families' final value (mean of them and of the two
    orders that train gen last)."""
    rows = frame[(frame.order.isin(GEN_LAST)) & (frame.gen == gen)
                 & (frame.replay == replay) & (frame.stage == 3) & (frame.split != GEN)]
    return rows.groupby("seed").value.mean()


@analysis
def _control(f: dict, out: Findings) -> None:
    """The entropy control: the open-ended family or its deterministic twin trained last,
    same prompts, same seeds."""
    m = f["matrix"]
    ent = f["replay"][(f["replay"].probe == "phase") & (f["replay"].metric == "entropy")]
    lines, values = [], {}
    for r in REPLAYS:
        score = _structured_end(m, "open", r) - _structured_end(m, "control", r)
        entropy = _structured_end(ent, "open", r) - _structured_end(ent, "control", r)
        values[f"{r:g}"] = {
            "score_open": float(_structured_end(m, "open", r).mean()),
            "score_control": float(_structured_end(m, "control", r).mean()),
            "score_diff": (float(score.mean()), int((score > 0).sum()),
                           int((score < 0).sum()), len(score)),
            "entropy_open": float(_structured_end(ent, "open", r).mean()),
            "entropy_control": float(_structured_end(ent, "control", r).mean()),
            "entropy_diff_min": float(entropy.min())}
        v = values[f"{r:g}"]
        lines.append(
            f"replay {r:g}: the structured families end at {v['score_open']:.2f} with the "
            f"open-ended family last and {v['score_control']:.2f} with its control last "
            f"(open minus control {score.mean():+.2f}, higher in {(score > 0).sum()} of "
            f"{len(score)} seeds, lower in {(score < 0).sum()}); their answer entropy "
            f"{v['entropy_open']:.2f} against {v['entropy_control']:.2f} nats.")
    out.values["control"] = values
    out.texts["control"] = (
        "Orders that train gen last (rot3>reverse>gen, reverse>rot3>gen), the two "
        "structured families' final score and answer entropy, by replay share:\n"
        + "\n".join(lines))


@analysis
def _mechanism(f: dict, out: Findings) -> None:
    rows = mechanism_rows(f["replay"])
    table = rows.set_index(["gen", "last", "replay", "metric"]).value
    out.values["mechanism"] = {f"{g}|{last}|{r:g}|{k}": float(v)
                               for (g, last, r, k), v in table.items()}
    lines = []
    for (g, last), t in table.xs(0.0, level="replay").groupby(level=[0, 1]):
        t = t.droplevel([0, 1])
        lines.append(f"{g} gen, {last}: right {t['exact_match']:.2f}, another family's "
                     f"answer {t['wrong_other_family']:.2f}, a valid open-ended answer "
                     f"{t['wrong_gen_like']:.2f}, anything else {t['other']:.2f}.")
    out.texts["mechanism"] = ("What the structured family trained first answers at the "
                              "end without replay (mean over its orders and seeds):\n"
                              + "\n".join(lines))


@analysis
def _prediction(f: dict, out: Findings) -> None:
    pred = predictions(f["matrix"])
    mean = pred[pred.split == MEAN]
    rho = float(mean[["predicted", "observed"]].corr(method="spearman").iloc[0, 1])
    err = (mean.predicted - mean.observed).abs()
    ranked, total, within = 0, 0, {}
    for (gen, replay), m in mean.groupby(["gen", "replay"]):
        total += 1
        ranked += int(m.loc[m.predicted.idxmax(), "observed"] >= m.observed.max() - 0.02)
        if replay > 0:  # without replay every order is the last family's score
            within[f"{gen}|{replay:g}"] = float(m[["predicted", "observed"]].corr(
                method="spearman").iloc[0, 1])
    by_gen = (mean.predicted - mean.observed).abs().groupby(mean.gen).mean()
    per_family = pred[pred.split != MEAN]
    fam_err = (per_family.predicted - per_family.observed).abs()
    worst = per_family.loc[fam_err.idxmax()]
    out.values.update(prediction_rho=rho, prediction_mae=float(err.mean()),
                      prediction_max_error=float(err.max()),
                      prediction_best_found=(ranked, total),
                      prediction_family_mae=float(fam_err.mean()),
                      prediction_within=within, prediction_points=len(mean),
                      prediction_mae_by_gen=by_gen.to_dict())
    out.texts["prediction"] = (
        f"Over the {len(mean)} (gen, replay, order) points, the rank correlation of "
        f"the predicted with the observed mean of the families is {rho:.2f}, the mean "
        f"absolute error {err.mean():.2f} (largest {err.max():.2f}); the order predicted "
        f"best is within 0.02 of the best observed in {ranked} of {total} (gen, replay) "
        f"settings. Within one setting with replay, over its six orders, the rank "
        f"correlation is " + ", ".join(f"{k.replace('|', ' gen, replay ')}: {v:.2f}"
                                       for k, v in within.items()) + ". "
        f"The mean error is {by_gen['open']:.2f} with the open-ended family and "
        f"{by_gen['control']:.2f} with its control. "
        f"Per family the mean error is {fam_err.mean():.2f}; the largest, "
        f"{fam_err.max():.2f}, is {worst.split} in {worst.order} at replay "
        f"{worst.replay:g} ({worst.gen} gen): predicted {worst.predicted:.2f}, observed "
        f"{worst.observed:.2f}.")


@analysis
def _curves(f: dict, out: Findings) -> None:
    c = pd.concat([f["curves"], f["joint"]], ignore_index=True)
    c = c[(c.probe == "curve") & (c.metric == "entropy")]
    values, lines = {}, []
    order = GEN_LAST[0]
    for g in GENS:
        for r in sorted(f["curves"].replay.unique()):
            rows = c[(c.order == order) & (c.gen == g) & (c.replay == r)]
            before = rows[(rows.step == 2 * rows.step.max() // 3) & (rows.split != GEN)]
            after = rows[(rows.step == rows.step.max()) & (rows.split != GEN)]
            gen_end = rows[(rows.step == rows.step.max()) & (rows.split == GEN)]
            values[f"{g}|{r:g}"] = (float(before.value.mean()), float(after.value.mean()),
                                    float(gen_end.value.mean()))
            lines.append(f"{order}, {g} gen, replay {r:g}: the structured families' "
                         f"answer entropy {before.value.mean():.2f} nats before the gen "
                         f"phase, {after.value.mean():.2f} after it (gen's own "
                         f"{gen_end.value.mean():.2f}).")
    joint = c[(c.order == JOINT) & (c.step == c[c.order == JOINT].step.max())]
    j = joint.groupby(["gen", "split"]).value.mean()
    values["joint"] = {f"{g}|{s}": float(v) for (g, s), v in j.items()}
    lines.append("Joint training ends with answer entropy " + ", ".join(
        f"{s} {v:.2f}" for (g, s), v in j.items() if g == "open")
                 + " nats (open gen): each family keeps its own.")
    out.values["entropy_curves"] = values
    out.texts["curves"] = "\n".join(lines)


def _card(out: Findings) -> None:
    v = out.values
    gap0 = v["best_minus_joint"]["open|0"]
    gap_hi = v["best_minus_joint"][f"open|{REPLAYS[-1]:g}"]
    sf = v["structured_first"]
    ctl = v["control"]
    out.card = [
        ("A curriculum ordered by backward transfer beats joint training",
         "+6.2% over joint training in v3 (+5.2% in v1), multi-task RL on an LLM [P]",
         f"the best order minus joint, mean of the families: {gap0[0]:+.2f} without "
         f"replay, {gap_hi[0]:+.2f} at replay {REPLAYS[-1]:g} (above joint in "
         f"{gap_hi[1]} of {gap_hi[3]} seeds)",
         "yes: in the toy no order beats joint training on average; sequential training "
         "only loses what it forgets"),
        ("Structured first, open-ended last",
         "the v1 curriculum, 'from structured to open-ended' [P]",
         "structured first minus open-ended first: " + ", ".join(
             f"replay {r:g}: {sf[f'open|{r:g}'][0]:+.2f}" for r in REPLAYS),
         "the toy's own measurement; see the chapter for why the sign follows the "
         "last family's score"),
        ("Open-ended training raises output entropy, structured training lowers it",
         "secondary note on the paper [S]",
         f"with no replay the open-ended phase lifts the structured families' answer "
         f"entropy to {ctl['0']['entropy_open']:.2f} nats, its control leaves "
         f"{ctl['0']['entropy_control']:.2f}",
         "same direction; in the toy the rise is on every family's prompts because the "
         "model runs the last family's function on every tag"),
        ("Entropy explains where the simple prediction fails",
         "abstract: 'entropy dynamics explaining deviations due to generative tasks' [P]",
         f"mean absolute error of the additive prediction: "
         f"{v['prediction_mae_by_gen']['open']:.2f} with the open family, "
         f"{v['prediction_mae_by_gen']['control']:.2f} with its deterministic control",
         "yes: in the toy the prediction errs more without entropy"),
        ("A high-entropy family erases more than a deterministic one in its place",
         "not tested by the paper",
         "the structured families' final score, open family last minus its control "
         "last: " + ", ".join(
             f"replay {r:g}: {ctl[f'{r:g}']['score_diff'][0]:+.2f} (lower in "
             f"{ctl[f'{r:g}']['score_diff'][2]} of {ctl[f'{r:g}']['score_diff'][3]})"
             for r in REPLAYS),
         "the toy's own control: entropy is a cause here, not only a companion, between "
         "replay 0.1 and 0.3"),
        ("Simple assumptions on transfer predict curriculum outcomes",
         "abstract, no number in our notes [P]",
         f"additive pairwise BWT: rank correlation {v['prediction_rho']:.2f}, mean "
         f"absolute error {v['prediction_mae']:.2f} over {v['prediction_points']} (gen, "
         "replay, order) points; within one replay share, over its six orders, rank "
         f"correlation {min(v['prediction_within'].values()):.2f} to "
         f"{max(v['prediction_within'].values()):.2f}",
         "the toy's own measurement: most of the agreement comes from the replay share, "
         "which moves every order together"),
    ]


# ---------------------------------------------------------------------------------------
# Reading runs (the exercise checks are in toylab.exercises)


@analysis
def answers(result, family: str = "rot3", n: int = 8) -> pd.DataFrame:
    """The run's final greedy answers to the first ``n`` test prompts of ``family`` (one
    with a single answer), beside every such family's right answer to the same letters:
    which function did the model run?"""
    task = FamilyTask(result.config.task)
    if family not in one_answer(task):
        raise ValueError(f"family must be one of {one_answer(task)} (the open family has "
                         "no single answer to compare with)")
    rows = result.samples[result.samples.split == family].head(n)
    table = pd.DataFrame({"prompt": rows.prompt, "output": rows.output})
    for other in one_answer(task):
        table[f"{other} answer"] = [
            " ".join(task.solve([*p.split()[:-1], task.tags[other]])) for p in rows.prompt]
    return table.reset_index(drop=True)


@analysis
def kind_of(result, family: str, row: int) -> str:
    """What answer ``row`` of ``answers(result, family)`` is (``WRONG_KINDS``' labels)."""
    rows = result.samples[result.samples.split == family].reset_index(drop=True)
    if not 0 <= row < len(rows):
        raise ValueError(f"row must be 0 to {len(rows) - 1}")
    return str(rows.kind[row])


@analysis
def final_score(result, family: str = "rot3") -> float:
    """A run's final score of ``family`` (after its last phase)."""
    rows = final_rows(result.metrics)
    rows = rows[rows.split == family]
    if len(rows) != 1:
        raise ValueError(f"no final score of {family!r}; families: "
                         f"{sorted(set(final_rows(result.metrics).split) - {MEAN})}")
    return float(rows.value.iloc[0])


def runs_for(seeds, changes: dict[str, Any] | None = None, name: str = "live") -> list:
    """Runs of preset ``name`` with ``changes``, one per seed (cached), in the order of
    ``seeds`` (``Experiment.runs_for``)."""
    return EXPERIMENT.runs_for(seeds, changes, name)


@analysis
def mean_difference(changed: list, base: list, family: str = "rot3") -> float:
    """Mean over seeds of ``final_score(changed) - final_score(base)`` for ``family``
    (two lists of runs on the same seeds, in the same order)."""
    return mean_paired(changed, base, lambda r: final_score(r, family))


@analysis
def examples(seed: int = 2) -> pd.DataFrame:
    """One training example of each family (and of the control), and what counts as
    right."""
    rows = []
    for gen in GENS:
        task = FamilyTask(FamilyConfig(gen=gen))
        for family in task.families if gen == "open" else [GEN]:
            rng = np.random.default_rng(seed)  # the same letters in every family
            ex = task.sample(KeyCell((family,)), 1, rng, "train", salt=seed)
            prompt, target = (" ".join(task.vocab.decode(x)) for x in (
                ex.prompts()[0], ex.targets()[0]))
            right = {"rot3": "exactly this (each letter 3 places on, 8-letter alphabet)",
                     "reverse": "exactly this (the letters in reverse order)"}.get(
                family, "any 4 of the prompt's letters (scored by sampling)"
                if gen == "open" else "exactly this (the prompt moved one place left)")
            rows.append({"family": family if gen == "open" else f"{GEN} (control)",
                         "prompt": prompt, "answer": target, "what counts as right": right})
    return pd.DataFrame(rows)


@analysis
def shipped_final(family: str, order: str, replay: float, gen: str = "open") -> float:
    """The mean over the shipped seeds of ``family``'s final score after ``order`` with
    ``replay``."""
    rows = select(frames()["final"], "score", order=order, replay=replay, gen=gen,
                  split=family)
    if rows.empty:
        raise ValueError("no shipped runs there: order must be one of ORDERS, replay one "
                         "of REPLAYS, gen one of GENS")
    return float(rows.value.mean())
