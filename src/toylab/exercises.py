"""Checks for the chapters' exercises. Each check prints what is right or wrong and returns
True or False, so a learner (or a course's autograder) can call it right after trying.

The checks compute their expected answers with the library itself (the exact solver, the
split builder), never from typed-in numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from toylab.config import check_range
from toylab.results import seed_band, select
from toylab.splits import LeakageError, Split
from toylab.sweep import shipped
from toylab.tasks import LetterConfig, LetterTask


def _report(ok: bool, good: str, bad: str) -> bool:
    print(("Correct: " + good) if ok else ("Not yet: " + bad))
    return ok


def check_target(prompt: str, answer: str, config: LetterConfig | None = None) -> bool:
    """Exercise 0.1: is ``answer`` the target the task's solver gives for ``prompt``?

    Args:
        prompt: tokens separated by spaces, e.g. ``"B A D [reverse] [rot3] <think>"``.
        answer: your target, tokens separated by spaces, ending in ``<eos>``.
        config: the task (default: ``LetterConfig()``, 8 letters).
    """
    task = LetterTask(config or LetterConfig())
    expected = task.solve(prompt.split())
    given = answer.split()
    if given == expected:
        return _report(True, " ".join(expected), "")
    first = next((i for i, (a, b) in enumerate(zip(given, expected)) if a != b),
                 min(len(given), len(expected)))
    return _report(False, "", f"your target differs from the solver's at token {first + 1} "
                   f"(you wrote {given[first:first + 1] or 'nothing'}); re-apply the "
                   "transformations one at a time, in the order written")


def check_held_out_split(split: Split, held_out: Sequence[str]) -> bool:
    """Exercises 0.2 and 1.2: does ``split`` train on every composition but ``held_out``,
    test exactly that one as ``cmp``, and keep every test string out of training?"""
    held = tuple(held_out)
    trained = {c.composition for c in split.train_cells}
    cmp_cells = {c.composition for c in split.test_cells.get("cmp", [])}
    if held in trained:
        return _report(False, "", f"{'∘'.join(held)} is in the training cells")
    if cmp_cells != {held}:
        return _report(False, "", f"the cmp test holds {sorted(cmp_cells)}, not just "
                       f"{held}; did you ask for tests=('id', 'cmp')?")
    try:
        split.check_no_leakage()
    except LeakageError as err:
        return _report(False, "", f"leak: {err}")
    return _report(True, f"training covers {len(trained)} compositions, the test holds "
                   f"out {'∘'.join(held)}, and no test string was trained on", "")


def _cmp_band(sweep: str, field: str, **fixed) -> pd.DataFrame:
    """Mean, lowest and highest held-out (cmp) exact match per value of ``field``."""
    return seed_band(select(shipped(sweep), split="cmp", **fixed), [field]).sort_values(
        field)


def check_coverage_prediction(prediction: float, coverage: float, trace: bool = True,
                              slack: float = 0.1) -> bool:
    """Exercise 1.1: is your predicted held-out exact match at ``coverage`` within
    ``slack`` of what the shipped seeds reached (lowest to highest)?"""
    check_range("prediction", prediction, 0.0, 1.0)
    band = _cmp_band("interpolation_coverage", "coverage", trace=trace)
    row = band[(band.coverage - coverage).abs() < 1e-9]
    if row.empty:
        raise ValueError(f"coverage must be one of the swept values "
                         f"{band.coverage.tolist()}, got {coverage}")
    mean, low, high = (float(row[c].iloc[0]) for c in ("mean", "low", "high"))
    measured = (f"the shipped seeds reached {low:.3f} to {high:.3f} (mean {mean:.3f}) at "
                f"coverage {coverage} {'with' if trace else 'without'} a trace")
    ok = low - slack <= prediction <= high + slack
    side = "above" if prediction > high + slack else "below"
    return _report(ok, measured, f"you predicted {prediction:.3f}, which is {side} every "
                   f"shipped seed by more than {slack}. Keep your prediction written "
                   "down, then look at the figure and ask what your guess assumed.")


def smallest_patch(threshold: float = 0.8) -> float | None:
    """The smallest patch share in the shipped sweep whose held-out exact match, mean over
    seeds, reaches ``threshold`` (None if none does)."""
    band = _cmp_band("interpolation_patch", "patch")
    enough = band[band["mean"] >= threshold]
    return float(enough.patch.iloc[0]) if len(enough) else None


def check_patch_size(share: float, threshold: float = 0.8) -> bool:
    """Exercise 1.3: the smallest patch (a share of the training set) that brings the
    held-out composition to ``threshold`` exact match, mean over the shipped seeds."""
    check_range("share", share, 0.0, 1.0)
    band = _cmp_band("interpolation_patch", "patch")
    answer = smallest_patch(threshold)
    table = ", ".join(f"{p:g}: {m:.2f}" for p, m in zip(band.patch, band["mean"]))
    if answer is None:
        return _report(False, "", f"no patch in the sweep reaches {threshold}")
    ok = abs(share - answer) < 1e-12
    hint = ("too small: at that share the held-out mean stays below the threshold"
            if share < answer else "a smaller share of the sweep already reaches it")
    return _report(ok, f"{answer:g} of the training set ({table})",
                   f"you said {share:g}: {hint} (the sweep's shares: "
                   f"{', '.join(f'{p:g}' for p in band.patch)})")
