"""sfsestimators: neural demographic inference from site frequency spectra, the sklearn way.

The data flow one way (``tests/test_architecture.py`` checks it): spectrum algebra
(:mod:`sfsestimators.spectrum`) -> spectra I/O (:mod:`sfsestimators.io`) -> demographic models
(:mod:`sfsestimators.models`) -> the teacher (:mod:`sfsestimators.teacher`), likelihoods
(:mod:`sfsestimators.likelihood`) and the simulator (:mod:`sfsestimators.simulate`, msprime)
-> torch modules (:mod:`sfsestimators.nn`) -> estimators (:class:`NeuralSFSRegressor`;
:mod:`sfsestimators.inference`: :class:`DemographyFitter`; :mod:`sfsestimators.genealogy`:
:class:`MainspringARGEstimator`) -> command line (:mod:`sfsestimators.cli`).
"""

import warnings

from . import (
    genealogy,
    inference,
    io,
    likelihood,
    metrics,
    model_selection,
    models,
    nn,
    simulate,
    spectrum,
    teacher,
)
from .emulator import NeuralSFSRegressor
from .genealogy import GenealogyPrediction, MainspringARGEstimator
from .inference import DemographyFitter
from .io import read_sfs, sfs_from_genotypes, sfs_from_tree_sequence, sfs_from_vcf, write_sfs
from .likelihood import fold, multinomial_loglik, optimal_theta, poisson_loglik, project
from .model_selection import PopulationBasedSearchCV
from .models import (
    YRI_CEU,
    Bottlegrowth,
    CustomModel,
    DemographicModel,
    IsolationMigration,
    OutOfAfrica3,
    PiecewiseConstant,
    SplitMigration,
    ThreeEpoch,
    TwoEpoch,
)
from .teacher import TeacherData, TeacherFailure, generate_teacher_data, load_teacher_shards

# numcodecs 0.15 (zarr 2, which scikit-allel imports when it is installed, e.g. with tsinfer)
# calls its own deprecated blosc._destroy at interpreter exit, so every process ended with
# "DeprecationWarning: Call to deprecated function (or staticmethod) _destroy" on stderr.
# It is a third-party shutdown message, not a problem of the user's: hide that one only.
warnings.filterwarnings("ignore", message=r"Call to deprecated function \(or staticmethod\) "
                        r"_destroy", category=DeprecationWarning)

__version__ = "0.1.0.dev0"

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
    "SplitMigration",
    "IsolationMigration",
    "YRI_CEU",
    "OutOfAfrica3",
    "generate_teacher_data",
    "load_teacher_shards",
    "TeacherData",
    "TeacherFailure",
]
