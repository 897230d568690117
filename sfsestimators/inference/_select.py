"""Choosing among candidate models on EXACT likelihoods, nested ones never worse."""

from __future__ import annotations

import numpy as np

from ..models import PiecewiseConstant
from ._optimize import multistart

__all__ = ["CandidateFit", "exact_rank", "select"]

NESTED_TOLERANCE = 0.1  # log-likelihood units a nested model may fall below its sub-model


class CandidateFit:
    """One candidate model's fit: its surface, the emulator optima of its starts and (once
    ranked) their exact log-likelihoods."""

    def __init__(self, model, surface, result, exact):
        self.model, self.surface, self.result, self.exact = model, surface, result, exact
        self.exact_loglik = None  # per start
        self.theta = result.theta
        self.loglik = None  # exact, at theta
        self.refitted_from = None

    @property
    def aic(self):
        ll = self.result.loglik if self.loglik is None else self.loglik
        return 2 * self.model.n_params - 2 * ll


def exact_rank(fit, top=None):
    """Evaluate the starts' optima exactly (in parallel) and keep the best: all of them, or
    the ``top`` best by the emulator; starts not evaluated (yet) stay NaN, and a later call
    evaluates only those."""
    res = fit.result
    if fit.exact_loglik is None:
        fit.exact_loglik = np.full(len(res.all_loglik), np.nan)
    order = np.argsort(-res.all_loglik, kind="stable")
    chosen = order if top is None else order[:top]
    todo = [i for i in chosen if np.isnan(fit.exact_loglik[i])]
    if todo:
        fit.exact_loglik[todo] = fit.exact.evaluate(res.all_theta[todo])[0]
    lls = np.where(np.isnan(fit.exact_loglik), -np.inf, fit.exact_loglik)
    best = int(np.argmax(lls))
    fit.theta, fit.loglik = res.all_theta[best], float(lls[best])


def _refit_from_submodel(fit, sub, *, n_extra, optimizer, max_iter, rng):
    """Refit ``fit`` (k epochs) from the sub-model's optimum, embedded exactly (a padded
    epoch at the ancestral size), plus jittered copies; keep what is exactly best, never
    worse than the embedding itself."""
    model = fit.model
    padded = model.pad_params(sub.theta, sub.model.n_epochs)
    u0 = model.transform(padded)
    lo, hi = model.transform(model.lower_bound), model.transform(model.upper_bound)
    jitter = rng.normal(0.0, 0.3, size=(n_extra, len(u0)))
    starts = model.inverse_transform(np.clip(u0 + jitter, lo, hi))
    res = multistart(fit.surface, np.vstack([padded[None], starts]), optimizer=optimizer,
                     max_iter=max_iter)
    candidates = np.vstack([padded[None], res.all_theta])
    lls = fit.exact.evaluate(candidates)[0]
    best = int(np.argmax(lls))
    fit.theta, fit.loglik = candidates[best], float(lls[best])
    fit.refitted_from = repr(sub.model)


def select(fits, *, optimizer="lbfgs", max_iter=200, rng=None, top=4):
    """Rank every candidate's ``top`` best starts (by the emulator) exactly and pick the
    lowest exact AIC.

    Nested ``PiecewiseConstant`` candidates (k epochs nest k - 1) must fit at least as well
    as their sub-models; one that does not (the optimiser missed) is refitted from the
    sub-model's optimum. Returns the index of the selected fit and the messages of the
    refits.
    """
    rng = np.random.default_rng(rng)
    for fit in fits:
        exact_rank(fit, top=top)
    messages = []
    by_epochs = {f.model.n_epochs: f for f in fits if isinstance(f.model, PiecewiseConstant)}
    for k in sorted(by_epochs):
        fit, sub = by_epochs[k], by_epochs.get(k - 1)
        if sub is not None and fit.loglik < sub.loglik - NESTED_TOLERANCE:
            worse = fit.loglik
            _refit_from_submodel(fit, sub, n_extra=4, optimizer=optimizer,
                                 max_iter=max_iter, rng=rng)
            messages.append(f"{fit.model.n_epochs} epochs ({worse:.3f} -> {fit.loglik:.3f})")
    best = min(range(len(fits)), key=lambda i: fits[i].aic)
    if messages:
        messages = [f"Nested models fitted worse than their sub-models and were refitted from "
                    f"the sub-model's optimum (exact log-likelihood before -> after): "
                    f"{'; '.join(messages)}; see selection_."]
    return best, messages


