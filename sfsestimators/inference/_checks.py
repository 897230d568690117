"""Is the fit to be trusted? The checks behind ``DemographyFitter``'s warnings and ``flags_``.

Each check returns plain values; the estimator turns what they find into a
:class:`FitWarning` (a ``UserWarning``) and a line of ``flags_`` / ``summary()``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["FitWarning", "BOUND_DISTANCE", "EMULATOR_TOLERANCE", "EXPECTED_GAIN_TOLERANCE",
           "near_bounds", "outside_training", "expected_exact_gain", "unbounded_intervals",
           "posterior_drop_limit", "fit_messages",
           "posterior_message"]

#: a parameter closer than this to a prior bound (on its own scale: 0.1 in ln for
#: log-scaled ones, i.e. within ~10 %; 1 % of the range for linear ones) is on the bound
BOUND_DISTANCE = {"log": 0.1, "linear": 0.01}
#: |emulator - exact| log-likelihood at the fit above this many units is reported
EMULATOR_TOLERANCE = 1.0
#: converged: a Newton step on the exact likelihood would gain less than this
EXPECTED_GAIN_TOLERANCE = 0.1


class FitWarning(UserWarning):
    """A fitted result that is suspect: on a bound, not converged, emulator and exact
    teacher disagreeing, an interval that is unbounded, a posterior far from the fit."""


def near_bounds(model, theta):
    """``[(name, value, "lower"|"upper", bound)]`` of the parameters on a prior bound."""
    u = model.transform(theta)
    lo, hi = model.transform(model.lower_bound), model.transform(model.upper_bound)
    out = []
    for i, name in enumerate(model.param_names):
        limit = BOUND_DISTANCE["log"] if model.log_scaled[i] else (
            BOUND_DISTANCE["linear"] * (hi[i] - lo[i]))
        if u[i] - lo[i] < limit:
            out.append((name, float(theta[i]), "lower", float(model.lower_bound[i])))
        elif hi[i] - u[i] < limit:
            out.append((name, float(theta[i]), "upper", float(model.upper_bound[i])))
    return out


def outside_training(model, predictor, mapper, theta):
    """Names of the emulator inputs at ``theta`` outside the range of its training data: the
    model's parameter names when the emulator reads them directly, else the names of the
    emulator's own family (e.g. the padded epochs of ``PiecewiseConstant(6)``)."""
    inputs = mapper(torch.as_tensor(np.asarray(theta, dtype=float)[None])).numpy()[0]
    outside = (inputs < predictor.param_min_ * (1 - 1e-9)) | (
        inputs > predictor.param_max_ * (1 + 1e-9))
    source = getattr(predictor, "model_", None)
    if len(inputs) == model.n_params:
        names = list(model.param_names)
    elif source is not None and source.n_params == len(inputs):
        names = [f"{n} of {source!r}" for n in source.param_names]
    else:
        names = [f"emulator input {i}" for i in range(len(inputs))]
    return [names[i] for i in np.flatnonzero(outside)]


def expected_exact_gain(exact, surface, theta, *, step=1e-3):
    """How much a Newton step on the EXACT likelihood would still gain at ``theta``.

    The exact gradient in the model's scale ``u`` by central differences (2 p teacher calls,
    in parallel), the curvature from the emulator's Fisher information; returns
    ``g^T I^-1 g / 2`` (half the squared Newton decrement) and the gradient. Where a step
    would leave the bounds it is one-sided; NaN when the teacher fails.
    """
    model = exact.model
    u = model.transform(theta)
    lo, hi = model.transform(model.lower_bound), model.transform(model.upper_bound)
    p = len(u)
    up = np.minimum(u[None, :] + step * np.eye(p), hi)
    down = np.maximum(u[None, :] - step * np.eye(p), lo)
    lls = exact.evaluate(model.inverse_transform(np.vstack([up, down])))[0]
    width = np.diag(up - down)
    grad = (lls[:p] - lls[p:]) / np.where(width > 0, width, np.nan)
    if not np.all(np.isfinite(grad)):
        return float("nan"), grad
    info = surface.fisher_information(u)
    try:
        gain = 0.5 * float(grad @ np.linalg.solve(info + 1e-9 * np.eye(p), grad))
    except np.linalg.LinAlgError:
        gain = float("nan")
    return gain, grad


def unbounded_intervals(conf_int):
    """Names whose interval is NaN or infinite, or (positive parameters) starts at 0 or
    spans more than six orders of magnitude: the data do not bound them."""
    out = []
    for name, (lo, hi) in conf_int.items():
        if not (np.isfinite(lo) and np.isfinite(hi)):
            out.append(name)
        elif lo >= 0 and hi > 0 and (lo == 0 or hi / lo > 1e6):
            out.append(name)
    return out


def posterior_drop_limit(n_params, weight=1.0):
    """How far below the maximum the exact log-likelihood at a posterior's median may lie:
    the mean plus 3 sd of ``chi2_p / 2`` (the drop of a draw under a quadratic likelihood),
    widened by ``1 / weight`` for a tempered posterior."""
    return (n_params / 2 + 3 * np.sqrt(n_params / 2)) / weight


def fit_messages(model, predictor, mapper, theta, ll_emulator, ll_exact, exact_stage):
    """Messages for a fit on a bound, outside the emulator's data, or where the emulator
    and the exact teacher disagree."""
    flags = []
    for name, value, side, bound in near_bounds(model, theta):
        flags.append(f"Parameter {name!r} = {value:.4g} sits on its prior {side} bound "
                     f"{bound:g}; the optimum may lie outside the bounds (widen them with "
                     "the model's bounds=, or fit a simpler model).")
    outside = outside_training(model, predictor, mapper, theta)
    if outside:
        flags.append(f"The fit lies outside the emulator's training data in {outside}; "
                     "the emulator's likelihood there is an extrapolation.")
    gap = abs(ll_emulator - ll_exact)
    if not gap <= EMULATOR_TOLERANCE:
        what = ("the fit itself rests on the emulator: use polish='moments' or refine="
                if not exact_stage else "standard errors and posteriors come from the "
                "emulator's surface: refine= corrects it near the fit")
        flags.append(f"The emulator's log-likelihood at the fit ({ll_emulator:.3f}) "
                     f"differs from the exact one ({ll_exact:.3f}) by {gap:.3g} units "
                     f"(tolerance {EMULATOR_TOLERANCE}); {what}.")
    return flags


def posterior_message(exact, draws, loglik_fit, weight, diagnostics):
    """A message when the exact log-likelihood at the posterior median lies further below
    the fit's than :func:`posterior_drop_limit` allows (the sampler missed the fit's mode,
    or the emulator's surface misled it); records both in ``diagnostics``."""
    ll = float(exact.evaluate(np.median(draws, axis=0)[None])[0][0])
    limit = posterior_drop_limit(exact.model.n_params, weight)
    diagnostics["log_likelihood_exact_median"] = ll
    diagnostics["log_likelihood_drop"] = loglik_fit - ll
    if loglik_fit - ll <= limit:
        return None
    return (f"The exact log-likelihood at the posterior median ({ll:.3f}) lies "
            f"{loglik_fit - ll:.3g} units below the fit's ({loglik_fit:.3f}), more than the "
            f"{limit:.3g} a posterior around the fit would give: draw more (n_particles, "
            "warmup_steps), temper the likelihood (temper=) for a multi-modal surface, or "
            "correct the emulator near the fit (refine=).")
