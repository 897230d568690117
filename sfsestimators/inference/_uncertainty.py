"""Uncertainty of a fit: Fisher information, the Godambe sandwich, bootstrap spectra."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import moments
import numpy as np
import torch

__all__ = ["Uncertainty", "bootstrap_spectra", "uncertainty"]


@dataclass
class Uncertainty:
    """Standard errors and intervals of a fit.

    Attributes
    ----------
    covariance, covariance_fim : ndarray of shape (n_params, n_params) or None
        Covariance of the (log-)parameters by the chosen method, and by the Fisher
        information alone (None when not computed or singular).
    stderr : dict
        Standard error per parameter (log-scaled ones by the delta method).
    conf_int : dict
        95 % interval per parameter (log-scaled ones on the log scale).
    """

    covariance: np.ndarray | None
    covariance_fim: np.ndarray | None
    stderr: dict
    conf_int: dict

    @classmethod
    def empty(cls, names):
        return cls(None, None, dict.fromkeys(names, np.nan),
                   {n: (np.nan, np.nan) for n in names})


def bootstrap_spectra(sfs, n_bootstrap, rng, *, counts=None, blocks=None, sample_sizes=None):
    """``n_bootstrap`` resampled spectra: genomic blocks of per-site ``counts`` when given
    with ``blocks``, else Poisson resamples of ``sfs``."""
    if counts is not None and blocks is not None:
        blocks = np.asarray(blocks)
        if len(blocks) != len(counts):
            raise ValueError(f"blocks has {len(blocks)} entries, but X has "
                             f"{len(counts)} sites; expected one block label per site.")
        labels, index = np.unique(blocks, return_inverse=True)
        per_block = np.zeros((len(labels),) + tuple(np.asarray(sample_sizes) + 1))
        np.add.at(per_block, (index,) + tuple(counts.T), 1.0)
        if sfs.folded:
            per_block = np.stack([moments.Spectrum(b).fold().data for b in per_block])
        draws = rng.randint(0, len(labels), size=(n_bootstrap, len(labels)))
        return per_block[draws].sum(axis=1).reshape((n_bootstrap,) + sfs.shape)
    data = np.ma.filled(sfs, 0.0)
    return rng.poisson(np.broadcast_to(data, (n_bootstrap,) + data.shape)).astype(float)


def uncertainty(surface, theta, *, method="fim", boot=None):
    """Standard errors at ``theta`` from the expected Fisher information of the surface
    (``method="fim"``), or the Godambe sandwich ``H^-1 J H^-1`` with ``J`` the variance of
    the score over the bootstrap spectra ``boot`` (``method="godambe"``).

    The expected (not the observed) information: a Hessian would amplify the emulator's small
    errors. Warns and leaves NaN where the information is singular.
    """
    model = surface.model
    names = model.param_names
    out = Uncertainty.empty(names)
    u_hat = torch.as_tensor(model.transform(theta), dtype=torch.float64)
    info = surface.fisher_information(u_hat)
    try:
        h_inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warnings.warn("The information matrix is singular; no standard errors.",
                      stacklevel=3)
        return out
    cov = h_inv
    if method == "godambe":
        u = u_hat.clone().requires_grad_(True)
        ll = surface.loglik_u(u[None], boot)
        scores = torch.stack([torch.autograd.grad(ll[b], u, retain_graph=True)[0]
                              for b in range(len(boot))]).numpy()
        J = np.cov(scores, rowvar=False).reshape(len(names), len(names))
        cov = h_inv @ J @ h_inv
    diag = np.diag(cov)
    if np.any(diag <= 0):
        warnings.warn("The information matrix is singular in some direction (a parameter "
                      "the data do not inform); standard errors are NaN there.", stacklevel=3)
    se_u = np.sqrt(np.where(diag > 0, diag, np.nan))
    out.covariance, out.covariance_fim = cov, h_inv
    u = u_hat.numpy()
    for i, name in enumerate(names):
        if model.log_scaled[i]:
            out.stderr[name] = float(theta[i] * se_u[i])
            out.conf_int[name] = (float(np.exp(u[i] - 1.96 * se_u[i])),
                                  float(np.exp(u[i] + 1.96 * se_u[i])))
        else:
            out.stderr[name] = float(se_u[i])
            out.conf_int[name] = (float(u[i] - 1.96 * se_u[i]), float(u[i] + 1.96 * se_u[i]))
    return out
