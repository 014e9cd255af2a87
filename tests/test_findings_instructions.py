"""Chapter 2's findings, over the 5 shipped seeds, and proof that the shipped numbers come
from the code.

``test_sampled_cells_are_what_the_code_produces`` reruns a fixed sample of every chapter-2
sweep's runs from scratch and requires the shipped CSV rows exactly (on the platform that
made them). The other tests read ``instructions.findings()``, the numbers the chapter
prints, and check the effects chapter 2 reports, each with a margin from the measured value
given in the test. Each fails if the toy stops showing its effect. Tests whose only
argument is ``facts`` are rerun by ``test_reproduction.py`` with one grid point recomputed
on another CPU's kernels.
"""

import pandas as pd

from sampled import chapter_checks
from toylab.experiments import instructions

#: runs recomputed per sweep (a fixed random sample of its grid points x seeds)
SAMPLED = {"instructions_live": 2, "instructions_live_instances": 1,
           "instructions_tasks": 1, "instructions_instances": 1}
EXPERIMENT = "toylab.experiments.instructions"
HELD_OUT = instructions.HELD_OUT
PAPER_CONDITIONS = ("full", "simplified", "delusive")


recomputed, test_sampled_cells_are_what_the_code_produces, facts, shipped_facts = (
    chapter_checks(EXPERIMENT, SAMPLED, instructions.findings))


def _gap(facts, cond, tasks, split, value="tasks_mean"):
    return facts[value][cond, tasks, split] - facts["guess"][tasks, split]


def test_the_untuned_gap_is_all_format(facts):
    # measured: the untuned model never writes a label word (exact match and format 0.00
    # in every run); made to choose within the label words it is within 0.05 of the guess
    assert facts["untuned_exact_max"] == 0.0 and facts["untuned_valid_max"] == 0.0
    assert facts["untuned_choice_gap"] <= 0.1


def test_format_transfers_only_with_enough_training_tasks(facts):
    valid = facts["valid_mean"]
    for cond in PAPER_CONDITIONS:
        for split in HELD_OUT:
            # measured at 12 tasks: 0.57 to 0.65 of held-out answers are the task's label
            # words; at 100 and 200 tasks at least 0.94
            assert valid[cond, 12, split] <= 0.75, (cond, split)
            assert valid[cond, 100, split] >= 0.88 and valid[cond, 200, split] >= 0.9
            # so at 12 tasks exact match is below the guess (measured 0.26 to 0.33
            # against 0.46), while choosing within the label words sits at the guess
            # (measured within 0.03)
            assert _gap(facts, cond, 12, split) <= -0.08, (cond, split)
            assert abs(facts["choice_mean"][cond, 12, split]
                       - facts["guess"][12, split]) <= 0.08


def test_the_papers_picture_where_the_format_has_transferred(facts):
    # measured: at 50 and 100 tasks full, simplified and delusive are within 0.097 of the
    # guess on both held-out splits
    assert facts["paper_counts"] == [50, 100]
    assert facts["paper_gap_max"] <= 0.13


def test_full_definitions_are_read_at_200_tasks(facts):
    # measured on relabel: mean 0.86 against a guess of 0.46, worst seed 0.78 (on torch's
    # default kernels, test_reproduction: mean 0.73, worst seed 0.59)
    assert _gap(facts, "full", 200, "relabel") >= 0.15
    assert _gap(facts, "full", 200, "relabel", "tasks_worst") >= 0.05
    # measured on compose: mean 0.59 against 0.46 (default kernels: 0.63)
    assert _gap(facts, "full", 200, "compose") >= 0.05
    # relabel moves first: at 100 tasks measured +0.09 on relabel, -0.01 on compose
    assert (_gap(facts, "full", 100, "relabel")
            >= _gap(facts, "full", 100, "compose") + 0.04)


def test_no_other_condition_ever_beats_the_guess(facts):
    # measured: the best of simplified, delusive and no_labels on a held-out split is
    # 0.018 above the guess (simplified, relabel, 50 tasks)
    for cond in ("simplified", "delusive", "no_labels"):
        for tasks in facts["task_counts"]:
            for split in HELD_OUT:
                assert _gap(facts, cond, tasks, split) <= 0.06, (cond, tasks, split)


def test_full_is_ahead_of_simplified_on_compose_in_every_seed_at_200(shipped_facts):
    # measured per seed: +0.32, +0.14, +0.07, +0.08, +0.18 (5 of 5)
    diffs = pd.Series(shipped_facts["full_minus_simplified"])
    assert len(diffs) == 5 and (diffs > 0).sum() >= 5 and diffs.mean() >= 0.1


def test_the_live_regime_reads_nothing(facts):
    # measured: after 400 steps no condition beats the guess by 0.1 on a held-out split,
    # at 4, 16 or 64 instances per task
    assert facts["live_beats"] == []


def test_low_resource_reads_nothing_even_with_many_tasks(facts):
    inst, guess = facts["instances_mean"], facts["guess"]
    for split in HELD_OUT:
        # measured at 4 instances per task, 200 tasks, full: relabel 0.50, compose 0.42
        # against a guess of 0.46
        assert abs(inst["full", 4, split] - guess[200, split]) <= 0.1, split
        for cond in ("simplified", "delusive"):
            assert inst[cond, 4, split] <= guess[200, split] + 0.06
    # measured: relabel 0.50, 0.74, 0.86 at 4, 16, 64 instances (64 instances with the
    # 200-task point on torch's default kernels, test_reproduction: 0.73 on an AMD EPYC,
    # 0.68 on an Intel Xeon)
    assert inst["full", 64, "relabel"] >= inst["full", 4, "relabel"] + 0.1


def test_the_delusive_model_answers_one_word_whatever_the_input(facts):
    # measured at 200 tasks: 86% of compose tasks get one answer for every input, against
    # 17% for full definitions
    answers = facts["answers"]
    assert answers["delusive", 200, "constant"] >= 0.6
    assert answers["delusive", 200, "constant"] >= answers["full", 200, "constant"] + 0.3


def test_tasks_not_examples_move_format_and_reading(facts):
    pairs = facts["examples_pairs"]
    few, same = pairs[4], pairs[16]
    # measured: 12 tasks x 64 (768 examples) against 200 tasks x 4 (800): well-formed
    # held-out answers 0.62 / 0.60 against 0.95 / 0.96
    assert few["narrow"]["examples"] <= 1.1 * few["wide"]["examples"]
    for split in HELD_OUT:
        assert (few["wide"]["format_valid", split]
                >= few["narrow"]["format_valid", split] + 0.2)
    # measured: 50 tasks x 64 against 200 tasks x 16 (3,200 examples each): relabel exact
    # match 0.38 against 0.74
    assert same["narrow"]["examples"] == same["wide"]["examples"]
    assert (same["wide"]["exact_match", "relabel"]
            >= same["narrow"]["exact_match", "relabel"] + 0.2)
