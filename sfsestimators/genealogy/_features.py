"""What the network reads: genotypes from the accepted inputs, and per-pair window features."""

from __future__ import annotations

import os
import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["as_genotypes", "pair_features", "window_divergence", "features_for_pairs",
           "Divergence", "N_PAIR_FEATURES", "accessible_lengths", "apply_accessibility",
           "check_pairs", "sites_inside"]

#: a window with less accessible sequence than this fraction of its length is "dark": its
#: pairs read their sequence-wide divergence instead of a local one
MIN_ACCESSIBLE = 0.01

#: input channels per pair for each ``features=`` option
N_PAIR_FEATURES = {"pair": 4, "triplet": 6}


class Divergence(NamedTuple):
    """Per window the method-of-moments ln TMRCA of every pair, and what the features need
    beside it; ``local`` is (n_windows, n, n) float32 with +inf on the diagonal."""

    local: np.ndarray
    total: np.ndarray  # (n, n) over the whole sequence
    window_mean: np.ndarray  # (n_windows,) over all pairs
    log_seg: np.ndarray  # (n_windows,) ln(1 + segregating sites)
    shift: float
    missing: np.ndarray | None = None  # (n_windows, n, n) fraction of sites a pair lacks
    inaccessible: np.ndarray | None = None  # (n_windows,) fraction of bp inaccessible


def window_divergence(genotypes, positions, windows, mutation_rate, accessible=None):
    """Pairwise differences per window -> :class:`Divergence` (memory: n_windows x n^2).

    Missing calls (-1): a pair is compared on the sites both of its haplotypes call, its
    differences scaled up to all the window's segregating sites. Sites monomorphic among
    these haplotypes count for nothing. ``accessible``: accessible bp per
    window (default: all of it); the divergence is per accessible bp, the segregating-site
    count scaled to the whole window, and a window with less than :data:`MIN_ACCESSIBLE` of
    its length accessible reads each pair's sequence-wide divergence.
    """
    g = np.asarray(genotypes, dtype=np.float32)
    n = g.shape[1]
    n_windows = len(windows) - 1
    index = np.clip(np.searchsorted(windows, positions, side="right") - 1, 0, n_windows - 1)
    # segregating among THESE haplotypes (a site fixed in a subset of a sample, or in a
    # VCF's samples, is not: the training simulations never hold such sites)
    poly = (g == 1).any(axis=1) & (g == 0).any(axis=1)
    g, index = g[poly], index[poly]
    seg = np.bincount(index, minlength=n_windows).astype(np.float64)
    missing = not (g >= 0).all()
    full = np.diff(windows).astype(np.float64)
    length = full if accessible is None else np.asarray(accessible, dtype=np.float64)
    dark = length < MIN_ACCESSIBLE * full
    length = np.where(dark, full, length)
    local = np.empty((n_windows, n, n), dtype=np.float32)
    lacking = np.zeros((n_windows, n, n), dtype=np.float32) if missing else None
    diff_total = np.zeros((n, n))
    bounds = np.searchsorted(index, np.arange(n_windows + 1))
    order_ok = bool(np.all(np.diff(index) >= 0))
    for w in range(n_windows):
        block = g[bounds[w]:bounds[w + 1]] if order_ok else g[index == w]
        if not len(block):
            d = np.zeros((n, n))
        elif missing:  # a pair's differences among the sites both called, scaled up to all
            ok = (block >= 0).astype(np.float32)
            block = np.where(ok > 0, block, 0.0)
            d = block.T @ (ok - block) + (ok - block).T @ block
            both = ok.T @ ok
            d = d * seg[w] / np.maximum(both, 1.0)
            lacking[w] = 1.0 - both / max(seg[w], 1.0)
        else:
            d = block.T @ (1 - block) + (1 - block).T @ block
        diff_total += d
        local[w] = np.log((d + 0.5) / (2 * mutation_rate * length[w]))
    total = np.log((diff_total + 0.5) / (2 * mutation_rate * length[~dark].sum()))
    local[dark] = total
    seg = seg * full / length  # per window length (dark windows: length is full already)
    if dark.any() and (~dark).any():
        seg[dark] = np.median(seg[~dark])
    iu = np.triu_indices(n, 1)
    window_mean = np.array([lw[iu].mean() for lw in local]) if n > 1 else np.zeros(n_windows)
    diag = np.arange(n)
    local[:, diag, diag] = np.inf
    inaccessible = None if accessible is None else np.clip(
        1.0 - np.asarray(accessible, dtype=np.float64) / full, 0.0, 1.0).astype(np.float32)
    return Divergence(local, total, window_mean, np.log1p(seg), float(window_mean.mean()),
                      lacking, inaccessible)


def features_for_pairs(div, pairs, triplet=False, max_elements=1 << 24, mask=False,
                       others=None):
    """The network's input for the given pairs (P, 2): (P, 4 or 6, n_windows) float32 (see
    :func:`pair_features` for the channels); triplet channels in chunks of pairs so that a
    temporary holds at most ``max_elements`` numbers. ``mask=True`` appends the bitmask
    channels of the ``wmissing`` network: the fraction of the window's sites the pair lacks
    (a missing call in either haplotype) and the window's inaccessible fraction.
    ``others``: the triplet channels of each pair read exactly that many other haplotypes
    (the first ones, the pair itself left out, of ``others + 2`` consecutive entries of a
    fixed random order of the haplotypes, from an offset that depends on the unordered
    pair) instead of all ``n - 2``: the cost per pair is then independent of n, and with
    ``others`` = the training sample's ``n - 2`` the channels have the distribution the
    network learnt. None: all of them."""
    pairs = np.asarray(pairs, dtype=np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    local, shift = div.local, div.shift
    n_windows, n = local.shape[0], local.shape[1]
    own = local[:, i, j].T  # (P, W)
    channels = [own - shift, np.broadcast_to((div.total[i, j] - shift)[:, None], own.shape),
                np.broadcast_to(div.window_mean[None, :] - shift, own.shape),
                np.broadcast_to(div.log_seg[None, :], own.shape)]
    if triplet:
        bound = np.empty_like(own)
        spread = np.empty_like(own)
        subset = others is not None and others + 2 < n
        width = n
        if n < 3 or (others is not None and others < 1):  # no third haplotype read: the
            # pair's own value (as training on two haplotypes saw it)
            bound[:], spread[:] = own, 0.0
        else:
            if subset:
                order = np.random.default_rng(0).permutation(n)
                offset = (np.minimum(i, j) * 1_000_003 + np.maximum(i, j) * 7_919) % n
                candidates = order[(offset[:, None] + np.arange(others + 2)) % n]
                mine = (candidates == i[:, None]) | (candidates == j[:, None])
                first = np.argsort(mine, axis=1, kind="stable")[:, :others]
                read = np.take_along_axis(candidates, first, axis=1)  # (P, others)
                width = others
            step = max(1, int(max_elements // max(n_windows * width, 1)))
            for start in range(0, len(pairs), step):
                stop = start + step
                if subset:  # (W, p, others): L_ik over the pair's others
                    a = local[:, i[start:stop, None], read[start:stop]]
                    b = local[:, j[start:stop, None], read[start:stop]]
                else:
                    a = local[:, i[start:stop], :]  # (W, p, n): L_ik, +inf at k = i
                    b = local[:, j[start:stop], :]
                bound[start:stop] = np.maximum(a, b).min(axis=2).T
                both = np.isfinite(a) & np.isfinite(b)  # k != i, j
                spread[start:stop] = (np.where(both, np.abs(a - b), 0.0).sum(axis=2)
                                      / np.maximum(both.sum(axis=2), 1)).T
        channels += [bound - shift, spread]
    if mask:
        zeros = np.zeros_like(own)
        channels += [zeros if div.missing is None else div.missing[:, i, j].T,
                     zeros if div.inaccessible is None
                     else np.broadcast_to(div.inaccessible[None, :], own.shape)]
    return np.stack(channels, axis=1).astype(np.float32)


def accessible_lengths(intervals, windows):
    """Accessible bp of each window from sorted, disjoint ``[start, end)`` intervals."""
    starts, ends = np.asarray(intervals, dtype=float).T
    lo, hi = np.asarray(windows[:-1], dtype=float), np.asarray(windows[1:], dtype=float)
    overlap = np.minimum(hi[:, None], ends[None]) - np.maximum(lo[:, None], starts[None])
    return np.clip(overlap, 0, None).sum(axis=1)


def sites_inside(intervals, pos):
    """Whether each position lies in one of the sorted, disjoint ``[start, end)``
    intervals (k, 2)."""
    k = np.searchsorted(intervals[:, 0], pos, side="right") - 1
    return (k >= 0) & (pos < intervals[np.maximum(k, 0), 1])


def apply_accessibility(accessible, g, pos, windows):
    """Sites inside the accessible intervals (the others left out with a counted warning)
    and the accessible bp per window (a warning counts the windows that are dark).

    ``accessible``: a BED path or an array-like of ``[start, end)`` intervals."""
    if isinstance(accessible, (str, os.PathLike)):
        from ..io import read_bed

        intervals = read_bed(accessible)
    else:
        intervals = np.asarray(accessible, dtype=float)
        if intervals.ndim != 2 or intervals.shape[1] != 2 or not len(intervals) or not (
                np.all(np.isfinite(intervals)) and np.all(intervals[:, 1] > intervals[:, 0])):
            raise ValueError(f"accessible has shape {intervals.shape}; expected a BED path or "
                             "intervals of shape (k, 2) with start < end, finite.")
        intervals = intervals[np.argsort(intervals[:, 0])]
        if np.any(intervals[1:, 0] < intervals[:-1, 1]):
            raise ValueError("accessible intervals overlap; expected disjoint intervals "
                             "(merge them, as read_bed does).")
    inside = sites_inside(intervals, pos)
    if not inside.all():
        warnings.warn(f"Left out {int((~inside).sum())} of {len(pos)} sites outside the "
                      "accessible intervals.", stacklevel=3)
    lengths = accessible_lengths(intervals, windows)
    dark = lengths < MIN_ACCESSIBLE * np.diff(windows)
    if dark.any():
        warnings.warn(f"{int(dark.sum())} of {len(dark)} windows are (almost) inaccessible; "
                      "their pairwise times are each pair's sequence-wide estimates.",
                      stacklevel=3)
    return g[inside], pos[inside], lengths


def pair_features(genotypes, positions, windows, mutation_rate, triplet=False,
                  accessible=None, mask=False):
    """Per pair and window: the local divergence signal the network reads.

    Channels: (0) ln of the method-of-moments TMRCA ``(d + 1/2) / (2 mu L_w)`` from the
    pair's ``d`` differences in the window, (1) the same over the whole sequence for the
    pair, (2) the window's mean over all pairs, (3) ln(1 + segregating sites in the window).
    With ``triplet=True``, what the OTHER haplotypes say about the pair (i, j): (4) the
    ultrametric bound ``min_k max(L_ik, L_jk)`` and (5) ``mean_k |L_ik - L_jk|`` (close
    relatives are equally far from everyone else), L being channel 0. ``accessible``:
    accessible bp per window (:func:`window_divergence`); ``mask=True``: the two bitmask
    channels (:func:`features_for_pairs`).
    Channels 0-2 and 4 are in ln generations, shifted by the sequence-wide mean of channel 0
    (so the network sees relative values; the shift is added back to its output).
    :func:`window_divergence` and :func:`features_for_pairs` do the same in two steps, for
    any subset of pairs and in bounded memory.

    Returns
    -------
    features : ndarray of shape (n_pairs, 4 or 6, n_windows)
    shift : float
    pairs : ndarray of shape (n_pairs, 2)
    """
    g = np.asarray(genotypes)
    div = window_divergence(g, positions, windows, mutation_rate, accessible)
    pairs = np.stack(np.triu_indices(g.shape[1], 1), axis=1)
    return features_for_pairs(div, pairs, triplet, mask=mask), div.shift, pairs


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
                      "segregating sites of the window.", stacklevel=4)
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
        finite = pos[np.isfinite(pos)]
        length = sequence_length or (float(finite.max()) + 1 if len(finite) else 1.0)
        return (*_clean(g, pos, length, "the genotypes"), length)
    raise ValueError(
        f"X is a {type(X).__name__}; expected a tskit.TreeSequence, a VCF path, or a tuple "
        "(genotypes of shape (n_sites, n_haplotypes), positions of shape (n_sites,)). A bare "
        "genotype matrix has no positions.")


def check_pairs(pairs, n):
    """Integer haplotype index pairs (n_pairs, 2) of distinct haplotypes among 0..n-1."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs has shape {pairs.shape} and dtype {pairs.dtype}; expected "
                         "integer haplotype indices of shape (n_pairs, 2).")
    if len(pairs) == 0 or pairs.min() < 0 or pairs.max() >= n or np.any(
            pairs[:, 0] == pairs[:, 1]):
        raise ValueError(f"pairs holds {pairs.tolist()[:3]}...; expected pairs of two "
                         f"different haplotypes among 0..{n - 1}.")
    return pairs
