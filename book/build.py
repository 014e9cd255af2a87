"""Build the book's web site into ``_build/html``: vendor the JavaScript, then Jupyter Book.

Run with the project's virtual environment (``python3 dev.py build`` does, and so does the
browser test session)::

    .venv/bin/python book/build.py          # build if anything changed, else do nothing
    .venv/bin/python book/build.py --clean  # throw away _build first (a cold build)

The site is built from the repository root, so that notebook paths, and the Colab links made
from them, are the paths in the repository::

    jupyter-book build . --config book/_config.yml --toc book/_toc.yml -W -n --keep-going

``-W`` makes every warning, including a notebook cell that raises, fail the build.

Jupyter Book and Sphinx rebuild only what they know changed, and they miss some changes, so
this script decides what to throw away before it builds:

- nothing changed since the last successful build: it does not build at all;
- the library's code (not its docstrings, comments, benchmark or command line), its
  shipped sweeps or the pinned requirements changed: the notebooks' outputs depend on them
  but their execution cache does not know, so the cache and the built pages go and every
  chapter runs again;
- the vendored JavaScript or the book's configuration changed: Sphinx would keep stale
  static files and myst-nb stale per-page script lists, so the built pages go (the execution
  cache stays);
- the last build failed: Sphinx's environment goes, so that the next build reads every page
  again and reports the same warnings (an incremental build only reports pages it reads
  again).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
BUILD = ROOT / "_build"
HTML = BUILD / "html"
STAMP = BUILD / ".toylab-build.json"
#: What Jupyter Book writes besides the pages: Sphinx's environment, executed notebooks.
DOCTREES = BUILD / ".doctrees"
EXEC_CACHE = BUILD / ".jupyter_cache"


class BuildError(RuntimeError):
    """The book did not build (Jupyter Book exited non-zero)."""


def _say(msg: str) -> None:
    print(f"[book] {msg}", flush=True)


def _digest(paths: list[Path]) -> str:
    """Hash the names and contents of ``paths`` (files; folders are walked)."""
    h = hashlib.sha256()
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        elif path.is_file():
            files.append(path)
    for file in sorted(files):
        h.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()


def colab_base() -> str:
    """The Colab address of the repository's notebooks, from ``book/_config.yml`` (the
    same address as the pages' launch buttons, without the notebook's path)."""
    from urllib.parse import urlsplit

    import yaml

    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo = urlsplit(str(config["repository"]["url"])).path.strip("/")
    colab = str(config["launch_buttons"]["colab_url"]).rstrip("/")
    return f"{colab}/github/{repo}/blob/{config['repository']['branch']}"


def _code_digest() -> str:
    """The library as the chapters run it (its code without docstrings or comments, and
    its shipped sweeps; not the benchmark or the command line) and the pins."""
    from toylab.cache import source_digest

    return source_digest(exclude=("__main__.py", "bench.py"), data=True) + _digest(
        [ROOT / "requirements.txt", ROOT / "pyproject.toml"])


def _load_vendor():
    spec = importlib.util.spec_from_file_location("toylab_book_vendor", BOOK / "vendor.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def input_keys() -> dict[str, str]:
    """Return content hashes of everything the built site depends on, by kind.

    Returns:
        ``code``: the library and the pins; ``site``: the vendored JavaScript and the book's
        configuration; ``pages``: every source page (book/ and chapters/).
    """
    vendor_dir = BOOK / "_vendor"
    book_sources = [
        p for p in BOOK.rglob("*")
        if p.is_file() and vendor_dir not in p.parents and "__pycache__" not in p.parts
    ]
    return {
        "code": _code_digest(),
        "site": _digest(
            [vendor_dir / "manifest.json", BOOK / "_config.yml", BOOK / "_toc.yml"]
        ),
        "pages": _digest(book_sources + sorted((ROOT / "chapters").glob("*.ipynb"))),
    }


def _clear_pages() -> None:
    """Remove the built pages and Sphinx's environment (not the execution cache)."""
    for stale in (HTML, DOCTREES):
        shutil.rmtree(stale, ignore_errors=True)


def _jupyter_book() -> str:
    script = Path(sys.executable).with_name("jupyter-book")
    if script.exists():
        return str(script)
    found = shutil.which("jupyter-book")
    if found is None:
        raise BuildError("jupyter-book is not installed; run `python3 dev.py build`.")
    return found


def build(clean: bool = False) -> Path:
    """Vendor the JavaScript and build the site, doing no more work than needed.

    Args:
        clean: Remove ``_build`` first, so everything is built and executed from scratch.

    Returns:
        The path of the site's entry page, ``_build/html/index.html``.

    Raises:
        BuildError: Jupyter Book failed (a warning, a broken reference or a failing cell).
    """
    if clean and BUILD.exists():
        _say(f"removing {BUILD}")
        shutil.rmtree(BUILD)
    if _load_vendor().vendor():
        _clear_pages()  # Sphinx does not overwrite static files that changed
    keys = input_keys()
    index = HTML / "index.html"
    last = json.loads(STAMP.read_text()) if STAMP.exists() else {}
    if last.get("ok") and last.get("keys") == keys and index.exists():
        _say(f"site up to date: {index.relative_to(ROOT)}")
        return index
    before = last.get("keys", {})
    if before.get("code") != keys["code"] and EXEC_CACHE.exists():
        _say("library or pins changed: clearing the notebook execution cache")
        shutil.rmtree(EXEC_CACHE)
    if before.get("code") != keys["code"] or before.get("site") != keys["site"]:
        _clear_pages()
    cmd = [
        _jupyter_book(), "build", ".",
        "--config", "book/_config.yml", "--toc", "book/_toc.yml",
        "-W", "-n", "--keep-going",
    ]
    _say(" ".join(cmd))
    # the chapters' live panels show a still and a Colab link on the site (toylab.panels)
    env = {**os.environ, "TOYLAB_SITE_COLAB": colab_base()}
    ok = subprocess.run(cmd, cwd=ROOT, env=env).returncode == 0
    if not ok:
        # Sphinx re-reports warnings only for pages it reads again: make it read them all.
        # (The pages stay, with a failing notebook's traceback in _build/html/reports/.)
        shutil.rmtree(DOCTREES, ignore_errors=True)
    BUILD.mkdir(exist_ok=True)
    STAMP.write_text(json.dumps({"ok": ok, "keys": keys}, indent=2) + "\n")
    if not ok:
        raise BuildError("the book did not build; see the warnings above")
    _say(f"site built: {index.relative_to(ROOT)} (open it in a browser)")
    return index


def main(argv: list[str] | None = None) -> int:
    """Command line: build the site; exit status 1 when it does not build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove _build first")
    args = parser.parse_args(argv)
    try:
        build(clean=args.clean)
    except BuildError as err:
        _say(f"FAILED: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
