"""The exact teacher's likelihood (moments), in parallel, and the sequential polish."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize

from ..likelihood import multinomial_loglik
from ..teacher import evaluate_teacher

__all__ = ["ExactLikelihood", "PolishReport", "polish"]


class ExactLikelihood:
    """The multinomial log-likelihood of ``sfs`` under ``model``'s exact expected spectrum.

    Teacher evaluations never raise: a failed one scores ``-inf`` and its reason is counted
    in :attr:`failures` (reason -> count), so nothing is lost silently.

    Parameters
    ----------
    model : DemographicModel
    sfs : moments.Spectrum
    n_jobs : int, default=None
        joblib workers for :meth:`evaluate`; honours ``joblib.parallel_config``.
    dt_fac : float, default=None
        moments' integration time-step factor (None: its default).
    cache_dir : str or path-like, default=None
        Where every evaluation is stored (one ``.npz`` per parameter vector, named by a hash
        of the model, sample sizes, ``dt_fac`` and the parameters, written atomically): a
        rerun of an interrupted fit with the same ``random_state`` replays them instead of
        calling the teacher again. :attr:`n_cached` counts the evaluations read back.
    """

    def __init__(self, model, sfs, *, n_jobs=None, dt_fac=None, cache_dir=None):
        self.model, self.sfs, self.n_jobs, self.dt_fac = model, sfs, n_jobs, dt_fac
        self.sizes = [int(s) for s in sfs.sample_sizes]
        self.n_evaluations = 0
        self.n_cached = 0
        self.failures = Counter()
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        if self.cache_dir is not None:
            os.makedirs(self.cache_dir, exist_ok=True)
        self._prefix = f"{model!r}|{self.sizes}|{dt_fac!r}|".encode()

    def _path(self, theta):
        key = hashlib.sha1(self._prefix + np.asarray(theta, dtype=np.float64).tobytes())
        return os.path.join(self.cache_dir, f"{key.hexdigest()}.npz")

    def _teacher(self, thetas):
        """(spectrum or None, reason) per row: from the cache where stored, else computed
        in parallel and stored."""
        paths = [self._path(t) for t in thetas] if self.cache_dir else [None] * len(thetas)
        out = [None] * len(thetas)
        for i, path in enumerate(paths):
            if path is not None and os.path.exists(path):
                with np.load(path) as f:
                    out[i] = (f["sfs"] if f["ok"] else None, str(f["reason"]) or None)
                self.n_cached += 1
        todo = [i for i in range(len(thetas)) if out[i] is None]
        computed = Parallel(n_jobs=self.n_jobs if len(todo) > 1 else None)(
            delayed(evaluate_teacher)(self.model, thetas[i], self.sizes, dt_fac=self.dt_fac)
            for i in todo)
        for i, (fs, reason) in zip(todo, computed):
            out[i] = (fs, reason)
            if paths[i] is not None:
                partial = paths[i] + ".partial.npz"
                np.savez(partial, sfs=fs if fs is not None else np.zeros(0),
                         ok=fs is not None, reason=reason or "")
                os.replace(partial, paths[i])
        return out

    def _score(self, fs):
        if fs is None:
            return -np.inf
        ll = float(multinomial_loglik(fs, self.sfs))
        return ll if np.isfinite(ll) else -np.inf

    def evaluate(self, thetas):
        """Exact log-likelihoods at ``thetas`` (n, p) in parallel (-inf where the teacher
        failed), the spectra (None where it failed) and the failure reasons."""
        thetas = np.atleast_2d(thetas)
        out = self._teacher(thetas)
        spectra, reasons = [o[0] for o in out], [o[1] for o in out]
        self.n_evaluations += len(thetas)
        self.failures.update(r.split(":")[0] for r in reasons if r)
        return np.array([self._score(f) for f in spectra]), spectra, reasons

    def __call__(self, theta):
        """The exact log-likelihood at one parameter vector (sequential)."""
        fs, reason = self._teacher(np.atleast_2d(theta))[0]
        self.n_evaluations += 1
        if reason:
            self.failures[reason.split(":")[0]] += 1
        return self._score(fs)

    def spectrum(self, theta):
        """The exact expected spectrum (theta = 1) at ``theta``."""
        return self.model.expected_sfs(theta, self.sizes, dt_fac=self.dt_fac)


@dataclass
class PolishReport:
    """What the exact Nelder-Mead polish did.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
    loglik : float
        Exact log-likelihood at ``theta``.
    n_evaluations : int
        Exact (teacher) evaluations.
    success : bool
        Whether Nelder-Mead met its tolerances within ``maxfev``.
    message : str
    """

    theta: np.ndarray
    loglik: float
    n_evaluations: int
    success: bool
    message: str


def polish(exact, theta0, *, maxfev=300):
    """Nelder-Mead on the exact likelihood in the (log-)parameter space, within the bounds."""
    model = exact.model
    lo, hi = model.transform(model.lower_bound), model.transform(model.upper_bound)
    u0 = np.clip(model.transform(theta0), lo, hi)

    def negll(u):
        return -exact(model.inverse_transform(np.clip(u, lo, hi)))

    step = np.where(u0 + 0.05 < hi, 0.05, -0.05)
    simplex = np.vstack([u0] + [u0 + step[i] * np.eye(len(u0))[i] for i in range(len(u0))])
    res = minimize(negll, u0, method="Nelder-Mead", bounds=list(zip(lo, hi)),
                   options=dict(maxfev=maxfev, xatol=1e-4, fatol=1e-5,
                                initial_simplex=simplex))
    return PolishReport(theta=model.inverse_transform(np.clip(res.x, lo, hi)),
                        loglik=-float(res.fun), n_evaluations=int(res.nfev),
                        success=bool(res.success), message=str(res.message))
