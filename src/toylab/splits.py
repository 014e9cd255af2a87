"""What every split holds, whatever the family: a training set, named test sets, the record
of which cells went where, and the leakage check.

Each task family owns its split strategy (``Task.make_split``: which cells training covers,
which named tests it makes; for the letter family, ``toylab.tasks.letter_splits``). This
module holds what they share:

* ``Split``: the examples and the record of cells, with ``check_no_leakage``;
* ``draw``: examples spread evenly over cells, from one share of their instances;
* ``make_split(task, cfg, seed)``: the task's own strategy.

A *patch* adds examples of one held-out split's cells to training, drawn from the training
share of their instances, so the split's test examples stay unseen; the split records the
patched cells, and the leakage check allows exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the task package imports this module, so no import at run time
    from toylab.tasks.base import Cell, Task
    from toylab.tasks.data import Examples


class LeakageError(AssertionError):
    """A held-out cell or test example turned up in training."""


@dataclass
class Split:
    """What a split holds: examples, and the record of which cells went where.

    Attributes:
        train, patch, val: training examples, held-out examples added to training, and
            in-distribution examples (from the test share) for early stopping.
        tests: the named test splits.
        train_cells, test_cells, patch_cells: which cells each of them came from.
        coverage: the realized share of the family's grid that training touches.
        record: the family's own entries for ``summary`` (e.g. the trained compositions).
        in_distribution: test splits whose cells are the trained ones (not held out).
        pools: further named training sets an experiment's phases draw on (a schedule
            that trains family A, then B), checked for leakage like ``train``.
    """

    train: Examples
    patch: Examples
    val: Examples
    tests: dict[str, Examples]
    train_cells: list[Cell]
    test_cells: dict[str, list[Cell]]
    patch_cells: list[Cell]
    coverage: float
    record: dict[str, Any] = field(default_factory=dict)
    in_distribution: tuple[str, ...] = ("id",)
    pools: dict[str, Examples] = field(default_factory=dict)

    def summary(self) -> dict:
        """A JSON-ready record of the split (stored with every result)."""
        return {
            "coverage": self.coverage, **self.record,
            "n_train": len(self.train), "n_patch": len(self.patch),
            "n_train_cells": len(self.train_cells),
            "patch_cells": [str(c) for c in self.patch_cells],
            "tests": {name: {"n": len(ex), "cells": [str(c) for c in self.test_cells[name]]}
                      for name, ex in self.tests.items()},
        }

    def check_no_leakage(self) -> None:
        """Raise ``LeakageError`` if any held-out cell or test example is in training."""
        trained = set(self.train.cells)
        patched = set(self.patch.cells)
        if not patched <= set(self.patch_cells):
            raise LeakageError("patch examples came from cells not recorded as patched")
        for name, cells in self.test_cells.items():
            if name in self.in_distribution:
                continue
            if leaked := trained & set(cells):
                raise LeakageError(f"held-out cells of {name!r} in training: "
                                   f"{sorted(map(str, leaked))[:3]}")
        train_rows = self.train.rows() | self.patch.rows()
        for pool in self.pools.values():
            train_rows |= pool.rows()
        for name, ex in {**self.tests, "val": self.val}.items():
            if ex.rows() & train_rows:
                raise LeakageError(f"a {name!r} test example is also a training example")


def spread(n: int, parts: int) -> list[int]:
    """``n`` items over ``parts`` bins as evenly as possible."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def draw(task: Task, cells: Sequence[Cell], n: int, rng: np.random.Generator, pool: str,
         salt: int, test_share: float) -> Examples:
    """``n`` examples spread evenly over ``cells``, from one share of their instances."""
    from toylab.tasks.data import Examples

    return Examples.concat([task.sample(c, k, rng, pool, salt, test_share)
                            for c, k in zip(cells, spread(n, len(cells))) if k])


def make_split(task: Task, cfg: Any, seed: int) -> Split:
    """The training set and named test splits of ``task`` under its split config ``cfg``
    (the family's own strategy, ``task.make_split``)."""
    if not isinstance(cfg, task.split_config_class):
        raise ValueError(f"{type(task).__name__} splits with a "
                         f"{task.split_config_class.__name__}, got {type(cfg).__name__}")
    return task.make_split(cfg, seed)
