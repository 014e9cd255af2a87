"""The chain task family (``toylab.tasks.chains``) and chapter 4's experiment
(``toylab.experiments.negatives``): the teacher's errors are of the type asked and change
the answer, execution labels them wrong and classification names their type, splits keep
test problems out of training, every student runs through the pipeline, and the views draw.
"""

import numpy as np
import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.config import override
from toylab.experiments import negatives
from toylab.tasks import make_task
from toylab.tasks.chains import (
    ERROR_TYPES,
    ChainConfig,
    ChainSplitConfig,
    ChainTask,
    Problem,
    negative_types,
)


@pytest.fixture(scope="module")
def task():
    return ChainTask(ChainConfig())


def test_the_worked_example_of_the_docstring(task):
    prompt = "3 plus 4 times 2 ?".split()
    assert " ".join(task.solve(prompt)) == (
        "add ( 3 , 4 ) = 7 mul ( 7 , 2 ) = 4 ans 4 <eos>")
    assert task.parse_prompt(prompt) == Problem(3, (("plus", 4), ("times", 2)))
    assert make_task(ChainConfig()).vocab.tokens == task.vocab.tokens


def test_every_teacher_error_is_of_its_type_and_labelled_wrong(task):
    rng = np.random.default_rng(0)
    problems = task.draw_problems(300, rng, "train", salt=1, test_share=0.2)
    for p in problems:
        right = task.teacher(p, None, rng)
        assert task.execute(p, right) and task.classify(p, right) == "right"
        for kind in ERROR_TYPES:
            try:
                wrong = task.teacher(p, kind, rng)
            except ValueError:  # e.g. ... times 0 at the end: no function error shows
                continue
            assert not task.execute(p, wrong), (p, kind, wrong)
            assert task.classify(p, wrong) == kind, (p, kind, wrong)
            assert (task.parse_chain(wrong) is None) == (kind == "format")


def test_a_chain_with_the_right_answer_by_luck_counts_as_right(task):
    p = task.parse_prompt("3 plus 4 times 2 ?".split())
    lucky = "add ( 3 , 5 ) = 8 mul ( 8 , 3 ) = 4 ans 4 <eos>".split()
    assert task.execute(p, lucky) and task.classify(p, lucky) == "right"
    assert task.classify(p, "add ( 3 , 4 ) = 7 ans 7".split()) == "other"  # too short


def test_negatives_setting_is_checked():
    assert negative_types("all") == ERROR_TYPES
    assert negative_types("arithmetic+format") == ("format", "arithmetic")
    for bad in ("spelling", "format+format", "", ("format",)):
        with pytest.raises(ValueError, match="negatives"):
            ChainSplitConfig(negatives=bad)
    with pytest.raises(ValueError, match="modulus"):
        ChainConfig(modulus=12)
    with pytest.raises(ValueError, match="student"):
        negatives.preset("students", {"student": "rlhf"})


def test_split_holds_pairs_of_the_covered_types_and_no_test_problem_is_trained(task):
    split = task.make_split(ChainSplitConfig(n_train=200, n_pairs=120,
                                             negatives="format+arithmetic"), seed=3)
    split.check_no_leakage()
    assert split.record["rejected_types"] == {"format": 60, "function": 0, "argument": 0,
                                              "arithmetic": 60}
    chosen, rejected = split.pools["chosen"], split.pools["rejected"]
    assert len(chosen) == len(rejected) == 120
    for c, r in zip(chosen.prompts(), rejected.prompts()):  # pairs share their problem
        assert list(c) == list(r)
    train = {tuple(p) for p in split.train.prompts()} | {
        tuple(p) for p in chosen.prompts()}
    assert not train & {tuple(p) for p in split.tests["test"].prompts()}
    again = task.make_split(ChainSplitConfig(n_train=200, n_pairs=120,
                                             negatives="format+arithmetic"), seed=3)
    assert (again.train.tokens == split.train.tokens).all()
    # the supervised set does not depend on the pairs or on their error types
    other = task.make_split(ChainSplitConfig(n_train=200, n_pairs=50, negatives="all"),
                            seed=3)
    assert (other.train.tokens == split.train.tokens).all()


TINY = {"train.max_steps": 20, "tune.max_steps": 6, "track_every": 3,
        "split.n_train": 64, "split.n_pairs": 32, "split.n_test": 32, "split.n_val": 16,
        "n_track": 16, "model.n_layer": 1, "model.d_model": 32, "model.n_head": 2}


@pytest.mark.parametrize("student", negatives.STUDENTS)
def test_every_student_runs_through_the_pipeline(tmp_path, student):
    cfg = negatives.preset("students", {**TINY, "student": student})
    result = negatives.run(cfg, cache=Cache(tmp_path))
    m = result.metrics
    assert list(m.columns[:8]) == ["student", "n_train", "n_pairs", "negatives", "beta",
                                   "lr", "sft_weight", "model"]
    final = m[m.tune_step.isna()] if "tune_step" in m else m
    assert set(final.metric) == {"accuracy", "format_valid", "exact_match",
                                 *(f"error_{k}" for k in (*ERROR_TYPES, "other"))}
    shares = final[final.metric.isin(["accuracy"] + [f"error_{k}" for k in (
        *ERROR_TYPES, "other")])].value.sum()
    assert shares == pytest.approx(1.0)
    phases = list(dict.fromkeys(result.history.get("phase", pd.Series(["sft"]))))
    if student == "sft":
        assert "tune_step" not in m and phases == ["sft"]
    else:
        assert phases == ["sft", student]
        curves = m[m.tune_step.notna()]
        assert sorted(curves.tune_step.unique()) == [0, 3, 6]
        start = curves[curves.tune_step == 0]
        assert (start[start.metric.str.startswith("logp_")].value == 0).all()
    assert {"prompt", "output", "outcome"} <= set(result.samples.columns)


def test_the_views_draw_from_a_small_frame(tmp_path):
    frames = []
    for student in negatives.STUDENTS:
        cfg = negatives.preset("students", {**TINY, "student": student})
        frames.append(negatives.run(cfg, cache=Cache(tmp_path)).metrics)
    frame = pd.concat(frames, ignore_index=True)
    negatives.coverage_view(frame, live=frames[2]).to_dict()
    negatives.logprob_view(frame, live=frames[2]).to_dict()
    negatives.errors_view(frame).to_dict()
    runs = {s: negatives.run(negatives.preset("students", {**TINY, "student": s}),
                             cache=Cache(tmp_path)) for s in negatives.STUDENTS}
    table = negatives.differing_chains(runs, n=5)
    assert len(table) <= 5 and "prompt" in table


def test_panel_sliders_cover_the_shipped_grid():
    tables = negatives.frames()
    for name, spec in negatives.PANELS.items():
        band = tables[spec.band]
        for path, values in spec.sliders.items():
            column = path.split(".")[-1]
            if column in band:
                assert set(values) <= set(band[column]), (name, column)
        override(negatives.preset(spec.preset, spec.changes), spec.start())
