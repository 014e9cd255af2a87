"""The ``Task`` interface every family implements, its registry, and its named test splits.

A task family is a generator of examples over a grid of *cells* (for the letter family: a
composition at a length in a format). Every family provides the same things, so that the
experiment pipeline, training, evaluation and views never need to know which one they
serve:

* ``grid()``: every cell the task can generate;
* ``sample(cell, n, rng, pool, salt, test_share)``: ``n`` examples of one cell, drawn from
  the ``"train"``, ``"val"`` or ``"test"`` share of the cell's instances (never
  overlapping);
* ``solve(prompt)``: the exact reference answer for a prompt;
* ``parts(target)``: the named parts of a target that evaluation scores separately;
* ``make_split(split_config, seed)``: the family's own split strategy, which decides what
  training covers and builds the family's named test splits (``test_splits``: their names,
  order, colours and descriptions, which the views read).

A new family is new files: subclass ``Task`` with its own config (a frozen dataclass with a
``kind`` class attribute) and split config, and decorate it with ``register_task``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from toylab.tasks.data import Examples, Vocab, until_eos

if TYPE_CHECKING:
    from toylab.splits import Split


class Cell:
    """One point of a task's grid. Families subclass it as a frozen dataclass; generic
    code uses only ``key`` (the values that name the cell), equality, hashing and
    ``str``."""

    @property
    def key(self) -> tuple:
        raise NotImplementedError

    def __str__(self) -> str:
        return " | ".join(map(str, self.key))


@dataclass(frozen=True, order=True)
class KeyCell(Cell):
    """A cell that is nothing but its key, for families that need no named fields."""

    values: tuple

    @property
    def key(self) -> tuple:
        return self.values


@dataclass(frozen=True)
class TestSplit:
    """A named test split a family makes: what it asks and how the figures colour it."""

    name: str
    description: str
    color: str


class Task(abc.ABC):
    """What every task family provides. Subclass it and ``register_task`` the subclass."""

    config_class: ClassVar[type]
    split_config_class: ClassVar[type]
    #: the named test splits this family's ``make_split`` can build, in display order
    test_splits: ClassVar[tuple[TestSplit, ...]] = ()

    def __init__(self, config):
        if not isinstance(config, self.config_class):
            raise ValueError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config

    @property
    @abc.abstractmethod
    def vocab(self) -> Vocab:
        """All tokens the task can produce, with ``<pad>`` first."""

    @abc.abstractmethod
    def grid(self) -> list[Cell]:
        """Every cell this task can generate."""

    @abc.abstractmethod
    def sample(self, cell: Cell, n: int, rng: np.random.Generator, pool: str,
               salt: int, test_share: float = 0.2) -> Examples:
        """``n`` examples of ``cell`` from one share (``"train"``, ``"val"``, ``"test"``)
        of its instances. ``salt`` decides which instances fall in which share,
        ``test_share`` how large the test share is."""

    @abc.abstractmethod
    def solve(self, prompt: Sequence[str]) -> list[str]:
        """The exact target (ending in ``<eos>``) for a clean prompt."""

    @property
    @abc.abstractmethod
    def max_len(self) -> int:
        """The longest prompt + target any cell can produce (the model's context)."""

    @abc.abstractmethod
    def make_split(self, cfg: Any, seed: int) -> Split:
        """Training set and named test splits for a split config of this family."""

    def parts(self, target: Sequence[str]) -> dict[str, list[str]]:
        """Named parts of a target or an output, scored separately by evaluation."""
        return {"full": until_eos(target)}

    def cell_columns(self, cell: Cell) -> dict[str, Any]:
        """How a cell reads in a table (``examples_frame``): column name -> value."""
        return {"cell": str(cell)}


# ---------------------------------------------------------------------------------------
# Registry

TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task buildable from its config by ``make_task``."""
    kind = cls.config_class.kind
    if kind in TASKS and TASKS[kind] is not cls:
        raise ValueError(f"a task of kind {kind!r} is registered already")
    TASKS[kind] = cls
    return cls


def task_class(config) -> type[Task]:
    """The registered task class whose config this is."""
    kind = getattr(type(config), "kind", None)
    if kind not in TASKS:
        raise ValueError(f"no task registered for {type(config).__name__}; "
                         f"registered kinds are {sorted(TASKS)}")
    return TASKS[kind]


def make_task(config) -> Task:
    """Build the registered task whose config this is."""
    return task_class(config)(config)


def test_split_styles() -> dict[str, TestSplit]:
    """Every registered family's named test splits, by name, in registration order (the
    first family to name a split decides its colour)."""
    out: dict[str, TestSplit] = {}
    for cls in TASKS.values():
        for spec in cls.test_splits:
            out.setdefault(spec.name, spec)
    return out


def examples_frame(task: Task, cells: Sequence[Cell] | None = None, n: int = 2,
                   seed: int = 0) -> pd.DataFrame:
    """A table of ``n`` examples for each cell (default: every cell), for reading."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells if cells is not None else task.grid():
        ex = task.sample(cell, n, rng, "train", salt=seed)
        for prompt, target in zip(ex.prompts(), ex.targets()):
            rows.append({**task.cell_columns(cell),
                         "prompt": " ".join(task.vocab.decode(prompt)),
                         "target": " ".join(task.vocab.decode(target))})
    return pd.DataFrame(rows)
