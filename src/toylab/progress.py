"""Progress bars that listen to the training callback.

``ProgressBar`` is a ``train`` callback: it shows steps done, the last validation exact
match and the time left, in a terminal or (through ``tqdm.auto``) as a notebook widget;
nothing while the book's static site is built.
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

from toylab.train import Progress

#: Set while the book's site is built (``book/build.py``): the Colab address of the
#: repository's notebooks. A static page has no kernel, so it shows no progress bars.
SITE_ENV = "TOYLAB_SITE_COLAB"


class ProgressBar:
    """A ``tqdm`` bar over training steps; call ``close()`` when training ends."""

    def __init__(self, max_steps: int, desc: str = "training", leave: bool = False):
        # on the static site nobody watches training: no bar (and no widget) at all
        self.bar = tqdm(total=max_steps, desc=desc, unit="step", leave=leave,
                        disable=bool(os.environ.get(SITE_ENV)))

    def __call__(self, progress: Progress) -> None:
        self.bar.update(progress.step - self.bar.n)
        acc = "-" if progress.accuracy is None else f"{progress.accuracy:.2f}"
        self.bar.set_postfix_str(f"loss {progress.loss:.3f}, exact match {acc}, "
                                 f"at most {progress.eta:.1f} s left", refresh=False)

    def close(self) -> None:
        self.bar.close()
