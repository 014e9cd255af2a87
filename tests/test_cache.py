import json
import warnings

import pytest

from toylab.cache import Cache, cached, default_dir, key
from toylab.config import override
from toylab.experiment import ExperimentConfig


def test_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "here"))
    assert default_dir() == tmp_path / "here" and Cache().root == tmp_path / "here"


def test_key_depends_on_config_and_kind():
    cfg = ExperimentConfig()
    assert key("a", cfg) == key("a", ExperimentConfig())
    assert key("a", cfg) != key("b", cfg)
    assert key("a", cfg) != key("a", override(cfg, {"split.coverage": 0.25}))


def test_compute_once_then_load(tmp_path):
    cache, calls = Cache(tmp_path), []

    def compute():
        calls.append(1)
        return {"x": len(calls)}

    assert cached("k", ExperimentConfig(), compute, cache) == {"x": 1}
    assert cached("k", ExperimentConfig(), compute, cache) == {"x": 1}
    assert calls == [1]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong key", "empty"])
def test_corrupt_entry_is_recomputed_with_a_warning(tmp_path, damage):
    cache = Cache(tmp_path)
    cfg = ExperimentConfig()
    cached("k", cfg, lambda: {"x": 1}, cache)
    path = cache.path(key("k", cfg))
    text = path.read_text()
    path.write_text({"truncate": text[: len(text) // 2], "garbage": "\x00\xff not json",
                     "wrong key": json.dumps({"key": "other", "payload": {"x": 9}}),
                     "empty": ""}[damage])
    with pytest.warns(UserWarning, match="recomputing"):
        assert cached("k", cfg, lambda: {"x": 2}, cache) == {"x": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached("k", cfg, lambda: {"x": 3}, cache) == {"x": 2}


def test_no_cache_means_no_files(tmp_path):
    assert cached("k", ExperimentConfig(), lambda: {"x": 1}, None) == {"x": 1}
    assert list(tmp_path.iterdir()) == []


def test_code_version_moves_with_code_not_with_docstrings_or_analysis():
    from toylab.cache import NOT_RESULTS, _code

    base = 'def f(x):\n    """Doc."""\n    return x + 1  # comment\n'
    assert _code(base) == _code('def f(x):\n    """Other words."""\n    return x + 1\n')
    assert _code(base) != _code('def f(x):\n    """Doc."""\n    return x + 2\n')
    with_analysis = base + '\n@analysis\ndef findings():\n    return "a number"\n'
    assert _code(with_analysis) == _code(with_analysis.replace("a number", "another"))
    assert "bench.py" in NOT_RESULTS and "views.py" in NOT_RESULTS
