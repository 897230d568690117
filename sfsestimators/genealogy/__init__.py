"""Genealogies from phased genotypes: :class:`MainspringARGEstimator` and its parts.

- ``_features``: genotypes from tree sequences, VCF or arrays (:func:`as_genotypes`) and
  what the network reads per pair and window (:func:`pair_features`);
- ``_data``: training batches built on the fly from msprime (or given tree sequences),
  seeded per step;
- ``_prediction``: :class:`GenealogyPrediction`, with local trees as tskit;
- ``_ne``: N_e(t) from pairwise coalescence times (:class:`NePosterior`);
- ``_curriculum``: the composite loss (pairwise times, copying topology, node times, the SFS
  the predicted trees imply) and the curriculum's phases, switched by skorch callbacks;
- ``_ne_training``: the decoder's simulated training set and its skorch training;
- ``_decoder``: the learnt N_e(t) posterior, a normalizing flow (zuko) conditioned on a
  pooled summary of the predictions (:class:`NeDecoder`, :class:`NeSummary`);
- ``_smc``: N_e(t) by the pairwise SMC' composite likelihood of the genotypes (PSMC's
  hidden Markov model on many pairs, EM), what ``predict_ne`` refines the decoder with;
- ``_smc_error``: the error model that widens its bootstrap band into a calibrated one;
- ``_physics``: the SFS a genealogy implies, differentiable in its node times, and the
  expected SFS of a piecewise-constant size history (``coalescent_sfs``);
- ``_estimator``: the estimator, a skorch ``NeuralNet`` around
  :class:`sfsestimators.nn.PairConvNet`.
"""

from ._copying import (
    CopyingHead,
    candidates,
    copying_features,
    rare_sharing,
    train_copying_head,
    true_closest,
)
from ._curriculum import (
    COMPONENTS,
    CURRICULUM,
    Phase,
    composite_loss,
    scale_curriculum,
    tree_node_times,
    trees_implied_sfs,
    window_trees,
)
from ._decoder import (
    DIVERGENCE_SCALES,
    LOG_D_EDGES,
    LOG_T_EDGES,
    NE_PRIOR,
    NE_SFS_SIZE,
    NeDecoder,
    NeDecoderEnsemble,
    NeSummary,
    grid_log10_ne,
    summary_features,
)
from ._estimator import PRESETS, MainspringARGEstimator
from ._features import (
    N_PAIR_FEATURES,
    as_genotypes,
    features_for_pairs,
    pair_features,
    window_divergence,
)
from ._ne import NE_TIME_GRID, NePosterior, ne_from_times, ne_posterior
from ._ne_training import load_training_set, ne_training_set, train_ne_decoder
from ._physics import branch_structure, coalescent_sfs, implied_sfs, sfs_chi2
from ._prediction import GenealogyPrediction, PairwisePrediction
from ._smc import smc_ne
from ._smc_error import EVENT_LEVELS, calibrated_error, design_columns, error_design

__all__ = ["MainspringARGEstimator", "GenealogyPrediction", "PairwisePrediction",
           "pair_features", "window_divergence", "features_for_pairs", "as_genotypes",
           "PRESETS", "N_PAIR_FEATURES", "NePosterior", "ne_posterior", "ne_from_times",
           "NE_TIME_GRID", "branch_structure", "implied_sfs", "sfs_chi2", "NeDecoder",
           "NeDecoderEnsemble",
           "NeSummary", "summary_features", "ne_training_set", "train_ne_decoder",
           "load_training_set",
           "grid_log10_ne", "NE_PRIOR", "NE_SFS_SIZE", "LOG_T_EDGES",
           "DIVERGENCE_SCALES", "LOG_D_EDGES", "Phase", "CURRICULUM",
           "COMPONENTS", "composite_loss", "window_trees", "tree_node_times",
           "trees_implied_sfs",
           "scale_curriculum", "CopyingHead", "copying_features", "rare_sharing",
           "train_copying_head", "true_closest", "candidates", "smc_ne", "coalescent_sfs",
           "calibrated_error", "error_design", "design_columns", "EVENT_LEVELS"]
