"""The exercise checks accept the right answer, reject a wrong one, and explain bad input.
Their expected answers come from the library and the shipped sweeps, never typed in."""

import pytest

from toylab import exercises
from toylab.sweep import shipped
from toylab.tasks import LetterConfig, LetterTask


def test_check_target(capsys):
    prompt = "B A D C [reverse] [rot3] <think>"
    right = " ".join(LetterTask(LetterConfig()).solve(prompt.split()))
    assert exercises.check_target(prompt, right)
    assert not exercises.check_target(prompt, right.replace("<answer>", "<think>"))
    assert "differs" in capsys.readouterr().out


def test_check_coverage_prediction_uses_the_shipped_range(capsys):
    frame = shipped("interpolation_coverage")
    cmp = frame[(frame.split == "cmp") & (frame.part == "full")
                & (frame.metric == "exact_match") & frame.trace & ~frame.singles
                & (frame.coverage == 0.75)].value
    assert exercises.check_coverage_prediction(float(cmp.mean()), 0.75)
    # a prediction more than 0.1 outside the seeds' range is rejected
    far = 1.0 if cmp.max() < 0.85 else 0.0
    assert not cmp.min() - 0.1 <= far <= cmp.max() + 0.1
    capsys.readouterr()
    assert not exercises.check_coverage_prediction(far, 0.75)
    assert f"{cmp.min():.3f}" not in capsys.readouterr().out  # the answer stays hidden
    with pytest.raises(ValueError, match="coverage must be one of"):
        exercises.check_coverage_prediction(0.5, 0.3)
    with pytest.raises(ValueError, match="prediction"):
        exercises.check_coverage_prediction(1.5, 0.75)


def test_check_patch_size(capsys):
    answer = exercises.smallest_patch()
    assert answer is not None
    assert exercises.check_patch_size(answer)
    capsys.readouterr()
    assert not exercises.check_patch_size(answer / 4)
    assert not exercises.check_patch_size(0.16 if answer < 0.16 else 0.0)
    out = capsys.readouterr().out
    assert f"{answer:g} of the training set" not in out and "0.90" not in out
    with pytest.raises(ValueError, match="share"):
        exercises.check_patch_size(-1)


def test_a_check_run_before_answering_says_so_and_gives_nothing_away(capsys):
    assert not exercises.check_coverage_prediction(None, 0.75)
    assert not exercises.check_patch_size(None)
    assert not exercises.check_held_out_split(None, ("shift1", "rot3"))
    out = capsys.readouterr().out
    assert out.count("Not answered yet") == 3 and "shipped seeds reached" not in out


@pytest.fixture(scope="module")
def low_run():
    from toylab.experiments import interpolation
    return interpolation.run(interpolation.preset("coverage", {
        "split.coverage": 0.125, "task.trace": False, "eval.n_samples": 1000}))


def test_check_wrong_answer_accepts_what_the_answer_computes(capsys, low_run):
    from toylab.experiments import interpolation
    from toylab.tasks import make_task

    wrong = interpolation.wrong_answers(low_run, computable=True)
    assert len(wrong) > 0
    task = make_task(low_run.config.task)
    grid = [c for c in task.config.compositions if len(c) > 1]
    row = wrong.iloc[0]
    gives = task.sources(row.prompt.split(), row.answer.split(), grid)
    assert gives and exercises.check_wrong_answer(low_run, 0, gives[0])
    other = next(c for c in grid if c not in gives)
    capsys.readouterr()
    assert not exercises.check_wrong_answer(low_run, 0, other)
    with pytest.raises(ValueError, match="row must be"):
        exercises.check_wrong_answer(low_run, len(wrong), gives[0])
    with pytest.raises(ValueError, match="not transformations"):
        exercises.check_wrong_answer(low_run, 0, ("swap", "rot3"))


def test_check_what_moved_reads_the_two_runs(low_run):
    from toylab.experiments import interpolation
    after = interpolation.run(interpolation.preset("coverage", {
        "split.coverage": 0.125, "task.trace": False, "eval.n_samples": 1000,
        "split.singles": True}))
    moved = after.value("cmp") - low_run.value("cmp")
    assert exercises.check_what_moved(low_run, after, moved)
    assert not exercises.check_what_moved(low_run, after, moved + 0.5)
    with pytest.raises(ValueError, match="same config"):
        exercises.check_what_moved(low_run, low_run, 0.0)


def test_check_tasks_prediction_accepts_only_the_shipped_count(capsys):
    from toylab.exercises import check_tasks_prediction
    from toylab.experiments import instructions

    truth = instructions.findings()["first_beats"]["full", "compose"] or "never"
    assert check_tasks_prediction(truth)
    wrong = next(c for c in [*instructions.TASK_COUNTS, "never"] if c != truth)
    capsys.readouterr()
    assert not check_tasks_prediction(wrong)
    said = capsys.readouterr().out
    assert "Not yet" in said and str(truth) not in said  # never prints the answer
    assert not check_tasks_prediction(None)
    with pytest.raises(ValueError, match="answer one of"):
        check_tasks_prediction(30)


def test_check_constant_share_reads_the_runs_own_table():
    from toylab.config import override
    from toylab.exercises import check_constant_share
    from toylab.experiments import instructions

    cfg = override(instructions.preset("live"), {"train.max_steps": 40,
                                                 "split.train_tasks": 12})
    run = instructions.run(cfg, cache=False)
    share = instructions.answers_table(run, n=None).same_answer_every_time.mean()
    assert check_constant_share(run, share)
    assert not check_constant_share(run, min(1.0, share + 0.2) if share < 0.8
                                    else share - 0.2)
    assert not check_constant_share(run, None)


def test_check_reading_pairs_the_learners_runs():
    from toylab.config import override
    from toylab.exercises import check_reading
    from toylab.experiments import instructions

    base = override(instructions.preset("live"), {"train.max_steps": 30,
                                                  "split.train_tasks": 12})
    full = [instructions.run(override(base, {"seed": s}), cache=False) for s in (0, 1)]
    simple = [instructions.run(override(base, {"seed": s, "task.condition": "simplified"}),
                               cache=False) for s in (0, 1)]
    diff = sum(f.value("compose") - s.value("compose") for f, s in zip(full, simple)) / 2
    assert check_reading(full, simple, diff)
    assert not check_reading(full, simple, diff + 0.1)
    assert not check_reading(full, simple, None)
    with pytest.raises(ValueError, match="at least two seeds"):
        check_reading(full[:1], simple[:1], diff)
    with pytest.raises(ValueError, match="first list"):
        check_reading(simple, full, diff)


def test_check_coverage_needed_accepts_only_the_shipped_coverages(capsys):
    from toylab.exercises import check_coverage_needed
    from toylab.experiments import decomposition

    truth = decomposition.findings()["works"]
    assert check_coverage_needed(truth)
    options = [*decomposition.COVERAGES, "never"]
    wrong = {**truth, "granular": next(c for c in options if c != truth["granular"])}
    capsys.readouterr()
    assert not check_coverage_needed(wrong)
    said = capsys.readouterr().out
    assert "Not yet" in said and "granular needs" in said and "umbrella needs" not in said
    assert str(truth["granular"]) not in said  # never prints the answer
    assert not check_coverage_needed({"umbrella": None, "granular": None})
    assert "Not answered" in capsys.readouterr().out
    with pytest.raises(ValueError, match="answer one of"):
        check_coverage_needed({"umbrella": 0.5, "granular": 0.6})


def test_chapter_4_checks_read_the_shipped_seeds_and_the_learners_runs(capsys):
    from toylab.exercises import (
        check_chain_error,
        check_negatives_prediction,
        check_student_difference,
    )
    from toylab.experiments import negatives

    shipped_mean = negatives.findings()["coverage_format_valid"]["dpo|format"]
    assert check_negatives_prediction(shipped_mean)
    capsys.readouterr()
    # function negatives: every shipped seed's chains almost never parse (measured 0.02)
    low = negatives.findings()["coverage_format_valid_min"]["dpo|function"]
    assert not check_negatives_prediction(1.0, negatives="function")
    assert f"{low:.2f}" not in capsys.readouterr().out  # never prints the answer
    assert not check_negatives_prediction(None)

    tiny = {"train.max_steps": 5, "tune.max_steps": 5, "split.n_test": 16,
            "n_track": 4, "eval.n_samples": 16}
    dpo = negatives.runs_for("dpo_sft", seeds=[0, 1], changes=tiny)
    control = negatives.runs_for("sft_more", seeds=[0, 1], changes=tiny)
    truth = negatives.first_error(dpo[0], 0)
    assert check_chain_error(dpo[0], 0, truth)
    wrong = next(e for e in ("format", "function", "argument", "arithmetic", "other")
                 if e != truth)
    assert not check_chain_error(dpo[0], 0, wrong)
    assert not check_chain_error(dpo[0], 0, None)
    diff = negatives.mean_difference(dpo, control)
    assert check_student_difference(dpo, control, diff)
    assert not check_student_difference(dpo, control, diff + 0.1)
    with pytest.raises(ValueError, match="more than the student"):
        check_student_difference(dpo, control[::-1], diff)


def test_chapter_5_checks_read_the_shipped_seeds_and_the_learners_runs(capsys):
    from toylab.exercises import check_embers_prediction, check_gap_change, check_wrong_kind
    from toylab.experiments import embers

    facts = embers.findings()
    assert check_embers_prediction(facts["rare_mean"]["decode|0.6|low"])
    capsys.readouterr()
    high = facts["rare_mean"]["decode|0.6|high"]
    assert not check_embers_prediction(0.0, band="high")  # measured: 0.91
    assert f"{high:.2f}" not in capsys.readouterr().out  # never prints the answer
    assert not check_embers_prediction(None)

    tiny = {"train.max_steps": 20, "split.n_test": 8, "split.n_train": 500}
    mine = embers.runs_for(seeds=[0, 1], changes={**tiny, "split.text_share": 0.05})
    base = embers.runs_for(seeds=[0, 1], changes=tiny)
    truth = embers.wrong_kind(base[0], 0)
    assert check_wrong_kind(base[0], 0, truth)
    other = next(k for k in ("more probable", "less probable", "not a sentence")
                 if k != truth)
    assert not check_wrong_kind(base[0], 0, other)
    assert not check_wrong_kind(base[0], 0, None)
    diff = embers.mean_gap_difference(mine, base)
    assert check_gap_change(mine, base, diff)
    assert not check_gap_change(mine, base, diff + 0.1)
    with pytest.raises(ValueError, match="same seeds"):
        check_gap_change(mine, base[::-1], diff)


def test_chapter_6_checks_read_the_shipped_seeds_and_the_learners_runs(capsys):
    from toylab.exercises import (
        check_answer_kind,
        check_order_prediction,
        check_schedule_change,
    )
    from toylab.experiments import order

    shipped = order.shipped_final("rot3", "rot3>reverse>gen", 0.2)
    assert check_order_prediction(shipped)
    capsys.readouterr()
    assert not check_order_prediction(1.0, replay=0.0)  # measured: 0.00 in every seed
    assert f"{order.shipped_final('rot3', 'rot3>reverse>gen', 0.0):.2f}" not in (
        capsys.readouterr().out)  # never prints the answer
    assert not check_order_prediction(None)

    tiny = {"phase_steps": 15, "split.n_test": 8, "split.n_train": 200}
    mine = order.runs_for(seeds=[0, 1], changes={**tiny, "task.gen": "control"})
    base = order.runs_for(seeds=[0, 1], changes=tiny)
    truth = order.kind_of(base[0], "rot3", 0)
    assert check_answer_kind(base[0], "rot3", 0, truth)
    other = next(k for k in order.WRONG_KINDS.values() if k != truth)
    assert not check_answer_kind(base[0], "rot3", 0, other)
    assert not check_answer_kind(base[0], "rot3", 0, None)
    diff = order.mean_difference(mine, base, "rot3")
    assert check_schedule_change(mine, base, diff)
    assert not check_schedule_change(mine, base, diff + 0.1)
    with pytest.raises(ValueError, match="same seeds"):
        check_schedule_change(mine, base[::-1], diff)
