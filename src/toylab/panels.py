"""Live panels: ipywidgets sliders that retrain the model when released.

A ``Panel`` shows sliders for a few config fields, a progress bar with the time left, a
message line and a figure from ``toylab.views``. Releasing a slider asks for a run of the
config those sliders describe; a background thread trains it through the cache (so values
seen before answer at once) while the kernel stays free to take the next slider move. A
newer request cancels the run in progress, so runs never stack up: the last value wins. A
config the library rejects shows its ``ValueError`` message in the panel, not a trace.

The figure is the same Altair view the static site shows, with the slider values fixed
and the live result overlaid on the shipped seed band, rendered to PNG offline.
"""

from __future__ import annotations

import base64
import contextlib
import html
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from toylab.config import override
from toylab.experiment import Cancelled, Result, run
from toylab.train import Progress, warm_up
from toylab.views import coverage_view, to_png

#: ``view(band, values, live)`` -> Altair chart: ``band`` is the shipped sweep (rows of the
#: other sliders' values), ``values`` the slider values by short name, ``live`` the fresh
#: run's metrics with the slider values as columns, or None for the drawing made at once,
#: before the run has finished.
View = Callable[[pd.DataFrame, dict[str, Any], pd.DataFrame], Any]


class Panel:
    """Sliders over config fields that retrain live.

    Args:
        base: the config the sliders modify.
        sliders: config path -> the values the slider offers, e.g.
            ``{"split.coverage": [0.0625, 0.125, ...], "seed": [0, 1, 2, 3, 4]}``.
            The first path is the main field (named by its last part).
        band: the shipped sweep frame the live result is drawn over.
        view: ``view(band, values, live)`` -> Altair chart (default: ``coverage_view``
            over the first slider's field). The band passed in holds only the rows of the
            sliders' values for every slider column it has except the first and ``seed``.
        runner: ``runner(cfg, callback=)`` -> ``Result`` (default: cached ``run``).
        description: what the figure shows, for its alt text.
    """

    def __init__(self, base: Any, sliders: dict[str, Sequence[Any]], band: pd.DataFrame,
                 *, view: View | None = None,
                 runner: Callable[..., Result] | None = None,
                 description: str = "exact match by test split"):
        if not sliders:
            raise ValueError("a panel needs at least one slider")
        self.base, self.band, self.description = base, band, description
        self.runner = runner or (lambda cfg, callback: run(cfg, callback=callback))
        self.paths = list(sliders)
        self.field = self.paths[0].split(".")[-1]
        self.view = view or (lambda band, values, live: coverage_view(
            band, field=self.field, value=values[self.field], live=live))
        self.sliders = {
            path: widgets.SelectionSlider(
                options=list(values), value=_middle(values),
                description=path.split(".")[-1], continuous_update=False,
                style={"description_width": "initial"}, layout={"width": "420px"})
            for path, values in sliders.items()}
        self.bar = widgets.FloatProgress(min=0, max=1, value=0, description="training",
                                         layout={"width": "420px"})
        self.status = widgets.HTML()
        self.figure = widgets.HTML()  # an <img> with alt text (widgets.Image has none)
        self.widget = widgets.VBox([*self.sliders.values(), self.bar, self.status,
                                    self.figure])
        self.result: Result | None = None
        self.runs_started = 0
        self._lock = threading.Condition()
        self._wanted: dict[str, Any] | None = None
        self._generation = 0
        self._done_generation = 0
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.request(), names="value")
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def values(self) -> dict[str, Any]:
        """What the sliders say now, by config path."""
        return {path: s.value for path, s in self.sliders.items()}

    def request(self, values: dict[str, Any] | None = None) -> None:
        """Ask for a run of these slider values (default: the sliders' own); any run in
        progress for older values is cancelled."""
        with self._lock:
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

    def show(self, wait: bool = True) -> widgets.VBox:
        """Display the panel and train its starting values (waiting for them by default,
        so an executed notebook stores the finished figure)."""
        from IPython.display import display

        display(self.widget)
        self.request()
        if wait:
            self.wait()
        return self.widget

    def _work(self) -> None:
        warm_up()
        while True:
            with self._lock:
                while self._wanted is None:
                    self._lock.wait()
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
        # the shipped seeds at these values answer at once; the live run is drawn over
        # them when it finishes
        with contextlib.suppress(ValueError):  # no shipped rows here: only the message
            self._draw(values, None)
        self.runs_started += 1

        def callback(p: Progress) -> bool:
            self.bar.max, self.bar.value = p.max_steps, p.step
            acc = "-" if p.accuracy is None else f"{p.accuracy:.2f}"
            self.bar.description = f"step {p.step}"
            self.status.value = (f"training: validation exact match {acc}, "
                                 f"at most {p.eta:.1f} s left")
            return not self._stale(generation)

        try:
            result = self.runner(cfg, callback=callback)
        except Cancelled:
            return
        except ValueError as err:
            self._message(err)
            return
        if self._stale(generation):
            return
        self.result = result
        self.bar.value = self.bar.max
        self.bar.description = "done"
        self._draw(values, result.metrics.assign(
            **{k: v for k, v in values.items() if k not in result.metrics}))
        seconds = time.perf_counter() - start
        info, value = result.info, values[self.field]
        self.status.value = (f"{self.field} = {value}: trained {info['steps']} steps "
                             f"({'reached' if info['reached_target'] else 'missed'} the "
                             f"target), shown in {seconds:.1f} s. Black diamonds: this "
                             "run; the rest: the shipped seeds.")

    def _draw(self, values: dict[str, Any], live: pd.DataFrame | None) -> None:
        """Show the view at these slider values (``live`` None: the shipped seeds only)."""
        chart = self.view(self._band(values), values, live)
        shown = ", ".join(f"{k} = {v}" for k, v in values.items())
        who = ("this run (black diamonds) over the shipped seeds" if live is not None
               else "the shipped seeds (this run is training)")
        alt = f"{shown}: {self.description} for {who}: mean, and lowest to highest seed"
        png = base64.b64encode(to_png(chart)).decode()
        self.figure.value = (f'<img alt="{html.escape(alt)}" style="max-width:100%" '
                             f'src="data:image/png;base64,{png}">')

    def _band(self, values: dict[str, Any]) -> pd.DataFrame:
        band = self.band
        for name, value in values.items():
            if name not in (self.field, "seed") and name in band:
                band = band[band[name] == value]
        return band

    def _message(self, err: Exception, unexpected: bool = False) -> None:
        """Show why there is no figure: a rejected config, or (``unexpected``) a bug."""
        self.bar.value = 0
        self.bar.description = "not run"
        text = f"Something went wrong: {type(err).__name__}: {err}" if unexpected else (
            f"Cannot run this: {err}")
        self.status.value = f"<span style='color:#b2182b'>{html.escape(text)}</span>"


def _middle(values: Sequence[Any]) -> Any:
    values = list(values)
    if not values:
        raise ValueError("a slider needs at least one value")
    return values[len(values) // 2]
