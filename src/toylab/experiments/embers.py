"""Chapter 5, probability-cursed tasks: a task the data covers, whose answers are
improbable as text. Is it cursed, or only under-covered?

McCoy et al. (PNAS 2024, arXiv:2309.13638) found that large language models decode a shift
cipher better when the shift is common on the Internet (rot-13 against rot-12) and when the
decoded sentence is probable as text; encoding, whose output is ciphertext, shows little of
the second effect and serves as a control. Here the task family is
``toylab.tasks.ciphers``: a 12-word language whose every sentence has an exact probability,
and shift ciphers over its letters. One run trains a small transformer from scratch on a
mixture of plain text and cipher examples (decoding and encoding) whose shifts are skewed:
shift 3 common, shifts 1 and 2 rare, shift 4 never trained.

``rare_share`` sets the share of the cipher examples that use the rare shift
(``rare_shift``, 2 by default); the other trained shifts keep their ratio and fill the
rest, and the total number of examples stays fixed (so a bigger rare share means fewer of
the others). ``track_every`` records the exact match of every test cell during training
(rows carry ``step``), which is the chapter's training-length axis.

The probe decodes every test split (the probability bands ``high``, ``medium``, ``low`` and
``shuffled``; both directions of every test shift) greedily. Rows carry ``direction``,
``shift`` and ``shift_share`` (the shift's share of the cipher examples in training). For
each cell:

* ``exact_match``: the output is the right one, token for token;
* ``model_logp_target``: the model's own log-probability of the right output (teacher
  forced, summed over its tokens), over every test example of the cell;

and over the cell's *wrong* outputs only (``n`` is how many there were; no row if none):

* ``sentence``: share that are a sentence of the language (for encoding: once shifted
  back), i.e. the model wrote a well-formed answer, just not the right one;
* ``more_probable``: share that are a sentence more probable than the right one;
* ``model_logp_right`` and ``model_logp_output``: the model's log-probability of the right
  output and of the output it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import torch

from toylab.config import check_range
from toylab.evaluate import decode_examples
from toylab.experiment import (
    Experiment,
    ExperimentConfig,
    Phase,
    Rows,
    Trained,
    stream_seed,
)
from toylab.objectives import Objective, recording, sequence_logprob
from toylab.panels import PanelSpec
from toylab.results import (
    Findings,
    analysis,
    mean_paired,
    paired,
    seed_band,
    select,
)
from toylab.splits import make_split
from toylab.sweep import shipped
from toylab.tasks import EOS, Examples, make_task
from toylab.tasks.ciphers import (
    BANDS,
    CipherCell,
    CipherConfig,
    CipherSplitConfig,
    CipherTask,
    shift_tokens,
)
from toylab.train import TrainConfig
from toylab.views import menu

DIRECTIONS = ("decode", "encode")
WRONG_METRICS = ("sentence", "more_probable", "model_logp_right", "model_logp_output")
BAND_COLORS = {"high": "#1b7837", "medium": "#bf812d", "low": "#c51b7d",
               "shuffled": "#762a83"}


@dataclass(frozen=True)
class EmbersConfig(ExperimentConfig):
    """An ``ExperimentConfig`` for the cipher mixture (see the module docstring).

    Attributes:
        rare_shift: the shift whose share ``rare_share`` sets; one of the trained shifts
            of ``split.shift_shares``.
        rare_share: its share of the cipher examples, in [0, 1] (0: never trained); None
            keeps ``split.shift_shares`` as they are.
        track_every: steps between exact-match records of every test cell during
            training, 0 (none) to 100,000.
        n_track: test sentences per cell the records score (the first of each cell),
            1 to ``split.n_test`` (checked only when ``track_every`` records).
    """

    task: Any = field(default_factory=CipherConfig)
    split: Any = field(default_factory=lambda: CipherSplitConfig(test_shifts=(1, 2, 3, 4)))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=3000, batch_size=32, lr=3e-3, target_accuracy=None, eval_every=1000))
    rare_shift: int = 2
    rare_share: float | None = None
    track_every: int = 0
    n_track: int = 16

    def __post_init__(self):
        super().__post_init__()
        if self.rare_shift not in [k for k, _ in self.split.shift_shares]:
            raise ValueError(f"rare_shift {self.rare_shift} is not a trained shift of "
                             f"split.shift_shares {self.split.shift_shares}")
        if self.rare_share is not None:
            check_range("rare_share", self.rare_share, 0.0, 1.0)
        check_range("track_every", self.track_every, 0, 100_000, integer=True)
        if self.track_every:
            check_range("n_track", self.n_track, 1, self.split.n_test, integer=True)


def shift_shares(cfg: EmbersConfig) -> tuple[tuple[int, float], ...]:
    """The trained shifts and their weights once ``rare_share`` is applied."""
    shares = cfg.split.shift_shares
    if cfg.rare_share is None:
        return shares
    others = [(k, w) for k, w in shares if k != cfg.rare_shift]
    total = sum(w for _, w in others)
    out = [(k, w / total * (1 - cfg.rare_share)) for k, w in others
           if cfg.rare_share < 1.0]
    if cfg.rare_share > 0:
        out.append((cfg.rare_shift, cfg.rare_share))
    return tuple(out)


#: name -> overrides of ``EmbersConfig()``.
PRESETS: dict[str, dict[str, Any]] = {
    # the chapter's setting: 20,000 examples (30% plain text), 6,000 steps of batch 32
    # (each example seen about 10 times), the exact match of 16 test sentences of every
    # cell recorded every 500 steps
    "shares": {"train.max_steps": 6000, "track_every": 500},
    # training three times as long on three times the data (each example still seen
    # about 10 times)
    "long": {"train.max_steps": 18000, "split.n_train": 60000, "track_every": 1500},
    # the live panels: three-word sentences (1,728 of them, so each band is a fifth of
    # them and two fifths are kept out of training, or too few shuffled ones are left),
    # 700 steps on two threads, 32 test sentences per cell, shifts 1-3 (a panel retrains
    # in about 5 s)
    "live": {"task.length": 3, "split.band_share": 0.2, "split.test_share": 0.4,
             "train.max_steps": 700, "train.threads": 2, "split.n_test": 32,
             "split.test_shifts": [1, 2, 3]},
}


def score(model, task: CipherTask, tests: dict[str, Examples], full: bool = True
          ) -> tuple[list[dict], list[dict]]:
    """Metric rows of every (band, direction, shift) of ``tests`` (module docstring); only
    exact match unless ``full``. Also the wrong outputs as sample rows."""
    eos = task.vocab.index[EOS]
    lang = task.language
    rows, samples = [], []
    for band, ex in tests.items():
        outputs = decode_examples(model, ex, task.max_len, eos)
        prompts, targets = ex.prompts(), ex.targets()
        right = np.array([list(o) == list(t) for o, t in zip(outputs, targets)])
        cells = np.array([(c.direction, c.shift) for c in ex.cells], dtype=object)
        if full:
            model_target = _model_logp(model, prompts, targets)
            wrong = np.flatnonzero(~right)
            model_output = np.full(len(ex), np.nan)
            model_output[wrong] = _model_logp(model, [prompts[i] for i in wrong],
                                              [outputs[i] for i in wrong])
            exact_target, exact_output = np.full(len(ex), np.nan), np.full(len(ex), np.nan)
            for i in wrong:
                c = ex.cells[i]
                back = -c.shift if c.direction == "encode" else 0
                plain = [shift_tokens([x for x in task.vocab.decode(s) if x != EOS], back,
                                      lang.letters) for s in (targets[i], outputs[i])]
                exact_target[i], exact_output[i] = (lang.logprob(p) for p in plain)
        for direction, shift in dict.fromkeys(map(tuple, cells)):
            mine = np.flatnonzero((cells[:, 0] == direction) & (cells[:, 1] == shift))
            base = {"split": band, "part": "full", "direction": direction,
                    "shift": int(shift)}
            rows.append({**base, "metric": "exact_match",
                         "value": float(right[mine].mean()), "n": len(mine)})
            if not full:
                continue
            rows.append({**base, "metric": "model_logp_target",
                         "value": float(model_target[mine].mean()), "n": len(mine)})
            bad = mine[~right[mine]]
            if not len(bad):
                continue
            is_sentence = np.isfinite(exact_output[bad])
            more = is_sentence & (exact_output[bad] > exact_target[bad])
            for name, value in (("sentence", is_sentence.mean()),
                                ("more_probable", more.mean()),
                                ("model_logp_right", model_target[bad].mean()),
                                ("model_logp_output", model_output[bad].mean())):
                rows.append({**base, "metric": name, "value": float(value),
                             "n": len(bad)})
        if full:
            for i in np.flatnonzero(~right):
                c = ex.cells[i]
                samples.append({
                    "split": band, "cell": str(c), "direction": c.direction,
                    "shift": c.shift,
                    "prompt": " ".join(task.vocab.decode(prompts[i])),
                    "target": " ".join(task.vocab.decode(targets[i])[:-1]),
                    "output": " ".join(x for x in task.vocab.decode(outputs[i])
                                       if x != EOS),
                    "correct": False,
                    "target_logp": float(exact_target[i]),
                    "output_logp": (float(exact_output[i]) if np.isfinite(exact_output[i])
                                    else None)})
    return rows, samples


def _model_logp(model, prompts, outputs) -> np.ndarray:
    """The model's summed log-probability of each output after its prompt."""
    if not len(prompts):
        return np.zeros(0)
    ex = Examples.pad([(list(p), list(o)) for p, o in zip(prompts, outputs)],
                      [None] * len(prompts))
    data = ex.to_tensors()
    was = model.training
    model.eval()
    with torch.no_grad():
        out = sequence_logprob(model, data["tokens"], data["mask"]).numpy()
    model.train(was)
    return out.astype(float)


def _first_of_each_cell(ex: Examples, n: int) -> np.ndarray:
    seen: dict = {}
    keep = []
    for i, cell in enumerate(ex.cells):
        seen[cell] = seen.get(cell, 0) + 1
        if seen[cell] <= n:
            keep.append(i)
    return np.array(keep)


class Tracker:
    """Wraps the training objective: every ``every`` steps it records the exact match of
    every test cell (``score(..., full=False)``), rows carrying ``step``."""

    def __init__(self, objective: Objective, task: CipherTask, tests: dict, every: int,
                 n: int):
        self.objective, self.task, self.every = objective, task, every
        self.tests = {band: ex.subset(_first_of_each_cell(ex, n))
                      for band, ex in tests.items()}
        self.rows: list[dict] = []

    def record(self, model, step: int) -> None:
        rows, _ = score(model, self.task, self.tests, full=False)
        self.rows += [{**r, "step": step} for r in rows]

    def __call__(self, model):
        return recording(self.objective, self.every, self.record)(model)


class Embers(Experiment):
    kind = "toylab.experiments.embers/2"
    config_class = EmbersConfig
    presets = PRESETS
    columns = {"rare_shift": "rare_shift", "rare_share": "rare_share",
               "cipher_draw": "split.cipher_draw", "max_steps": "train.max_steps"}
    chapter = "chapters/05_embers.ipynb"

    def tables(self) -> dict[str, pd.DataFrame]:
        return frames()

    def data(self, cfg: EmbersConfig):
        task = make_task(cfg.task)
        split_cfg = replace(cfg.split, shift_shares=shift_shares(cfg))
        return task, make_split(task, split_cfg, stream_seed(cfg.seed, "split"))

    def phases(self, cfg: EmbersConfig, task: CipherTask, split) -> list[Phase]:
        phases = super().phases(cfg, task, split)
        if cfg.track_every:
            tracker = Tracker(phases[0].objective, task, split.tests, cfg.track_every,
                              cfg.n_track)
            split.record["tracker"] = tracker
            phases[0].objective = tracker
        return phases

    def probe(self, cfg: EmbersConfig, trained: Trained) -> Rows:
        rows, samples = score(trained.model, trained.task, trained.split.tests)
        record = trained.split.record
        cipher = max(1, sum(v for k, v in record.items() if k.startswith("shift_")))
        share = {k: record.get(f"shift_{k}", 0) / cipher for k in range(1, 16)}
        tracker = record.pop("tracker", None)
        if tracker is not None:  # the last record: the model as training left it
            tracker.record(trained.model, trained.fitted.steps)
            rows += tracker.rows
        for row in rows:
            row["shift_share"] = round(share[row["shift"]], 4)
        # the first wrong outputs of each band (4 x eval.n_samples), bands interleaved
        keep = pd.DataFrame(samples, columns=["split"])
        keep = keep.assign(k=keep.groupby("split").cumcount())
        keep = keep[keep.k < 4 * cfg.eval.n_samples].sort_values("k", kind="stable")
        return rows, [samples[i] for i in keep.index]

    def derived(self, cfg: EmbersConfig, trained: Trained) -> dict[str, Any]:
        return {"rare_examples": int(trained.split.record.get(f"shift_{cfg.rare_shift}",
                                                              0))}


EXPERIMENT = Embers()
run = EXPERIMENT.run
preset = EXPERIMENT.preset
panel = EXPERIMENT.panel


# ---------------------------------------------------------------------------------------
# Views of the chapter (Altair; they compute nothing but means and bands)


def _final(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.step.isna()] if "step" in frame else frame


def _band_scale(bands) -> alt.Scale:
    order = [b for b in BANDS if b in set(bands)]
    return alt.Scale(domain=order, range=[BAND_COLORS[b] for b in order])


def _band_lines(chart: alt.Chart, x: alt.X, color: alt.Color, tooltip: list
                ) -> alt.LayerChart:
    """The mean over seeds of exact match as a line per band, over a shaded band from
    the lowest to the highest seed (``chart`` holds ``seed_band`` rows)."""
    stats = [alt.Tooltip(f"{c}:Q", format=".2f") for c in ("mean", "low", "high")]
    return (chart.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q", color=color)
            + chart.mark_line(point=True).encode(
                x=x, color=color,
                y=alt.Y("mean:Q", title="exact match", scale=alt.Scale(domain=[0, 1])),
                tooltip=[*tooltip, *stats]))


@analysis
def shares_view(frame: pd.DataFrame, *, shift: int = 2, live: pd.DataFrame | None = None,
                title: str | None = None) -> alt.TopLevelMixin:
    """Exact match of decoding (left) and encoding (right) shift ``shift`` against the
    rare shift's share of the cipher examples, one line per probability band: mean over
    seeds, with the band from the lowest to the highest seed; ``live`` as black
    diamonds."""
    rows = select(_final(frame), "exact_match", shift=shift)
    if rows.empty:
        raise ValueError(f"no rows of shift {shift} in this frame")
    band = seed_band(rows, ["rare_share", "direction", "split"])
    xs = sorted(band.rare_share.unique())
    x = alt.X("rare_share:Q", title=f"shift {shift}'s share of the cipher examples",
              scale=alt.Scale(type="symlog", constant=0.02),
              axis=alt.Axis(values=xs, format="g"))
    color = alt.Color("split:N", scale=_band_scale(band.split),
                      legend=alt.Legend(title="right answer's probability",
                                        orient="bottom"))
    charts = []
    for direction in DIRECTIONS:
        layer = _band_lines(alt.Chart(band[band.direction == direction]), x, color,
                            ["split", "rare_share", "seeds"])
        if live is not None:
            mine = select(_final(live), "exact_match", shift=shift, direction=direction)
            layer += alt.Chart(mine).mark_point(
                shape="diamond", size=90, filled=True, color="black").encode(
                x=x, y="value:Q", tooltip=["split", alt.Tooltip("value:Q", format=".2f")])
        charts.append(layer.properties(width=260, height=200,
                                       title=f"{direction} shift {shift}"))
    return alt.hconcat(*charts).properties(title=title or "")


@analysis
def frequency_view(frame: pd.DataFrame, *, title: str | None = None
                   ) -> alt.TopLevelMixin:
    """Exact match of every test shift against its share of the cipher examples in its
    run (mean over seeds per grid point and shift, whiskers lowest to highest seed), one
    colour per band; a menu picks decoding or encoding."""
    rows = select(_final(frame), "exact_match")
    band = seed_band(rows, ["rare_share", "shift", "direction", "split"])
    share = rows.groupby(["rare_share", "shift"]).shift_share.mean()
    band["shift_share"] = [share[r, s] for r, s in zip(band.rare_share, band["shift"])]
    band["shift"] = band["shift"].astype(str)
    param = menu("direction", DIRECTIONS)
    x = alt.X("shift_share:Q", title="the shift's share of the cipher examples",
              scale=alt.Scale(domain=[0, 0.8]))
    base = alt.Chart(band).transform_filter(alt.datum.direction == param)
    color = alt.Color("split:N", scale=_band_scale(band.split),
                      legend=alt.Legend(title="right answer's probability"))
    chart = (base.mark_rule(opacity=0.5).encode(x=x, y="low:Q", y2="high:Q", color=color)
             + base.mark_point(filled=True, size=60).encode(
                 x=x, color=color, shape=alt.Shape("shift:N", legend=alt.Legend(
                     title="shift")),
                 y=alt.Y("mean:Q", title="exact match", scale=alt.Scale(domain=[0, 1])),
                 tooltip=["direction", "shift", "rare_share",
                          alt.Tooltip("shift_share:Q", format=".3f"), "split",
                          alt.Tooltip("mean:Q", format=".2f"),
                          alt.Tooltip("low:Q", format=".2f"),
                          alt.Tooltip("high:Q", format=".2f")]))
    return chart.add_params(param).properties(width=420, height=230, title=title or "")


@analysis
def bands_view(frame: pd.DataFrame, *, live: pd.DataFrame | None = None,
               shifts=(1, 2, 3), title: str | None = None) -> alt.TopLevelMixin:
    """Exact match by band, decoding against encoding (mean over seeds, whiskers lowest
    to highest seed), one chart per value of ``cipher_draw`` in ``frame``; a menu picks
    the shift; ``live`` as black diamonds."""
    rows = select(_final(frame), "exact_match", shift=list(shifts))
    band = seed_band(rows, ["cipher_draw", "shift", "direction", "split"])
    param = menu("shift", shifts)
    order = [b for b in BANDS if b in set(band.split)]
    x = alt.X("split:N", sort=order, title="right answer's probability",
              axis=alt.Axis(labelAngle=0))
    off = alt.XOffset("direction:N", sort=list(DIRECTIONS))
    color = alt.Color("direction:N", scale=alt.Scale(domain=list(DIRECTIONS),
                                                     range=["#2166ac", "#b2abd2"]),
                      legend=alt.Legend(title=None, orient="bottom"))
    charts = []
    draws = [d for d in ("chain", "uniform") if d in set(band.cipher_draw)]
    for draw in draws:
        b = alt.Chart(band[band.cipher_draw == draw]).transform_filter(
            alt.datum.shift == param)
        layer = (b.mark_bar().encode(
            x=x, xOffset=off, color=color,
            y=alt.Y("mean:Q", title="exact match", scale=alt.Scale(domain=[0, 1])),
            tooltip=["direction", "shift", "split", alt.Tooltip("mean:Q", format=".2f"),
                     alt.Tooltip("low:Q", format=".2f"),
                     alt.Tooltip("high:Q", format=".2f"), "seeds"])
            + b.mark_rule(color="black").encode(x=x, xOffset=off, y="low:Q", y2="high:Q"))
        if live is not None:
            mine = select(_final(live), "exact_match", shift=list(shifts),
                          cipher_draw=draw)
            layer += alt.Chart(mine).mark_point(
                shape="diamond", size=70, filled=True, color="black").encode(
                x=x, xOffset=off, y="value:Q",
                tooltip=["direction", "split", alt.Tooltip("value:Q", format=".2f")]
            ).transform_filter(alt.datum.shift == param)
        name = {"chain": "cipher sentences drawn from the chain",
                "uniform": "cipher sentences drawn uniformly"}[draw]
        charts.append(layer.properties(width=250, height=200, title=name))
    return alt.hconcat(*charts).add_params(param).properties(title=title or "")


@analysis
def mechanism_view(frame: pd.DataFrame, *, title: str | None = None
                   ) -> alt.TopLevelMixin:
    """Left: what the wrong outputs of the trained shifts are, by band (a more probable
    sentence than the right one, a less probable sentence, or no sentence at all), mean
    over shifts and seeds. Right: the model's own log-probability of the right output and
    of the output it wrote, on those wrong examples. A menu picks the direction."""
    rows = _final(frame)
    rows = rows[rows.shift_share > 0]
    wrong = rows[rows.metric.isin(["sentence", "more_probable"])]
    mean = wrong.groupby(["direction", "split", "metric"]).value.mean().unstack("metric")
    kinds = pd.DataFrame({
        "a more probable sentence": mean.more_probable,
        "a less probable sentence": mean.sentence - mean.more_probable,
        "not a sentence": 1 - mean.sentence}).stack().rename("value").reset_index()
    kinds.columns = ["direction", "split", "wrong output is", "value"]
    order = [b for b in BANDS if b in set(kinds.split)]
    outs = list(dict.fromkeys(kinds["wrong output is"]))
    param = menu("direction", DIRECTIONS)
    left = alt.Chart(kinds).transform_filter(alt.datum.direction == param).mark_bar(
    ).encode(
        x=alt.X("split:N", sort=order, title="right answer's probability",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", stack="zero", title="share of the wrong outputs",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("wrong output is:N", sort=outs, scale=alt.Scale(
            domain=outs, range=["#c51b7d", "#f1b6da", "#bababa"]),
            legend=alt.Legend(orient="bottom", columns=1)),
        order=alt.Order("order:Q"),
        tooltip=["split", "wrong output is", alt.Tooltip("value:Q", format=".2f")]
    ).transform_calculate(order=f"indexof({outs}, datum['wrong output is'])").properties(
        width=220, height=200, title="what the wrong outputs are")
    logp = rows[rows.metric.isin(["model_logp_right", "model_logp_output"])]
    lp = logp.groupby(["direction", "split", "metric"]).value.mean().reset_index()
    lp["output"] = lp.metric.map({"model_logp_right": "the right output",
                                  "model_logp_output": "the output it wrote"})
    right = alt.Chart(lp).transform_filter(alt.datum.direction == param).mark_bar(
    ).encode(
        x=alt.X("split:N", sort=order, title="right answer's probability",
                axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("output:N", sort=["the right output", "the output it wrote"]),
        y=alt.Y("value:Q", title="model's log-probability (nats)"),
        color=alt.Color("output:N", scale=alt.Scale(
            domain=["the right output", "the output it wrote"],
            range=["#1b7837", "#c51b7d"]), legend=alt.Legend(orient="bottom")),
        tooltip=["split", "output", alt.Tooltip("value:Q", format=".2f")]).properties(
        width=220, height=200, title="on the wrong examples")
    return alt.hconcat(left, right).add_params(param).resolve_scale(
        color="independent").properties(title=title or "")


@analysis
def training_view(frame: pd.DataFrame, *, shift: int = 2, title: str | None = None
                  ) -> alt.TopLevelMixin:
    """Exact match of decoding shift ``shift`` during training, one line per band (mean
    over seeds, band lowest to highest seed; left), and the gap between high- and
    low-probability answers (right); a menu picks the rare shift's share."""
    rows = frame[frame.step.notna() & (frame.metric == "exact_match")
                 & (frame.direction == "decode") & (frame["shift"] == shift)]
    band = seed_band(rows, ["rare_share", "step", "split"])
    wide = rows.pivot_table(index=["rare_share", "seed", "step"], columns="split",
                            values="value").reset_index()
    wide["value"] = wide["high"] - wide["low"]
    gap = seed_band(wide, ["rare_share", "step"])
    shares = sorted(band.rare_share.unique())
    param = menu("rare_share", shares, DEFAULT_SHARE, "shift's share")
    steps = sorted(band.step.unique())
    x = alt.X("step:Q", title="training steps",
              axis=alt.Axis(values=steps[1::2] if len(steps) > 8 else steps, format="d"))
    color = alt.Color("split:N", scale=_band_scale(band.split),
                      legend=alt.Legend(title="right answer's probability",
                                        orient="bottom"))
    left = _band_lines(alt.Chart(band).transform_filter(alt.datum.rare_share == param),
                       x, color, ["split", "step"])
    g = alt.Chart(gap).transform_filter(alt.datum.rare_share == param)
    right = (g.mark_area(opacity=0.15, color="#4d4d4d").encode(x=x, y="low:Q", y2="high:Q")
             + g.mark_line(point=True, color="#4d4d4d").encode(
                 x=x, y=alt.Y("mean:Q", title="high minus low (exact match)",
                              scale=alt.Scale(domain=[-0.2, 1])),
                 tooltip=["step", alt.Tooltip("mean:Q", format=".2f"),
                          alt.Tooltip("low:Q", format=".2f"),
                          alt.Tooltip("high:Q", format=".2f")])
             + alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[3, 3]).encode(
                 y="y:Q"))
    return alt.hconcat(left.properties(width=300, height=200,
                                       title=f"decode shift {shift}, by band"),
                       right.properties(width=220, height=200, title="the gap")
                       ).add_params(param).properties(title=title or "")


# ---------------------------------------------------------------------------------------
# Panels, tables and what the chapter states

SEEDS = [0, 1, 2, 3, 4]
SHARES = [0.0, 0.03, 0.1, 0.3, 0.6]
#: The chapter's live panels.
PANELS = {
    "shares": PanelSpec("live", {"rare_share": SHARES, "seed": SEEDS}, "live",
                        view=shares_view, along="rare_share",
                        description="exact match of decoding and of encoding the rare "
                                    "shift by the right answer's probability, against "
                                    "the rare shift's share of the cipher examples"),
    "control": PanelSpec("live", {"split.cipher_draw": ["uniform", "chain"],
                                  "seed": SEEDS}, "live_control", view=bands_view,
                         changes={"rare_share": 0.1},
                         description="exact match by the right answer's probability, "
                                     "decoding against encoding"),
}
Embers.panels = PANELS

#: The shipped sweeps of this chapter, by table name.
SWEEPS = {"shares": "embers_shares", "control": "embers_control", "long": "embers_long",
          "live": "embers_live"}
#: The headline's default share of the rare shift (the split's own 0.7/0.2/0.1).
DEFAULT_SHARE = 0.1


@analysis
def frames(sweeps: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """The chapter's tables: each shipped sweep by name, final scores only (``sweeps``
    replaces frames by name, e.g. recomputed ones), its records during training as
    ``<name>_steps``; ``live`` (cipher sentences from the chain) and ``live_control`` (both
    draws at the default share) for the panels."""
    raw = {name: shipped(sweep) for name, sweep in SWEEPS.items()
           if name not in (sweeps or {})}
    raw.update(sweeps or {})
    out = {}
    for name, f in raw.items():
        out[name] = _final(f).reset_index(drop=True)
        if "step" in f and f.step.notna().any():
            out[f"{name}_steps"] = f[f.step.notna()].reset_index(drop=True)
    live = out["live"]
    out["live_control"] = live[live.rare_share == DEFAULT_SHARE].reset_index(drop=True)
    out["live"] = live[live.cipher_draw == "chain"].reset_index(drop=True)
    return out


def _pooled(frame: pd.DataFrame, metric: str = "exact_match", **where) -> pd.DataFrame:
    """One value per seed and band (and direction, and grid point): ``metric`` averaged
    over the trained test shifts (those with a share of the cipher examples)."""
    rows = select(frame[frame.shift_share > 0], metric, **where)
    keys = [c for c in ("rare_share", "cipher_draw", "direction", "split", "seed")
            if c in rows and rows[c].notna().any()]
    return rows.groupby(keys, as_index=False).value.mean()


def _gap(frame: pd.DataFrame, a: str = "high", b: str = "low") -> pd.DataFrame:
    """Per seed (and grid point, and step if any): exact match on band ``a`` minus band
    ``b``, as ``value``."""
    keys = [c for c in ("rare_share", "cipher_draw", "direction", "shift", "step", "seed")
            if c in frame and frame[c].notna().any()]
    wide = frame.pivot_table(index=keys, columns="split", values="value").reset_index()
    wide["value"] = wide[a] - wide[b]
    return wide[keys + ["value"]]


def _band_line(values: pd.Series, low: pd.Series, high: pd.Series) -> str:
    return ", ".join(f"{b} {values[b]:.2f} ({low[b]:.2f}-{high[b]:.2f})" for b in BANDS
                     if b in values)


@analysis
def findings(sweeps: dict[str, pd.DataFrame] | None = None) -> Findings:
    """Every number chapter 5 states and its claim card, from the shipped sweeps (or the
    frames given by name)."""
    f = frames(sweeps)
    out = Findings()
    _frequency(f, out)
    _bands(f, out)
    _coverage(f, out)
    _training(f, out)
    _control(f, out)
    _mechanism(f, out)
    _live(f, out)
    _card(out)
    return out


@analysis
def _frequency(f: dict, out: Findings) -> None:
    shares = f["shares"]
    em = select(shares, "exact_match")
    untrained = em[em.shift_share == 0]
    rare = em[em["shift"] == 2]
    by = rare.groupby(["direction", "rare_share", "split"]).value
    mean, low, high = by.mean(), by.min(), by.max()
    out.values.update(
        untrained_max=float(untrained.value.max()), untrained_runs=len(untrained),
        rare_mean={f"{d}|{s:g}|{b}": float(v) for (d, s, b), v in mean.items()},
        rare_min={f"{d}|{s:g}|{b}": float(v) for (d, s, b), v in low.items()})
    # every trained shift of every run: exact match (high band, decoding) by its share
    trained = em[(em.shift_share > 0) & (em.direction == "decode") & (em.split == "high")]
    corr = float(trained.groupby(["rare_share", "shift"]).agg(
        share=("shift_share", "mean"), value=("value", "mean")).corr(
        method="spearman").loc["share", "value"])
    out.values["frequency_rank_correlation"] = corr
    lines = [f"A shift never trained is never decoded or encoded: exact match "
             f"{untrained.value.max():.2f} in every one of its {len(untrained)} rows "
             "(shift 4 in every run, shift 2 at share 0; every band, both directions, "
             f"{shares.seed.nunique()} seeds)."]
    for d in DIRECTIONS:
        lines.append(f"{d.capitalize()} shift 2, high-probability answers, by its share "
                     "of the cipher examples (mean, lowest-highest seed): " + "; ".join(
                         f"{s:g}: {mean[d, s, 'high']:.2f} ({low[d, s, 'high']:.2f}-"
                         f"{high[d, s, 'high']:.2f})" for s in SHARES) + ".")
    lines.append("Over every trained shift of every run (decoding, high band), the rank "
                 f"correlation of exact match with the shift's share is {corr:.2f}.")
    out.texts["frequency"] = "\n".join(lines)


@analysis
def _bands(f: dict, out: Findings) -> None:
    main = f["control"][f["control"].cipher_draw == "chain"]
    n = main.seed.nunique()
    out.values["bands_seeds"] = n
    lines = []
    for d in DIRECTIONS:
        pooled = _pooled(main, direction=d).groupby("split").value
        out.values[f"bands_{d}"] = pooled.mean().to_dict()
        out.values[f"bands_{d}_min"] = pooled.min().to_dict()
        lines.append(f"{d.capitalize()}, mean over the trained shifts 1-3 (mean over {n} "
                     "seeds, lowest-highest): " + _band_line(pooled.mean(), pooled.min(),
                                                             pooled.max()) + ".")
    for d in DIRECTIONS:
        per_shift = select(main, "exact_match", direction=d)
        per_shift = per_shift[per_shift.shift_share > 0]
        gap = _gap(per_shift)
        g = gap.groupby("shift").value
        out.values[f"gap_{d}_by_shift"] = g.mean().to_dict()
        out.values[f"gap_{d}_by_shift_min"] = g.min().to_dict()
        lines.append(f"{d.capitalize()}, high minus low by shift (mean, lowest seed): "
                     + "; ".join(f"shift {k}: {g.mean()[k]:+.2f} ({g.min()[k]:+.2f})"
                                 for k in sorted(g.mean().index)) + ".")
    for d in DIRECTIONS:
        p = _pooled(main, direction=d)
        order = paired(p, "split", "medium", "shuffled")
        out.values[f"order_{d}"] = (order.mean, order.positive, order.negative,
                                    order.seeds)
        lines.append(f"Same words, another order ({d}, shifts 1-3): medium minus shuffled "
                     f"{order}.")
    out.texts["bands"] = "\n".join(lines)


@analysis
def _coverage(f: dict, out: Findings) -> None:
    lines = []
    for name, label in (("shares", "6,000 steps, 20,000 examples"),
                        ("long", "18,000 steps, 60,000 examples")):
        frame = f[name]
        rare = select(frame, "exact_match", direction="decode", shift=2)
        rare = rare[rare.rare_share > 0]
        gap = _gap(rare).groupby("rare_share").value
        shuffled = _gap(rare, "medium", "shuffled").groupby("rare_share").value
        out.values[f"coverage_gap_{name}"] = gap.mean().to_dict()
        out.values[f"coverage_gap_{name}_min"] = gap.min().to_dict()
        out.values[f"coverage_order_{name}"] = shuffled.mean().to_dict()
        by = rare.groupby(["rare_share", "split"]).value.mean()
        out.values[f"coverage_bands_{name}"] = {f"{s:g}|{b}": float(v)
                                                for (s, b), v in by.items()}
        lines.append(f"Decoding shift 2 ({label}), high minus low by its share (mean, "
                     "lowest-highest seed): " + "; ".join(
                         f"{s:g}: {gap.mean()[s]:+.2f} ({gap.min()[s]:+.2f} to "
                         f"{gap.max()[s]:+.2f})" for s in sorted(gap.mean().index)) + ".")
        lines.append("Exact match by band at each share: " + "; ".join(
            f"{s:g}: " + "/".join(f"{by[s, b]:.2f}" for b in BANDS)
            for s in sorted(gap.mean().index)) + " (high/medium/low/shuffled).")
    out.texts["coverage"] = "\n".join(lines)


@analysis
def _training(f: dict, out: Findings) -> None:
    lines = []
    for name in ("shares_steps", "long_steps"):
        rows = select(f[name], "exact_match", direction="decode", shift=2)
        rows = rows[rows.rare_share > 0]
        gap = _gap(rows).groupby(["rare_share", "step"]).value.mean()
        high = rows[rows.split == "high"].groupby(["rare_share", "step"]).value.mean()
        summary = {}
        for share in sorted(rows.rare_share.unique()):
            g = gap[share]
            # the gap once the high band is learned (at least half right), and at the end
            learned = high[share][high[share] >= 0.5].index
            start = learned[0] if len(learned) else None
            summary[share] = {"first_learned": start, "gap_then": (
                float(g[start]) if start is not None else None),
                "gap_max": float(g.max()), "gap_end": float(g.iloc[-1]),
                "last_step": float(g.index[-1])}
        out.values[f"training_{name}"] = summary
        lines.append(f"{'Headline' if name == 'shares_steps' else 'Longer'} runs, decoding "
                     "shift 2, high minus low (16 test sentences a cell, mean over 5 "
                     "seeds): " + "; ".join(
                         f"share {s:g}: {v['gap_then']:+.2f} when the high band first "
                         f"reaches 0.5 (step {v['first_learned']:,.0f}), largest "
                         f"{v['gap_max']:+.2f}, {v['gap_end']:+.2f} at step "
                         f"{v['last_step']:,.0f}" if v["first_learned"] is not None else
                         f"share {s:g}: the high band never reaches 0.5"
                         for s, v in summary.items()) + ".")
    out.texts["training"] = "\n".join(lines)


@analysis
def _control(f: dict, out: Findings) -> None:
    control = f["control"]
    n = control.seed.nunique()
    lines = []
    for d in DIRECTIONS:
        pooled = _pooled(control, direction=d)
        by = pooled.groupby(["cipher_draw", "split"]).value
        mean, low, high = by.mean(), by.min(), by.max()
        out.values[f"control_{d}"] = {f"{c}|{b}": float(v) for (c, b), v in mean.items()}
        for draw in ("chain", "uniform"):
            lines.append(f"{d.capitalize()}, cipher sentences "
                         f"{'from the chain' if draw == 'chain' else 'drawn uniformly'} "
                         f"(shifts 1-3, mean over {n} seeds, lowest-highest): "
                         + _band_line(mean[draw], low[draw], high[draw]) + ".")
        gap = _gap(pooled)
        d_gap = paired(gap, "cipher_draw", "uniform", "chain")
        g = gap.groupby("cipher_draw").value
        out.values[f"control_gap_{d}"] = g.mean().to_dict()
        out.values[f"control_gap_{d}_min"] = g.min().to_dict()
        out.values[f"control_gap_{d}_diff"] = (d_gap.mean, d_gap.positive,
                                               d_gap.negative, d_gap.seeds)
        out.values[f"control_gap_{d}_max"] = g.max().to_dict()
        lines.append(f"{d.capitalize()}, high minus low: chain {g.mean()['chain']:+.2f} "
                     f"(seeds {g.min()['chain']:+.2f} to {g.max()['chain']:+.2f}), uniform "
                     f"{g.mean()['uniform']:+.2f} (seeds {g.min()['uniform']:+.2f} to "
                     f"{g.max()['uniform']:+.2f}); uniform minus chain, seed by seed, "
                     f"{d_gap}.")
    out.texts["control"] = "\n".join(lines)


@analysis
def _mechanism(f: dict, out: Findings) -> None:
    main = f["shares"]
    lines = []
    for d in DIRECTIONS:
        values = {}
        for metric in WRONG_METRICS + ("model_logp_target",):
            by = _pooled(main, metric, direction=d).groupby("split").value
            values[metric], values[f"{metric}_min"] = by.mean(), by.min()
            values[f"{metric}_max"] = by.max()
        out.values[f"mechanism_{d}"] = {k: v.to_dict() for k, v in values.items()}
        lines.append(f"{d.capitalize()}, wrong outputs (every share, trained shifts, mean "
                     "over runs): a sentence of the language "
                     + ", ".join(f"{b} {values['sentence'][b]:.2f}" for b in BANDS)
                     + "; a sentence more probable than the right one "
                     + ", ".join(f"{b} {values['more_probable'][b]:.2f}" for b in BANDS)
                     + ".")
        lines.append("The model's own log-probability on those wrong examples, of the "
                     "right output / of the output it wrote: " + ", ".join(
                         f"{b} {values['model_logp_right'][b]:.1f} / "
                         f"{values['model_logp_output'][b]:.1f}" for b in BANDS)
                     + " nats; of the right output over every test example: " + ", ".join(
                         f"{b} {values['model_logp_target'][b]:.1f}" for b in BANDS)
                     + " nats.")
    out.texts["mechanism"] = "\n".join(lines)


@analysis
def _live(f: dict, out: Findings) -> None:
    live = f["live"]
    pooled = _pooled(live[live.rare_share == DEFAULT_SHARE], direction="decode")
    by = pooled.groupby("split").value
    gap = _gap(pooled)
    out.values["live_decode"] = by.mean().to_dict()
    out.values["live_gap"] = (float(gap.value.mean()), int((gap.value > 0).sum()),
                              len(gap))
    flat = f["live_control"]
    flat = _gap(_pooled(flat[flat.cipher_draw == "uniform"], direction="decode"))
    out.values["live_uniform_gap"] = float(flat.value.mean())
    rare = select(live, "exact_match", direction="decode", shift=2, split="high")
    share = rare.groupby("rare_share").value.mean()
    out.values["live_rare_high"] = share.to_dict()
    out.texts["live"] = (
        "The live panels' setting (three-word sentences, 700 steps), decoding shifts 1-3 "
        "at the default share (mean over 5 seeds, lowest-highest): "
        + _band_line(by.mean(), by.min(), by.max()) + f"; high minus low "
        f"{gap.value.mean():+.2f}, positive in {int((gap.value > 0).sum())} of {len(gap)} "
        f"seeds; with cipher sentences drawn uniformly {flat.value.mean():+.2f}. "
        "Decoding shift 2, high band, by its share: " + ", ".join(
            f"{s:g}: {v:.2f}" for s, v in share.items()) + ".")


@analysis
def _card(out: Findings) -> None:
    v = out.values
    rare = v["rare_mean"]
    dec, enc = v["bands_decode"], v["bands_encode"]
    ctl = v["control_encode"]
    gaps = v["coverage_gap_shares"]
    long_gaps = v["coverage_gap_long"]
    mech = v["mechanism_decode"]
    out.card = [
        ("Accuracy tracks how common the task is (shift frequency)",
         "GPT-4 decodes rot-13 at 0.51, rot-12 at 0.00; shift 1 0.82, shift 3 0.76, shift "
         "2 0.02 [P, repository]",
         f"decoding shift 2, high band: {rare['decode|0|high']:.2f} untrained, "
         f"{rare['decode|0.03|high']:.2f} at 0.03 of the cipher examples, "
         f"{rare['decode|0.1|high']:.2f} at 0.1, {rare['decode|0.6|high']:.2f} at 0.6 "
         f"(5 seeds); a shift never trained: {v['untrained_max']:.2f} in every run",
         "same direction; here an untrained shift is never decoded at all, and accuracy "
         "rises steeply over a shift's first few percent of the cipher examples, then "
         "flattens"),
        ("Accuracy tracks the probability of the right output",
         "GPT-4 rot-13 decoding 0.51 / 0.22 / 0.13 (high / medium / low) [P, R]",
         f"decoding shifts 1-3 at the default mix: {dec['high']:.2f} / {dec['medium']:.2f}"
         f" / {dec['low']:.2f}, shuffled words {dec['shuffled']:.2f} ({v['bands_seeds']} "
         "seeds)",
         "same direction"),
        ("Encoding, whose output is ciphertext, is a control with little trend",
         "GPT-4 rot-13 encoding 0.21 / 0.10 / 0.11 [P, R]",
         f"not flat: {enc['high']:.2f} / {enc['medium']:.2f} / {enc['low']:.2f}. With "
         f"cipher sentences drawn uniformly: {ctl['uniform|high']:.2f} / "
         f"{ctl['uniform|medium']:.2f} / {ctl['uniform|low']:.2f}",
         "yes: in the toy, ciphertext is as skewed in training as plain text (encoding "
         "examples shift sentences drawn from the chain); drawn uniformly, both "
         "directions are flat"),
        ("Wrong answers are pulled toward probable text",
         "what the paper's account predicts; no number for it in our reference notes",
         f"of the wrong decodings, {mech['more_probable']['low']:.2f} (low band) and "
         f"{mech['more_probable']['high']:.2f} (high band) are a sentence more probable "
         "than the right one; the model gives the right answer "
         f"{mech['model_logp_right']['low']:.1f} nats and its own "
         f"{mech['model_logp_output']['low']:.1f} (low band)",
         "the toy's own measurement"),
        ("More coverage of the rare task closes the gap",
         "not tested by the paper",
         "decoding shift 2, high minus low, by its share: " + ", ".join(
             f"{s:g}: {g:+.2f}" for s, g in gaps.items()) + " at 6,000 steps; "
         + ", ".join(f"{s:g}: {g:+.2f}" for s, g in long_gaps.items())
         + " at 18,000 steps on three times the data",
         "the toy's answer: no; more of the rare shift leaves the gap open, and longer "
         "training on more data narrows it slowly"),
        ("Covering the improbable answers closes the gap", "not tested by the paper",
         f"decoding, cipher sentences drawn uniformly (plain text still from the chain): "
         f"high minus low {v['control_gap_decode']['uniform']:+.2f} (seeds "
         f"{v['control_gap_decode_min']['uniform']:+.2f} to "
         f"{v['control_gap_decode_max']['uniform']:+.2f}) against "
         f"{v['control_gap_decode']['chain']:+.2f} drawn from the chain; narrower in "
         f"{v['control_gap_decode_diff'][2]} of {v['control_gap_decode_diff'][3]} seeds",
         "the toy's answer: yes, at the same number of examples and steps; the region is "
         "under-covered, not cursed"),
    ]


# ---------------------------------------------------------------------------------------
# Reading runs (the exercise checks are in toylab.exercises)


@analysis
def examples(seed: int = 0) -> pd.DataFrame:
    """One sentence of each band (the headline's language) with its exact log-probability,
    and the three kinds of training example built from the first."""
    task = CipherTask(EmbersConfig().task)
    rng = np.random.default_rng(seed)
    rows = []
    for band in BANDS:
        s = task.draw_sentences(band, 1, rng, "test", salt=seed)[0]
        rows.append({"kind": f"a {band} sentence" if band != "shuffled" else
                     "a medium sentence, words shuffled",
                     "prompt": "", "target": " ".join(task.language.tokens(s)),
                     "exact log-probability": f"{task.language.logprob_of(s)[0]:.2f}"})
    first = task.draw_sentences("high", 1, rng, "test", salt=seed)[0]
    for cell in (CipherCell("text", 0), CipherCell("decode", 3), CipherCell("encode", 3)):
        prompt, target = task.example(cell, first)
        rows.append({"kind": f"training example: {cell.direction}"
                     + (f" shift {cell.shift}" if cell.shift else ""),
                     "prompt": " ".join(prompt), "target": " ".join(target[:-1]),
                     "exact log-probability": ""})
    return pd.DataFrame(rows)


@analysis
def wrong_outputs(result, n: int = 10, direction: str = "decode") -> pd.DataFrame:
    """The first ``n`` wrong outputs of a run in one direction: band, prompt, the right
    output and the model's (without saying what kind of error it is)."""
    rows = result.samples[result.samples.direction == direction]
    return rows[["split", "prompt", "target", "output"]].head(n).reset_index(drop=True)


def wrong_kind(result, row: int, direction: str = "decode") -> str:
    """What row ``row`` of ``wrong_outputs(result)`` is: ``more probable`` (a sentence more
    probable than the right one), ``less probable`` (a less probable sentence) or ``not a
    sentence``."""
    rows = result.samples[result.samples.direction == direction].reset_index(drop=True)
    if not 0 <= row < len(rows):
        raise ValueError(f"row must be 0 to {len(rows) - 1}: the rows of "
                         "wrong_outputs(result)")
    r = rows.iloc[row]
    if pd.isna(r.output_logp):
        return "not a sentence"
    return "more probable" if r.output_logp > r.target_logp else "less probable"


def gap(result, direction: str = "decode", a: str = "high", b: str = "low") -> float:
    """Exact match on band ``a`` minus band ``b`` of one run, averaged over its trained
    test shifts."""
    rows = _pooled(_final(result.metrics).assign(seed=result.config.seed),
                   direction=direction)
    values = rows.set_index("split").value
    return float(values[a] - values[b])


def runs_for(seeds, changes: dict[str, Any] | None = None, name: str = "live") -> list:
    """Runs of preset ``name`` with ``changes``, one per seed (cached), in the order of
    ``seeds`` (``Experiment.runs_for``)."""
    return EXPERIMENT.runs_for(seeds, changes, name)


def mean_gap_difference(changed: list, base: list, direction: str = "decode") -> float:
    """Mean over seeds of ``gap(changed) - gap(base)`` (runs in seed order, which must
    differ in the same way on every seed)."""
    return mean_paired(changed, base, lambda r: gap(r, direction))


def words(result=None) -> tuple[str, ...]:
    """The words of a run's language (default: the headline's), as sentences spell them."""
    cfg = result.config.task if result is not None else EmbersConfig().task
    return CipherTask(cfg).language.words


def sentence_logprob(result, text: str) -> float:
    """The exact log-probability, in a run's language, of a sentence written as its tokens
    separated by spaces (``"I C _ G A G _ B H"``); -inf if it is not a sentence."""
    return CipherTask(result.config.task).language.logprob(text.split())
