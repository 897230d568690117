"""Local refinement: a correction of the emulator near the fit, learnt from parallel teacher
calls, and the re-optimisation through it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._scales import safe_log
from ._optimize import lbfgs

__all__ = ["LocalCorrection", "RefinementReport", "refine"]


class LocalCorrection:
    """A smooth correction of the emulator's log spectrum near a fit, learnt from the teacher.

    ``c(u) = phi(w) @ coef`` with ``w = L^-1 (u - center)`` clamped to the box the design
    points span (so it never extrapolates), and ``phi`` = (1, w) or (1, w, w_i w_j, i <= j).
    The corrected spectrum is ``emulator(u) * exp(c(u))``.
    """

    def __init__(self, center, chol_inv, radius, coef, quadratic):
        self.center = torch.as_tensor(center, dtype=torch.float64)
        self.chol_inv = torch.as_tensor(chol_inv, dtype=torch.float64)
        self.radius = torch.as_tensor(radius, dtype=torch.float64)
        self.coef = torch.as_tensor(coef, dtype=torch.float64)  # (n_features, *spectrum)
        self.quadratic = quadratic

    def whiten(self, u):
        """Whitened coordinates ``L^-1 (u - center)`` of points ``u`` (n, p)."""
        return (torch.as_tensor(u, dtype=torch.float64) - self.center) @ self.chol_inv.T

    def contains(self, u):
        """Whether each point ``u`` (n, p) lies in the box the design spans."""
        return (self.whiten(u).abs() <= self.radius).all(dim=1).numpy()

    @staticmethod
    def features(w, quadratic):
        parts = [torch.ones_like(w[:, :1]), w]
        if quadratic:
            i, j = torch.triu_indices(w.shape[1], w.shape[1])
            parts.append(w[:, i] * w[:, j])
        return torch.cat(parts, dim=1)

    def __call__(self, u):
        w = torch.maximum(torch.minimum(self.whiten(u), self.radius), -self.radius)
        phi = self.features(w, self.quadratic)
        return (phi @ self.coef.reshape(len(self.coef), -1)).reshape(
            (len(u),) + tuple(self.coef.shape[1:]))


@dataclass
class RefinementReport:
    """What the local refinement did (``DemographyFitter.refinement_``).

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        The best parameters by the exact likelihood.
    loglik : float
        Exact log-likelihood there.
    correction : LocalCorrection or None
        The last round's correction of the emulator.
    n_evaluations, n_failed : int
        Teacher evaluations made and failed.
    failures : dict
        Failure reason -> count.
    quadratic : bool
        Whether the correction was quadratic (else linear).
    best_design_loglik : list of float
        The best exact log-likelihood among the design points after each round.
    """

    theta: np.ndarray
    loglik: float
    correction: LocalCorrection | None
    n_evaluations: int
    n_failed: int
    failures: dict = field(default_factory=dict)
    quadratic: bool = False
    best_design_loglik: list = field(default_factory=list)


def _design_cholesky(info, lo, hi):
    """Cholesky factor of the design covariance: the inverse information, its variances kept
    within [1e-4^2, (span / 4)^2] so flat or sharp directions still get sensible steps."""
    d = len(info)
    vals, vecs = np.linalg.eigh(info + 1e-12 * np.eye(d))
    var = np.clip(1.0 / np.maximum(vals, 1e-300), 1e-8, (np.min(hi - lo) / 4) ** 2)
    return np.linalg.cholesky((vecs * var) @ vecs.T + 1e-14 * np.eye(d))


def _fit_correction(design, residuals, u_c, chol, scale, quadratic):
    """Weighted least squares of the log-ratios on (1, w[, w w^T]), in this round's
    whitened coordinates, weighted towards its centre: earlier, wider rounds only inform."""
    U = np.asarray(design)
    d = U.shape[1]
    chol_inv = np.linalg.inv(chol)
    w = (U - u_c) @ chol_inv.T
    phi = LocalCorrection.features(torch.as_tensor(w), quadratic).numpy()
    R = np.asarray(residuals).reshape(len(U), -1)
    weight = np.exp(-0.5 * np.sum(w ** 2, axis=1) / (d * (2 * scale) ** 2))
    gram = phi.T @ (weight[:, None] * phi)
    coef = np.linalg.solve(gram + 1e-8 * np.trace(gram) / len(gram) * np.eye(len(gram)),
                           phi.T @ (weight[:, None] * R))
    return LocalCorrection(u_c, chol_inv, np.abs(w).max(axis=0),
                           coef.reshape((len(coef),) + residuals[0].shape), quadratic)


def refine(surface, exact, theta, n_evaluations, rng, *, max_iter=200):
    """Learn a local correction of the emulator from ``n_evaluations`` teacher spectra around
    ``theta`` (three rounds, each evaluated in parallel), re-optimising after each round.

    Round r draws its points from N(u_c, (s_r)^2 I^-1) in the model's (log-)parameter space
    (u_c the current optimum, I the Fisher information there, s = 3, 2, 1; the first point is
    u_c itself), fits the log-ratio teacher / emulator of every entry as a quadratic (linear
    below ``2 (1 + p + p (p + 1) / 2)`` points) in the whitened parameters, and moves u_c to
    the optimum of the corrected likelihood.

    Parameters
    ----------
    surface : LikelihoodSurface
        The uncorrected emulator surface.
    exact : ExactLikelihood
    theta : ndarray of shape (n_params,)
        Where to start.
    n_evaluations : int
    rng : numpy.random.RandomState

    Returns
    -------
    RefinementReport
        Its ``theta`` is the best by the EXACT likelihood: the refined optimum, or a design
        point if one is better.
    """
    model, transform = surface.model, surface.transform
    lo, hi = transform.lo.numpy(), transform.hi.numpy()
    d = model.n_params
    quadratic = n_evaluations >= 2 * (1 + d + d * (d + 1) // 2)
    u_c = np.clip(model.transform(theta), lo, hi)
    design, residuals, exact_ll, history = [], [], [], []
    n_failed, failures = 0, {}
    correction = None
    scales = [3.0, 2.0, 1.0]
    sizes = [len(part) for part in np.array_split(np.arange(n_evaluations), len(scales))]
    for n_round, scale in zip(sizes, scales):
        if n_round == 0:
            continue
        current = surface.with_correction(correction)
        chol = _design_cholesky(current.fisher_information(u_c), lo, hi)
        eps = rng.standard_normal((n_round, d))
        eps[0] = 0.0
        u_new = np.clip(u_c + scale * eps @ chol.T, lo, hi)
        thetas = model.inverse_transform(u_new)
        lls, spectra, why = exact.evaluate(thetas)
        with torch.no_grad():
            emu = surface.spectrum(torch.as_tensor(thetas)).numpy()
        for u_i, ll, fs, e in zip(u_new, lls, spectra, emu):
            if fs is None:
                n_failed += 1
                continue
            ok = (fs > 0) & (e > 0)
            design.append(u_i)
            residuals.append(safe_log(fs, ok) - safe_log(e, ok))
            exact_ll.append(ll)
        for reason in filter(None, why):
            key = reason.split(":")[0]
            failures[key] = failures.get(key, 0) + 1
        if len(design) < d + 2:
            break
        correction = _fit_correction(design, residuals, u_c, chol, scale, quadratic)
        corrected = surface.with_correction(correction)
        z = transform.z_from_theta(model.inverse_transform(u_c)[None]).clone()
        z.requires_grad_(True)
        lbfgs(lambda z=z, f=corrected: -f.loglik_u(transform.u_from_z(z)).sum(), z, max_iter)
        u_c = transform.u_from_z(z.detach())[0].numpy()
        history.append(float(np.max(exact_ll)))
    theta_new = model.inverse_transform(u_c)
    ll_new = float(exact.evaluate(theta_new[None])[0][0])
    best = int(np.argmax(exact_ll)) if exact_ll else None
    if best is not None and exact_ll[best] > ll_new:
        theta_new, ll_new = model.inverse_transform(np.asarray(design[best])), exact_ll[best]
    return RefinementReport(
        theta=theta_new, loglik=float(ll_new), correction=correction,
        n_evaluations=n_evaluations + 1, n_failed=n_failed, failures=failures,
        quadratic=quadratic, best_design_loglik=history)
