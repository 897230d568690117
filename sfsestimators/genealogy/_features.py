"""What the network reads: genotypes from the accepted inputs, and per-pair window features."""

from __future__ import annotations

import os
import warnings

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
    called = g >= 0
    missing = not called.all()
    for w in np.flatnonzero(seg):
        block = g[index == w]
        if missing:  # a pair's differences among the sites both called, scaled up to all
            ok = called[index == w].astype(np.float32)
            block = np.where(ok > 0, block, 0.0)
            d = block.T @ (ok - block) + (ok - block).T @ block
            both = ok.T @ ok
            d = d * seg[w] / np.maximum(both, 1.0)
        else:
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


def _clean(g, pos, length, source):
    """Check genotypes and positions; drop multi-allelic sites (counted, warned); missing
    calls (-1) are kept (:func:`pair_features` compares each pair on its called sites)."""
    g = np.asarray(g)
    pos = np.asarray(pos, dtype=float)
    if g.ndim != 2 or len(pos) != len(g):
        raise ValueError(
            f"genotypes have shape {g.shape} and positions {pos.shape}; expected a "
            "(n_sites, n_haplotypes) matrix and one position per site.")
    if g.size and not np.issubdtype(g.dtype, np.integer):
        if not np.all(np.isfinite(g) | np.isnan(g)) or np.any(g[np.isfinite(g)] % 1):
            raise ValueError(f"genotypes of {source} hold non-integer values; expected 0 "
                             "(ancestral), 1 (derived) or -1 (missing).")
        g = np.where(np.isnan(g), -1, g)
    g = g.astype(np.int64)
    if np.any(g < -1):
        raise ValueError(f"genotypes of {source} hold the value {int(g.min())}; expected 0 "
                         "(ancestral), 1 (derived) or -1 (missing).")
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"positions of {source} hold NaN or infinite values.")
    if len(pos) and (np.any(np.diff(pos) < 0)):
        raise ValueError(f"positions of {source} are not sorted; expected increasing site "
                         "positions.")
    if len(pos) and np.any(np.diff(pos) == 0):
        raise ValueError(f"positions of {source} repeat {int(np.sum(np.diff(pos) == 0))} "
                         "time(s); expected one site per position (split multi-allelic "
                         "records into biallelic sites, or drop them).")
    if len(pos) and (pos[0] < 0 or pos[-1] >= length):
        raise ValueError(f"positions of {source} run from {pos[0]:g} to {pos[-1]:g}; "
                         f"expected 0 <= position < sequence_length = {length:g}.")
    multi = np.any(g > 1, axis=1)
    if multi.any():
        warnings.warn(f"Left out {int(multi.sum())} multi-allelic site(s) of {len(g)} in "
                      f"{source}; the network reads biallelic sites.", stacklevel=4)
        g, pos = g[~multi], pos[~multi]
    n_missing = int((g < 0).sum())
    if n_missing:
        warnings.warn(f"{n_missing} of {g.size} genotypes of {source} are missing "
                      f"({int(np.any(g < 0, axis=1).sum())} sites); each pair is compared on "
                      "the sites both of its haplotypes call, its differences scaled to all "
                      "sites of the window.", stacklevel=4)
    segregating = np.any(g == 1, axis=1) & np.any(g == 0, axis=1)
    if not segregating.any():
        raise ValueError(f"{source} holds no segregating site ({len(g)} sites, none "
                         "variable among the haplotypes); pairwise times cannot be read from "
                         "identical haplotypes.")
    return g.astype(np.int8), pos


def as_genotypes(X, sequence_length=None):
    """(genotypes (sites, n), positions, sequence_length) from the accepted inputs, checked:
    0/1 (-1 missing), sorted unique positions inside the sequence, at least one segregating
    site; multi-allelic sites left out with a counted warning."""
    import tskit

    if isinstance(X, tskit.TreeSequence):
        g, pos = X.genotype_matrix(isolated_as_missing=True), X.tables.sites.position
        return (*_clean(g, pos, X.sequence_length, "the tree sequence"), X.sequence_length)
    if isinstance(X, (str, os.PathLike)):
        from ..io import haplotypes_from_vcf

        g, pos = haplotypes_from_vcf(X)
        length = sequence_length or (float(pos.max()) + 1 if len(pos) else 1.0)
        return (*_clean(g, pos, length, f"VCF file {os.fspath(X)!r}"), length)
    if isinstance(X, (tuple, list)) and len(X) == 2:
        g, pos = np.asarray(X[0]), np.asarray(X[1], dtype=float)
        if g.ndim != 2 or len(pos) != len(g):
            raise ValueError(
                f"genotypes have shape {g.shape} and positions {pos.shape}; expected a "
                "(n_sites, n_haplotypes) matrix and one position per site.")
        if len(pos) and np.any(np.diff(pos) < 0):
            raise ValueError("positions are not sorted; expected increasing site positions.")
        finite = pos[np.isfinite(pos)]
        length = sequence_length or (float(finite.max()) + 1 if len(finite) else 1.0)
        return (*_clean(g, pos, length, "the genotypes"), length)
    raise ValueError(
        f"X is a {type(X).__name__}; expected a tskit.TreeSequence, a VCF path, or a tuple "
        "(genotypes of shape (n_sites, n_haplotypes), positions of shape (n_sites,)). A bare "
        "genotype matrix has no positions.")
