"""Shared test set-up: every test writes its cache to a fresh folder, never the user's;
the built site is one session fixture for every test that reads it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the site (``book/build.py`` returns at once when it is up to date) and return
    ``_build/html``."""
    done = subprocess.run([sys.executable, str(ROOT / "book" / "build.py")], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail("the book did not build (python3 dev.py build shows why):\n"
                    + (done.stdout + done.stderr)[-6000:], pytrace=False)
    return ROOT / "_build" / "html"


def wrong_answers(ex, task):
    """The same prompts with every letter of the target moved one letter on (a wrong
    answer of the right form, for preference pairs)."""
    from toylab.tasks import Examples

    letters = [task.vocab.index[c] for c in "ABCDEFGH"]
    tokens = ex.tokens.copy()
    for row, p, n in zip(tokens, ex.prompt_len, ex.length):
        for i in range(p, n):
            if row[i] in letters:
                row[i] = letters[(letters.index(row[i]) + 1) % len(letters)]
    return Examples(tokens, ex.prompt_len.copy(), ex.length.copy(), ex.cells)

