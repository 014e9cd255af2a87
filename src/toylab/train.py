"""A training loop that knows nothing about tasks.

It takes a model, a dict of equally long tensors (the training set), and a loss function
``loss_fn(model, batch) -> scalar``. The default loss is next-token cross-entropy on the
positions a ``mask`` marks (the answer tokens), so prompts are never trained on. Later
chapters pass their own loss (DPO against a frozen reference) and their own tensors.

One hook reports progress: ``callback(progress)`` is called after every evaluation and at
the end; progress bars and widgets listen to it, and returning ``False`` from it stops
training (a slider that moved on cancels the stale run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from toylab.config import check_range

Batch = dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        max_steps: optimizer steps at most, 1-100,000.
        batch_size: examples per step, 1-4096. Small batches learn these tasks in about
            as many steps as large ones, so they are faster (``reference/perf.md``).
        lr: AdamW learning rate, in (0, 1]. 3e-3 is robust at batch 8-64.
        weight_decay: AdamW weight decay, in [0, 1].
        eval_every: steps between early-stop checks, 1-10,000.
        target_accuracy: stop once validation exact match reaches this, in (0, 1]; None
            trains for ``max_steps``.
        threads: torch threads for training and evaluation, 1-64. Part of the config
            because another thread count sums in another order and gives slightly
            different numbers; with 1 (the default) a config gives the same numbers in a
            notebook, a sweep worker and a test. ``toylab.experiment.run`` applies it.
    """

    max_steps: int = 1500
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.0
    eval_every: int = 10
    target_accuracy: float | None = 0.99
    threads: int = 1

    def __post_init__(self):
        check_range("max_steps", self.max_steps, 1, 100_000, integer=True)
        check_range("batch_size", self.batch_size, 1, 4096, integer=True)
        check_range("lr", self.lr, 1e-7, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_range("eval_every", self.eval_every, 1, 10_000, integer=True)
        if self.target_accuracy is not None:
            check_range("target_accuracy", self.target_accuracy, 1e-6, 1.0)
        check_range("threads", self.threads, 1, 64, integer=True)


@dataclass
class Progress:
    """What the callback is told. ``accuracy`` is the last validation exact match."""

    step: int
    max_steps: int
    loss: float
    accuracy: float | None
    elapsed: float  # seconds since training started

    @property
    def eta(self) -> float:
        """Seconds left if every remaining step costs what the past ones did."""
        return self.elapsed / max(self.step, 1) * (self.max_steps - self.step)


@dataclass
class TrainResult:
    """History (one row per step: step, loss; accuracy on evaluation steps) and totals."""

    history: list[dict] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    reached_target: bool = False
    cancelled: bool = False


def warm_up() -> None:
    """Pay once for what torch imports the first time an optimizer is built, so that the
    first live retrain is as fast as the next ones (``python -m toylab bench`` measures
    that cost: ``design_choices``, ``first_optimizer``)."""
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)], fused=True)


def next_token_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of next-token predictions at the positions ``batch["mask"]`` marks.

    ``batch["tokens"]`` is (B, T) token ids; ``batch["mask"]`` is (B, T-1), True where the
    label ``tokens[:, 1:]`` counts.
    """
    tokens, mask = batch["tokens"], batch["mask"]
    logits = model(tokens[:, :-1])  # (B, T-1, vocab)
    return F.cross_entropy(logits[mask], tokens[:, 1:][mask])


@torch.inference_mode()
def sequence_correct(model: nn.Module, data: Batch) -> torch.Tensor:
    """(B,) bool: whether every masked token of each sequence is the argmax prediction.

    Under teacher forcing this equals greedy-decoding exact match: if every target token is
    the argmax given the true prefix, greedy decoding produces exactly that prefix.
    """
    was_training = model.training
    model.eval()
    pred = model(data["tokens"][:, :-1]).argmax(-1)  # (B, T-1)
    model.train(was_training)
    return ((pred == data["tokens"][:, 1:]) | ~data["mask"]).all(dim=1)


def sequence_accuracy(model: nn.Module, data: Batch, batch_size: int = 1024) -> float:
    """Share of sequences whose every masked token is the argmax prediction."""
    n = len(data["tokens"])
    correct = sum(int(sequence_correct(model, {k: v[start:start + batch_size]
                                                for k, v in data.items()}).sum())
                  for start in range(0, n, batch_size))
    return correct / max(n, 1)


def early_stop_accuracy(val: Batch, target: float | None, probe: int = 64,
                        chunk: int = 32) -> Callable[[nn.Module], float]:
    """An ``accuracy_fn`` for ``train`` that is cheap while the model is far from target.

    A check passes when the first ``probe`` validation sequences reach ``target`` on their
    own and the whole set does. Sequences are scored ``chunk`` at a time, and scoring stops
    as soon as either can no longer reach the target, so a check far from target costs one
    small forward pass (exact match sits near 0 for most of training and then jumps). The
    accuracy returned is exact when the check gets through the whole set, and otherwise
    the share correct among the sequences scored so far (an estimate). The chunk size
    trades one cost against the other: a smaller chunk makes a check far from target
    cheaper (it stops after the first), a larger one can make scoring the whole set
    cheaper per sequence. ``python -m toylab bench`` measures the cost per sequence of
    chunks of 16, 32 and 64 (``design_choices``, ``early_stop_chunk``).
    """
    n = len(val["tokens"])
    p = max(1, min(probe, n))

    def out_of_reach(failures: int, size: int) -> bool:
        return target is not None and (size - failures) / size < target

    def share(correct: torch.Tensor) -> float:
        return int(correct.sum()) / max(len(correct), 1)

    def accuracy(model: nn.Module) -> float:
        correct = torch.empty(0, dtype=torch.bool)
        for start in range(0, n, chunk):
            batch = {k: v[start:start + chunk] for k, v in val.items()}
            correct = torch.cat([correct, sequence_correct(model, batch)])
            # each estimate returned early is below target: with f failures among s <= m
            # scored, 1 - f/s <= 1 - f/m, and the latter is what fell short
            if out_of_reach(int((~correct[:p]).sum()), p):
                return share(correct[:p])
            if out_of_reach(int((~correct).sum()), n):
                return share(correct)
        return share(correct)

    return accuracy


def flat_parameters(model: nn.Module) -> nn.Parameter:
    """One flat tensor holding every trainable weight of ``model``, with a flat gradient.

    The model's parameters become views into it, and their gradients views into its
    gradient (backward adds into them in place), so AdamW updates all of them in one call
    instead of one per tensor, which is faster at these sizes (``python -m toylab bench``
    measures it: ``design_choices``, ``optimizer_step`` and ``training_step``), with the
    same numbers as per-tensor AdamW (``tests/test_train.py`` checks them). One
    difference: a weight that gets no gradient in a step is updated as if its gradient
    were zero (torch would skip it); no toylab model has such a weight.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    weights = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    weights.grad = torch.zeros_like(weights)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = weights.data[offset:offset + n].view_as(p)
        p.grad = weights.grad[offset:offset + n].view_as(p)
        offset += n
    return weights


def train(model: nn.Module, data: Batch, cfg: TrainConfig, generator: torch.Generator,
          *, loss_fn: LossFn = next_token_loss,
          accuracy_fn: Callable[[nn.Module], float] | None = None,
          callback: Callable[[Progress], bool | None] | None = None) -> TrainResult:
    """Train ``model`` in place with AdamW on random batches of ``data``.

    Args:
        model: any module ``loss_fn`` understands.
        data: tensors with the same first dimension; each step takes the same random rows
            of every tensor.
        cfg: steps, batch, learning rate, early stop.
        generator: draws the batches (explicit, so runs repeat exactly).
        loss_fn: ``loss_fn(model, batch) -> scalar loss``.
        accuracy_fn: ``accuracy_fn(model) -> float`` for early stopping, called every
            ``cfg.eval_every`` steps; None never stops early.
        callback: called with a ``Progress`` after each evaluation and at the end;
            returning ``False`` stops training (``TrainResult.cancelled``).
    """
    n = len(next(iter(data.values())))
    if n == 0:
        raise ValueError("the training set is empty")
    weights = flat_parameters(model)
    opt = torch.optim.AdamW([weights], lr=cfg.lr, betas=(0.9, 0.99),
                            weight_decay=cfg.weight_decay, fused=True)
    result = TrainResult()
    model.train()
    start = time.perf_counter()
    accuracy = None
    for step in range(1, cfg.max_steps + 1):
        idx = torch.randint(0, n, (cfg.batch_size,), generator=generator)
        loss = loss_fn(model, {k: v[idx] for k, v in data.items()})
        weights.grad.zero_()
        loss.backward()
        opt.step()
        row = {"step": step, "loss": loss.item()}
        last = step == cfg.max_steps
        if accuracy_fn is not None and (step % cfg.eval_every == 0 or last):
            accuracy = row["accuracy"] = accuracy_fn(model)
            result.reached_target = (cfg.target_accuracy is not None
                                     and accuracy >= cfg.target_accuracy)
        result.history.append(row)
        if callback is not None and ("accuracy" in row or last):
            progress = Progress(step, cfg.max_steps, row["loss"], accuracy,
                                time.perf_counter() - start)
            result.cancelled = callback(progress) is False
        if result.reached_target or result.cancelled:
            break
    result.steps = step
    result.seconds = time.perf_counter() - start
    return result
