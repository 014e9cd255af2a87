"""Every chapter opens and runs in Colab from the one configured repository URL.

The URL lives in ``book/_config.yml`` (``repository.url``) and nowhere else that a person
types: each chapter's first cell installs ``toylab`` from exactly that URL when it is
missing (``book/sync_colab.py`` writes the cell), and the built page's Colab button opens
the chapter's notebook on that repository's configured branch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
URL = str(CONFIG["repository"]["url"]).rstrip("/")
BRANCH = str(CONFIG["repository"]["branch"])
COLAB = str(CONFIG["launch_buttons"]["colab_url"]).rstrip("/")
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

chapters = pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_missing_check(test: ast.expr) -> bool:
    """True for ``<...>.find_spec("toylab") is None``."""
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
        and isinstance(test.left, ast.Call)
        and _called_name(test.left) == "find_spec"
        and [getattr(a, "value", None) for a in test.left.args] == ["toylab"]
    )


def test_repository_url_is_a_github_repository() -> None:
    parts = urlsplit(URL)
    assert parts.scheme == "https" and parts.hostname == "github.com"
    assert len(parts.path.strip("/").split("/")) == 2, "expected https://github.com/ORG/REPO"


@chapters
def test_first_cell_installs_toylab_from_the_configured_url(path: Path) -> None:
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "code", "the first cell must be the Colab set-up code cell"
    tree = ast.parse(first.source)
    guards = [
        n for n in ast.walk(tree) if isinstance(n, ast.If) and _is_missing_check(n.test)
    ]
    assert len(guards) == 1, 'install only `if importlib.util.find_spec("toylab") is None`'
    installs = [
        n.value
        for n in ast.walk(guards[0])
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "git+" in n.value
    ]
    assert installs in ([f"toylab @ git+{URL}"], [f"git+{URL}"]), (
        f"the cell must install from git+{URL} (book/_config.yml); "
        "run `python book/sync_colab.py` to rewrite it"
    )
    outside = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "git+" in n.value
        and not any(n is m for m in ast.walk(guards[0]))
    ]
    assert not outside, "nothing may be installed unconditionally"


def test_sync_colab_agrees() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "book" / "sync_colab.py"), "--check"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_url_is_typed_only_in_the_config() -> None:
    """The book's own files name the repository only through book/_config.yml."""
    files = [ROOT / "dev.py", ROOT / ".ci" / "run", *ROOT.glob("tests/*.py")]
    files += [
        p for p in (ROOT / "book").rglob("*")
        if p.is_file()
        and "_vendor" not in p.parts
        and p.suffix in (".py", ".md", ".yml", ".bib")
    ]
    naming = [
        str(p.relative_to(ROOT)) for p in files
        if p != ROOT / "book" / "_config.yml" and URL in p.read_text(encoding="utf-8")
    ]
    assert naming == []


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


@chapters
def test_colab_button_opens_this_chapter(site: Path, path: Path) -> None:
    page = site / "chapters" / f"{path.stem}.html"
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    colab = {h for h in parser.hrefs if h.startswith(COLAB + "/")}
    org_repo = urlsplit(URL).path.strip("/")
    expected = f"{COLAB}/github/{org_repo}/blob/{BRANCH}/chapters/{path.name}"
    assert colab == {expected}
