"""What the network reads: genotypes from the accepted inputs, and per-pair window features."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["as_genotypes", "pair_features", "N_PAIR_FEATURES"]

#: input channels per pair for each ``features=`` option
N_PAIR_FEATURES = {"pair": 4, "triplet": 6}


def pair_features(genotypes, positions, windows, mutation_rate, triplet=False):
    """Per pair and window: the local divergence signal the network reads.

    Channels: (0) ln of the method-of-moments TMRCA ``(d + 1/2) / (2 mu L_w)`` from the
    pair's ``d`` differences in the window, (1) the same over the whole sequence for the
    pair, (2) the window's mean over all pairs, (3) ln(1 + segregating sites in the window).
    With ``triplet=True``, what the OTHER haplotypes say about the pair (i, j): (4) the
    ultrametric bound ``min_k max(L_ik, L_jk)`` and (5) ``mean_k |L_ik - L_jk|`` (close
    relatives are equally far from everyone else), L being channel 0.
    Channels 0-2 and 4 are in ln generations, shifted by the sequence-wide mean of channel 0
    (so the network sees relative values; the shift is added back to its output).

    Returns
    -------
    features : ndarray of shape (n_pairs, 4 or 6, n_windows)
    shift : float
    pairs : ndarray of shape (n_pairs, 2)
    """
    g = np.asarray(genotypes, dtype=np.float32)
    n = g.shape[1]
    n_windows = len(windows) - 1
    index = np.clip(np.searchsorted(windows, positions, side="right") - 1, 0, n_windows - 1)
    iu = np.triu_indices(n, 1)
    diff = np.zeros((n_windows, len(iu[0])), dtype=np.float64)
    seg = np.bincount(index, minlength=n_windows).astype(float)
    for w in np.flatnonzero(seg):
        block = g[index == w]
        d = block.T @ (1 - block) + (1 - block).T @ block
        diff[w] = d[iu]
    length = np.diff(windows)[:, None]
    local = np.log((diff + 0.5) / (2 * mutation_rate * length))
    total = np.log((diff.sum(0) + 0.5) / (2 * mutation_rate * length.sum()))
    shift = float(local.mean())
    channels = [
        local - shift,
        np.broadcast_to(total - shift, local.shape),
        np.broadcast_to(local.mean(1, keepdims=True) - shift, local.shape),
        np.broadcast_to(np.log1p(seg)[:, None], local.shape),
    ]
    if triplet:
        channels += list(_triplet_channels(local, n, iu, shift))
    feats = np.stack(channels).transpose(2, 0, 1)
    return feats.astype(np.float32), shift, np.stack(iu, axis=1)


def _triplet_channels(local, n, iu, shift, chunk=64):
    """min_k max(L_ik, L_jk) and mean_k |L_ik - L_jk| over k != i, j, per window and pair."""
    if n < 3:  # no third haplotype: fall back to the pair's own value
        return local - shift, np.zeros_like(local)
    n_windows = len(local)
    bound = np.empty_like(local)
    spread = np.empty_like(local)
    eye = np.eye(n, dtype=bool)
    for start in range(0, n_windows, chunk):
        block = local[start:start + chunk]
        full = np.zeros((len(block), n, n), dtype=np.float32)
        full[:, iu[0], iu[1]] = block
        full[:, iu[1], iu[0]] = block
        a = full[:, iu[0], :]  # (w, pairs, k): L_ik
        b = full[:, iu[1], :]  # L_jk
        own = eye[iu[0]] | eye[iu[1]]  # k == i or k == j
        big = np.where(own[None], np.inf, np.maximum(a, b))
        bound[start:start + chunk] = big.min(axis=2)
        diff = np.where(own[None], 0.0, np.abs(a - b))
        spread[start:start + chunk] = diff.sum(axis=2) / max(n - 2, 1)
    return bound - shift, spread


def as_genotypes(X, sequence_length=None):
    """(genotypes (sites, n), positions, sequence_length) from the accepted inputs."""
    import tskit

    if isinstance(X, tskit.TreeSequence):
        return X.genotype_matrix(), X.tables.sites.position, X.sequence_length
    if isinstance(X, (str, os.PathLike)):
        from ..io import haplotypes_from_vcf

        g, pos = haplotypes_from_vcf(X)
        return g, pos, sequence_length or float(pos.max() + 1)
    if isinstance(X, (tuple, list)) and len(X) == 2:
        g, pos = np.asarray(X[0]), np.asarray(X[1], dtype=float)
        if g.ndim != 2 or len(pos) != len(g):
            raise ValueError(
                f"genotypes have shape {g.shape} and positions {pos.shape}; expected a "
                "(n_sites, n_haplotypes) matrix and one position per site.")
        if not np.isin(g, (0, 1)).all():
            raise ValueError("genotypes hold values other than 0/1; expected phased "
                             "haploid calls (one column per haplotype), derived = 1.")
        if len(pos) and np.any(np.diff(pos) < 0):
            raise ValueError("positions are not sorted; expected increasing site positions.")
        return g, pos, sequence_length or (float(pos.max()) + 1 if len(pos) else 0.0)
    raise ValueError(
        f"X is a {type(X).__name__}; expected a tskit.TreeSequence, a VCF path, or a tuple "
        "(genotypes of shape (n_sites, n_haplotypes), positions of shape (n_sites,)). A bare "
        "genotype matrix has no positions.")
