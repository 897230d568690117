"""Genealogies from phased genotypes: :class:`MainspringARGEstimator` and its parts.

- ``_features``: genotypes from tree sequences, VCF or arrays (:func:`as_genotypes`) and
  what the network reads per pair and window (:func:`pair_features`);
- ``_data``: training batches built on the fly from msprime (or given tree sequences),
  seeded per step;
- ``_prediction``: :class:`GenealogyPrediction`, with local trees as tskit;
- ``_estimator``: the estimator, a skorch ``NeuralNet`` around
  :class:`sfsestimators.nn.PairConvNet`.
"""

from ._estimator import PRESETS, MainspringARGEstimator
from ._features import N_PAIR_FEATURES, as_genotypes, pair_features
from ._prediction import GenealogyPrediction

__all__ = ["MainspringARGEstimator", "GenealogyPrediction", "pair_features", "as_genotypes",
           "PRESETS", "N_PAIR_FEATURES"]
