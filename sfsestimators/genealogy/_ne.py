"""N_e(t) from pairwise coalescence times: the piecewise-constant hazard estimate, and its
posterior from Mainspring's predicted (log-normal) times.

Two haplotypes of a population of N_e(t) diploids coalesce at rate 1 / (2 N_e(t)) per
generation. On a grid of time intervals, the maximum-likelihood rate of interval k given
coalescence times is ``events_k / exposure_k`` (exposure: the total time pairs spent
uncoalesced inside it), so ``N_k = exposure_k / (2 events_k)``; a random-walk penalty on
log N_e between neighbouring intervals smooths it and keeps it finite where no pair
coalesced.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["NE_TIME_GRID", "NePosterior", "ne_from_times", "ne_posterior"]

#: interval edges of the N_e(t) estimate: 32 log-spaced times over 10^1.5 - 10^5.5 generations
NE_TIME_GRID = np.geomspace(10 ** 1.5, 10 ** 5.5, 33)


def ne_from_times(times, *, grid=NE_TIME_GRID, smoothing=100.0, weights=None):
    """Piecewise-constant N_e on ``grid`` (generations) from pairwise coalescence times.

    The penalised maximum likelihood of the pairs' coalescence in each interval,
    ``sum_k events_k log(lambda_k) - exposure_k lambda_k`` with ``lambda_k = 1 / (2 N_k)``,
    minus ``smoothing * sum_k (log N_k+1 - log N_k)^2`` (a random walk on log N_e, as the
    smoothing of PSMC-like methods): convex in log N, solved by Newton's method on the
    tridiagonal system. Intervals no pair reached take their neighbours' size.

    Parameters
    ----------
    times : array-like
        Pairwise coalescence times in generations (any shape; all are used).
    grid : ndarray of shape (K + 1,)
        Interval edges; times below the first edge count from 0, above the last are
        censored there.
    smoothing : float, default=100.0
        Weight of the random-walk penalty (per squared change of ln N between intervals).
    weights : array-like or None, default=None
        How many pairs each time stands for (e.g. the counts of a histogram of times, with
        ``times`` its bin centres); default one each.

    Returns
    -------
    ndarray of shape (K,)
        N_e in each interval (diploid individuals).
    """
    t = np.asarray(times, dtype=float).ravel()
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float).ravel()
    keep = np.isfinite(t) & (t > 0) & (w > 0)
    t, w = t[keep], w[keep]
    if not len(t):
        raise ValueError("times holds no positive finite coalescence time.")
    edges = np.concatenate([[0.0], np.asarray(grid, dtype=float)[1:]])
    # exposure of every pair in every interval: overlap of [0, t) with [edge_k, edge_k+1)
    exposure = w @ (np.clip(t[:, None], edges[None, :-1], edges[None, 1:]) - edges[None, :-1])
    early = t < edges[-1]  # later: censored
    events = np.histogram(t[early], bins=edges, weights=w[early])[0].astype(float)
    k = len(events)
    diff = np.diff(np.eye(k), axis=0)
    penalty = 2 * smoothing * diff.T @ diff
    u = np.full(k, np.log(np.average(t, weights=w) / 2))  # ln N; a constant size has E[t] = 2 N
    for _ in range(100):
        rate_term = exposure * np.exp(-u) / 2  # expected events at N = e^u
        grad = events - rate_term + penalty @ u
        hess = np.diag(rate_term) + penalty + 1e-9 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        u = u - np.clip(step, -2.0, 2.0)
        if np.max(np.abs(step)) < 1e-8:
            break
    return np.exp(u)


class NePosterior(NamedTuple):
    """N_e(t) draws on a time grid (what ``predict(X).ne`` holds).

    Attributes
    ----------
    grid : ndarray of shape (K + 1,)
        Interval edges (generations).
    samples : ndarray of shape (n_draws, K)
        N_e (diploid individuals) per interval and draw.
    method : str
        ``"decoder"``: draws of the learnt flow (:class:`NeDecoder`); ``"hazard"``: the
        hazard estimate re-run on draws of the predicted pairwise times (:func:`ne_posterior`);
        ``"smc"``: bootstrap draws of the pairwise SMC' composite likelihood (:func:`smc_ne`).
    info : dict or None
        What the method reports of its fit (``"smc"``: the log-likelihood per EM iteration,
        the recombination rate, pairs and bins).

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.genealogy import ne_posterior
    >>> rng = np.random.default_rng(0)
    >>> times = rng.exponential(2e4, size=(50, 45))  # pairwise times of N_e = 1e4
    >>> post = ne_posterior(np.log(times), np.full(times.shape, 0.01), random_state=0)
    >>> bool(0.5e4 < post.median_at(3e3) < 2e4)
    True
    """

    grid: np.ndarray
    samples: np.ndarray
    method: str = "hazard"
    info: dict | None = None

    @property
    def times(self):
        """Interval midpoints on the log scale (generations)."""
        return np.sqrt(self.grid[:-1] * self.grid[1:])

    @property
    def median(self):
        return np.median(self.samples, axis=0)

    def quantiles(self, q):
        """N_e quantiles per interval: array of shape (len(q), K)."""
        return np.quantile(self.samples, np.atleast_1d(q), axis=0)

    def _at(self, values, t):
        index = np.clip(np.searchsorted(self.grid, np.asarray(t, dtype=float)) - 1, 0,
                        len(self.grid) - 2)
        return values[..., index]

    def median_at(self, t):
        """The median N_e at times ``t`` (generations)."""
        return self._at(self.median, t)

    def band_at(self, t, level=0.9):
        """The central ``level`` band at times ``t``: (lower, upper)."""
        lo, hi = self.quantiles([(1 - level) / 2, (1 + level) / 2])
        return self._at(lo, t), self._at(hi, t)

    def sample(self, n, random_state=None):
        """``n`` of the draws, with replacement: (n, K)."""
        rng = check_random_state(random_state)
        return self.samples[rng.randint(len(self.samples), size=n)]

    def in_years(self, generation_time):
        """The grid in years (the sizes are unchanged)."""
        return self._replace(grid=self.grid * float(generation_time))


def ne_posterior(log_tmrca, log_tmrca_sd, *, grid=NE_TIME_GRID, n_draws=100,
                 random_state=None):
    """N_e(t) draws from predicted log-normal pairwise times (any shape): each draw samples
    every pair-window's time from its predicted distribution and re-estimates N_e."""
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
    mean = np.asarray(log_tmrca, dtype=float).ravel()
    sd = np.asarray(log_tmrca_sd, dtype=float).ravel()
    draws = np.stack([ne_from_times(np.exp(mean + sd * rng.standard_normal(mean.shape)),
                                    grid=grid) for _ in range(n_draws)])
    return NePosterior(np.asarray(grid, dtype=float), draws)
