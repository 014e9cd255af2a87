#!/usr/bin/env python3
"""Set up and run the project with nothing but Python and pip.

    python3 dev.py build   # set up .venv, then run the main job
    python3 dev.py test    # set up .venv, then run every test

Both are idempotent: the virtual environment in ``.venv`` is created once, and the pinned
requirements are installed again only when ``requirements.txt`` or ``pyproject.toml``
change (a stamp file records their hash). Extra arguments after ``test`` go to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".toylab-installed"


def _say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def _run(*cmd: str | Path) -> None:
    _say(" ".join(map(str, cmd)))
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def setup() -> None:
    """Create ``.venv`` and install the pinned requirements and the package into it."""
    if not PYTHON.exists():
        _say("creating .venv")
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256(b"".join(
        (ROOT / name).read_bytes() for name in ("requirements.txt", "pyproject.toml")
    )).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        _say("environment up to date")
        return
    _run(PYTHON, "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "test"):
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
    if command == "build":
        cmd = [PYTHON, "-m", "toylab", "demo", *rest]
    else:
        cmd = [PYTHON, "-m", "pytest", *rest]
    _say(" ".join(map(str, cmd)))
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
