"""Demographic inference from an observed SFS through the emulator, confirmed by the teacher.

:class:`DemographyFitter` is the one public estimator. Its parts, each in its own module,
take plain arrays, tensors and models and return small value objects:

- ``_surface``: :class:`LikelihoodSurface`, the emulator's likelihood of the data (built
  once per candidate model), the parameter transform and the emulator's input map;
- ``_optimize``: the batched multi-start optimiser (:func:`multistart`);
- ``_exact``: the exact teacher's likelihood in parallel (:class:`ExactLikelihood`) and
  the sequential Nelder-Mead :func:`polish` (:class:`PolishReport`);
- ``_refine``: the sequential (trust-region) refinement: the emulator corrected near the
  fit by parallel teacher calls, round after round (:func:`refine`,
  :class:`LocalCorrection`, :class:`RefinementReport` with its history);
- ``_select``: candidate models chosen on exact AIC, nested ones never worse;
- ``_checks``: what makes a fit suspect (:class:`FitWarning`, ``flags_``);
- ``_uncertainty``: Fisher / Godambe standard errors and bootstrap spectra;
- ``_posterior``: NUTS and sequential Monte Carlo through the surface;
- ``_units``: the fitted history in physical units (demes);
- ``_data``: spectra and per-site counts in; ``_fitted``: what a fitted estimator offers
  (surface, bootstrap refits, posterior, per-site scores); ``_report``: ``summary()``.
"""

from ._checks import FitWarning
from ._estimator import DemographyFitter
from ._exact import ExactLikelihood, PolishReport, polish
from ._optimize import MultistartResult, multistart
from ._refine import LocalCorrection, RefinementReport, refine
from ._surface import LikelihoodSurface, ParameterTransform

__all__ = [
    "DemographyFitter",
    "FitWarning",
    "LikelihoodSurface",
    "ParameterTransform",
    "MultistartResult",
    "multistart",
    "ExactLikelihood",
    "PolishReport",
    "polish",
    "LocalCorrection",
    "RefinementReport",
    "refine",
]
