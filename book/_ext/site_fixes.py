"""A Sphinx extension of the book's own: fixes to what the theme and its plug-ins write.

* Every page loads each script once. sphinx-thebe 0.3.1 adds its inline configuration
  script (``const THEBE_JS_URL = ...``) each time Sphinx reads documents, and Jupyter Book
  reads them more than once, so every page declared the constant twice and the browser
  logged a SyntaxError.
* Accessibility (axe-core's serious and critical rules, checked in ``tests/test_book.py``):
  the theme's icons inside labelled buttons are decorative (their titles made the buttons'
  visible text disagree with their labels), the search field is named by the text it shows,
  and so is a folded cell's toggle, each chart's actions menu has a name, and the
  bibliography is not announced as a list of things that are not list items.
"""

from __future__ import annotations

ACCESSIBILITY = """
(() => {
  const all = (selector) => document.querySelectorAll(selector);
  const fix = () => {
    // icons are decorative; the titles the icon script gives them made labelled buttons
    // show text their names lack
    all(".theme-switch-button svg title, .search-button svg title")
      .forEach((title) => title.remove());
    all(".theme-switch-button i, .theme-switch-button svg")
      .forEach((icon) => {
        icon.removeAttribute("title");
        icon.setAttribute("aria-hidden", "true");
      });
    // the search field is named by what it shows ("Search Ctrl+K")
    all(".search-button-field[aria-label]").forEach((b) => b.removeAttribute("aria-label"));
    all('summary[aria-label="Toggle hidden content"]')
      .forEach((summary) => summary.removeAttribute("aria-label"));
    all('.citation-list[role="list"]').forEach((list) => list.removeAttribute("role"));
  };
  // each chart's actions menu (drawn when the chart is) gets a name for its toggle
  const label = () => all(".vega-embed details > summary:not([aria-label])")
    .forEach((summary) => summary.setAttribute("aria-label", "Chart actions"));
  document.addEventListener("DOMContentLoaded", () => {
    fix();
    label();
    new MutationObserver(label).observe(document.body, {childList: true, subtree: true});
  });
  window.addEventListener("load", fix);
})();
"""


def _key(script) -> tuple:
    """What makes two scripts the same: the file (an inline script has none, written as
    None or as an empty name) and the attributes, the inline body among them."""
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app):
    app.add_js_file(None, body=ACCESSIBILITY, priority=950)
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
