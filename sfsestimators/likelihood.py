"""Likelihoods, folding and projection of spectra, in torch: differentiable and batched.

Every function takes torch tensors, numpy arrays or :class:`moments.Spectrum` objects. Model
spectra may carry leading batch dimensions ``(*batch, *shape)``; the spectrum's own ``shape``
is taken from ``mask`` when given, else from ``data`` (a :class:`moments.Spectrum` or an
unbatched array). Results are torch tensors when any input is a tensor, numpy otherwise.

Conventions follow moments: an entry counts only if it is masked in neither model nor data;
by default the two corners (monomorphic sites) are masked; a folded data spectrum folds the
model first.
"""

from __future__ import annotations

import functools

import moments
import numpy as np
import torch
from scipy.stats import hypergeom

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


# -- masks --------------------------------------------------------------------------------
def corner_mask(shape):
    """Boolean mask (True = excluded) of the two monomorphic corners of a spectrum."""
    mask = np.zeros(shape, dtype=bool)
    mask[(0,) * len(shape)] = True
    mask[tuple(s - 1 for s in shape)] = True
    return mask


def _total_per_entry(shape):
    """Total derived-allele count of every entry of a spectrum of this shape."""
    return np.indices(shape).sum(axis=0)


def _reverse(a, ndim):
    """Reverse the last ``ndim`` axes (numpy or torch)."""
    dims = tuple(range(-ndim, 0))
    if isinstance(a, torch.Tensor):
        return torch.flip(a, dims=dims)
    return np.flip(a, axis=dims)


def fold_mask(mask):
    """The mask of a folded spectrum, as moments computes it.

    Entries masked in the unfolded spectrum, entries folded onto by a masked entry, and
    entries folded out (total count above half the sample) are masked.
    """
    mask = np.asarray(mask, dtype=bool)
    shape = mask.shape
    folded_out = _total_per_entry(shape) > int((np.sum(shape) - len(shape)) / 2)
    return mask | _reverse(mask, mask.ndim) | folded_out


# -- conversion -----------------------------------------------------------------------------
def _is_tensor(*xs):
    return any(isinstance(x, torch.Tensor) for x in xs)


def _to_tensor(x, like=None):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ma.MaskedArray):
        x = np.ma.getdata(x)
    dtype = like.dtype if isinstance(like, torch.Tensor) else torch.float64
    device = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype, device=device)


def _out(value, as_tensor):
    if as_tensor:
        return value
    value = value.detach().cpu().numpy()
    return value.item() if value.ndim == 0 else value


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
def fold(model, *, ndim=None):
    """Fold spectra: minor-allele counts, as moments' ``Spectrum.fold``.

    Entries with a total count below half the sample receive their mirror entry; entries
    exactly at half average with their mirror; entries above half become 0.

    Parameters
    ----------
    model : tensor, array or moments.Spectrum of shape (*batch, *shape)
        Unfolded spectra.
    ndim : int, default=None
        Number of spectrum dimensions (the trailing ones); default: all of a Spectrum's, else
        all dimensions of the array (unbatched).

    Returns
    -------
    folded : same type as ``model`` (a Spectrum input gives a folded Spectrum with moments'
        mask), same shape.
    """
    if isinstance(model, moments.Spectrum):
        if model.folded:
            raise ValueError("model is already folded; expected an unfolded spectrum.")
        data = fold(np.asarray(model.data, dtype=float))
        return moments.Spectrum(
            data, mask=fold_mask(np.ma.getmaskarray(model)), data_folded=True,
            pop_ids=model.pop_ids,
        )
    as_tensor = _is_tensor(model)
    m = _to_tensor(model)
    ndim = m.ndim if ndim is None else int(ndim)
    shape = tuple(m.shape[-ndim:])
    total = _total_per_entry(shape)
    n_total = np.sum(shape) - ndim
    out_mask = torch.as_tensor(total > int(n_total / 2), device=m.device)
    ambiguous = torch.as_tensor(total == n_total / 2.0, device=m.device)
    zero = torch.zeros((), dtype=m.dtype, device=m.device)
    folded = m + _reverse(torch.where(out_mask, m, zero), ndim)
    folded = torch.where(out_mask, zero, folded)
    amb = torch.where(ambiguous, m, zero)
    folded = folded - 0.5 * amb + 0.5 * _reverse(amb, ndim)
    return _out(folded, as_tensor)


# -- projection -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _projection_matrix_cached(n_from, n_to):
    i = np.arange(n_from + 1)[:, None]
    j = np.arange(n_to + 1)[None, :]
    # P[i, j] = C(i, j) C(n_from - i, n_to - j) / C(n_from, n_to)
    return hypergeom.pmf(j, n_from, i, n_to)


def projection_matrix(n_from, n_to):
    """The hypergeometric projection matrix from ``n_from`` to ``n_to`` haploid samples.

    ``P[i, j]`` is the probability that ``j`` of ``n_to`` lineages drawn without replacement
    carry the derived allele when ``i`` of ``n_from`` do. Shape ``(n_from + 1, n_to + 1)``.
    """
    n_from, n_to = int(n_from), int(n_to)
    if not 0 <= n_to <= n_from:
        raise ValueError(
            f"Cannot project from sample size {n_from} to {n_to}; expected 0 <= {n_to} <= "
            f"{n_from}."
        )
    return _projection_matrix_cached(n_from, n_to).copy()


def project(model, sample_sizes):
    """Project expected spectra exactly to smaller sample sizes (hypergeometric sampling).

    Because the projection of an expected SFS is exact, one spectrum at a large ``n`` serves
    every smaller ``n``.

    Parameters
    ----------
    model : tensor, array or moments.Spectrum of shape (*batch, *shape)
        Unfolded spectra (a folded Spectrum is unfolded, projected and folded, as moments
        does).
    sample_sizes : sequence of int
        New haploid sample sizes, one per spectrum dimension (the trailing ones).

    Returns
    -------
    projected : same type as ``model``, shape ``(*batch, *[n + 1 for n in sample_sizes])``.

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.likelihood import project
    >>> sfs = np.r_[0, 1 / np.arange(1, 20), 0]          # constant size, theta = 1, n = 20
    >>> np.allclose(project(sfs, [10])[1:-1], 1 / np.arange(1, 10))
    True
    """
    sizes = [int(s) for s in np.atleast_1d(sample_sizes)]
    if isinstance(model, moments.Spectrum):
        if model.folded:
            return project(model.unfold(), sizes).fold()
        ndim = model.ndim
        _check_projection(model.shape, sizes)
        data = project(np.asarray(model.data, dtype=float), sizes)
        # an entry is masked where a masked entry contributes to it (moments' rule)
        reach = np.asarray(np.ma.getmaskarray(model), dtype=float)
        for axis, n_to in enumerate(sizes):
            p = projection_matrix(model.shape[axis] - 1, n_to) > 0
            reach = np.moveaxis(np.tensordot(reach, p, axes=([axis], [0])), -1, axis)
        return moments.Spectrum(data, mask=reach > 0, pop_ids=model.pop_ids)
    as_tensor = _is_tensor(model)
    m = _to_tensor(model)
    ndim = len(sizes)
    _check_projection(tuple(m.shape[-ndim:]), sizes)
    out = m
    for k, n_to in enumerate(sizes):
        axis = m.ndim - ndim + k
        n_from = out.shape[axis] - 1
        if n_from == n_to:
            continue
        p = torch.as_tensor(projection_matrix(n_from, n_to), dtype=m.dtype, device=m.device)
        out = torch.movedim(torch.tensordot(out, p, dims=([axis], [0])), -1, axis)
    return _out(out, as_tensor)


def _check_projection(shape, sizes):
    if len(sizes) != len(shape):
        raise ValueError(
            f"sample_sizes is {sizes}, but the spectrum has {len(shape)} population(s); "
            "expected one sample size for each."
        )
    for n_to, s in zip(sizes, shape):
        if not 1 <= n_to <= s - 1:
            raise ValueError(
                f"Cannot project a spectrum of sample size {s - 1} to {n_to}; expected "
                f"1 <= sample size <= {s - 1}."
            )
