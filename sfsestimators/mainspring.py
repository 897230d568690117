"""Kept for old imports and pickles: Mainspring lives in :mod:`sfsestimators.genealogy`."""

from .genealogy import GenealogyPrediction, MainspringARGEstimator, pair_features
from .nn import PairConvNet

__all__ = ["MainspringARGEstimator", "GenealogyPrediction", "PairConvNet", "pair_features"]
