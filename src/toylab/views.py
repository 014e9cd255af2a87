"""Figures built from tidy result frames. Views compute nothing but means and bands.

Every view takes a tidy frame (``split, part, metric, value, seed`` plus the swept config
fields, e.g. ``coverage``) and returns an Altair chart. Test splits are drawn in the order
and colours their task family declares (``Task.test_splits``); a split no family names gets
a colour from a fixed palette. The same function serves both ways
of reading a chapter:

* on the static site, ``value=None`` gives the chart a slider over the swept field, bound
  to the shipped sweep (mean over seeds, band from the lowest to the highest seed);
* in a live kernel, ``value=`` fixes the field to what the ipywidgets slider says and
  ``live=`` overlays the freshly trained result (``toylab.panels``).
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from toylab.results import seed_band, select
from toylab.tasks import test_split_styles

#: Colours for splits no task family names, in order of first appearance.
PALETTE = ("#4d4d4d", "#35978f", "#bf812d", "#8073ac", "#d6604d", "#4393c3")
METRIC_TITLES = {"exact_match": "exact match", "edit_distance": "edit distance (0 = same)",
                 "bleu": "BLEU", "label_choice": "choosing within the label words",
                 "format_valid": "answer is a label word of the task",
                 "prior": "the task's most-trained word",
                 "constant": "tasks answered with one word",
                 "other_label": "another task's word"}


def split_order(names) -> list[str]:
    """The splits among ``names``: first those the task families declare, in their order,
    then any others in the order given."""
    names = list(dict.fromkeys(names))
    declared = [n for n in test_split_styles() if n in names]
    return declared + [n for n in names if n not in declared]


def split_color(name: str, order: Sequence[str] = ()) -> str:
    """The colour a task family gives a split, else one from ``PALETTE``."""
    styles = test_split_styles()
    if name in styles:
        return styles[name].color
    others = [n for n in order if n not in styles]
    return PALETTE[(others.index(name) if name in others else 0) % len(PALETTE)]


def _select(frame: pd.DataFrame, metric: str, part: str, splits: Sequence[str] | None
            ) -> pd.DataFrame:
    rows = select(frame, metric, part, **({"split": list(splits)} if splits else {}))
    if rows.empty:
        raise ValueError(f"no rows with metric={metric!r}, part={part!r}; the frame has "
                         f"metrics {sorted(frame.metric.unique())} and parts "
                         f"{sorted(frame.part.unique())}")
    return rows


def _split_scale(splits: Sequence[str]) -> alt.Scale:
    return alt.Scale(domain=list(splits), range=[split_color(s, splits) for s in splits])


def coverage_view(frame: pd.DataFrame, *, field: str = "coverage",
                  metric: str = "exact_match", part: str = "full",
                  splits: Sequence[str] | None = None, value: float | None = None,
                  live: pd.DataFrame | None = None, title: str | None = None,
                  select: dict[str, Sequence] | None = None,
                  fixed: dict[str, object] | None = None) -> alt.HConcatChart:
    """Accuracy against a swept field (left) and per split at one value of it (right).

    Args:
        frame: tidy sweep results with a column ``field``.
        field: the swept config field on the x axis and on the slider.
        metric, part: which rows to draw (``exact_match`` of the ``full`` output).
        splits: which test splits, in legend order (default: those in the frame).
        value: fix the field to this value (live panels); None adds a slider over the
            field's values in the frame (static site).
        live: a tidy frame of one fresh run, drawn as black diamonds at ``value``.
        title: the chart title.
        select: other swept columns offered as menus on the static site (e.g. ``trace``).
        fixed: other swept columns fixed to one value (live panels).
    """
    rows = _select(frame, metric, part, splits)
    if field not in rows:
        raise ValueError(f"the frame has no column {field!r}; columns: {list(rows)}")
    rows, params, predicates = _choices(rows, select, fixed)
    order = [s for s in (splits or split_order(rows.split)) if s in set(rows.split)]
    band = seed_band(rows, [field, "split", *(select or {})])
    values = sorted(band[field].unique())
    y_title = METRIC_TITLES.get(metric, metric)
    color = alt.Color("split:N", scale=_split_scale(order),
                      legend=alt.Legend(title="test split"))
    base = alt.Chart(band)
    y = alt.Y("mean:Q", title=f"{y_title} (mean over seeds)",
              scale=alt.Scale(domain=[0, 1]))
    if value is None:
        slider = alt.binding_range(min=values[0], max=values[-1], step=_step(values),
                                   name=f"{field} ")
        param = alt.param(name=field, value=values[len(values) // 2], bind=slider)
        chosen = alt.datum[field] == param
    else:
        param = None
        chosen = alt.datum[field] == float(value)
    curve = (
        base.mark_area(opacity=0.2).encode(
            x=alt.X(f"{field}:Q", title=field, axis=_ticks(values)),
            y="low:Q", y2="high:Q", color=color)
        + base.mark_line(point=True).encode(
            x=f"{field}:Q", y=y, color=color,
            tooltip=[field, "split", alt.Tooltip("mean:Q", format=".3f"),
                     alt.Tooltip("low:Q", format=".3f"),
                     alt.Tooltip("high:Q", format=".3f"), "seeds"])
        + base.mark_rule(color="gray", strokeDash=[4, 3]).encode(x=f"{field}:Q")
        .transform_filter(chosen).transform_filter(alt.datum.split == order[0])
    ).properties(width=300, height=220, title=f"{y_title} against {field}")
    bars = (
        base.mark_bar().encode(
            x=alt.X("split:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            y=y, color=color)
        + base.mark_rule(color="black").encode(
            x=alt.X("split:N", sort=order), y="low:Q", y2="high:Q")
    )
    if live is not None:
        live_rows = _select(live, metric, part, order).assign(**{field: value})
        bars += alt.Chart(live_rows).mark_point(
            shape="diamond", size=120, filled=True, color="black").encode(
            x=alt.X("split:N", sort=order), y="value:Q",
            tooltip=["split", alt.Tooltip("value:Q", format=".3f")])
    bars = bars.transform_filter(chosen).properties(
        width=160, height=220, title=f"at the chosen {field}")
    for predicate in predicates:
        curve, bars = curve.transform_filter(predicate), bars.transform_filter(predicate)
    chart = alt.hconcat(curve, bars)
    if param is not None:
        params = [param, *params]
    if params:
        chart = chart.add_params(*params)
    return chart.properties(title=title or "")


def _ticks(values: Sequence[float]) -> alt.Axis:
    """An axis with a tick at each grid value, labelled with the value itself (up to four
    decimals, no trailing zeros: 0.125, not 0.1)."""
    return alt.Axis(values=list(values), format=".4~f")


def _step(values: Sequence[float]) -> float:
    gaps = [round(b - a, 10) for a, b in zip(values, values[1:])]
    return min(gaps) if gaps else 1.0


def menu(column: str, options: Sequence, value: object = None, label: str | None = None
         ) -> alt.Parameter:
    """A control on the static site over ``options`` of ``column`` (radio buttons for up
    to four, else a drop-down), starting at ``value`` (default: the first option);
    filter a chart with ``alt.datum[column] == menu(...)``."""
    options = list(options)
    labels = [str(o) for o in options]
    name = f"{label or column} "
    bind = (alt.binding_radio(options=options, labels=labels, name=name)
            if len(options) <= 4 else
            alt.binding_select(options=options, labels=labels, name=name))
    start = value if value in options else options[0]
    return alt.param(name=column.replace(" ", "_"), value=start, bind=bind)


def _choices(frame: pd.DataFrame, select: dict[str, Sequence] | None,
             fixed: dict[str, object] | None) -> tuple[pd.DataFrame, list, list]:
    """Rows of ``fixed`` values, plus one menu (static site) per ``select`` column.

    Returns the filtered frame, the Altair params and the filter predicates to apply."""
    for column, value in (fixed or {}).items():
        if column not in frame:
            raise ValueError(f"the frame has no column {column!r}; columns: {list(frame)}")
        frame = frame[frame[column] == value]
    params, predicates = [], []
    for column, options in (select or {}).items():
        if column not in frame:
            raise ValueError(f"the frame has no column {column!r}; columns: {list(frame)}")
        param = menu(column, list(options))
        params.append(param)
        predicates.append(alt.datum[column] == param)
    if frame.empty:
        raise ValueError(f"no rows left after fixing {fixed}")
    return frame, params, predicates


def _metric_rows(frame: pd.DataFrame, metrics: Sequence[str], part: str | None
                 ) -> pd.DataFrame:
    """Rows of these metrics on ``part`` (None: every part, for charts along parts)."""
    rows = frame[frame.metric.isin(list(metrics))]
    rows = rows if part is None else rows[rows.part == part]
    if rows.empty:
        raise ValueError(f"no rows with metric in {list(metrics)}, part={part!r}; the "
                         f"frame has metrics {sorted(frame.metric.unique())} and parts "
                         f"{sorted(frame.part.unique())}")
    return rows


def _live_points(live: pd.DataFrame, metric: str, part: str | None,
                 fixed: dict[str, object] | None, x: alt.X, tooltip: list[str]
                 ) -> alt.Chart:
    """One fresh run's values of ``metric`` as black diamonds."""
    rows, _, _ = _choices(_metric_rows(live, [metric], part), None, fixed)
    return alt.Chart(rows).mark_point(shape="diamond", size=100, filled=True,
                                      color="black").encode(
        x=x, y="value:Q", tooltip=[*tooltip, alt.Tooltip("value:Q", format=".3f")])


def curve_view(frame: pd.DataFrame, *, x: str, series: str | None = None,
               metrics: Sequence[str] = (
        "exact_match",), part: str = "full", select: dict[str, Sequence] | None = None,
        fixed: dict[str, object] | None = None, live: pd.DataFrame | None = None,
        log_x: bool = False, x_title: str | None = None, title: str | None = None,
        width: int = 165, metric_titles: dict[str, str] | None = None
) -> alt.TopLevelMixin:
    """One small chart per metric: the mean over seeds against ``x``, one line per value
    of ``series``, with the band from the lowest to the highest seed.

    Args:
        frame: tidy results with columns ``x``, ``series``, ``seed`` and the metric ones.
        series: the column whose values get a line each (None: one line, no legend).
        select: column -> values offered as a menu on the static site (e.g. which noise
            target); the chart shows the rows of the chosen value.
        fixed: column -> value kept (the live panels fix what their sliders say).
        live: one fresh run's tidy frame, drawn as black diamonds.
        log_x: a log x axis (symmetric-log when the grid has a zero: spreads 0, 5, 20,
            80, 320 out evenly enough).
        metric_titles: metric -> axis title, over ``METRIC_TITLES`` (a chapter whose
            metric means something else there, like format validity, names its own).
    """
    titles = {**METRIC_TITLES, **(metric_titles or {})}
    legend = series is not None
    if series is None:  # one line: a constant series, no legend
        series = "runs"
        frame = frame.assign(runs="shipped seeds")
        live = live.assign(runs="shipped seeds") if live is not None else None
    rows = _metric_rows(frame, metrics, part)
    rows, params, predicates = _choices(rows, select, fixed)
    keys = [x, series, "metric", *(select or {})]
    band = seed_band(rows, keys)
    xs = sorted(band[x].unique())
    # a log axis; symmetric-log when the grid has a zero (a log axis cannot show it)
    scale = (alt.Scale(type="symlog" if min(xs) <= 0 else "log") if log_x
             else alt.Scale(zero=False))
    colors = (_split_scale(split_order(band[series])) if series == "split"
              else alt.Undefined)
    charts = []
    for metric in metrics:
        part_band = band[band.metric == metric]
        base = alt.Chart(part_band)
        x_enc = alt.X(f"{x}:Q", title=x_title or x, scale=scale, axis=_ticks(xs))
        color = alt.Color(f"{series}:N", scale=colors,
                          legend=alt.Legend(title=series, orient="bottom",
                                            symbolOpacity=1) if legend else None)
        y_title = titles.get(metric, metric)
        layer = (
            base.mark_area(opacity=0.18).encode(x=x_enc, y="low:Q", y2="high:Q",
                                                color=color)
            + base.mark_line(point=True).encode(
                x=x_enc, color=color,
                y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
                tooltip=[x, series, alt.Tooltip("mean:Q", format=".3f"),
                         alt.Tooltip("low:Q", format=".3f"),
                         alt.Tooltip("high:Q", format=".3f"), "seeds"]))
        for predicate in predicates:
            layer = layer.transform_filter(predicate)
        if live is not None:
            layer += _live_points(live, metric, part, fixed, x_enc, [x, series])
        charts.append(layer.properties(width=width, height=190, title=y_title))
    chart = alt.hconcat(*charts)
    if params:
        chart = chart.add_params(*params)
    return chart.properties(title=title or "")


def bars_view(frame: pd.DataFrame, *, x: str = "split", metrics: Sequence[str] = (
        "exact_match", "edit_distance", "bleu"), part: str = "full",
        select: dict[str, Sequence] | None = None, fixed: dict[str, object] | None = None,
        live: pd.DataFrame | None = None, title: str | None = None,
        metric_titles: dict[str, str] | None = None) -> alt.TopLevelMixin:
    """Bars of the mean over seeds of each metric, per value of ``x`` (test splits by
    default; ``x="part"`` draws each scored part of the output), with whiskers from the
    lowest to the highest seed; ``metric_titles`` as in ``curve_view``."""
    titles = {**METRIC_TITLES, **(metric_titles or {})}
    part = None if x == "part" else part
    rows = _metric_rows(frame, metrics, part)
    rows, params, predicates = _choices(rows, select, fixed)
    band = seed_band(rows, [x, "metric", *(select or {})])
    order = split_order(band[x]) if x == "split" else list(dict.fromkeys(band[x]))
    color = alt.Color(f"{x}:N", scale=_split_scale(order) if x == "split" else
                      alt.Undefined, sort=order, legend=None)
    angle = 0 if max(len(str(v)) for v in order) <= 6 else -35  # long labels slant
    charts = []
    for metric in metrics:
        base = alt.Chart(band[band.metric == metric])
        x_enc = alt.X(f"{x}:N", sort=order, title=None, axis=alt.Axis(labelAngle=angle))
        y_title = titles.get(metric, metric)
        layer = (base.mark_bar().encode(
                     x=x_enc, color=color,
                     y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
                     tooltip=[x, alt.Tooltip("mean:Q", format=".3f"),
                              alt.Tooltip("low:Q", format=".3f"),
                              alt.Tooltip("high:Q", format=".3f"), "seeds"])
                 + base.mark_rule(color="black").encode(x=x_enc, y="low:Q", y2="high:Q"))
        for predicate in predicates:
            layer = layer.transform_filter(predicate)
        if live is not None:
            layer += _live_points(live, metric, part, fixed, x_enc, [x])
        charts.append(layer.properties(width=34 * len(order) + 24, height=190,
                                       title=y_title))
    chart = alt.hconcat(*charts)
    if params:
        chart = chart.add_params(*params)
    return chart.properties(title=title or "")


def grid_view(split_summary: dict, transforms: Sequence[str]) -> alt.Chart:
    """Which depth-2 compositions training covers (a ``Split.summary()``), as a grid:
    first transformation down, second across, each cell colored by its role."""
    trained = set(split_summary["train_compositions"])
    held = {c.split(" | ")[0]: name for name, info in split_summary["tests"].items()
            if name != "id" for c in info["cells"]}
    rows = []
    for first in transforms:
        for second in transforms:
            comp = f"{first}∘{second}"
            role = "trained" if comp in trained else held.get(comp, "not tested")
            rows.append({"first": first, "then": second, "role": role})
    roles = ["trained", "cmp", "pood", "ood", "not tested"]
    colors = ["#1b7837", split_color("cmp"), split_color("pood"), split_color("ood"),
              "#dddddd"]
    grid = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("then:N", sort=list(transforms), title="then apply"),
        y=alt.Y("first:N", sort=list(transforms), title="first apply"))
    return (grid.mark_rect(stroke="white").encode(
                color=alt.Color("role:N", scale=alt.Scale(domain=roles, range=colors),
                                legend=alt.Legend(title="cell")),
                tooltip=["first", "then", "role"])
            + grid.mark_text(fontSize=10, color="white").encode(text="role:N")).properties(
        width=60 * len(transforms), height=40 * len(transforms),
        title=f"coverage {split_summary['coverage']:.3f} of the composition grid")


def to_png(chart: alt.TopLevelMixin, scale: float = 1.5) -> bytes:
    """Render a chart to PNG bytes offline (through vl-convert)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_json(), scale=scale)
