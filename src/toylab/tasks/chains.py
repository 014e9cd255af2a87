"""Arithmetic problems solved by a chain of function calls, a teacher that makes errors of
known type, and execution that labels chains right or wrong (chapter 4).

A *problem* is a start digit and a few operations, read left to right, modulo
``modulus``. Its prompt is the problem in words, ending with ``?``; its chain calls one
function per operation, writes each call's result, and ends with the answer::

    3 plus 4 times 2 ?   ->   add ( 3 , 4 ) = 7 mul ( 7 , 2 ) = 4 ans 4 <eos>

(``7 * 2 = 14``, and ``14 mod 10 = 4``.) The first argument of every call after the first is
the previous call's result; the second is the number the prompt names.

The *teacher* is the oracle with an error of a known type injected into one call:

* ``format``: one syntax token (``(``, ``,``, ``)``, ``=`` or ``ans``) is left out, so the
  chain does not parse: ``add ( 3 , 4 ) 7 mul ( 7 , 2 ) = 4 ans 4``;
* ``function``: the wrong function, computed correctly: ``sub ( 3 , 4 ) = 9 ...``;
* ``argument``: a wrong argument (a misread number, or a first argument that is not the
  previous result), computed correctly: ``add ( 3 , 5 ) = 8 ...``;
* ``arithmetic``: the right call with a wrong result: ``add ( 3 , 4 ) = 6 ...``.

Every later call carries the error on, so the answer is wrong (the teacher draws again
until it is). *Execution* labels a chain: it is right when it parses and its answer is the
problem's answer (``execute``). ``classify`` says which kind of error a wrong chain makes,
by walking it beside the oracle's chain to the first call that differs.

The split (``ChainSplitConfig``) holds the teacher's right chains for supervised training,
(right, wrong) pairs for the same problems for preference training (pools ``chosen`` and
``rejected``; the wrong chain's error type is drawn from the types the negatives cover),
and new problems to test on (``test``). Problems are assigned to the train or test share by
a salted hash, so no test problem is ever trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import Split, spread
from toylab.tasks.base import Cell, Task, TestSplit, register_task
from toylab.tasks.data import EOS, SPECIAL_TOKENS, Examples, Vocab, hash_unit, until_eos

#: Operations: the word in the prompt, the function called, what it computes.
OPERATIONS = {"plus": ("add", lambda a, b: a + b),
              "minus": ("sub", lambda a, b: a - b),
              "times": ("mul", lambda a, b: a * b)}
FUNCTIONS = {fn: op for _, (fn, op) in OPERATIONS.items()}
WORDS = {word: fn for word, (fn, _) in OPERATIONS.items()}
#: The teacher's error types, in the order the chapter lists them.
ERROR_TYPES = ("format", "function", "argument", "arithmetic")
#: What a student's chain can be: right, one of the error types, or ``other`` (the
#: calls are right but too few or too many, or the answer is not the last result).
OUTCOMES = ("right", *ERROR_TYPES, "other")
SYNTAX = ("(", ",", ")", "=")
ASK, ANS = "?", "ans"


def negative_types(negatives: str) -> tuple[str, ...]:
    """The error types a ``negatives`` setting covers: ``"all"``, or error types joined by
    ``+`` (``"format+arithmetic"``)."""
    if not isinstance(negatives, str):
        raise ValueError(f"negatives must be a string: 'all' or error types joined by '+' "
                         f"from {list(ERROR_TYPES)}, got {negatives!r}")
    if negatives == "all":
        return ERROR_TYPES
    types = tuple(negatives.split("+"))
    for t in types:
        check_choice("negatives entry", t, ERROR_TYPES)
    if len(set(types)) != len(types):
        raise ValueError(f"negatives names an error type twice: {negatives!r}")
    return tuple(t for t in ERROR_TYPES if t in types)


@dataclass(frozen=True)
class ChainConfig:
    """The problem space.

    Attributes:
        modulus: numbers are digits modulo this, 5-10.
        lengths: operations per problem (calls per chain), each 1-6.
        functions: which operations problems use, from ``plus``, ``minus``, ``times``.
    """

    kind: ClassVar[str] = "chains"

    modulus: int = 10
    lengths: tuple[int, ...] = (2, 3)
    functions: tuple[str, ...] = ("plus", "minus", "times")

    def __post_init__(self):
        check_range("modulus", self.modulus, 5, 10, integer=True)
        if not isinstance(self.lengths, tuple) or not self.lengths:
            raise ValueError("lengths must be a non-empty tuple of operation counts")
        for n in self.lengths:
            check_range("lengths entry", n, 1, 6, integer=True)
        if not isinstance(self.functions, tuple) or len(self.functions) < 2:
            raise ValueError(f"functions must be a tuple of at least two of "
                             f"{list(OPERATIONS)}")
        for f in self.functions:
            check_choice("functions entry", f, OPERATIONS)


@dataclass(frozen=True)
class ChainSplitConfig:
    """What the teacher writes for training, and what is tested.

    Attributes:
        n_train: problems whose right chain is in the supervised training set, 1-100,000.
        n_pairs: problems with a (right, wrong) pair for preference training, 1-100,000;
            drawn from the training share of problems, independently of ``n_train``.
        negatives: which error types the wrong chains cover: ``"all"`` or types joined
            by ``+`` (see ``ERROR_TYPES``); each pair's type is drawn from these, in
            equal shares.
        n_test: new problems in the ``test`` split, 1-20,000.
        n_val: further new problems (from the test share) for validation, 1-20,000.
        test_share: share of problems reserved for testing, in [0.05, 0.95].
        seed: seeds the problems drawn; None means the experiment's seed decides.
    """

    n_train: int = 400
    n_pairs: int = 400
    negatives: str = "all"
    n_test: int = 256
    n_val: int = 128
    test_share: float = 0.2
    seed: int | None = None

    def __post_init__(self):
        check_range("n_train", self.n_train, 1, 100_000, integer=True)
        check_range("n_pairs", self.n_pairs, 1, 100_000, integer=True)
        negative_types(self.negatives)
        check_range("n_test", self.n_test, 1, 20_000, integer=True)
        check_range("n_val", self.n_val, 1, 20_000, integer=True)
        check_range("test_share", self.test_share, 0.05, 0.95)
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


@dataclass(frozen=True, order=True)
class ChainCell(Cell):
    """Problems with ``length`` operations."""

    length: int

    @property
    def key(self) -> tuple:
        return (self.length,)


@dataclass(frozen=True)
class Problem:
    """A start digit and the operations applied to it, left to right."""

    start: int
    ops: tuple[tuple[str, int], ...]  # (word, number)


Call = tuple[str, int, int, int]  # (function, first argument, second argument, result)

TEST_SPLIT_SPECS = (TestSplit("test", "new problems, lengths as trained", "#1b7837"),)


@register_task
class ChainTask(Task):
    """Arithmetic problems and their chains of function calls (see the module docstring).

    Example (modulus 10): ``3 plus 4 times 2 ?`` -> ``add ( 3 , 4 ) = 7 mul ( 7 , 2 ) = 4
    ans 4 <eos>``.
    """

    config_class = ChainConfig
    split_config_class = ChainSplitConfig
    test_splits = TEST_SPLIT_SPECS

    def __init__(self, config: ChainConfig):
        super().__init__(config)
        digits = tuple(str(d) for d in range(config.modulus))
        fns = tuple(FUNCTIONS)
        self._vocab = Vocab(SPECIAL_TOKENS + digits + tuple(OPERATIONS) + fns + SYNTAX
                            + (ASK, ANS))

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    def grid(self) -> list[ChainCell]:
        return [ChainCell(n) for n in sorted(self.config.lengths)]

    @property
    def max_len(self) -> int:
        k = max(self.config.lengths)
        return (2 * k + 2) + (8 * k + 3)

    # --- problems --------------------------------------------------------------------

    def _code(self, p: Problem) -> int:
        """A number that names the problem (for the train/test hash)."""
        m, words = self.config.modulus, list(OPERATIONS)
        code = p.start
        for word, b in p.ops:
            code = code * 3 * m + words.index(word) * m + b
        return code * 8 + len(p.ops)

    def problems(self, cell: ChainCell, n: int, rng: np.random.Generator, pool: str,
                 salt: int, test_share: float = 0.2) -> list[Problem]:
        """``n`` random problems of one cell from one share (``train`` or ``test``)."""
        check_choice("pool", pool, ("train", "test"))
        m, words = self.config.modulus, self.config.functions
        space = m * (len(words) * m) ** cell.length
        share = test_share if pool == "test" else 1 - test_share
        if space * share < 4 * n ** 0.5:
            raise ValueError(f"cell {cell} has only about {int(space * share)} {pool} "
                             f"problems; ask for fewer, or longer chains")
        out: list[Problem] = []
        while len(out) < n:
            k = 2 * (n - len(out)) + 16
            starts = rng.integers(0, m, k)
            ops = rng.integers(0, len(words), (k, cell.length))
            nums = rng.integers(0, m, (k, cell.length))
            batch = [Problem(int(s), tuple((words[o], int(b)) for o, b in zip(os, bs)))
                     for s, os, bs in zip(starts, ops, nums)]
            codes = np.array([self._code(p) for p in batch], np.uint64)
            in_test = hash_unit(codes, salt) < test_share
            out += [p for p, t in zip(batch, in_test) if t == (pool == "test")]
        return out[:n]

    def calls(self, p: Problem) -> list[Call]:
        """The oracle's calls for a problem."""
        m, x, out = self.config.modulus, p.start, []
        for word, b in p.ops:
            fn = WORDS[word]
            r = FUNCTIONS[fn](x, b) % m
            out.append((fn, x, b, r))
            x = r
        return out

    def answer(self, p: Problem) -> int:
        return self.calls(p)[-1][3]

    def prompt_tokens(self, p: Problem) -> list[str]:
        return [str(p.start)] + [t for word, b in p.ops for t in (word, str(b))] + [ASK]

    @staticmethod
    def chain_tokens(calls: Sequence[Call], answer: int) -> list[str]:
        out: list[str] = []
        for fn, a, b, r in calls:
            out += [fn, "(", str(a), ",", str(b), ")", "=", str(r)]
        return out + [ANS, str(answer), EOS]

    def parse_prompt(self, prompt: Sequence[str]) -> Problem:
        """The problem a clean prompt states."""
        prompt = list(prompt)
        digits = {str(d) for d in range(self.config.modulus)}
        if (len(prompt) < 4 or len(prompt) % 2 or prompt[-1] != ASK
                or prompt[0] not in digits
                or any(w not in OPERATIONS for w in prompt[1:-1:2])
                or any(d not in digits for d in prompt[2:-1:2])):
            raise ValueError(f"not a prompt of this task: {' '.join(prompt)} (a digit, "
                             "then word-number pairs such as 'plus 4', then '?')")
        return Problem(int(prompt[0]), tuple((w, int(d)) for w, d in
                                             zip(prompt[1:-1:2], prompt[2:-1:2])))

    def solve(self, prompt: Sequence[str]) -> list[str]:
        p = self.parse_prompt(prompt)
        return self.chain_tokens(self.calls(p), self.answer(p))

    # --- the teacher and execution ---------------------------------------------------

    def teacher(self, p: Problem, error: str | None, rng: np.random.Generator
                ) -> list[str]:
        """The teacher's chain: the oracle's (``error`` None) or one with an error of
        that type in one call, carried on to a wrong answer."""
        if error is None:
            return self.solve(self.prompt_tokens(p))
        check_choice("error", error, ERROR_TYPES)
        truth = self.answer(p)
        if error == "format":
            chain = self.solve(self.prompt_tokens(p))
            spots = [i for i, t in enumerate(chain) if t in SYNTAX + (ANS,)]
            del chain[spots[int(rng.integers(len(spots)))]]
            return chain
        for _ in range(100):
            calls = self._wrong_calls(p, error, rng)
            if calls[-1][3] != truth:
                return self.chain_tokens(calls, calls[-1][3])
        raise ValueError(f"no {error} error changes the answer of {p}")

    def _wrong_calls(self, p: Problem, error: str, rng: np.random.Generator
                     ) -> list[Call]:
        m = self.config.modulus
        at = int(rng.integers(len(p.ops)))
        other = lambda v: int((v + rng.integers(1, m)) % m)  # noqa: E731  another digit
        x, out = p.start, []
        for i, (word, b) in enumerate(p.ops):
            fn, a = WORDS[word], x
            if i == at and error == "function":
                fn = str(rng.choice([f for f in FUNCTIONS if f != fn]))
            if i == at and error == "argument":
                if i > 0 and rng.random() < 0.5:
                    a = other(a)
                else:
                    b = other(b)
            r = FUNCTIONS[fn](a, b) % m
            if i == at and error == "arithmetic":
                r = other(r)
            out.append((fn, a, b, r))
            x = r
        return out

    def parse_chain(self, tokens: Sequence[str]) -> tuple[list[Call], int] | None:
        """The calls and the answer of a chain, or None if it does not parse."""
        toks = until_eos(tokens)
        digits = {str(d) for d in range(self.config.modulus)}
        calls: list[Call] = []
        i = 0
        while i < len(toks) and toks[i] in FUNCTIONS:
            part = toks[i:i + 8]
            if (len(part) < 8 or part[1] != "(" or part[3] != "," or part[5] != ")"
                    or part[6] != "=" or not {part[2], part[4], part[7]} <= digits):
                return None
            calls.append((part[0], int(part[2]), int(part[4]), int(part[7])))
            i += 8
        if not calls or toks[i:i + 1] != [ANS] or len(toks) != i + 2 or toks[
                i + 1] not in digits:
            return None
        return calls, int(toks[i + 1])

    def execute(self, p: Problem, tokens: Sequence[str]) -> bool:
        """The execution label: the chain parses and its answer is the problem's."""
        parsed = self.parse_chain(tokens)
        return parsed is not None and parsed[1] == self.answer(p)

    def classify(self, p: Problem, tokens: Sequence[str]) -> str:
        """``right`` (by execution), or the first error on the way (``OUTCOMES``)."""
        parsed = self.parse_chain(tokens)
        if parsed is None:
            return "format"
        calls, answer = parsed
        if answer == self.answer(p):
            return "right"
        x = p.start
        for i, (fn, a, b, r) in enumerate(calls):
            if i >= len(p.ops):
                return "other"
            word, number = p.ops[i]
            if fn != WORDS[word]:
                return "function"
            if a != x or b != number:
                return "argument"
            if r != FUNCTIONS[fn](a, b) % self.config.modulus:
                return "arithmetic"
            x = r
        return "other"

    # --- examples and the split ------------------------------------------------------

    def examples(self, problems: Sequence[Problem], chains: Sequence[Sequence[str]]
                 ) -> Examples:
        """Prompt + chain token rows for these problems."""
        rows = [self._vocab.encode(self.prompt_tokens(p) + list(c))
                for p, c in zip(problems, chains)]
        width = max((len(r) for r in rows), default=1)
        tokens = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            tokens[i, :len(r)] = r
        return Examples(tokens, np.array([2 * len(p.ops) + 2 for p in problems], np.int64),
                        np.array([len(r) for r in rows], np.int64),
                        tuple(ChainCell(len(p.ops)) for p in problems))

    def sample(self, cell: ChainCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.2) -> Examples:
        if cell not in self.grid():
            raise ValueError(f"cell {cell} is not in this task's grid {self.grid()}")
        probs = self.problems(cell, n, rng, pool, salt, test_share)
        return self.examples(probs, [self.teacher(p, None, rng) for p in probs])

    def draw_problems(self, n: int, rng: np.random.Generator, pool: str, salt: int,
                      test_share: float) -> list[Problem]:
        """``n`` problems spread evenly over the lengths."""
        return [p for cell, k in zip(self.grid(), spread(n, len(self.grid())))
                for p in self.problems(cell, k, rng, pool, salt, test_share)]

    def pairs(self, problems: Sequence[Problem], n: int, types: Sequence[str],
              rng: np.random.Generator) -> tuple[Examples, Examples, list[str]]:
        """(right, wrong) chains of the first ``n`` problems that have a wrong chain of
        the type drawn for them (a few, such as ``0 times 0`` at the end, have no
        function error that changes the answer); error types are drawn from ``types``
        in equal shares. Returns chosen, rejected and the types."""
        kinds = [types[int(i) % len(types)] for i in rng.permutation(n)]
        kept: list[Problem] = []
        wrong: list[list[str]] = []
        for p in problems:
            if len(kept) == n:
                break
            try:
                wrong.append(self.teacher(p, kinds[len(kept)], rng))
            except ValueError:
                continue
            kept.append(p)
        if len(kept) < n:
            raise ValueError("too few problems with a wrong chain of the types asked")
        chosen = self.examples(kept, [self.teacher(p, None, rng) for p in kept])
        return chosen, self.examples(kept, wrong), kinds

    def make_split(self, cfg: ChainSplitConfig, seed: int) -> Split:
        seed = cfg.seed if cfg.seed is not None else seed
        rng = np.random.default_rng([seed, 0xC4A1])
        salt = int(np.random.default_rng([seed, 0x5A17]).integers(0, 2**62))
        share = cfg.test_share
        train_p = self.draw_problems(cfg.n_train, rng, "train", salt, share)
        pair_rng = np.random.default_rng([seed, 0xDA1F])  # pairs do not move the rest
        pair_p = self.draw_problems(cfg.n_pairs + 32, pair_rng, "train", salt, share)
        chosen, rejected, kinds = self.pairs(pair_p, cfg.n_pairs,
                                             negative_types(cfg.negatives), pair_rng)
        test_p = self.draw_problems(cfg.n_test, rng, "test", salt, share)
        val_p = self.draw_problems(cfg.n_val, rng, "test", salt, share)
        right = lambda ps: self.examples(ps, [self.teacher(p, None, rng)  # noqa: E731
                                              for p in ps])
        cells = self.grid()
        split = Split(
            train=right(train_p), patch=Examples.empty(), val=right(val_p),
            tests={"test": right(test_p)}, train_cells=cells,
            test_cells={"test": cells}, patch_cells=[], coverage=1.0,
            record={"negatives": list(negative_types(cfg.negatives)),
                    "rejected_types": {t: kinds.count(t) for t in ERROR_TYPES}},
            in_distribution=("test",),
            pools={"chosen": chosen, "rejected": rejected})
        split.check_no_leakage()
        return split
