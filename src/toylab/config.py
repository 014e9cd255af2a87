"""Frozen-config machinery shared by every part of toylab.

Every component has a frozen dataclass config that validates itself in
``__post_init__``. This module holds what those configs have in common:

* ``check_range`` / ``check_choice``: validation that raises a ``ValueError`` a learner can
  act on (what was wrong, what is allowed).
* ``to_dict``: a JSON-ready dict of a (nested) config, used for hashing and for the cache.
* ``override``: ``dataclasses.replace`` along a dotted path, the one way sweeps, sliders and
  CLI flags vary a config, e.g. ``override(cfg, {"split.coverage": 0.5})``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any


def check_range(name: str, value: Any, low: float, high: float, *, integer: bool = False
                ) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high`` (and an int, if asked)."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def to_dict(cfg: Any) -> Any:
    """Turn a nested config into plain JSON-ready data (tuples become lists).

    Configs that are not plain dataclass fields (for example a task config, which can be any
    registered task's config) record their kind under ``"kind"``.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        out = {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
        kind = getattr(type(cfg), "kind", None)
        if isinstance(kind, str):
            out = {"kind": kind, **out}
        return out
    if isinstance(cfg, (tuple, list)):
        return [to_dict(v) for v in cfg]
    return cfg


def _coerce(value: Any, hint: Any) -> Any:
    """Turn JSON values (lists) into the tuples a frozen config field expects."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in typing.get_args(hint):
            if arg is type(None) and value is None:
                return None
            if typing.get_origin(arg) is tuple and isinstance(value, (list, tuple)):
                return _coerce(value, arg)
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner) for v in value)
    return value


def override(cfg: Any, changes: Mapping[str, Any]) -> Any:
    """Return ``cfg`` with fields replaced along dotted paths.

    Args:
        cfg: a (nested) frozen dataclass config.
        changes: ``{"split.coverage": 0.5, "seed": 3}``. Lists are turned into tuples.

    Raises:
        ValueError: a path names no field (the message lists the fields there are), or a
            value is rejected by the config's own validation.
    """
    return _replace(cfg, {tuple(path.split(".")): (path, v) for path, v in changes.items()})


def _replace(cfg: Any, changes: dict[tuple[str, ...], tuple[str, Any]]) -> Any:
    """Apply all changes to one config level at once (its validation sees the result)."""
    if not dataclasses.is_dataclass(cfg):
        path = next(iter(changes.values()))[0]
        raise ValueError(f"{path!r}: not a config section")
    fields = {f.name for f in dataclasses.fields(cfg)}
    hints = typing.get_type_hints(type(cfg))
    here: dict[str, Any] = {}
    below: dict[str, dict] = {}
    for parts, (path, value) in changes.items():
        if parts[0] not in fields:
            raise ValueError(f"unknown config field {path!r}; fields here are "
                             f"{sorted(fields)}")
        if len(parts) == 1:
            here[parts[0]] = _coerce(value, hints.get(parts[0], Any))
        else:
            below.setdefault(parts[0], {})[parts[1:]] = (path, value)
    for name, sub in below.items():
        here[name] = _replace(getattr(cfg, name), sub)
    return dataclasses.replace(cfg, **here)
