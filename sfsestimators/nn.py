"""Torch modules of the SFS emulator.

The network maps parameters in natural units to a log spectrum over the modelled entries:

``log SFS = log(total) + log_softmax(logits)``,

a *shape* (softmax over entries: positive, sums to one) times a *scale* (the total branch
length, exponentiated: positive). The input encoding (log of log-scaled parameters, then
standardisation) lives inside the module as buffers, so the module alone maps natural-unit
parameters to spectra and is differentiable end to end.
"""

from __future__ import annotations

import torch
from torch import nn

from .likelihood import projection_matrix

__all__ = ["SFSEmulatorModule", "SpectrumModule", "SpectrumLoss", "ACTIVATIONS"]

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class SFSEmulatorModule(nn.Module):
    """MLP from parameters to the log expected spectrum (modelled entries only).

    Parameters
    ----------
    n_params : int
        Number of input parameters.
    n_outputs : int
        Number of modelled spectrum entries.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers.
    activation : {"gelu", "relu", "silu", "tanh"}
        Non-linearity.
    log_params : list of bool
        Which parameters are log-transformed before standardisation.
    param_mean, param_std : list of float
        Standardisation of the (log-)parameters.
    """

    def __init__(self, n_params, n_outputs, hidden_layer_sizes=(256, 256), activation="gelu",
                 log_params=None, param_mean=None, param_std=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation is {activation!r}; expected one of {sorted(ACTIVATIONS)}."
            )
        log_params = [False] * n_params if log_params is None else list(log_params)
        param_mean = [0.0] * n_params if param_mean is None else list(param_mean)
        param_std = [1.0] * n_params if param_std is None else list(param_std)
        self.register_buffer("log_params", torch.tensor(log_params, dtype=torch.bool))
        self.register_buffer("param_mean", torch.tensor(param_mean, dtype=torch.float32))
        self.register_buffer("param_std", torch.tensor(param_std, dtype=torch.float32))
        layers, width = [], n_params
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), ACTIVATIONS[activation]()]
            width = int(size)
        self.trunk = nn.Sequential(*layers)
        self.shape_head = nn.Linear(width, n_outputs)
        self.scale_head = nn.Linear(width, 1)

    def encode(self, theta):
        """Natural-unit parameters -> standardised network inputs."""
        theta = theta.to(self.param_mean.dtype)
        safe = torch.where(self.log_params, theta.clamp_min(1e-30), theta)
        z = torch.where(self.log_params, torch.log(safe), theta)
        return (z - self.param_mean) / self.param_std

    def forward(self, theta):
        h = self.trunk(self.encode(theta))
        return self.scale_head(h) + torch.log_softmax(self.shape_head(h), dim=-1)


class SpectrumModule(nn.Module):
    """The differentiable map ``theta -> expected spectrum`` of a fitted emulator.

    Output shape ``(batch, *spectrum_shape)``; entries the emulator does not model (the
    monomorphic corners) are 0; optionally projected exactly to smaller sample sizes.
    """

    def __init__(self, emulator, spectrum_shape, included, sample_sizes=None):
        super().__init__()
        self.emulator = emulator
        self.spectrum_shape = tuple(int(s) for s in spectrum_shape)
        self.register_buffer("index", torch.nonzero(torch.as_tensor(included).reshape(-1))
                             .reshape(-1))
        self.n_total = int(torch.as_tensor(included).numel())
        self.projections = nn.ParameterList()
        self.project_to = None
        if sample_sizes is not None:
            self.project_to = [int(n) for n in sample_sizes]
            for n_from, n_to in zip([s - 1 for s in self.spectrum_shape], self.project_to):
                p = torch.as_tensor(projection_matrix(n_from, n_to), dtype=torch.float32)
                self.projections.append(nn.Parameter(p, requires_grad=False))

    def forward(self, theta):
        values = torch.exp(self.emulator(theta))
        out = values.new_zeros(values.shape[0], self.n_total)
        out = out.index_copy(1, self.index, values).reshape((-1,) + self.spectrum_shape)
        if self.project_to is not None:
            for axis, p in enumerate(self.projections, start=1):
                out = torch.movedim(torch.tensordot(out, p.to(out.dtype), dims=([axis], [0])),
                                    -1, axis)
        return out


class SpectrumLoss(nn.Module):
    """Training loss on log spectra.

    ``"log_mse"``: mean squared error of the log entries (relative error, uniform over
    entries). ``"kl"``: KL divergence between the normalised spectra plus the squared error of
    the log total (shape and scale separately, as the likelihood sees them).
    """

    def __init__(self, kind="log_mse"):
        super().__init__()
        if kind not in ("log_mse", "kl"):
            raise ValueError(f"loss is {kind!r}; expected 'log_mse' or 'kl'.")
        self.kind = kind

    def forward(self, log_pred, log_true):
        if self.kind == "log_mse":
            return torch.mean((log_pred - log_true) ** 2)
        total_pred = torch.logsumexp(log_pred, dim=-1, keepdim=True)
        total_true = torch.logsumexp(log_true, dim=-1, keepdim=True)
        p_true = torch.exp(log_true - total_true)
        kl = torch.sum(p_true * ((log_true - total_true) - (log_pred - total_pred)), dim=-1)
        return torch.mean(kl + (total_pred - total_true).squeeze(-1) ** 2)
