import json

import pytest

from toylab.cache import Cache
from toylab.config import override
from toylab.sweep import available, load_spec, sweep

SPEC = {
    "description": "tiny",
    "experiment": "toylab.experiment",
    "base": {"split.n_train": 200, "split.n_test": 16, "train.max_steps": 10,
             "split.tests": ["id"]},
    "grid": {"split.coverage": [0.25, 0.5]},
}


def write(tmp_path, seeds, name="tiny"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**SPEC, "seeds": seeds}))
    return str(path)


def test_sweep_writes_a_tidy_csv_and_resumes(tmp_path):
    cache = Cache(tmp_path / "cache")
    first = sweep(write(tmp_path, [0]), workers=2, cache=cache, progress=False)
    assert list(first.columns) == ["coverage", "seed", "split", "part", "metric", "value",
                                   "n"]
    entries = {p.name: p.stat().st_mtime_ns for p in cache.root.glob("*.json")}
    assert len(entries) == 2
    # "interrupted" after seed 0: the full sweep only runs what is missing
    out = tmp_path / "out.csv"
    full = sweep(write(tmp_path, [0, 1]), workers=2, cache=cache, out=out,
                 progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in cache.root.glob("*.json")}
    assert len(after) == 4 and all(after[k] == v for k, v in entries.items())
    assert sorted(full.seed.unique()) == [0, 1] and out.read_text().startswith("coverage")
    again = sweep(write(tmp_path, [0, 1]), workers=1, cache=cache, progress=False)
    assert again.equals(full)


def test_bad_sweeps_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="shipped sweeps"):
        load_spec("no-such-sweep")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SPEC, "seeds": [0], "grid": {"split.coverage": [2.0]}}))
    with pytest.raises(ValueError, match="coverage"):
        sweep(str(bad), cache=Cache(tmp_path), progress=False)
    with pytest.raises(ValueError, match="workers"):
        sweep("demo", workers=0)


def test_shipped_sweeps_are_valid():
    assert "demo" in available()
    for name in available():
        assert load_spec(name).jobs()


def test_compare_takes_means_over_seeds_past_per_seed_counts():
    import pandas as pd

    from toylab.sweep import compare

    def frame(values):
        # two seeds of one grid point, two test splits each; "examples" is a count each
        # run derives for its own seed, so it differs between the seeds; "cell" is empty
        # in some rows, as a sweep's CSV reads it back
        return pd.DataFrame({
            "coverage": 0.5, "examples": [100, 100, 107, 107],
            "cell": pd.Series([None, "a b", None, "a b"], dtype="str"),
            "seed": [0, 0, 1, 1], "split": ["held", "id"] * 2, "part": "full",
            "metric": "exact_match", "value": values, "n": 8})

    swapped = compare(frame([0.2, 1.0, 0.6, 1.0]), frame([0.6, 1.0, 0.2, 1.0]))
    assert not swapped.identical and swapped.max_seed_difference == pytest.approx(0.4)
    assert swapped.max_mean_difference == pytest.approx(0.0)  # the same mean over seeds
    moved = compare(frame([0.2, 1.0, 0.6, 1.0]), frame([0.7, 1.0, 0.9, 1.0]))
    assert moved.max_mean_difference == pytest.approx(0.4)


def test_runs_on_several_threads_run_one_at_a_time_here(tmp_path, monkeypatch):
    # two workers of two-thread runs would ask four threads of two cores, and torch's
    # spinning threads then slowed runs up to fortyfold: such runs take this process
    from toylab import sweep as sweep_module

    ran = []
    monkeypatch.setattr(sweep_module, "_run_job",
                        lambda experiment, config, root: ran.append(config.seed))
    monkeypatch.setattr(sweep_module, "make_pool", lambda *a: pytest.fail("a pool"))
    spec = load_spec(write(tmp_path, [0, 1]))
    jobs = [sweep_module.Job(j.columns, override(j.config, {"train.threads": 2}))
            for j in spec.jobs()]
    sweep_module.run_jobs(spec.experiment, jobs, Cache(tmp_path / "c"), workers=2,
                          progress=False)
    assert sorted(ran) == [0, 0, 1, 1]
