"""The one experiment pipeline: a frozen config in, a tidy cached result out.

Every chapter's experiment is an ``Experiment``: the pipeline below with hooks a chapter
fills in. ``run(cfg)`` goes

    config -> data(): task and split -> model() -> phases(): what to train on, with which
    objective, for how long -> train each phase -> probe(): metric and sample rows
    -> the tidy result, through the cache

and does the rest itself: the cache (``toylab.cache``), the random streams, torch threads,
the progress bar and callback, and the columns every metric row carries. The default hooks
train a ``TinyTransformer`` on the split's training set with next-token cross-entropy until
it reaches the target accuracy on the in-distribution validation set, then score every test
split (``toylab.evaluate``). A chapter overrides only what it changes: its data (a task
family and split config of its own), its objective (DPO against a frozen reference,
``toylab.objectives``), a schedule in phases (family A, then B with replay), its probes.

Randomness comes from named streams derived from ``cfg.seed``: ``split`` (which cells and
instances go where, unless the split config fixes its own seed), ``init`` (the weights) and
``batches`` (the order of training examples; phase ``i > 0`` gets its own stream).

Every metric row carries, besides ``seed, split, part, metric, value, n``, the config fields
the experiment reports (``Experiment.columns``: column name -> config path, named as the
sliders and axes name them), the counts it derives from the split (``derived``) and the
columns its probes add.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from toylab.cache import Cache, cached
from toylab.config import check_range, override
from toylab.evaluate import EvalConfig, evaluate
from toylab.model import ModelConfig, TinyTransformer
from toylab.objectives import Objective, sft
from toylab.progress import ProgressBar
from toylab.splits import Split, make_split
from toylab.tasks import (
    Examples,
    LetterConfig,
    LetterSplitConfig,
    Task,
    make_task,
    task_class,
)
from toylab.train import (
    Batch,
    Progress,
    TrainConfig,
    TrainResult,
    early_stop_accuracy,
    train,
)

STREAMS = ("split", "init", "batches", "replay")
METRIC_COLUMNS = ["seed", "split", "part", "metric", "value", "n"]
Rows = tuple[list[dict], list[dict]]  # metric rows, sample rows
Callback = Callable[[Progress], "bool | None"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides a result. Vary it with ``toylab.config.override``.

    Attributes:
        task: the task family and its grid (any registered task's config).
        split: what training covers and what is held out (the family's split config).
        model: transformer size.
        train: optimizer and early stop.
        eval: decoding and samples kept.
        seed: the one seed every random stream is derived from, 0 to 2**31 - 1.
    """

    task: Any = field(default_factory=LetterConfig)
    split: Any = field(default_factory=LetterSplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0

    def __post_init__(self):
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        wanted = task_class(self.task).split_config_class
        if not isinstance(self.split, wanted):
            raise ValueError(f"a {type(self.task).__name__} task splits with a "
                             f"{wanted.__name__}, got a {type(self.split).__name__}")


def stream_seed(seed: int, stream: str, index: int = 0) -> int:
    """A seed for one named random stream (and its ``index``-th part), independent of the
    others."""
    key = [seed, STREAMS.index(stream)] + ([index] if index else [])
    return int(np.random.SeedSequence(key).generate_state(1)[0])


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Phase:
    """One stretch of training.

    Attributes:
        name: shown in the history (``phase`` column, when there is more than one).
        data: tensors of equal length that batches are drawn from (``Examples.to_tensors``
            for SFT, ``objectives.pair_tensors`` for DPO).
        train: steps, batch, learning rate and early-stop target of this phase.
        objective: called with the model when the phase starts; returns the loss.
        val: examples whose exact match stops the phase early (None: all its steps).
    """

    name: str
    data: Batch
    train: TrainConfig
    objective: Objective = field(default_factory=sft)
    val: Any = None


@dataclass
class Trained:
    """A trained model with the task and split it was trained on."""

    task: Task
    split: Split
    model: nn.Module
    fitted: TrainResult

    def info(self) -> dict:
        """The split's record and the training totals (``Result.info``)."""
        return {**self.split.summary(), "steps": self.fitted.steps,
                "train_seconds": self.fitted.seconds,
                "reached_target": self.fitted.reached_target}


@dataclass
class Result:
    """A finished experiment.

    Attributes:
        config: what was run.
        metrics: tidy frame, one row per seed x split x part x metric (plus the columns
            the experiment reports): ``..., seed, split, part, metric, value, n``.
        history: one row per training step: ``step, loss`` and ``accuracy`` (validation
            exact match) on evaluation steps (and ``phase`` with several phases).
        samples: decoded test examples: ``split, cell, prompt, target, output, correct``.
        info: the split's record (``Split.summary``), ``steps``, ``train_seconds``,
            ``reached_target``.
    """

    config: Any
    metrics: pd.DataFrame
    history: pd.DataFrame
    samples: pd.DataFrame
    info: dict

    def value(self, split: str, metric: str = "exact_match", part: str = "full") -> float:
        """One number from the metrics frame, e.g. ``result.value("cmp")``."""
        m = self.metrics
        rows = m[(m.split == split) & (m.metric == metric) & (m.part == part)]
        if len(rows) != 1:
            raise ValueError(f"no single {metric} for split {split!r}, part {part!r}; "
                             f"splits here: {sorted(m.split.unique())}")
        return float(rows.value.iloc[0])

    def summary(self) -> str:
        """One line: what was trained on, how many steps, how long."""
        trained = self.info.get("train_compositions")
        on = f"trained on {', '.join(trained)}: " if trained else ""
        return (f"{on}{self.info['steps']} steps, {self.info['train_seconds']:.1f} s of "
                "training")

    def table(self, part: str = "full", digits: int = 3) -> pd.DataFrame:
        """Every metric of one part of the output, by test split (rows in test order)."""
        rows = self.metrics[self.metrics.part == part]
        order = list(dict.fromkeys(rows.split))
        return rows.pivot_table(index="split", columns="metric", values="value").loc[
            order].round(digits)

    def outputs(self, split: str, n: int = 8, per_cell: int | None = None) -> pd.DataFrame:
        """Decoded test examples of one split (the first ``n``, or ``per_cell`` of each
        cell): ``cell, prompt, target, output``."""
        rows = self.samples[self.samples.split == split]
        rows = rows.groupby("cell", sort=False).head(per_cell) if per_cell else rows.head(n)
        return rows[["cell", "prompt", "target", "output"]].reset_index(drop=True)


class Cancelled(Exception):
    """The progress callback asked training to stop; nothing was cached."""


class Experiment:
    """The pipeline, with the hooks a chapter overrides. See the module docstring.

    Class attributes a chapter sets:
        kind: the cache kind, ``"module/version"``; bump the version when a change of
            the experiment's code changes its results.
        config_class: its frozen config (an ``ExperimentConfig`` or a subclass).
        presets: preset name -> ``override`` changes of ``config_class()``.
        columns: column name -> config path, reported with every metric row (a value of
            None is left out).
        panels: panel name -> ``toylab.panels.PanelSpec``, the chapter's live panels.
        chapter: the chapter's notebook, e.g. ``"chapters/00_toy_lab.ipynb"``.
    """

    kind: str = "toylab.experiment/1"
    config_class: type = ExperimentConfig
    presets: dict[str, dict[str, Any]] = {}
    columns: dict[str, str] = {}
    panels: dict[str, Any] = {}
    chapter: str | None = None

    # --- the chapter's tables and panels ------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        """The chapter's tables by name (its shipped sweeps and what is built from them);
        panels are drawn over them."""
        return {}

    def panel(self, name: str, band: pd.DataFrame | None = None):
        """The chapter's live panel ``name`` (``panels``), drawn over its table (or
        ``band``)."""
        from toylab.panels import Panel

        if name not in self.panels:
            raise ValueError(f"no panel {name!r}; panels: {list(self.panels)}")
        spec = self.panels[name]
        return Panel(self, spec.preset, spec.sliders,
                     self.tables()[spec.band] if band is None else band, view=spec.view,
                     options=spec.options, along=spec.along, changes=spec.changes,
                     description=spec.description)

    # --- configs ------------------------------------------------------------------------

    def preset(self, name: str, changes: dict[str, Any] | None = None):
        """The config of one preset, with optional further ``override`` changes."""
        if name not in self.presets:
            raise ValueError(f"unknown preset {name!r}; presets are {list(self.presets)}")
        return override(override(self.config_class(), self.presets[name]), changes or {})

    def runs_for(self, seeds, changes: dict[str, Any] | None = None,
                 preset: str | None = None, progress: bool = True) -> list[Result]:
        """Runs of ``preset`` (default: the plain config) with ``changes``, one per seed
        (cached, with a progress bar), in the order of ``seeds``: what a learner's paired
        experiment compares."""
        base = self.preset(preset, changes) if preset else override(self.config_class(),
                                                                    changes or {})
        return [self.run(override(base, {"seed": s}), progress=progress) for s in seeds]

    def default_config(self, preset: str | None = None):
        """What a sweep starts from: a preset, or the plain config."""
        return self.preset(preset) if preset else self.config_class()

    # --- hooks --------------------------------------------------------------------------

    def data(self, cfg) -> tuple[Task, Split]:
        """The task and the split (default: the task family's own split strategy)."""
        task = make_task(cfg.task)
        return task, make_split(task, cfg.split, stream_seed(cfg.seed, "split"))

    def model(self, cfg, task: Task) -> nn.Module:
        """A freshly initialized model sized for the task (weights from ``init``)."""
        model = TinyTransformer(cfg.model, len(task.vocab), task.max_len)
        return model.init_weights(torch.Generator().manual_seed(stream_seed(cfg.seed,
                                                                            "init")))

    def phases(self, cfg, task: Task, split: Split) -> list[Phase]:
        """What to train on (default: one SFT phase on the training set and the patch,
        stopped early on the validation set)."""
        data = Examples.concat([split.train, split.patch]).to_tensors()
        return [Phase("train", data, cfg.train, sft(), split.val)]

    def probe(self, cfg, trained: Trained) -> Rows:
        """Metric and sample rows of the trained model (default: every test split)."""
        return evaluate(trained.model, trained.task, trained.split.tests, cfg.eval)

    def derived(self, cfg, trained: Trained) -> dict[str, Any]:
        """Counts derived from the split, reported with every metric row (default none).
        """
        return {}

    # --- the pipeline -------------------------------------------------------------------

    def check(self, cfg) -> None:
        if not isinstance(cfg, self.config_class):
            raise ValueError(f"{type(self).__name__} runs a {self.config_class.__name__}, "
                             f"got a {type(cfg).__name__}; start from its presets")

    def train_model(self, cfg, callback: Callback | None = None,
                    progress: bool = False) -> Trained:
        """Build the data and the model and train every phase (no cache, no probes).

        Raises ``Cancelled`` if the callback stopped training.
        """
        task, split = self.data(cfg)
        model = self.model(cfg, task)
        phases = self.phases(cfg, task, split)
        total = sum(p.train.max_steps for p in phases)
        bar = ProgressBar(total) if progress else None
        done, start = 0, time.perf_counter()

        def report(p: Progress) -> bool | None:  # steps and time over every phase
            p = Progress(done + p.step, total, p.loss, p.accuracy,
                         time.perf_counter() - start)
            if bar is not None:
                bar(p)
            return callback(p) if callback is not None else None

        fitted = TrainResult()
        try:
            for i, phase in enumerate(phases):
                accuracy = (early_stop_accuracy(phase.val.to_tensors(),
                                                phase.train.target_accuracy)
                            if phase.val is not None else None)
                gen = torch.Generator().manual_seed(stream_seed(cfg.seed, "batches", i))
                step = train(model, phase.data, phase.train, gen,
                             loss_fn=phase.objective(model), accuracy_fn=accuracy,
                             callback=report)
                for row in step.history:
                    row["step"] += done
                    if len(phases) > 1:
                        row["phase"] = phase.name
                fitted.history += step.history
                fitted.steps += step.steps
                fitted.seconds += step.seconds
                fitted.reached_target = step.reached_target
                done += step.steps
                if step.cancelled:
                    raise Cancelled
        finally:
            if bar is not None:
                bar.close()
        return Trained(task, split, model, fitted)

    def compute(self, cfg, callback: Callback | None = None, progress: bool = False
                ) -> dict:
        """Train, probe and tabulate one config: the JSON-ready payload the cache keeps."""
        trained = self.train_model(cfg, callback, progress)
        metrics, samples = self.probe(cfg, trained)
        front = {**self.config_columns(cfg), **self.derived(cfg, trained)}
        rows = [{**front, **{k: v for k, v in row.items() if k not in METRIC_COLUMNS},
                 "seed": cfg.seed, **{k: row[k] for k in METRIC_COLUMNS if k in row}}
                for row in metrics]
        return {"metrics": rows, "history": trained.fitted.history, "samples": samples,
                "info": trained.info()}

    def payload(self, cfg, callback: Callback | None = None, progress: bool = False
                ) -> dict:
        """``compute`` on the config's torch threads (another thread count sums in another
        order): what ``run`` caches, and what a cluster worker sends back."""
        with torch_threads(cfg.train.threads):
            return self.compute(cfg, callback, progress)

    def config_columns(self, cfg) -> dict[str, Any]:
        """The reported config fields of ``cfg`` (``columns``), None values left out."""
        out = {}
        for name, path in self.columns.items():
            value = cfg
            for part in path.split("."):
                value = getattr(value, part)
            if value is not None:
                out[name] = value
        return out

    def run(self, cfg=None, *, cache: Cache | None | bool = True,
            callback: Callback | None = None, progress: bool = False) -> Result:
        """Train and evaluate one configuration (or load it from the cache).

        Args:
            cfg: the experiment's config (default: ``config_class()``); it trains on
                ``cfg.train.threads`` torch threads.
            cache: True for the default cache folder, a ``Cache``, or False/None for none.
            callback: training progress hook; returning False cancels (raises
                ``Cancelled``).
            progress: show a progress bar with the time left.
        """
        cfg = cfg if cfg is not None else self.config_class()
        self.check(cfg)
        store = Cache() if cache is True else (cache or None)
        payload = cached(self.kind, cfg, lambda: self.payload(cfg, callback, progress),
                         store)
        metrics = pd.DataFrame(payload["metrics"])
        front = [c for c in metrics.columns if c not in METRIC_COLUMNS]
        return Result(cfg, metrics[front + METRIC_COLUMNS],
                      pd.DataFrame(payload["history"]), pd.DataFrame(payload["samples"]),
                      payload["info"])


#: The plain pipeline on the letter task, with no columns beyond the metric ones.
LAB = EXPERIMENT = Experiment()
run = LAB.run


def build_model(cfg: ExperimentConfig, task: Task) -> nn.Module:
    """A freshly initialized model sized for the task (the pipeline's default)."""
    return LAB.model(cfg, task)
