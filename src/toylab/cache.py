"""Results cached on disk under a hash of the config and the code.

An entry is one JSON file named by ``key(kind, config)``: a SHA-256 of the experiment kind,
the config (as plain data) and ``code_version()`` (the package version plus a hash of its
source files, so editing the code never serves a stale result). Entries are written to a
temporary file and moved into place, so a reader never sees half an entry; an entry that
fails to parse anyway (a crash mid-copy, a disk error, a hand edit) is recomputed with a
warning.

The folder is ``$TOYLAB_CACHE`` if set, else ``~/.cache/toylab``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import toylab
from toylab.config import to_dict

ENV_VAR = "TOYLAB_CACHE"


def default_dir() -> Path:
    """``$TOYLAB_CACHE``, or ``~/.cache/toylab``."""
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "toylab")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and a short hash of every source file in the package."""
    digest = hashlib.sha256()
    root = Path(toylab.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{toylab.__version__}+{digest.hexdigest()[:12]}"


def key(kind: str, config: Any) -> str:
    """Content hash of what decides a result: its kind, its config and the code."""
    blob = json.dumps({"kind": kind, "config": to_dict(config), "code": code_version()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Cache:
    """A folder of JSON entries. ``Cache(None)`` uses ``default_dir()``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_dir()

    def path(self, k: str) -> Path:
        return self.root / f"{k}.json"

    def load(self, k: str) -> dict | None:
        """The entry for key ``k``; None if absent or unreadable (with a warning)."""
        path = self.path(k)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text())
            if not isinstance(entry, dict) or entry.get("key") != k:
                raise ValueError("entry does not carry its own key")
            return entry["payload"]
        except (ValueError, KeyError, OSError, UnicodeDecodeError) as err:
            warnings.warn(f"cache entry {path.name} is unreadable ({err}); recomputing",
                          stacklevel=3)
            path.unlink(missing_ok=True)
            return None

    def save(self, k: str, payload: dict) -> None:
        """Write the entry atomically: a temporary file, then a rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{k}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"key": k, "payload": payload}, f)
            os.replace(tmp, self.path(k))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __contains__(self, k: str) -> bool:
        return self.path(k).exists()


def cached(kind: str, config: Any, compute: Callable[[], dict],
           cache: Cache | None) -> dict:
    """``compute()``'s JSON-ready payload, from ``cache`` when it holds it.

    ``cache=None`` computes without reading or writing anything.
    """
    if cache is None:
        return compute()
    k = key(kind, config)
    payload = cache.load(k)
    if payload is None:
        payload = compute()
        cache.save(k, payload)
    return payload
