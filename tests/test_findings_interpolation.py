"""Chapter 1's findings, over the 5 shipped seeds, and proof that the shipped numbers come
from the code.

``test_sampled_cells_are_what_the_code_produces`` reruns a fixed sample of every chapter-1
sweep's runs from scratch and requires the shipped CSV rows exactly. The other tests read
``interpolation.findings()``, the numbers the chapter prints (computed from the shipped
sweeps by the same code), and check the effects chapter 1 reports, each with a margin from
the measured values (given in each test). Each fails if the toy stops showing its effect.
"""

import pandas as pd
import pytest

from sampled import chapter_checks
from toylab.exercises import smallest_patch
from toylab.experiments import interpolation

#: runs recomputed per sweep (a fixed random sample of its grid points x seeds)
SAMPLED = {"interpolation_splits": 2, "interpolation_commute": 1,
           "interpolation_length": 1, "interpolation_noise": 1,
           "interpolation_finetune": 1, "interpolation_patch": 2,
           "interpolation_coverage": 3, "interpolation_budget": 1,
           "interpolation_steps": 1, "interpolation_seeds": 1}
EXPERIMENT = "toylab.experiments.interpolation"


recomputed, test_sampled_cells_are_what_the_code_produces, facts, shipped_facts = (
    chapter_checks(EXPERIMENT, SAMPLED, interpolation.findings))


@pytest.fixture(scope="module")
def tables():
    return interpolation.frames()


def test_near_perfect_in_distribution(facts):
    # measured: every seed at least 0.984, with and without a trace
    assert len(facts["id_all"]) == 10 and min(facts["id_all"]) >= 0.95
    assert facts["length_at_train_min"] >= 0.95


def test_exact_match_collapses_on_the_unseen_composition_while_output_stays_formed(facts):
    # measured with a trace: cmp exact match per seed 0, 0, 0.008, 0.188, 0 (one seed of
    # five above 0.1); BLEU mean 0.36 on cmp against 0.04 on ood; edit 0.45 against 0.80
    cmp = pd.Series(facts["cmp_trace"])
    assert cmp.median() <= 0.05 and cmp.mean() <= 0.25
    assert 1 <= facts["cmp_good"] <= 2  # the chapter says "one seed of five"
    assert facts["cmp_no_trace_max"] <= 0.05  # measured 0.000
    bleu, edit = facts["bleu"], facts["edit"]
    assert bleu["cmp"] >= 0.25 and bleu["cmp"] - bleu["ood"] >= 0.15
    assert edit["cmp"] <= 0.6 and edit["ood"] - edit["cmp"] >= 0.15
    # splits with a never-trained transformation stay near zero: measured at most 0.004
    assert facts["pood_max"] <= 0.1 and facts["ood_max"] <= 0.05


def test_right_steps_wrong_answer_in_one_seed_and_the_reverse_in_all(facts):
    # measured on shift1∘shift1: traces right 0, 0.26, 1.0, 0.47, 0; one seed (2) with
    # every trace right and no answer right; two seeds with no trace right
    assert len(facts["right_steps_seeds"]) >= 1
    assert sum(r <= 0.02 for r in facts["reasoning"]) >= 2
    # measured on the commuting pair: every answer right (1.0), every trace wrong (0.0)
    answer, reasoning = facts["commute_answer"], facts["commute_reasoning"]
    assert len(answer) == 5 and min(answer) >= 0.95 and max(reasoning) <= 0.05


def test_accuracy_peaks_at_the_training_length_with_either_positions(facts):
    # measured: at least 0.969 at length 4, 0.000 at every other length, learned or rotary
    assert facts["length_at_train_min"] >= 0.95 and facts["length_elsewhere_max"] <= 0.05
    edit = facts["length_edit"]  # measured 0.53-0.65 learned, 0.32-0.65 rotary off length 4
    assert all(edit[pos, n] >= 0.2 for pos in ("learned", "rotary") for n in (2, 3, 5, 6))


def test_noise_is_the_chance_of_escaping_corruption(facts):
    em = pd.Series(facts["noise"])
    for key, curve in em.groupby(level=[0, 1, 2]):
        values = curve.to_numpy()
        assert all(b <= a + 0.03 for a, b in zip(values, values[1:])), (key, values)
    at = facts["noise_at_03"]
    for pos in ("learned", "rotary"):
        # measured at p = 0.3 with inserted <unk>s: letters 0.24, transformations 0.47,
        # instruction 0.68 (learned); 0.24, 0.47, 0.68 (rotary)
        assert at[pos, "element", "insert"] + 0.1 <= at[pos, "transform", "insert"]
        assert at[pos, "transform", "insert"] + 0.1 <= at[pos, "instruction", "insert"]
        # a replaced instruction token costs much less than an inserted one: measured 0.98
        # against 0.68 (learned), 0.88 against 0.68 (rotary)
        assert at[pos, "instruction", "modify"] >= at[pos, "instruction", "insert"] + 0.1
        # with insertion or deletion, exact match is (1 - p)^k: measured within 0.023
        # (learned) and 0.025 (rotary) of it at every p
        assert facts["noise_chance_gap"][pos] <= 0.06
    # insertion costs what deletion costs: measured equal in every learned run, at most
    # 0.035 apart with rotary positions
    assert facts["insert_delete_gap"]["learned"] <= 0.02
    assert facts["insert_delete_gap"]["rotary"] <= 0.1


def test_a_patch_restores_the_held_out_composition(facts):
    cmp = facts["mixed_cmp"]  # by held-out examples mixed into 2,000
    # measured means: 0.04 (none), 0.16 (5), 0.56 (20), 0.92 (80), 0.98 (320)
    assert cmp[0] <= 0.25 and cmp[320] >= 0.9
    assert cmp[80] >= 0.6 and cmp[80] >= cmp[5] + 0.4
    assert facts["smallest_patch_examples"] in (80, 320)
    assert facts["patch_id_min"] >= 0.9  # measured at least 0.965
    # the examples per trained composition the chapter compares with: about 667
    assert 600 <= facts["patch_examples_per_trained_cell"] <= 700


def test_fine_tuning_alone_forgets_and_replay_keeps_most(facts):
    tuned, low, lr = facts["tuned"], facts["tuned_min"], 0.003
    # measured at 64 held-out examples, the training's learning rate: held-out 1.00, in
    # distribution 0.00; at a tenth of it, 0.91 and 0.36; half replayed 0.98 and 0.84
    # (worst seed 0.59)
    assert facts["tuned_id_before_min"] >= 0.95
    assert tuned[0.0, lr, "cmp"] >= 0.9 and tuned[0.0, lr, "id"] <= 0.1
    assert tuned[0.0, 0.0003, "id"] <= 0.7
    assert tuned[0.5, lr, "cmp"] >= 0.8 and tuned[0.5, lr, "id"] >= 0.6
    assert low[0.5, lr, "id"] < 0.95  # "not all in every seed"


def test_the_patch_exercise_answer_comes_from_the_shipped_sweep():
    # exercise 1.4 checks the learner's answer against the shipped sweep
    assert smallest_patch(0.8) == interpolation.findings()["smallest_patch_examples"] / 2000


def test_coverage_makes_held_out_compositions_work_with_a_trace_only(facts):
    cmp, worst = pd.Series(facts["coverage_cmp"]), pd.Series(facts["coverage_worst"])
    trace = cmp[True, False]
    # measured with a trace, mean over seeds: 0.03, 0.10 (2, 4 of 16), 0.31 (8), 0.79 (12),
    # 0.68 (14); worst seed at 12 of 16: 0.53; at 8 and 14 of 16: 0.11 and 0.14
    assert trace[[0.125, 0.25]].max() <= 0.2
    assert trace[0.75] >= 0.6 and trace[0.75] - trace[0.25] >= 0.4
    assert facts["coverage_works"][True, False] in (0.5, 0.75)
    assert worst[True, False, 0.75] >= 0.3
    assert worst[True, False][[0.125, 0.25, 0.5, 0.875]].max() < 0.5
    # without a trace it never takes off: measured at most 0.16 (mean), 0.18 with singles
    assert cmp[False].max() <= 0.35
    assert facts["coverage_works"][False, False] is None
    # singles move neither curve by more than the seeds' spread at that coverage
    best = pd.Series(facts["coverage_best"])
    for t in (True, False):
        spread = (best[t, False] - worst[t, False]).clip(lower=0.1)
        assert ((cmp[t, True] - cmp[t, False]).abs() <= spread).all(), t
    # the runs that did not learn their data (in distribution below 0.9) are the ones the
    # chapter names: mostly without a trace and with singles, at 8 of 16 and above
    unlearned = facts["coverage_unlearned"]
    assert sum(not t and s for t, s, _, _ in unlearned) >= len(unlearned) / 2


def test_examples_per_cell_and_training_length_do_not_explain_the_curve(facts):
    # with a trace, 250 per composition minus 2,000 in all: measured +0.00 to +0.05 (and
    # -0.12 at 12 of 16 with that point recomputed on torch's default kernels), against a
    # rise of the curve itself of 0.69 from 2 to 12 of 16
    diff, cmp = pd.Series(facts["budget_diff"]), pd.Series(facts["coverage_cmp"])
    assert diff[True].abs().max() <= 0.2
    assert cmp[True, False].max() - cmp[True, False].min() >= 2 * diff[True].abs().max()
    assert facts["budget_per_cell"][0.125] == 1000 and facts["budget_per_cell"][0.875] < 150
    # training on to 1,500 steps moves the mean by little: measured -0.01 to +0.01
    assert max(abs(d) for d in facts["steps_diff"].values()) <= 0.2


def test_training_on_moves_no_shipped_seed_by_much(shipped_facts):
    # per seed, the long runs against the same seeds' early-stopped ones (only meaningful
    # when both come from one platform): measured at most 0.059
    assert shipped_facts["steps_diff_max"] < 0.1


def test_split_and_initialisation_both_matter(facts):
    # measured at 12 of 16: spread over initialisations of one split 0.35, over splits of
    # one initialisation 0.41; the table holds a split and an initialisation that each
    # score above 0.9 once and below 0.5 once
    assert facts["seeds_within_split"] >= 0.15 and facts["seeds_within_init"] >= 0.15
    table = facts["seeds_table"]
    assert ((table.max(axis=1) > 0.9) & (table.min(axis=1) < 0.5)).any()
    assert ((table.max(axis=0) > 0.9) & (table.min(axis=0) < 0.5)).any()


def test_without_a_trace_only_twins_are_solved(facts):
    twins, fair = pd.Series(facts["twins"]), pd.Series(facts["fair_cmp"])
    trained, none = interpolation.TWIN_TRAINED, interpolation.NO_TWIN
    # measured without a trace: 0.34 when the twin was trained, 0.03 and 0.01 otherwise;
    # on compositions with no trained twin at most 0.02 at any coverage
    assert twins[False, False, trained] >= twins[False, False, none] + 0.2
    assert fair[False, False].max() <= 0.08
    # with a trace a trained twin helps little (measured 0.26 against 0.22 and 0.17), and
    # the compositions without one climb with coverage (0.03 at 2 of 16, 0.80 at 12)
    assert abs(twins[True, False, trained] - twins[True, False, none]) <= 0.15
    assert fair[True, False, 0.75] - fair[True, False, 0.125] >= 0.4


def test_partners_per_slot_predict_success_with_a_trace(facts):
    p = pd.Series(facts["partners"])
    # measured with a trace, compositions without a trained twin (mean over seeds of each
    # seed's mean): 0 partners 0.00, 1: 0.21, 2: 0.60, 3: 0.76; without a trace at most 0.07
    assert p[True, False, 0.0] <= 0.08
    assert 0.08 <= p[True, False, 1.0] <= 0.45
    assert p[True, False, 2.0] >= 0.4 and p[True, False, 2.0] >= p[True, False, 1.0] + 0.2
    assert p[False, False].max() <= 0.15


def test_two_partners_solve_more_than_half_in_the_shipped_seeds(shipped_facts):
    # the chapter's sentence, on the shipped sweep: measured 0.60 and 0.76
    p = pd.Series(shipped_facts["partners"])
    assert p[True, False, 2.0] > 0.5 and p[True, False, 3.0] > 0.5


def test_wrong_answers_are_mostly_blends_and_a_third_trained_without_a_trace(facts):
    src = facts["sources"]
    # measured: without a trace 35% a trained composition's answer, 64% none of these;
    # with a trace 18% and 80%
    assert 0.2 <= src[False, False]["a trained composition"] <= 0.5
    for t in (True, False):
        assert src[t, False]["none of these"] >= 0.5
    # right trace, wrong answer: measured 14% without singles, 30% with
    steps = facts["right_steps_wrong"]
    assert steps[True] > steps[False]


def test_every_text_and_the_claim_card_are_made(facts):
    assert set(facts.texts) == {"coverage", "budget", "steps", "seeds", "twins", "partners",
                                "sources", "splits", "right_steps", "commute", "length",
                                "noise", "patch"}
    card = facts.claim_card()
    assert len(card) == 9 and not card.isna().any().any()


def test_runs_carry_the_counts_that_come_with_coverage(tables):
    # the controlled sweep: 250 examples per trained composition at every coverage
    assert set(tables["coverage"].examples_per_cell.dropna()) == {250}
    # a fixed training set of 2,000 spreads thinner as coverage grows
    per_cell = tables["budget"].groupby("compositions").examples_per_cell.first()
    assert per_cell[2] == 1000 and per_cell[14] == round(2000 / 14, 1)
