"""Shared test set-up: every test writes its cache to a fresh folder, never the user's;
the built site is one session fixture for every test that reads it. The chapters' runs
share one cache, ``CHAPTER_CACHE`` (see the ``conftest.py`` at the repository's root).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_CACHE = ROOT / "_build" / "toylab-cache"  # as the root conftest.py sets it


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the site (``book/build.py`` returns at once when it is up to date) and return
    ``_build/html``."""
    done = subprocess.run([sys.executable, str(ROOT / "book" / "build.py")], cwd=ROOT,
                          capture_output=True, text=True,
                          env={**os.environ, "TOYLAB_CACHE": str(CHAPTER_CACHE)})
    if done.returncode != 0:
        pytest.fail("the book did not build (python3 dev.py build shows why):\n"
                    + (done.stdout + done.stderr)[-6000:], pytrace=False)
    return ROOT / "_build" / "html"

