"""sfsestimators: neural demographic inference from site frequency spectra, the sklearn way.

The data flow one way (``tests/test_architecture.py`` checks it): spectrum algebra
(:mod:`sfsestimators.spectrum`) -> spectra I/O (:mod:`sfsestimators.io`) -> demographic models
(:mod:`sfsestimators.models`) -> the teacher (:mod:`sfsestimators.teacher`), likelihoods
(:mod:`sfsestimators.likelihood`) and the simulator (:mod:`sfsestimators.simulate`, msprime)
-> torch modules (:mod:`sfsestimators.nn`) -> estimators (:class:`NeuralSFSRegressor`;
:mod:`sfsestimators.inference`: :class:`DemographyFitter`; :mod:`sfsestimators.genealogy`:
:class:`MainspringARGEstimator`) -> command line (:mod:`sfsestimators.cli`).
"""

import importlib

__version__ = "0.1.0.dev0"

from ._warnings import hide_numcodecs_shutdown_warning as _hide_numcodecs_shutdown_warning

_hide_numcodecs_shutdown_warning()

# The package is imported lazily (PEP 562): ``import sfsestimators`` and the command line's
# ``--help`` do not pay for torch, moments and msprime until a name is used.
_SUBMODULES = {"spectrum", "io", "likelihood", "inference", "genealogy", "models", "teacher",
               "metrics", "nn", "simulate", "model_selection", "emulator", "pretrained", "cli",
               "plot"}
_NAMES = {
    "NeuralSFSRegressor": "emulator",
    "DemographyFitter": "inference",
    "FitWarning": "inference",
    "MainspringARGEstimator": "genealogy",
    "GenealogyPrediction": "genealogy",
    "PopulationBasedSearchCV": "model_selection",
    **dict.fromkeys(["read_sfs", "write_sfs", "sfs_from_vcf", "sfs_from_genotypes",
                     "sfs_from_tree_sequence"], "io"),
    **dict.fromkeys(["poisson_loglik", "multinomial_loglik", "optimal_theta", "fold",
                     "project"], "likelihood"),
    **dict.fromkeys(["DemographicModel", "CustomModel", "PiecewiseConstant", "TwoEpoch",
                     "ThreeEpoch", "Bottlegrowth", "Growth", "PiecewiseExponential",
                     "SplitMigration", "SplitAsymmetricMigration", "IsolationMigration",
                     "IsolationMigrationPre", "YRI_CEU", "OutOfAfrica3", "FourPopulationTree"],
                    "models"),
    **dict.fromkeys(["generate_teacher_data", "load_teacher_shards", "TeacherData",
                     "TeacherFailure"], "teacher"),
}


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        _hide_numcodecs_shutdown_warning()
        return module
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        _hide_numcodecs_shutdown_warning()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "spectrum",
    "io",
    "likelihood",
    "inference",
    "genealogy",
    "models",
    "teacher",
    "metrics",
    "nn",
    "NeuralSFSRegressor",
    "DemographyFitter",
    "FitWarning",
    "MainspringARGEstimator",
    "GenealogyPrediction",
    "simulate",
    "PopulationBasedSearchCV",
    "model_selection",
    "read_sfs",
    "write_sfs",
    "sfs_from_vcf",
    "sfs_from_genotypes",
    "sfs_from_tree_sequence",
    "poisson_loglik",
    "multinomial_loglik",
    "optimal_theta",
    "fold",
    "project",
    "DemographicModel",
    "CustomModel",
    "PiecewiseConstant",
    "TwoEpoch",
    "ThreeEpoch",
    "Bottlegrowth",
    "Growth",
    "PiecewiseExponential",
    "SplitMigration",
    "SplitAsymmetricMigration",
    "IsolationMigration",
    "IsolationMigrationPre",
    "YRI_CEU",
    "OutOfAfrica3",
    "FourPopulationTree",
    "generate_teacher_data",
    "load_teacher_shards",
    "TeacherData",
    "TeacherFailure",
]
