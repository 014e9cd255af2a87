"""A tiny decoder-only transformer, the whole model in one file.

Pre-LN blocks (LayerNorm before attention and before the MLP), causal self-attention,
learned absolute positions (or rotary ones, ``positions="rotary"``), a ReLU MLP four
times as wide as the model, and an output layer tied to the token embedding. ReLU rather
than GPT-2's GELU, because the exact GELU costs more on a CPU; attention through torch's
fused ``scaled_dot_product_attention``, which is at least as fast as the masked softmax
written out and shorter to read.
``python -m toylab bench`` measures both choices on your machine (``design_choices``).

Shapes in comments: B batch, T sequence length, C model width, H heads, D = C // H.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from toylab.config import check_choice, check_range

#: How a model encodes positions (``ModelConfig.positions``).
POSITIONS = ("learned", "rotary")

# name -> (n_layer, n_head, d_model). "small" is the default: it learns every chapter's
# in-distribution task in about a hundred steps on a CPU.
PRESETS: dict[str, tuple[int, int, int]] = {
    "tiny": (1, 2, 32),
    "small": (2, 4, 64),
    "dataalchemy": (4, 4, 32),  # the paper's default GPT-2 size (hidden 32, 4 layers)
    "medium": (4, 4, 128),
}


@dataclass(frozen=True)
class ModelConfig:
    """Size of the transformer.

    Attributes:
        n_layer: transformer blocks, 1-8.
        n_head: attention heads per block, 1-16; must divide ``d_model``.
        d_model: width of the residual stream, 8-512.
        positions: how the model knows where a token is. ``"learned"``: a trained vector
            per absolute position is added to each token (GPT-2; positions never trained
            on stay at their random start). ``"rotary"``: queries and keys are rotated by
            an angle proportional to their position (RoFormer, arXiv:2104.09864), so
            attention sees only how far apart two tokens are; nothing is learned per
            position.
        init_std: standard deviation of the initial weight matrices, in (0, 1] (GPT-2's
            0.02 by default). A wider start (0.1-0.3) gets a tiny model past the long
            plateau of tasks that compare two tokens (chapter 2's predicates).
    """

    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    positions: str = "learned"
    init_std: float = 0.02

    def __post_init__(self):
        check_range("n_layer", self.n_layer, 1, 8, integer=True)
        check_range("n_head", self.n_head, 1, 16, integer=True)
        check_range("d_model", self.d_model, 8, 512, integer=True)
        if self.d_model % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide d_model "
                             f"({self.d_model})")
        check_choice("positions", self.positions, POSITIONS)
        check_range("init_std", self.init_std, 1e-6, 1.0)
        if self.positions == "rotary" and (self.d_model // self.n_head) % 2:
            raise ValueError(f"rotary positions need an even head width; d_model "
                             f"{self.d_model} / n_head {self.n_head} is odd")

    @classmethod
    def preset(cls, name: str) -> ModelConfig:
        """A named size from ``PRESETS``."""
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; presets are {list(PRESETS)}")
        n_layer, n_head, d_model = PRESETS[name]
        return cls(n_layer=n_layer, n_head=n_head, d_model=d_model)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
                ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        # (B, T, C) -> (B, H, T, D)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))
        if rope is not None:  # rotary positions: q.k then depends on offsets only
            q, k = _rotate(q, *rope), _rotate(k, *rope)
        # softmax(q k^T / sqrt(D)) v over past and present positions only; torch's fused
        # kernel for it is at least as fast as the masked softmax written out
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[i], x[i + D/2]) of (B, H, T, D) by its position's angle."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # each (B, H, T, D/2); cos, sin are (T, D/2)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def rotary_tables(block_size: int, head_dim: int, base: float = 10_000.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of angle position * base^(-2i / head_dim), each (block_size, D/2)."""
    freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angle = torch.arange(block_size, dtype=torch.float32)[:, None] * freq[None, :]
    return angle.cos(), angle.sin()


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.ReLU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
                ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), rope)
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    """Decoder-only transformer over a task's vocabulary.

    The constructor only builds; call ``init_weights(generator)`` to draw the weights from
    an explicit seed (``toylab.experiment`` does).

    Args:
        cfg: the size.
        vocab_size: tokens in the task's vocabulary.
        block_size: the longest sequence the model will see (positions stop there).
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, block_size: int):
        super().__init__()
        check_range("vocab_size", vocab_size, 2, 1_000_000, integer=True)
        check_range("block_size", block_size, 1, 100_000, integer=True)
        self.cfg, self.block_size = cfg, block_size
        self.tok_emb = nn.Embedding(vocab_size, cfg.d_model)
        self.pos_emb = (nn.Embedding(block_size, cfg.d_model)
                        if cfg.positions == "learned" else None)
        if cfg.positions == "rotary":  # fixed tables, not parameters, not saved
            cos, sin = rotary_tables(block_size, cfg.d_model // cfg.n_head)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied: reading and writing share a table

    def init_weights(self, generator: torch.Generator) -> TinyTransformer:
        """GPT-2 style init from an explicit generator: N(0, ``init_std``), zero biases, and
        residual projections scaled down by sqrt(2 * n_layer)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() == 1:  # LayerNorm gains start at 1, every bias at 0
                    is_gain = name.endswith("weight") and name.split(".")[-2][:2] == "ln"
                    p.fill_(1.0 if is_gain else 0.0)
                    continue
                std = self.cfg.init_std
                if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                    std /= math.sqrt(2 * self.cfg.n_layer)
                p.normal_(0.0, std, generator=generator)
        return self

    def n_params(self, with_positions: bool = False) -> int:
        """Parameters (the tied head counted once), optionally without position table."""
        n = sum(p.numel() for p in self.parameters())
        if with_positions or self.pos_emb is None:
            return n
        return n - self.pos_emb.weight.numel()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for token ids (B, T)."""
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than the model's "
                             f"block_size {self.block_size}")
        x = self.tok_emb(idx)  # (B, T, C)
        rope = None
        if self.pos_emb is not None:
            x = x + self.pos_emb.weight[:T]
        else:
            rope = (self.rope_cos[:T], self.rope_sin[:T])
        for block in self.blocks:
            x = block(x, rope)
        return self.head(self.ln_f(x))  # (B, T, vocab)
