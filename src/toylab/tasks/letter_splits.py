"""The letter family's split strategy: coverage of the composition grid.

``coverage`` is the share of the task's composition grid that training touches. Instances
are held out too: every test example is drawn from the test share of its cell's strings,
every training example from the train share, so an in-distribution test string was never
trained on either.

The named test splits (``TEST_SPLITS``), after DataAlchemy's transformation, length and
format axes:

* ``id``: the training compositions, at the training lengths, clean format.
* ``cmp``: compositions not trained on, built only from transformations training saw.
* ``pood``: compositions mixing seen transformations with at least one never seen.
* ``ood``: compositions of transformations training never saw.
* ``length``: the training compositions at the grid's other lengths.
* ``noise``: the training compositions in the noisy format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from toylab.config import check_choice, check_range
from toylab.splits import LeakageError, Split, draw
from toylab.tasks.base import TestSplit
from toylab.tasks.data import Examples

if TYPE_CHECKING:
    from toylab.tasks.letters import LetterCell, LetterTask  # noqa: F401

#: The letter family's named test splits, in display order, with their colours.
TEST_SPLIT_SPECS = (
    TestSplit("id", "trained compositions, new strings", "#1b7837"),
    TestSplit("cmp", "unseen composition of seen transformations", "#c51b7d"),
    TestSplit("pood", "composition with at least one unseen transformation", "#e08214"),
    TestSplit("ood", "only unseen transformations", "#762a83"),
    TestSplit("length", "trained compositions at other lengths", "#2166ac"),
    TestSplit("noise", "trained compositions, noisy prompt format", "#8c510a"),
)
TEST_SPLITS = {s.name: s.description for s in TEST_SPLIT_SPECS}


@dataclass(frozen=True)
class LetterSplitConfig:
    """Which part of the grid training covers, and what is held out.

    Attributes:
        coverage: share of the composition grid training touches, in (0, 1]. The number of
            training compositions is ``coverage * grid size``, rounded half up; at least
            one. Ignored
            (must be None) when ``train_compositions`` is given.
        train_compositions: an explicit list of training compositions, e.g.
            ``(("rot3", "rot3"), ("rot3", "shift1"))``, instead of a coverage.
        unseen_transforms: transformations no training composition may use (for the
            ``pood`` and ``ood`` tests).
        test_compositions: if given, the held-out tests (``cmp``, ``pood``, ``ood``) hold
            only these compositions, e.g. ``(("shift1", "rot3"),)``; each must be in the
            grid and not trained on.
        train_lengths: element lengths used in training; the grid's other lengths form the
            ``length`` test.
        n_train: training examples, spread evenly over the training cells. 1-200,000.
        examples_per_cell: if given, training holds this many examples of every training
            cell instead (``n_train`` is then ignored), so a coverage changes the number
            of cells and not how thinly the training set covers each. 1-20,000.
        singles: if True, every transformation alone (a chain of one, whatever the
            task's ``depths``) is trained on too, as many examples as each covered
            composition, so the data shows what each token does by itself; coverage
            then counts the longer compositions only, and the tests hold only those.
        n_test: examples in each test split, spread evenly over its cells. 1-20,000.
        n_val: in-distribution examples used for early stopping, from the validation
            share of the trained cells' strings (disjoint from every test string).
        test_share: share of each cell's strings never trained on, in [0.05, 0.95]; half
            of it is for early stopping, half for the tests.
        tests: the named test splits to build (see ``TEST_SPLITS``); each must be
            non-empty for this grid and training set.
        patch: held-out examples added to training, as a share of ``n_train``, in [0, 1].
        patch_split: the test split whose cells the patch comes from.
        seed: seeds the choice of training compositions and the string shares; None
            means the experiment's seed decides.
    """

    coverage: float | None = 0.5
    train_compositions: tuple[tuple[str, ...], ...] | None = None
    unseen_transforms: tuple[str, ...] = ()
    test_compositions: tuple[tuple[str, ...], ...] | None = None
    train_lengths: tuple[int, ...] = (4,)
    n_train: int = 2000
    examples_per_cell: int | None = None
    singles: bool = False
    n_test: int = 256
    n_val: int = 256
    test_share: float = 0.2
    tests: tuple[str, ...] = ("id", "cmp")
    patch: float = 0.0
    patch_split: str = "cmp"
    seed: int | None = None

    def __post_init__(self):
        if (self.coverage is None) == (self.train_compositions is None):
            raise ValueError("give exactly one of coverage (a share of the composition "
                             "grid) and train_compositions (an explicit list)")
        if self.coverage is not None:
            check_range("coverage", self.coverage, 0.0, 1.0)
        for name in ("train_compositions", "test_compositions"):
            value = getattr(self, name)
            if value is not None and (
                    not isinstance(value, tuple) or not value
                    or not all(isinstance(c, tuple) and c for c in value)):
                raise ValueError(f"{name} must be a non-empty tuple of non-empty tuples "
                                 f"of transform names, got {value!r}")
        if not isinstance(self.unseen_transforms, tuple):
            raise ValueError("unseen_transforms must be a tuple of transform names")
        if not isinstance(self.train_lengths, tuple) or not self.train_lengths:
            raise ValueError("train_lengths must be a non-empty tuple of lengths")
        check_range("n_train", self.n_train, 1, 200_000, integer=True)
        if self.examples_per_cell is not None:
            check_range("examples_per_cell", self.examples_per_cell, 1, 20_000,
                        integer=True)
        if not isinstance(self.singles, bool):
            raise ValueError(f"singles must be True or False, got {self.singles!r}")
        check_range("n_test", self.n_test, 1, 20_000, integer=True)
        check_range("n_val", self.n_val, 1, 20_000, integer=True)
        check_range("test_share", self.test_share, 0.05, 0.95)
        if not isinstance(self.tests, tuple) or not self.tests:
            raise ValueError(f"tests must be a non-empty tuple of {list(TEST_SPLITS)}")
        for name in self.tests:
            check_choice("tests entry", name, TEST_SPLITS)
        check_range("patch", self.patch, 0.0, 1.0)
        check_choice("patch_split", self.patch_split, [s for s in TEST_SPLITS if s != "id"])
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


Composition = tuple[str, ...]


def choose_compositions(grid: Sequence[Composition], eligible: Sequence[Composition],
                        coverage: float, rng: np.random.Generator) -> list[Composition]:
    """Pick ``coverage * len(grid)`` (rounded) training compositions from ``eligible``.

    Compositions are taken in a random order, except that while some eligible
    transformation is not covered yet, the first composition adding the most uncovered
    ones goes next. So every transformation is seen as early as coverage allows, and few
    compositions leave unseen *compositions* of seen parts (the informative ``cmp`` test)
    rather than unseen parts.
    """
    n = int(coverage * len(grid) + 0.5)  # half rounds up
    if n < 1:
        raise ValueError(f"coverage={coverage} gives no training composition; the grid "
                         f"has {len(grid)} compositions, so coverage must be at least "
                         f"{0.5 / len(grid):.3f}")
    if n > len(eligible):
        raise ValueError(f"coverage={coverage} asks for {n} training compositions but "
                         f"only {len(eligible)} avoid the unseen transforms; coverage "
                         f"must be at most {len(eligible) / len(grid):.3f}")
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    chosen: list[tuple[str, ...]] = []
    seen: set[str] = set()
    while len(chosen) < n:  # greedy cover: the first composition that adds the most
        best = max(order, key=lambda c: len(set(c) - seen))
        if not set(best) - seen:
            break
        chosen.append(best)
        order.remove(best)
        seen |= set(best)
    return chosen + order[:n - len(chosen)]


def make_letter_split(task: LetterTask, cfg: LetterSplitConfig, seed: int) -> Split:
    """Build the training set and the named test splits for ``task``.

    Args:
        task: the letter task.
        cfg: what to cover and hold out.
        seed: the experiment's split seed (``cfg.seed`` overrides it).

    Raises:
        ValueError: the request cannot be met (no training cell, an empty test split,
            an unknown transformation, a length not in the grid); the message says
            what is allowed.
    """
    from toylab.tasks.letters import LetterCell

    seed = cfg.seed if cfg.seed is not None else seed
    rng = np.random.default_rng([seed, 0x5117])
    salt = int(np.random.default_rng([seed, 0x5A17]).integers(0, 2**62))
    grid = task.grid()
    comps = list(dict.fromkeys(c.composition for c in grid))
    lengths = sorted({c.length for c in grid})
    parts = sorted({t for c in comps for t in c})
    bad = [t for t in cfg.unseen_transforms if t not in parts]
    if bad:
        raise ValueError(f"unseen_transforms {bad} are not in the task; it has {parts}")
    singles = ([(t,) for t in parts if t not in cfg.unseen_transforms] if cfg.singles
               else [])
    comps = [c for c in comps if len(c) > 1] if cfg.singles else comps
    if not comps:
        raise ValueError("singles=True needs compositions of two or more "
                         "transformations in the task's depths")
    bad_len = [n for n in cfg.train_lengths if n not in lengths]
    if bad_len:
        raise ValueError(f"train_lengths {bad_len} are not in the task's lengths "
                         f"{lengths}")
    eligible = [c for c in comps if not set(c) & set(cfg.unseen_transforms)]
    if cfg.train_compositions is not None:
        train_comps = list(dict.fromkeys(cfg.train_compositions))
        bad_comp = [c for c in train_comps if c not in eligible]
        if bad_comp:
            raise ValueError(f"train_compositions {bad_comp} are not in the grid or use "
                             f"an unseen transform; the grid has {comps}")
    else:
        train_comps = choose_compositions(comps, eligible, cfg.coverage, rng)
    seen = {t for c in train_comps + singles for t in c}
    held = [c for c in comps if c not in train_comps]
    if cfg.test_compositions is not None:
        wanted = list(dict.fromkeys(cfg.test_compositions))
        bad_test = [c for c in wanted if c not in held]
        if bad_test:
            raise ValueError(f"test_compositions {bad_test} are not held-out compositions "
                             f"of the grid; held out here: {held}")
        held = wanted
    comp_sets = {
        "id": train_comps,
        "cmp": [c for c in held if set(c) <= seen],
        "pood": [c for c in held if set(c) & seen and not set(c) <= seen],
        "ood": [c for c in held if not set(c) & seen],
        "length": train_comps,
        "noise": train_comps,
    }
    other_lengths = [n for n in lengths if n not in cfg.train_lengths]
    cell_set = set(grid)

    def cells(name: str) -> list[LetterCell]:
        lens = other_lengths if name == "length" else cfg.train_lengths
        fmt = "noisy" if name == "noise" else "clean"
        return [c for c in (LetterCell(comp, n, fmt) for comp in comp_sets[name]
                            for n in lens)
                if c in cell_set]

    test_cells = {name: cells(name) for name in TEST_SPLITS}
    empty = [name for name in cfg.tests if not test_cells[name]]
    if empty:
        available = [name for name, c in test_cells.items() if c]
        raise ValueError(f"test splits {empty} would be empty with these training "
                         f"compositions ({len(train_comps)} of {len(comps)}); "
                         f"non-empty splits here: {available}")
    id_cells = cells("id")
    train_cells = id_cells + [LetterCell(c, n, "clean") for c in singles
                              for n in cfg.train_lengths]

    def examples(cell_list: list[LetterCell], n: int, pool: str) -> Examples:
        return draw(task, cell_list, n, rng, pool, salt, cfg.test_share)

    n_train = (cfg.n_train if cfg.examples_per_cell is None
               else cfg.examples_per_cell * len(train_cells))
    train = examples(train_cells, n_train, "train")
    patch_cells = test_cells[cfg.patch_split] if cfg.patch > 0 else []
    n_patch = round(cfg.patch * cfg.n_train)
    if n_patch and not patch_cells:
        raise ValueError(f"patch_split {cfg.patch_split!r} is empty here, so there is "
                         "nothing to patch with")
    patch = examples(patch_cells, n_patch, "train") if n_patch else Examples.empty()
    split = Split(
        train=train, patch=patch, val=examples(id_cells, cfg.n_val, "val"),
        tests={name: examples(test_cells[name], cfg.n_test, "test") for name in cfg.tests},
        train_cells=train_cells, test_cells={n: test_cells[n] for n in cfg.tests},
        patch_cells=patch_cells, coverage=len(train_comps) / len(comps),
        record={"train_compositions": ["∘".join(c) for c in sorted(train_comps)],
                "seen_transforms": sorted(seen), "singles": ["∘".join(c) for c in singles]})
    split.check_no_leakage()
    tested = set().union(*(ex.rows() for ex in split.tests.values()))
    if split.val.rows() & tested:
        raise LeakageError("an early-stopping example is also a test example")
    return split


def coverage_counts(split: Split) -> dict[str, float]:
    """What comes with a coverage of the letter grid, as columns for every metric row:
    ``compositions`` trained, and ``examples_per_cell`` (the training set spread over the
    trained cells, which thins as coverage grows)."""
    return {"compositions": len(split.record["train_compositions"]),
            "examples_per_cell": round(len(split.train) / len(split.train_cells), 1)}
