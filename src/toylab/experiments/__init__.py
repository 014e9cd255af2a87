"""One module per chapter. Each holds its ``EXPERIMENT`` (a ``toylab.experiment.Experiment``
with its cache kind, config class, presets, reported columns and the hooks it overrides),
``run``/``preset`` shortcuts to it, and ``findings()``: the numbers and claim card its
chapter prints, computed from its shipped sweeps. ``toylab.sweep`` and ``toylab.panels``
take the module itself."""
