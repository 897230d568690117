"""The learnt N_e(t) decoder: a normalizing flow over log10 N_e on :data:`NE_TIME_GRID`,
conditioned on a permutation-invariant summary of what Mainspring read and predicted.

The summary of one chromosome (:class:`NeSummary`) is additive, so chromosomes (or any
pieces of sequence of one population) combine by ``+``:

- the histogram of the predicted ln pairwise TMRCA of every pair and window (log10
  generations, :data:`LOG_T_EDGES`, with a tail bin at each end) — the predicted
  coalescence-time distribution;
- the sums of the predicted sd and of the network's last-block activations over pairs and
  windows (the pooled pair encoder);
- the SFS of the haplotypes projected to :data:`NE_SFS_SIZE` (hypergeometric projection,
  moments) and the mutation rate times the accessible length;
- the histograms of the pairs' observed differences in 2, 8, 32 and 128 kb windows (time
  equivalents ``(d + 1/2) / (2 mu L)``): the raw pairwise-divergence distribution at four
  scales, whose short-window zeros (runs of identity) speak of recent times.

Its features (:func:`summary_features`) are all per unit of sequence and per pair, in
generations: the histogram's fractions, the hazard estimate of N_e on the grid from it
(:func:`ne_from_times`), the mean sd, the pooled activations, log10 of the SFS divided by
mu x length (the expected branch length carrying k of 20 copies) and the log fractions of
the divergence histograms. A
:class:`zuko.flows.NSF` over the 32 standardised log10 N_e values, its context an MLP of
those features, is trained on msprime simulations from a broad prior (piecewise-constant
histories, 1-8 epochs, change times log-uniform over 30-1e5 generations, sizes log-uniform
over 10^2.5-10^5) by maximum likelihood of the true trajectory, with skorch.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import zuko
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._persist import plain_history
from .._validation import check_count
from ._features import (
    MIN_ACCESSIBLE,
    apply_accessibility,
    as_genotypes,
    window_divergence,
)
from ._ne import NE_TIME_GRID, NePosterior, ne_from_times

__all__ = ["NeSummary", "NeDecoder", "NeDecoderEnsemble", "NeDecoderMixin",
           "summary_features", "NE_SFS_SIZE",
           "LOG_T_EDGES", "DIVERGENCE_SCALES", "LOG_D_EDGES", "divergence_histograms",
           "NE_PRIOR", "grid_log10_ne", "HAZARD_FEATURES"]

#: intervals of the N_e(t) grid
N_GRID = len(NE_TIME_GRID) - 1
#: haplotypes the SFS is projected to (the decoder needs at least this many)
NE_SFS_SIZE = 20
#: edges (log10 generations) of the histogram of predicted pairwise times
LOG_T_EDGES = np.linspace(1.0, 6.0, 51)
#: window multiples whose pairwise differences are histogrammed (2, 8, 32, 128 kb windows)
DIVERGENCE_SCALES = (1, 4, 16, 64)
#: edges (log10 generations) of those histograms: differences as (d + 1/2) / (2 mu L)
LOG_D_EDGES = np.arange(1.5, 6.01, 0.15)
#: the training prior of the decoder (keyword arguments of ``sample_size_history``)
NE_PRIOR = dict(max_epochs=8, size_range=(10 ** 2.5, 1e5), time_range=(30.0, 1e5))


@dataclass(frozen=True, eq=False)
class NeSummary:
    """What the N_e(t) decoder reads of one or more chromosomes; ``a + b`` pools two.

    Attributes
    ----------
    time_counts : ndarray of shape (len(LOG_T_EDGES) + 1,)
        Pair-windows per bin of predicted log10 TMRCA (first and last: the tails).
    sd_sum : float
        Sum of the predicted sd of ln TMRCA over pair-windows.
    hidden_sum : ndarray of shape (width,)
        Sum of the network's last-block activations over pairs and windows.
    n_pair_windows : float
    sfs : ndarray of shape (NE_SFS_SIZE + 1,)
        The SFS projected to :data:`NE_SFS_SIZE` haplotypes (sites with missing calls left
        out).
    mu_length : float
        Mutation rate x accessible length (bp) of the sites the SFS counts.
    divergence_counts : ndarray of shape (len(DIVERGENCE_SCALES), len(LOG_D_EDGES) + 1)
        Per scale (:data:`DIVERGENCE_SCALES` windows together) the pairs' observed
        differences as time equivalents ``(d + 1/2) / (2 mu L)``, histogrammed on
        :data:`LOG_D_EDGES` (the raw data's pairwise-divergence distribution at 2-128 kb:
        identity-by-state runs for recent times, long windows for old ones).

    Examples
    --------
    >>> from sfsestimators import MainspringARGEstimator
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> est = MainspringARGEstimator.pretrained(device="cpu")
    >>> chroms = [simulate(SizeHistory([0.0], [1e4]), 20, 5e4, random_state=s) for s in (1, 2)]
    >>> both = sum(est.ne_summary(ts) for ts in chroms)  # pools the chromosomes
    >>> both.n_pair_windows == 2 * 190 * 25
    True
    """

    time_counts: np.ndarray
    sd_sum: float
    hidden_sum: np.ndarray
    n_pair_windows: float
    sfs: np.ndarray
    mu_length: float
    divergence_counts: np.ndarray

    def __add__(self, other):
        if isinstance(other, numbers.Number) and other == 0:  # sum() starts from 0
            return self
        if not isinstance(other, NeSummary):
            return NotImplemented
        return NeSummary(self.time_counts + other.time_counts, self.sd_sum + other.sd_sum,
                         self.hidden_sum + other.hidden_sum,
                         self.n_pair_windows + other.n_pair_windows, self.sfs + other.sfs,
                         self.mu_length + other.mu_length,
                         self.divergence_counts + other.divergence_counts)

    __radd__ = __add__

    def to_dict(self):
        return {f: np.asarray(getattr(self, f), dtype=float) for f in
                ("time_counts", "sd_sum", "hidden_sum", "n_pair_windows", "sfs", "mu_length",
                 "divergence_counts")}

    @classmethod
    def from_dict(cls, d):
        return cls(np.asarray(d["time_counts"], float), float(d["sd_sum"]),
                   np.asarray(d["hidden_sum"], float), float(d["n_pair_windows"]),
                   np.asarray(d["sfs"], float), float(d["mu_length"]),
                   np.asarray(d["divergence_counts"], float))


def projected_sfs(genotypes, size=NE_SFS_SIZE):
    """The unfolded SFS of a (sites, n) 0/1/-1 matrix projected to ``size`` haplotypes
    (moments' hypergeometric projection), each site from the haplotypes that call it, and
    the fraction of sites kept (those with at least ``size`` calls)."""
    import moments

    g = np.asarray(genotypes)
    n = g.shape[1]
    if n < size:
        raise ValueError(f"the data have {n} haplotypes; the N_e(t) decoder reads the SFS "
                         f"projected to {size}, so it needs at least {size}.")
    n_called = (g >= 0).sum(axis=1)
    derived = (g == 1).sum(axis=1)
    out = np.zeros(size + 1)
    for m in np.unique(n_called[n_called >= size]):
        counts = np.bincount(derived[n_called == m], minlength=m + 1).astype(float)
        out += np.asarray(moments.Spectrum(counts, mask_corners=False).project([size]).data)
    kept = float(np.mean(n_called >= size)) if len(g) else 1.0
    return out, kept


def time_histogram(log_tmrca):
    """Counts of predicted ln TMRCA per :data:`LOG_T_EDGES` bin, tails included."""
    x = np.asarray(log_tmrca, dtype=float).ravel() / np.log(10)
    index = np.searchsorted(LOG_T_EDGES, x, side="right")  # 0: below, len: above
    return np.bincount(index, minlength=len(LOG_T_EDGES) + 1).astype(float)


def divergence_histograms(local_log_t, pairs, window_length, mutation_rate, dark=None):
    """Counts of the pairs' differences at each of :data:`DIVERGENCE_SCALES` (consecutive
    windows summed; a trailing remainder left out), as time equivalents on
    :data:`LOG_D_EDGES`. ``local_log_t``: (windows, n, n) method-of-moments ln TMRCA
    ``ln((d + 1/2) / (2 mu L_w))`` (:func:`window_divergence`); ``window_length``:
    (windows,) bp; ``dark``: (windows,) windows with (almost) no accessible sequence, left
    out with every block holding one."""
    length = np.asarray(window_length, dtype=float)
    two_mu_l = 2 * mutation_rate * length[:, None]
    d = np.maximum(np.exp(local_log_t[:, pairs[:, 0], pairs[:, 1]].astype(float)) * two_mu_l
                   - 0.5, 0.0)  # (windows, pairs)
    lit = np.ones(len(d), dtype=bool) if dark is None else ~np.asarray(dark, dtype=bool)
    out = np.zeros((len(DIVERGENCE_SCALES), len(LOG_D_EDGES) + 1))
    for k, scale in enumerate(DIVERGENCE_SCALES):
        m = (len(d) // scale) * scale
        if m == 0:
            continue
        keep = lit[:m].reshape(-1, scale).all(axis=1)
        d_s = d[:m].reshape(-1, scale, d.shape[1]).sum(axis=1)[keep]
        l_s = length[:m].reshape(-1, scale).sum(axis=1)[keep, None]
        x = np.log10((d_s + 0.5) / (2 * mutation_rate * l_s))
        out[k] = np.bincount(np.searchsorted(LOG_D_EDGES, x.ravel(), side="right"),
                             minlength=len(LOG_D_EDGES) + 1)
    return out


def summary_features(summary):
    """The decoder's context vector of a :class:`NeSummary` (see the module's docstring)."""
    s = summary
    n = max(s.n_pair_windows, 1.0)
    frac = s.time_counts / n
    centres = np.concatenate([[LOG_T_EDGES[0] - 0.05],
                              (LOG_T_EDGES[1:] + LOG_T_EDGES[:-1]) / 2,
                              [LOG_T_EDGES[-1] + 0.05]])
    # the hazard estimate of a fixed 10,000 pairs' worth of this distribution: its smoothing
    # then weighs the same however much sequence was pooled
    hazard = np.log10(ne_from_times(10 ** centres, weights=frac * 1e4))
    sfs = np.log10((np.maximum(s.sfs[1:-1], 0) + 0.5) / max(s.mu_length, 1e-30))
    div = s.divergence_counts / np.maximum(s.divergence_counts.sum(axis=1, keepdims=True), 1)
    # and with a tenth of the smoothing: sharper changes, more noise
    sharp = np.log10(ne_from_times(10 ** centres, weights=frac * 1e4, smoothing=10.0))
    return np.concatenate([np.log10(frac + 1e-4), hazard, [s.sd_sum / n],
                           s.hidden_sum / n, sfs, np.log10(div + 1e-5).ravel(), sharp]
                          ).astype(np.float32)


#: where :func:`summary_features` puts the hazard estimate (log10 N_e on the grid)
HAZARD_FEATURES = len(LOG_T_EDGES) + 1


def grid_log10_ne(history, grid=NE_TIME_GRID):
    """log10 N_e of a :class:`~sfsestimators.simulate.SizeHistory` at the log-midpoints of
    the grid's intervals (the decoder's target)."""
    return np.log10(history.size_at(np.sqrt(grid[:-1] * grid[1:])))


class NeDecoder(nn.Module):
    """A conditional normalizing flow over log10 N_e on the grid (:class:`zuko.flows.NSF`),
    its context an MLP of the summary features; inputs and outputs standardised by buffers
    set from the training data.

    ``forward(x, y)`` is the log density of trajectories ``y`` (n, K) given features ``x``
    (n, C); :meth:`sample` draws trajectories.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.genealogy import NeDecoder
    >>> dec = NeDecoder(n_context=5, n_grid=4, hidden=16, embed=8)
    >>> dec(torch.zeros(3, 5), torch.zeros(3, 4)).shape
    torch.Size([3])
    >>> dec.sample(torch.zeros(2, 5), 7).shape
    torch.Size([7, 2, 4])
    """

    def __init__(self, n_context, n_grid=N_GRID, hidden=128, embed=64, transforms=3,
                 base=None):
        super().__init__()
        # the flow models log10 N_e minus the features x[:, base:base + n_grid] (the hazard
        # estimate): it learns that estimate's correction, and without information it
        # falls back on it rather than on the prior's mean
        self.base = None if base is None else int(base)
        self.embed = nn.Sequential(nn.Linear(n_context, hidden), nn.GELU(),
                                   nn.Linear(hidden, hidden), nn.GELU(),
                                   nn.Linear(hidden, embed))
        self.flow = zuko.flows.NSF(features=n_grid, context=embed, transforms=transforms,
                                   hidden_features=(hidden, hidden))
        for name, size in (("x_mean", n_context), ("y_mean", n_grid)):
            self.register_buffer(name, torch.zeros(size))
        for name, size in (("x_scale", n_context), ("y_scale", n_grid)):
            self.register_buffer(name, torch.ones(size))

    def _base(self, x):
        if self.base is None:
            return 0.0
        return x[:, self.base:self.base + self.y_mean.numel()]

    def standardise(self, x, y):
        """Set the buffers from training features ``x`` and targets ``y`` (arrays)."""
        x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        y = torch.as_tensor(np.asarray(y), dtype=torch.float32) - self._base(x)
        for name, v in (("x", x), ("y", y)):
            getattr(self, f"{name}_mean").copy_(v.mean(0))
            getattr(self, f"{name}_scale").copy_(v.std(0).clamp_min(0.1 if name == "x"
                                                                   else 1e-3))

    def _context(self, x):
        # clipped: a feature that never varied in training must not reach thousands of sds
        return self.embed(((x - self.x_mean) / self.x_scale).clamp(-10.0, 10.0))

    def forward(self, x, y):
        z = (y - self._base(x) - self.y_mean) / self.y_scale
        return self.flow(self._context(x)).log_prob(z) - torch.log(self.y_scale).sum()

    @torch.no_grad()
    def sample(self, x, n):
        """``n`` draws of log10 N_e per row of ``x``: (n, len(x), K)."""
        z = self.flow(self._context(x)).sample((int(n),))
        return z * self.y_scale + self.y_mean + self._base(x)


class NeDecoderEnsemble(nn.Module):
    """``members`` :class:`NeDecoder` flows of the same configuration whose draws pool (an
    equal-weight mixture). ``sample(x, n)`` as :meth:`NeDecoder.sample`.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.genealogy import NeDecoderEnsemble
    >>> NeDecoderEnsemble(2, n_context=5, n_grid=4, hidden=8, embed=4).sample(
    ...     torch.zeros(3, 5), 6).shape
    torch.Size([6, 3, 4])
    """

    def __init__(self, members=1, **config):
        super().__init__()
        self.config = dict(config)
        self.members = nn.ModuleList([NeDecoder(**config) for _ in range(int(members))])

    @torch.no_grad()
    def sample(self, x, n):
        counts = np.diff(np.linspace(0, int(n), len(self.members) + 1).round().astype(int))
        return torch.cat([m.sample(x, c) for m, c in zip(self.members, counts) if c], dim=0)


def decoder_posterior(module, summary, n_draws=200, random_state=None):
    """:class:`NePosterior` draws of the decoder for a :class:`NeSummary`."""
    x = torch.as_tensor(summary_features(summary))[None]
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        draws = module.sample(x, n_draws)[:, 0].double().numpy()
    return NePosterior(np.asarray(NE_TIME_GRID, dtype=float), 10 ** draws, "decoder")


class NeDecoderMixin:
    """The N_e(t) side of :class:`MainspringARGEstimator`: summaries for the decoder, its
    posterior, its training and persistence (the estimator supplies ``_network``,
    ``_rate``, ``window_size``, ``mutation_rate``)."""

    @staticmethod
    def _summary(mean, sd, pooled, g, mu, lengths, length, div, pairs, windows):
        full = np.diff(windows)
        accessible = float(length if lengths is None else np.sum(lengths))
        window_length = full if lengths is None else np.maximum(lengths, 1.0)
        dark = None if lengths is None else lengths < MIN_ACCESSIBLE * full
        sfs, kept = projected_sfs(g)
        return NeSummary(time_histogram(mean), float(sd.sum(dtype=np.float64)),
                         np.asarray(pooled, dtype=float), float(mean.size), sfs,
                         mu * accessible * kept,
                         divergence_histograms(div.local, pairs, window_length, mu, dark))

    def _summaries(self, g, pos, length, windows, lengths, mu, rng, *, max_pairs=None,
                   batch_pairs=None, reuse=None):
        """The decoder's summary of filtered genotypes: of all haplotypes when there are
        exactly 20 (as in its training), else the sum over disjoint random groups of 20
        (the network's triplet channels and the SFS then read what they did in training;
        more groups pool like more sequence). ``reuse``: (mean, sd, pooled, div, pairs) of
        the 20 haplotypes already run through the network."""
        n = g.shape[1]
        if n < NE_SFS_SIZE:
            raise ValueError(f"X has {n} haplotypes; the N_e(t) decoder needs at least "
                             f"{NE_SFS_SIZE} (its SFS is projected to {NE_SFS_SIZE}).")
        if n == NE_SFS_SIZE and reuse is not None:
            mean, sd, pooled, div, pairs = reuse
            return self._summary(mean, sd, pooled, g, mu, lengths, length, div, pairs,
                                 windows)
        groups = [np.arange(n)] if n == NE_SFS_SIZE else np.array_split(
            rng.permutation(n)[:(n // NE_SFS_SIZE) * NE_SFS_SIZE], n // NE_SFS_SIZE)
        total = 0
        for group in groups:
            sub = g[:, np.sort(group)]
            div = window_divergence(sub, pos, windows, mu, lengths)
            pairs = np.stack(np.triu_indices(NE_SFS_SIZE, 1), axis=1)
            if max_pairs is not None and len(pairs) > max_pairs:
                pairs = pairs[np.sort(rng.choice(len(pairs), int(max_pairs), replace=False))]
            mean, sd, pooled = self._network(div, pairs, batch_pairs)
            total = total + self._summary(mean, sd, pooled, sub, mu, lengths, length, div,
                                          pairs, windows)
        return total

    def ne_summary(self, X, *, sequence_length=None, mutation_rate=None, accessible=None,
                   batch_pairs=None, max_pairs=None, random_state=None):
        """What the N_e(t) decoder reads of ``X`` (:class:`NeSummary`): the histogram of
        the predicted pairwise times, the pooled network activations, the SFS projected
        to 20 haplotypes and the pairwise-divergence histograms. Summaries of chromosomes
        add up (``sum(summaries)``); see :meth:`predict_ne`. With more than 20 haplotypes,
        the sum over disjoint random groups of 20 (the decoder was trained on 20).
        ``max_pairs``: pool a random subset of at most that many pairs per group (the
        per-pair averages the decoder reads keep their expectation; its training summaries
        use 64 of the 190 pairs). Other arguments as in :meth:`predict`."""
        check_is_fitted(self)
        if max_pairs is not None:
            check_count(max_pairs, "max_pairs", minimum=1)
        mu = self._rate("mutation_rate", mutation_rate, self.mutation_rate)
        g, pos, length = as_genotypes(X, sequence_length)
        windows = np.append(np.arange(0.0, length, float(self.window_size)), length)
        lengths = None
        if accessible is not None:
            g, pos, lengths = apply_accessibility(accessible, g, pos, windows)
        return self._summaries(g, pos, length, windows, lengths, mu,
                               check_random_state(random_state), max_pairs=max_pairs,
                               batch_pairs=batch_pairs)

    def predict_ne(self, X, *, mutation_rate=None, recombination_rate=None, accessible=None,
                   n_draws=200, method="smc", smc_params=None, summary_pairs=64,
                   random_state=None):
        """The N_e(t) posterior of one population from one or several chromosomes.

        Parameters
        ----------
        X : tree sequence, VCF path, (genotypes, positions), NeSummary, or a list of them
            Chromosomes (or any pieces of sequence) of the same samples; their summaries
            (:meth:`ne_summary`) are pooled. ``method="smc"`` needs the genotypes (no
            NeSummary).
        mutation_rate : float, default=None
            Of the data; default the estimator's.
        recombination_rate : float, default=None
            Of the data (``method="smc"``); default: estimated with the sizes.
        accessible : BED path or intervals, default=None
            For a single X only. With ``"smc"``, bins (``info["bin_size"]`` bp) less than
            half accessible are read as missing.
        n_draws : int, default=200
        method : {"smc", "decoder"}, default="smc"
            ``"decoder"``: draws of the learnt decoder (a normalizing flow over the
            prior's histories, conditioned on the pooled summaries; seconds).
            ``"smc"``: the decoder's median refined by the pairwise SMC' composite
            likelihood of the genotypes (:func:`smc_ne`: PSMC's model on 60 pairs, EM)
            and the multinomial likelihood of their SFS (weight ``sfs_weight=3``; the
            recent sizes); its ridge pulls towards the decoder's median where the data are
            silent;
            draws: the block bootstrap plus normal noise of the error measured on
            simulations of the decoder's prior (:func:`calibrated_error`: it grows with the
            decoder's own uncertainty, with the estimate's distance from the decoder's
            median, and where few of the pairs' tracts coalesce); 20-45 s for 3 x 10 Mb of
            20 haplotypes.
        smc_params : dict, default=None
            Other keyword arguments of :func:`smc_ne` (``max_pairs``, ``smoothing``,
            ``ridge``, ``bin_size``, ...).
        summary_pairs : int or None, default=64
            Pairs (of each group of 20 haplotypes) the decoder's summary pools, drawn at
            random per chromosome (``ne_summary(max_pairs=)``): the decoder's training
            summaries pooled 64 of the 190. None: all 190, three times the network's time
            (14 -> 4.5 s CPU on 3 x 10 Mb) for the same decoder (log10-RMSE within 0.003
            on ne_accuracy (a)-(c)). NeSummary items in X keep the pairs they were made
            with (``ne_summary(max_pairs=None)``: all).
        random_state : int or None

        Returns
        -------
        NePosterior
            N_e in diploid individuals per interval of :data:`NE_TIME_GRID` (generations);
            ``method`` says which; ``"smc"``'s ``info`` holds its fit (the penalised
            objective along the EM, recombination rate, pairs, bins, E-steps; ``"events"``,
            the data's coalescing tracts per interval, and ``"boot_sd"``),
            ``"decoder"``: the decoder's own NePosterior, and ``"model_error"``: the
            calibrated log10 sd added to the draws.
        """
        check_is_fitted(self)
        if method not in ("smc", "decoder"):
            raise ValueError(f"method is {method!r}; expected 'smc' or 'decoder'.")
        if summary_pairs is not None:
            check_count(summary_pairs, "summary_pairs", minimum=1)
        if getattr(self, "ne_decoder_", None) is None:
            raise ValueError("this estimator has no N_e(t) decoder (ne_decoder_ is None); "
                             "train one with fit_ne_decoder() or use the shipped preset "
                             "MainspringARGEstimator.pretrained().")
        items = X if isinstance(X, (list, tuple)) and not (
            len(X) == 2 and isinstance(X[0], np.ndarray)) else [X]
        if accessible is not None and len(items) > 1:
            raise ValueError(f"accessible= is given with {len(items)} chromosomes; expected "
                             "one X (pass their NeSummary objects instead).")
        if method == "smc" and any(isinstance(x, NeSummary) for x in items):
            raise ValueError("method='smc' reads the genotypes, and X holds NeSummary "
                             "objects; pass the chromosomes themselves, or method='decoder'.")
        # each chromosome read once (a VCF is parsed here, not again for the SMC)
        genotypes = [None if isinstance(x, NeSummary) else as_genotypes(x) for x in items]
        rng = check_random_state(random_state)
        summary = sum(x if gt is None else self.ne_summary(
            gt[:2], sequence_length=gt[2], mutation_rate=mutation_rate,
            accessible=accessible, max_pairs=summary_pairs,
            random_state=rng.randint(2 ** 31)) for x, gt in zip(items, genotypes))
        decoder = decoder_posterior(self.ne_decoder_, summary, n_draws, random_state)
        if method == "decoder":
            return decoder
        from ._smc import smc_ne
        from ._smc_error import calibrated_error

        mu = self._rate("mutation_rate", mutation_rate, self.mutation_rate)
        r = None if recombination_rate is None else self._rate(
            "recombination_rate", recombination_rate, None)
        # the error the bootstrap misses, as measured on simulations of the prior
        kwargs = {"n_draws": n_draws, "random_state": random_state,
                  "model_error": lambda point, evidence: calibrated_error(
                      decoder, point, evidence["events"]),
                  **(smc_params or {})}
        taken = {"reference", "recombination_rate", "accessible", "grid"} & set(kwargs)
        if taken:
            raise ValueError(f"smc_params holds {sorted(taken)}; predict_ne sets those "
                             "(the decoder's grid and median; its own arguments).")
        post = smc_ne(genotypes, mu, recombination_rate=r, reference=decoder.median,
                      accessible=None if accessible is None else [accessible], **kwargs)
        post.info["decoder"] = decoder
        # two estimates of one history: say so when they part
        lo, hi = decoder.quantiles([0.05, 0.95])
        inside = (post.times > 1e2) & (post.times < 1e5)
        apart = inside & ((post.samples[0] < lo) | (post.samples[0] > hi))
        post.info["outside_decoder_band"] = int(apart.sum())
        if apart.sum() > inside.sum() / 3:
            warnings.warn(f"the SMC estimate lies outside the decoder's 90 % band on "
                          f"{int(apart.sum())} of {int(inside.sum())} intervals within "
                          "1e2-1e5 generations: the data may lie outside the decoder's "
                          "prior, or hold too little sequence for the SMC likelihood; "
                          "compare post.info['decoder'].", stacklevel=2)
        return post

    def fit_ne_decoder(self, n_simulations=1200, *, out_dir, chromosomes=3, length=4e6,
                       prior=None, chunk=20, n_jobs=None, max_epochs=400, random_state=0,
                       progress=False, **kwargs):
        """Train the N_e(t) decoder (:class:`NeDecoder`) on ``n_simulations`` histories of
        ``prior`` (default :data:`NE_PRIOR`), each ``chromosomes`` x ``length`` bp of 20
        haplotypes summarised by this (trained) network; the simulations are cached in
        ``out_dir`` (resumable, :func:`ne_training_set`). Other keyword arguments go to
        :func:`train_ne_decoder`. Sets ``ne_decoder_`` and ``ne_decoder_history_``;
        :meth:`save` keeps them."""
        from ._ne_training import ne_training_set, train_ne_decoder

        check_is_fitted(self)
        targets, summaries = ne_training_set(
            self, n_simulations, out_dir=out_dir, chromosomes=chromosomes, length=length,
            mutation_rate=self.mutation_rate, prior=prior, chunk=chunk, n_jobs=n_jobs,
            random_state=random_state, progress=progress)
        self.ne_decoder_, history = train_ne_decoder(
            targets, summaries, max_epochs=max_epochs, random_state=random_state, **kwargs)
        self.ne_decoder_history_ = [{k: v for k, v in row.items() if k != "batches"}
                                    for row in plain_history(history)]
        return self

    def _decoder_content(self):
        if getattr(self, "ne_decoder_", None) is None:
            return {}
        config = dict(self.ne_decoder_.config, members=len(self.ne_decoder_.members))
        return {"ne_decoder": {"config": config,
                               # half precision: the file stays a few MB
                               "state_dict": {k: v.cpu().half() if v.is_floating_point()
                                              else v.cpu() for k, v in
                                              self.ne_decoder_.state_dict().items()},
                               "history": getattr(self, "ne_decoder_history_", [])}}

    def _load_decoder(self, ckpt):
        """Restore the decoder a :meth:`save` file holds (none: ``ne_decoder_`` is None)."""
        self.ne_decoder_ = None
        dec = ckpt.get("ne_decoder")
        if dec:
            self.ne_decoder_ = NeDecoderEnsemble(**dec["config"])
            self.ne_decoder_.load_state_dict({k: v.float() if v.is_floating_point() else v
                                              for k, v in dec["state_dict"].items()})
            self.ne_decoder_.eval()
            self.ne_decoder_history_ = dec.get("history", [])
