"""N_e(t) by the pairwise sequentially Markov coalescent: PSMC's hidden Markov model run on
many pairs of haplotypes at once (a composite likelihood, as phlash and MSMC2 use), fitted
by expectation-maximisation.

Each pair's genome is cut into bins of ``bin_size`` bp; a bin's hidden state is the pair's
coalescence time (one of K intervals of :data:`NE_TIME_GRID`, the first from 0, the last
to infinity) and it emits its number of differences (Poisson with mean ``2 mu bin_size
t``). From one bin to the next the time changes by SMC' (Marjoram & Wall 2006): with
probability ``1 - exp(-2 r bin_size t)`` a recombination falls on one of the two branches,
uniformly in time, and the loose lineage coalesces again above it, at rate ``2 lambda``
while both branches are there (back into its own branch: no change) and ``lambda`` above
``t``. With N_e piecewise constant the time integrals are closed forms; the average over
each interval is a quadrature on ``n_sub`` sub-intervals weighted by their exact
probabilities. Transition and emission probabilities are computed in torch (float64), so
the M-step maximises the expected complete-data log-likelihood, minus a
penalty on ln N_e (total variation and a ridge towards a reference), by L-BFGS with exact
gradients.

The E-step's sufficient statistics (expected transitions, emissions, first states) are
kept per genome block: resampling the blocks and repeating the M-step gives the bootstrap
band of :func:`smc_ne` at no further pass over the data.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._threads import single_threaded
from ..spectrum import fold
from ._features import apply_accessibility
from ._ne import NE_TIME_GRID, NePosterior
from ._physics import coalescent_sfs
from ._squarem import _squarem

__all__ = ["pair_difference_counts", "smc_model", "smc_ne", "forward_backward"]

_MISSING = -1  # a bin with a missing call in the pair: emits nothing


def pair_difference_counts(genotypes, positions, sequence_length, pairs, bin_size, max_count):
    """Differences per bin of each pair: (n_bins, n_pairs) int8 in 0..max_count (more are
    clipped to ``max_count``, the emission's last category), counted on the sites both
    haplotypes call; a bin where the pair misses more than half of its sites' calls is
    ``-1`` (missing: it emits nothing). Bins before the first site and after the last are
    missing too (a VCF says nothing of them)."""
    g = np.asarray(genotypes)
    pairs = np.asarray(pairs)
    n_bins = max(1, int(np.ceil(sequence_length / bin_size)))
    site_bin = np.minimum((np.asarray(positions) // bin_size).astype(np.int64), n_bins - 1)
    first = np.searchsorted(site_bin, np.arange(n_bins + 1))  # sites are sorted
    out = np.empty((n_bins, len(pairs)), dtype=np.int8)
    for start in range(0, len(pairs), 64):  # bounded memory: sites x 64 pairs at a time
        p = pairs[start:start + 64]
        a, b = g[:, p[:, 0]], g[:, p[:, 1]]
        diff = np.zeros((len(g) + 1, len(p)), dtype=np.int32)
        np.cumsum((a != b) & (a >= 0) & (b >= 0), axis=0, out=diff[1:])
        miss = np.zeros_like(diff)
        np.cumsum((a < 0) | (b < 0), axis=0, out=miss[1:])
        count = np.minimum(diff[first[1:]] - diff[first[:-1]], max_count)
        sites = (first[1:] - first[:-1])[:, None]
        count[(miss[first[1:]] - miss[first[:-1]]) * 2 > sites] = _MISSING
        out[:, start:start + len(p)] = count
    if len(site_bin):
        out[:site_bin[0]] = _MISSING
        out[site_bin[-1] + 1:] = _MISSING
    return out


def _empty_runs(positions, n_bins, bin_size, min_bins=100):
    """Bins inside runs of at least ``min_bins`` bins (and 20 mean site spacings) holding
    no site at all: unsequenced gaps, read as missing rather than as identical sequence."""
    site_bin = np.unique((np.asarray(positions) // bin_size).astype(np.int64))
    dark = np.zeros(n_bins, dtype=bool)
    if len(site_bin) < 2:
        return dark
    spacing = (site_bin[-1] - site_bin[0]) / (len(site_bin) - 1)
    gap = np.diff(site_bin) - 1
    for k in np.flatnonzero(gap >= max(min_bins, 20 * spacing)):
        dark[site_bin[k] + 1:site_bin[k + 1]] = True
    return dark


def _finite_number(x):
    """A finite real number (not a bool, a string or an array)."""
    return (isinstance(x, (int, float, np.number)) and not isinstance(x, bool)
            and bool(np.isfinite(x)))


def _auto_bin_size(pilot, pilot_bin, per_bin=0.5, low=100, high=1000):
    """The bin (bp, a multiple of 100 in [``low``, ``high``]) in which a pair differs at
    ``per_bin`` sites on average, from the pairs' counts in ``pilot_bin`` bp bins
    (``pilot``; missing bins, -1, say nothing). Human-like data get 1,000 bp (as accurate as
    500 bp on the benchmark in 60 % of the time); diverse data finer bins, so counts stay
    below ``max_count`` and a bin rarely holds two recombinations where the data inform."""
    seen = pilot >= 0
    diversity = pilot[seen].mean() / pilot_bin if seen.any() else 0.0
    if diversity <= 0:
        return high
    return int(np.clip(np.round(per_bin / diversity, -2), low, high))


def _read_pairs(haplotypes, pairs, bin_size, max_count, accessible):
    """The pairs' difference counts per bin, all chromosomes side by side (n_bins, pairs x
    chromosomes; -1 missing: inaccessible, or in a long site-free run, warned), and each
    chromosome's (genotypes, positions) inside its accessible sequence."""
    counts, site_data = [], []
    for c, (g, pos, length) in enumerate(haplotypes):
        dark = None
        if accessible is not None and accessible[c] is not None:
            edges = np.append(np.arange(0.0, length, bin_size), length)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*inaccessible")
                g, pos, lengths = apply_accessibility(accessible[c], g, pos, edges)
            dark = lengths < 0.5 * np.diff(edges)
        count = pair_difference_counts(g, pos, length, pairs, bin_size, max_count)
        if dark is not None:
            count[dark] = _MISSING
        else:
            gaps = _empty_runs(pos, len(count), bin_size)
            if gaps.any():
                warnings.warn(f"chromosome {c}: {int(gaps.sum())} bins of {bin_size} bp lie in "
                              "long runs without any site; they are read as missing (pass "
                              "accessible= to say which sequence was called).", stacklevel=3)
                count[gaps] = _MISSING
        counts.append(count)
        site_data.append((g, pos))
    n_bins = max(len(c) for c in counts)
    stacked = np.full((n_bins, len(pairs) * len(counts)), _MISSING, dtype=np.int8)
    for i, c in enumerate(counts):
        stacked[:len(c), i * len(pairs):(i + 1) * len(pairs)] = c
    return stacked, site_data


_SFS_MAX = 30  # the SFS term reads at most this many haplotypes (projected)


def _sfs_size(site_data, cap=_SFS_MAX):
    """The number of haplotypes the SFS term projects to: at most ``cap`` and at most the
    calls of 90 % of the segregating sites (a few missing calls then drop no site)."""
    called = []
    for g, _ in site_data:
        n_called, derived = (g >= 0).sum(1), (g == 1).sum(1)
        called.append(n_called[(derived > 0) & (derived < n_called)])
    called = np.concatenate(called) if called else np.zeros(0)
    if not len(called):
        return 0
    return int(min(cap, np.floor(np.quantile(called, 0.1))))


def _block_sfs(site_data, size, block_bp, n_blocks):
    """The unfolded SFS (1..size-1) of each genome block (``block_bp`` long; blocks span
    the chromosomes as the bins do), every site projected to ``size`` haplotypes from those
    that call it (:func:`projected_sfs`; sites with fewer calls left out)."""
    from ._decoder import projected_sfs

    out = np.zeros((n_blocks, size - 1))
    for g, pos in site_data:
        block = np.minimum((np.asarray(pos) // block_bp).astype(np.int64), n_blocks - 1)
        for b in np.unique(block):
            out[b] += projected_sfs(g[block == b], size)[0][1:-1]
    return out


def _sfs_loglik(observed, left, weight, folded):
    """``weight`` x the multinomial log-likelihood of the SFS ``observed`` (1..n-1) as a
    function of ln N_e (:func:`coalescent_sfs`): the SFS's shape, its level being the
    pairs' (the SMC reads the same diversity). ``folded``: both spectra folded
    (:func:`sfsestimators.spectrum.fold`, moments' convention)."""
    n = len(observed) + 1
    corner = torch.zeros(1, dtype=torch.float64)

    def spectrum(polymorphic):  # 0..n with empty corners, folded if asked
        full = torch.cat([corner, polymorphic, corner])
        return fold(full) if folded else full

    obs = spectrum(torch.as_tensor(observed, dtype=torch.float64))

    def term(log_n):
        expected = spectrum(coalescent_sfs(log_n, left, n))
        prob = expected / expected.sum()
        return weight * torch.sum(torch.xlogy(obs, torch.clamp(prob, min=1e-300)))

    return term


def _state_edges(grid):
    """Left edges of the K states: 0, grid[1], ..., grid[K-1] (the last state is open)."""
    grid = np.asarray(grid, dtype=float)
    return np.concatenate([[0.0], grid[1:-1]])


def smc_model(log_n, rho, theta, left, *, n_sub=8, max_count=8, halvings=5):
    """The pairwise SMC' hidden Markov model of piecewise-constant sizes.

    Parameters
    ----------
    log_n : torch.Tensor of shape (K,)
        ln N_e (diploid) in each state's interval.
    rho, theta : torch.Tensor or float
        Recombination and mutation probability per bin and generation (rate x bin size).
    left : ndarray of shape (K,)
        The states' left edges (generations), the first 0.

    Returns
    -------
    pi : (K,) stationary probabilities; trans : (K, K) transition matrix;
    emit : (K, max_count + 1) probabilities of 0, 1, ... and >= max_count differences.

    The transition is that of a ``2 ** halvings``-th of the bin composed with itself (one
    recombination per step is then a good approximation also in the oldest states, where a
    bin sees about one).
    """
    dt = log_n.dtype
    # coalescence rate of two lineages per generation
    lam = 0.5 * torch.exp(-torch.clamp(log_n, min=0.0, max=30.0))
    k_n = len(left)
    left_t = torch.as_tensor(left, dtype=dt)
    width = left_t[1:] - left_t[:-1]
    # Lambda (cumulative rate), R(t) = int_0^t exp(-2 (Lambda(t) - Lambda(u))) du and
    # C(t) = int_0^t lambda R at the left edges: R_k+1 = exp(-2 x_k) R_k + a_k, unrolled
    x = lam[:-1] * width
    em_e = -torch.expm1(-2 * x)
    a = em_e / (2 * lam[:-1])
    zero = torch.zeros(1, dtype=dt)
    lam_e = torch.cat([zero, torch.cumsum(x, 0)])
    lower = torch.tril(torch.ones(k_n, k_n - 1, dtype=torch.bool), diagonal=-1)
    expo = torch.where(lower, lam_e[:, None] - lam_e[None, 1:], torch.zeros((), dtype=dt))
    r_e = (torch.exp(-2 * expo) * lower) @ a
    c_e = torch.cat([zero, torch.cumsum(r_e[:-1] * em_e / 2 + width / 2 - a / 2, 0)])
    # quadrature points: n_sub per state (log-spaced; linear in the first; the open last
    # state at quantiles of its exponential tail), weights their exact probabilities
    j = (torch.arange(n_sub, dtype=dt) + 0.5) / n_sub
    jj = torch.arange(n_sub + 1, dtype=dt) / n_sub
    lo, hi = left_t[:-1, None], left_t[1:, None]
    sub = torch.cat([(hi[:1] * jj)[None, 0], lo[1:] * (hi[1:] / lo[1:]) ** jj])
    surv = torch.exp(-(lam_e[:-1, None] + lam[:-1, None] * (sub - lo)))
    t = torch.cat([((sub[:, :-1] + sub[:, 1:]) / 2).reshape(-1),
                   left_t[-1] - torch.log1p(-j) / lam[-1]])
    w = torch.cat([(surv[:, :-1] - surv[:, 1:]).reshape(-1),
                   torch.exp(-lam_e[-1]).expand(n_sub) / n_sub])
    state = torch.arange(k_n).repeat_interleave(n_sub)
    lam_s = lam[state]
    delta = t - left_t[state]
    em = -torch.expm1(-2 * lam_s * delta)
    lam_t = lam_e[state] + lam_s * delta
    r_t = torch.exp(-2 * lam_s * delta) * r_e[state] + em / (2 * lam_s)
    c_t = c_e[state] + r_e[state] * em / 2 + delta / 2 - em / (4 * lam_s)
    # where the new time falls, given a recombination at a point of time t in state k
    c_next = torch.cat([c_e[1:], c_e[-1:]])  # C at right edges (unused for the last)
    mass = torch.cat([-torch.expm1(-(lam_e[1:] - lam_e[:-1])), torch.ones(1, dtype=dt)])
    lam_next = torch.cat([lam_e[1:], torch.full((1,), float("inf"), dtype=dt)])
    col = torch.arange(k_n)
    below = (c_next - c_e)[None, :] / t[:, None]
    above = (r_t / t)[:, None] * torch.exp(torch.clamp(lam_t[:, None] - lam_e[None, :],
                                                       max=0.0)) * mass[None, :]
    diag = ((c_t - c_e[state]) / t + r_t * (-torch.expm1(lam_t - lam_next[state])) / t
            + 0.5 - r_t / (2 * t))
    land = torch.where(col[None, :] < state[:, None], below, above)
    land = torch.where(col[None, :] == state[:, None], diag[:, None], land)
    rec = -torch.expm1(-2 * rho * t / 2 ** halvings)
    stay = torch.zeros_like(land)
    stay[torch.arange(len(t)), state] = 1.0
    move = (1 - rec)[:, None] * stay + rec[:, None] * land
    onehot = torch.zeros(k_n, len(t), dtype=dt)
    onehot[state, torch.arange(len(t))] = 1.0
    pi = torch.clamp(onehot @ w, min=1e-300)
    trans = (onehot @ (w[:, None] * move)) / pi[:, None]
    for _ in range(halvings):
        trans = trans @ trans
    # emissions: Poisson counts of differences, mixed over the quadrature points
    mean = 2 * theta * t
    d = torch.arange(max_count, dtype=dt)
    log_p = d[None, :] * torch.log(mean)[:, None] - mean[:, None] - torch.lgamma(d + 1)[None]
    p = torch.exp(log_p)
    p = torch.cat([p, torch.clamp(1 - p.sum(1, keepdim=True), min=1e-300)], dim=1)
    emit = (onehot @ (w[:, None] * p)) / pi[:, None]
    return pi, trans, emit


def forward_backward(counts, pi, trans, emit, blocks, chunk=256, workspace=None):
    """The E-step on all sequences at once (columns of ``counts``): the log-likelihood and,
    per block of bins (``blocks``: block index of each bin, non-decreasing), the expected
    transitions (n_blocks, K, K) and emissions (n_blocks, K, C), and the expected first
    states (K,) of all sequences.

    The recursions run in float32 (scaled every other step); the expected counts are summed in
    float64, ``chunk`` steps per matrix product (the emission rows taken by intp indices:
    a quarter faster than by the int8 counts). ``workspace``: a dict that keeps the
    forward variables' arrays between calls (an EM's E-steps): a fresh array of that size
    (hundreds of MB) costs its page faults at every call (11 % of 21 E-steps
    measured on 3 x 10 Mb x 60 pairs, up to 35 % of a single call)."""
    n_bins, n_seq = counts.shape
    k_n, n_cat = emit.shape
    lookup = np.vstack([emit.T, np.ones((1, k_n))]).astype(np.float32)  # row -1: missing
    trans32 = np.asarray(trans, dtype=np.float32)
    trans_t = np.ascontiguousarray(trans32.T)
    workspace = {} if workspace is None else workspace
    if workspace.get("alpha", np.empty(0)).shape != (n_bins, n_seq, k_n):
        workspace["alpha"] = np.empty((n_bins, n_seq, k_n), dtype=np.float32)
        workspace["scale"] = np.empty((n_bins, n_seq), dtype=np.float32)
        workspace["inv"] = np.empty((n_bins, n_seq, 1), dtype=np.float32)
    alpha, scale, inv = workspace["alpha"], workspace["scale"], workspace["inv"]
    # every other bin is scaled, the last included (two steps' probabilities stay far
    # inside float32's range): the likelihood and the posteriors are exact whichever bins
    # are scaled, so long as the last one is; 3 of the 5 calls of the other steps saved
    scale[n_bins % 2::2], inv[n_bins % 2::2] = 1.0, 1.0
    ones = np.ones(k_n, dtype=np.float32)
    rows = np.empty((chunk, n_seq, k_n), dtype=np.float32)  # the chunk's emission rows
    np.multiply(np.asarray(pi, dtype=np.float32)[None, :], lookup[counts[0]], out=alpha[0])
    for start in range(0, n_bins, chunk):
        end = min(n_bins, start + chunk)
        np.take(lookup, counts[start:end].astype(np.intp), axis=0, out=rows[:end - start])
        for x in range(start, end):
            a = alpha[x]
            if x:
                np.matmul(alpha[x - 1], trans32, out=a)
                a *= rows[x - start]
            if (n_bins - 1 - x) % 2 == 0:
                s = np.matmul(a, ones, out=scale[x])
                np.reciprocal(s, out=inv[x, :, 0])
                a *= inv[x]
    n_blocks = int(blocks[-1]) + 1
    xi = np.zeros((n_blocks, k_n, k_n))
    em = np.zeros((n_blocks, n_cat + 1, k_n))
    eye = np.eye(n_cat + 1, dtype=np.float32)
    beta = np.empty((chunk, n_seq, k_n), dtype=np.float32)  # beta of the chunk's bins
    eb = rows  # emission x beta / scale of the chunk's bins
    b = np.ones((n_seq, k_n), dtype=np.float32)
    for end in range(n_bins, 0, -chunk):
        start = max(0, end - chunk)
        n = end - start
        np.take(lookup, counts[start:end].astype(np.intp), axis=0, out=eb[:n])
        eb[:n] *= inv[start:end]
        beta[n - 1] = b
        for i in range(n - 1, -1, -1):
            if start + i:
                eb[i] *= beta[i]
                np.matmul(eb[i], trans_t, out=beta[i - 1] if i else b)
        # the chunk's expected counts, block by block (its bins are contiguous)
        edges = np.flatnonzero(np.diff(blocks[start:end])) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, n]):
            blk = blocks[start + lo]
            gamma = (alpha[start + lo:start + hi] * beta[lo:hi]).reshape(-1, k_n)
            em[blk] += eye[counts[start + lo:start + hi].reshape(-1)].T @ gamma
            lo = max(lo, 1 - start)  # transitions into bins >= 1
            if hi > lo:
                prev = alpha[start + lo - 1:start + hi - 1].reshape(-1, k_n)
                xi[blk] += prev.T @ eb[lo:hi].reshape(-1, k_n)
    first = (alpha[0] * beta[0]).sum(0).astype(np.float64)
    loglik = float(np.log(scale.astype(np.float64)).sum())
    return loglik, xi * np.asarray(trans, dtype=np.float64)[None], \
        em[:, :n_cat].transpose(0, 2, 1), first


def _penalty(log_n, smoothing, ridge, reference):
    """Total variation of ln N_e between neighbouring intervals (smoothed at 0.01: the size
    may jump where the data say so, and stays flat where they do not) times ``smoothing``,
    plus ``ridge`` times the squared distance of ln N_e from ``reference`` (where the data
    are silent, e.g. before every pair has coalesced, the estimate returns to it)."""
    tv = torch.sum(torch.sqrt(torch.diff(log_n) ** 2 + 1e-4))
    return smoothing * tv + ridge * torch.sum((log_n - reference) ** 2)


def _m_step(stats, params, theta, left, penalty, n_seq, fit_rho, sfs_term=None,
            max_iter=60, memory=None):
    """Maximise the expected complete-data log-likelihood (per sequence), plus
    ``sfs_term(ln N)`` (the SFS's weighted log-likelihood) if given, minus the penalty
    (:func:`_penalty`) over (ln N_1..K, ln rho), from ``params``.

    ``memory``: a dict that carries L-BFGS's curvature pairs from one M-step to the next
    (an EM's objectives differ little from step to step): the first step is then a
    quasi-Newton step, not a short gradient step (no pair is made across objectives);
    the model's evaluations fall threefold (2,294 -> 756 on ne_accuracy (b))."""
    xi, em, first = (torch.as_tensor(s, dtype=torch.float64) for s in stats)
    p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    rho0 = float(np.exp(params[-1]))
    opt = torch.optim.LBFGS([p], max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-7, tolerance_change=1e-10)
    warm = memory is not None and "lbfgs" in memory
    if warm:
        state = memory["lbfgs"]
        opt.state[p].update(state, d=torch.zeros_like(p), old_dirs=list(state["old_dirs"]),
                            old_stps=list(state["old_stps"]), ro=list(state["ro"]),
                            prev_flat_grad=state["prev_flat_grad"].clone())

    def closure():
        opt.zero_grad()
        log_n = p[:-1]
        rho = torch.exp(p[-1]) if fit_rho else rho0
        pi, trans, emit = smc_model(log_n, rho, theta, left, max_count=em.shape[1] - 1)
        q = ((xi * torch.log(torch.clamp(trans, min=1e-300))).sum()
             + (em * torch.log(torch.clamp(emit, min=1e-300))).sum()
             + (first * torch.log(pi)).sum())
        if sfs_term is not None:
            q = q + sfs_term(log_n)
        loss = -q / n_seq + _penalty(log_n, *penalty)
        loss.backward()
        return loss

    opt.step(closure)
    if warm and np.array_equal(p.detach().numpy(), params):
        # the carried pairs gave no descent (rounding): start afresh, not stop the EM
        del memory["lbfgs"]
        return _m_step(stats, params, theta, left, penalty, n_seq, fit_rho, sfs_term,
                       max_iter, memory)
    if memory is not None and opt.state[p].get("old_dirs"):
        memory["lbfgs"] = opt.state[p]
    return p.detach().numpy().copy()


def smc_ne(haplotypes, mutation_rate, *, recombination_rate=None, grid=NE_TIME_GRID,
           bin_size="auto", max_pairs=60, smoothing=0.03, ridge=0.01, n_iter=120, tol=0.001,
           n_boot=10, n_draws=None, block_size=1e6, max_count=8, init=None, reference=None,
           accessible=None, model_error=None, sfs_weight=3.0, folded=False,
           random_state=None):
    """N_e(t) of a sample of haplotypes by the pairwise SMC' composite likelihood.

    Parameters
    ----------
    haplotypes : list of (genotypes, positions, sequence_length)
        One entry per chromosome (as :func:`as_genotypes` returns): the same haplotypes in
        the same columns (0/1, -1 missing).
    mutation_rate : float
        Per bp per generation: it sets the time scale (generations) and the sizes.
    recombination_rate : float or None, default=None
        Per bp per generation; None estimates it with the sizes (started at
        ``mutation_rate``).
    grid : ndarray of shape (K + 1,)
        The states: ``[0, grid[1])``, ..., ``[grid[K-1], inf)``; the sizes are reported on
        its K intervals.
    bin_size : int or "auto", default="auto"
        bp per hidden-state step; "auto": the multiple of 100 bp in 100-1,000 in which a
        pair differs at 0.5 sites on average, measured on 100 bp bins of the accessible,
        called sequence (1,000 bp for human-like diversity, 5e-4 per bp;
        ``info["bin_size"]`` says which).
    max_pairs : int, default=60
        Pairs used at most (a seeded uniform random subset of all pairs); each chromosome
        contributes each pair.
    smoothing, ridge : float, default=0.03, 0.01
        Weights of the total variation of ln N_e and of its squared distance from
        ``reference`` (:func:`_penalty`), against one sequence's (pair and chromosome's)
        log-likelihood.
    n_iter, tol : int, float, default=120, 0.001
        No SQUAREM cycle (3 E-steps) starts after ``n_iter`` E-steps; stop when a cycle
        improves the penalised log-likelihood per sequence by less than ``tol`` (50-70
        E-steps on 3 x 10 Mb of 20 haplotypes: slow along a sharp change's flat onset).
    n_boot : int, default=10
        Bootstrap replicates (blocks of ``block_size`` bp resampled; the M-step re-run on
        their summed expected statistics). 0: none.
    n_draws : int or None, default=None
        Draws returned after the point estimate: bootstrap replicates drawn with
        replacement plus the model error (below); default ``n_boot``.
    init : ndarray of shape (K,) or None
        Starting sizes; default ``reference``.
    reference : ndarray of shape (K,) or None
        The sizes the ridge pulls towards (e.g. another estimate: ``predict_ne`` passes the
        decoder's median); default constant at the size of the data's diversity.
    accessible : list of (BED path, intervals or None), or None
        Per chromosome: bins less than half accessible are missing, sites outside left out.
    model_error : ndarray of shape (K,), callable, or None, default=None
        log10 sd of normal noise added to the draws: the error the one-step bootstrap
        misses (smoothing bias, intervals the data do not inform); a callable is given the
        point estimate (sizes, (K,)) and the data's evidence per interval (a dict:
        ``"events"``, the expected tracts whose coalescence time falls in it (a sequence's
        first bin and each change of state into it, summed over the sequences, times the
        called fraction of the pair-bins), and ``"boot_sd"``, the bootstrap replicates'
        log10 sd) and returns it (``predict_ne`` passes :func:`calibrated_error` with its
        decoder; before session 13 the callable was given the point estimate alone). None: the
        bootstrap alone (too narrow a band).
    sfs_weight : float, default=3.0
        Weight of the SFS's multinomial log-likelihood (its shape under the sizes,
        :func:`coalescent_sfs`; every site projected to at most 30 haplotypes and at most
        the calls of 90 % of the segregating sites) added to the M-step's objective, per
        60 pairs (it is multiplied by pairs / 60), against the sum of the sequences'
        log-likelihoods: the SFS reads the recent sizes the pairs barely see (phlash's
        other half). 3 was the best of 0, 1, 3, 10, 30 on the bottleneck benchmark with
        60 pairs; 0 leaves the pairs alone.
    folded : bool, default=False
        Read the SFS folded (minor-allele counts), for data whose ancestral allele is not
        known (a VCF's REF is not the ancestral allele unless it was polarised); unfolded
        takes allele 1 as derived, as the decoder does.
    random_state : int, RandomState instance or None

    Returns
    -------
    NePosterior
        ``method="smc"``; ``samples`` (n_draws + 1, K): the point estimate, then the draws;
        ``info`` the penalised log-likelihood per sequence along the EM, the recombination
        rate, pairs, bins and their size (``bin_size``), E-steps, the model error added
        and the evidence given to it (``events``, ``boot_sd``), the SFS's weight and its
        segregating sites (projected).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sfsestimators.genealogy import as_genotypes, smc_ne
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> ts = simulate(SizeHistory([0.0], [1e4]), 6, 2e6, mutation_rate=1.29e-8,
    ...               recombination_rate=1e-8, random_state=3)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # a few E-steps only: not converged
    ...     post = smc_ne([as_genotypes(ts)], 1.29e-8, max_pairs=6, n_iter=8, n_boot=4,
    ...                   random_state=0)
    >>> post.method, post.samples.shape
    ('smc', (5, 32))
    >>> bool(3e3 < post.median_at(5e3) < 3e4)
    True
    """
    rng = check_random_state(random_state)
    n_hap = haplotypes[0][0].shape[1]
    widths = [g.shape[1] for g, _, _ in haplotypes]
    if len(set(widths)) > 1 or n_hap < 2:
        raise ValueError(f"the chromosomes hold {widths} haplotypes; expected the same "
                         "samples (at least 2 haplotypes) in every one.")
    if not (_finite_number(sfs_weight) and sfs_weight >= 0):
        raise ValueError(f"sfs_weight is {sfs_weight!r}; expected a finite number >= 0 (0 "
                         "leaves the SFS out).")
    iu = np.array(np.triu_indices(n_hap, 1)).T
    if len(iu) > max_pairs:
        iu = iu[np.sort(rng.choice(len(iu), max_pairs, replace=False))]
    if isinstance(bin_size, str) and bin_size == "auto":
        with warnings.catch_warnings():  # the pilot's warnings are the final read's
            warnings.simplefilter("ignore")
            pilot, _ = _read_pairs(haplotypes, iu, 100, max_count, accessible)
        bin_size = _auto_bin_size(pilot, 100)
    elif not (_finite_number(bin_size) and bin_size >= 1 and bin_size == int(bin_size)):
        raise ValueError(f"bin_size is {bin_size!r}; expected a whole number of bp >= 1 or "
                         "'auto'.")
    bin_size = int(bin_size)
    stacked, site_sfs = _read_pairs(haplotypes, iu, bin_size, max_count, accessible)
    n_bins = stacked.shape[0]
    seen = stacked >= 0
    if seen.mean() < 0.5:
        warnings.warn(f"{100 * (1 - seen.mean()):.0f} % of the pair-bins are missing (a missing "
                      "call or inaccessible sequence in the bin); N_e(t) rests on the rest.",
                      stacklevel=2)
    if not seen.any():
        raise ValueError("no bin of any pair is free of missing calls; nothing to fit.")
    theta = mutation_rate * bin_size
    left = _state_edges(grid)
    k_n = len(left)
    diversity = stacked[seen].mean() / bin_size  # differences per bp: 4 N mu
    if diversity <= 0:
        raise ValueError("no pair differs at any site: the data hold no information on "
                         "N_e(t) (check the genotypes).")
    if reference is None:  # constant at the size of the diversity: 4 N mu per bp
        reference = diversity / (4 * mutation_rate)
    reference = np.broadcast_to(np.asarray(reference, dtype=float), (k_n,))
    if init is None:
        init = reference
    penalty = (smoothing, ridge, torch.as_tensor(np.log(reference), dtype=torch.float64))
    if recombination_rate is not None and not (np.isfinite(recombination_rate)
                                               and recombination_rate > 0):
        raise ValueError(f"recombination_rate is {recombination_rate!r}; expected a "
                         "positive number per bp per generation, or None to estimate it.")
    fit_rho = recombination_rate is None
    params = np.concatenate([np.log(np.asarray(init, dtype=float)),
                             [np.log((mutation_rate if recombination_rate is None
                                     else recombination_rate) * bin_size)]])
    per_block = max(1, int(round(block_size / bin_size)))
    blocks = np.arange(n_bins) // per_block
    sfs_blocks, sfs_term, sfs_size = None, None, 0
    weight = sfs_weight * len(iu) / 60  # the weight was tuned against 60 pairs
    if sfs_weight > 0:
        sfs_size = _sfs_size(site_sfs)
        if sfs_size < 3:
            warnings.warn("the SFS term is left out: fewer than 3 haplotypes call most "
                          "segregating sites.", stacklevel=2)
        else:
            sfs_blocks = _block_sfs(site_sfs, sfs_size, bin_size * per_block, blocks[-1] + 1)
            sfs_term = _sfs_loglik(sfs_blocks.sum(0), left, weight, folded)
    n_seq = stacked.shape[1]
    n_e = [0]
    workspace = {}  # the forward variables' arrays, kept between E-steps

    def e_step(p):
        n_e[0] += 1
        with torch.no_grad():
            pi, trans, emit = smc_model(torch.tensor(p[:-1], dtype=torch.float64),
                                        float(np.exp(p[-1])), theta, left,
                                        max_count=max_count)
        loglik, xi, em, first = forward_backward(stacked, pi.numpy(), trans.numpy(),
                                                 emit.numpy(), blocks, workspace=workspace)
        # the penalised objective the M-step maximises, per sequence
        log_n = torch.tensor(p[:-1], dtype=torch.float64)
        if sfs_term is not None:
            loglik += float(sfs_term(log_n))
        objective = loglik / n_seq - float(_penalty(log_n, *penalty))
        return objective, (xi, em, first)

    memory = {}  # L-BFGS's curvature pairs, carried from M-step to M-step

    def m_step(p, stats):
        xi, em, first = stats
        return _m_step((xi.sum(0), em.sum(0), first), p, theta, left, penalty, n_seq,
                       fit_rho, sfs_term, memory=memory)

    # one thread: the recursions are many small products, which a second BLAS/torch
    # thread spins on more than it computes (CPU 52 -> 35 s, wall 30 -> 29 s on
    # ne_accuracy (a); 81 -> 46 s CPU on (b))
    with single_threaded():
        params, stats, trace, converged, improvement = _squarem(e_step, m_step, params,
                                                                n_e, n_iter, tol)
        if not converged:
            warnings.warn(f"the EM of smc_ne did not converge in n_iter={n_iter} E-steps (last "
                          f"gain {improvement:.3g} per sequence, tol={tol}); raise n_iter.",
                          stacklevel=2)
        xi, em, first = stats
        boot = [params[:-1]]
        n_blocks = xi.shape[0]
        for _ in range(n_boot):
            take = np.bincount(rng.randint(n_blocks, size=n_blocks), minlength=n_blocks)
            stats = (np.tensordot(take, xi, 1), np.tensordot(take, em, 1), first)
            term = None if sfs_term is None else _sfs_loglik(take @ sfs_blocks, left, weight,
                                                             folded)
            boot.append(_m_step(stats, params, theta, left, penalty, n_seq, fit_rho, term,
                                max_iter=30, memory=dict(memory))[:-1])
    boot = np.array(boot)
    n_draws = n_boot if n_draws is None else int(n_draws)
    pick = rng.randint(1, len(boot), size=n_draws) if n_boot else np.zeros(n_draws, int)
    log_n = np.vstack([boot[:1], boot[pick]])
    # what the data say per interval: tracts starting there (first states and changes of
    # state into it, all sequences; times the called fraction of the pair-bins, as the
    # chain runs through missing bins on the model alone) and the bootstrap's log10 sd
    moves = xi.sum(0)  # expected transitions i -> j, all blocks
    events = (first + moves.sum(0) - np.diag(moves)) * seen.mean()
    evidence = {"events": events, "boot_sd": (boot[1:].std(0, ddof=1) if n_boot > 1
                                              else np.zeros(k_n)) / np.log(10)}
    if callable(model_error):
        model_error = model_error(np.exp(boot[0]), evidence)
    if model_error is not None:
        log_n[1:] += rng.standard_normal(log_n[1:].shape) * np.log(10) * np.broadcast_to(
            np.asarray(model_error, dtype=float), (k_n,))
    info = {"objective": trace, "recombination_rate": float(np.exp(params[-1])) / bin_size,
            "n_pairs": len(iu), "n_bins": n_bins, "bin_size": bin_size, "e_steps": n_e[0],
            "model_error": model_error, **evidence,
            "sfs_weight": 0.0 if sfs_term is None else float(sfs_weight),
            "sfs_size": 0 if sfs_term is None else sfs_size,
            "sfs_sites": 0.0 if sfs_term is None else float(sfs_blocks.sum())}
    return NePosterior(np.asarray(grid, dtype=float), np.exp(log_n), "smc", info)
