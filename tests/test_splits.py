import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toylab.splits import LeakageError, make_split
from toylab.tasks import LetterConfig, make_task
from toylab.tasks import LetterSplitConfig as SplitConfig
from toylab.tasks.letter_splits import TEST_SPLITS

RICH = LetterConfig(lengths=(3, 4, 5), noise_p=0.2,
                    transforms=("rot3", "shift1", "reverse", "atbash"))


def build(cfg: SplitConfig, task_cfg: LetterConfig = RICH, seed: int = 0):
    return make_split(make_task(task_cfg), cfg, seed)


def rows(ex):
    return {tuple(r[:n]) for r, n in zip(ex.tokens, ex.length)}


def test_every_named_split_holds_what_it_says():
    split = build(SplitConfig(coverage=None, unseen_transforms=("atbash",),
                              train_compositions=(("rot3", "rot3"), ("rot3", "shift1"),
                                                  ("shift1", "reverse")),
                              tests=tuple(TEST_SPLITS), n_test=64))
    seen = set(split.record["seen_transforms"])
    assert seen == {"rot3", "shift1", "reverse"}
    trained = {c.composition for c in split.train_cells}
    for cell in split.test_cells["cmp"]:
        assert cell.composition not in trained and set(cell.composition) <= seen
    for cell in split.test_cells["pood"]:
        assert "atbash" in cell.composition and set(cell.composition) & seen
    assert [c.composition for c in split.test_cells["ood"]] == [("atbash", "atbash")]
    assert {c.length for c in split.test_cells["length"]} == {3, 5}
    assert {c.fmt for c in split.test_cells["noise"]} == {"noisy"}
    assert all(len(ex) == 64 for ex in split.tests.values())
    assert split.coverage == 3 / 16


@pytest.mark.parametrize("coverage", [0.1, 0.25, 0.5, 0.75])
@pytest.mark.parametrize("seed", range(3))
def test_no_leakage_and_coverage_is_the_share_of_the_grid(coverage, seed):
    split = build(SplitConfig(coverage=coverage, tests=("id",)), seed=seed)
    n_comps = len({c.composition for c in split.train_cells})
    assert n_comps == round(coverage * 16) == round(split.coverage * 16)
    held = {c for name, cells in split.test_cells.items() if name != "id" for c in cells}
    assert not held & set(split.train.cells)
    for ex in [*split.tests.values(), split.val]:
        assert not rows(ex) & rows(split.train)


def test_low_coverage_still_sees_every_transformation_it_can():
    split = build(SplitConfig(coverage=0.125, tests=("id", "cmp")))  # 2 compositions
    assert len(split.record["seen_transforms"]) == 4


def test_leakage_check_catches_a_planted_leak():
    split = build(SplitConfig(coverage=0.5, tests=("id", "cmp")))
    split.train.cells = split.train.cells[:-1] + (split.test_cells["cmp"][0],)
    with pytest.raises(LeakageError):
        split.check_no_leakage()
    split = build(SplitConfig(coverage=0.5, tests=("id", "cmp")))
    split.tests["id"].tokens[0] = split.train.tokens[0]
    split.tests["id"].length[0] = split.train.length[0]
    with pytest.raises(LeakageError, match="also a training example"):
        split.check_no_leakage()


def test_patch_adds_held_out_cells_but_not_test_strings():
    split = build(SplitConfig(coverage=0.5, patch=0.05, tests=("id", "cmp")))
    assert len(split.patch) == 100
    assert set(split.patch.cells) <= set(split.test_cells["cmp"])
    assert not rows(split.patch) & rows(split.tests["cmp"])


def test_same_seed_same_split_other_seed_other_split():
    cfg = SplitConfig(coverage=0.5, tests=("id", "cmp", "length"))
    a, b, c = build(cfg, seed=4), build(cfg, seed=4), build(cfg, seed=5)
    for name in cfg.tests:
        assert np.array_equal(a.tests[name].tokens, b.tests[name].tokens)
    assert np.array_equal(a.train.tokens, b.train.tokens)
    assert a.summary() == b.summary()
    assert not np.array_equal(a.train.tokens, c.train.tokens)


@pytest.mark.parametrize("cfg, match", [
    (dict(coverage=0.01), "at least"),
    (dict(coverage=1.0), "empty"),
    (dict(coverage=0.9, unseen_transforms=("atbash",)), "at most"),
    (dict(coverage=0.5, tests=("ood",)), "empty"),
    (dict(coverage=0.5, train_lengths=(9,)), "lengths"),
    (dict(coverage=None, train_compositions=(("rot3", "flip"),)), "not in the grid"),
    (dict(coverage=0.5, unseen_transforms=("flip",)), "not in the task"),
    (dict(coverage=None, train_compositions=(("rot3", "rot3"),),
          test_compositions=(("rot3", "rot3"),)), "not held-out"),
])
def test_requests_that_cannot_be_met_say_what_is_allowed(cfg, match):
    with pytest.raises(ValueError, match=match):
        build(SplitConfig(**cfg))


def test_test_compositions_narrow_the_held_out_tests():
    trained = (("rot3", "shift1"), ("rot3", "rot3"), ("shift1", "shift1"))
    split = build(SplitConfig(coverage=None, train_compositions=trained,
                              test_compositions=(("shift1", "rot3"),),
                              tests=("id", "cmp")))
    assert {c.composition for c in split.test_cells["cmp"]} == {("shift1", "rot3")}
    assert {c.composition for c in split.tests["cmp"].cells} == {("shift1", "rot3")}
    with pytest.raises(ValueError, match="test_compositions"):
        SplitConfig(test_compositions=(("rot3",), ()))


@pytest.mark.parametrize("field, value", [
    ("coverage", -0.1), ("coverage", 1.1), ("coverage", float("nan")), ("n_train", 0),
    ("tests", ("iid",)), ("patch", 2.0), ("patch_split", "id"), ("test_share", 1.0)])
def test_bad_split_config_values(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        SplitConfig(**{field: value})


task_configs = st.builds(
    LetterConfig,
    alphabet_size=st.integers(-1, 30),
    lengths=st.lists(st.integers(-1, 14), min_size=0, max_size=3).map(tuple),
    transforms=st.lists(st.sampled_from(["rot1", "rot2", "rot26", "shift1", "reverse",
                                         "atbash", "swap", "bogus"]),
                        min_size=0, max_size=4).map(tuple),
    depths=st.lists(st.integers(0, 5), min_size=0, max_size=2).map(tuple),
    trace=st.booleans(), noise_p=st.floats(-0.5, 1.5))
split_configs = st.builds(
    SplitConfig,
    coverage=st.one_of(st.none(), st.floats(-0.2, 1.2)),
    unseen_transforms=st.lists(st.sampled_from(["rot1", "reverse", "swap"]),
                               max_size=2).map(tuple),
    train_lengths=st.lists(st.integers(0, 13), min_size=0, max_size=2).map(tuple),
    n_train=st.integers(-5, 50), n_test=st.integers(-5, 20), n_val=st.integers(1, 10),
    tests=st.lists(st.sampled_from(sorted(TEST_SPLITS) + ["bogus"]), min_size=0,
                   max_size=3).map(tuple),
    patch=st.floats(-0.5, 1.5), test_share=st.floats(0.0, 1.0))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_configs_raise_only_clear_value_errors(data):
    try:
        task_cfg = data.draw(task_configs)
        split_cfg = data.draw(split_configs)
        split = make_split(make_task(task_cfg), split_cfg, seed=0)
    except ValueError as err:
        assert str(err)  # a message a learner can read
        return
    split.check_no_leakage()
    assert len(split.train) == split_cfg.n_train


def test_early_stopping_never_sees_a_test_string():
    task = make_task(LetterConfig(lengths=(4,)))
    split = make_split(task, SplitConfig(coverage=0.5, tests=("id", "cmp")), seed=3)
    tested = set().union(*(ex.rows() for ex in split.tests.values()))
    assert split.val.rows() and not split.val.rows() & tested
    assert not split.val.rows() & split.train.rows()


def test_examples_per_cell_fixes_each_trained_cell_not_the_total():
    task = make_task(LetterConfig(lengths=(4,)))
    for coverage in (0.125, 0.75):
        split = make_split(task, SplitConfig(coverage=coverage, examples_per_cell=50),
                           seed=0)
        counts = pd.Series(split.train.cells).value_counts()
        assert (counts == 50).all() and len(split.train) == 50 * len(split.train_cells)


def test_singles_train_each_transformation_alone_and_test_only_pairs():
    task = make_task(LetterConfig(lengths=(4,)))
    split = make_split(task, SplitConfig(coverage=0.25, singles=True,
                                         examples_per_cell=20), seed=0)
    alone = {c.composition for c in split.train_cells if len(c.composition) == 1}
    assert alone == {(t,) for t in task.config.transforms}
    assert split.record["train_compositions"] and all(
        "∘" in c for c in split.record["train_compositions"])
    for cells in split.test_cells.values():
        assert all(len(c.composition) == 2 for c in cells)
    # coverage counts the pairs only: 4 of the 16
    assert split.coverage == 0.25
