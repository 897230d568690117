"""The emulator's likelihood surface of one observed spectrum, built once per fit."""

from __future__ import annotations

import numpy as np
import torch

from .._scales import from_log_scale, to_log_scale
from ..likelihood import multinomial_loglik
from ..models import PiecewiseConstant
from ..spectrum import corner_mask, fold, fold_mask

__all__ = ["LikelihoodSurface", "ParameterTransform", "input_mapper"]


class _GraphInputs(torch.autograd.Function):
    """theta -> population-graph encodings, with a forward-difference Jacobian.

    The encoding is built by demes (numpy), so autograd cannot see inside it; its features
    are smooth functions of the parameters (log sizes, log cumulative times, rates), and
    forward differences (steps of 1e-6 relative, upwards, so a rate of 0 stays valid) are
    accurate to ~1e-6.
    """

    @staticmethod
    def forward(ctx, theta, model, max_nodes):
        ctx.model, ctx.max_nodes = model, max_nodes
        ctx.save_for_backward(theta)
        ctx.base = model.encode_graphs(theta.detach().cpu().numpy(), max_nodes, check=False)
        return torch.as_tensor(ctx.base, dtype=theta.dtype, device=theta.device)

    @staticmethod
    def backward(ctx, grad):
        (theta,) = ctx.saved_tensors
        th = theta.detach().cpu().numpy()
        model, base = ctx.model, ctx.base
        span = model.bounds_[:, 1] - model.bounds_[:, 0]
        steps = np.where(model.log_scaled, 1e-6 * np.abs(th), 1e-6 * span)
        g = grad.detach().cpu().numpy()
        out = np.empty_like(th)
        for i in range(th.shape[1]):
            moved = th.copy()
            moved[:, i] += steps[:, i]
            diff = (model.encode_graphs(moved, ctx.max_nodes, check=False) - base)
            out[:, i] = (g * diff).sum(axis=1) / steps[:, i]
        return torch.as_tensor(out, dtype=theta.dtype, device=theta.device), None, None


def input_mapper(model, predictor):
    """A torch function from ``model``'s parameters to the predictor's inputs.

    The identity when the emulator was trained on this family; zero-padding of the leading
    epochs for a ``PiecewiseConstant`` with fewer epochs than the emulator serves; the
    population-graph encoding for a graph-encoder emulator.
    """
    if getattr(predictor, "encoder", "mlp") == "graph":
        n_pop = len(predictor.sfs_shape_)
        if model.n_populations != n_pop:
            raise ValueError(f"model has {model.n_populations} population(s), but the "
                             f"emulator was trained on {n_pop}; pass an emulator trained on "
                             f"{model.n_populations}-population teacher data of this model.")
        return lambda theta: _GraphInputs.apply(theta, model, predictor.max_nodes)
    source = getattr(predictor, "model_", None)
    n_in = predictor.n_features_in_
    if source is not None and type(source) is type(model) and (
        source.get_params(deep=False) == model.get_params(deep=False)
        or (isinstance(model, PiecewiseConstant) and model.n_epochs == source.n_epochs)
    ):
        return lambda theta: theta
    if isinstance(model, PiecewiseConstant) and isinstance(source, PiecewiseConstant):
        k, k_max = model.n_epochs, source.n_epochs
        if k > k_max:
            raise ValueError(
                f"model has n_epochs={k}, but the emulator serves at most {k_max} epochs."
            )

        def pad(theta):
            lead = theta.new_ones(theta.shape[0], k_max - k)
            return torch.cat([lead, theta[:, :k], 0.1 * lead, theta[:, k:]], dim=1)

        return pad
    if source is None and model.n_params == n_in:
        return lambda theta: theta
    raise ValueError(
        f"The emulator was trained on {source!r} ({n_in} parameters) and cannot serve "
        f"model {model!r}; train a NeuralSFSRegressor on teacher data of this model."
    )


class ParameterTransform:
    """Parameters <-> the fitter's spaces.

    ``u`` is the model's own scale (log where log-scaled, :meth:`DemographicModel.transform`);
    ``z`` is unconstrained: ``u = lo + (hi - lo) sigmoid(z)`` between the prior bounds.
    """

    def __init__(self, model):
        self.log = torch.as_tensor(model.log_scaled)
        bounds = model.bounds_
        self.lo = torch.as_tensor(model.transform(bounds[:, 0]), dtype=torch.float64)
        self.hi = torch.as_tensor(model.transform(bounds[:, 1]), dtype=torch.float64)

    def u_from_z(self, z):
        return self.lo + (self.hi - self.lo) * torch.sigmoid(z)

    def theta_from_u(self, u):
        return from_log_scale(u, self.log)

    def u_from_theta(self, theta):
        return to_log_scale(theta, self.log)

    def z_from_theta(self, theta):
        u = self.u_from_theta(torch.as_tensor(theta, dtype=torch.float64))
        frac = ((u - self.lo) / (self.hi - self.lo)).clamp(1e-6, 1 - 1e-6)
        return torch.log(frac) - torch.log1p(-frac)

    def theta_from_z(self, z):
        return self.theta_from_u(self.u_from_z(z))


class LikelihoodSurface:
    """The emulator's multinomial log-likelihood of one observed spectrum.

    Built once per fit: the emulator's float64 torch copy (projected to the data's sample
    sizes), the map from the model's parameters to the emulator's inputs and the parameter
    transform. A local correction of the emulator (a refined fit's
    :class:`~sfsestimators.inference.LocalCorrection`) multiplies its spectrum by
    ``exp(correction(u))``; :meth:`with_correction` shares the module.

    Parameters
    ----------
    model : DemographicModel
    predictor : NeuralSFSRegressor
        A fitted emulator.
    sfs : moments.Spectrum
        The observed spectrum.
    correction : callable or None, default=None
        ``u -> log correction`` of every spectrum entry.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators import DemographyFitter, PiecewiseConstant
    >>> observed = PiecewiseConstant(1).expected_sfs([0.5, 0.1], [20]) * 5000
    >>> fitter = DemographyFitter(model=PiecewiseConstant(1), n_starts=2, polish=None,
    ...                           refine=0, uncertainty=None, random_state=0).fit(observed)
    >>> surface = fitter.likelihood_surface()  # the emulator's, as the fit used it
    >>> theta = torch.tensor([list(fitter.params_.values())], dtype=torch.float64)
    >>> with torch.no_grad():
    ...     ll = float(surface.loglik(theta)[0])
    >>> round(ll, 6) == round(fitter.log_likelihood_, 6)
    True
    """

    def __init__(self, model, predictor, sfs, correction=None, *, _module=None):
        n_max = [s - 1 for s in predictor.sfs_shape_]
        sizes = [int(s) for s in sfs.sample_sizes]
        if len(sizes) != len(n_max):
            raise ValueError(
                f"observed_sfs has {len(sizes)} population(s), but the emulator was trained on "
                f"{len(n_max)}; pass an emulator (predictor=) trained on {len(sizes)}-population "
                "teacher data and a model (model=) of that many populations."
            )
        for n, top in zip(sizes, n_max):
            if n < 4:
                raise ValueError(f"observed_sfs has sample size {n}; expected at least 4.")
            if n > top:
                raise ValueError(
                    f"observed_sfs has sample size {n}, above the emulator's maximum {top}; "
                    f"project the data to n <= {top} (moments.Spectrum.project)."
                )
        if _module is None:
            _module = predictor.as_torch(sample_sizes=None if sizes == n_max else sizes,
                                         dtype=torch.float64)
        self.model, self.predictor, self.sfs = model, predictor, sfs
        self.module = _module
        self.mapper = input_mapper(model, predictor)
        self.transform = ParameterTransform(model)
        self.correction = correction

    def with_correction(self, correction):
        """The same surface with another local correction (the module is shared)."""
        return LikelihoodSurface(self.model, self.predictor, self.sfs, correction,
                                 _module=self.module)

    def spectrum(self, theta):
        """Expected spectra (for theta = 1) at parameters ``theta`` of shape (batch, p)."""
        out = self.module(self.mapper(theta))
        if self.correction is not None:
            out = out * torch.exp(self.correction(self.transform.u_from_theta(theta)))
        return out

    def loglik(self, theta, data=None):
        """Multinomial log-likelihood at ``theta`` (of ``data``, default the observed SFS)."""
        if data is None:
            return multinomial_loglik(self.spectrum(theta), self.sfs)
        return multinomial_loglik(self.spectrum(theta), data,
                                  mask=np.ma.getmaskarray(self.sfs), folded=bool(self.sfs.folded))

    def loglik_u(self, u, data=None):
        """:meth:`loglik` on the model's (log-)scale ``u``."""
        return self.loglik(self.transform.theta_from_u(u), data)

    def fisher_information(self, u_hat):
        """Expected Fisher information of the multinomial in ``u``, ``N sum_j grad p_j grad
        p_j^T / p_j``, by autograd: first derivatives only, positive semi-definite."""
        sfs = self.sfs
        shape = tuple(sfs.shape)
        base = corner_mask(shape)
        if sfs.folded:
            base = fold_mask(base)
        include = torch.as_tensor(~(base | np.ma.getmaskarray(sfs)))

        def probs(u):
            spec = self.spectrum(self.transform.theta_from_u(u[None]))[0]
            if sfs.folded:
                spec = fold(spec, ndim=len(shape))
            values = spec[include]
            return values / values.sum()

        u_hat = torch.as_tensor(u_hat, dtype=torch.float64)
        p_hat = probs(u_hat).detach()
        try:  # p forward passes instead of one backward pass per spectrum entry
            jac = torch.autograd.functional.jacobian(probs, u_hat, vectorize=True,
                                                     strategy="forward-mode")
        except (RuntimeError, NotImplementedError):  # an op without forward-mode AD or vmap
            jac = torch.autograd.functional.jacobian(probs, u_hat)
        jac = jac.detach()
        return (float(np.ma.sum(sfs)) * jac.T @ (jac / p_hat[:, None])).numpy()
