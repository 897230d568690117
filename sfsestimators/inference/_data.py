"""The fitter's input: a spectrum (Spectrum, array, ``.fs`` path) or per-site derived counts."""

from __future__ import annotations

import moments
import numpy as np

from ..io import as_spectrum

__all__ = ["observed_spectrum", "site_log_probs"]


def _is_per_site(X, n_populations, sample_sizes):
    return (
        isinstance(X, np.ndarray) and not isinstance(X, np.ma.MaskedArray)
        and X.ndim == 2 and X.shape[1] == n_populations
        and (n_populations == 1 or sample_sizes is not None)
    )


def per_site_counts(X, sample_sizes):
    """Validate per-site derived counts; return them as an int array and the sample sizes."""
    if sample_sizes is None:
        raise ValueError(
            f"X has shape {X.shape}: per-site derived-allele counts (rows = sites), which "
            "need sample_sizes; pass sample_sizes=[n, ...] to DemographyFitter."
        )
    sizes = np.atleast_1d(np.asarray(sample_sizes, dtype=int))
    counts = np.asarray(X, dtype=float)
    if not np.all(np.isfinite(counts)) or np.any(counts != np.round(counts)):
        raise ValueError("X holds NaN or non-integer derived-allele counts; expected "
                         "integers per site.")
    counts = counts.astype(int)
    if np.any(counts < 0) or np.any(counts > sizes):
        raise ValueError(
            f"X holds derived-allele counts outside [0, sample_sizes={sizes.tolist()}]."
        )
    mono = np.all(counts == 0, axis=1) | np.all(counts == sizes, axis=1)
    if mono.any():
        raise ValueError(
            f"X holds {int(mono.sum())} monomorphic sites (all ancestral or all derived); "
            "expected segregating sites only."
        )
    return counts, sizes


def observed_spectrum(X, *, n_populations=1, sample_sizes=None, folded=None, model=None):
    """The observed spectrum (moments.Spectrum) and the per-site counts (or None)."""
    counts = None
    if _is_per_site(X, n_populations, sample_sizes):
        counts, sizes = per_site_counts(X, sample_sizes)
        fs = np.zeros(tuple(sizes + 1))
        np.add.at(fs, tuple(counts.T), 1.0)
        sfs = moments.Spectrum(fs, mask_corners=True)
        if folded:
            sfs = sfs.fold()
    else:
        if (isinstance(X, np.ndarray) and not isinstance(X, np.ma.MaskedArray)
                and X.ndim == 2 and n_populations == 1):
            raise ValueError(
                f"X has shape {X.shape}; expected a 1-D spectrum or per-site counts of "
                "shape (n_sites, 1) for a one-population model."
            )
        sfs = as_spectrum(X, name="observed_sfs")
        if folded and not sfs.folded:
            sfs = sfs.fold()
    if sfs.ndim != n_populations:
        hint = ("model=SplitMigration() (its emulator ships with the package)"
                if sfs.ndim == 2 else f"model= a {sfs.ndim}-population family")
        raise ValueError(
            f"observed_sfs has {sfs.ndim} population(s), but model {model!r} has "
            f"{n_populations}; pass {hint}, or your own family with an emulator trained on "
            "it (predictor=)."
        )
    if np.ma.sum(sfs) <= 0:
        raise ValueError("observed_sfs holds no segregating sites; expected counts > 0.")
    return sfs, counts


def site_log_probs(expected, sfs):
    """``log p_j`` of every entry of ``sfs``'s shape under the fitted ``expected`` spectrum
    (folded like the data; -inf where masked or impossible)."""
    if sfs.folded and not expected.folded:
        expected = expected.fold()
    if expected.shape != sfs.shape:
        raise ValueError(
            f"X has sample sizes {list(sfs.sample_sizes)}, but the fit was made at "
            f"{list(expected.sample_sizes)}; project the data to the fit's sample sizes."
        )
    include = ~(np.ma.getmaskarray(expected) | np.ma.getmaskarray(sfs))
    p = np.where(include, np.ma.filled(expected, 0.0), 0.0)
    p = p / p.sum()
    with np.errstate(divide="ignore"):
        return np.where(include & (p > 0), np.log(np.where(p > 0, p, 1.0)), -np.inf)
