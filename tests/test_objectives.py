"""Objectives: SFT is next-token loss, DPO starts at log 2 against its own snapshot and
leaves the reference alone, replay mixes draw the asked share."""

import math

import numpy as np
import pytest
import torch

from pairs import wrong_answers  # tests/pairs.py
from toylab.experiment import LAB, ExperimentConfig
from toylab.objectives import (
    dpo,
    frozen_copy,
    pair_tensors,
    replay_mix,
    sequence_logprob,
    sft,
)
from toylab.train import next_token_loss


def small():
    cfg = ExperimentConfig()
    task, split = LAB.data(cfg)
    return task, split, LAB.model(cfg, task)


def test_sft_is_next_token_loss():
    _, split, model = small()
    assert sft()(model) is next_token_loss


def test_dpo_starts_at_log_two_and_keeps_its_reference_frozen():
    task, split, model = small()
    chosen = split.train.subset(np.arange(16))
    batch = pair_tensors(chosen, wrong_answers(chosen, task))
    loss_fn = dpo(beta=0.5)(model)
    loss = loss_fn(model, batch)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-5)  # policy == reference
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss.backward()
    opt.step()
    moved = loss_fn(model, batch).item()
    assert moved < math.log(2)  # one step on the pairs prefers the chosen answers
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_frozen_copy_gets_no_gradient():
    _, split, model = small()
    ref = frozen_copy(model)
    data = split.train.subset(np.arange(4)).to_tensors()
    assert not sequence_logprob(ref, data["tokens"], data["mask"]).requires_grad
    assert all(not p.requires_grad for p in ref.parameters())


def test_pairs_must_line_up():
    _, split, _ = small()
    with pytest.raises(ValueError, match="as many rejected"):
        pair_tensors(split.train.subset(np.arange(4)), split.train.subset(np.arange(3)))


def test_replay_mix_draws_the_asked_share():
    _, split, _ = small()
    old, new = split.train.subset(np.arange(100)), split.val
    mixed = replay_mix(new, old, 0.25, 200, np.random.default_rng(0))
    assert len(mixed) == 200
    from_old = len(mixed.rows() & old.rows())
    assert 1 <= from_old <= 50
    none = replay_mix(new, old, 0.0, 50, np.random.default_rng(0))
    assert not none.rows() & old.rows()
    with pytest.raises(ValueError, match="replay share"):
        replay_mix(new, old, 1.5, 10, np.random.default_rng(0))


def test_recording_calls_its_probe_every_n_steps_and_leaves_the_loss_alone():
    from toylab.objectives import recording

    seen = []
    plain = lambda model: (lambda policy, batch: batch)  # noqa: E731 (a stand-in loss)
    loss = recording(plain, 3, lambda model, step: seen.append(step))(None)
    assert [loss(None, i) for i in range(8)] == list(range(8))
    assert seen == [3, 6]
