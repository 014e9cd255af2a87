import pytest
import torch

from toylab.model import PRESETS, ModelConfig, TinyTransformer
from toylab.train import TrainConfig, next_token_loss, train


def make(cfg=None, vocab=12, block=16, seed=0):
    model = TinyTransformer(cfg or ModelConfig(), vocab, block)
    return model.init_weights(torch.Generator().manual_seed(seed))


def test_future_tokens_never_change_past_logits():
    model = make().eval()
    x = torch.randint(0, 12, (3, 16), generator=torch.Generator().manual_seed(1))
    y = x.clone()
    y[:, 9:] = (y[:, 9:] + 1) % 12
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)
    assert not torch.allclose(a[:, 9:], b[:, 9:])


def test_overfits_one_batch():
    model = make()
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, 12, (8, 10), generator=gen)
    mask = torch.ones(8, 9, dtype=torch.bool)
    data = {"tokens": tokens, "mask": mask}
    before = next_token_loss(model, data).item()
    train(model, data, TrainConfig(max_steps=300, batch_size=8, target_accuracy=None),
          torch.Generator().manual_seed(0))
    after = next_token_loss(model, data).item()
    assert before > 2.0 and after < 0.05


def test_init_comes_from_the_generator_only():
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("name", PRESETS)
def test_presets_build_and_run(name):
    model = make(ModelConfig.preset(name))
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 12)


def test_clear_errors():
    with pytest.raises(ValueError, match="divide"):
        ModelConfig(n_head=3, d_model=64)
    with pytest.raises(ValueError, match="presets"):
        ModelConfig.preset("huge")
    with pytest.raises(ValueError, match="block_size"):
        make()(torch.zeros(1, 17, dtype=torch.long))


def test_rotary_attention_depends_on_offsets_only():
    from toylab.model import _rotate, rotary_tables

    cos, sin = rotary_tables(16, 8)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def score(i, j):  # noqa: E306
        return (_rotate(q, cos[i:i + 1], sin[i:i + 1])
                * _rotate(k, cos[j:j + 1], sin[j:j + 1])).sum()
    assert torch.allclose(score(5, 2), score(12, 9), atol=1e-5)
    assert not torch.allclose(score(5, 2), score(5, 4), atol=1e-3)


def test_rotary_model_has_no_position_table_and_learns():
    cfg = ModelConfig(n_layer=1, n_head=2, d_model=16, positions="rotary")
    model = TinyTransformer(cfg, vocab_size=10, block_size=12).init_weights(
        torch.Generator().manual_seed(0))
    assert model.pos_emb is None and "rope_cos" not in model.state_dict()
    assert model.n_params() == model.n_params(with_positions=True)
    x = torch.randint(1, 10, (4, 12))
    assert model(x).shape == (4, 12, 10)
    with pytest.raises(ValueError, match="positions"):
        ModelConfig(positions="sinusoidal")
    with pytest.raises(ValueError, match="even head width"):
        ModelConfig(n_head=4, d_model=12, positions="rotary")
