"""Browser tests of the built site: every page works offline, as a reader would see it.

The session builds the site once (``book/build.py``, the same build ``python3 dev.py build``
runs; it returns at once when nothing changed), serves ``_build/html`` on a localhost port
and opens every page of the table of contents in Debian's Chromium, driven by Playwright.
Each page is visited once; the tests below read what that visit recorded. A full-page
screenshot of each page goes to ``_build/screenshots/<page>.png`` for review.

Select or skip them with ``-m browser`` / ``-m "not browser"``.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from toylab.experiments import modules

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("TOYLAB_CHROMIUM", "/usr/bin/chromium"))
#: Flags for a headless Chromium on a machine with no network (background networking off,
#: or Chromium keeps trying to reach Google's hosts); --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
#: ipywidgets controls: on a static page no kernel answers them.
_INERT_CONTROLS = (".widget-slider, .widget-hslider, .widget-dropdown, .widget-button, "
                   ".widget-toggle-buttons, .widget-radio, .widget-text, .widget-checkbox")
#: Each live panel's still on the site: its image's alt text and its Colab link.
_STILLS = """() => [...document.querySelectorAll('.toylab-still')].map(d => ({
  alt: (d.querySelector('img') || {}).alt || '',
  colab: [...d.querySelectorAll('a[href]')].map(a => a.href)
           .filter(h => h.startsWith('https://colab.research.google.com/'))}))"""
#: How long to wait for charts, widgets and maths to draw after the page has loaded.
RENDER_TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


def toc_pages() -> list[str]:
    """Return the page names (``book/intro``, ``chapters/00_toy_lab``, ...) in the toc."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            for key in ("chapters", "sections"):
                walk(entry.get(key, []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk([toc])
    return pages


PAGES = toc_pages()
#: Every chapter's experiment module (their panels are the chapters' live panels).
EXPERIMENTS = tuple(modules())


@dataclass
class Chart:
    """One Altair chart on a page, as the browser drew it."""

    embedded: bool  # vega-embed ran (the div has class vega-embed)
    kind: str | None  # "canvas" or "svg", or None when nothing was drawn
    width: float
    height: float
    error: str  # text of Altair's red error box, if any
    sliders: dict[str, bool] = field(default_factory=dict)  # slider name -> chart changed


@dataclass
class PageReport:
    """What one visit of one page recorded."""

    name: str
    status: int
    title: str
    requests: list[str]
    failed: list[str]  # local requests that failed or answered >= 400
    errors: list[str]  # console errors and uncaught exceptions
    charts: list[Chart]
    widget_state: bool  # the page embeds ipywidgets state
    widget_views: list[bool]  # per embedded widget view: rendered with a nonzero size
    maths: list[bool]  # per maths element: typeset by MathJax
    links: list[str]  # every a[href], resolved
    ids: set[str]  # every id and a[name] in the live page
    images_without_alt: list[str]
    screenshot: Path
    panel_failed: bool = False  # a live panel's stored output says something went wrong
    inert_controls: int = 0  # ipywidgets controls on the page (no kernel answers them)
    stills: list[dict] = field(default_factory=list)  # live panels' stills
    violations: list[dict] = field(default_factory=list)  # axe: serious and critical


#: Visits a page by name (once; later calls return the same report).
Visit = Callable[[str], PageReport]


class _IdCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.cache
def static_ids(path: Path) -> frozenset[str]:
    """Return the ids (and ``<a name>``) in a built HTML file, as written by Sphinx."""
    parser = _IdCollector()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine (localhost, data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """Serve the built site on a free localhost port; yield its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


#: axe-core, the accessibility checker run in every page (from the npm registry, pinned).
AXE_VERSION = "4.14.1"


@pytest.fixture(scope="session")
def axe() -> Path:
    """``axe.min.js`` of the pinned axe-core, fetched once with ``npm pack`` into _build."""
    folder = ROOT / "_build" / "axe" / AXE_VERSION
    script = folder / "package" / "axe.min.js"
    if not script.exists():
        import importlib.util
        import tarfile

        spec = importlib.util.spec_from_file_location("vendor", ROOT / "book" / "vendor.py")
        vendor = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(vendor)  # type: ignore[union-attr]
        folder.mkdir(parents=True, exist_ok=True)
        tarball = vendor._npm_pack("axe-core", AXE_VERSION, folder)
        with tarfile.open(tarball) as tar:
            tar.extract("package/axe.min.js", folder, filter="data")
    return script


#: Serious and critical accessibility violations axe-core finds: rule, impact, a few nodes.
_AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']}))
  .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => ({id: v.id, impact: v.impact, count: v.nodes.length,
              nodes: v.nodes.slice(0, 4).map(n => n.target.join(' '))}))"""


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Debian Chromium, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (`apt-get install -y chromium`; "
            "python3 dev.py test does so when run as root), set TOYLAB_CHROMIUM, or skip "
            "these tests with -m 'not browser'",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


_WAIT_FOR_RENDER = """() => {
  const charts = [...document.querySelectorAll('div[id^="altair-viz-"]')];
  const chartsDone = charts.every(d => d.querySelector('canvas, svg.marks, .error'));
  const views = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')];
  const widgetsDone = views.every(s => s.parentElement.querySelector('.jupyter-widgets'));
  const maths = [...document.querySelectorAll('.math')];
  const mathsDone = maths.every(m => m.querySelector('mjx-container'));
  return chartsDone && widgetsDone && mathsDone;
}"""

_CHARTS = """() => [...document.querySelectorAll('div[id^="altair-viz-"]')].map(d => {
  const drawn = d.querySelector('canvas, svg.marks');
  const box = drawn ? drawn.getBoundingClientRect() : {width: 0, height: 0};
  const err = d.querySelector('.error');
  return {embedded: d.classList.contains('vega-embed'),
          kind: drawn ? drawn.tagName.toLowerCase() : null,
          width: box.width, height: box.height, error: err ? err.textContent : ''};
})"""

_SNAPSHOT = """([index]) => {
  const d = document.querySelectorAll('div[id^="altair-viz-"]')[index];
  const drawn = d.querySelector('canvas, svg.marks');
  if (!drawn) return '';
  return drawn.tagName === 'CANVAS' ? drawn.toDataURL() : drawn.outerHTML;
}"""

# Moves one control of a chart: a slider to its other end, a radio button or a menu to
# another option.
_MOVE_SLIDER = """([index, name]) => {
  const d = document.querySelectorAll('div[id^="altair-viz-"]')[index];
  const inputs = [...d.querySelectorAll(`.vega-bindings [name="${name}"]`)];
  const input = inputs[0];
  if (input.tagName === 'SELECT') {
    input.selectedIndex = (input.selectedIndex + 1) % input.options.length;
  } else if (input.type === 'radio') {
    inputs.find(i => !i.checked).click();
    return;
  } else {
    const value = Number(input.value), max = Number(input.max), min = Number(input.min);
    input.value = String(value === max ? min : max);
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }
  input.dispatchEvent(new Event('change', {bubbles: true}));
}"""

_SLIDER_NAMES = """([index]) => [...new Set([...document
  .querySelectorAll('div[id^="altair-viz-"]')[index]
  .querySelectorAll('.vega-bindings input[type=range], .vega-bindings input[type=radio], '
                    + '.vega-bindings select')].map(i => i.name))]"""

_WIDGETS = """() => [...document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]')].map(s => {
  const w = s.parentElement.querySelector('.jupyter-widgets');
  if (!w) return false;
  const box = w.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
})"""


def _visit(browser: object, base: str, name: str, axe: Path) -> PageReport:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    # Nothing may leave this machine: record every request, and refuse the non-local ones,
    # so a stray CDN reference fails fast instead of waiting for a network that isn't there.
    context.route(lambda url: not is_local(url), lambda route: route.abort())
    page = context.new_page()
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "requestfailed",
        lambda r: is_local(r.url) and failed.append(f"{r.url} ({r.failure})"),
    )
    page.on(
        "response",
        lambda r: r.status >= 400
        and is_local(r.url)
        and failed.append(f"{r.url} ({r.status})"),
    )
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(e.message))
    try:
        response = page.goto(base + name + ".html", wait_until="load")
        page.wait_for_load_state("networkidle")
        try:
            page.wait_for_function(_WAIT_FOR_RENDER, timeout=RENDER_TIMEOUT_MS)
        except Exception:  # noqa: BLE001 - what did not draw is reported below
            pass
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / (name.replace("/", "-") + ".png")
        page.screenshot(path=str(shot), full_page=True)

        page.add_script_tag(path=str(axe))
        violations = page.evaluate(_AXE_RUN)
        charts = [Chart(**c) for c in page.evaluate(_CHARTS)]
        for index, chart in enumerate(charts):
            for slider in page.evaluate(_SLIDER_NAMES, [index]):
                before = page.evaluate(_SNAPSHOT, [index])
                page.evaluate(_MOVE_SLIDER, [index, slider])
                try:
                    page.wait_for_function(
                        f"([i, before]) => ({_SNAPSHOT})([i]) !== before",
                        arg=[index, before], timeout=5_000,
                    )
                    chart.sliders[slider] = True
                except Exception:  # noqa: BLE001 - recorded as "did not change"
                    chart.sliders[slider] = False

        return PageReport(
            name=name,
            status=response.status if response else 0,
            title=page.title(),
            requests=requests,
            failed=failed,
            errors=errors,
            charts=charts,
            widget_state=page.locator(
                'script[type="application/vnd.jupyter.widget-state+json"]'
            ).count() > 0,
            widget_views=page.evaluate(_WIDGETS),
            maths=page.evaluate(
                "() => [...document.querySelectorAll('.math')]"
                ".map(m => !!m.querySelector('mjx-container'))"
            ),
            links=page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"),
            ids=set(page.evaluate(
                "() => [...document.querySelectorAll('[id], a[name]')]"
                ".map(e => e.id || e.getAttribute('name'))"
            )),
            images_without_alt=page.evaluate(
                "() => [...document.querySelectorAll('img')]"
                ".filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src)"
            ),
            screenshot=shot,
            panel_failed=page.evaluate(
                "() => document.body.innerText.includes('Something went wrong')"),
            inert_controls=page.locator(_INERT_CONTROLS).count(),
            stills=page.evaluate(_STILLS),
            violations=violations,
        )
    finally:
        context.close()


@pytest.fixture(scope="session")
def visit(browser: object, server: str, axe: Path) -> Visit:
    """Return a function that visits a page once (later calls reuse the report)."""
    reports: dict[str, PageReport] = {}

    def get(name: str) -> PageReport:
        if name not in reports:
            reports[name] = _visit(browser, server, name, axe)
        return reports[name]

    return get


pages = pytest.mark.parametrize("name", PAGES)


@pages
def test_page_loads(visit: Visit, name: str) -> None:
    report = visit(name)
    assert report.status == 200
    assert report.title.strip()


@pages
def test_no_request_leaves_localhost(visit: Visit, name: str) -> None:
    outside = [url for url in visit(name).requests if not is_local(url)]
    assert not outside, "fetched from off this machine (vendor it):\n" + "\n".join(outside)


@pages
def test_every_local_request_succeeds(visit: Visit, name: str) -> None:
    failed = visit(name).failed
    assert not failed, "local requests that failed:\n" + "\n".join(failed)


@pages
def test_no_console_errors(visit: Visit, name: str) -> None:
    errors = visit(name).errors
    assert not errors, "console errors:\n" + "\n".join(errors)


@pages
def test_every_chart_draws(visit: Visit, name: str) -> None:
    for index, chart in enumerate(visit(name).charts):
        assert chart.error == "", f"chart {index} shows an error: {chart.error}"
        assert chart.embedded, f"chart {index} was not embedded"
        assert chart.kind in ("canvas", "svg"), f"chart {index} was not drawn"
        assert chart.width > 0 and chart.height > 0, f"chart {index} has no size"


@pages
def test_every_slider_changes_its_chart(
    visit: Visit, name: str
) -> None:
    unchanged = [
        (index, slider)
        for index, chart in enumerate(visit(name).charts)
        for slider, changed in chart.sliders.items()
        if not changed
    ]
    assert not unchanged, f"these sliders (chart index, name) changed nothing: {unchanged}"


@pages
def test_no_live_panel_failed_while_the_book_was_built(visit: Visit, name: str) -> None:
    assert not visit(name).panel_failed, "a panel shows 'Something went wrong'"


@pages
def test_chapter_charts_have_controls(visit: Visit, name: str) -> None:
    if name.startswith("chapters/"):
        assert any(chart.sliders for chart in visit(name).charts), (
            "a chapter's static figures need at least one slider or menu")


@pages
def test_every_widget_renders(visit: Visit, name: str) -> None:
    report = visit(name)
    if report.widget_state:
        assert report.widget_views, "widget state is embedded but no widget view is"
    assert all(report.widget_views), "some embedded widgets did not render"


@pages
def test_no_inert_controls_and_a_still_for_every_live_panel(visit: Visit,
                                                           name: str) -> None:
    """The site has no kernel: each live panel is a still with a link to Colab."""
    from toylab.sweep import experiment_of

    report = visit(name)
    assert report.inert_controls == 0, "ipywidgets controls on a page with no kernel"
    panels = sum(len(e.panels) for e in map(experiment_of, EXPERIMENTS)
                 if e.chapter == name + ".ipynb")
    assert len(report.stills) == panels
    page = name.split("/")[-1] + ".ipynb"
    for still in report.stills:
        assert still["alt"].strip() and len(still["colab"]) == 1
        assert still["colab"][0].endswith("/" + page)


@pages
def test_no_serious_accessibility_violation(visit: Visit, name: str) -> None:
    violations = visit(name).violations
    assert not violations, "axe-core: " + "; ".join(
        f"{v['id']} ({v['impact']}, {v['count']} nodes, e.g. {v['nodes']})"
        for v in violations)


@pages
def test_maths_typesets(visit: Visit, name: str) -> None:
    assert all(visit(name).maths), "some maths was not typeset by the vendored MathJax"


@pages
def test_internal_links_resolve(
    visit: Visit, server: str, name: str
) -> None:
    report = visit(name)
    broken = []
    for link in report.links:
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not is_local(link):
            continue
        path = HTML / unquote(parts.path.lstrip("/"))
        if parts.path.endswith("/"):
            path = path / "index.html"
        if not path.is_file():
            broken.append(link)
            continue
        if not parts.fragment:
            continue
        fragment = unquote(parts.fragment)
        same_page = path == HTML / (name + ".html")
        ids = report.ids if same_page else static_ids(path)
        if path.suffix == ".html" and fragment not in ids:
            broken.append(link)
    assert not broken, "broken links:\n" + "\n".join(broken)


@pages
def test_images_have_alt_text(visit: Visit, name: str) -> None:
    missing = visit(name).images_without_alt
    assert not missing, "images without alt text:\n" + "\n".join(missing)


@pages
def test_screenshot_written(visit: Visit, name: str) -> None:
    shot = visit(name).screenshot
    assert shot.is_file() and shot.stat().st_size > 0


def test_built_pages_are_the_toc(site: Path) -> None:
    """Every page in the toc is built, and nothing else is (except Sphinx's own pages)."""
    own = {"genindex", "search", "index"}
    built = {
        str(p.relative_to(site).with_suffix(""))
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith(("_", "reports"))
    } - own
    assert built == set(PAGES)


def test_index_redirects_to_the_first_page(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert f"{PAGES[0]}.html" in index
