"""Write every chapter's first cell, the Colab set-up cell, from ``book/_config.yml``.

The repository URL is typed in one place only, ``repository.url`` in ``book/_config.yml``.
Each chapter (``chapters/*.ipynb``) starts with a code cell that installs ``toylab`` from
that URL when it is missing (in Colab), and does nothing where it is installed (locally, in
CI). This script writes that cell, so the URL never has to be typed into a notebook::

    python book/sync_colab.py          # rewrite the cell where it differs
    python book/sync_colab.py --check  # only report; exit 1 if a chapter is out of date

A chapter whose first cell is not the set-up cell gets one inserted before it. The cell
is tagged ``remove-cell``, which hides it on the web site (other metadata is kept). Nothing
else in the notebook changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "book" / "_config.yml"
CHAPTERS = ROOT / "chapters"

#: The set-up cell; ``{url}`` is the configured repository URL.
SETUP_CELL = "\n".join([
    "# Set-up for Colab: install toylab if it is missing."
    " The repository is configured in book/_config.yml.",
    "import importlib.util, subprocess, sys",
    'if importlib.util.find_spec("toylab") is None:',
    '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",'
    ' "toylab @ git+{url}"], check=True)',
])
#: Text that marks an existing first cell as the set-up cell (to replace, not to push down).
MARKER = 'find_spec("toylab")'


def repository_url() -> str:
    """Return ``repository.url`` from ``book/_config.yml``, without a trailing slash."""
    config = yaml.safe_load(CONFIG.read_text())
    return str(config["repository"]["url"]).rstrip("/")


def setup_source(url: str | None = None) -> str:
    """Return the source of the set-up cell for ``url`` (default: the configured one)."""
    return SETUP_CELL.format(url=url or repository_url())


def sync(path: Path, write: bool = True) -> bool:
    """Make ``path``'s first cell the set-up cell.

    Args:
        path: A chapter notebook.
        write: Save the notebook when it changed (False only reports).

    Returns:
        True if the notebook differed from what it should be.
    """
    nb = nbformat.read(path, as_version=4)
    source = setup_source()
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and MARKER in first.source:
        tags = first.metadata.setdefault("tags", [])
        if first.source == source and "remove-cell" in tags:
            return False
        first.source = source
        if "remove-cell" not in tags:
            tags.append("remove-cell")  # the set-up cell never shows on the site
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["remove-cell"]
        nb.cells.insert(0, cell)
    if write:
        nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: sync (or with --check, verify) every chapter; 1 when one was stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report only; do not write")
    args = parser.parse_args(argv)
    stale = [p for p in sorted(CHAPTERS.glob("*.ipynb")) if sync(p, write=not args.check)]
    for path in stale:
        verb = "out of date" if args.check else "updated"
        print(f"{path.relative_to(ROOT)}: set-up cell {verb}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
