"""Every chapter runs where only the installed package is, as in Colab.

Colab installs ``toylab`` with the loose ranges of ``pyproject.toml`` (it keeps its own
torch) and opens the chapter notebook on its own, with no repository around it. This test
does the same, as closely as this machine allows: it builds the package's wheel, installs
it into a fresh virtual environment next to the pinned CPU torch (``pip install torch``
unpinned would fetch a CUDA build here), copies each chapter into an empty folder and runs
it there in a kernel of that environment. A chapter that reads a file from the repository,
or a dependency missing from ``pyproject.toml``, fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
TORCH = "torch==2.13.0"  # the CPU wheel on this machine; Colab brings its own


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"pip install {' '.join(args)} failed:\n{done.stderr[-3000:]}",
                    pytrace=False)


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory) -> Path:
    """A fresh environment with only torch, the built wheel and a kernel; its prefix."""
    base = tmp_path_factory.mktemp("colab")
    wheels = base / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           str(ROOT), "-w", str(wheels)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    env = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = env / "bin" / "python"
    _pip(python, TORCH)
    _pip(python, *map(str, wheels.glob("toylab-*.whl")), "ipykernel")
    subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(env),
                    "--name", "python3"], check=True, capture_output=True)
    return env


@pytest.mark.notebooks
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_from_the_installed_package_alone(colab_like, path, tmp_path,
                                                      monkeypatch):
    from conftest import CHAPTER_CACHE

    monkeypatch.setenv("TOYLAB_CACHE", str(CHAPTER_CACHE))  # shared: see conftest
    folder = tmp_path / "alone"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    nb = nbformat.read(folder / path.name, as_version=4)
    # after the set-up cell: fail unless toylab comes from the environment's site-packages
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "import toylab\nassert 'site-packages' in toylab.__file__, toylab.__file__"))
    specs = KernelSpecManager(kernel_dirs=[str(colab_like / "share" / "jupyter" /
                                               "kernels")])
    km = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    NotebookClient(nb, km=km, timeout=600, allow_errors=False,
                   resources={"metadata": {"path": str(folder)}}).execute()
