"""The student version of each chapter keeps the exercises and their checks, not the
solutions."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
spec = importlib.util.spec_from_file_location("student", ROOT / "book" / "student.py")
student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_version_drops_solutions_only(path, tmp_path):
    assert student.main(["--out", str(tmp_path)]) == 0
    original = nbformat.read(path, as_version=4)
    handed_out = nbformat.read(tmp_path / path.name, as_version=4)
    solutions = [c for c in original.cells if "hide-cell" in c.metadata.get("tags", [])]
    assert solutions, "every chapter has solutions in hide-cell cells"
    assert len(handed_out.cells) == len(original.cells) - len(solutions)
    text = "\n".join(c.source for c in handed_out.cells)
    assert "check_" in text  # the exercise checks stay
    assert all(c.source not in text for c in solutions)
