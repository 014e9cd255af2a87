import json

import pandas as pd
import pytest

from toylab.views import coverage_view, grid_view, seed_band, to_png


def sweep_frame():
    rows = []
    for coverage in (0.25, 0.5, 0.75):
        for seed in range(3):
            for split, base in (("id", 0.9), ("cmp", coverage / 2)):
                rows.append({"coverage": coverage, "seed": seed, "split": split,
                             "part": "full", "metric": "exact_match",
                             "value": base + 0.01 * seed, "n": 10})
    return pd.DataFrame(rows)


def test_seed_band_is_mean_min_max():
    band = seed_band(sweep_frame(), ["coverage", "split"])
    row = band[(band.coverage == 0.5) & (band.split == "id")].iloc[0]
    assert row["mean"] == pytest.approx(0.91) and row.low == 0.9 and row.high == 0.92
    assert row.seeds == 3


def test_static_chart_has_a_slider_over_the_swept_field():
    spec = json.loads(coverage_view(sweep_frame()).to_json())
    params = spec["params"]
    assert params[0]["name"] == "coverage"
    assert params[0]["bind"]["input"] == "range" and params[0]["bind"]["step"] == 0.25


def test_live_chart_fixes_the_value_and_overlays_the_run():
    live = sweep_frame().query("coverage == 0.5 and seed == 0")
    chart = coverage_view(sweep_frame(), value=0.5, live=live)
    spec = json.loads(chart.to_json())
    assert "params" not in spec
    assert "diamond" in chart.to_json()
    png = to_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_views_say_what_is_missing():
    with pytest.raises(ValueError, match="metrics"):
        coverage_view(sweep_frame(), metric="bleu")
    with pytest.raises(ValueError, match="no column"):
        coverage_view(sweep_frame(), field="n_train")


def test_grid_view_marks_roles():
    summary = {"coverage": 0.25, "train_compositions": ["a∘a", "a∘b"],
               "tests": {"id": {"cells": []},
                         "cmp": {"cells": ["b∘a | len 4 | clean"]}}}
    text = grid_view(summary, ["a", "b"]).to_json()
    assert "trained" in text and "cmp" in text and "not tested" in text


def probe_frame():
    rows = []
    for on in ("element", "instruction"):
        for p in (0.0, 0.1, 0.3):
            for seed in range(3):
                for metric in ("exact_match", "edit_distance"):
                    rows.append({"noise_on": on, "noise_p": p, "noise_kind": "insert",
                                 "seed": seed, "split": "noise", "part": "full",
                                 "metric": metric, "value": 1 - p + 0.01 * seed, "n": 8})
    return pd.DataFrame(rows)


def test_curve_view_offers_a_menu_and_one_chart_per_metric():
    from toylab.views import curve_view

    chart = curve_view(probe_frame(), x="noise_p", series="noise_kind",
                       metrics=["exact_match", "edit_distance"],
                       select={"noise_on": ["element", "instruction"]})
    spec = json.loads(chart.to_json())
    assert len(spec["hconcat"]) == 2
    assert spec["params"][0]["name"] == "noise_on"
    assert spec["params"][0]["bind"]["input"] == "radio"
    assert to_png(chart)[:4] == b"\x89PNG"


def test_curve_and_bar_views_fix_values_and_overlay_a_live_run():
    from toylab.views import bars_view, curve_view

    frame = probe_frame()
    live = frame.query("seed == 0")
    chart = curve_view(frame, x="noise_p", series="noise_kind",
                       fixed={"noise_on": "element"}, live=live, log_x=True)
    text = chart.to_json()
    assert "diamond" in text and "symlog" in text and "params" not in json.loads(text)
    bars = bars_view(frame, x="noise_on", metrics=["exact_match"], live=live)
    assert "diamond" in bars.to_json()
    with pytest.raises(ValueError, match="no column"):
        curve_view(frame, x="noise_p", series="noise_kind", fixed={"trace": True})
    with pytest.raises(ValueError, match="no rows left"):
        curve_view(frame, x="noise_p", series="noise_kind", fixed={"noise_on": "nowhere"})


def test_axis_ticks_are_the_grid_values_themselves():
    import re

    import vl_convert as vlc

    from toylab.sweep import shipped

    frame = shipped("interpolation_coverage")
    chart = coverage_view(frame[~frame.singles], select={"trace": [True, False]})
    svg = vlc.vegalite_to_svg(chart.to_json())
    labels = set(re.findall(r">(0\.\d+)</text>", svg))
    # every swept coverage, written as itself (0.125 ... 0.875, not rounded to 0.1 ... 0.9)
    assert {f"{c:g}" for c in frame.coverage.unique()} <= labels
