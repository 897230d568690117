"""Batched optimisation of the emulator's likelihood: every start in one torch batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["MultistartResult", "lbfgs", "multistart", "refit_batch"]


def lbfgs(objective, z, max_iter):
    """Minimise ``objective()`` over the leaf tensor ``z`` by L-BFGS; returns the iterations."""
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9, history_size=20)

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    opt.step(closure)
    return int(opt.state[z]["n_iter"])


@dataclass
class MultistartResult:
    """The emulator optima of a batch of starts.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        The best start's optimum (by the emulator).
    loglik : float
        The emulator's log-likelihood there.
    all_theta : ndarray of shape (n_starts, n_params)
    all_loglik : ndarray of shape (n_starts,)
        Every start's optimum and its emulator log-likelihood (-inf where not finite).
    n_iter : int
        Optimiser iterations.
    grad_norm : float
        Norm of the gradient in the unconstrained space at the best optimum.
    """

    theta: np.ndarray
    loglik: float
    all_theta: np.ndarray
    all_loglik: np.ndarray
    n_iter: int
    grad_norm: float


def multistart(surface, starts, *, optimizer="lbfgs", max_iter=200):
    """Maximise ``surface``'s log-likelihood from every row of ``starts``, as one batch.

    Works in the unconstrained space of :class:`ParameterTransform`, so every iterate stays
    within the prior bounds.
    """
    transform = surface.transform
    z = transform.z_from_theta(starts).clone().requires_grad_(True)

    def objective():
        return -surface.loglik_u(transform.u_from_z(z)).sum()

    if optimizer == "lbfgs":
        n_iter = lbfgs(objective, z, max_iter)
    else:
        opt = torch.optim.Adam([z], lr=0.05)
        for n_iter in range(1, max_iter + 1):  # noqa: B007
            opt.zero_grad()
            objective().backward()
            opt.step()
    z_final = z.detach()
    zg = z_final.clone().requires_grad_(True)
    ll = surface.loglik_u(transform.u_from_z(zg))
    grad = torch.autograd.grad(ll.sum(), zg)[0]
    ll = ll.detach().numpy()
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    best = int(np.argmax(ll))
    theta = transform.theta_from_z(z_final).numpy()
    return MultistartResult(theta=theta[best], loglik=float(ll[best]), all_theta=theta,
                            all_loglik=ll, n_iter=n_iter, grad_norm=float(grad[best].norm()))


def refit_batch(surface, theta0, data, *, max_iter=200):
    """Maximise the likelihood of every spectrum in ``data`` (batch, *shape), all from
    ``theta0``, as one batch; returns the optima, shape (batch, n_params)."""
    transform = surface.transform
    z0 = transform.z_from_theta(np.asarray(theta0, dtype=float)[None])
    z = z0.repeat(len(data), 1).clone().requires_grad_(True)
    lbfgs(lambda: -surface.loglik(transform.theta_from_z(z), data).sum(), z, max_iter)
    return transform.theta_from_z(z.detach()).numpy()
