"""Reading tidy results: select rows, bands over seeds, paired differences, findings.

Every experiment returns a long frame (``..., seed, split, part, metric, value, n``). The
chapters, their claim cards, their findings tests and the figures all read it through the
few functions here, so a filter or a statistic is written once:

* ``select``: rows of one metric of one part (full-output exact match by default), with
  optional column filters;
* ``seed_band``: mean, lowest and highest value over seeds per group;
* ``paired``: per-seed differences between two conditions, with their sign count;
* ``Findings``: the numbers a chapter states, its sentences and its claim card's rows,
  computed by the experiment module's ``findings()`` from the shipped sweeps.

Functions that only read results are marked ``@analysis``; editing them never invalidates
cached results (``toylab.cache``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

F = TypeVar("F", bound=Callable)


def analysis(fn: F) -> F:
    """Mark a function that reads results and never makes them (see ``toylab.cache``)."""
    return fn


def select(frame: pd.DataFrame, metric: str = "exact_match", part: str | None = "full",
           **where: Any) -> pd.DataFrame:
    """Rows of ``metric`` on ``part`` (None: every part) where each column equals its value.

    ``select(frame, split="cmp", trace=True)`` is the full-output exact match of ``cmp``
    with a trace. A value that is a list or tuple keeps rows equal to any of its items.
    Raises ValueError naming the columns there are if a filter names a missing column.
    """
    rows = frame[frame.metric == metric] if metric is not None else frame
    if part is not None:
        rows = rows[rows.part == part]
    for column, value in where.items():
        if column not in rows:
            raise ValueError(f"the frame has no column {column!r}; columns: {list(rows)}")
        keep = (rows[column].isin(list(value)) if isinstance(value, (list, tuple))
                else rows[column] == value)
        rows = rows[keep]
    return rows


def seed_band(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean, lowest and highest value over seeds (``mean, low, high, seeds``) per group of
    ``by``."""
    grouped = frame.groupby(list(by), sort=False).value
    return grouped.agg(mean="mean", low="min", high="max", seeds="count").reset_index()


def mean_table(frame: pd.DataFrame, index: str | Sequence[str],
               columns: str | Sequence[str] = "metric",
               values: str | Sequence[str] = "mean",
               metric: str | None = None, part: str = "full", digits: int = 3,
               **where: Any) -> pd.DataFrame:
    """A table of the mean over seeds (or ``values``: any of ``mean, low, high``) by
    ``index`` and ``columns``. ``metric`` defaults to every metric when the columns are
    the metrics, else to exact match; ``where`` filters as ``select`` does."""
    index = [index] if isinstance(index, str) else list(index)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if metric is None and "metric" not in columns:
        metric = "exact_match"
    band = seed_band(select(frame, metric, part, **where), index + columns)
    return band.pivot_table(index=index, columns=columns, values=values).round(digits)


@dataclass(frozen=True)
class Paired:
    """Per-seed differences ``a - b`` of two conditions measured on the same seeds."""

    diffs: pd.Series  # indexed by seed

    @property
    def mean(self) -> float:
        return float(self.diffs.mean())

    @property
    def positive(self) -> int:
        return int((self.diffs > 0).sum())

    @property
    def negative(self) -> int:
        return int((self.diffs < 0).sum())

    @property
    def seeds(self) -> int:
        return len(self.diffs)

    def __str__(self) -> str:
        return (f"{self.mean:+.3f} (higher in {self.positive} of {self.seeds} seeds, "
                f"lower in {self.negative})")


def paired(frame: pd.DataFrame, column: str, a: Any, b: Any) -> Paired:
    """Differences ``value(column == a) - value(column == b)`` seed by seed, over the seeds
    both have; ``frame`` must hold one value per seed and condition (``select`` first)."""
    values = frame.set_index([column, "seed"]).value
    if values.index.duplicated().any():
        raise ValueError("paired() needs one value per seed and condition; select rows "
                         "down to one metric, part and split first")
    diffs = (values.loc[a] - values.loc[b]).dropna()
    return Paired(diffs.sort_index())


@analysis
def mean_paired(changed: Sequence, base: Sequence, score: Callable[[Any], float]) -> float:
    """Mean over seeds of ``score(changed run) - score(base run)``: two equally long lists
    of results on the same seeds, in the same order (a learner's paired experiment)."""
    if not changed or len(changed) != len(base):
        raise ValueError("give two equally long, non-empty lists of results, one run per "
                         "seed in each")
    for a, b in zip(changed, base):
        if a.config.seed != b.config.seed:
            raise ValueError("the two lists must hold the same seeds in the same order")
    return float(sum(score(a) - score(b) for a, b in zip(changed, base)) / len(changed))


def span(values: pd.Series, digits: int = 3) -> str:
    """``"low to high"`` of a series of per-seed values."""
    return f"{values.min():.{digits}f} to {values.max():.{digits}f}"


def per_seed(values: pd.Series, digits: int = 3) -> str:
    """The values, comma-separated, in seed order."""
    return ", ".join(f"{v:.{digits}f}" for v in values)


@dataclass
class Findings:
    """What a chapter states, computed from its sweeps.

    Attributes:
        values: named numbers (findings tests read these).
        texts: named paragraphs with the numbers filled in (the chapter prints them).
        card: the claim card's rows: claim, the paper's number (provenance), the toy's
            number with its seed spread, where they differ.
    """

    values: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    card: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def say(self, name: str) -> None:
        """Print one paragraph, wrapped to the width of the page."""
        if name not in self.texts:
            raise ValueError(f"no text {name!r}; texts: {list(self.texts)}")
        for line in self.texts[name].split("\n"):
            print(textwrap.fill(line, 78, subsequent_indent="  ",
                                break_on_hyphens=False))

    def claim_card(self) -> pd.DataFrame:
        """The claim card as a table."""
        return pd.DataFrame(self.card, columns=[
            "claim", "paper (provenance)", "toy (shipped sweeps, per seed)", "differs?"]
        ).set_index("claim")
