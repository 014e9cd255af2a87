"""Checks for the chapters' exercises. Each check prints what is right or wrong and returns
True or False, so a learner (or a course's autograder) can call it right after trying.

The checks compute their expected answers with the library itself (the exact solver, the
split builder), never from typed-in numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from toylab.config import check_range, to_dict
from toylab.results import seed_band, select
from toylab.splits import LeakageError, Split
from toylab.sweep import shipped
from toylab.tasks import LetterConfig, LetterTask


def _report(ok: bool, good: str, bad: str) -> bool:
    print(("Correct: " + good) if ok else ("Not yet: " + bad))
    return ok


def _unanswered(**answers) -> bool:
    """True (after saying so) when an answer is still the placeholder ``None``: a check
    run before the learner answered prints no answer of its own."""
    missing = [name for name, value in answers.items() if value is None]
    if missing:
        print(f"Not answered yet: replace None in {', '.join(missing)} with your answer, "
              "then run the cell again.")
    return bool(missing)


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
    if _unanswered(split=split):
        return False
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
                              singles: bool = False, slack: float = 0.1) -> bool:
    """Exercise 1.1: is your predicted held-out exact match at ``coverage`` within
    ``slack`` of what the shipped seeds reached (lowest to highest)? The range is shown
    only once your prediction falls in it."""
    if _unanswered(prediction=prediction):
        return False
    check_range("prediction", prediction, 0.0, 1.0)
    band = _cmp_band("interpolation_coverage", "coverage", trace=trace, singles=singles)
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


def check_wrong_answer(result, row: int, composition: Sequence[str],
                       computable: bool = True) -> bool:
    """Exercise 1.2: does ``composition`` (e.g. ``("rot3", "atbash")``) turn the string of
    row ``row`` of ``interpolation.wrong_answers(result, computable=computable)`` into the
    answer your model wrote there? Any composition that does is right (several can
    coincide)."""
    from toylab.experiments.interpolation import wrong_answers
    from toylab.tasks import make_task

    if _unanswered(composition=composition):
        return False
    wrong = wrong_answers(result, computable=computable)
    if not 0 <= row < len(wrong):
        raise ValueError(f"row must be 0 to {len(wrong) - 1}: the rows of "
                         f"wrong_answers(result, computable={computable})")
    comp = tuple(composition)
    task = make_task(result.config.task)
    unknown = [t for t in comp if t not in result.config.task.transforms]
    if unknown:
        raise ValueError(f"{unknown} are not transformations of this task: "
                         f"{list(result.config.task.transforms)}")
    r = wrong.iloc[row]
    found = task.sources(r.prompt.split(), r.answer.split(), [comp])
    trained = {tuple(c.split("∘")) for c in result.info["train_compositions"]}
    kind = "one it was trained on" if comp in trained else "one it was never trained on"
    return _report(bool(found), f"{'∘'.join(comp) or 'nothing'} turns "
                   f"{r.prompt.split()[:4]} into {r.answer}: the model computed {kind} "
                   f"instead of {r.held_out}",
                   f"{'∘'.join(comp)} does not give {r.answer} from that string; apply it "
                   "by hand (transforms_table() says what each does), or try the "
                   "compositions the run was trained on (result.info"
                   "['train_compositions'])")


def _flat(tree: dict, prefix: str = "") -> dict:
    """``{"split": {"singles": True}}`` -> ``{"split.singles": True}``."""
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else
                   {f"{prefix}{k}": v})
    return out


def check_what_moved(before, after, my_change: float, split: str = "cmp") -> bool:
    """Exercise 1.3: two runs of yours that differ in what you changed (for example
    ``split.singles`` or ``model.positions``); is ``my_change`` the change of exact match
    on ``split`` from ``before`` to ``after`` that they measured (within 0.01)?"""
    if _unanswered(my_change=my_change):
        return False
    old, new = _flat(to_dict(before.config)), _flat(to_dict(after.config))
    changed = {k: (v, new.get(k)) for k, v in old.items() if new.get(k) != v}
    if not changed:
        raise ValueError("the two runs have the same config: change something (for "
                         "example split.singles or model.positions) and run again")
    measured = after.value(split) - before.value(split)
    what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
    return _report(abs(my_change - measured) <= 0.01,
                   f"you changed {what}; {split} exact match moved by {measured:+.3f}. "
                   "Now say why, and check it on a second seed.",
                   f"your number is not what your runs measured; recompute "
                   f"after.value({split!r}) - before.value({split!r})")


def smallest_patch(threshold: float = 0.8) -> float | None:
    """The smallest patch share in the shipped sweep whose held-out exact match, mean over
    seeds, reaches ``threshold`` (None if none does)."""
    band = _cmp_band("interpolation_patch", "patch")
    enough = band[band["mean"] >= threshold]
    return float(enough.patch.iloc[0]) if len(enough) else None


def check_patch_size(share: float, runs: Sequence | None = None,
                     threshold: float = 0.8) -> bool:
    """Exercise 1.4: the smallest patch (a share of the training set) that brings the
    held-out composition to ``threshold`` exact match, mean over seeds.

    With ``runs`` (your results of the ``patch`` preset at several shares and seeds) the
    answer is read off your runs: the smallest share of yours whose mean reaches the
    threshold. Without, any share between the largest shipped share that falls short and
    the smallest that reaches it counts (the sweep did not measure in between)."""
    if _unanswered(share=share):
        return False
    check_range("share", share, 0.0, 1.0)
    if runs:
        frame = pd.DataFrame([{"patch": r.config.split.patch, "value": r.value("cmp")}
                              for r in runs])
        means = frame.groupby("patch").value.mean()
        enough = means[means >= threshold]
        if enough.empty:
            return _report(False, "", f"none of your runs reaches {threshold} on average; "
                           "try larger shares")
        low, high = (means[means.index < enough.index[0]].index.max()
                     if (means.index < enough.index[0]).any() else 0.0), enough.index[0]
        ok = abs(share - high) < 1e-12
        source = f"your {len(frame)} runs at {means.size} shares"
    else:
        band = _cmp_band("interpolation_patch", "patch").set_index("patch")["mean"]
        high = smallest_patch(threshold)
        if high is None:
            return _report(False, "", f"no patch in the sweep reaches {threshold}")
        low = float(band[band.index < high].index.max()) if (band.index < high).any() \
            else 0.0
        ok = low < share <= high + 1e-12
        source = "the shipped seeds"
    hint = ("too small: at that share the held-out mean stays below the threshold"
            if share <= low else "a smaller share already reaches it")
    return _report(ok, f"by {source}, the threshold is crossed above a share of {low:g} "
                   f"and reached by {high:g}", f"you said {share:g}: {hint} (by {source})")


def check_tasks_prediction(prediction: int | str, split: str = "compose") -> bool:
    """Exercise 2.1: from how many training tasks on do full definitions beat the
    label-space guess on held-out ``split`` tasks by ``instructions.BEATS`` (mean over the
    shipped seeds, as the chapter's findings compute it)? Answer one of the swept counts
    (``instructions.TASK_COUNTS``) or ``"never"``. Says only earlier or later when wrong."""
    from toylab.experiments import instructions

    if _unanswered(prediction=prediction):
        return False
    counts = instructions.TASK_COUNTS
    if prediction != "never" and prediction not in counts:
        raise ValueError(f"answer one of {counts} or 'never', got {prediction!r}")
    margin = instructions.BEATS
    truth = instructions.findings()["first_beats"]["full", split] or "never"
    if prediction == truth:
        return _report(True, f"full definitions first beat the guess by {margin} on "
                       f"{split} at {truth} training tasks (mean over the shipped seeds)"
                       if truth != "never" else f"no count of training tasks gets full "
                       f"definitions {margin} above the guess on {split}", "")
    later = truth == "never" or (prediction != "never" and prediction < truth)
    return _report(False, "", "the shipped seeds need "
                   + ("more training tasks than that" if later else "fewer") + ". Keep "
                   "your prediction written down, then read the figure.")


def check_constant_share(result, my_share: float, split: str = "compose") -> bool:
    """Exercise 2.2: in ``instructions.answers_table(result, split)`` (the first three
    test inputs of every task), what share of the tasks did the model answer with the same
    word every time? Within half a task of the table's own count is right."""
    from toylab.experiments.instructions import answers_table

    if _unanswered(my_share=my_share):
        return False
    check_range("my_share", my_share, 0.0, 1.0)
    table = answers_table(result, split, n=None)
    measured = float(table.same_answer_every_time.mean())
    ok = abs(my_share - measured) <= 0.5 / len(table) + 1e-9
    return _report(ok, f"{measured:.2f} of the {len(table)} {split} tasks get one answer "
                   "for all three inputs. A constant answer is right on exactly one class "
                   "of each task: that is how a model lands on the label-space guess.",
                   "count the rows whose answers are all the same word, and divide by "
                   "the number of rows (show them all with answers_table(result, "
                   f"{split!r}, n=None))")


def check_reading(full_runs: Sequence, simplified_runs: Sequence,
                  my_difference: float, split: str = "compose") -> bool:
    """Exercise 2.4: your runs with full definitions and with label words only, on the same
    seeds and otherwise the same config; is ``my_difference`` their mean paired
    difference on ``split`` (full minus simplified, within 0.01)? Prints the difference
    seed by seed, its sign count and how far full is above the label-space guess."""
    from toylab.config import override

    if _unanswered(my_difference=my_difference):
        return False
    full = {r.config.seed: r for r in full_runs or []}
    simple = {r.config.seed: r for r in simplified_runs or []}
    seeds = sorted(set(full) & set(simple))
    if len(seeds) < 2:
        raise ValueError("give at least two seeds run both ways (the same seeds in both "
                         "lists)")
    for s in seeds:
        if full[s].config.task.condition != "full" or (
                simple[s].config.task.condition != "simplified"):
            raise ValueError("the first list must hold runs with task.condition 'full', "
                             "the second with 'simplified'")
        if override(full[s].config, {"task.condition": "simplified"}) != simple[s].config:
            raise ValueError(f"seed {s}: the two runs differ in more than the condition")
    diffs = pd.Series({s: full[s].value(split) - simple[s].value(split) for s in seeds})
    above = pd.Series({s: full[s].value(split) - full[s].value(split, "guess")
                       for s in seeds})
    measured = float(diffs.mean())
    return _report(abs(my_difference - measured) <= 0.01,
                   f"full minus simplified on {split}, seed by seed: "
                   + ", ".join(f"{d:+.3f}" for d in diffs)
                   + f"; mean {measured:+.3f}, higher in {(diffs > 0).sum()} of "
                   f"{len(diffs)} seeds. Full is {above.mean():+.3f} above the label-space "
                   f"guess on average (worst seed {above.min():+.3f}). Is that a reading, "
                   "or noise? Say how many seeds you would need.",
                   "your number is not the mean of your runs' differences; compute "
                   f"full.value({split!r}) - simplified.value({split!r}) per seed, then "
                   "average")


# ---------------------------------------------------------------------------------------
# Chapter 3


def check_coverage_needed(prediction: dict) -> bool:
    """Exercise 3.1: for ``umbrella`` and ``granular`` data, the smallest coverage of the
    pair grid (one of ``decomposition.COVERAGES``, or ``"never"``) at which held-out exact
    match, mean over the shipped seeds, first reaches ``decomposition.WORKS``. Says only
    more or less when wrong."""
    from toylab.experiments import decomposition

    if _unanswered(prediction=prediction):
        return False
    if not isinstance(prediction, dict):
        raise ValueError('answer with a dict: {"umbrella": ..., "granular": ...}')
    if _unanswered(**{k: prediction.get(k) for k in ("umbrella", "granular")}):
        return False
    allowed = [*decomposition.COVERAGES, "never"]
    for cond in ("umbrella", "granular"):
        if prediction[cond] not in allowed:
            raise ValueError(f"answer one of {allowed} for {cond}, got "
                             f"{prediction[cond]!r}")
    works = decomposition.findings()["works"]
    wrong = []
    for cond in ("umbrella", "granular"):
        truth, guess = works[cond], prediction[cond]
        if guess != truth:
            less = guess == "never" or (truth != "never" and guess > truth)
            wrong.append(f"{cond} needs {'less' if less else 'more'} coverage than that")
    return _report(not wrong, "umbrella data first reaches "
                   f"{decomposition.WORKS} at {works['umbrella']}, granular data at "
                   f"{works['granular']} (mean over the shipped seeds). Now read the "
                   "paired differences below: how sure is that comparison?",
                   "; ".join(wrong) + ". Keep your prediction written down, then read "
                   "the figure.")


def check_error_class(target: str, output: str, my_answer: str) -> bool:
    """Exercise 3.2: the first thing wrong in ``output`` against ``target`` (tokens
    separated by spaces, as ``decomposition.mistakes`` shows them): one of ``format``,
    ``name``, ``order``, ``nesting``, ``argument`` (``toylab.tasks.calls.classify``
    decides)."""
    from toylab.config import check_choice
    from toylab.tasks.calls import ERRORS, classify

    if _unanswered(my_answer=my_answer):
        return False
    check_choice("my_answer", my_answer, ERRORS)
    truth = classify(target.split(), output.split())
    if truth == "correct":
        raise ValueError("this output is the target itself; pick a wrong one")
    hints = {"format": "is the output a well-formed call sequence at all?",
             "name": "compare which functions are called, ignoring their order",
             "order": "the functions are right; are they in the right order?",
             "nesting": "names and order are right; is one call inside the other, or "
                        "does the second take $1, as the request asks?",
             "argument": "names, order and structure are right; compare the values"}
    return _report(my_answer == truth, f"{my_answer}: {hints[my_answer]}",
                   "check in this order: format, name, order, nesting, argument. "
                   f"For {my_answer!r}: {hints[my_answer]}")


def check_decomposition_change(granular, umbrella, my_difference: float) -> bool:
    """Exercise 3.3: two runs of yours (``decomposition.run`` results), one ``granular``
    and one ``umbrella``, the same in everything else, with a change of your own to the
    data or the model (a config field no shipped sweep of the chapter varies); is
    ``my_difference`` their held-out exact match, granular minus umbrella (within 0.01)?
    """
    from toylab.config import override
    from toylab.experiments import decomposition

    if _unanswered(my_difference=my_difference):
        return False
    a, b = granular.config, umbrella.config
    if (a.split.condition, b.split.condition) != ("granular", "umbrella"):
        raise ValueError("pass the granular run first, then the umbrella run")
    if override(a, {"split.condition": "umbrella"}) != b:
        raise ValueError("the two runs differ in more than the condition: a paired "
                         "difference needs the same seed, coverage and settings")
    for name in ("live", "coverage"):
        base = decomposition.preset(name, {"seed": a.seed,
                                           "split.coverage": a.split.coverage,
                                           "split.condition": "granular"})
        if a == base:
            raise ValueError(f"these are the shipped {name!r} settings: change the data "
                             "(for example split.budget or split.subtask_share) or the "
                             "model first")
    measured = decomposition.score(granular) - decomposition.score(umbrella)
    steps = (granular.info["steps"], umbrella.info["steps"])
    return _report(abs(my_difference - measured) <= 0.01,
                   f"granular minus umbrella on held-out pairs: {measured:+.3f} (in "
                   f"distribution {decomposition.score(granular, 'id'):.2f} and "
                   f"{decomposition.score(umbrella, 'id'):.2f}, after {steps[0]} and "
                   f"{steps[1]} steps). One seed is one dot of the paired figure: run two "
                   "more before you say what your change did.",
                   "your number is not what your runs measured; compute "
                   "decomposition.score(granular) - decomposition.score(umbrella)")


# ---------------------------------------------------------------------------------------
# Chapter 4


def check_negatives_prediction(my_prediction: float, student: str = "dpo",
                               negatives: str = "format", metric: str = "format_valid",
                               slack: float = 0.1) -> bool:
    """Exercise 4.1: is your predicted ``metric`` of ``student`` trained with negatives of
    the types ``negatives`` within ``slack`` of the shipped seeds (lowest to highest)? The
    range is shown only once your prediction falls in it."""
    from toylab.config import check_choice
    from toylab.experiments import negatives as chapter

    if _unanswered(my_prediction=my_prediction):
        return False
    check_range("my_prediction", my_prediction, 0.0, 1.0)
    check_choice("student", student, ("dpo", "dpo_sft"))
    check_choice("negatives", negatives, chapter.NEGATIVES)
    check_choice("metric", metric, ("accuracy", "format_valid"))
    rows = select(chapter.frames()["coverage"], metric, student=student,
                  negatives=negatives)
    return _within_seeds(my_prediction, rows.value, slack)


def _within_seeds(my_prediction: float, values: pd.Series, slack: float) -> bool:
    """Is a prediction within ``slack`` of the shipped seeds' ``values`` (lowest to
    highest)? Says the range only when it is."""
    low, high, mean = values.min(), values.max(), values.mean()
    ok = low - slack <= my_prediction <= high + slack
    side = "above" if my_prediction > high + slack else "below"
    return _report(ok, f"the {len(values)} shipped seeds reached {low:.2f} to {high:.2f} "
                   f"(mean {mean:.2f})", f"you predicted {my_prediction:.2f}, which is "
                   f"{side} every shipped seed by more than {slack}. Keep your prediction "
                   "written down, then look at the figure and ask what your guess assumed.")


def check_chain_error(result, row: int, my_error: str) -> bool:
    """Exercise 4.2: is ``my_error`` the first error of row ``row`` of
    ``negatives.wrong_chains(result)`` (one of ``format``, ``function``, ``argument``,
    ``arithmetic``, ``other``)?"""
    from toylab.config import check_choice
    from toylab.experiments import negatives as chapter
    from toylab.tasks.chains import OUTCOMES

    if _unanswered(my_error=my_error):
        return False
    check_choice("my_error", my_error, OUTCOMES[1:])
    found = chapter.first_error(result, row)
    return _report(found == my_error, f"its first error is of type {my_error}",
                   "walk the chain call by call beside the teacher's: which is the first "
                   "call that differs, and is it the function, an argument or the "
                   "result? (or does the chain not parse?)")


def check_student_difference(treated: Sequence, control: Sequence, my_difference: float,
                             metric: str = "accuracy") -> bool:
    """Exercise 4.3: ``treated`` and ``control`` are runs of two students on the same
    seeds, in the same order, that differ in nothing else; is ``my_difference`` the mean of
    their paired differences of ``metric`` (within 0.005)?"""
    from toylab.experiments import negatives as chapter

    if _unanswered(my_difference=my_difference):
        return False
    mean = chapter.mean_difference(list(treated), list(control), metric)
    wins = sum(a.value("test", metric) > b.value("test", metric)
               for a, b in zip(treated, control))
    return _report(abs(mean - my_difference) <= 0.005,
                   f"mean paired my_difference {mean:+.3f}, higher in {wins} of "
                   f"{len(treated)} seeds; with this few seeds, say how sure you are",
                   "compute value('test', metric) of each run and average the "
                   "differences seed by seed")


def check_embers_prediction(my_prediction: float, share: float = 0.6, band: str = "low",
                            direction: str = "decode", slack: float = 0.1) -> bool:
    """Exercise 5.1: is your predicted exact match of ``direction`` shift 2 on the band
    ``band`` when shift 2 has ``share`` of the cipher examples within ``slack`` of the
    shipped seeds (lowest to highest)? The range is shown only once your prediction falls
    in it."""
    from toylab.config import check_choice
    from toylab.experiments import embers as chapter
    from toylab.tasks.ciphers import BANDS

    if _unanswered(my_prediction=my_prediction):
        return False
    check_range("my_prediction", my_prediction, 0.0, 1.0)
    check_choice("share", share, chapter.SHARES)
    check_choice("band", band, BANDS)
    check_choice("direction", direction, chapter.DIRECTIONS)
    rows = select(chapter.frames()["shares"], "exact_match", rare_share=share, shift=2,
                  split=band, direction=direction)
    return _within_seeds(my_prediction, rows.value, slack)


def check_wrong_kind(result, row: int, my_answer: str) -> bool:
    """Exercise 5.2: is row ``row`` of ``embers.wrong_outputs(result)`` what you say:
    ``"more probable"`` (a sentence of the language more probable than the right one),
    ``"less probable"`` or ``"not a sentence"``?"""
    from toylab.config import check_choice
    from toylab.experiments import embers as chapter

    if _unanswered(my_answer=my_answer):
        return False
    check_choice("my_answer", my_answer, ("more probable", "less probable",
                                          "not a sentence"))
    truth = chapter.wrong_kind(result, row)
    return _report(truth == my_answer, f"row {row} is {truth}",
                   "not quite: split the output into words at _, check each is a word of "
                   "the language (embers.words(result)), then compare the two sentences' "
                   "exact log-probabilities (embers.sentence_logprob(result, text))")


def check_gap_change(changed: Sequence, base: Sequence, my_difference: float) -> bool:
    """Exercise 5.3: ``changed`` and ``base`` are runs on the same seeds, in the same
    order, that differ in one thing; is ``my_difference`` the mean over seeds of their
    decoding gaps (``embers.gap``: high minus low) within 0.005?"""
    from toylab.experiments import embers as chapter

    if _unanswered(my_difference=my_difference):
        return False
    mean = chapter.mean_gap_difference(list(changed), list(base))
    wider = sum(chapter.gap(a) > chapter.gap(b) for a, b in zip(changed, base))
    return _report(abs(mean - my_difference) <= 0.005,
                   f"mean change of the gap {mean:+.3f}, wider in {wider} of "
                   f"{len(changed)} seeds; with this few seeds, say how sure you are",
                   "compute embers.gap(run) for each run and average the differences "
                   "seed by seed")


def check_order_prediction(my_prediction: float, family: str = "rot3",
                           order: str = "rot3>reverse>gen", replay: float = 0.2,
                           gen: str = "open", slack: float = 0.1) -> bool:
    """Exercise 6.1: is your predicted final score of ``family`` after the schedule
    ``order`` with ``replay`` within ``slack`` of the shipped seeds (lowest to highest)?
    The range is shown only once your prediction falls in it."""
    from toylab.config import check_choice
    from toylab.experiments import order as chapter

    if _unanswered(my_prediction=my_prediction):
        return False
    check_range("my_prediction", my_prediction, 0.0, 1.0)
    check_choice("order", order, chapter.ORDERS)
    check_choice("replay", replay, chapter.REPLAYS)
    check_choice("gen", gen, chapter.GENS)
    check_choice("family", family, chapter.FAMILIES)
    rows = select(chapter.frames()["final"], "score", order=order, replay=replay, gen=gen,
                  split=family)
    return _within_seeds(my_prediction, rows.value, slack)


def check_answer_kind(result, family: str, row: int, my_answer: str) -> bool:
    """Exercise 6.2: is row ``row`` of ``order.answers(result, family)`` what you say:
    ``"right"``, ``"another family's answer"``, ``"a valid open-ended answer"`` (any
    other string of the prompt's letters) or ``"anything else"``?"""
    from toylab.config import check_choice
    from toylab.experiments import order as chapter

    if _unanswered(my_answer=my_answer):
        return False
    check_choice("my_answer", my_answer, list(chapter.WRONG_KINDS.values()))
    truth = chapter.kind_of(result, family, row)
    return _report(truth == my_answer, f"row {row} is {truth}",
                   "not quite: compare the output with each family's answer in the same "
                   "row, then check whether it is written only with the prompt's letters")


def check_schedule_change(changed: Sequence, base: Sequence, my_difference: float,
                          family: str = "rot3") -> bool:
    """Exercise 6.3: ``changed`` and ``base`` are runs on the same seeds, in the same
    order, that differ in one thing; is ``my_difference`` the mean over seeds of their
    final scores of ``family`` (``order.final_score``) within 0.005?"""
    from toylab.experiments import order as chapter

    if _unanswered(my_difference=my_difference):
        return False
    mean = chapter.mean_difference(list(changed), list(base), family)
    higher = sum(chapter.final_score(a, family) > chapter.final_score(b, family)
                 for a, b in zip(changed, base))
    return _report(abs(mean - my_difference) <= 0.005,
                   f"mean change {mean:+.3f}, higher in {higher} of {len(changed)} seeds; "
                   "with this few seeds, say how sure you are",
                   f"compute order.final_score(run, {family!r}) for each run and average "
                   "the differences seed by seed")
