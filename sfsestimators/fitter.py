"""Kept for old imports and pickles: the fitter lives in :mod:`sfsestimators.inference`."""

from .inference import DemographyFitter

__all__ = ["DemographyFitter"]
