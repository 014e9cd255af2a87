"""Checks for the chapters' exercises. Each check prints what is right or wrong and returns
True or False, so a learner (or a course's autograder) can call it right after trying.

The checks compute their expected answers with the library itself (the exact solver, the
split builder), never from typed-in numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from toylab.splits import LeakageError, Split
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
    """Exercise 0.2: does ``split`` train on every composition but ``held_out``, test
    exactly that one as ``cmp``, and keep every test string out of training?"""
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
