"""One experiment end to end: a frozen config in, a tidy cached result out.

``run(cfg)`` builds the task and the split, trains a fresh ``TinyTransformer`` to the
target accuracy on the in-distribution validation set, evaluates every test split and
returns a ``Result``. The result is cached under a hash of the config and the code
(``toylab.cache``), so the same config is never trained twice.

Randomness comes from named streams derived from ``cfg.seed``: ``split`` (which
compositions and strings go where, unless ``cfg.split.seed`` fixes it), ``init`` (the
weights) and ``batches`` (the order of training examples).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from toylab.cache import Cache, cached
from toylab.config import check_range
from toylab.evaluate import EvalConfig, evaluate
from toylab.model import ModelConfig, TinyTransformer
from toylab.progress import ProgressBar
from toylab.splits import Split, SplitConfig, make_split
from toylab.tasks import Examples, LetterConfig, Task, make_task
from toylab.train import Progress, TrainConfig, TrainResult, early_stop_accuracy, train

KIND = "toylab.experiment/1"
STREAMS = ("split", "init", "batches")
METRIC_COLUMNS = ["seed", "split", "part", "metric", "value", "n"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides a result. Vary it with ``toylab.config.override``.

    Attributes:
        task: the task family and its grid (any registered task config).
        split: coverage, held-out tests, sizes.
        model: transformer size.
        train: optimizer and early stop.
        eval: decoding and samples kept.
        seed: the one seed every random stream is derived from, 0 to 2**31 - 1.
    """

    task: LetterConfig = field(default_factory=LetterConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0

    def __post_init__(self):
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


def stream_seed(seed: int, stream: str) -> int:
    """A seed for one named random stream, independent of the others."""
    return int(np.random.SeedSequence([seed, STREAMS.index(stream)]).generate_state(1)[0])


@dataclass
class Result:
    """A finished experiment.

    Attributes:
        config: what was run.
        metrics: tidy frame, one row per seed x split x part x metric:
            ``seed, split, part, metric, value, n``.
        history: one row per training step: ``step, loss`` and ``accuracy`` (validation
            exact match) on evaluation steps.
        samples: decoded test examples: ``split, cell, prompt, target, output, correct``.
        info: the split's record (``Split.summary``), ``steps``, ``train_seconds``,
            ``reached_target``.
    """

    config: ExperimentConfig
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

    @classmethod
    def from_payload(cls, config: ExperimentConfig, payload: dict) -> Result:
        return cls(config, pd.DataFrame(payload["metrics"]),
                   pd.DataFrame(payload["history"]), pd.DataFrame(payload["samples"]),
                   payload["info"])


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_model(cfg: ExperimentConfig, task: Task) -> TinyTransformer:
    """A freshly initialized model sized for the task, weights from the ``init`` stream."""
    model = TinyTransformer(cfg.model, len(task.vocab), task.max_len)
    return model.init_weights(torch.Generator().manual_seed(stream_seed(cfg.seed, "init")))


def fit(model: TinyTransformer, train_set: Examples, val: Examples, cfg: ExperimentConfig,
        callback: Callable[[Progress], bool | None] | None = None) -> TrainResult:
    """Train ``model`` on ``train_set`` until it reaches the target on ``val``."""
    val_tensors = val.to_tensors()
    return train(model, train_set.to_tensors(), cfg.train,
                 torch.Generator().manual_seed(stream_seed(cfg.seed, "batches")),
                 accuracy_fn=early_stop_accuracy(val_tensors, cfg.train.target_accuracy),
                 callback=callback)


@dataclass
class Trained:
    """A model trained by ``train_model``, with the task and split it was trained on."""

    task: Task
    split: Split
    model: TinyTransformer
    fitted: TrainResult

    def info(self) -> dict:
        """The split's record and the training totals (``Result.info``)."""
        return {**self.split.summary(), "steps": self.fitted.steps,
                "train_seconds": self.fitted.seconds,
                "reached_target": self.fitted.reached_target}


def train_model(cfg: ExperimentConfig,
                callback: Callable[[Progress], bool | None] | None = None,
                progress: bool = False) -> Trained:
    """Build the task and split of ``cfg`` and train a fresh model on it (no cache).

    Chapters that probe one trained model in several ways (``toylab.experiments``) start
    here; ``run`` is this plus ``evaluate`` plus the cache. Raises ``Cancelled`` if the
    callback stopped training.
    """
    task = make_task(cfg.task)
    split: Split = make_split(task, cfg.split, stream_seed(cfg.seed, "split"))
    model = build_model(cfg, task)
    bar = ProgressBar(cfg.train.max_steps) if progress else None

    def report(p: Progress) -> bool | None:
        if bar is not None:
            bar(p)
        return callback(p) if callback is not None else None

    try:
        fitted = fit(model, Examples.concat([split.train, split.patch]), split.val, cfg,
                     report)
    finally:
        if bar is not None:
            bar.close()
    if fitted.cancelled:
        raise Cancelled
    return Trained(task, split, model, fitted)


def _compute(cfg: ExperimentConfig, callback, progress: bool) -> dict:
    trained = train_model(cfg, callback, progress)
    metrics, samples = evaluate(trained.model, trained.task, trained.split.tests, cfg.eval)
    for row in metrics:
        row["seed"] = cfg.seed
    return {"metrics": metrics, "history": trained.fitted.history, "samples": samples,
            "info": trained.info()}


class Cancelled(Exception):
    """The progress callback asked training to stop; nothing was cached."""


def run(cfg: ExperimentConfig = ExperimentConfig(), *, cache: Cache | None | bool = True,
        callback: Callable[[Progress], bool | None] | None = None,
        progress: bool = False) -> Result:
    """Train and evaluate one configuration (or load it from the cache).

    Args:
        cfg: the experiment; it trains on ``cfg.train.threads`` torch threads.
        cache: True for the default cache folder, a ``Cache``, or False/None for none.
        callback: training progress hook; returning False cancels (raises ``Cancelled``).
        progress: show a progress bar with the time left.

    Returns:
        The ``Result``; its ``metrics`` columns are ``seed, split, part, metric, value, n``.
    """
    store = Cache() if cache is True else (cache or None)
    with torch_threads(cfg.train.threads):
        payload = cached(KIND, cfg, lambda: _compute(cfg, callback, progress), store)
    result = Result.from_payload(cfg, payload)
    result.metrics = result.metrics[METRIC_COLUMNS]
    return result

def default_config() -> ExperimentConfig:
    """The configuration sweeps start from."""
    return ExperimentConfig()
