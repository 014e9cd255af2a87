"""The data every task family produces: a vocabulary and padded batches of examples.

Nothing here knows about any task: a family turns its own cells into token ids with a
``Vocab`` and hands training and evaluation an ``Examples``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

PAD, EOS, UNK, THINK, ANSWER = "<pad>", "<eos>", "<unk>", "<think>", "<answer>"
SPECIAL_TOKENS = (PAD, EOS, UNK, THINK, ANSWER)
#: The shares of a cell's instances: training, early-stopping validation, and test. The
#: validation and test shares split what training never sees, so early stopping never
#: looks at a test instance.
POOLS = ("train", "val", "test")


class Vocab:
    """A fixed token list; ids are positions in it. Id 0 is always ``<pad>``."""

    def __init__(self, tokens: Sequence[str]):
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.tokens = tuple(tokens)
        self.index = {tok: i for i, tok in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index[t] for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]


def until_eos(tokens: Sequence[str]) -> list[str]:
    """The tokens before the first ``<eos>`` (all of them if there is none)."""
    tokens = list(tokens)
    return tokens[:tokens.index(EOS)] if EOS in tokens else tokens


@dataclass
class Examples:
    """A padded batch of ``prompt + target`` token sequences.

    Attributes:
        tokens: (n, T) int64 token ids, ``<pad>`` (id 0) after each sequence ends.
        prompt_len: (n,) number of prompt tokens in each row.
        length: (n,) prompt + target tokens in each row (the target ends with ``<eos>``).
        cells: the grid cell each row was drawn from (any hashable cell of the family).
    """

    tokens: np.ndarray
    prompt_len: np.ndarray
    length: np.ndarray
    cells: tuple[Hashable, ...]

    def __len__(self) -> int:
        return len(self.cells)

    @staticmethod
    def concat(parts: Sequence[Examples]) -> Examples:
        """Stack several ``Examples``, padding to the widest."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Examples.empty()
        width = max(p.tokens.shape[1] for p in parts)
        tokens = np.concatenate(
            [np.pad(p.tokens, ((0, 0), (0, width - p.tokens.shape[1]))) for p in parts])
        return Examples(tokens, np.concatenate([p.prompt_len for p in parts]),
                        np.concatenate([p.length for p in parts]),
                        tuple(c for p in parts for c in p.cells))

    def subset(self, keep: np.ndarray) -> Examples:
        """The rows where the boolean array ``keep`` is True (or the rows it indexes)."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return Examples(self.tokens[idx], self.prompt_len[idx], self.length[idx],
                        tuple(self.cells[i] for i in idx))

    @staticmethod
    def pad(rows: Sequence[tuple[Sequence[int], Sequence[int]]], cells: Sequence[Hashable]
            ) -> Examples:
        """(prompt ids, target ids) rows, one per cell, padded into ``Examples``."""
        if not rows:
            return Examples.empty()
        width = max(len(p) + len(t) for p, t in rows)
        tokens = np.zeros((len(rows), width), np.int64)
        for i, (p, t) in enumerate(rows):
            tokens[i, :len(p) + len(t)] = [*p, *t]
        return Examples(tokens, np.array([len(p) for p, _ in rows], np.int64),
                        np.array([len(p) + len(t) for p, t in rows], np.int64),
                        tuple(cells))

    @staticmethod
    def empty() -> Examples:
        return Examples(np.zeros((0, 1), np.int64), np.zeros(0, np.int64),
                        np.zeros(0, np.int64), ())

    def prompts(self) -> list[np.ndarray]:
        return [row[:p] for row, p in zip(self.tokens, self.prompt_len)]

    def targets(self) -> list[np.ndarray]:
        return [row[p:n] for row, p, n in zip(self.tokens, self.prompt_len, self.length)]

    def rows(self) -> set[tuple[int, ...]]:
        """Every sequence as a tuple of ids (for leakage checks)."""
        return {tuple(r[:n]) for r, n in zip(self.tokens.tolist(), self.length.tolist())}

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors for next-token training, loss on target tokens only.

        ``tokens`` is (n, T); ``mask`` is (n, T-1) and is True where the *label* at that
        position (``tokens[:, 1:]``) is a target token, so the prompt is never trained on.
        """
        width = int(self.length.max()) if len(self) else 1
        tokens = torch.from_numpy(np.ascontiguousarray(self.tokens[:, :width]))
        label_pos = torch.arange(1, width)[None, :]  # (1, T-1)
        prompt_len = torch.from_numpy(self.prompt_len)[:, None]
        length = torch.from_numpy(self.length)[:, None]
        mask = (label_pos >= prompt_len) & (label_pos < length)
        return {"tokens": tokens, "mask": mask}


def hash_unit(codes: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of (code, salt) mapped to [0, 1): a fixed pseudo-random number per
    instance, which decides the share (train, val, test) it belongs to."""
    with np.errstate(over="ignore"):
        z = codes.astype(np.uint64) + np.uint64(salt % (1 << 63)) * np.uint64(
            0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
