"""A Sphinx extension of the book's own: every page loads each script once.

sphinx-thebe 0.3.1 adds its inline configuration script (``const THEBE_JS_URL = ...``)
each time Sphinx reads documents, and Jupyter Book reads them more than once, so every
page declared the constant twice and the browser logged a SyntaxError. This drops repeated
scripts (same file, or same inline body, and same attributes) from each page.
"""

from __future__ import annotations


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
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
