"""Metrics between spectra, and sklearn scorers built on them.

Spectra are compared row by row as flattened arrays ``(n_samples, n_entries)``; entries that
are 0 in the truth (masked corners) are left out.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import make_scorer

__all__ = ["mean_relative_error", "kl_divergence", "SCORERS", "get_scorer"]


def _flat(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    n = len(y_true)
    y_true, y_pred = y_true.reshape(n, -1), y_pred.reshape(n, -1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_pred has {y_pred.shape[1]} entries per spectrum, but y_true has "
            f"{y_true.shape[1]}."
        )
    return y_true, y_pred


def mean_relative_error(y_true, y_pred, *, per_spectrum=False):
    """Mean over spectra of the mean relative error ``|pred - true| / true`` of their entries.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples, *spectrum_shape)
    per_spectrum : bool, default=False
        Return the error of each spectrum instead of their mean.

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.metrics import mean_relative_error
    >>> true = np.array([[0, 1.0, 0.5, 0]])
    >>> round(mean_relative_error(true, 1.02 * true), 6)
    0.02
    """
    y_true, y_pred = _flat(y_true, y_pred)
    keep = y_true > 0
    rel = np.where(keep, np.abs(y_pred - y_true) / np.where(keep, y_true, 1.0), 0.0)
    per = rel.sum(axis=1) / np.maximum(keep.sum(axis=1), 1)
    return per if per_spectrum else float(per.mean())


def kl_divergence(y_true, y_pred, *, per_spectrum=False):
    """Mean KL divergence ``KL(true || pred)`` between spectra normalised to sum 1."""
    y_true, y_pred = _flat(y_true, y_pred)
    keep = y_true > 0
    p = np.where(keep, y_true, 0.0)
    q = np.where(keep, np.clip(y_pred, 1e-300, None), 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    q = np.where(keep, q, 0.0)
    q = q / q.sum(axis=1, keepdims=True)
    per = np.sum(np.where(keep, p * (np.log(np.where(keep, p, 1.0))
                                     - np.log(np.where(keep, q, 1.0))), 0.0), axis=1)
    return per if per_spectrum else float(per.mean())


#: Scorers (higher is better) for ``scoring=`` in sklearn searches and ``cross_val_score``.
SCORERS = {
    "neg_mean_relative_error": make_scorer(mean_relative_error, greater_is_better=False),
    "neg_kl_divergence": make_scorer(kl_divergence, greater_is_better=False),
}


def get_scorer(name):
    """Return one of :data:`SCORERS` by name.

    Examples
    --------
    >>> from sfsestimators.metrics import get_scorer
    >>> get_scorer("neg_mean_relative_error")
    make_scorer(mean_relative_error, greater_is_better=False, response_method='predict')
    """
    if name not in SCORERS:
        raise ValueError(f"scoring is {name!r}; expected one of {sorted(SCORERS)}.")
    return SCORERS[name]
