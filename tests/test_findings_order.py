"""Chapter 6's findings over the shipped seeds, and proof that the shipped numbers come from
the code.

``test_sampled_cells_are_what_the_code_produces`` reruns a fixed sample of every chapter-6
sweep's runs from scratch and requires the shipped CSV rows exactly (on the platform that
made them). The other tests read ``order.findings()``, the numbers the chapter prints, and
check the effects chapter 6 reports, each with a margin from the measured value given in
the test. Each fails if the toy stops showing its effect. Tests whose only argument is
``facts`` are rerun by ``test_reproduction.py`` with one grid point recomputed on another
CPU's kernels; tests of per-seed sign counts take ``shipped_facts``.
"""

from sampled import chapter_checks
from toylab.experiments import order

#: runs recomputed per sweep (a fixed random sample of its grid points x seeds)
SAMPLED = {name: 1 for name in order.SWEEPS.values()}
EXPERIMENT = "toylab.experiments.order"


recomputed, test_sampled_cells_are_what_the_code_produces, facts, shipped_facts = (
    chapter_checks(EXPERIMENT, SAMPLED, order.findings))


def test_without_replay_only_the_last_family_survives(facts):
    # measured: every earlier family at most 0.17 in 240 family-runs; the last keeps
    # rot3 1.00, reverse 1.00, open gen 0.61, control gen 0.99
    assert facts["no_replay_earlier_max"] <= 0.35
    last = facts["no_replay_last"]
    assert last["open", "rot3"] >= 0.9 and last["open", "reverse"] >= 0.9
    assert last["control", "gen"] >= 0.9 and last["open", "gen"] >= 0.4


def test_joint_training_holds_every_family(facts):
    # measured: mean of the families 0.88 (open gen; seeds 0.83-0.92), 1.00 (control)
    assert facts["joint_open"][0] >= 0.8 and facts["joint_control"][0] >= 0.95
    assert min(v for k, v in facts["joint_open_family"].items() if k != order.GEN
               and k != order.MEAN) >= 0.95


def test_no_order_beats_joint_training_on_average(facts):
    for key, (mean, *_rest) in facts["best_minus_joint"].items():
        # measured: -0.55 (open, replay 0) ... -0.01 (control, 0.5); never above 0
        assert mean <= 0.02, key
    for gen in order.GENS:
        assert facts["best_minus_joint"][f"{gen}|0"][0] <= -0.4, gen


def test_the_best_order_is_above_joint_in_few_seeds(shipped_facts):
    for key, (_mean, above, _below, seeds, _best) in shipped_facts[
            "best_minus_joint"].items():
        # measured: above joint in at most 2 of 10 seeds at any share
        assert above <= 4 and seeds == 10, key


def test_the_order_matters_most_at_middle_replay(facts):
    spread = facts["order_spread"]
    # measured (open gen): 0.15 at 0, 0.24 at 0.2, 0.26 at 0.3, 0.12 at 0.5
    assert max(spread["open|0.2"][0], spread["open|0.3"][0]) >= 0.15
    assert max(spread["open|0.2"][0], spread["open|0.3"][0]) >= spread["open|0"][0] + 0.04


def test_the_open_family_erases_more_than_its_deterministic_control(facts):
    ctl = facts["control"]
    # measured: structured families end 0.13 vs 0.32 (replay 0.1), 0.61 vs 0.87 (0.2)
    assert ctl["0.1"]["score_diff"][0] <= -0.08
    assert ctl["0.2"]["score_diff"][0] <= -0.1
    # and carry its entropy: 1.33 vs 0.07 nats without replay
    assert ctl["0"]["entropy_open"] >= 1.0 and ctl["0"]["entropy_control"] <= 0.3


def test_the_control_difference_holds_seed_by_seed(shipped_facts):
    for replay in ("0.1", "0.2"):
        mean, higher, lower, seeds = shipped_facts["control"][replay]["score_diff"]
        # measured: lower in 10 of 10 seeds at both shares
        assert lower >= seeds - 1 and seeds == 10, replay


def test_a_forgotten_family_gets_the_last_familys_function(facts):
    m = facts["mechanism"]
    # measured, no replay: open gen last -> 0.98 valid open-ended answers; a structured
    # family last -> 1.00 its answer; control last -> 0.91 its answer
    assert m["open|gen last|0|wrong_gen_like"] >= 0.85
    assert m["open|a structured family last|0|wrong_other_family"] >= 0.85
    assert m["control|gen last|0|wrong_other_family"] >= 0.75
    assert m["open|gen last|0.5|exact_match"] >= 0.85  # replay brings it back (0.98)


def test_replay_holds_the_structured_families_better_than_the_open_one(facts):
    kept = facts["replay_kept"]
    # measured, kept share trained first: rot3 0.00 / 0.90 / 0.99 at replay 0 / 0.2 /
    # 0.5; reverse 0.03 / 0.78 / 0.96; open gen 0.01 / 0.40 / 0.63
    for family in ("rot3", "reverse"):
        assert kept[f"{family}|1"][0.0][0] <= 0.15, family
        assert kept[f"{family}|1"][0.2][0] >= 0.6, family
        assert kept[f"{family}|1"][0.5][0] >= 0.85, family
    assert kept["gen (open)|1"][0.5][0] <= min(kept["rot3|1"][0.5][0],
                                               kept["reverse|1"][0.5][0]) - 0.15


def test_pairwise_transfer_predicts_the_schedules(facts):
    # measured: rank correlation 0.96, mean absolute error 0.04 over 60 points
    assert facts["prediction_rho"] >= 0.85 and facts["prediction_mae"] <= 0.08


def test_entropy_does_not_mark_where_the_prediction_fails(facts):
    err = facts["prediction_mae_by_gen"]
    # measured: 0.03 with the open family, 0.06 with its control
    assert err["open"] <= err["control"] + 0.01


def test_entropy_follows_the_last_familys_function(facts):
    c = facts["entropy_curves"]
    # measured, rot3>reverse>gen: the structured families' entropy 0.09 nats before the
    # gen phase, 1.30 after the open one, 0.03 after the control
    assert c["open|0"][0] <= 0.3 and c["open|0"][1] >= 1.0
    assert c["control|0"][1] <= 0.3
    joint = c["joint"]
    # joint training keeps each family's own: 1.29 on open gen, <= 0.03 on structured
    assert joint["open|gen"] >= 1.0 and joint["open|rot3"] <= 0.15


def test_structured_first_does_not_win_with_the_open_family(shipped_facts):
    sf = shipped_facts["structured_first"]
    # measured: -0.13 without replay, lower in 10 of 10 seeds
    mean, higher, lower, seeds = sf["open|0"]
    assert mean <= -0.05 and lower >= seeds - 1


def test_the_open_family_loses_validity_not_entropy(facts):
    parts = facts["open_first_parts"]
    # measured, trained first at replay 0.5: valid 0.82 -> 0.53, entropy 1.26 -> 1.37
    assert parts["validity"][1] <= parts["validity"][0] - 0.15
    assert parts["entropy"][1] >= parts["entropy"][0] - 0.2
