"""Sweeps on a Dask cluster: a real local cluster of worker processes started here. The
results come back to the caller and land in its cache (the workers have none), and equal
the same sweep run in local processes."""

import json
import sys

import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.sweep import _compute_job, experiment_of, sweep

distributed = pytest.importorskip("distributed")

SPEC = {"experiment": "toylab.experiments.toy_lab", "preset": "toylab",
        "base": {"train.max_steps": 20, "split.n_train": 200, "split.n_test": 16,
                 "split.n_val": 16},
        "grid": {"split.coverage": [0.25, 0.5]}, "seeds": [0, 1]}


def write(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SPEC))
    return str(path)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def test_a_sweep_on_a_cluster_equals_the_local_one_and_is_cached_here(cluster, tmp_path):
    path = write(tmp_path)
    here = Cache(tmp_path / "caller")
    remote = sweep(path, scheduler=cluster.scheduler_address, cache=here, progress=False)
    local = sweep(path, workers=1, cache=Cache(tmp_path / "local"), progress=False)
    pd.testing.assert_frame_equal(remote, local)
    entries = sorted(here.root.glob("*.json"))
    assert len(entries) == 4  # one per grid point x seed, in the caller's cache
    assert ({p.name for p in entries}
            == {p.name for p in (tmp_path / "local").glob("*.json")})  # the same keys
    stamps = [p.stat().st_mtime_ns for p in entries]
    again = sweep(path, scheduler=cluster.scheduler_address, cache=here, progress=False)
    pd.testing.assert_frame_equal(remote, again)
    assert [p.stat().st_mtime_ns for p in entries] == stamps  # nothing recomputed


def test_a_bad_scheduler_address_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("toylab.sweep.CONNECT_TIMEOUT", 2.0)
    path = write(tmp_path)
    cache = Cache(tmp_path / "c")
    with pytest.raises(ValueError, match="cannot reach a Dask scheduler"):
        sweep(path, scheduler="tcp://127.0.0.1:9", cache=cache, progress=False)
    for bad in ["nonsense", "http://localhost:8786"]:
        with pytest.raises(ValueError, match="not a Dask scheduler address"):
            sweep(path, scheduler=bad, cache=cache, progress=False)
    assert not list(cache.root.glob("*.json"))


def test_without_distributed_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(ValueError, match=r'pip install "toylab\[cluster\]"'):
        sweep(write(tmp_path), scheduler="127.0.0.1:8786", cache=Cache(tmp_path),
              progress=False)


def test_a_worker_on_other_code_refuses_to_run():
    cfg = experiment_of(SPEC["experiment"]).default_config("toylab")
    with pytest.raises(ValueError, match="install the same toylab"):
        _compute_job(SPEC["experiment"], cfg, code="0.0.0+elsewhere")
