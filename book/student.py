"""Write the student version of every chapter: the same notebook without its solutions.

Solutions live in cells tagged ``hide-cell`` (folded on the website). A course hands out the
student version instead::

    python book/student.py              # writes _build/student/<chapter>.ipynb
    python book/student.py --out DIR    # somewhere else

Everything else, the exercise checks included, stays as it is, so the checks still run in
Colab. Outputs are cleared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "hide-cell"


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without solution cells and without outputs."""
    out = nbformat.from_dict(nb)
    out.cells = [c for c in out.cells if SOLUTION_TAG not in c.get("metadata", {}).get(
        "tags", [])]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "student"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = student_version(nbformat.read(path, as_version=4))
        nbformat.write(nb, out / path.name)
        print(f"{out / path.name}: {len(nb.cells)} cells, solutions removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
