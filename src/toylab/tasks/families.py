"""Task families for a schedule: structured ones, an open-ended one and its control.

Every family shares one prompt shape, a letter string followed by the family's tag, and one
vocabulary, so one model can learn them all, one after another or mixed:

* **structured** families (``structured``, any letter transformation of
  ``toylab.tasks.letters``; default ``rot3`` and ``reverse``): one right answer, scored by
  exact match::

      B A D H [rot3]     ->  E D G C <eos>
      B A D H [reverse]  ->  H D A B <eos>

* the **open-ended** family ``gen`` (``gen="open"``): any string of the prompt's length
  written only with letters the prompt contains is valid. Each training answer copies, at
  every position, the letter of a random position of the prompt, drawn afresh for every
  example, so the ideal model spreads its probability over the prompt's letters and its
  outputs have high entropy. It is scored by sampling (``toylab.experiments.order``):
  validity, diversity and entropy together::

      B A D H [gen]  ->  D D A B <eos>   (or H A A D, or B B B B, ...)

* its **deterministic control** (``gen="control"``): the same prompts, the same tag and
  the same permitted set, and the same kind of computation (copy a position of the
  prompt), but from fixed positions: the prompt moved one place left. It is one valid
  answer of the open family, with no output entropy::

      B A D H [gen]  ->  A D H B <eos>

Strings are split by a salted hash into a training share and a test share (as in the
letter family), and every family draws its training examples from the training share and
its tests from the test share, so no test prompt of any family is ever trained on. The open
family and its control draw the same strings (the same salt): their prompts are identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import Split
from toylab.tasks.base import KeyCell, Task, TestSplit, register_task
from toylab.tasks.data import EOS, PAD, Examples, Vocab, until_eos
from toylab.tasks.letters import LETTERS, sample_strings, transform_fn

GEN = "gen"
GEN_KINDS = ("open", "control")


@dataclass(frozen=True)
class FamilyConfig:
    """The families one model learns.

    Attributes:
        structured: letter transformations (``rot3``, ``reverse``, ``shift1``, ``atbash``,
            ...), each a structured family with its own tag; 1-4 of them, no repeats.
        gen: ``"open"`` (any valid string, fresh at random each time) or ``"control"``
            (the prompt moved one place left: one answer from the same permitted set).
        alphabet_size: letters A, B, ... used, 2-26.
        length: letters in a prompt (and in every answer), 2-8.
    """

    kind = "families"

    structured: tuple[str, ...] = ("rot3", "reverse")
    gen: str = "open"
    alphabet_size: int = 8
    length: int = 4

    def __post_init__(self):
        if (not isinstance(self.structured, tuple) or not 1 <= len(self.structured) <= 4
                or len(set(self.structured)) != len(self.structured)):
            raise ValueError("structured must be a tuple of 1 to 4 different letter "
                             f"transformations, got {self.structured!r}")
        for name in self.structured:
            if name == GEN:
                raise ValueError(f"{GEN!r} names the open-ended family, not a structured "
                                 "one")
            transform_fn(name)  # raises for an unknown name
        check_choice("gen", self.gen, GEN_KINDS)
        check_range("alphabet_size", self.alphabet_size, 2, 26, integer=True)
        check_range("length", self.length, 2, 8, integer=True)

    @property
    def families(self) -> tuple[str, ...]:
        """Every family, the structured ones first, ``gen`` last."""
        return (*self.structured, GEN)


@dataclass(frozen=True)
class FamilySplitConfig:
    """How many examples of each family, and which strings are held out.

    Attributes:
        n_train: training examples of each family, 1-50,000.
        n_test: test prompts of each family, 1-5,000.
        test_share: share of the strings never trained on, in [0.05, 0.95].
        seed: seeds the string shares and the draws; None means the experiment's seed.
    """

    n_train: int = 2000
    n_test: int = 64
    test_share: float = 0.25
    seed: int | None = None

    def __post_init__(self):
        check_range("n_train", self.n_train, 1, 50_000, integer=True)
        check_range("n_test", self.n_test, 1, 5_000, integer=True)
        check_range("test_share", self.test_share, 0.05, 0.95)
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


@register_task
class FamilyTask(Task):
    """Several families on one vocabulary (see the module docstring). A cell is one family,
    ``KeyCell((name,))``."""

    config_class = FamilyConfig
    split_config_class = FamilySplitConfig
    #: the default families' test splits (names, descriptions, colours in figures)
    test_splits = (TestSplit("rot3", "new strings of the rot3 family", "#1b7837"),
                   TestSplit("reverse", "new strings of the reverse family", "#2166ac"),
                   TestSplit(GEN, "the open-ended family or its control", "#e08214"))

    def __init__(self, config: FamilyConfig):
        super().__init__(config)
        self.letters = tuple(LETTERS[:config.alphabet_size])
        self.tags = {name: f"[{name}]" for name in config.families}
        self._vocab = Vocab((PAD, EOS) + self.letters + tuple(self.tags.values()))
        self._fns = {name: transform_fn(name) for name in config.structured}
        self._letter0 = self._vocab.index[self.letters[0]]

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    @property
    def families(self) -> tuple[str, ...]:
        return self.config.families

    def grid(self) -> list[KeyCell]:
        return [KeyCell((name,)) for name in self.families]

    @property
    def max_len(self) -> int:
        return 2 * self.config.length + 2  # letters, tag, letters, <eos>

    @property
    def letter_ids(self) -> np.ndarray:
        """Token ids of the letters, in alphabetical order."""
        return np.arange(self.config.alphabet_size) + self._letter0

    def answer(self, family: str, x: np.ndarray, rng: np.random.Generator | None = None
               ) -> np.ndarray:
        """Answers (n, length) of letter indices for strings ``x`` (n, length): the
        transformation of a structured family, the prompt moved one place left (control),
        or (open) one random valid string per row, drawn with ``rng``."""
        if family in self._fns:
            return self._fns[family](x, self.config.alphabet_size)
        if family != GEN:
            raise ValueError(f"no family {family!r}; families: {list(self.families)}")
        if self.config.gen == "control":
            return np.roll(x, -1, axis=1)
        if rng is None:
            raise ValueError("the open family draws its answers at random: pass an rng")
        pick = rng.integers(0, x.shape[1], x.shape)
        return np.take_along_axis(x, pick, axis=1)

    def sample(self, cell: KeyCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.25) -> Examples:
        (family,) = cell.key
        if family not in self.families:
            raise ValueError(f"cell {cell} is not in this task's grid {self.grid()}")
        x = sample_strings(self.config.alphabet_size, self.config.length, n, rng, pool,
                           salt, test_share)
        y = self.answer(family, x, rng)
        tag = np.full((n, 1), self._vocab.index[self.tags[family]], np.int64)
        eos = np.full((n, 1), self._vocab.index[EOS], np.int64)
        tokens = np.concatenate([x + self._letter0, tag, y + self._letter0, eos], axis=1)
        k = self.config.length
        return Examples(tokens, np.full(n, k + 1, np.int64), np.full(n, 2 * k + 2,
                                                                        np.int64),
                        (cell,) * n)

    def solve(self, prompt: Sequence[str]) -> list[str]:
        """The answer of a structured family or the control; the open family has no single
        answer (ValueError: use ``valid``)."""
        *letters, tag = prompt
        family = next((f for f, t in self.tags.items() if t == tag), None)
        if family is None:
            raise ValueError("the prompt must end in a family tag "
                             f"{list(self.tags.values())}")
        if family == GEN and self.config.gen == "open":
            raise ValueError("the open family has many right answers; use valid(prompt, "
                             "output)")
        x = np.array([[self.letters.index(a) for a in letters]])
        return [self.letters[i] for i in self.answer(family, x)[0]] + [EOS]

    def valid(self, prompt: Sequence[str], output: Sequence[str]) -> bool:
        """Whether ``output`` is in the permitted set of a ``gen`` prompt: as many letters
        as the prompt, each one of the prompt's letters (then ``<eos>``, if any)."""
        letters = [t for t in prompt if t in self.letters]
        out = until_eos(output)
        return len(out) == len(letters) and set(out) <= set(letters)

    def make_split(self, cfg: FamilySplitConfig, seed: int) -> Split:
        return make_family_split(self, cfg, seed)


def make_family_split(task: FamilyTask, cfg: FamilySplitConfig, seed: int) -> Split:
    """Each family's training examples (``Split.pools[name]``; ``train`` is all of them,
    the joint mixture) and its test split (``tests[name]``), from disjoint string shares.

    The draws of each family come from their own random stream, so adding or reordering
    families never changes another family's examples, and the open family and its control
    get the same strings."""
    salt = seed if cfg.seed is None else cfg.seed
    pools, tests = {}, {}
    for name in task.families:
        index = 0 if name == GEN else 1 + task.config.structured.index(name)
        stream = np.random.SeedSequence([salt, 1 + index])
        data_rng, test_rng = (np.random.default_rng(s) for s in stream.spawn(2))
        cell = KeyCell((name,))
        pools[name] = task.sample(cell, cfg.n_train, data_rng, "train", salt,
                                  cfg.test_share)
        tests[name] = task.sample(cell, cfg.n_test, test_rng, "test", salt, cfg.test_share)
    cells = task.grid()
    split = Split(
        train=Examples.concat(list(pools.values())), patch=Examples.empty(),
        val=Examples.empty(), tests=tests, train_cells=cells,
        test_cells={name: [KeyCell((name,))] for name in task.families}, patch_cells=[],
        coverage=1.0, record={"families": list(task.families), "gen": task.config.gen},
        in_distribution=tuple(task.families), pools=pools)
    split.check_no_leakage()
    return split
