"""One-population families: piecewise-constant histories and the classic dadi/moments models."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_count
from ._base import DemographicModel, _epochs_builder
from ._bounds import ONE_POP_SIZE_BOUNDS, TIME_BOUNDS

__all__ = ["PiecewiseConstant", "PiecewiseExponential", "TwoEpoch", "ThreeEpoch",
           "Bottlegrowth", "Growth"]


def _one_deme(N_ref, epochs):
    """A single deme "pop0": equilibrium ancestor of size N_ref, then ``epochs``.

    ``epochs`` is a list of ``(start_size, end_size, duration_in_generations)``, oldest first.
    """
    b = _epochs_builder()
    durations = [d for *_, d in epochs]
    # end time of each epoch = the summed durations of the later ones (exactly 0 at the end)
    ends = [float(sum(durations[i + 1 :])) for i in range(len(epochs))]
    demes_epochs = [dict(start_size=N_ref, end_time=float(sum(durations)))]
    for (start, end, _), end_time in zip(epochs, ends):
        demes_epochs.append(dict(start_size=start, end_size=end, end_time=end_time))
    b.add_deme("pop0", epochs=demes_epochs)
    return b.resolve()


class PiecewiseConstant(DemographicModel):
    """One population with ``n_epochs`` epochs of constant size after an equilibrium ancestor.

    Forward in time: the ancestral population (size 1) changes to size ``nu1`` for a time
    ``T1``, then to ``nu2`` for ``T2``, ..., and ends with ``nu{K}`` for ``T{K}`` up to the
    present. Parameters, in order: ``nu1..nuK, T1..TK`` (sizes relative to ``N_ref``, durations
    in ``2 * N_ref`` generations).

    The prior is the design's: ``ln(nu) ~ Normal(0, 1.5)`` and ``T ~ Exponential(mean 0.5)``,
    each truncated to its bounds (by redrawing).

    A history of fewer epochs ``k`` is exactly a ``K``-epoch history whose oldest ``K - k``
    epochs keep the ancestral size 1 (:meth:`pad_params`). With ``padded_prior=True`` every
    draw has ``k ~ Uniform{1..K}`` active epochs padded that way, so one emulator trained on
    this model serves every ``k <= K``.

    Parameters
    ----------
    n_epochs : int, default=1
        Number of epochs ``K`` after the ancestor.
    padded_prior : bool, default=False
        Draw the number of active epochs uniformly in ``1..K`` and pad with neutral epochs
        (size 1, durations from the prior).
    bounds : dict, default=None
        Overrides of the default bounds (sizes ``[1e-3, 100]``, durations ``[1e-4, 5]``).

    Examples
    --------
    >>> from sfsestimators.models import PiecewiseConstant
    >>> model = PiecewiseConstant(n_epochs=2)
    >>> model.param_names
    ('nu1', 'nu2', 'T1', 'T2')
    >>> theta = model.sample_prior(3, random_state=0)
    >>> model.expected_sfs(theta[0], [20]).shape
    (21,)
    """

    def __init__(self, n_epochs=1, *, padded_prior=False, bounds=None):
        self.n_epochs = n_epochs
        self.padded_prior = padded_prior
        self.bounds = bounds

    def _k(self):
        k = self.n_epochs
        if not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_epochs is {k!r}; expected an integer >= 1.")
        return int(k)

    def _parameter_table(self):
        k = self._k()
        sizes = [(f"nu{i + 1}", *ONE_POP_SIZE_BOUNDS, "log") for i in range(k)]
        times = [(f"T{i + 1}", *TIME_BOUNDS, "log") for i in range(k)]
        return sizes + times

    def _graph(self, p, N_ref):
        k = self._k()
        epochs = []
        for i in range(1, k + 1):
            size = N_ref * p[f"nu{i}"]
            epochs.append((size, size, 2 * N_ref * p[f"T{i}"]))
        return _one_deme(N_ref, epochs)

    def sample_prior(self, n, random_state=None):
        n = check_count(n, "n")
        rng = check_random_state(random_state)
        k = self._k()
        bounds = self.bounds_
        out = np.empty((n, 2 * k))
        for j in range(2 * k):
            lo, hi = bounds[j]
            draw = (
                (lambda m: np.exp(rng.normal(0.0, 1.5, m)))
                if j < k
                else (lambda m: rng.exponential(0.5, m))
            )
            col = draw(n)
            bad = (col < lo) | (col > hi)
            while bad.any():
                col[bad] = draw(int(bad.sum()))
                bad = (col < lo) | (col > hi)
            out[:, j] = col
        if self.padded_prior:
            active = rng.randint(1, k + 1, size=n)
            neutral = np.arange(k)[None, :] < (k - active)[:, None]
            out[:, :k] = np.where(neutral, 1.0, out[:, :k])
        return out

    def log_prior_transformed(self, u):
        """Log density of the prior on ``(log nu, log T)``, up to a constant.

        ``log nu ~ Normal(0, 1.5)``; ``T ~ Exponential(mean 0.5)``, so ``log T`` has density
        ``exp(log T - 2 T)``; truncated to the bounds. The point masses of ``padded_prior``
        (neutral epochs) are not part of it.
        """
        k = self._k()
        exp = np.exp if isinstance(u, np.ndarray) else type(u).exp
        sizes, times = u[..., :k], u[..., k:]
        return -(sizes ** 2).sum(-1) / (2 * 1.5 ** 2) + (times - 2 * exp(times)).sum(-1)

    def pad_params(self, params, n_epochs_from):
        """Express ``n_epochs_from``-epoch parameters as parameters of this model.

        The oldest missing epochs get size 1 (the ancestral size, so nothing changes) and a
        duration of 0.1; the history, and so the spectrum, is the same.

        Parameters
        ----------
        params : array-like of shape (2 * n_epochs_from,) or (n, 2 * n_epochs_from)
        n_epochs_from : int

        Examples
        --------
        >>> from sfsestimators.models import PiecewiseConstant
        >>> PiecewiseConstant(3).pad_params([0.5, 0.2], 1).tolist()
        [1.0, 1.0, 0.5, 0.1, 0.1, 0.2]
        """
        k, j = self._k(), int(n_epochs_from)
        arr = np.asarray(params, dtype=float)
        if not 1 <= j <= k or arr.shape[-1] != 2 * j:
            raise ValueError(
                f"params has {arr.shape[-1]} values for n_epochs_from={n_epochs_from}, and "
                f"this model has {k} epochs; expected 2 * n_epochs_from values, "
                f"n_epochs_from <= {k}."
            )
        lead = arr.shape[:-1] + (k - j,)
        return np.concatenate(
            [np.ones(lead), arr[..., :j], np.full(lead, 0.1), arr[..., j:]], axis=-1
        )


class TwoEpoch(DemographicModel):
    """Instantaneous size change: size ``nu`` for the last ``T`` (moments' ``two_epoch``).

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import TwoEpoch
    >>> fs = TwoEpoch().expected_sfs([2.0, 0.1], [10])
    >>> round(float(fs.S()), 3)
    3.054
    """

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [("nu", *ONE_POP_SIZE_BOUNDS, "log"), ("T", *TIME_BOUNDS, "log")]

    def _graph(self, p, N_ref):
        size = N_ref * p["nu"]
        return _one_deme(N_ref, [(size, size, 2 * N_ref * p["T"])])


class ThreeEpoch(DemographicModel):
    """Size ``nuB`` for ``TB``, then ``nuF`` for ``TF`` (moments' ``three_epoch``).

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import ThreeEpoch
    >>> ThreeEpoch().param_names
    ('nuB', 'nuF', 'TB', 'TF')
    """

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nuB", *ONE_POP_SIZE_BOUNDS, "log"),
            ("nuF", *ONE_POP_SIZE_BOUNDS, "log"),
            ("TB", *TIME_BOUNDS, "log"),
            ("TF", *TIME_BOUNDS, "log"),
        ]

    def _graph(self, p, N_ref):
        nuB, nuF = N_ref * p["nuB"], N_ref * p["nuF"]
        return _one_deme(
            N_ref, [(nuB, nuB, 2 * N_ref * p["TB"]), (nuF, nuF, 2 * N_ref * p["TF"])]
        )


class Bottlegrowth(DemographicModel):
    """Instantaneous bottleneck to ``nuB`` a time ``T`` ago, then exponential growth to ``nuF``.

    Same parameters as moments' ``bottlegrowth``: ``(nuB, nuF, T)``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import Bottlegrowth
    >>> Bottlegrowth().expected_sfs([0.1, 2.0, 0.1], [8]).shape
    (9,)
    """

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nuB", *ONE_POP_SIZE_BOUNDS, "log"),
            ("nuF", *ONE_POP_SIZE_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
        ]

    def _graph(self, p, N_ref):
        return _one_deme(N_ref, [(N_ref * p["nuB"], N_ref * p["nuF"], 2 * N_ref * p["T"])])


class Growth(DemographicModel):
    """Exponential growth from the ancestral size 1 to ``nu`` over the last ``T`` (dadi's
    ``growth``).

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import Growth
    >>> Growth().param_names
    ('nu', 'T')
    """

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [("nu", *ONE_POP_SIZE_BOUNDS, "log"), ("T", *TIME_BOUNDS, "log")]

    def _graph(self, p, N_ref):
        return _one_deme(N_ref, [(N_ref, N_ref * p["nu"], 2 * N_ref * p["T"])])


class PiecewiseExponential(DemographicModel):
    """One population whose size changes exponentially within each of ``n_epochs`` epochs.

    Forward in time: from the ancestral size 1, the size moves exponentially to ``nu1`` over
    ``T1``, then from ``nu1`` to ``nu2`` over ``T2``, ..., to ``nu{K}``; with
    ``final_constant=True`` it then stays at ``nu{K}`` for a last ``T{K+1}``. A continuous,
    piecewise log-linear history: ``PiecewiseExponential(5, final_constant=True)`` is the
    ZigZag model of Schiffels and Durbin (2014) as in the ``1_ZigZag_11_Sim`` benchmark
    (parameters ``nu1..nu5, t1..t6``). Parameters ``nu1..nuK, T1..TK[, T{K+1}]`` (sizes
    relative to ``N_ref``, durations in ``2 * N_ref`` generations).

    Parameters
    ----------
    n_epochs : int, default=2
    final_constant : bool, default=False
        Add a last epoch of constant size ``nu{K}`` (one more duration parameter).
    bounds : dict, default=None
        Overrides of the default bounds (sizes ``[1e-3, 100]``, durations ``[1e-4, 5]``).

    Examples
    --------
    >>> from sfsestimators.models import PiecewiseExponential
    >>> model = PiecewiseExponential(n_epochs=2)
    >>> model.param_names
    ('nu1', 'nu2', 'T1', 'T2')
    >>> model.expected_sfs([0.1, 2.0, 0.2, 0.05], [10]).shape
    (11,)
    >>> PiecewiseExponential(5, final_constant=True).n_params
    11
    """

    def __init__(self, n_epochs=2, *, final_constant=False, bounds=None):
        self.n_epochs = n_epochs
        self.final_constant = final_constant
        self.bounds = bounds

    def _parameter_table(self):
        k = self.n_epochs
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"n_epochs is {k!r}; expected an integer >= 1.")
        n_times = k + 1 if self.final_constant else k
        return ([(f"nu{i + 1}", *ONE_POP_SIZE_BOUNDS, "log") for i in range(k)]
                + [(f"T{i + 1}", *TIME_BOUNDS, "log") for i in range(n_times)])

    def _graph(self, p, N_ref):
        k = int(self.n_epochs)
        epochs, start = [], N_ref
        for i in range(1, k + 1):
            end = N_ref * p[f"nu{i}"]
            epochs.append((start, end, 2 * N_ref * p[f"T{i}"]))
            start = end
        if self.final_constant:
            epochs.append((start, start, 2 * N_ref * p[f"T{k + 1}"]))
        return _one_deme(N_ref, epochs)
