"""Posterior samplers through the emulator: NUTS (pyro) and batched sequential Monte Carlo."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["nuts_posterior", "smc_posterior", "temper_weight"]


def temper_weight(temper, covariance=None, covariance_fim=None):
    """The power ``w`` of the likelihood: 1 (None), ``p / tr(H^-1 J)`` ("godambe", from a
    fit's Godambe and Fisher covariances) or a float in (0, 1]."""
    if temper is None:
        return 1.0
    if isinstance(temper, str) and temper == "godambe":
        if covariance is None or covariance_fim is None:
            raise ValueError("temper='godambe' needs a fit with uncertainty='godambe'.")
        ratio = np.trace(covariance @ np.linalg.inv(covariance_fim))
        return float(np.clip(len(covariance) / ratio, 1e-3, 1.0))
    try:
        weight = float(temper)
    except (TypeError, ValueError):
        weight = np.nan
    if not 0 < weight <= 1:
        raise ValueError(f"temper is {temper!r}; expected None, 'godambe' or a float in "
                         "(0, 1].")
    return weight


def nuts_posterior(surface, theta_hat, n_samples, *, weight=1.0, warmup_steps=500,
                   random_state=None, progress=False):
    """pyro's NUTS in the fitter's unconstrained space, started at ``theta_hat``.

    Returns the draws (n_samples, n_params) in natural units and a diagnostics dict.
    """
    try:
        import pyro
        from pyro.infer import MCMC, NUTS
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError("method='nuts' needs pyro-ppl: pip install "
                          "'sfsestimators[bayes]'") from exc
    model, transform = surface.model, surface.transform
    span = torch.log(transform.hi - transform.lo)

    def potential(params):
        z = params["z"]
        u = transform.u_from_z(z)
        log_jacobian = (span + torch.nn.functional.logsigmoid(z)
                        + torch.nn.functional.logsigmoid(-z)).sum()
        return -(weight * surface.loglik_u(u[None])[0] + model.log_prior_transformed(u)
                 + log_jacobian)

    z0 = transform.z_from_theta(np.asarray(theta_hat, dtype=float)[None])[0]
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    with torch.random.fork_rng(devices=[]):
        pyro.set_rng_seed(seed)
        mcmc = MCMC(NUTS(potential_fn=potential), num_samples=n_samples,
                    warmup_steps=warmup_steps, initial_params={"z": z0},
                    disable_progbar=not progress)
        mcmc.run()
    z = mcmc.get_samples()["z"].detach()
    draws = transform.theta_from_z(z).numpy()
    diagnostics = {"method": "nuts", "weight": float(weight), "warmup_steps": warmup_steps,
                   "unique_fraction": float(len(np.unique(draws, axis=0)) / len(draws))}
    return draws, diagnostics


def _next_temperature(ll, beta, weight, n):
    """The largest temperature step keeping an effective sample size of n / 2."""
    def ess(b):
        lw = (b - beta) * ll
        w = np.exp(lw - lw.max())
        return w.sum() ** 2 / (w ** 2).sum()

    if ess(weight) >= n / 2:
        return weight
    left, right = beta, weight
    for _ in range(50):
        mid = (left + right) / 2
        left, right = (mid, right) if ess(mid) >= n / 2 else (left, mid)
    return left if left > beta else right


def smc_posterior(surface, n_samples, *, n_particles=2000, n_moves=10, weight=1.0,
                  random_state=None):
    """Sequential Monte Carlo from the model's prior to the (tempered) posterior, batched.

    ``n_particles`` prior draws are carried to the posterior through adaptively chosen
    likelihood temperatures (each keeping an effective sample size of half the particles),
    with ``n_moves`` random-walk Metropolis moves per temperature, every step ONE emulator
    batch. Returns the draws (n_samples, n_params) in natural units and a diagnostics dict
    (temperatures, acceptance, fraction of distinct particles).
    """
    model, transform = surface.model, surface.transform
    rng = check_random_state(random_state)
    lo, hi = transform.lo.numpy(), transform.hi.numpy()
    n = max(int(n_particles), int(n_samples))

    def loglik(u):
        with torch.no_grad():
            ll = np.concatenate([surface.loglik_u(torch.as_tensor(c)).numpy()
                                 for c in np.array_split(u, max(1, len(u) // 4096))])
        return np.where(np.isfinite(ll), ll, -np.inf)

    def resample(w, size):
        positions = (rng.uniform() + np.arange(size)) / size
        return np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)

    u = model.transform(model.sample_prior(n, random_state=rng))
    ll, lp = loglik(u), model.log_prior_transformed(u)
    beta, n_steps, accepted, proposed = 0.0, 0, 0, 0
    scale = 2.38 / np.sqrt(len(lo))
    while beta < weight:
        new_beta = _next_temperature(ll, beta, weight, n)
        lw = (new_beta - beta) * ll
        w = np.exp(lw - lw.max())
        index = resample(w / w.sum(), n)
        u, ll, lp, beta = u[index], ll[index], lp[index], new_beta
        n_steps += 1
        # random-walk Metropolis moves with the particles' covariance
        chol = np.linalg.cholesky(np.cov(u, rowvar=False) + 1e-10 * np.eye(len(lo)))
        for _ in range(n_moves):
            prop = u + scale * rng.standard_normal(u.shape) @ chol.T
            inside = np.all((prop >= lo) & (prop <= hi), axis=1)
            ll_p = np.full(n, -np.inf)
            ll_p[inside] = loglik(prop[inside])
            lp_p = model.log_prior_transformed(prop)
            log_a = beta * (ll_p - ll) + lp_p - lp
            take = inside & (np.log(rng.uniform(size=n)) < log_a)
            u[take], ll[take], lp[take] = prop[take], ll_p[take], lp_p[take]
            accepted, proposed = accepted + take.sum(), proposed + n
            scale *= np.exp(take.mean() - 0.3)  # aim at ~30 % acceptance
    diagnostics = {
        "method": "smc", "n_temperatures": n_steps,
        "acceptance": float(accepted / max(proposed, 1)),
        "unique_fraction": float(len(np.unique(u, axis=0)) / n), "weight": float(weight),
    }
    index = rng.choice(n, size=n_samples, replace=n_samples > n)
    return transform.theta_from_u(torch.as_tensor(u[index])).numpy(), diagnostics
