import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.config import override
from toylab.experiment import Cancelled, ExperimentConfig, run

SMALL = override(ExperimentConfig(), {
    "task.noise_p": 0.2, "split.coverage": 0.5, "split.tests": ["id", "cmp"],
    "split.n_train": 500, "split.n_test": 32, "train.max_steps": 40})
ALL_SPLITS = override(SMALL, {"split.tests": ["id", "cmp", "length", "noise"]})


def test_same_config_identical_results_for_every_split():
    a, b = run(ALL_SPLITS, cache=None), run(ALL_SPLITS, cache=None)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.history, b.history)
    assert set(a.metrics.split) == {"id", "cmp", "length", "noise"}
    c = run(override(ALL_SPLITS, {"seed": 1}), cache=None)
    assert not a.metrics.value.equals(c.metrics.value)


def test_result_is_tidy_and_carries_its_config(tmp_path):
    result = run(SMALL, cache=Cache(tmp_path))
    assert list(result.metrics.columns) == ["seed", "split", "part", "metric", "value", "n"]
    assert result.config == SMALL
    assert len(result.metrics) == 2 * 3 * 3  # split x part x metric
    assert result.info["n_train"] == 500 and 0 < result.info["steps"] <= 40
    again = run(SMALL, cache=Cache(tmp_path))  # from the cache
    pd.testing.assert_frame_equal(result.metrics, again.metrics)
    assert 0.0 <= result.value("cmp") <= 1.0
    with pytest.raises(ValueError, match="splits here"):
        result.value("ood")


def test_cancel_raises_and_caches_nothing(tmp_path):
    with pytest.raises(Cancelled):
        run(SMALL, cache=Cache(tmp_path), callback=lambda p: False)
    assert not list(tmp_path.glob("*.json"))


def test_progress_bar_runs(capsys):
    run(SMALL, cache=None, progress=True)
    assert "training" in capsys.readouterr().err
