#!/usr/bin/env python3
"""Set up and run the project with nothing but Python and pip (and npm, for the book).

    python3 dev.py build   # set up .venv, then build the book's site into _build/html
    python3 dev.py test    # set up .venv, then run every test (the site's included)

Both are idempotent: the virtual environment in ``.venv`` is created once, and the pinned
requirements are installed again only when ``requirements.txt`` or ``pyproject.toml``
change (a stamp file records their hash); the site is rebuilt only when its sources change
(``book/build.py``). Extra arguments after ``build`` go to ``book/build.py`` (``--clean``
rebuilds from scratch); after ``test``, to pytest (``-m "not browser"`` skips the browser
tests).

The browser tests drive Debian's Chromium at ``/usr/bin/chromium`` (or
``$TOYLAB_CHROMIUM``). When it is missing, ``test`` installs it with apt-get if it runs as
root on Linux (as CI does), and otherwise says how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".toylab-installed"
CHROMIUM = Path(os.environ.get("TOYLAB_CHROMIUM", "/usr/bin/chromium"))


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


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests when it is missing and we may."""
    if CHROMIUM.exists():
        return
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("apt-get"):
        _say(f"{CHROMIUM} not found: installing Debian's chromium for the browser tests")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            _say(" ".join(cmd))
            subprocess.run(cmd, check=True, env=env)
        return
    _say(
        f"Chromium not found at {CHROMIUM}, so the browser tests will fail. Install it "
        "(Debian: `sudo apt-get install -y chromium`), point TOYLAB_CHROMIUM at a Chromium "
        "binary, or skip those tests: python3 dev.py test -m 'not browser'"
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "test"):
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
    if command == "build":
        cmd = [PYTHON, ROOT / "book" / "build.py", *rest]
    else:
        ensure_chromium()
        cmd = [PYTHON, "-m", "pytest", *rest]
    _say(" ".join(map(str, cmd)))
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
