"""What a training phase minimizes, and how phases are scheduled.

An *objective* is called with the model at the moment its phase begins and returns the loss
``loss(model, batch) -> scalar`` that ``toylab.train`` minimizes. Calling it at the start of
the phase lets an objective take a frozen snapshot of the model as it is then (the reference
model of DPO).

* ``sft()``: next-token cross-entropy on the target tokens (the default everywhere);
* ``dpo(beta, sft_weight)``: Direct Preference Optimization (Rafailov et al. 2023,
  arXiv:2305.18290) against a frozen copy of the model at the start of the phase, on
  batches of (chosen, rejected) pairs (``pair_tensors``), with an optional likelihood term
  on the chosen sequence;
* ``replay_mix``: examples of the current phase with a share of earlier phases' examples,
  for schedules that train task families one after another.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from toylab.config import check_range
from toylab.tasks.data import Examples
from toylab.train import Batch, LossFn, next_token_loss

Objective = Callable[[nn.Module], LossFn]


def sft() -> Objective:
    """Supervised fine-tuning: next-token cross-entropy on the target tokens."""
    return lambda model: next_token_loss


def sequence_logprob(model: nn.Module, tokens: torch.Tensor, mask: torch.Tensor
                     ) -> torch.Tensor:
    """(B,) summed log-probability of the target tokens of each sequence.

    ``tokens`` is (B, T) ids; ``mask`` (B, T-1) marks the labels ``tokens[:, 1:]`` that
    count (as ``Examples.to_tensors`` makes them).
    """
    logits = model(tokens[:, :-1])  # (B, T-1, V)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, 1:, None])[..., 0]
    return (logp * mask).sum(dim=1)


def pair_tensors(chosen: Examples, rejected: Examples) -> Batch:
    """Row-aligned (chosen, rejected) pairs as the tensors ``dpo`` trains on."""
    if len(chosen) != len(rejected) or not len(chosen):
        raise ValueError(f"DPO needs as many rejected as chosen sequences (at least one), "
                         f"got {len(chosen)} and {len(rejected)}")
    c, r = chosen.to_tensors(), rejected.to_tensors()
    return {"chosen": c["tokens"], "chosen_mask": c["mask"],
            "rejected": r["tokens"], "rejected_mask": r["mask"]}


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that no optimizer moves (no gradients, evaluation mode)."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def dpo(beta: float = 0.1, sft_weight: float = 0.0) -> Objective:
    """DPO against the model as it is when the phase starts.

    The loss of a pair is ``-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))``, with
    ``pi`` and ``ref`` the summed target log-probabilities under the trained and the frozen
    reference model; ``sft_weight`` adds that times the mean negative log-likelihood per
    chosen target token.
    """
    check_range("beta", beta, 1e-6, 100.0)
    check_range("sft_weight", sft_weight, 0.0, 100.0)

    def start(model: nn.Module) -> LossFn:
        reference = frozen_copy(model)

        def loss(policy: nn.Module, batch: Batch) -> torch.Tensor:
            with torch.no_grad():
                ref_c = sequence_logprob(reference, batch["chosen"], batch["chosen_mask"])
                ref_r = sequence_logprob(reference, batch["rejected"],
                                         batch["rejected_mask"])
            pi_c = sequence_logprob(policy, batch["chosen"], batch["chosen_mask"])
            pi_r = sequence_logprob(policy, batch["rejected"], batch["rejected_mask"])
            margin = beta * ((pi_c - ref_c) - (pi_r - ref_r))  # (B,)
            out = -F.logsigmoid(margin).mean()
            if sft_weight:
                out = out - sft_weight * (pi_c.sum() / batch["chosen_mask"].sum())
            return out

        return loss

    return start


def replay_mix(current: Examples, earlier: Examples, share: float, n: int,
               rng: np.random.Generator) -> Examples:
    """``n`` training examples: a ``share`` of them drawn from ``earlier`` phases'
    examples (replay), the rest from ``current``, each without replacement while it lasts.
    """
    check_range("replay share", share, 0.0, 1.0)
    n_old = int(round(share * n)) if len(earlier) else 0
    parts = []
    for pool, k in ((current, n - n_old), (earlier, n_old)):
        if k:
            if not len(pool):
                raise ValueError("nothing to draw from: a phase has no examples")
            parts.append(pool.subset(rng.choice(len(pool), k, replace=k > len(pool))))
    return Examples.concat(parts)


def recording(objective: Objective, every: int,
              record: Callable[[nn.Module, int], None]) -> Objective:
    """``objective``, calling ``record(model, step)`` after every ``every`` steps (before
    the next step's loss; not before the first): what a probe during training hooks on.
    """
    check_range("every", every, 1, 10**9, integer=True)

    def start(model: nn.Module) -> LossFn:
        loss_fn = objective(model)
        calls = [0]

        def loss(policy: nn.Module, batch: Batch) -> torch.Tensor:
            if calls[0] and calls[0] % every == 0:
                record(policy, calls[0])
            calls[0] += 1
            return loss_fn(policy, batch)

        return loss

    return start
