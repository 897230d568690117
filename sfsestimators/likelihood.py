"""Likelihoods of spectra, in torch: differentiable and batched.

Folding and projection live in :mod:`sfsestimators.spectrum` and are re-exported here.

Every function takes torch tensors, numpy arrays or :class:`moments.Spectrum` objects. Model
spectra may carry leading batch dimensions ``(*batch, *shape)``; the spectrum's own ``shape``
is taken from ``mask`` when given, else from ``data`` (a :class:`moments.Spectrum` or an
unbatched array). Results are torch tensors when any input is a tensor, numpy otherwise.

Conventions follow moments: an entry counts only if it is masked in neither model nor data;
by default the two corners (monomorphic sites) are masked; a folded data spectrum folds the
model first.
"""

from __future__ import annotations

import moments
import numpy as np
import torch

from .spectrum import (
    _is_tensor,
    _out,
    _to_tensor,
    _total_per_entry,
    corner_mask,
    fold,
    fold_mask,
    project,
    projection_matrix,
)

__all__ = [
    "poisson_loglik",
    "multinomial_loglik",
    "optimal_theta",
    "fold",
    "fold_mask",
    "project",
    "projection_matrix",
    "corner_mask",
]


def _prepare(model, data, mask, folded):
    """Shared set-up: tensors, the spectrum shape, the folded model and the included entries."""
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        shape = mask.shape
    elif isinstance(data, moments.Spectrum):
        shape = data.shape
    else:
        shape = np.shape(data)
    ndim = len(shape)
    if folded is None:
        folded = bool(getattr(data, "folded", False))
    model_folded = bool(getattr(model, "folded", False))
    fold_model = folded and not model_folded
    if tuple(np.shape(model)[-ndim:]) != tuple(shape):
        raise ValueError(
            f"model has shape {tuple(np.shape(model))}, but the data spectrum has shape "
            f"{tuple(shape)}; expected model of shape (*batch, {', '.join(map(str, shape))})."
        )
    # masks of the unfolded space are folded; masks given in the data's space are not
    if mask is None:
        mask = fold_mask(corner_mask(shape)) if fold_model else corner_mask(shape)
    elif fold_model:
        mask = mask | (_total_per_entry(shape) > int((np.sum(shape) - ndim) / 2))
    if isinstance(model, moments.Spectrum):
        model_mask = np.ma.getmaskarray(model)
        mask = mask | (fold_mask(model_mask) if fold_model else model_mask)
    if isinstance(data, moments.Spectrum):
        mask = mask | np.ma.getmaskarray(data)
    m = _to_tensor(model, like=data)
    d = _to_tensor(data, like=m)
    if fold_model:
        m = fold(m, ndim=ndim)
    include = torch.as_tensor(~mask, device=m.device)
    return m, d, include, ndim


def _sum_spectrum(x, ndim):
    return x.sum(dim=tuple(range(-ndim, 0))) if ndim else x


# -- likelihoods ------------------------------------------------------------------------------
def _poisson_per_bin(m, d, include):
    """``-M + D log M - log D!`` on included entries, 0 elsewhere.

    Excluded entries are replaced by harmless values *before* the logarithm, so that an
    excluded entry with ``M = 0`` cannot turn the gradient into NaN.
    """
    one = torch.ones((), dtype=m.dtype, device=m.device)
    zero = torch.zeros((), dtype=m.dtype, device=m.device)
    m_safe = torch.where(include, m, one)
    d_safe = torch.where(include, d, zero)
    per_bin = -m_safe + torch.xlogy(d_safe, m_safe) - torch.lgamma(d_safe + 1)
    return torch.where(include, per_bin, zero)


def poisson_loglik(model, data, *, mask=None, folded=None):
    """Poisson log-likelihood of a data spectrum given model spectra (moments' ``Inference.ll``).

    ``sum(-M + D log M - log D!)`` over entries masked in neither.

    Parameters
    ----------
    model : tensor, array or moments.Spectrum of shape (*batch, *shape)
        Expected counts (already scaled by theta).
    data : tensor, array or moments.Spectrum of shape (*shape) or (*batch, *shape)
        Observed counts.
    mask : array of bool of shape (*shape), default=None
        Entries to exclude (True = excluded). Default: the corners, plus the masks of
        Spectrum inputs.
    folded : bool, default=None
        Whether ``data`` is folded; default: ``data.folded`` for a Spectrum, else False.
        A folded data spectrum folds an unfolded model first.

    Returns
    -------
    loglik : tensor or ndarray of shape (*batch,), or a float

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.likelihood import poisson_loglik
    >>> model = 1000 / np.arange(1, 10)
    >>> model = np.r_[0, model, 0]
    >>> round(poisson_loglik(model, np.round(model)), 2)
    -32.96
    """
    m, d, include, ndim = _prepare(model, data, mask, folded)
    ll = _sum_spectrum(_poisson_per_bin(m, d, include), ndim)
    return _out(ll, _is_tensor(model, data))


def optimal_theta(model, data, *, mask=None, folded=None):
    """The scaling of ``model`` that maximises the Poisson likelihood of ``data``.

    ``sum(D) / sum(M)`` over the included entries (moments' ``optimal_sfs_scaling``).
    Parameters as in :func:`poisson_loglik`.
    """
    m, d, include, ndim = _prepare(model, data, mask, folded)
    zero = torch.zeros((), dtype=m.dtype, device=m.device)
    theta = _sum_spectrum(torch.where(include, d, zero), ndim) / _sum_spectrum(
        torch.where(include, m, zero), ndim
    )
    return _out(theta, _is_tensor(model, data))


def multinomial_loglik(model, data, *, mask=None, folded=None):
    """Multinomial log-likelihood: the Poisson one at the optimal theta (``ll_multinom``).

    Parameters as in :func:`poisson_loglik`; the result is invariant to the scale of
    ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.likelihood import multinomial_loglik, poisson_loglik
    >>> model = np.r_[0, 1 / np.arange(1, 10), 0]
    >>> data = np.round(1000 * model)
    >>> bool(np.isclose(multinomial_loglik(model, data), poisson_loglik(1000 * model, data),
    ...                 atol=0.05))
    True
    """
    m, d, include, ndim = _prepare(model, data, mask, folded)
    zero = torch.zeros((), dtype=m.dtype, device=m.device)
    theta = _sum_spectrum(torch.where(include, d, zero), ndim) / _sum_spectrum(
        torch.where(include, m, zero), ndim
    )
    scaled = m * theta.reshape(theta.shape + (1,) * ndim)
    ll = _sum_spectrum(_poisson_per_bin(scaled, d, include), ndim)
    return _out(ll, _is_tensor(model, data))


# -- folding ----------------------------------------------------------------------------------
