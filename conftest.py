"""Test-run set-up shared by ``tests/`` and the chapters that nbval runs.

The chapters run three times in a test run: in the book build, in nbval's fresh kernels
(``chapters/``) and in the Colab-like environment (``tests/test_colab_install.py``). They
share one result cache under ``_build``, so each live retrain is trained by whichever run
meets it first and read by the others; every cell still runs in each of them. A Python test
gets a private cache of its own (``tests/conftest.py``).
"""

import os
from pathlib import Path

CHAPTER_CACHE = Path(__file__).resolve().parent / "_build" / "toylab-cache"
os.environ["TOYLAB_CACHE"] = str(CHAPTER_CACHE)  # what nbval's kernels start with
