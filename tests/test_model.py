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
