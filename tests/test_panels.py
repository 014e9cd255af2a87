"""Panels with real widgets and real training (a small config, a few seconds)."""

import pandas as pd

from toylab.config import override
from toylab.experiment import ExperimentConfig
from toylab.panels import Panel

BASE = override(ExperimentConfig(), {
    "split.n_train": 300, "split.n_test": 16, "split.n_val": 32, "train.max_steps": 40})
COVERAGES = [0.0, 0.25, 0.375, 0.5]


def band():
    rows = [{"coverage": c, "seed": s, "split": split, "part": "full",
             "metric": "exact_match", "value": 0.5, "n": 16}
            for c in COVERAGES[1:] for s in range(2) for split in ("id", "cmp")]
    return pd.DataFrame(rows)


def make_panel():
    return Panel(BASE, {"split.coverage": COVERAGES, "seed": [0, 1]}, band())


def test_last_value_wins_when_sliders_move_quickly():
    panel = make_panel()
    for coverage in (0.25, 0.375, 0.5):
        panel.request({"split.coverage": coverage, "seed": 1})
    panel.wait()
    assert panel.result.config.split.coverage == 0.5
    assert panel.result.config.seed == 1
    assert panel.runs_started <= 3
    assert 'src="data:image/png;base64,' in panel.figure.value
    assert 'alt="coverage = 0.5' in panel.figure.value
    assert "coverage = 0.5" in panel.status.value


def test_slider_release_triggers_a_run():
    panel = make_panel()
    assert panel.sliders["split.coverage"].value == 0.375  # starts in the middle
    panel.sliders["split.coverage"].value = 0.25
    panel.wait()
    assert panel.result.config.split.coverage == 0.25


def test_bad_value_is_a_message_not_a_trace():
    panel = make_panel()
    panel.request({"split.coverage": 0.0, "seed": 0})
    panel.wait()
    assert panel.result is None
    assert "Cannot run this" in panel.status.value and "coverage" in panel.status.value


def test_a_custom_view_gets_the_other_sliders_band_and_the_live_run():
    seen = {}
    frame = pd.concat([band().assign(trace=True), band().assign(trace=False, value=0.1)])

    def view(band_rows, values, live):
        seen.setdefault("calls", []).append((band_rows, values, live))
        from toylab.views import coverage_view
        return coverage_view(band_rows, value=values["coverage"], live=live)

    panel = Panel(override(BASE, {"task.trace": True}),
                  {"split.coverage": COVERAGES, "task.trace": [False, True], "seed": [0]},
                  frame, view=view, description="exact match")
    panel.request({"split.coverage": 0.25, "task.trace": False, "seed": 0})
    panel.wait()
    (before, values, none), (after, _, live) = seen["calls"][-2:]
    assert none is None  # the shipped seeds are drawn before training starts
    assert values == {"coverage": 0.25, "trace": False, "seed": 0}
    assert set(after.trace) == {False}  # the band holds the other slider's value only
    assert set(after.coverage) == set(COVERAGES[1:])  # but every value of the main one
    assert live.trace.eq(False).all() and live.coverage.eq(0.25).all()
    assert "trace = False" in panel.figure.value


def test_a_failing_view_becomes_a_message_and_the_panel_keeps_working():
    calls = []

    def view(band_rows, values, live):
        calls.append(live)
        if live is not None and values["coverage"] == 0.25:
            raise RuntimeError("the view broke")
        from toylab.views import coverage_view
        return coverage_view(band_rows, value=values["coverage"], live=live)

    panel = Panel(BASE, {"split.coverage": COVERAGES, "seed": [0]}, band(), view=view)
    panel.request({"split.coverage": 0.25, "seed": 0})
    panel.wait()
    assert "Something went wrong: RuntimeError: the view broke" in panel.status.value
    panel.request({"split.coverage": 0.5, "seed": 0})
    panel.wait()
    assert "coverage = 0.5: trained" in panel.status.value
