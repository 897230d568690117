"""One save/load convention for the package's estimators, and the device they run on.

A file is a weights-only torch file (tensors and plain values, no pickled code) holding
``{"format", "estimator", "version", "params", ...}``: the estimator's class name, the
package version that wrote it and the constructor parameters, beside what each estimator
needs (weights, optimiser state, history). It is written atomically (temporary file, then
rename), so an interrupted save never leaves half a file; a file that is not one of ours,
or is of another estimator, gives a clear error.
"""

from __future__ import annotations

import os

import numpy as np
import torch

FORMAT = 2


def resolve_device(device):
    """``"auto"``: CUDA when available, else CPU; anything else unchanged."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def plain_params(estimator):
    """The constructor parameters as plain values (a RandomState instance is left out)."""
    out = {}
    for key, value in estimator.get_params(deep=False).items():
        if isinstance(value, np.generic):
            value = value.item()
        if key == "random_state" and not isinstance(value, (int, type(None))):
            continue
        if isinstance(value, (tuple, list)):
            value = [v.item() if isinstance(v, np.generic) else v for v in value]
        out[key] = value
    return out


def plain_history(history):
    """A (skorch) history as plain lists, dicts and floats (what a weights-only file holds)."""
    import json

    return json.loads(json.dumps(list(history), default=float))


def save_file(path, estimator, **content):
    """Write ``content`` with the estimator's identity and parameters to ``path``."""
    from . import __version__

    path = os.fspath(path)
    payload = {"format": FORMAT, "estimator": type(estimator).__name__,
               "version": __version__, "params": plain_params(estimator), **content}
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_file(path, cls, *, legacy=None):
    """Read a file written by :func:`save_file` for ``cls``.

    ``legacy(ckpt)`` converts a format-1 file (from before this convention) or returns None
    when it does not recognise it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path!r} does not exist; expected a {cls.__name__} file "
                                "written by its save().")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupted or not a torch file at all
        raise ValueError(f"{path!r} is not a readable {cls.__name__} file "
                         f"({type(exc).__name__}: {str(exc)[:200]}); expected a file written "
                         f"by {cls.__name__}.save().") from exc
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path!r} holds a {type(ckpt).__name__}; expected a "
                         f"{cls.__name__} file written by its save().")
    if ckpt.get("format") == 1 and legacy is not None:
        converted = legacy(ckpt)
        if converted is not None:
            return converted
    if ckpt.get("format") != FORMAT or ckpt.get("estimator") != cls.__name__:
        raise ValueError(
            f"{path!r} is a file of estimator {ckpt.get('estimator')!r}, format "
            f"{ckpt.get('format')!r}; expected a {cls.__name__} file of format {FORMAT}.")
    return ckpt
