import pytest
import torch

from toylab.model import ModelConfig, TinyTransformer
from toylab.train import (
    Progress,
    TrainConfig,
    early_stop_accuracy,
    flat_parameters,
    next_token_loss,
    sequence_accuracy,
    train,
)


def copy_task(n=512, seed=0):
    """Prompt: 3 digits and a separator; target: the same digits (a task-free batch)."""
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(2, 8, (n, 3), generator=g)
    tokens = torch.cat([digits, torch.ones(n, 1, dtype=torch.long), digits], dim=1)
    mask = torch.zeros(n, 6, dtype=torch.bool)
    mask[:, 3:] = True
    return {"tokens": tokens, "mask": mask}


def model(seed=0):
    return TinyTransformer(ModelConfig(), 8, 8).init_weights(
        torch.Generator().manual_seed(seed))


def test_early_stop_at_target_and_history():
    m, data, val = model(), copy_task(), copy_task(256, seed=1)
    cfg = TrainConfig(max_steps=2000, eval_every=10, target_accuracy=0.99)
    result = train(m, data, cfg, torch.Generator().manual_seed(0),
                   accuracy_fn=early_stop_accuracy(val, 0.99))
    assert result.reached_target and result.steps < 2000 and result.steps % 10 == 0
    assert sequence_accuracy(m, val) >= 0.99
    assert [row["step"] for row in result.history] == list(range(1, result.steps + 1))
    assert "accuracy" in result.history[-1]


def test_early_stop_check_decides_as_scoring_everything_would():
    """Scoring in chunks and stopping early must not change a single decision: a check
    passes exactly when the probe and the whole set both reach the target, and then it
    reports the whole set's accuracy."""
    m, data, val = model(), copy_task(), copy_task(200, seed=1)
    checks = [(probe, chunk, target) for probe in (1, 40, 64, 500) for chunk in (7, 32, 256)
              for target in (0.3, 0.6, 0.94, 0.99, 1.0)]
    seen_pass = seen_fail = 0
    for round_ in range(16):  # accuracies from 0 through 0.3, 0.7, 0.9 and 0.94 to 1
        train(m, data, TrainConfig(max_steps=2, target_accuracy=None),
              torch.Generator().manual_seed(round_))
        full = sequence_accuracy(m, val)
        for probe, chunk, target in checks:
            head = sequence_accuracy(m, {k: v[:probe] for k, v in val.items()})
            value = early_stop_accuracy(val, target, probe, chunk)(m)
            passes = head >= target and full >= target
            assert (value >= target) == passes, (round_, probe, chunk, target)
            if passes:
                assert value == full
            seen_pass, seen_fail = seen_pass + passes, seen_fail + (not passes)
    assert seen_pass and seen_fail  # both kinds of check were exercised
    assert early_stop_accuracy(val, None)(m) == sequence_accuracy(m, val)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_flat_weights_train_exactly_as_per_tensor_adamw(weight_decay):
    """``train`` updates one flat buffer; the numbers must be those of torch's AdamW over
    the model's own tensors, step for step, and the model must still see every update."""
    data = copy_task()
    flat, plain = model(), model()
    train(flat, data, TrainConfig(max_steps=40, target_accuracy=None,
                                  weight_decay=weight_decay),
          torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(plain.parameters(), lr=3e-3, betas=(0.9, 0.99),
                            weight_decay=weight_decay, fused=True)
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        idx = torch.randint(0, len(data["tokens"]), (16,), generator=g)
        loss = next_token_loss(plain, {k: v[idx] for k, v in data.items()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for (name, a), b in zip(flat.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), name
    assert flat.head.weight is flat.tok_emb.weight  # still tied


def test_flat_parameters_leave_frozen_weights_out():
    m = model()
    m.pos_emb.weight.requires_grad_(False)
    before = m.pos_emb.weight.clone()
    weights = flat_parameters(m)
    assert len(weights) == m.n_params(with_positions=True) - before.numel()
    train(m, copy_task(), TrainConfig(max_steps=5, target_accuracy=None),
          torch.Generator().manual_seed(0))
    assert torch.equal(m.pos_emb.weight, before)
    for p in m.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        flat_parameters(m)


def test_callback_sees_progress_and_can_cancel():
    seen: list[Progress] = []

    def callback(p: Progress):
        seen.append(p)
        return p.step < 30

    result = train(model(), copy_task(), TrainConfig(max_steps=500, eval_every=10),
                   torch.Generator().manual_seed(0), accuracy_fn=lambda m: 0.0,
                   callback=callback)
    assert result.cancelled and result.steps == 30
    assert [p.step for p in seen] == [10, 20, 30] and seen[-1].eta > 0


def test_loss_is_pluggable():
    calls = []

    def loss_fn(m, batch):
        calls.append(batch["tokens"].shape)
        return next_token_loss(m, batch) * 0.0 + m.tok_emb.weight.sum() * 0.0

    m = model()
    before = [p.clone() for p in m.parameters()]
    train(m, copy_task(), TrainConfig(max_steps=5, batch_size=4, target_accuracy=None),
          torch.Generator().manual_seed(0), loss_fn=loss_fn)
    assert calls == [torch.Size([4, 7])] * 5
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_same_generator_same_weights():
    runs = []
    for _ in range(2):
        m = model()
        train(m, copy_task(), TrainConfig(max_steps=20, target_accuracy=None),
              torch.Generator().manual_seed(5))
        runs.append(torch.cat([p.flatten() for p in m.parameters()]))
    assert torch.equal(*runs)
