"""Live panels: ipywidgets sliders that retrain the model when released.

A ``Panel`` is made from an experiment (``toylab.experiments.<chapter>``), one of its
presets and the sliders, each a config path with the values it offers. It shows the
sliders, a progress bar with the time left, a message line and a figure from
``toylab.views``. Releasing a slider asks for a run of the config the sliders describe; a
background thread trains it through the experiment's cached ``run`` (so values seen before
answer at once) while the kernel stays free to take the next slider move. A newer request
cancels the run in progress, so runs never stack up: the last value wins. A config the
library rejects shows its ``ValueError`` message in the panel, not a trace. Closing the
panel (``close()``, or closing its widget) ends its thread; a panel built again in the same
kernel for the same preset closes the one it replaces.

The figure is the same Altair view the static site shows, drawn over the shipped sweep
(only its rows at the other sliders' values), with the live run's rows overlaid, rendered to
PNG offline. The live run's metrics carry the config fields the experiment reports, under
the names the slider and the axes use.

A chapter's panels are declared in its experiment module (``PanelSpec``, in
``Experiment.panels``), so the chapter builds one with
``interpolation.panel("coverage")`` and the benchmark can time every panel of every
chapter. On the static site no kernel answers a slider, so when the book is built
(``book/build.py`` sets ``$TOYLAB_SITE_COLAB`` to the Colab address of the repository)
``show()`` shows a still of the figure at the default setting and one line that links to
the chapter in Colab, where the sliders retrain.
"""

from __future__ import annotations

import base64
import contextlib
import html
import inspect
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import pandas as pd

from toylab.config import override
from toylab.experiment import Cancelled, Experiment, Result
from toylab.progress import SITE_ENV
from toylab.train import Progress, warm_up
from toylab.views import coverage_view, to_png

#: A view from ``toylab.views``: ``view(band, live=..., **options)`` -> Altair chart.
View = Callable[..., Any]


@dataclass(frozen=True)
class PanelSpec:
    """A chapter's live panel, declared once in its experiment module (``Panel`` explains
    each field; ``band`` names the table of ``Experiment.tables()`` it is drawn over)."""

    preset: str
    sliders: dict[str, Sequence[Any]]
    band: str
    view: View = coverage_view
    options: dict[str, Any] = field(default_factory=dict)
    along: str | None = None
    changes: dict[str, Any] | None = None
    description: str = "exact match by test split"

    def start(self) -> dict[str, Any]:
        """The slider values a panel starts from (each slider's middle value)."""
        return {path: _middle(values) for path, values in self.sliders.items()}
#: Open panels by (experiment kind, preset, slider paths): the newest replaces the last.
_OPEN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _experiment(experiment: Any) -> Experiment:
    """An ``Experiment``, or the ``EXPERIMENT`` of an experiment module."""
    found = getattr(experiment, "EXPERIMENT", experiment)
    if not isinstance(found, Experiment):
        raise ValueError("a panel needs an experiment module (toylab.experiments.<name>) "
                         f"or its EXPERIMENT, got {experiment!r}")
    return found


class Panel:
    """Sliders over config fields of one preset that retrain live.

    Args:
        experiment: an experiment module (``toylab.experiments.toy_lab``) or its
            ``EXPERIMENT``.
        preset: the preset the sliders start from.
        sliders: config path -> the values the slider offers, e.g.
            ``{"split.coverage": [0.125, 0.25, ...], "seed": [0, 1, 2, 3, 4]}``. A slider
            is named, and its column found, by the path's last part.
        band: the shipped sweep frame the live result is drawn over.
        view: a view of ``toylab.views`` (default ``coverage_view``).
        options: keyword arguments of the view (``x``, ``metrics``, ``fixed``, ...).
        along: the slider column the view spreads along (its x axis), which the band is
            not narrowed by; default: the first slider's, for a view that takes a
            ``value`` (``coverage_view``), else none. The band is narrowed to the slider
            values of every other slider column it has, except ``seed`` and the view's
            ``series`` (drawn as one line per value, the live run's among them).
        changes: ``override`` changes of the preset the sliders do not set.
        description: what the figure shows, for its alt text.
    """

    def __init__(self, experiment: Any, preset: str, sliders: dict[str, Sequence[Any]],
                 band: pd.DataFrame, *, view: View = coverage_view,
                 options: dict[str, Any] | None = None, along: str | None = None,
                 changes: dict[str, Any] | None = None,
                 description: str = "exact match by test split"):
        if not sliders:
            raise ValueError("a panel needs at least one slider")
        self.experiment = _experiment(experiment)
        self.base = self.experiment.preset(preset, changes)
        self.band, self.description = band, description
        self.view, self.options = view, dict(options or {})
        self.paths = list(sliders)
        columns = [path.split(".")[-1] for path in self.paths]
        takes_value = "value" in inspect.signature(view).parameters
        self.along = along or (columns[0] if takes_value else None)
        if self.along is not None and self.along not in columns:
            raise ValueError(f"along={self.along!r} is not a slider; sliders: {columns}")
        self.field = self.along or columns[0]
        # building the static site: no kernel will answer a slider, so no widget is made
        # (an executed notebook would embed every widget made, shown or not)
        self.site = os.environ.get(SITE_ENV) or None
        ui = _Plain if self.site else None
        self.sliders = {
            path: (ui or widgets.SelectionSlider)(
                options=list(values), value=_middle(values),
                description=path.split(".")[-1], continuous_update=False,
                style={"description_width": "initial"}, layout={"width": "420px"})
            for path, values in sliders.items()}
        self.bar = (ui or widgets.FloatProgress)(min=0, max=1, value=0,
                                                 description="training",
                                                 layout={"width": "420px"})
        self.status = (ui or widgets.HTML)(value="")
        self.figure = (ui or widgets.HTML)(value="")  # an <img> with alt text
        self.widget = (ui or widgets.VBox)(children=[*self.sliders.values(), self.bar,
                                                     self.status, self.figure])
        self.result: Result | None = None
        self.runs_started = 0
        self.closed = False
        self._lock = threading.Condition()
        self._wanted: dict[str, Any] | None = None
        self._generation = 0
        self._done_generation = 0
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.request(), names="value")
        self.widget.observe(self._on_widget_closed, names="comm")
        key = (self.experiment.kind, preset, tuple(self.paths))
        if (old := _OPEN.get(key)) is not None:
            old.close()
        _OPEN[key] = self
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Cancel any run, end the panel's thread and close its widgets."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._generation += 1  # a run in progress is now stale: it cancels itself
            self._lock.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self.widget.close()
        for w in (*self.sliders.values(), self.bar, self.status, self.figure):
            w.close()

    def _on_widget_closed(self, change: dict) -> None:
        if change["new"] is None:
            self.close()

    def values(self) -> dict[str, Any]:
        """What the sliders say now, by config path."""
        return {path: s.value for path, s in self.sliders.items()}

    def request(self, values: dict[str, Any] | None = None) -> None:
        """Ask for a run of these slider values (default: the sliders' own); any run in
        progress for older values is cancelled."""
        with self._lock:
            if self.closed:
                raise ValueError("this panel is closed; build a new one")
            self._wanted = dict(values) if values is not None else self.values()
            self._generation += 1
            self._lock.notify()

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the newest request has been answered (for notebooks and tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._done_generation < self._generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the panel's run did not finish in time")
                self._lock.wait(left)

    def show(self, wait: bool = True) -> widgets.VBox | None:
        """Display the panel and train its starting values (waiting for them by default,
        so an executed notebook stores the finished figure).

        When the book's site is built (``$TOYLAB_SITE_COLAB`` set), it shows instead a
        still of the figure at the starting values and a line linking to the chapter in
        Colab, and closes the panel: a static page has no kernel to answer a slider.
        """
        from IPython.display import HTML, display

        if self.site:
            self.request()
            self.wait()
            display(HTML(self.still(self.site)))
            self.close()
            return None
        display(self.widget)
        self.request()
        if wait:
            self.wait()
        return self.widget

    def still(self, site: str) -> str:
        """The static site's stand-in: the figure and one line with the Colab link."""
        chapter = self.experiment.chapter
        link = f"{site.rstrip('/')}/{chapter}" if chapter else site
        return (f'<div class="toylab-still">{self.figure.value}<p>This figure is a still '
                f"of the live panel at {html.escape(self._shown())}. "
                f'<a href="{html.escape(link)}">Open this chapter in Colab</a> and its '
                "sliders retrain the model.</p></div>")

    def _shown(self) -> str:
        values = self.values().items()
        return ", ".join(f"{path.split('.')[-1]} = {v}" for path, v in values)

    def _work(self) -> None:
        warm_up()
        while True:
            with self._lock:
                while self._wanted is None and not self.closed:
                    self._lock.wait()
                if self.closed:
                    self._done_generation = self._generation
                    self._lock.notify_all()
                    return
                wanted, generation = self._wanted, self._generation
                self._wanted = None
            try:
                self._answer(wanted, generation)
            except Exception as err:  # noqa: BLE001  a panel must outlive any one run
                self._message(err, unexpected=True)
            with self._lock:
                self._done_generation = max(self._done_generation, generation)
                self._lock.notify_all()

    def _stale(self, generation: int) -> bool:
        return generation != self._generation

    def _answer(self, wanted: dict[str, Any], generation: int) -> None:
        self.status.value = ""
        try:
            cfg = override(self.base, wanted)
        except ValueError as err:
            self._message(err)
            return
        start = time.perf_counter()
        values = {path.split(".")[-1]: v for path, v in wanted.items()}
        # the shipped seeds at these values answer at once (drawn on a thread of its own,
        # on the second core, while the model trains); the live run is drawn over them
        # when it finishes

        def shipped_only() -> None:
            with contextlib.suppress(ValueError):  # no shipped rows here: only the message
                self._draw(values, None)

        drawing = threading.Thread(target=shipped_only, daemon=True)
        drawing.start()
        self.runs_started += 1

        def callback(p: Progress) -> bool:
            self.bar.max, self.bar.value = p.max_steps, p.step
            acc = "-" if p.accuracy is None else f"{p.accuracy:.2f}"
            self.bar.description = f"step {p.step}"
            self.status.value = (f"training: validation exact match {acc}, "
                                 f"at most {p.eta:.1f} s left")
            return not self._stale(generation)

        try:
            result = self.experiment.run(cfg, callback=callback)
        except Cancelled:
            return
        except ValueError as err:
            self._message(err)
            return
        finally:
            drawing.join()  # the shipped figure never lands over the live one
        if self._stale(generation):
            return
        self.result = result
        self.bar.value = self.bar.max
        self.bar.description = "done"
        self._draw(values, result.metrics)
        seconds = time.perf_counter() - start
        info, value = result.info, values[self.field]
        stop = ("no early stop" if cfg.train.target_accuracy is None else
                f"{'reached' if info['reached_target'] else 'missed'} the target")
        self.status.value = (f"{self.field} = {value}: trained {info['steps']} steps "
                             f"({stop}), shown in {seconds:.1f} s. Black diamonds: this "
                             "run; the rest: the shipped seeds.")

    def _draw(self, values: dict[str, Any], live: pd.DataFrame | None) -> None:
        """Show the view at these slider values (``live`` None: the shipped seeds only)."""
        extra = {"value": values[self.along]} if self.along is not None and (
            "value" in inspect.signature(self.view).parameters) else {}
        chart = self.view(self._band(values), live=live, **self.options, **extra)
        shown = ", ".join(f"{k} = {v}" for k, v in values.items())
        who = ("this run (black diamonds) over the shipped seeds" if live is not None
               else "the shipped seeds (this run is training)")
        alt = f"{shown}: {self.description} for {who}: mean, and lowest to highest seed"
        png = base64.b64encode(to_png(chart)).decode()
        self.figure.value = (f'<img alt="{html.escape(alt)}" style="max-width:100%" '
                             f'src="data:image/png;base64,{png}">')

    def _band(self, values: dict[str, Any]) -> pd.DataFrame:
        band = self.band
        keep = (self.along, "seed", self.options.get("series"))  # drawn whole
        for name, value in values.items():
            if name not in keep and name in band:
                band = band[band[name] == value]
        return band

    def _message(self, err: Exception, unexpected: bool = False) -> None:
        """Show why there is no figure: a rejected config, or (``unexpected``) a bug."""
        self.bar.value = 0
        self.bar.description = "not run"
        text = f"Something went wrong: {type(err).__name__}: {err}" if unexpected else (
            f"Cannot run this: {err}")
        self.status.value = f"<span style='color:#b2182b'>{html.escape(text)}</span>"


class _Plain:
    """Stands in for a widget while the static site is built: holds the same attributes,
    draws nothing, talks to no front end."""

    def __init__(self, **attributes: Any):
        self.__dict__.update(attributes)

    def observe(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _middle(values: Sequence[Any]) -> Any:
    values = list(values)
    if not values:
        raise ValueError("a slider needs at least one value")
    return values[len(values) // 2]
