"""The core phenomenon, recomputed from the code over 5 seeds, and the shipped numbers.

Two shipped sweeps show it. ``demo`` is DataAlchemy's split (train rot3∘rot3,
rot3∘shift1, shift1∘rot3; hold out shift1∘shift1), with and without a trace. ``toylab``
(chapter 0) trains on 1, 2 or 3 of the 4 compositions of ROT-3 and atbash. In both the
model is near perfect on new strings of its training compositions and fails on the
held-out ones. Thresholds sit between measured values with a margin. Measured: demo,
without a trace every held-out exact match 0.000, with one at most 0.203 (two seeds of five
get about a fifth of the held-out composition right), in distribution every run at least
0.918; toylab, best held-out seed 0.008, 14 of 15 runs at least 0.977 in distribution and
one (coverage 0.5, seed 4) stuck on a plateau at 0.191.
"""

import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.sweep import shipped, sweep


@pytest.fixture(scope="module", params=["demo", "toylab"])
def recomputed(request, tmp_path_factory):
    name = request.param
    frame = sweep(name, workers=2, cache=Cache(tmp_path_factory.mktemp(name)),
                  progress=False)
    return name, frame


def exact(frame, split, by):
    rows = frame[(frame.split == split) & (frame.part == "full")
                 & (frame.metric == "exact_match")]
    return rows.set_index([by, "seed"]).value


BY = {"demo": "trace", "toylab": "coverage"}


def test_shipped_results_are_what_the_code_produces(recomputed):
    name, frame = recomputed
    pd.testing.assert_frame_equal(shipped(name), frame, check_dtype=False)


def test_near_perfect_in_distribution(recomputed):
    name, frame = recomputed
    id_acc = exact(frame, "id", BY[name])
    assert len(id_acc) >= 10
    assert id_acc.groupby(level=0).median().min() >= 0.95
    assert (id_acc >= 0.9).mean() >= 0.9  # at most one run in ten fails to train


# the most a run may get right of the held-out compositions, by sweep and grid value
CMP_CEILING = {("demo", False): 0.05, ("demo", True): 0.35, ("toylab", 0.25): 0.05,
               ("toylab", 0.5): 0.05, ("toylab", 0.75): 0.05}


def test_fails_on_the_held_out_compositions(recomputed):
    name, frame = recomputed
    worst = exact(frame, "cmp", BY[name]).groupby(level=0).max()
    for value, best_run in worst.items():
        assert best_run <= CMP_CEILING[name, value], (name, value, best_run)


def test_gap_is_large_for_every_run_that_trained(recomputed):
    name, frame = recomputed
    gap = exact(frame, "id", BY[name]) - exact(frame, "cmp", BY[name])
    trained = exact(frame, "id", BY[name]) >= 0.9
    assert gap[trained].min() >= 0.6
