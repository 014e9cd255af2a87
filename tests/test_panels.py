"""Panels with real widgets and real training (a small config, a few seconds)."""

import threading

import pandas as pd
import pytest

from toylab.experiments import modules
from toylab.experiments.toy_lab import ToyLab
from toylab.panels import Panel
from toylab.views import coverage_view

COVERAGES = [0.0, 0.25, 0.375, 0.5]


class Small(ToyLab):
    """Chapter 0's experiment with a preset small enough to train in a second."""

    kind = "tests.panels/1"
    presets = {"small": {"split.n_train": 300, "split.n_test": 16, "split.n_val": 32,
                         "train.max_steps": 40, "split.tests": ["id", "cmp"],
                         "task.transforms": ["rot3", "shift1", "reverse", "atbash"]}}


SMALL = Small()


def band():
    rows = [{"coverage": c, "seed": s, "split": split, "part": "full",
             "metric": "exact_match", "value": 0.5, "n": 16}
            for c in COVERAGES[1:] for s in range(2) for split in ("id", "cmp")]
    return pd.DataFrame(rows)


def make_panel(**kwargs):
    return Panel(SMALL, "small", {"split.coverage": COVERAGES, "seed": [0, 1]}, band(),
                 **kwargs)


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
    # the live run carries the slider's column itself, under the slider's name
    assert panel.result.metrics.coverage.eq(0.5).all()
    panel.close()


def test_slider_release_triggers_a_run():
    panel = make_panel()
    assert panel.sliders["split.coverage"].value == 0.375  # starts in the middle
    panel.sliders["split.coverage"].value = 0.25
    panel.wait()
    assert panel.result.config.split.coverage == 0.25
    panel.close()


def test_bad_value_is_a_message_not_a_trace():
    panel = make_panel()
    panel.request({"split.coverage": 0.0, "seed": 0})
    panel.wait()
    assert panel.result is None
    assert "Cannot run this" in panel.status.value and "coverage" in panel.status.value
    panel.close()


def test_a_view_gets_the_other_sliders_band_and_the_live_run():
    seen = []
    frame = pd.concat([band().assign(trace=True), band().assign(trace=False, value=0.1)])

    def view(band_rows, live=None, value=None, title=None):
        seen.append((band_rows, live, value, title))
        return coverage_view(band_rows, value=value, live=live, title=title)

    panel = Panel(SMALL, "small", {"split.coverage": COVERAGES, "task.trace": [False, True],
                                   "seed": [0]}, frame, view=view, options={"title": "t"},
                  description="exact match")
    panel.request({"split.coverage": 0.25, "task.trace": False, "seed": 0})
    panel.wait()
    (_, none, _, _), (after, live, value, title) = seen[-2:]
    assert none is None  # the shipped seeds are drawn before training starts
    assert value == 0.25 and title == "t"
    assert set(after.trace) == {False}  # the band holds the other slider's value only
    assert set(after.coverage) == set(COVERAGES[1:])  # but every value along the axis
    assert live.trace.eq(False).all() and live.coverage.eq(0.25).all()
    assert "trace = False" in panel.figure.value
    panel.close()


def test_a_failing_view_becomes_a_message_and_the_panel_keeps_working():
    def view(band_rows, live=None, value=None):
        if live is not None and value == 0.25:
            raise RuntimeError("the view broke")
        return coverage_view(band_rows, value=value, live=live)

    panel = Panel(SMALL, "small", {"split.coverage": COVERAGES, "seed": [0]}, band(),
                  view=view)
    panel.request({"split.coverage": 0.25, "seed": 0})
    panel.wait()
    assert "Something went wrong: RuntimeError: the view broke" in panel.status.value
    panel.request({"split.coverage": 0.5, "seed": 0})
    panel.wait()
    assert "coverage = 0.5: trained" in panel.status.value
    panel.close()


def test_closing_ends_the_thread_and_a_rebuilt_panel_replaces_the_old_one():
    before = threading.active_count()
    first = make_panel()
    first.request({"split.coverage": 0.5, "seed": 0})  # closed while it may be training
    second = make_panel()  # the same preset and sliders: the first one is closed
    assert first.closed and not first._thread.is_alive()
    with pytest.raises(ValueError, match="closed"):
        first.request()
    second.widget.close()  # closing the widget (as the notebook front end does) ends it
    second._thread.join(10)
    assert second.closed and not second._thread.is_alive()
    assert threading.active_count() <= before


def test_a_panel_needs_an_experiment_and_a_known_preset():
    with pytest.raises(ValueError, match="experiment module"):
        Panel(object(), "small", {"seed": [0]}, band())
    with pytest.raises(ValueError, match="unknown preset"):
        Panel(SMALL, "nope", {"seed": [0]}, band())


@pytest.mark.parametrize("module", modules())
def test_no_chapter_panel_offers_a_value_that_raises(module):
    """Every combination of every chapter panel's slider values is a config the lab
    accepts and whose split can be built (a learner never meets a ValueError there)."""
    import itertools

    from toylab.config import override
    from toylab.sweep import experiment_of

    experiment = experiment_of(module)
    for spec in experiment.panels.values():
        base = experiment.preset(spec.preset, spec.changes)
        for values in itertools.product(*spec.sliders.values()):
            cfg = override(base, dict(zip(spec.sliders, values)))
            experiment.data(cfg)  # builds the task and the split
