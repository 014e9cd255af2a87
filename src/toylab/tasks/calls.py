"""The function-call family (chapter 3, after Granite-20B-FunctionCalling,
arXiv:2407.00121): requests in words to a small library of functions with typed
arguments, answered by calls.

The library (``FUNCTIONS``) has six functions. Each takes one or two typed arguments (a
number ``n``, a colour ``c`` or a direction ``d``), and is named in a request by either of
two words; the request gives the argument values in its own order, which is not always the
call's. Requests combine two functions in one of three *composite kinds*:

* ``parallel``: two independent calls, ``F(...) ; G(...)``;
* ``chained``: the second call takes the first one's result, ``F(...) ; G(x = $1 ...)``;
* ``nested``: the first call takes the second call as its argument, ``F(x = G(...) ...)``;

and a ``single`` request names one function. Worked examples (each prompt ends in
``<call>``, each target in ``<eos>``)::

    move 3 left              ->  MOVE ( n = 3 d = left )
    paint red and grow 2     ->  PAINT ( c = red ) ; GROW ( n = 2 )
    copy blue 4 then turn up ->  COPY ( n = 4 c = blue ) ; TURN ( x = $1 d = up )
    scale 1 of color green   ->  GROW ( x = PAINT ( c = green ) n = 1 )

A cell of the grid is a kind and the functions it names in request order (``CallCell``). The
*pair grid* is every ordered pair of two different functions (30 pairs); the split strategy
(``make_call_split``) trains on a ``coverage`` share of it, in every composite kind, plus
single calls of every function, and tests the held-out pairs.

The same request can be asked for a *subtask* (``SUBTASKS``), Granite's granular tasks in
small: ``names`` (which functions, in call order: ``MOVE PAINT <eos>``) and ``args`` (the
argument values of one named call: ``request <args> MOVE -> ( n = 3 d = left ) <eos>``).
The split config's ``condition`` decides how a fixed budget of training tokens is spent:

* ``umbrella``: every example is a request and its full call;
* ``granular``: a share of the examples are subtasks, each marked by its own token
  (``<names>``, ``<args>``) where a full call has ``<call>``;
* ``unmarked``: the same examples as ``granular`` with every marker written ``<call>``: the
  subtask data without the word that says which subtask is asked. (For a composite request
  the names and the call agree on the first token and differ from the second, so the model
  must learn from the data alone what ``<call>`` asks for.)

Every test asks for full calls (``request <call>``), so the three conditions are scored on
the same prompts.
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import Split
from toylab.tasks.base import Cell, Task, TestSplit, register_task
from toylab.tasks.data import (
    EOS,
    POOLS,
    SPECIAL_TOKENS,
    Examples,
    Vocab,
    hash_unit,
    until_eos,
)

# ---------------------------------------------------------------------------------------
# The library

#: argument type -> its values (request and call write them the same way)
TYPES: dict[str, tuple[str, ...]] = {
    "n": ("1", "2", "3", "4", "5"),
    "c": ("red", "blue", "green", "black"),
    "d": ("left", "right", "up", "down"),
}


@dataclass(frozen=True)
class Function:
    """One function of the library.

    Attributes:
        name: the token that names it in a call, e.g. ``MOVE``.
        words: the two request words that name it.
        args: its arguments in call order (argument names are their types: n, c, d).
        spoken: the order in which a request gives the argument values.
    """

    name: str
    words: tuple[str, str]
    args: tuple[str, ...]
    spoken: tuple[str, ...]


FUNCTIONS: tuple[Function, ...] = (
    Function("MOVE", ("move", "shift"), ("n", "d"), ("n", "d")),
    Function("PAINT", ("paint", "color"), ("c",), ("c",)),
    Function("TURN", ("turn", "rotate"), ("d",), ("d",)),
    Function("GROW", ("grow", "scale"), ("n",), ("n",)),
    Function("COPY", ("copy", "clone"), ("n", "c"), ("c", "n")),
    Function("DROP", ("drop", "push"), ("d", "n"), ("n", "d")),
)
LIBRARY = {f.name: f for f in FUNCTIONS}

KINDS = ("parallel", "chained", "nested")
CONNECTIVES = {"parallel": "and", "chained": "then", "nested": "of"}
SUBTASKS = ("names", "args")
CONDITIONS = ("umbrella", "granular", "unmarked")
CALL, NAMES, ARGS = "<call>", "<names>", "<args>"
MARKERS = {"call": CALL, "names": NAMES, "args": ARGS}
RESULT = "$1"  # the first call's result, as the chained call's argument x


def library_table():
    """The library as a table: function, request words, arguments in call order, and the
    order in which a request gives them."""
    import pandas as pd

    return pd.DataFrame([{"function": f.name, "request words": " / ".join(f.words),
                          "call arguments": ", ".join(f"{a}: {TYPES[a][0]}..."
                                                      for a in f.args),
                          "request gives": " ".join(f.spoken)} for f in FUNCTIONS])


# ---------------------------------------------------------------------------------------
# Config and cells


@dataclass(frozen=True)
class CallConfig:
    """The function-call task space.

    Attributes:
        functions: names of the library functions in use (``FUNCTIONS``), two to six,
            unique. The pair grid is every ordered pair of two different ones.
        kinds: the composite kinds in the grid, any of ``parallel``, ``chained``,
            ``nested``.
    """

    kind: ClassVar[str] = "calls"

    functions: tuple[str, ...] = tuple(f.name for f in FUNCTIONS)
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self):
        if not isinstance(self.functions, tuple) or not 2 <= len(self.functions) <= 6:
            raise ValueError(f"functions must be a tuple of 2 to 6 of {list(LIBRARY)}, "
                             f"got {self.functions!r}")
        if len(set(self.functions)) != len(self.functions):
            raise ValueError(f"functions must be unique, got {self.functions!r}")
        for name in self.functions:
            check_choice("functions entry", name, LIBRARY)
        if not isinstance(self.kinds, tuple) or not self.kinds:
            raise ValueError(f"kinds must be a non-empty tuple of {list(KINDS)}")
        for k in self.kinds:
            check_choice("kinds entry", k, KINDS)
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"kinds must be unique, got {self.kinds!r}")

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The pair grid: every ordered pair of two different functions."""
        return [(a, b) for a in self.functions for b in self.functions if a != b]


@dataclass(frozen=True, order=True)
class CallCell(Cell):
    """One point of the grid: a kind (``single`` or a composite kind) and the functions
    its requests name, in request order."""

    kind: str
    functions: tuple[str, ...]

    @property
    def key(self) -> tuple:
        return (self.kind, self.functions)

    def __str__(self) -> str:
        return f"{self.kind} | {' '.join(self.functions)}"


# ---------------------------------------------------------------------------------------
# Instances: which words and argument values a request uses


def _instances(fn: Function) -> list[tuple[int, tuple[str, ...]]]:
    """Every (word index, argument values in call order) of one function."""
    return [(w, values) for w in range(2)
            for values in itertools.product(*(TYPES[a] for a in fn.args))]


def _request(fn: Function, word: int, values: Sequence[str]) -> list[str]:
    by_arg = dict(zip(fn.args, values))
    return [fn.words[word]] + [by_arg[a] for a in fn.spoken]


def _arg_tokens(fn: Function, values: Sequence[str]) -> list[str]:
    return [t for a, v in zip(fn.args, values) for t in (a, "=", v)]


#: The test share of a cell's instances is halved: ``val`` (early stopping) and ``test``.
SHARES = ("train", "val", "test")


@functools.lru_cache(maxsize=4096)
def _pool_codes(cell: CallCell, size: int, salt: int, test_share: float, pool: str
                ) -> np.ndarray:
    """The instance codes of one cell that fall in ``pool`` (fixed by the salt).

    The codes are ranked by a salted hash; the first ``test_share`` of them (at least
    two) are kept out of training and dealt alternately to ``test`` and ``val``, so
    neither is ever empty, even for a function with eight instances."""
    codes = np.arange(size, dtype=np.int64)
    ranked = codes[np.argsort(hash_unit(codes + hash_cell(cell) * 1_000_003, salt),
                              kind="stable")]
    held = max(2, int(round(test_share * size)))
    chosen = {"train": ranked[held:], "test": ranked[:held:2], "val": ranked[1:held:2]
              }[pool]
    chosen = np.sort(chosen)
    chosen.setflags(write=False)
    return chosen


def hash_cell(cell: CallCell) -> int:
    """A stable integer for a cell (Python's ``hash`` of a string changes per process)."""
    return zlib.crc32(str(cell).encode())


# ---------------------------------------------------------------------------------------
# Parsing a call, and what is wrong with it


@dataclass(frozen=True)
class Parsed:
    """A call sequence read back from tokens: ``calls`` is a list of (name, args), each
    args a list of (argument, value), a value being a token, ``$1`` or a nested call."""

    calls: tuple

    @property
    def names(self) -> list[str]:
        """Function names in the order they are written (an outer call before the call
        nested in it)."""
        out: list[str] = []

        def walk(call):
            out.append(call[0])
            for _, v in call[1]:
                if isinstance(v, tuple):
                    walk(v)

        for c in self.calls:
            walk(c)
        return out

    @property
    def kind(self) -> str:
        """``single``, ``parallel``, ``chained``, ``nested`` or ``other``."""
        calls = self.calls
        nested = [v for c in calls for _, v in c[1] if isinstance(v, tuple)]
        linked = [v for c in calls for _, v in c[1] if v == RESULT]
        if len(calls) == 1 and not nested and not linked:
            return "single"
        if len(calls) == 1 and len(nested) == 1 and not linked and not any(
                isinstance(v, tuple) or v == RESULT for _, v in nested[0][1]):
            return "nested"
        if len(calls) == 2 and not nested:
            if not linked:
                return "parallel"
            if calls[1][1][:1] == (("x", RESULT),) and len(linked) == 1:
                return "chained"
        return "other"

    def triples(self) -> list[tuple[str, str, str]]:
        """(function, argument, value) of every argument but the link ``x``."""
        out = []

        def walk(call):
            for a, v in call[1]:
                if isinstance(v, tuple):
                    walk(v)
                elif a != "x":
                    out.append((call[0], a, v))

        for c in self.calls:
            walk(c)
        return out


def parse_calls(tokens: Sequence[str]) -> Parsed | None:
    """Read ``F ( a = v ... ) ; G ( ... )`` back into calls; None if it is not one."""
    toks = list(until_eos(tokens))
    pos = 0

    def call():
        nonlocal pos
        if pos + 1 >= len(toks) or toks[pos] not in LIBRARY or toks[pos + 1] != "(":
            raise ValueError
        name = toks[pos]
        pos += 2
        args = []
        while pos < len(toks) and toks[pos] != ")":
            if pos + 2 >= len(toks) or toks[pos + 1] != "=":
                raise ValueError
            arg = toks[pos]
            pos += 2
            value = call() if toks[pos] in LIBRARY else toks[pos]
            if not isinstance(value, tuple):
                pos += 1
            args.append((arg, value))
        if pos >= len(toks):
            raise ValueError
        pos += 1
        return (name, tuple(args))

    try:
        calls = [call()]
        while pos < len(toks):
            if toks[pos] != ";":
                raise ValueError
            pos += 1
            calls.append(call())
    except (ValueError, IndexError):
        return None
    return Parsed(tuple(calls))


#: What can be wrong with a call, checked in this order (the first that applies).
ERRORS = ("format", "name", "order", "nesting", "argument")


def classify(gold: Sequence[str], output: Sequence[str]) -> str:
    """``correct``, or the first of ``ERRORS`` that is wrong in ``output``:

    * ``format``: not a well-formed call sequence;
    * ``name``: other functions than the gold ones (as a multiset);
    * ``order``: the right functions in the wrong order;
    * ``nesting``: the right functions in order, the wrong structure (e.g. a chained call
      written as parallel calls, or a nested one as a chain);
    * ``argument``: right functions and structure, a wrong, missing or extra argument.
    """
    if list(until_eos(gold)) == list(until_eos(output)):
        return "correct"
    g, p = parse_calls(gold), parse_calls(output)
    if g is None:
        raise ValueError(f"gold target is not a call: {' '.join(gold)}")
    if p is None:
        return "format"
    if sorted(p.names) != sorted(g.names):
        return "name"
    if p.names != g.names:
        return "order"
    if p.kind != g.kind:
        return "nesting"
    return "argument"


def argument_f1(gold: Sequence[str], output: Sequence[str]) -> float:
    """F1 of the (function, argument, value) triples of the output against the gold ones
    (0 for an output that is not a call)."""
    g, p = parse_calls(gold), parse_calls(output)
    if g is None or p is None:
        return 0.0
    gt, pt = g.triples(), p.triples()
    common = sum(min(gt.count(t), pt.count(t)) for t in set(gt))
    if not common:
        return 0.0
    precision, recall = common / len(pt), common / len(gt)
    return 2 * precision * recall / (precision + recall)


def names_right(gold: Sequence[str], output: Sequence[str]) -> bool:
    """Whether the output calls exactly the gold functions (in any order)."""
    g, p = parse_calls(gold), parse_calls(output)
    return g is not None and p is not None and sorted(p.names) == sorted(g.names)


# ---------------------------------------------------------------------------------------
# The split config


@dataclass(frozen=True)
class CallSplitConfig:
    """Which function pairs training composes, and how its token budget is spent.

    Attributes:
        coverage: share of the pair grid composed in training, in (0, 1); the number of
            trained pairs is ``coverage * len(pairs)``, rounded half up, at least one
            and at least one short of the grid (held-out pairs are the test). Every
            function is trained as a single call whatever the coverage.
        condition: how the budget is spent, one of ``CONDITIONS`` (module docstring).
        budget: training tokens (prompt and target) of every condition, 1,000-500,000.
        single_share: share of requests that name one function, in [0, 0.9]; the rest
            are composites, the kinds in equal shares.
        subtask_share: under ``granular`` and ``unmarked``, the share of examples that
            are subtasks (half ``names``, half ``args``), in (0, 0.9].
        n_test: test examples per composite kind of each test split, 1-5,000.
        n_val: in-distribution full calls for early stopping, 1-5,000.
        test_share: share of each cell's instances kept out of training, in [0.05, 0.5].
        tests: the named test splits: ``id`` (trained pairs, new instances), ``held``
            (held-out pairs), ``single`` (single calls, new instances).
        seed: seeds the choice of trained pairs (None: the experiment's split seed).
        data_seed: seeds the draw of training and test examples (None: the experiment's
            split seed, drawn on a stream of its own), so the pairs can stay while the
            data changes.
    """

    coverage: float = 0.4
    condition: str = "umbrella"
    budget: int = 24_000
    single_share: float = 0.25
    subtask_share: float = 0.5
    n_test: int = 64
    n_val: int = 96
    test_share: float = 0.25
    tests: tuple[str, ...] = ("id", "held", "single")
    seed: int | None = None
    data_seed: int | None = None

    def __post_init__(self):
        check_range("coverage", self.coverage, 1e-9, 1.0 - 1e-9)
        check_choice("condition", self.condition, CONDITIONS)
        check_range("budget", self.budget, 1_000, 500_000, integer=True)
        check_range("single_share", self.single_share, 0.0, 0.9)
        check_range("subtask_share", self.subtask_share, 1e-9, 0.9)
        check_range("n_test", self.n_test, 1, 5_000, integer=True)
        check_range("n_val", self.n_val, 1, 5_000, integer=True)
        check_range("test_share", self.test_share, 0.05, 0.5)
        if not isinstance(self.tests, tuple) or not self.tests:
            raise ValueError(f"tests must be a non-empty tuple of {list(TEST_SPLITS)}")
        for name in self.tests:
            check_choice("tests entry", name, TEST_SPLITS)
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            if value is not None:
                check_range(name, value, 0, 2**31 - 1, integer=True)


TEST_SPLIT_SPECS = (
    TestSplit("id", "trained pairs, new requests", "#1b7837"),
    TestSplit("held", "function pairs never composed in training", "#c51b7d"),
    TestSplit("single", "single calls, new requests", "#4393c3"),
)
TEST_SPLITS = {s.name: s.description for s in TEST_SPLIT_SPECS}


def choose_pairs(pairs: Sequence[tuple[str, str]], coverage: float,
                 rng: np.random.Generator) -> list[tuple[str, str]]:
    """``coverage * len(pairs)`` (rounded half up) trained pairs, in a random order except
    that while some function has not been trained in the first or the second place, the
    first pair that adds the most such places goes next (so every function is composed
    in both places as early as coverage allows)."""
    n = int(coverage * len(pairs) + 0.5)
    if not 1 <= n < len(pairs):
        raise ValueError(f"coverage={coverage} gives {n} trained pairs of {len(pairs)}; "
                         f"it must give at least one and leave one held out, so coverage "
                         f"must be in [{0.5 / len(pairs):.3f}, "
                         f"{(len(pairs) - 0.5) / len(pairs):.3f})")
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    chosen: list[tuple[str, str]] = []
    seen: set[tuple[int, str]] = set()
    while len(chosen) < n:
        best = max(order, key=lambda p: len({(0, p[0]), (1, p[1])} - seen))
        if not {(0, best[0]), (1, best[1])} - seen:
            break
        chosen.append(best)
        order.remove(best)
        seen |= {(0, best[0]), (1, best[1])}
    return chosen + order[:n - len(chosen)]


# ---------------------------------------------------------------------------------------
# The task


@register_task
class CallTask(Task):
    """Requests in words to a library of functions, answered by calls (module docstring).
    """

    config_class = CallConfig
    split_config_class = CallSplitConfig
    test_splits = TEST_SPLIT_SPECS

    def __init__(self, config: CallConfig):
        super().__init__(config)
        fns = [LIBRARY[n] for n in config.functions]
        words = [w for f in fns for w in f.words] + [CONNECTIVES[k] for k in config.kinds]
        values = [v for vs in TYPES.values() for v in vs]
        syntax = ["(", ")", "=", ";", "x", RESULT, CALL, NAMES, ARGS]
        self._vocab = Vocab(SPECIAL_TOKENS + tuple(dict.fromkeys(
            words + values + list(TYPES) + syntax + [f.name for f in fns])))
        self._fns = fns
        self._grid = frozenset(self.grid())

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    def grid(self) -> list[CallCell]:
        singles = [CallCell("single", (f,)) for f in self.config.functions]
        return singles + [CallCell(k, p) for k in self.config.kinds
                          for p in self.config.pairs]

    @property
    def max_len(self) -> int:
        """Two two-argument functions nested, with the ``<args>`` prompt's extra name
        token: request 8 + marker 2, call 22."""
        return 32

    # --- one instance ------------------------------------------------------------------

    def _instance_lists(self, cell: CallCell) -> list[list]:
        return [_instances(LIBRARY[f]) for f in cell.functions]

    def _size(self, cell: CallCell) -> int:
        return int(np.prod([len(x) for x in self._instance_lists(cell)]))

    def _decode(self, cell: CallCell, code: int) -> list[tuple[int, tuple[str, ...]]]:
        lists = self._instance_lists(cell)
        out = []
        for lst in reversed(lists):
            code, i = divmod(code, len(lst))
            out.append(lst[i])
        return out[::-1]

    def render(self, cell: CallCell, parts: Sequence[tuple[int, tuple[str, ...]]]
               ) -> tuple[list[str], list[str]]:
        """The request and the full call of one instance (word and values per function).
        """
        fns = [LIBRARY[f] for f in cell.functions]
        clauses = [_request(f, w, v) for f, (w, v) in zip(fns, parts)]
        calls = [[f.name, "("] + _arg_tokens(f, v) + [")"] for f, (_, v) in zip(fns,
                                                                                  parts)]
        if cell.kind == "single":
            return clauses[0], calls[0]
        request = clauses[0] + [CONNECTIVES[cell.kind]] + clauses[1]
        first, second = calls
        if cell.kind == "parallel":
            call = first + [";"] + second
        elif cell.kind == "chained":
            call = first + [";"] + second[:2] + ["x", "=", RESULT] + second[2:]
        else:  # nested: the first-named function takes the second as its argument x
            call = first[:2] + ["x", "="] + second + first[2:]
        return request, call

    def example(self, cell: CallCell, parts, task: str = "call", which: int = 0,
                marked: bool = True) -> tuple[list[str], list[str]]:
        """Prompt and target tokens of one instance asked as ``task`` (``call``,
        ``names`` or ``args`` of its ``which``-th function); ``marked`` False writes
        every marker as ``<call>``."""
        request, call = self.render(cell, parts)
        marker = MARKERS[task] if marked else CALL
        if task == "call":
            return request + [CALL], call + [EOS]
        if task == "names":
            return request + [marker], list(cell.functions) + [EOS]
        fn = LIBRARY[cell.functions[which]]
        return (request + [marker, fn.name],
                ["("] + _arg_tokens(fn, parts[which][1]) + [")", EOS])

    # --- Task interface ----------------------------------------------------------------

    def codes(self, cell: CallCell, pool: str, salt: int, test_share: float
              ) -> np.ndarray:
        """The instance codes of ``cell`` in one share (``train``, ``val``, ``test``)."""
        check_choice("pool", pool, SHARES)
        if cell not in self._grid:
            raise ValueError(f"cell {cell} is not in this task's grid")
        codes = _pool_codes(cell, self._size(cell), salt, test_share, pool)
        if not len(codes):
            raise ValueError(f"the {pool} share of {cell} is empty; use a test_share "
                             "further from 0")
        return codes

    def sample(self, cell: CallCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.25) -> Examples:
        """``n`` full-call examples of ``cell`` (``pool``: ``train`` or ``test``, or
        ``val``, the other half of the test share)."""
        if pool not in POOLS + ("val",):
            check_choice("pool", pool, SHARES)
        codes = self.codes(cell, pool, salt, test_share)
        rows = [self.example(cell, self._decode(cell, int(c)))
                for c in codes[rng.integers(0, len(codes), n)]]
        return self.encode(rows, [cell] * n)

    def encode(self, rows: Sequence[tuple[list[str], list[str]]], cells: Sequence[Cell]
               ) -> Examples:
        """Token rows (prompt, target) as padded ``Examples``."""
        encode = self._vocab.encode
        return Examples.pad([(encode(p), encode(t)) for p, t in rows], cells)

    def solve(self, prompt: Sequence[str]) -> list[str]:
        """The full call (ending in ``<eos>``) for a request ending in ``<call>``."""
        prompt = list(prompt)
        if not prompt or prompt[-1] != CALL:
            raise ValueError(f"a request must end in {CALL}: {' '.join(prompt)}")
        words = {w: (f, i) for f in self._fns for i, w in enumerate(f.words)}
        connective = [t for t in prompt[:-1] if t in CONNECTIVES.values()]
        kind = next((k for k, c in CONNECTIVES.items() if connective == [c]), "single")
        if len(connective) > 1:
            raise ValueError(f"a request joins at most two clauses: {' '.join(prompt)}")
        body = prompt[:-1]
        clauses = ([body] if kind == "single" else
                   [body[:body.index(CONNECTIVES[kind])],
                    body[body.index(CONNECTIVES[kind]) + 1:]])
        fns, parts = [], []
        for clause in clauses:
            if not clause or clause[0] not in words:
                raise ValueError(f"a clause must start with a function word of "
                                 f"{sorted(words)}: {' '.join(clause)}")
            fn, word = words[clause[0]]
            spoken = dict(zip(fn.spoken, clause[1:]))
            if len(clause) != 1 + len(fn.args) or any(
                    spoken[a] not in TYPES[a] for a in fn.args):
                raise ValueError(f"{clause[0]} takes {' '.join(fn.spoken)} "
                                 f"({', '.join(f'{a} in {TYPES[a]}' for a in fn.spoken)}):"
                                 f" {' '.join(clause)}")
            fns.append(fn.name)
            parts.append((word, tuple(spoken[a] for a in fn.args)))
        return self.render(CallCell(kind, tuple(fns)), parts)[1] + [EOS]

    def make_split(self, cfg: CallSplitConfig, seed: int) -> Split:
        return make_call_split(self, cfg, seed)

    def cell_columns(self, cell: CallCell) -> dict[str, Any]:
        return {"kind": cell.kind, "functions": " ".join(cell.functions)}


# ---------------------------------------------------------------------------------------
# The split strategy


def make_call_split(task: CallTask, cfg: CallSplitConfig, seed: int) -> Split:
    """Training set (the condition's examples, filling the token budget) and the test
    splits of full calls.

    Trained pairs come from ``cfg.seed`` (else ``seed``); the examples from
    ``cfg.data_seed`` (else ``seed`` on a stream of its own). Requests are drawn in the
    same way in every condition, each from the train share of its cell's instances: a
    single call with probability ``single_share``, else a trained pair in a composite
    kind, both uniformly.
    Under ``umbrella`` each request becomes its full call; under ``granular`` and
    ``unmarked`` a ``subtask_share`` of them becomes a subtask instead (``names`` or
    ``args`` of one of its functions, equally likely). Examples are added until the next
    would pass ``budget`` tokens. The requests come from one random stream and the choice
    of subtasks from another, so every condition draws the same sequence of requests; the
    test splits each have a stream of their own, so every condition is tested on the same
    prompts.
    """
    pair_seed = cfg.seed if cfg.seed is not None else seed
    data_seed = cfg.data_seed if cfg.data_seed is not None else seed
    pairs = task.config.pairs
    trained = choose_pairs(pairs, cfg.coverage, np.random.default_rng([pair_seed, 0xCA11]))
    held = [p for p in pairs if p not in trained]
    # separate streams: the requests (the same sequence in every condition), which of
    # them become subtasks, and each test split (the same prompts in every condition)
    rng = np.random.default_rng([data_seed, 0xDA7A])
    jobs = np.random.default_rng([data_seed, 0x70B5])
    salt = int(np.random.default_rng([data_seed, 0x5A17]).integers(0, 2**62))
    kinds = task.config.kinds
    singles = [CallCell("single", (f,)) for f in task.config.functions]
    train_cells = singles + [CallCell(k, p) for k in kinds for p in trained]

    def instance(cell: CallCell, pool: str, gen: np.random.Generator):
        codes = task.codes(cell, pool, salt, cfg.test_share)
        return task._decode(cell, int(codes[gen.integers(0, len(codes))]))

    rows, cells, used, counts = [], [], 0, {"call": 0, "names": 0, "args": 0}
    composite_calls = 0
    marked = cfg.condition == "granular"
    while True:
        if rng.random() < cfg.single_share:
            cell = singles[rng.integers(0, len(singles))]
        else:
            cell = CallCell(kinds[rng.integers(0, len(kinds))],
                            trained[rng.integers(0, len(trained))])
        parts = instance(cell, "train", rng)
        job, which = "call", 0
        if cfg.condition != "umbrella" and jobs.random() < cfg.subtask_share:
            job = SUBTASKS[jobs.integers(0, 2)]
            which = int(jobs.integers(0, len(cell.functions)))
        prompt, target = task.example(cell, parts, job, which, marked)
        if used + len(prompt) + len(target) > cfg.budget:
            break
        used += len(prompt) + len(target)
        rows.append((prompt, target))
        cells.append(cell)
        counts[job] += 1
        composite_calls += job == "call" and cell.kind != "single"

    def tests(cell_list: list[CallCell], n: int, pool: str, stream: int) -> Examples:
        gen = np.random.default_rng([data_seed, 0x7E57, stream])
        out_rows, out_cells = [], []
        for i, cell in enumerate(cell_list):  # n per kind, spread over its cells
            k = n // len(cell_list) + (i < n % len(cell_list))
            for _ in range(k):
                out_rows.append(task.example(cell, instance(cell, pool, gen)))
                out_cells.append(cell)
        return task.encode(out_rows, out_cells)

    def by_kind(pair_list, n, pool, stream):
        return Examples.concat([tests([CallCell(k, p) for p in pair_list], n, pool,
                                      10 * stream + i) for i, k in enumerate(kinds)])

    test_cells = {"id": [CallCell(k, p) for k in kinds for p in trained],
                  "held": [CallCell(k, p) for k in kinds for p in held],
                  "single": singles}
    made = {"id": lambda: by_kind(trained, cfg.n_test, "test", 1),
            "held": lambda: by_kind(held, cfg.n_test, "test", 2),
            "single": lambda: tests(singles, cfg.n_test, "test", 3)}
    val = Examples.concat([by_kind(trained, cfg.n_val // 2, "val", 4),
                           tests(singles, cfg.n_val - cfg.n_val // 2, "val", 5)])
    split = Split(
        train=task.encode(rows, cells), patch=Examples.empty(), val=val,
        tests={name: made[name]() for name in cfg.tests},
        train_cells=train_cells, test_cells={n: test_cells[n] for n in cfg.tests},
        patch_cells=[], coverage=len(trained) / len(pairs),
        record={"trained_pairs": [" ".join(p) for p in trained],
                "held_pairs": [" ".join(p) for p in held],
                "train_tokens": used, "train_examples": len(rows),
                "subtask_examples": counts["names"] + counts["args"],
                "call_examples": counts["call"], "composite_calls": composite_calls},
        in_distribution=("id", "single"))
    split.check_no_leakage()
    return split


def split_counts(split: Split) -> dict[str, float]:
    """What comes with a coverage and a condition, as columns for every metric row:
    ``pairs`` trained, ``train_examples``, ``call_examples`` (full calls among them) and
    ``calls_per_cell`` (full-call examples per trained composite cell, which thins as
    coverage grows and is lower under the granular conditions)."""
    rec = split.record
    n_cells = sum(1 for c in split.train_cells if c.kind != "single")
    return {"pairs": len(rec["trained_pairs"]), "train_examples": rec["train_examples"],
            "call_examples": rec["call_examples"],
            "calls_per_cell": round(rec["composite_calls"] / n_cells, 1)}
