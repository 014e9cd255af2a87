"""toylab: tiny transformers, trained on a CPU in seconds, for a book about coverage.

The flow of one experiment: a frozen ``ExperimentConfig`` -> a task (``toylab.tasks``) ->
a coverage split (``toylab.splits``) -> a ``TinyTransformer`` (``toylab.model``) -> training
(``toylab.train``) -> evaluation (``toylab.evaluate``) -> a tidy result, cached on disk
(``toylab.cache``). ``toylab.experiment.run`` does all of it; ``python -m toylab sweep``
runs grids of it.
"""

__version__ = "0.1.0"
