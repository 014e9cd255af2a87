"""Sampled runs of shipped sweeps, recomputed from scratch, for the chapters' findings tests
(``test_findings_<chapter>.py``): which runs, their recomputation, and the check that they
are the shipped CSV rows exactly."""

import io
import random

import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.sweep import collect, load_spec, made_here, run_jobs, shipped

NOT_HERE = ("single runs reproduce exactly only on the platform that made the sweep "
            "(toylab.sweep.made_here); test_reproduction.py checks means over seeds and "
            "the findings on another CPU's kernels")


def recompute(experiment: str, sampled: dict[str, int], folder) -> dict:
    """A fixed random sample of ``k`` runs (grid point x seed) of each sweep, recomputed
    into a fresh cache: sweep name -> (jobs, tidy frame)."""
    cache = Cache(folder)
    picked = {name: random.Random(name).sample(load_spec(name).jobs(), k)
              for name, k in sampled.items()}
    run_jobs(experiment, [j for jobs in picked.values() for j in jobs], cache, workers=2,
             progress=False)
    return {name: (jobs, collect(experiment, jobs, cache)) for name, jobs in picked.items()}


def _where(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """The rows of one grid point (a None in the grid is an empty cell in the CSV)."""
    for column, value in columns:
        frame = frame[frame[column].isna() if value is None else frame[column] == value]
    return frame


def skip_unless_made_here(name: str) -> None:
    """Skip (before anything is recomputed) on a platform other than the sweep's."""
    if not made_here(name):
        pytest.skip(NOT_HERE)


def assert_shipped(name: str, jobs, frame: pd.DataFrame) -> None:
    """The recomputed runs are the shipped rows of sweep ``name``, exactly."""
    ship = shipped(name)
    # through a CSV, as the sweep writes it (a None is read back as NaN)
    mine = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    # the same columns by name (a column only some runs report, like a training step,
    # lands where the first run that has it puts it, and is empty in the other runs)
    assert set(mine.columns) <= set(ship.columns), (name, set(mine.columns) - set(ship))
    mine = mine.reindex(columns=ship.columns)
    for job in jobs:
        rows = _where(ship[ship.seed == job.config.seed], job.columns)
        again = _where(mine[mine.seed == job.config.seed], job.columns)
        assert len(rows) > 0, (name, job.columns)
        pd.testing.assert_frame_equal(rows.reset_index(drop=True),
                                      again.reset_index(drop=True), check_dtype=False)


def chapter_checks(experiment: str, sampled: dict[str, int], findings):
    """What every chapter's findings tests start with: the recomputation of ``sampled``
    runs of the chapter's sweeps (``experiment``: its module), the test that they are the
    shipped rows, and the fixtures ``facts`` (the chapter's findings, which
    test_reproduction.py recomputes with a grid point replaced) and ``shipped_facts`` (the
    shipped sweeps alone, for tests of per-seed pairs). A test module binds them::

        recomputed, test_sampled_cells_are_what_the_code_produces, facts, shipped_facts = (
            chapter_checks(EXPERIMENT, SAMPLED, chapter.findings))
    """
    folder = experiment.rsplit(".", 1)[-1]

    @pytest.fixture(scope="module")
    def recomputed(tmp_path_factory):
        return recompute(experiment, sampled, tmp_path_factory.mktemp(folder))

    @pytest.mark.parametrize("name", sorted(sampled))
    def test_sampled_cells_are_what_the_code_produces(request, name):
        skip_unless_made_here(name)
        assert_shipped(name, *request.getfixturevalue("recomputed")[name])

    @pytest.fixture(scope="module")
    def facts():
        return findings()

    @pytest.fixture(scope="module")
    def shipped_facts():
        return findings()

    return recomputed, test_sampled_cells_are_what_the_code_produces, facts, shipped_facts
