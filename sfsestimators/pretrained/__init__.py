"""Pretrained emulators shipped with the package.

``load_default()`` returns the emulator of the one-population piecewise-constant family
(1 to 6 epochs, padded to 6; sample size 100, projected to any smaller n), trained by
``python -m sfsestimators.pretrained.train_default``; ``MainspringARGEstimator.pretrained()``
reads the genealogy network built by ``python -m sfsestimators.pretrained.train_mainspring``.
"""

from __future__ import annotations

import functools
import os

__all__ = ["load_default", "load_for", "SHIPPED", "DEFAULT_WEIGHTS", "MAINSPRING_WEIGHTS",
           "SPLIT_MIGRATION_WEIGHTS", "YRI_CEU_WEIGHTS"]

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(__file__), "piecewise_constant_6_n100.pt")
#: the ``small`` MainspringARGEstimator preset, built by ``train_mainspring``
MAINSPRING_WEIGHTS = os.path.join(os.path.dirname(__file__), "mainspring_small.pt")
#: the two-population SplitMigration emulator (20 x 20), built by ``train_split_migration``
SPLIT_MIGRATION_WEIGHTS = os.path.join(os.path.dirname(__file__), "split_migration_n20.pt")
#: the YRI_CEU emulator (Gutenkunst et al. 2009, 20 x 20, the family's default prior), built by
#: ``train_family yri_ceu``
YRI_CEU_WEIGHTS = os.path.join(os.path.dirname(__file__), "yri_ceu_n20.pt")


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


#: model family -> (weights, the command that builds them) of the shipped emulators
SHIPPED = {
    "PiecewiseConstant": (DEFAULT_WEIGHTS, "python -m sfsestimators.pretrained.train_default"),
    "SplitMigration": (SPLIT_MIGRATION_WEIGHTS,
                       "python -m sfsestimators.pretrained.train_split_migration"),
    "YRI_CEU": (YRI_CEU_WEIGHTS, "python -m sfsestimators.pretrained.train_family yri_ceu "
                "--n-examples 5000 --output " + YRI_CEU_WEIGHTS),
}


def load_for(model, device="cpu"):
    """The shipped emulator that serves ``model`` (None: the default one-population family).

    Raises
    ------
    ValueError
        If no emulator ships for the model's family (the message says how to train one).
    FileNotFoundError
        If it ships but its weights are missing from this installation.
    """
    name = "PiecewiseConstant" if model is None else type(model).__name__
    if name not in SHIPPED:
        raise ValueError(
            f"No emulator ships for {model!r} (shipped: {sorted(SHIPPED)}); train one on "
            "teacher data of it: theta, sfs, _ = generate_teacher_data(model, 2000, sizes); "
            "emulator = NeuralSFSRegressor().fit(theta, sfs, model=model); then "
            "DemographyFitter(emulator, model).")
    path, command = SHIPPED[name]
    if not os.path.exists(path):
        raise FileNotFoundError(f"The emulator of {name} is not installed ({path}); build it "
                                f"with: {command}")
    return _load(path, device)
