"""Results cached on disk under a hash of the config and the code.

An entry is one JSON file named by ``key(kind, config)``: a SHA-256 of the experiment kind,
the config (as plain data) and ``code_version()``: the package version plus a hash of the
code that can change a result, so editing that code never serves a stale result, while
editing a docstring, a comment, the benchmark, the figures or the analysis keeps every
entry (``source_digest``). Entries are written to a
temporary file and moved into place, so a reader never sees half an entry; an entry that
fails to parse anyway (a crash mid-copy, a disk error, a hand edit) is recomputed with a
warning.

The folder is ``$TOYLAB_CACHE`` if set, else ``~/.cache/toylab``.
"""

from __future__ import annotations

import ast
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


#: Modules that read results but never make them: editing them keeps every cache entry.
NOT_RESULTS = ("__main__.py", "bench.py", "exercises.py", "panels.py", "progress.py",
               "results.py", "sweep.py", "views.py")


def _code(source: str) -> str:
    """A module's code without its docstrings, comments and layout, and without top-level
    functions marked ``@analysis`` (``toylab.results``: they read results, never make
    them)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(
                body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    tree.body = [n for n in tree.body if not (
        isinstance(n, (ast.FunctionDef, ast.ClassDef)) and any(
            getattr(d, "id", None) == "analysis" for d in n.decorator_list))]
    return ast.dump(tree)


def source_digest(exclude: tuple[str, ...] = NOT_RESULTS, data: bool = False) -> str:
    """A short hash of toylab's code (``_code`` of every module but ``exclude``), and of
    its shipped sweep files too if ``data``."""
    digest = hashlib.sha256()
    root = Path(toylab.__file__).parent
    files = sorted(root.rglob("*.py")) + (sorted((root / "sweeps").iterdir()) if data
                                          else [])
    for path in files:
        name = path.relative_to(root).as_posix()
        if name in exclude or "__pycache__" in name:
            continue
        digest.update(name.encode())
        text = path.read_bytes()
        digest.update(_code(text.decode()).encode() if path.suffix == ".py" else text)
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The package version and a short hash of the code that can change a result."""
    return f"{toylab.__version__}+{source_digest()}"


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
