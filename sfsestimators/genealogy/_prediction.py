"""What ``MainspringARGEstimator.predict`` returns, and its local trees as tskit."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.cluster.hierarchy import linkage

__all__ = ["GenealogyPrediction", "PairwisePrediction", "prediction_from_pairs"]


class GenealogyPrediction(NamedTuple):
    """What :meth:`MainspringARGEstimator.predict` returns.

    Attributes
    ----------
    windows : ndarray (n_windows + 1,)
        Window edges (bp).
    log_tmrca, log_tmrca_sd : ndarray (n_windows, n, n)
        Mean and standard deviation of ln pairwise TMRCA (generations); diagonal 0.
    copying_probs : ndarray (n_windows, n, n)
        Per haplotype (row) a distribution over its copying parent (softmax of minus the
        predicted ln TMRCA over the other haplotypes, temperature ``log_tmrca_sd``).
    nearest : ndarray (n_windows, n)
        The most probable copying parent.
    breakpoints : ndarray (n_windows, n) of bool
        Whether the copying parent changes from the previous window.
    sequence_length : float

    Examples
    --------
    >>> from sfsestimators import MainspringARGEstimator
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> ts = simulate(SizeHistory([0.0], [1e4]), 6, 2e4, random_state=1)
    >>> pred = MainspringARGEstimator.pretrained(device="cpu").predict(ts)
    >>> pred.to_tree_sequence().num_trees == len(pred.windows) - 1
    True
    """

    windows: np.ndarray
    log_tmrca: np.ndarray
    log_tmrca_sd: np.ndarray
    copying_probs: np.ndarray
    nearest: np.ndarray
    breakpoints: np.ndarray
    sequence_length: float

    def to_tree_sequence(self):
        """Ultrametric local trees (UPGMA of the predicted TMRCAs) per window, as tskit.

        Node times are the UPGMA merge heights in generations (monotone, so every parent is
        older than its children); samples are nodes ``0..n-1`` at time 0.
        """
        import tskit

        n = self.log_tmrca.shape[1]
        tables = tskit.TableCollection(sequence_length=float(self.sequence_length))
        tables.populations.add_row()
        for _ in range(n):
            tables.nodes.add_row(flags=tskit.NODE_IS_SAMPLE, time=0.0, population=0)
        iu = np.triu_indices(n, 1)
        for w in range(len(self.windows) - 1):
            left, right = float(self.windows[w]), float(self.windows[w + 1])
            tmrca = np.exp(self.log_tmrca[w][iu])
            merges = linkage(tmrca, method="average")
            ids = list(range(n))
            last = 0.0
            for a, b, height, _ in merges:
                last = max(float(height), last * (1 + 1e-9) + 1e-9)
                parent = tables.nodes.add_row(time=last, population=0)
                for child in (ids[int(a)], ids[int(b)]):
                    tables.edges.add_row(left, right, parent, child)
                ids.append(parent)
        tables.sort()
        return tables.tree_sequence()


def prediction_from_pairs(mean, sd, pairs, n, windows, length, chunk=256):
    """Assemble a :class:`GenealogyPrediction` from per-pair (n_windows, n_pairs) means and
    standard deviations of ln TMRCA (float32; the copying probabilities in window chunks,
    so that no temporary is larger than ``chunk`` windows)."""
    n_w = len(windows) - 1
    log_t = np.zeros((n_w, n, n), dtype=np.float32)
    log_sd_full = np.zeros((n_w, n, n), dtype=np.float32)
    log_t[:, pairs[:, 0], pairs[:, 1]] = log_t[:, pairs[:, 1], pairs[:, 0]] = mean
    log_sd_full[:, pairs[:, 0], pairs[:, 1]] = sd
    log_sd_full[:, pairs[:, 1], pairs[:, 0]] = sd
    probs = np.empty((n_w, n, n), dtype=np.float32)
    diag = np.arange(n)
    for start in range(0, n_w, chunk):
        logits = -log_t[start:start + chunk] / np.maximum(log_sd_full[start:start + chunk],
                                                          0.05)
        logits[:, diag, diag] = -np.inf
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        probs[start:start + chunk] = p / p.sum(axis=2, keepdims=True)
    nearest = probs.argmax(axis=2)
    breaks = np.zeros_like(nearest, dtype=bool)
    breaks[1:] = nearest[1:] != nearest[:-1]
    return GenealogyPrediction(windows, log_t, log_sd_full, probs, nearest, breaks,
                               float(length))


class PairwisePrediction(NamedTuple):
    """What :meth:`MainspringARGEstimator.predict` returns for a subset of pairs
    (``pairs=``): no trees, only the pairs asked for.

    Attributes
    ----------
    windows : ndarray (n_windows + 1,)
    pairs : ndarray (n_pairs, 2)
        Haplotype indices of each pair.
    log_tmrca, log_tmrca_sd : ndarray (n_windows, n_pairs)
        Mean and standard deviation of ln TMRCA (generations).
    sequence_length : float
    """

    windows: np.ndarray
    pairs: np.ndarray
    log_tmrca: np.ndarray
    log_tmrca_sd: np.ndarray
    sequence_length: float
