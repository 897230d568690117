"""Spectrum algebra in torch and numpy: masks, folding and exact projection.

The bottom of the data flow: :mod:`sfsestimators.io`, :mod:`sfsestimators.models` and
:mod:`sfsestimators.likelihood` all build on it, and it imports none of them. Every function
takes torch tensors, numpy arrays or :class:`moments.Spectrum` objects; results are torch
tensors when the input is one, numpy otherwise. Spectra may carry leading batch dimensions
``(*batch, *shape)``.
"""

from __future__ import annotations

import functools

import moments
import numpy as np
import torch
from scipy.stats import hypergeom

from ._warnings import hide_numcodecs_shutdown_warning

hide_numcodecs_shutdown_warning()  # moments resets the warning filters at import

__all__ = ["corner_mask", "fold_mask", "fold", "project", "projection_matrix"]

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
