"""Chapter 1's experiment module: presets, probes and the shape of their results.

Runs here are short (a few dozen steps): they check what each probe returns, not what the
model learns; ``test_findings_interpolation`` checks that.
"""

import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.experiments import interpolation
from toylab.experiments.interpolation import PRESETS, PROBE_COLUMNS, ProbeConfig, preset
from toylab.sweep import available, load_spec

QUICK = {"train.max_steps": 20, "split.n_test": 32, "split.n_val": 32, "seed": 1}


def quick(name, **changes):
    return interpolation.run(preset(name, {**QUICK, **changes}), cache=False)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_config(name):
    cfg = preset(name)
    assert cfg.probe.kind in PROBE_COLUMNS
    assert cfg.train.threads == 1


def test_shipped_sweeps_name_presets_of_this_module():
    names = [n for n in available() if n.startswith("interpolation_")]
    assert len(names) >= 6
    for name in names:
        spec = load_spec(name)
        assert spec.experiment == "toylab.experiments.interpolation"
        assert spec.preset in PRESETS and len(spec.seeds) >= 5
        assert spec.jobs()  # every grid point is a valid config


def test_splits_probe_scores_every_split_and_part():
    result = quick("splits")
    m = result.metrics
    assert list(m.columns) == ["trace", "patch", "singles", "positions", "early_stop",
                               "replay", "compositions", "examples_per_cell",
                               "patch_examples", "seed", "split", "part", "metric",
                               "value", "n"]
    assert m.compositions.eq(3).all() and m.examples_per_cell.eq(round(2000 / 3, 1)).all()
    assert set(m.split) == {"id", "cmp", "pood", "ood"}
    assert set(m.part) == {"full", "reasoning", "answer"}


def test_length_probe_scores_each_length():
    m = quick("length").metrics
    assert sorted(m.test_length.unique()) == [2, 3, 4, 5, 6]
    assert set(m[m.test_length == 4].split) == {"id"}


def test_noise_probe_scores_every_setting_and_the_clean_baseline():
    m = quick("noise", **{"probe.noise_ps": [0.1, 0.3],
                          "probe.noise_kinds": ["insert", "modify"]}).metrics
    settings = m[["noise_on", "noise_kind", "noise_p"]].drop_duplicates()
    assert len(settings) == 3 * 2 * 3  # targets x kinds x (0, 0.1, 0.3)
    assert set(m[m.noise_p == 0].split) == {"id"}
    assert set(m[m.noise_p > 0].split) == {"noise"}


def test_finetune_probe_keeps_the_base_model_row():
    m = quick("finetune", **{"probe.finetune_examples": [2, 8],
                             "probe.finetune_steps": 5}).metrics
    assert sorted(m.finetune_examples.unique()) == [0, 2, 8]
    assert set(m.split) == {"id", "cmp"}


def test_runs_are_cached_and_repeat_exactly(tmp_path):
    cache = Cache(tmp_path)
    cfg = preset("commute", QUICK)
    first = interpolation.run(cfg, cache=cache)
    again = interpolation.run(cfg, cache=cache)
    fresh = interpolation.run(cfg, cache=False)
    pd.testing.assert_frame_equal(first.metrics, again.metrics)
    pd.testing.assert_frame_equal(first.metrics, fresh.metrics)


@pytest.mark.parametrize("changes, match", [
    ({"kind": "nope"}, "kind"), ({"noise_ps": (0.0,)}, "noise_ps"),
    ({"noise_kinds": ("shout",)}, "noise_kinds"), ({"noise_on": ()}, "noise_on"),
    ({"finetune_examples": (0,)}, "finetune_examples"), ({"finetune_steps": 0}, "steps")])
def test_bad_probe_values_say_what_is_allowed(changes, match):
    with pytest.raises(ValueError, match=match):
        ProbeConfig(**changes)


def test_unknown_preset_and_wrong_config_are_clear_errors():
    with pytest.raises(ValueError, match="presets are"):
        preset("nope")
    from toylab.experiment import ExperimentConfig
    with pytest.raises(ValueError, match="InterpolationConfig"):
        interpolation.run(ExperimentConfig(), cache=False)


def test_outputs_table_judges_reasoning_and_answer():
    result = quick("splits")
    table = interpolation.outputs_table(result, "cmp", n=4)
    assert list(table.columns) == ["prompt", "target", "output", "reasoning right",
                                   "answer right", "edit distance"]
    assert len(table) == 4


def test_finetune_larger_than_the_training_set_is_a_clear_error():
    with pytest.raises(ValueError, match="at most split.n_train"):
        preset("finetune", {"probe.finetune_examples": [5000]})


def test_cells_probe_scores_each_held_out_composition_and_what_its_answers_compute():
    result = quick("coverage")
    m = result.metrics
    trained = set(result.info["train_compositions"])
    cells = m[m.metric == "cell_exact_match"]
    assert len(cells) == 8 and cells.value.between(0, 1).all()  # 8 of 16 held out at 0.5
    assert len(trained) == 8 and not trained & set(cells.cell)
    assert cells[["first_partners", "second_partners"]].ge(0).all().all()
    sources = m[m.metric == "answer_is"]
    assert list(sources.source) == list(interpolation.SOURCES)
    assert abs(sources.value.sum() - 1) < 1e-9  # every held-out answer is classified once
    assert (m.metric == "right_steps_wrong_answer").sum() == 1  # with a trace only
    assert set(m[m.metric == "exact_match"].examples_per_cell) == {250}


def test_twins_are_the_compositions_that_compute_the_same_function():
    import numpy as np

    from toylab.tasks import make_task

    task = make_task(preset("coverage").task)
    x = np.random.default_rng(0).integers(0, task.config.alphabet_size, (64, 4))
    for cls in interpolation.TWINS:
        outs = [task.apply(tuple(c.split("∘")), x)[-1] for c in sorted(cls)]
        assert all((o == outs[0]).all() for o in outs[1:]), cls
    # a letter map and a position map commute: four pairs; and two ways to the identity
    assert {frozenset({"rot3∘reverse", "reverse∘rot3"}),
            frozenset({"reverse∘reverse", "atbash∘atbash"})} <= set(interpolation.TWINS)


def test_finetune_with_replay_mixes_in_the_training_data():
    m = quick("finetune", **{"probe.finetune_examples": [4], "probe.finetune_steps": 2,
                             "probe.finetune_replay": 0.5,
                             "probe.finetune_lr": 0.0003}).metrics
    assert set(m.replay) == {0.5} and set(m.finetune_lr) == {0.0003}
    assert set(m.finetune_examples) == {0, 4}
