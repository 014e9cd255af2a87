"""One module per chapter: its presets, its ``run`` and the probes it needs beyond
``toylab.experiment``. Each module offers what ``toylab.sweep`` needs (``KIND``,
``default_config(preset)``, ``run(cfg, cache=)``)."""
