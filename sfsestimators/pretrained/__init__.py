"""Pretrained emulators shipped with the package.

``load_default()`` returns the emulator of the one-population piecewise-constant family
(1 to 6 epochs, padded to 6; sample size 100, projected to any smaller n), trained by
``python -m sfsestimators.pretrained.train_default``; ``MainspringARGEstimator.pretrained()``
reads the genealogy network built by ``python -m sfsestimators.pretrained.train_mainspring``.
"""

from __future__ import annotations

import functools
import os

__all__ = ["load_default", "DEFAULT_WEIGHTS", "MAINSPRING_WEIGHTS"]

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(__file__), "piecewise_constant_6_n100.pt")
#: the ``small`` MainspringARGEstimator preset, built by ``train_mainspring``
MAINSPRING_WEIGHTS = os.path.join(os.path.dirname(__file__), "mainspring_small.pt")


@functools.lru_cache(maxsize=1)
def _load(path, device):
    from ..emulator import NeuralSFSRegressor

    return NeuralSFSRegressor.load(path, device=device)


def load_default(device="cpu"):
    """The shipped default emulator (a fitted :class:`NeuralSFSRegressor`), cached.

    Raises
    ------
    FileNotFoundError
        If the weights are missing from this installation; they are rebuilt with
        ``python -m sfsestimators.pretrained.train_default``.
    """
    if not os.path.exists(DEFAULT_WEIGHTS):
        raise FileNotFoundError(
            f"The default emulator weights are not installed ({DEFAULT_WEIGHTS}); build them "
            "with: python -m sfsestimators.pretrained.train_default"
        )
    return _load(DEFAULT_WEIGHTS, device)
