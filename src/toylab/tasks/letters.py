"""The letter-transform family (after DataAlchemy, arXiv:2508.01191): strings of letters
under chains of transformations, with or without a chain-of-thought trace.

A cell of its grid is a composition at a length in a format (``LetterCell``); its split
strategy, coverage of the composition grid, is ``toylab.tasks.letter_splits``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from toylab.config import check_bool, check_choice, check_range
from toylab.splits import Split
from toylab.tasks.base import Cell, Task, register_task
from toylab.tasks.data import (
    ANSWER,
    EOS,
    POOLS,
    SPECIAL_TOKENS,
    THINK,
    UNK,
    Examples,
    Vocab,
    hash_unit,
    until_eos,
)
from toylab.tasks.letter_splits import (
    TEST_SPLIT_SPECS,
    LetterSplitConfig,
    make_letter_split,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# name pattern -> (description, builder taking the regex match, returning fn(x, A) -> x)
_TRANSFORM_RULES: list[tuple[str, str, Callable]] = [
    (r"rot(\d+)", "ROT-n: shift every letter n places along the alphabet (mod its size)",
     lambda m: lambda x, a: (x + int(m.group(1))) % a),
    (r"shift(\d+)", "cyclic position shift: move every letter n places left "
     "(ABCD -> BCDA for n=1)",
     lambda m: lambda x, a: np.roll(x, -int(m.group(1)), axis=1)),
    (r"reverse", "reverse the order of the letters",
     lambda m: lambda x, a: x[:, ::-1]),
    (r"atbash", "mirror the alphabet: first letter <-> last letter",
     lambda m: lambda x, a: a - 1 - x),
    (r"swap", "swap neighbouring pairs of positions (ABCDE -> BADCE)",
     lambda m: _swap_pairs),
]


def _swap_pairs(x: np.ndarray, a: int) -> np.ndarray:
    out = x.copy()
    even = x.shape[1] - x.shape[1] % 2
    out[:, 0:even:2], out[:, 1:even:2] = x[:, 1:even:2], x[:, 0:even:2]
    return out


def transform_fn(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """The array function of a transformation name such as ``rot3`` or ``reverse``.

    The function maps an (n, length) array of letter indices to another, given the alphabet
    size. Raises ValueError listing the known patterns for an unknown name.
    """
    for pattern, _, build in _TRANSFORM_RULES:
        match = re.fullmatch(pattern, name)
        if match:
            return build(match)
    known = ", ".join(p.replace(r"(\d+)", "N") for p, _, _ in _TRANSFORM_RULES)
    raise ValueError(f"unknown transformation {name!r}; known: {known} (N a whole number)")


def describe_transforms() -> dict[str, str]:
    """Name pattern -> what the transformation does, for the book's tables."""
    return {p.replace(r"(\d+)", "N"): d for p, d, _ in _TRANSFORM_RULES}


def transforms_table() -> pd.DataFrame:
    """The atomic transformations and what each does, as a table."""
    return pd.DataFrame(describe_transforms().items(),
                        columns=["transformation", "what it does"])


NOISE_KINDS = ("insert", "delete", "modify", "hybrid")
NOISE_TARGETS = ("element", "transform", "instruction")


@dataclass(frozen=True)
class LetterConfig:
    """The letter-transform task space (after DataAlchemy, arXiv:2508.01191).

    Attributes:
        alphabet_size: letters in use, the first ``alphabet_size`` of A-Z. Range 2-26.
        lengths: element lengths in the grid (letters per string), each 1-12. Training
            uses the split's ``train_lengths``; the others are for length tests.
        transforms: atomic transformations, e.g. ``("rot3", "shift1", "reverse",
            "atbash")``; see ``describe_transforms()``. One to eight, unique.
        depths: composition depths in the grid (how many transformations are chained),
            each 1-4.
        trace: if True the target spells out every intermediate string before
            ``<answer>`` (chain of thought); if False it is the answer alone.
        noise_p: probability that each noisable prompt token is corrupted in the
            ``"noisy"`` format, in [0, 1]. With 0 the grid has no noisy format.
        noise_kind: ``insert`` (an ``<unk>`` before the token), ``delete``, ``modify``
            (the token becomes ``<unk>``) or ``hybrid`` (one of the three at random).
        noise_on: which prompt tokens may be corrupted: any of ``element`` (letters),
            ``transform`` (transformation tokens), ``instruction`` (``<think>`` or
            ``<answer>``). Gold targets are never corrupted.
    """

    kind: ClassVar[str] = "letters"

    alphabet_size: int = 8
    lengths: tuple[int, ...] = (3, 4, 5)
    transforms: tuple[str, ...] = ("rot3", "shift1", "reverse", "atbash")
    depths: tuple[int, ...] = (2,)
    trace: bool = True
    noise_p: float = 0.0
    noise_kind: str = "hybrid"
    noise_on: tuple[str, ...] = ("element", "transform", "instruction")

    def __post_init__(self):
        check_range("alphabet_size", self.alphabet_size, 2, 26, integer=True)
        _check_int_tuple("lengths", self.lengths, 1, 12)
        _check_int_tuple("depths", self.depths, 1, 4)
        if not isinstance(self.transforms, tuple) or not 1 <= len(self.transforms) <= 8:
            raise ValueError(f"transforms must be a tuple of 1 to 8 names, "
                             f"got {self.transforms!r}")
        if len(set(self.transforms)) != len(self.transforms):
            raise ValueError(f"transforms must be unique, got {self.transforms!r}")
        for name in self.transforms:
            if not isinstance(name, str):
                raise ValueError(f"transform names must be strings, got {name!r}")
            transform_fn(name)
            rot = re.fullmatch(r"rot(\d+)", name)
            if rot and int(rot.group(1)) % self.alphabet_size == 0:
                raise ValueError(f"{name} does nothing with an alphabet of "
                                 f"{self.alphabet_size} letters; pick N not a multiple "
                                 f"of {self.alphabet_size}")
        check_bool("trace", self.trace)
        check_range("noise_p", self.noise_p, 0.0, 1.0)
        check_choice("noise_kind", self.noise_kind, NOISE_KINDS)
        if not isinstance(self.noise_on, tuple) or not self.noise_on:
            raise ValueError(f"noise_on must be a non-empty tuple of {NOISE_TARGETS}")
        for target in self.noise_on:
            check_choice("noise_on entry", target, NOISE_TARGETS)

    @property
    def compositions(self) -> list[tuple[str, ...]]:
        """Every chain of transformations in the grid, shortest first."""
        return [c for d in sorted(self.depths)
                for c in _product(self.transforms, d)]


def _product(items: tuple[str, ...], depth: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for _ in range(depth):
        out = [c + (item,) for c in out for item in items]
    return out


def _check_int_tuple(name: str, value, low: int, high: int) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValueError(f"{name} must be a non-empty tuple of integers in "
                         f"[{low}, {high}], got {value!r}")
    for v in value:
        check_range(f"{name} entry", v, low, high, integer=True)
    if len(set(value)) != len(value):
        raise ValueError(f"{name} must not repeat values, got {value!r}")


# Pool hashing: each instance (a letter string) belongs to the train or the test share by
# a salted 64-bit hash, so the shares are fixed by the salt and never overlap.
_ENUMERATE_UP_TO = 1 << 16


@functools.lru_cache(maxsize=64)
def _enumerated_pool(alphabet: int, length: int, salt: int, test_share: float,
                     pool: str) -> np.ndarray:
    """All codes of one share, for spaces small enough to list."""
    codes = np.arange(alphabet ** length, dtype=np.int64)
    chosen = codes[_in_pool(codes, length, alphabet ** length, salt, test_share, pool)]
    chosen.setflags(write=False)
    return chosen


def _in_pool(codes: np.ndarray, length: int, size: int, salt: int, test_share: float,
             pool: str) -> np.ndarray:
    """Which string codes fall in ``pool``: a ``test_share`` of the strings is never
    trained on, and a second hash splits it in halves, one for early stopping (``val``)
    and one for the tests (``test``)."""
    held = hash_unit(codes + length * size, salt) < test_share
    if pool == "train":
        return ~held
    val = hash_unit(codes + length * size, salt ^ 0x7A1) < 0.5
    return held & (val if pool == "val" else ~val)


def _decode_codes(codes: np.ndarray, alphabet: int, length: int) -> np.ndarray:
    powers = alphabet ** np.arange(length, dtype=np.int64)
    return (codes[:, None] // powers[None, :]) % alphabet


def sample_strings(alphabet: int, length: int, n: int, rng: np.random.Generator,
                   pool: str, salt: int, test_share: float) -> np.ndarray:
    """``n`` random letter strings, (n, length) ints, all from one share of the space.

    Spaces of up to 65,536 strings are listed and sampled exactly; larger ones by
    rejection, which is exact too.
    """
    check_choice("pool", pool, POOLS)
    size = alphabet ** length
    if size <= _ENUMERATE_UP_TO:
        codes = _enumerated_pool(alphabet, length, salt, test_share, pool)
        if len(codes) == 0:
            raise ValueError(f"the {pool} share of strings of length {length} over "
                             f"{alphabet} letters is empty; use a larger alphabet or "
                             f"length, or a test_share further from 0 and 1")
        return _decode_codes(codes[rng.integers(0, len(codes), n)], alphabet, length)
    keep = test_share / 2 if pool != "train" else 1 - test_share
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        draw = rng.integers(0, alphabet, (max(16, math.ceil(1.3 * (n - total) / keep)),
                                          length))
        codes = draw @ (alphabet ** np.arange(length, dtype=np.int64))
        draw = draw[_in_pool(codes, length, size, salt, test_share, pool)]
        found.append(draw)
        total += len(draw)
    return np.concatenate(found)[:n]


@dataclass(frozen=True, order=True)
class LetterCell(Cell):
    """One point of the letter grid: which composition, at which length, in which format."""

    composition: tuple[str, ...]
    length: int
    fmt: str = "clean"

    @property
    def key(self) -> tuple:
        return (self.composition, self.length, self.fmt)

    def __str__(self) -> str:
        return f"{'∘'.join(self.composition)} | len {self.length} | {self.fmt}"


@register_task
class LetterTask(Task):
    """Strings of letters under chains of transformations, with or without a trace.

    Worked example (alphabet of 8 letters A-H, composition ``("rot3", "reverse")``,
    element ``A B C D``)::

        prompt:  A B C D [rot3] [reverse] <think>
        target:  D E F G [reverse] <answer> G F E D <eos>

    ROT-3 turns ABCD into DEFG (the trace spells out that intermediate string followed by
    the transformations still to apply), then reverse gives GFED. Without a trace the
    prompt ends in ``<answer>`` and the target is ``G F E D <eos>``. Transformations are
    applied in the order written. ``shift1`` moves letters one place left, as the
    DataAlchemy code does (ABCD -> BCDA).
    """

    config_class = LetterConfig
    split_config_class = LetterSplitConfig
    test_splits = TEST_SPLIT_SPECS

    def __init__(self, config: LetterConfig):
        super().__init__(config)
        letters = tuple(LETTERS[:config.alphabet_size])
        self._transform_tokens = {t: f"[{t}]" for t in config.transforms}
        self._vocab = Vocab(SPECIAL_TOKENS + letters
                            + tuple(self._transform_tokens.values()))
        self._fns = {t: transform_fn(t) for t in config.transforms}
        self._letter0 = self._vocab.index[letters[0]]

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    def grid(self) -> list[LetterCell]:
        fmts = ("clean", "noisy") if self.config.noise_p > 0 else ("clean",)
        return [LetterCell(c, n, f) for c in self.config.compositions
                for n in sorted(self.config.lengths) for f in fmts]

    @property
    def max_len(self) -> int:
        cfg = self.config
        n, k = max(cfg.lengths), max(cfg.depths)
        prompt = n + k + 1
        target = (k - 1) * n + k * (k - 1) // 2 + 1 + n + 1 if cfg.trace else n + 1
        return 2 * prompt + target  # insert noise can at most double the prompt

    def apply(self, composition: Sequence[str], x: np.ndarray) -> list[np.ndarray]:
        """Every intermediate string of a composition, the final one last."""
        steps = []
        for name in composition:
            x = self._fns[name](x, self.config.alphabet_size)
            steps.append(x)
        return steps

    def sample(self, cell: LetterCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.2) -> Examples:
        if cell.length not in self.config.lengths or any(
                t not in self._fns for t in cell.composition):
            raise ValueError(f"cell {cell} is not in this task's grid")
        x = sample_strings(self.config.alphabet_size, cell.length, n, rng, pool, salt,
                           test_share)
        letter = lambda a: a + self._letter0  # noqa: E731  letter index -> token id
        ids = self._vocab.index
        comp = [ids[self._transform_tokens[t]] for t in cell.composition]
        instr = ids[THINK] if self.config.trace else ids[ANSWER]
        column = lambda tok: np.full((n, 1), tok, np.int64)  # noqa: E731
        prompt = [letter(x)] + [column(t) for t in comp] + [column(instr)]
        steps = self.apply(cell.composition, x)
        target = []
        if self.config.trace:
            for i, step in enumerate(steps[:-1]):
                target += [letter(step)] + [column(t) for t in comp[i + 1:]]
        target += [column(ids[ANSWER])] if self.config.trace else []
        target += [letter(steps[-1]), column(ids[EOS])]
        prompt_arr, target_arr = np.concatenate(prompt, 1), np.concatenate(target, 1)
        if cell.fmt == "noisy":
            return self._noisy(prompt_arr, target_arr, cell, rng)
        tokens = np.concatenate([prompt_arr, target_arr], 1)
        return Examples(tokens, np.full(n, prompt_arr.shape[1]),
                        np.full(n, tokens.shape[1]), (cell,) * n)

    def _noisy(self, prompt: np.ndarray, target: np.ndarray, cell: LetterCell,
               rng: np.random.Generator) -> Examples:
        """Corrupt prompt tokens of the chosen kinds; the target stays gold."""
        cfg, unk = self.config, self._vocab.index[UNK]
        kinds = (["element"] * cell.length + ["transform"] * len(cell.composition)
                 + ["instruction"])
        rows = []
        for row in prompt:
            out: list[int] = []
            for tok, kind in zip(row, kinds):
                if kind not in cfg.noise_on or rng.random() >= cfg.noise_p:
                    out.append(int(tok))
                    continue
                how = cfg.noise_kind
                if how == "hybrid":
                    how = NOISE_KINDS[int(rng.integers(0, 3))]
                out += {"insert": [unk, int(tok)], "delete": [], "modify": [unk]}[how]
            rows.append(out)
        n = len(rows)
        prompt_len = np.array([len(r) for r in rows], np.int64)
        tokens = np.zeros((n, int(prompt_len.max()) + target.shape[1]), np.int64)
        for i, r in enumerate(rows):
            tokens[i, :len(r)] = r
            tokens[i, len(r):len(r) + target.shape[1]] = target[i]
        return Examples(tokens, prompt_len, prompt_len + target.shape[1], (cell,) * n)

    def solve(self, prompt: Sequence[str]) -> list[str]:
        """Parse a clean prompt and compute its target with the transformations."""
        prompt = list(prompt)
        names = {tok: t for t, tok in self._transform_tokens.items()}
        letters = {c: i for i, c in enumerate(LETTERS[:self.config.alphabet_size])}
        first = next((i for i, tok in enumerate(prompt) if tok not in letters), len(prompt))
        if first == 0 or first >= len(prompt) - 1 or prompt[-1] not in (THINK, ANSWER):
            raise ValueError(f"not a clean prompt of this task: {' '.join(prompt)}")
        unknown = [t for t in prompt[first:-1] if t not in names]
        if unknown:
            raise ValueError(f"tokens {unknown} are not letters or transformations of this "
                             f"task (letters {''.join(letters)}, transformations "
                             f"{list(self._transform_tokens.values())})")
        x = np.array([[letters[c] for c in prompt[:first]]])
        comp = [names[tok] for tok in prompt[first:-1]]
        steps = [[LETTERS[i] for i in s[0]] for s in self.apply(comp, x)]
        if prompt[-1] == ANSWER:
            return steps[-1] + [EOS]
        out: list[str] = []
        for i, step in enumerate(steps[:-1]):
            out += step + [self._transform_tokens[t] for t in comp[i + 1:]]
        return out + [ANSWER] + steps[-1] + [EOS]

    def sources(self, prompt: Sequence[str], answer: Sequence[str],
                compositions: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
        """Which of ``compositions`` turn the prompt's string into ``answer`` (the empty
        chain ``()`` is the string itself). Used to ask which function a model computed
        when its answer is wrong.

        Example: for the prompt ``A B C D [rot3] [shift1] <think>``, the answer
        ``D E F G`` comes from ``("rot3",)``, a step left out.
        """
        letters = {c: i for i, c in enumerate(LETTERS[:self.config.alphabet_size])}
        first = next((i for i, tok in enumerate(prompt) if tok not in letters),
                     len(prompt))
        x = np.array([[letters[c] for c in prompt[:first]]])
        want = list(answer)
        out = []
        for comp in compositions:
            y = self.apply(comp, x)[-1][0] if comp else x[0]
            if [LETTERS[i] for i in y] == want:
                out.append(tuple(comp))
        return out

    def parts(self, target: Sequence[str]) -> dict[str, list[str]]:
        """``full`` (everything before ``<eos>``), ``reasoning`` (the trace before
        ``<answer>``; only with a trace) and ``answer`` (after ``<answer>``)."""
        full = until_eos(target)
        if not self.config.trace:
            return {"full": full, "answer": full}
        if ANSWER in full:
            cut = full.index(ANSWER)
            return {"full": full, "reasoning": full[:cut], "answer": full[cut + 1:]}
        return {"full": full, "reasoning": full, "answer": []}

    def cells_of(self, compositions: Sequence[Sequence[str]]) -> list[LetterCell]:
        """The clean cells of these compositions, at every length of the grid."""
        wanted = {tuple(c) for c in compositions}
        return [c for c in self.grid() if c.composition in wanted and c.fmt == "clean"]

    def make_split(self, cfg: LetterSplitConfig, seed: int) -> Split:
        """Coverage of the composition grid (``toylab.tasks.letter_splits``)."""
        return make_letter_split(self, cfg, seed)

    def cell_columns(self, cell: LetterCell) -> dict[str, Any]:
        return {"composition": "∘".join(cell.composition), "length": cell.length}
