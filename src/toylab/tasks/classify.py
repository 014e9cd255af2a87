"""Classification tasks with compositional definitions (after Kung & Peng 2023,
arXiv:2305.11383), and their split into training tasks and held-out whole tasks.

A *task* is a predicate, an argument letter and the task's own label words, drawn from a
shared pool. The predicate and the argument decide the class of an input string; the label
words say how each class is written. With the defaults (6 letters A-F, strings of 4):

* ``has C``: is the letter C in the string? (2 classes: absent, present)
* ``starts C`` / ``ends C``: is the first / last letter C? (2 classes)
* ``count C``: how often is C in it? (3 classes: 0, 1, 2 or more)
* ``where C``: where is the first C? (3 classes: absent, first half, second half)

A prompt gives the task's *definition*, then the input; the target is one label word. For
the task ``has C`` written with the label words (``hot``, ``up``), in each instruction
format (``ClassifyConfig.condition``)::

    full         <def> has C hot up <in> A B D C <out>   ->   up <eos>
    simplified   <def> hot up <in> A B D C <out>         ->   up <eos>
    no_labels    <def> has C <in> A B D C <out>          ->   up <eos>

``delusive`` uses the full definition but trains on a wrong input-to-label mapping (each
training instance gets a label word of its task at random, balanced over the classes);
``untuned`` is the full format for a model that is never instruction-tuned. The label words
are listed in class order, so a full definition says everything needed to answer. Every
task's instances are class-balanced, so a guess drawn uniformly from a task's label words
is right with probability exactly 1/k (k = 2 or 3): the *label-space guess*.

The split (``ClassifySplitConfig``) holds out whole tasks of two kinds:

* ``relabel``: a (predicate, argument) pair seen in training, with label words never used
  with it in training;
* ``compose``: a (predicate, argument) pair never trained, whose predicate and argument
  were both trained in other tasks; the case where reading the definition's meaning pays.

``id`` is new inputs of the training tasks (true labels, in every condition). Inputs are
split too: a share of all strings is never trained on, and every test draws from it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import Split
from toylab.tasks.base import Cell, Task, TestSplit, register_task
from toylab.tasks.data import EOS, SPECIAL_TOKENS, Examples, Vocab

DEF, IN, OUT = "<def>", "<in>", "<out>"
#: Predicate -> number of classes.
PREDICATES = {"has": 2, "starts": 2, "ends": 2, "count": 3, "where": 3}
#: The shared pool of label words, most common first (tasks draw them with weight
#: 1 / (rank + 1), so training has a prior over the pool).
LABEL_POOL = ("yes", "no", "true", "false", "on", "off", "up", "down", "red", "blue",
              "hot", "cold")
CONDITIONS = ("full", "simplified", "delusive", "no_labels", "untuned")
CLASSIFY_TESTS = ("id", "relabel", "compose")


@dataclass(frozen=True)
class ClassifyConfig:
    """The classification task family.

    Attributes:
        alphabet_size: letters in use (A, B, ...), 3-10; they are the inputs' letters and
            the predicates' arguments.
        length: letters per input string, 3-6.
        predicates: which of ``PREDICATES`` the tasks use, 1-5 of them, unique.
        label_pool: the shared label words, 4-24 unique words (not letters or predicates).
        condition: the instruction format (module docstring), one of ``CONDITIONS``.
    """

    kind: ClassVar[str] = "classify"

    alphabet_size: int = 6
    length: int = 4
    predicates: tuple[str, ...] = tuple(PREDICATES)
    label_pool: tuple[str, ...] = LABEL_POOL
    condition: str = "full"

    def __post_init__(self):
        check_range("alphabet_size", self.alphabet_size, 3, 10, integer=True)
        check_range("length", self.length, 3, 6, integer=True)
        check_choice("condition", self.condition, CONDITIONS)
        if (not isinstance(self.predicates, tuple) or not self.predicates
                or len(set(self.predicates)) != len(self.predicates)):
            raise ValueError(f"predicates must be a tuple of unique names from "
                             f"{list(PREDICATES)}, got {self.predicates!r}")
        for p in self.predicates:
            check_choice("predicates entry", p, PREDICATES)
        pool = self.label_pool
        if (not isinstance(pool, tuple) or not 4 <= len(pool) <= 24
                or len(set(pool)) != len(pool)):
            raise ValueError(f"label_pool must be a tuple of 4 to 24 unique words, "
                             f"got {pool!r}")
        if clash := set(pool) & (set(self.letters) | set(PREDICATES) | {DEF, IN, OUT}
                                 | set(SPECIAL_TOKENS)):
            raise ValueError(f"label words must not be letters, predicates or special "
                             f"tokens: {sorted(clash)}")

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(chr(ord("A") + i) for i in range(self.alphabet_size))


@dataclass(frozen=True, order=True)
class ClassifyCell(Cell):
    """One task: a predicate, its argument letter and its label words in class order."""

    predicate: str
    argument: str
    labels: tuple[str, ...]

    @property
    def key(self) -> tuple:
        return (self.predicate, self.argument, " ".join(self.labels))

    @property
    def pair(self) -> tuple[str, str]:
        return (self.predicate, self.argument)


def classes(predicate: str, argument: int, strings: np.ndarray) -> np.ndarray:
    """The class of each string, (n,) ints in [0, k), for one predicate and argument.

    >>> classes("count", 2, np.array([[2, 0, 2, 1], [0, 1, 3, 4]]))   # C A C B, A B D E
    array([2, 0])
    """
    hit = strings == argument  # (n, L)
    if predicate == "has":
        return hit.any(1).astype(np.int64)
    if predicate == "starts":
        return hit[:, 0].astype(np.int64)
    if predicate == "ends":
        return hit[:, -1].astype(np.int64)
    if predicate == "count":
        return np.minimum(hit.sum(1), 2)
    if predicate == "where":
        first = np.where(hit.any(1), hit.argmax(1), -1)
        half = (strings.shape[1] + 1) // 2
        return np.where(first < 0, 0, np.where(first < half, 1, 2))
    raise ValueError(f"unknown predicate {predicate!r}; predicates: {list(PREDICATES)}")


@functools.lru_cache(maxsize=16)
def _all_strings(alphabet: int, length: int) -> np.ndarray:
    codes = np.arange(alphabet ** length)
    out = (codes[:, None] // alphabet ** np.arange(length)[None, :]) % alphabet
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def _pool_index(alphabet: int, length: int, salt: int, test_share: float, pool: str
                ) -> np.ndarray:
    """Indices of the strings in one share: ``test_share`` of all strings (by a salted
    permutation) is never trained on."""
    n = alphabet ** length
    order = np.random.default_rng([salt, 0xC1A55]).permutation(n)
    cut = int(round(n * test_share))
    out = np.sort(order[:cut] if pool == "test" else order[cut:])
    out.setflags(write=False)
    return out


@register_task
class ClassifyTask(Task):
    """The family (module docstring). Cells are tasks (``ClassifyCell``)."""

    config_class = ClassifyConfig
    test_splits = (
        TestSplit("id", "new inputs of the training tasks", "#1b7837"),
        TestSplit("relabel", "held-out task: a trained predicate and argument with new "
                  "label words", "#762a83"),
        TestSplit("compose", "held-out task: an untrained (predicate, argument) pair of "
                  "trained parts, new label words", "#e08214"),
    )

    def __init__(self, config: ClassifyConfig):
        super().__init__(config)
        c = config
        self._vocab = Vocab([*SPECIAL_TOKENS, DEF, IN, OUT, *c.letters, *c.predicates,
                             *c.label_pool])

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    @property
    def max_len(self) -> int:
        return 3 + 2 + 3 + self.config.length + 2  # <def> p a w w w <in> x.. <out> w <eos>

    def pairs(self) -> list[tuple[str, str]]:
        """Every (predicate, argument) pair."""
        return [(p, a) for p in self.config.predicates for a in self.config.letters]

    def grid(self) -> list[Cell]:
        """Too many tasks to list (every pair with every ordered choice of label words):
        the split draws them (``ClassifySplitConfig``); this lists each pair once with
        the pool's first label words."""
        pool = self.config.label_pool
        return [ClassifyCell(p, a, pool[:PREDICATES[p]]) for p, a in self.pairs()]

    def prompt(self, cell: ClassifyCell, string: Sequence[int]) -> list[str]:
        """The prompt tokens of one input in the config's instruction format."""
        cond = self.config.condition
        definition = ([] if cond == "simplified" else [cell.predicate, cell.argument]) + (
            [] if cond == "no_labels" else list(cell.labels))
        letters = self.config.letters
        return [DEF, *definition, IN, *(letters[i] for i in string), OUT]

    def sample(self, cell: ClassifyCell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.25, shuffle_labels: bool = False
               ) -> Examples:
        """``n`` class-balanced instances of one task from one share of the inputs.

        The classes take turns (``n`` spread over them as evenly as possible) and each
        instance is an input of that class drawn from the share. ``shuffle_labels`` writes
        the same balanced labels in a random order instead (the delusive mapping).
        """
        check_choice("pool", pool, ("train", "test"))
        c = self.config
        k = len(cell.labels)
        strings = _all_strings(c.alphabet_size, c.length)[
            _pool_index(c.alphabet_size, c.length, salt, test_share, pool)]
        cls = classes(cell.predicate, c.letters.index(cell.argument), strings)
        wanted = np.arange(n) % k
        rng.shuffle(wanted)
        picked = np.empty((n, c.length), np.int64)
        for label in range(k):
            rows = np.flatnonzero(cls == label)
            if not len(rows):
                raise ValueError(f"no input in the {pool} share has class {label} of "
                                 f"{cell.predicate} {cell.argument}; use longer strings")
            idx = wanted == label
            picked[idx] = strings[rng.choice(rows, int(idx.sum()))]
        written = rng.permutation(wanted) if shuffle_labels else wanted
        vocab = self.vocab
        rows = [(vocab.encode(self.prompt(cell, s)),
                 vocab.encode([cell.labels[y], EOS])) for s, y in zip(picked, written)]
        return Examples.pad(rows, [cell] * n)

    def pretrain_sample(self, n: int, rng: np.random.Generator, salt: int,
                        test_share: float = 0.25) -> Examples:
        """``n`` bare inputs from the training share, for a model that is not yet
        instruction-tuned: ``<in> -> A B D C <eos>`` (no definition, no label)."""
        c = self.config
        strings = _all_strings(c.alphabet_size, c.length)[
            _pool_index(c.alphabet_size, c.length, salt, test_share, "train")]
        picked = strings[rng.integers(0, len(strings), n)]
        cell = ClassifyCell("input", "-", ())
        letters, prompt = c.letters, self.vocab.encode([IN])
        rows = [(prompt, self.vocab.encode([*(letters[i] for i in s), EOS]))
                for s in picked]
        return Examples.pad(rows, [cell] * n)

    def solve(self, prompt: Sequence[str]) -> list[str]:
        """The label word of a prompt with a full definition, e.g.
        ``<def> has C hot up <in> A B D C <out>`` -> ``["up", "<eos>"]``."""
        prompt = list(prompt)
        if len(prompt) < 4 or prompt[0] != DEF or prompt[1] not in PREDICATES:
            raise ValueError("only a full definition (<def> predicate argument labels "
                             "<in> ...) names its answer")
        end = prompt.index(IN)
        labels = prompt[3:end]
        if len(labels) != PREDICATES[prompt[1]]:
            raise ValueError("the definition lists no label words; the answer is not "
                             "named by the prompt")
        letters = self.config.letters
        s = np.array([[letters.index(t) for t in prompt[end + 1:-1]]])
        return [labels[int(classes(prompt[1], letters.index(prompt[2]), s)[0])], EOS]

    def make_split(self, cfg: ClassifySplitConfig, seed: int) -> Split:
        return make_classify_split(self, cfg, seed)

    def cell_columns(self, cell: Cell) -> dict:
        return {"task": str(cell)}


@dataclass(frozen=True)
class ClassifySplitConfig:
    """Which tasks training covers, and the held-out tasks.

    Attributes:
        train_tasks: training tasks, 1-200. The (predicate, argument) pairs that can be
            trained are taken in an order that spreads predicates and arguments evenly
            (all predicates and all but one argument in the first five); past the last
            pair, pairs come back with new label words.
        instances: training instances per task, 1-1000 (class-balanced).
        n_test: test instances per held-out task (and per training task for ``id``),
            3-500.
        relabel_tasks: held-out ``relabel`` tasks, 1-60 (trained pairs, new label words).
        compose_labelings: label-word choices for each held-out ``compose`` pair, 1-10.
        compose_pairs: (predicate, argument) pairs never trained, 1-10, one per predicate
            at most, each with its own argument.
        pretrain: bare inputs for the untuned model's first phase, 1-100,000.
        tests: which of ``id``, ``relabel``, ``compose`` to build.
        test_share: share of all input strings kept out of training, in [0.1, 0.5].
        seed: fixes the split (which pairs are held out, label words, inputs); None
            takes it from the experiment's ``split`` stream.
    """

    train_tasks: int = 25
    instances: int = 16
    n_test: int = 24
    relabel_tasks: int = 10
    compose_labelings: int = 2
    compose_pairs: int = 5
    pretrain: int = 2000
    tests: tuple[str, ...] = CLASSIFY_TESTS
    test_share: float = 0.25
    seed: int | None = None

    def __post_init__(self):
        check_range("train_tasks", self.train_tasks, 1, 200, integer=True)
        check_range("instances", self.instances, 1, 1000, integer=True)
        check_range("n_test", self.n_test, 3, 500, integer=True)
        check_range("relabel_tasks", self.relabel_tasks, 1, 60, integer=True)
        check_range("compose_labelings", self.compose_labelings, 1, 10, integer=True)
        check_range("compose_pairs", self.compose_pairs, 1, 10, integer=True)
        check_range("pretrain", self.pretrain, 1, 100_000, integer=True)
        check_range("test_share", self.test_share, 0.1, 0.5)
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        if not isinstance(self.tests, tuple) or not self.tests:
            raise ValueError(f"tests must be a non-empty tuple of {CLASSIFY_TESTS}")
        for t in self.tests:
            check_choice("tests entry", t, CLASSIFY_TESTS)


ClassifyTask.split_config_class = ClassifySplitConfig


def _label_words(pool: Sequence[str], k: int, rng: np.random.Generator) -> tuple[str, ...]:
    """``k`` distinct label words, drawn with weight 1 / (rank + 1)."""
    w = 1.0 / np.arange(1, len(pool) + 1)
    return tuple(pool[i] for i in rng.choice(len(pool), k, replace=False, p=w / w.sum()))


def _new_labels(pool: Sequence[str], k: int, rng: np.random.Generator,
                used: set[frozenset]) -> tuple[str, ...]:
    """Label words whose set is not in ``used`` (then add it)."""
    for _ in range(1000):
        labels = _label_words(pool, k, rng)
        if frozenset(labels) not in used:
            used.add(frozenset(labels))
            return labels
    raise ValueError("the label pool is too small for this many tasks of one pair")


def make_classify_split(task: ClassifyTask, cfg: ClassifySplitConfig, seed: int) -> Split:
    """Training tasks, held-out tasks and their examples (``ClassifySplitConfig``)."""
    c = task.config
    seed = cfg.seed if cfg.seed is not None else seed
    rng = np.random.default_rng([seed, 0x5EED])
    preds, letters = list(c.predicates), list(c.letters)
    if cfg.compose_pairs > min(len(preds), len(letters)):
        raise ValueError(f"compose_pairs may be at most {min(len(preds), len(letters))} "
                         f"(one per predicate, each with its own argument)")
    # held-out compose pairs: predicate i with argument perm[i] (a partial permutation)
    perm = rng.permutation(len(letters))
    held_preds = rng.choice(len(preds), cfg.compose_pairs, replace=False)
    compose = {(preds[i], letters[perm[i]]) for i in held_preds}
    # trainable pairs in diagonals: each diagonal has every predicate once, with distinct
    # arguments, so a few tasks already span the predicates and the arguments
    order = []
    for d in rng.permutation(len(letters)):
        for i in range(len(preds)):
            pair = (preds[i], letters[(perm[i] + d) % len(letters)])
            if pair not in compose:
                order.append(pair)
    used: dict[tuple[str, str], set] = {p: set() for p in task.pairs()}
    train_cells = []
    for t in range(cfg.train_tasks):
        p, a = order[t % len(order)]
        train_cells.append(ClassifyCell(p, a, _new_labels(c.label_pool, PREDICATES[p], rng,
                                                          used[p, a])))
    trained_pairs = {cell.pair for cell in train_cells}
    seen_preds = {p for p, _ in trained_pairs}
    seen_args = {a for _, a in trained_pairs}
    tests_cells: dict[str, list] = {}
    if "id" in cfg.tests:
        tests_cells["id"] = list(train_cells)
    if "relabel" in cfg.tests:
        pairs = sorted(trained_pairs)
        pick = rng.permutation(len(pairs))
        tests_cells["relabel"] = [
            ClassifyCell(*pairs[pick[i % len(pairs)]], _new_labels(
                c.label_pool, PREDICATES[pairs[pick[i % len(pairs)]][0]], rng,
                used[pairs[pick[i % len(pairs)]]]))
            for i in range(cfg.relabel_tasks)]
    if "compose" in cfg.tests:
        ok = sorted(pa for pa in compose if pa[0] in seen_preds and pa[1] in seen_args)
        tests_cells["compose"] = [
            ClassifyCell(p, a, _new_labels(c.label_pool, PREDICATES[p], rng, used[p, a]))
            for p, a in ok for _ in range(cfg.compose_labelings)]
    salt = int(rng.integers(0, 2**31))
    delusive = c.condition == "delusive"
    train = Examples.concat([task.sample(cell, cfg.instances, rng, "train", salt,
                                         cfg.test_share, shuffle_labels=delusive)
                             for cell in train_cells])
    tests = {name: Examples.concat([task.sample(cell, cfg.n_test, rng, "test", salt,
                                                cfg.test_share) for cell in cells])
             for name, cells in tests_cells.items()}
    words = [task.vocab.tokens[t[p]] for t, p in zip(train.tokens, train.prompt_len)]
    counts = {w: words.count(w) for w in c.label_pool}
    record = {
        "condition": c.condition,
        "train_tasks": [str(cell) for cell in train_cells],
        "trained_pairs": len(trained_pairs),
        "compose_pairs": sorted(f"{p} {a}" for p, a in compose),
        "compose_tested": len(tests_cells.get("compose", [])) // cfg.compose_labelings,
        "label_counts": counts,
    }
    split = Split(train=train, patch=Examples.empty(), val=Examples.empty(),
                  tests=tests, train_cells=train_cells, test_cells=tests_cells,
                  patch_cells=[], coverage=len(trained_pairs) / len(task.pairs()),
                  record=record,
                  pools={"pretrain": task.pretrain_sample(cfg.pretrain, rng, salt,
                                                          cfg.test_share)})
    split.check_no_leakage()
    return split


__all__ = ["CLASSIFY_TESTS", "CONDITIONS", "ClassifyCell", "ClassifyConfig",
           "ClassifySplitConfig", "ClassifyTask", "LABEL_POOL", "PREDICATES", "classes",
           "make_classify_split"]
