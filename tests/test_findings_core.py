"""Chapter 0's phenomenon, recomputed from the code over 5 seeds, and the shipped numbers.

Two shipped sweeps show it. ``demo`` is DataAlchemy's split (train rot3∘rot3,
rot3∘shift1, shift1∘rot3; hold out shift1∘shift1), with and without a trace. ``toylab``
(chapter 0) trains on 1, 2 or 3 of the 4 compositions of ROT-3 and atbash. In both the
model is near perfect on new strings of its training compositions and fails on the
held-out ones. The tests read ``toy_lab.findings()`` (what the chapter prints) of the
shipped sweeps and of the recomputed ones alike. Thresholds sit between measured values
with a margin. Measured: demo, without a trace every held-out exact match 0.000, with one
at most 0.203 (two seeds of five get about a fifth of the held-out composition right), in
distribution every run at least 0.918; toylab, best held-out seed 0.008, 14 of 15 runs at
least 0.977 in distribution and one (coverage 0.5, seed 4) stuck on a plateau at 0.191.
"""

import pandas as pd
import pytest

from toylab.cache import Cache
from toylab.experiments import toy_lab
from toylab.sweep import compare, made_here, shipped, sweep

SWEEPS = ("demo", "toylab")


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory):
    return {name: sweep(name, workers=2, cache=Cache(tmp_path_factory.mktemp(name)),
                        progress=False) for name in SWEEPS}


@pytest.mark.parametrize("name", SWEEPS)
def test_shipped_results_are_what_the_code_produces(recomputed, name):
    if made_here(name):  # the platform that made the sweep reproduces it exactly
        pd.testing.assert_frame_equal(shipped(name), recomputed[name], check_dtype=False)
    else:  # another processor: means over seeds within the measured drift
        report = compare(shipped(name), recomputed[name])
        assert report.within_tolerance, report


@pytest.fixture(scope="module", params=["shipped", "recomputed"])
def facts(request, recomputed):
    if request.param == "shipped":
        return toy_lab.findings()
    return toy_lab.findings(recomputed["toylab"], recomputed["demo"])


def test_near_perfect_in_distribution(facts):
    assert facts["runs"] == 15 and facts["id_median_worst"] >= 0.95
    assert facts["learned"] >= 14  # at most one run in fifteen fails to train
    # demo: measured median per setting at least 0.92 (with a trace; 0.99 without) and
    # every run at least 0.9 here; with torch's default kernels one run of ten stopped at
    # 0.770 before the validation strings were drawn apart from the test strings
    assert facts["demo_id_median_worst"] >= 0.88 and facts["demo_learned"] >= 9


def test_fails_on_the_held_out_compositions(facts):
    assert facts["cmp_best"] <= 0.05
    assert facts["demo_cmp_best"][False] <= 0.05 and facts["demo_cmp_best"][True] <= 0.35


def test_gap_is_large_for_every_run_that_trained(facts):
    assert facts["gap_min"] >= 0.6 and facts["demo_gap_min"] >= 0.6
