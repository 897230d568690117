"""The error model of :func:`smc_ne`'s estimate: what widens its bootstrap band into a
calibrated one.

The one-step block bootstrap misses most of the estimate's error (the smoothing bias at a
sharp change, the pull towards the reference where the data are silent). Its variance is
modelled per interval k of :data:`NE_TIME_GRID` as a non-negative combination of terms
(:func:`error_design`): a constant per level of the data's evidence there (the expected
tracts of the pairs' genomes whose coalescence time falls in the interval, ``smc_ne``'s
``info["events"]``: fewer than 10, 10-100, ..., over 1e5),
the decoder's own variance there, and the squared distance between the estimate and the
decoder's median. The weights are fitted by maximum likelihood on the errors of
simulations of the decoder's prior (``benchmarks/smc_calibration.py``) and shipped in
``pretrained/smc_error.json``. (An error model written before session 13 has a constant
per interval instead of per evidence level; it is read as such.)
"""

from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["error_design", "design_columns", "calibrated_error", "EVENT_LEVELS"]

ERROR_MODEL = os.path.join(os.path.dirname(__file__), "..", "pretrained", "smc_error.json")

#: Upper edges of the evidence levels: expected tracts coalescing in an interval (summed
#: over the pairs and chromosomes, ``smc_ne``'s ``info["events"]``), the last level open.
EVENT_LEVELS = (10.0, 100.0, 1e3, 1e4, 1e5)


def design_columns(k):
    """Where each term of :func:`error_design` sits among its columns, for K = ``k``
    intervals: ``"interval"`` and ``"level"`` (index arrays), ``"decoder_sd"`` and
    ``"disagreement"`` (one index each).

    Examples
    --------
    >>> from sfsestimators.genealogy import design_columns
    >>> cols = design_columns(3)
    >>> cols["level"].tolist(), cols["decoder_sd"], cols["disagreement"]
    ([3, 4, 5, 6, 7, 8], 9, 10)
    """
    n_lev = len(EVENT_LEVELS) + 1
    return {"interval": np.arange(k), "level": np.arange(k, k + n_lev),
            "decoder_sd": k + n_lev, "disagreement": k + n_lev + 1}


def error_design(quantiles, point, events=None):
    """The error model's terms per interval: array (K, K + 6 + 2), in the order
    :func:`design_columns` names.

    Columns: the K interval indicators; the 6 evidence levels' indicators
    (:data:`EVENT_LEVELS` of ``events``, zeros where it is None); the decoder's log10
    variance ``w^2`` (its 90 % band, ``quantiles`` (3, K) at 5/50/95 %, over 3.29,
    squared); ``d^2``, the log10 distance of ``point`` (sizes) from the decoder's median,
    squared.

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.genealogy import error_design
    >>> band = np.array([[1e3] * 3, [2e3] * 3, [4e3] * 3])  # 5 / 50 / 95 %, 3 intervals
    >>> x = error_design(band, np.array([2e3, 2e3, 2e4]), events=[3.0, 500.0, 2e5])
    >>> x.shape, x[:, 3:9].argmax(1).tolist(), x[:, -1].round(2).tolist()
    ((3, 11), [0, 2, 5], [0.0, 0.0, 1.0])
    """
    lo, mid, hi = np.log10(np.asarray(quantiles, dtype=float))
    k = len(point)
    w, d = (hi - lo) / 3.29, np.log10(np.asarray(point, dtype=float)) - mid
    levels = np.zeros((k, len(EVENT_LEVELS) + 1))
    if events is not None:
        if not np.all(np.isfinite(events)) or np.any(np.asarray(events) < 0):
            raise ValueError(f"events holds {np.asarray(events)!r}; expected finite "
                             "counts >= 0 (smc_ne's info['events']).")
        levels[np.arange(k), np.searchsorted(EVENT_LEVELS, np.asarray(events, float),
                                             side="right")] = 1.0
    return np.column_stack([np.eye(k), levels, w ** 2, d ** 2])


def calibrated_error(decoder, point, events=None, path=ERROR_MODEL):
    """log10 sd per interval of the SMC estimate's error under the error model in ``path``
    (the weights of :func:`error_design`'s terms: ``interval_variance``,
    ``events_variance``, ``decoder_sd_weight``, ``disagreement_weight``); None if the file
    is absent or made for another grid.

    Raises
    ------
    ValueError
        If the model has evidence terms and ``events`` is None."""
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        model = json.load(fh)
    k = len(point)
    per_interval = model.get("interval_variance", [0.0] * k)
    if model.get("intervals", len(per_interval)) != k or len(per_interval) != k:
        return None  # measured on another grid
    per_level = model.get("events_variance", [0.0] * (len(EVENT_LEVELS) + 1))
    if events is None and any(per_level):
        raise ValueError("the error model reads the data's evidence per interval; expected "
                         "events (smc_ne's info['events']), got None.")
    cols = design_columns(k)
    coef = np.zeros(cols["disagreement"] + 1)
    coef[cols["interval"]], coef[cols["level"]] = per_interval, per_level
    coef[cols["decoder_sd"]] = model["decoder_sd_weight"]
    coef[cols["disagreement"]] = model["disagreement_weight"]
    design = error_design(decoder.quantiles([0.05, 0.5, 0.95]), point, events)
    return np.sqrt(design @ coef)
