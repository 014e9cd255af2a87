"""One module per chapter. Each holds its ``EXPERIMENT`` (a ``toylab.experiment.Experiment``
with its cache kind, config class, presets, reported columns, panels and the hooks it
overrides), ``run``/``preset``/``panel`` shortcuts to it, and ``findings()``: the numbers
and claim card its chapter prints, computed from its shipped sweeps. ``toylab.sweep`` and
``toylab.panels`` take the module itself; ``modules()`` finds them all, so a new chapter's
module needs no list edited anywhere."""

from __future__ import annotations

import pkgutil


def modules() -> list[str]:
    """Every chapter's experiment module, by its import name."""
    return [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)]
