"""The one log/linear parameter scale of the package: ``u = log(x)`` where log-scaled, else x.

Used by the models' ``transform``, the emulator's input standardisation, the torch module's
encoder and the fitter's unconstrained space, for numpy arrays and torch tensors alike. The
logarithm only ever sees the log-scaled entries (others see 1), so a negative linear-scale
value cannot put NaN into a gradient through ``where``.
"""

from __future__ import annotations

import numpy as np
import torch


def to_log_scale(x, log_scaled, *, floor=None):
    """``log(x)`` where ``log_scaled`` (broadcast over the last axis), ``x`` elsewhere.

    ``floor`` (torch only) clamps the logarithm's argument from below, so the result stays
    finite for a non-positive input.
    """
    if isinstance(x, torch.Tensor):
        mask = torch.as_tensor(log_scaled, dtype=torch.bool, device=x.device)
        safe = torch.where(mask, x, torch.ones_like(x))
        if floor is not None:
            safe = safe.clamp_min(floor)
        return torch.where(mask, torch.log(safe), x)
    x = np.asarray(x, dtype=float)
    mask = np.asarray(log_scaled, dtype=bool)
    return np.where(mask, np.log(np.where(mask, x, 1.0)), x)


def from_log_scale(u, log_scaled):
    """The inverse of :func:`to_log_scale`: ``exp(u)`` where ``log_scaled``, ``u`` elsewhere."""
    if isinstance(u, torch.Tensor):
        mask = torch.as_tensor(log_scaled, dtype=torch.bool, device=u.device)
        return torch.where(mask, torch.exp(torch.where(mask, u, torch.zeros_like(u))), u)
    u = np.asarray(u, dtype=float)
    mask = np.asarray(log_scaled, dtype=bool)
    return np.where(mask, np.exp(np.where(mask, u, 0.0)), u)


def safe_log(x, keep):
    """``log(x)`` where ``keep``, 0 elsewhere (numpy)."""
    return np.where(keep, np.log(np.where(keep, x, 1.0)), 0.0)
