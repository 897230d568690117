"""Sequential (trust-region) refinement: the emulator corrected near the fit by parallel
teacher calls, re-optimised, the region grown or shrunk by how well it predicted."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._scales import safe_log
from ._optimize import lbfgs

__all__ = ["LocalCorrection", "RefinementReport", "refine", "history_table"]


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
    """What the sequential refinement did (``DemographyFitter.refinement_``).

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
        Whether the last correction was quadratic (else linear).
    converged : bool
        Whether it stopped by the rule (exact gain < ``tol_gain`` and the corrected emulator's
        error there < ``tol_error``) rather than by the budget.
    history : list of dict
        One row per round: ``round``, ``teacher_calls`` (cumulative), ``exact_loglik`` (the
        best so far), ``gain`` (exact improvement of the round's step), ``predicted_gain``
        (the corrected emulator's), ``emulator_error`` (|corrected emulator - exact| at the
        step), ``radius`` (of the trust region, in standard deviations of the local
        Fisher information) and ``accepted``.
    """

    theta: np.ndarray
    loglik: float
    correction: LocalCorrection | None
    n_evaluations: int
    n_failed: int
    failures: dict = field(default_factory=dict)
    quadratic: bool = False
    converged: bool = False
    history: list = field(default_factory=list)

    def history_table(self):
        """The history as aligned text (one line per round)."""
        return history_table(self.history)


def history_table(history):
    """A refinement history (:attr:`RefinementReport.history`) as aligned text."""
    head = (f"{'round':>5} {'teacher':>8} {'exact LL':>12} {'gain':>9} {'predicted':>9} "
            f"{'emu error':>9} {'radius':>7} {'step':>5}")
    lines = [head, "-" * len(head)]
    for h in history:
        lines.append(
            f"{h['round']:>5} {h['teacher_calls']:>8} {h['exact_loglik']:>12.3f} "
            f"{h['gain']:>9.3f} {h['predicted_gain']:>9.3f} {h['emulator_error']:>9.3f} "
            f"{h['radius']:>7.3g} {'yes' if h['accepted'] else 'no':>5}")
    return "\n".join(lines)


def _design_cholesky(info, lo, hi):
    """Cholesky factor of the design covariance: the inverse information, its variances kept
    within [1e-4^2, (span / 4)^2] so flat or sharp directions still get sensible steps."""
    d = len(info)
    vals, vecs = np.linalg.eigh(info + 1e-12 * np.eye(d))
    var = np.clip(1.0 / np.maximum(vals, 1e-300), 1e-8, (np.min(hi - lo) / 4) ** 2)
    return np.linalg.cholesky((vecs * var) @ vecs.T + 1e-14 * np.eye(d))


def _fit_correction(design, residuals, u_c, chol, bandwidth, quadratic):
    """Weighted least squares of the log-ratios on (1, w[, w w^T]), in this round's
    whitened coordinates ``w``, with weights ``exp(-|w|^2 / (2 bandwidth^2))``: local to the
    current optimum, earlier and farther points only inform."""
    U = np.asarray(design)
    chol_inv = np.linalg.inv(chol)
    w = (U - u_c) @ chol_inv.T
    phi = LocalCorrection.features(torch.as_tensor(w), quadratic).numpy()
    R = np.asarray(residuals).reshape(len(U), -1)
    weight = _weights(w, bandwidth)
    gram = phi.T @ (weight[:, None] * phi)
    coef = np.linalg.solve(gram + 1e-8 * np.trace(gram) / len(gram) * np.eye(len(gram)),
                           phi.T @ (weight[:, None] * R))
    return LocalCorrection(u_c, chol_inv, np.abs(w).max(axis=0),
                           coef.reshape((len(coef),) + residuals[0].shape), quadratic)


def _weights(w, bandwidth):
    return np.exp(-0.5 * np.sum(w ** 2, axis=1) / bandwidth ** 2)


def _design(u_c, chol, spacing, rng, lo, hi):
    """``2 p`` points at +-``spacing`` standard deviations along random orthogonal directions
    of the local Fisher metric (central differences of every entry; cancel its curvature)."""
    d = len(u_c)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    steps = spacing * q.T @ chol.T
    return np.clip(np.vstack([u_c + steps, u_c - steps]), lo, hi)


def _effective_size(design, u_c, chol, bandwidth):
    """Kish's effective number of design points under the correction's weights."""
    weight = _weights((np.asarray(design) - u_c) @ np.linalg.inv(chol).T, bandwidth)
    return weight.sum() ** 2 / (weight ** 2).sum()


def _stalled(history, tol_gain, rounds=3):
    """The last ``rounds`` rounds together gained less than ``tol_gain`` exactly, each
    predicted to gain less: on large data the corrected emulator may stay more than
    ``tol_error`` off in absolute terms while the optimum no longer moves."""
    last = history[-rounds:]
    return len(last) == rounds and all(h["predicted_gain"] < tol_gain for h in last) and (
        last[-1]["exact_loglik"] - history[-rounds]["exact_loglik"] + last[0]["gain"]
        < tol_gain)


def _trust_step(corrected, transform, u_c, chol, radius, max_iter):
    """The corrected emulator's optimum within ``radius`` (whitened) of ``u_c``:
    ``u = u_c + L radius v / sqrt(1 + |v|^2)`` over unconstrained ``v``, within the bounds."""
    u0 = torch.as_tensor(u_c, dtype=torch.float64)
    L = torch.as_tensor(chol, dtype=torch.float64)

    def point(v):
        w = radius * v / torch.sqrt(1 + (v ** 2).sum())
        return torch.maximum(torch.minimum(u0 + L @ w, transform.hi), transform.lo)

    v = torch.zeros(len(u_c), dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        ll_c = float(corrected.loglik_u(u0[None])[0])
    lbfgs(lambda: -corrected.loglik_u(point(v)[None])[0], v, max_iter)
    with torch.no_grad():
        u_new = point(v)
        ll_new = float(corrected.loglik_u(u_new[None])[0])
        norm = float(radius * torch.sqrt((v ** 2).sum() / (1 + (v ** 2).sum())))
    return u_new.numpy(), ll_new - ll_c, ll_new, norm


def refine(surface, exact, theta, rng, *, max_evaluations, radius=2.0, max_radius=1024.0,
           tol_gain=0.1, tol_error=0.1, max_iter=200, callback=None):
    """Sequential trust-region refinement of the fit with the exact teacher.

    Each round evaluates, in parallel (``exact.n_jobs``), the step proposed by the previous
    round and ``2 p`` design points around it at +-``radius / 2`` standard deviations (of
    the corrected emulator's Fisher information there) along random orthogonal directions;
    fits the log-ratio teacher / emulator of every spectrum entry as a linear function of
    the whitened parameters (quadratic once the points near the centre number twice its
    terms), weighted towards the current optimum; and moves to the corrected emulator's
    optimum within ``radius`` standard deviations (the weights of the design points fall
    as ``exp(-|w|^2 / (2 radius^2))`` with their whitened distance ``|w|`` from it, so the
    corrected gradient there is the exact one). The step is accepted when the exact
    log-likelihood improves; ``radius`` doubles (up to ``max_radius``) when the exact gain is
    at least 3/4 of the predicted one and the step reached the boundary, and halves when it
    is below 1/4. It stops when a step was predicted to gain less than ``tol_gain``, gained
    less than that exactly, and the corrected emulator was within ``tol_error`` there (or
    the last three rounds together gained less than ``tol_gain``, each predicted to: the
    optimum no longer moves, on data so large that the corrected emulator stays more than
    ``tol_error`` off); or when ``max_evaluations`` teacher calls are spent.

    Parameters
    ----------
    surface : LikelihoodSurface
        The uncorrected emulator surface.
    exact : ExactLikelihood
    theta : ndarray of shape (n_params,)
        Where to start.
    rng : numpy.random.RandomState
    max_evaluations : int
        Teacher evaluations at most.
    radius, max_radius : float
        Initial and largest trust radius, in standard deviations.
    tol_gain, tol_error : float
        The stopping rule, in log-likelihood units.
    callback : callable, default=None
        Called with each history row.

    Returns
    -------
    RefinementReport
    """
    model, transform = surface.model, surface.transform
    lo, hi = transform.lo.numpy(), transform.hi.numpy()
    d = model.n_params
    n_quadratic = 1 + d + d * (d + 1) // 2
    u_c = np.clip(model.transform(theta), lo, hi)
    design, residuals = [], []
    n_failed, failures, n_used = 0, {}, 0
    correction, quadratic, converged = None, False, False
    ll_c, history = -np.inf, []
    proposal = (u_c, 0.0, np.nan, 0.0)  # point, predicted gain, predicted LL, step norm
    chol = _design_cholesky(surface.fisher_information(u_c), lo, hi)
    for n_round in range(1, 10 ** 6):
        u_new, predicted, ll_predicted, norm = proposal
        batch = np.vstack([u_new[None], _design(u_new, chol, radius / 2, rng, lo, hi)])
        batch = batch[: max(0, max_evaluations - n_used)]
        if len(batch) == 0:
            break
        thetas = model.inverse_transform(batch)
        lls, spectra, why = exact.evaluate(thetas)
        n_used += len(batch)
        with torch.no_grad():
            emu = surface.spectrum(torch.as_tensor(thetas)).numpy()
        for u_i, fs, e in zip(batch, spectra, emu):
            if fs is None:
                n_failed += 1
                continue
            ok = (fs > 0) & (e > 0)
            design.append(u_i)
            residuals.append(safe_log(fs, ok) - safe_log(e, ok))
        for reason in filter(None, why):
            key = reason.split(":")[0]
            failures[key] = failures.get(key, 0) + 1
        gain = float(lls[0] - ll_c) if n_round > 1 else 0.0
        accepted = n_round == 1 or gain > 0
        error = abs(ll_predicted - lls[0]) if n_round > 1 else np.nan
        if n_round > 1:
            rho = gain / predicted if predicted > 0 else -np.inf
            if rho < 0.25:
                radius = radius / 2
            elif rho > 0.75 and norm > 0.8 * radius:
                radius = min(2 * radius, max_radius)
        if accepted and np.isfinite(lls[0]):
            u_c, ll_c = u_new, float(lls[0])
        row = dict(round=n_round, teacher_calls=n_used, exact_loglik=ll_c, gain=gain,
                   predicted_gain=predicted, emulator_error=error, radius=radius,
                   accepted=accepted)
        history.append(row)
        if callback is not None:
            callback(row)
        if n_round > 1 and abs(gain) < tol_gain and predicted < tol_gain and (
                error < tol_error or _stalled(history, tol_gain)):
            converged = True
            break
        if len(design) < d + 2 or radius < 1e-3 or n_used >= max_evaluations:
            break
        current = surface.with_correction(correction)
        chol = _design_cholesky(current.fisher_information(u_c), lo, hi)
        quadratic = _effective_size(design, u_c, chol, radius) >= 2 * n_quadratic
        correction = _fit_correction(design, residuals, u_c, chol, radius, quadratic)
        corrected = surface.with_correction(correction)
        proposal = _trust_step(corrected, transform, u_c, chol, radius, max_iter)
        chol = _design_cholesky(corrected.fisher_information(proposal[0]), lo, hi)
    return RefinementReport(
        theta=model.inverse_transform(u_c), loglik=float(ll_c), correction=correction,
        n_evaluations=n_used, n_failed=n_failed, failures=failures, quadratic=quadratic,
        converged=converged, history=history)
