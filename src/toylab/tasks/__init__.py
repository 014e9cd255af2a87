"""The task space: the ``Task`` interface and registry (``base``), the data every family
produces (``data``), and the task families, one module each (``letters`` and its split
strategy ``letter_splits``). Importing this package imports every module in it, so every
family shipped with toylab registers itself; a new family is a new module here, with no
line to add anywhere.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from toylab.tasks.base import (
    TASKS,
    Cell,
    KeyCell,
    Task,
    TestSplit,
    examples_frame,
    make_task,
    register_task,
    task_class,
    test_split_styles,
)
from toylab.tasks.data import (
    ANSWER,
    EOS,
    PAD,
    POOLS,
    SPECIAL_TOKENS,
    THINK,
    UNK,
    Examples,
    Vocab,
    until_eos,
)
from toylab.tasks.letter_splits import LetterSplitConfig
from toylab.tasks.letters import (
    NOISE_KINDS,
    NOISE_TARGETS,
    LetterCell,
    LetterConfig,
    LetterTask,
    describe_transforms,
    sample_strings,
    transform_fn,
    transforms_table,
)

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "ANSWER", "EOS", "NOISE_KINDS", "NOISE_TARGETS", "PAD", "POOLS", "SPECIAL_TOKENS",
    "TASKS", "THINK", "UNK", "Cell", "Examples", "KeyCell", "LetterCell", "LetterConfig",
    "LetterSplitConfig", "LetterTask", "Task", "TestSplit", "Vocab", "describe_transforms",
    "examples_frame", "make_task", "register_task", "sample_strings", "task_class",
    "test_split_styles", "transform_fn", "transforms_table", "until_eos",
]
