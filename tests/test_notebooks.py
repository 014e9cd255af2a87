"""Every chapter is stored without outputs, thin, and starts with its hidden set-up cell.

That every chapter runs from top to bottom in a fresh kernel is checked by nbval, which
``python3 dev.py test`` runs over ``chapters/`` (``--nbval-lax``: each cell is a test item
that fails if the cell raises; outputs are not compared, since training numbers move a
little between processors).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

chapters = pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)


@chapters
def test_chapter_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with_outputs = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not with_outputs, (
        f"cells {with_outputs} carry outputs or execution counts; clear them before "
        "committing (Jupyter: Edit > Clear outputs of all cells)"
    )
    assert "widgets" not in nb.metadata, "the notebook stores widget state; clear it"


@chapters
def test_chapter_uses_the_python3_kernel(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        "chapters must name the kernel 'python3' so the book build, the tests and Colab "
        "all find one"
    )


#: The longest code cell a chapter may hold (lines), the set-up cell aside.
MAX_CELL_LINES = 8
LOOPS = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@chapters
def test_chapter_is_thin(path: Path) -> None:
    """Chapters call the library: no function, loop or lambda, no long cell."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells[1:], start=1):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        kinds = {type(node).__name__ for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.Lambda, *LOOPS))}
        assert not kinds, f"cell {i} holds {sorted(kinds)}; move it into toylab"
        lines = len(cell.source.strip().splitlines())
        assert lines <= MAX_CELL_LINES, f"cell {i} has {lines} lines"


@chapters
def test_set_up_cell_comes_first_and_is_hidden_on_the_site(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and 'find_spec("toylab")' in first.source
    assert "remove-cell" in first.metadata.get("tags", [])
    assert sum('find_spec("toylab")' in c.source for c in nb.cells) == 1
