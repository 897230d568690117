"""``DemographyFitter``: maximum-likelihood demography through the emulator, confirmed exactly."""

from __future__ import annotations

import time
import warnings

import demes
import moments
import numpy as np
import torch
from joblib import Parallel, delayed
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._validation import check_int_params
from .io import as_spectrum
from .likelihood import corner_mask, fold, fold_mask, multinomial_loglik, optimal_theta
from .models import DemographicModel, PiecewiseConstant
from .teacher import evaluate_teacher

__all__ = ["DemographyFitter"]

_Z_LIMIT = 6.0  # |z| beyond this: within 0.25 % of a bound (sigmoid(6) = 0.9975)


# -- mapping between the user's model and the emulator's inputs --------------------------------
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


def _input_mapper(model, predictor):
    """A torch function from ``model``'s parameters to the predictor's inputs."""
    if getattr(predictor, "encoder", "mlp") == "graph":
        n_pop = len(predictor.sfs_shape_)
        if model.n_populations != n_pop:
            raise ValueError(f"model has {model.n_populations} population(s), but the "
                             f"emulator was trained on {n_pop}.")
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


def _emulator_module(predictor, sfs):
    """The predictor's float64 torch module, projected to the data's sample sizes."""
    sizes = [int(s) for s in sfs.sample_sizes]
    full = [s - 1 for s in predictor.sfs_shape_]
    return predictor.as_torch(sample_sizes=None if sizes == full else sizes,
                              dtype=torch.float64)


class _Transform:
    """Parameters <-> unconstrained z: u = log(theta) or theta, u = lo + (hi - lo) sigmoid(z)."""

    def __init__(self, model):
        self.log = torch.as_tensor(model.log_scaled)
        bounds = model.bounds_
        self.lo = torch.as_tensor(model.transform(bounds[:, 0]), dtype=torch.float64)
        self.hi = torch.as_tensor(model.transform(bounds[:, 1]), dtype=torch.float64)

    def u_from_z(self, z):
        return self.lo + (self.hi - self.lo) * torch.sigmoid(z)

    def theta_from_u(self, u):
        return torch.where(self.log, torch.exp(torch.where(self.log, u, 0.0)), u)

    def u_from_theta(self, theta):
        return torch.where(self.log, torch.log(torch.where(self.log, theta, 1.0)), theta)

    def z_from_theta(self, theta):
        u = self.u_from_theta(torch.as_tensor(theta, dtype=torch.float64))
        frac = ((u - self.lo) / (self.hi - self.lo)).clamp(1e-6, 1 - 1e-6)
        return torch.log(frac) - torch.log1p(-frac)


class _LocalCorrection:
    """A smooth correction of the emulator's log spectrum near a fit, learnt from the teacher.

    ``c(u) = phi(w) @ coef`` with ``w = L^-1 (u - center)`` clamped to the box the design
    points span (so it never extrapolates), and ``phi`` = (1, w) or (1, w, w_i w_j, i <= j).
    The corrected spectrum is ``emulator(u) * exp(c(u))``.
    """

    def __init__(self, center, chol_inv, radius, coef, quadratic):
        self.center = torch.as_tensor(center, dtype=torch.float64)
        self.chol_inv = torch.as_tensor(chol_inv, dtype=torch.float64)
        self.radius = torch.as_tensor(radius, dtype=torch.float64)
        self.coef = torch.as_tensor(coef, dtype=torch.float64)  # (n_features, *spectrum)
        self.quadratic = quadratic

    def whiten(self, u):
        return (torch.as_tensor(u, dtype=torch.float64) - self.center) @ self.chol_inv.T

    @staticmethod
    def features(w, quadratic):
        parts = [torch.ones_like(w[:, :1]), w]
        if quadratic:
            i, j = torch.triu_indices(w.shape[1], w.shape[1])
            parts.append(w[:, i] * w[:, j])
        return torch.cat(parts, dim=1)

    def __call__(self, u):
        w = torch.maximum(torch.minimum(self.whiten(u), self.radius), -self.radius)
        phi = self.features(w, self.quadratic)
        return (phi @ self.coef.reshape(len(self.coef), -1)).reshape(
            (len(u),) + tuple(self.coef.shape[1:]))


def _corrected(spectrum, transform, correction):
    """``theta -> spectrum(theta) * exp(correction(u))``, or ``spectrum`` itself."""
    if correction is None:
        return spectrum
    return lambda theta: spectrum(theta) * torch.exp(correction(transform.u_from_theta(theta)))


def _lbfgs(objective, z, max_iter):
    """Minimise ``objective()`` over the leaf tensor ``z`` by L-BFGS; returns the iterations."""
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9, history_size=20)

    def closure():
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    opt.step(closure)
    return int(opt.state[z]["n_iter"])


def _fisher_information(spectrum, transform, sfs, u_hat):
    """Expected Fisher information of the multinomial in u, ``N sum_j grad p_j grad p_j^T /
    p_j``, by autograd through ``spectrum``: first derivatives only, positive semi-definite."""
    shape = tuple(sfs.shape)
    base = corner_mask(shape)
    if sfs.folded:
        base = fold_mask(base)
    include = torch.as_tensor(~(base | np.ma.getmaskarray(sfs)))

    def probs(u):
        spec = spectrum(transform.theta_from_u(u[None]))[0]
        if sfs.folded:
            spec = fold(spec, ndim=len(shape))
        values = spec[include]
        return values / values.sum()

    u_hat = torch.as_tensor(u_hat, dtype=torch.float64)
    p_hat = probs(u_hat).detach()
    jac = torch.autograd.functional.jacobian(probs, u_hat)
    return (float(np.ma.sum(sfs)) * jac.T @ (jac / p_hat[:, None])).numpy()


class DemographyFitter(BaseEstimator):
    """Fit a demographic model to an observed SFS through a neural emulator.

    All starts are optimised together, as one batch, through the differentiable emulator
    (:meth:`NeuralSFSRegressor.as_torch`), in an unconstrained transform of the prior bounds;
    theta is fitted analytically (multinomial likelihood). The best optimum is then *polished*
    with the exact teacher (moments), so the reported likelihood never rests on the emulator
    alone.

    With no arguments it uses the shipped emulator of the one-population piecewise-constant
    family (1 to 6 epochs, any sample size 4 <= n <= 100, folded or unfolded) and chooses the
    number of epochs by AIC.

    Parameters
    ----------
    predictor : NeuralSFSRegressor, default=None
        A fitted emulator; default: the shipped one
        (:func:`sfsestimators.pretrained.load_default`). It is treated as frozen: ``clone``
        (and so every sklearn search) shares it instead of refitting it.
    model : DemographicModel, default=None
        The family to fit; default: ``PiecewiseConstant`` with 1..``max_epochs_auto`` epochs,
        chosen by AIC. ``set_params(model__n_epochs=k)`` on a fitter without a model fixes
        ``PiecewiseConstant(n_epochs=k)`` (so ``GridSearchCV`` can search it).
    n_starts : int, default=16
        Starting points drawn from the model's prior, optimised as one batch.
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        Optimiser of the batched emulator likelihood.
    max_iter : int, default=200
        Iterations of that optimiser.
    max_epochs_auto : int, default=6
        Largest number of epochs tried when ``model`` is None.
    polish : {"moments", None}, default="moments"
        Refine the best optimum with the exact likelihood (moments, Nelder-Mead in the
        log-parameter space) or not.
    polish_maxfev : int, default=300
        Most exact evaluations of the polish.
    refine : int, default=0
        Teacher evaluations spent on a local correction of the emulator before the polish
        (0: none). They are drawn around the emulator's optimum in three rounds (from the
        inverse Fisher information, 3, 2 and 1 standard deviations wide) and evaluated in
        parallel (``n_jobs``); after each round the log-ratio teacher / emulator of every
        entry is fitted as a quadratic in the parameters (linear below
        ``2 (1 + p + p (p + 1) / 2)`` evaluations; weighted towards the round's centre) and
        the fit moves to the optimum of the corrected likelihood. Unlike
        the sequential polish, the cost is ``refine / n_jobs`` teacher times; the corrected
        emulator also serves the uncertainty, :meth:`bootstrap_refit` and
        :meth:`sample_posterior` (near the fit; the correction is clamped to the design's
        range). See ``refinement_``.
    n_jobs : int, default=None
        joblib workers for the teacher evaluations (the exact ranking of the starts and the
        refinement); honours ``joblib.parallel_config`` (e.g. a Dask cluster).
    uncertainty : {"fim", "godambe", None}, default="fim"
        Standard errors from the Fisher information of the multinomial likelihood,
        ``N sum_j grad p_j grad p_j^T / p_j`` with the gradients by autograd through the
        emulator (first derivatives only: robust to the emulator's small errors, positive
        semi-definite), or the Godambe information (that sensitivity and the variance of the
        score over ``n_bootstrap`` bootstrap spectra: Poisson resamples, or genomic blocks
        when per-site data and ``blocks`` are given; for linked sites).
    n_bootstrap : int, default=100
        Bootstrap spectra for ``uncertainty="godambe"``.
    sample_sizes : sequence of int, default=None
        Haploid sample sizes of per-site input (rows = sites, columns = derived counts).
    folded : bool, default=None
        Treat the data as folded; default: a Spectrum's own flag, else unfolded.
    mutation_rate, sequence_length : float, default=None
        Per-generation per-bp mutation rate and the (effective) length; with both,
        ``N_ref = theta / (4 mu L)`` and ``graph_`` is in physical units.
    generation_time : float, default=None
        Years per generation; with it ``graph_`` is in years.
    random_state : int, RandomState instance or None, default=None
        Seeds the starting points and bootstrap.
    verbose : int, default=0
        Print progress when > 0.

    Attributes
    ----------
    model_ : DemographicModel
        The fitted (or selected) model.
    params_ : dict
        Maximum-likelihood parameters.
    theta_ : float
        The fitted population-scaled mutation rate ``4 N_ref mu L``.
    log_likelihood_ : float
        Multinomial log-likelihood, exact (moments) when polished.
    log_likelihood_emulator_ : float
        The emulator's log-likelihood at its own optimum.
    starts_loglik_, starts_loglik_exact_ : ndarray of shape (n_starts,)
        The emulator's and (when polished) the exact log-likelihood at every start's
        emulator optimum; the polish starts from the exactly-best one.
    covariance_, covariance_fim_ : ndarray of shape (n_params, n_params)
        Covariance of the (log-)parameters by the chosen method, and by the Fisher
        information alone.
    stderr_, conf_int_ : dict
        Standard errors and 95 % intervals per parameter (log-scaled parameters: intervals
        on the log scale, standard errors by the delta method).
    expected_sfs_ : moments.Spectrum
        The fitted expected spectrum, scaled by ``theta_`` (exact when polished).
    graph_ : demes.Graph
        The fitted history (physical units when ``mutation_rate`` and ``sequence_length``
        are given, else a nominal ``N_ref = 1e4`` generations and individuals).
    ne_history_ : list of dict
        One-population models: the size history as epochs (start/end time, start/end size).
    selection_ : list of dict
        Per candidate model: parameters, emulator log-likelihood and AIC.
    n_iter_ : int
        Optimiser iterations.
    converged_ : bool
        Whether the best start's gradient vanished (and the polish converged).
    fit_time_ : dict
        Seconds spent in the emulator optimisation, the exact ranking of the starts, the
        refinement, the polish and the uncertainty.
    refinement_ : dict or None
        With ``refine > 0``: teacher evaluations made and failed (with reasons), whether the
        correction was quadratic, the best exact log-likelihood among the design points so
        far after each round, and the exact log-likelihood of the refined fit.

    Examples
    --------
    >>> from sfsestimators import DemographyFitter, NeuralSFSRegressor, TwoEpoch
    >>> from sfsestimators import generate_teacher_data
    >>> theta, sfs, _ = generate_teacher_data(TwoEpoch(), 200, [12], random_state=0)
    >>> emulator = NeuralSFSRegressor((32, 32), max_epochs=20, random_state=0)
    >>> emulator = emulator.fit(theta, sfs, model=TwoEpoch())
    >>> observed = TwoEpoch().expected_sfs([0.5, 0.1], [12]) * 2000
    >>> fitter = DemographyFitter(emulator, TwoEpoch(), n_starts=4, polish=None,
    ...                           random_state=0).fit(observed)
    >>> sorted(fitter.params_)
    ['T', 'nu']
    """

    def __init__(
        self,
        predictor=None,
        model=None,
        *,
        n_starts=16,
        optimizer="lbfgs",
        max_iter=200,
        max_epochs_auto=6,
        polish="moments",
        polish_maxfev=300,
        refine=0,
        uncertainty="fim",
        n_bootstrap=100,
        sample_sizes=None,
        folded=None,
        mutation_rate=None,
        sequence_length=None,
        generation_time=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.predictor = predictor
        self.model = model
        self.n_starts = n_starts
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.max_epochs_auto = max_epochs_auto
        self.polish = polish
        self.polish_maxfev = polish_maxfev
        self.refine = refine
        self.uncertainty = uncertainty
        self.n_bootstrap = n_bootstrap
        self.sample_sizes = sample_sizes
        self.folded = folded
        self.mutation_rate = mutation_rate
        self.sequence_length = sequence_length
        self.generation_time = generation_time
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_clone__(self):
        # The predictor is a trained, frozen component (like sklearn's FrozenEstimator):
        # clones share it; every other parameter is cloned as usual.
        params = self.get_params(deep=False)
        predictor = params.pop("predictor")
        return type(self)(predictor=predictor,
                          **{k: clone(v, safe=False) for k, v in params.items()})

    def set_params(self, **params):
        # model__* on a fitter without a model fixes a PiecewiseConstant (the default family)
        if self.model is None and any(k.startswith("model__") for k in params):
            self.model = PiecewiseConstant()
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = False  # spectra, paths or per-site counts
        tags.non_deterministic = False
        return tags

    # -- data ---------------------------------------------------------------------------------
    def _n_populations(self):
        return self.model.n_populations if self.model is not None else 1

    def _is_per_site(self, X):
        return (
            isinstance(X, np.ndarray) and not isinstance(X, np.ma.MaskedArray)
            and X.ndim == 2 and X.shape[1] == self._n_populations()
            and (self._n_populations() == 1 or self.sample_sizes is not None)
        )

    def _per_site(self, X):
        """Validate per-site derived counts; return them as an int array."""
        sizes = self.sample_sizes
        if sizes is None:
            raise ValueError(
                f"X has shape {X.shape}: per-site derived-allele counts (rows = sites), which "
                "need sample_sizes; pass sample_sizes=[n, ...] to DemographyFitter."
            )
        sizes = np.atleast_1d(np.asarray(sizes, dtype=int))
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

    def _spectrum(self, X):
        """The observed spectrum (moments.Spectrum) and the per-site counts (or None)."""
        counts = None
        if self._is_per_site(X):
            counts, sizes = self._per_site(X)
            fs = np.zeros(tuple(sizes + 1))
            np.add.at(fs, tuple(counts.T), 1.0)
            sfs = moments.Spectrum(fs, mask_corners=True)
            if self.folded:
                sfs = sfs.fold()
        else:
            if (isinstance(X, np.ndarray) and not isinstance(X, np.ma.MaskedArray)
                    and X.ndim == 2 and self._n_populations() == 1):
                raise ValueError(
                    f"X has shape {X.shape}; expected a 1-D spectrum or per-site counts of "
                    "shape (n_sites, 1) for a one-population model."
                )
            sfs = as_spectrum(X, name="observed_sfs")
            if self.folded and not sfs.folded:
                sfs = sfs.fold()
        if sfs.ndim != self._n_populations():
            raise ValueError(
                f"observed_sfs has {sfs.ndim} population(s), but model "
                f"{self.model!r} has {self._n_populations()}."
            )
        if np.ma.sum(sfs) <= 0:
            raise ValueError("observed_sfs holds no segregating sites; expected counts > 0.")
        return sfs, counts

    # -- fitting ------------------------------------------------------------------------------
    def _check_params(self):
        check_int_params(self, ("n_starts", "max_iter", "n_bootstrap", "polish_maxfev",
                                "max_epochs_auto"))
        if isinstance(self.refine, bool) or not isinstance(self.refine, (int, np.integer)) or (
                self.refine < 0):
            raise ValueError(f"refine is {self.refine!r}; expected an integer >= 0 (teacher "
                             "evaluations; 0 for none).")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"optimizer is {self.optimizer!r}; expected 'lbfgs' or 'adam'.")
        if self.polish not in ("moments", None):
            raise ValueError(f"polish is {self.polish!r}; expected 'moments' or None.")
        if self.uncertainty not in ("fim", "godambe", None):
            raise ValueError(
                f"uncertainty is {self.uncertainty!r}; expected 'fim', 'godambe' or None."
            )
        if self.model is not None and not isinstance(self.model, DemographicModel):
            raise TypeError(f"model is {type(self.model).__name__}; expected a "
                            "DemographicModel.")

    def _predictor(self):
        if self.predictor is not None:
            check_is_fitted(self.predictor)
            return self.predictor
        from .pretrained import load_default

        return load_default()

    def _loglik_fn(self, model, predictor, sfs, correction=None):
        """The emulator's log-likelihood of u, the transform, and theta -> spectrum (with the
        local ``correction`` of a refined fit, if given)."""
        n_max = [s - 1 for s in predictor.sfs_shape_]
        sizes = [int(s) for s in sfs.sample_sizes]
        if len(sizes) != len(n_max):
            raise ValueError(
                f"observed_sfs has {len(sizes)} population(s), but the emulator was trained on "
                f"{len(n_max)}."
            )
        for n, top in zip(sizes, n_max):
            if n < 4:
                raise ValueError(f"observed_sfs has sample size {n}; expected at least 4.")
            if n > top:
                raise ValueError(
                    f"observed_sfs has sample size {n}, above the emulator's maximum {top}; "
                    f"project the data to n <= {top} (moments.Spectrum.project)."
                )
        module = _emulator_module(predictor, sfs)
        mapper = _input_mapper(model, predictor)
        transform = _Transform(model)

        spectrum = _corrected(lambda theta: module(mapper(theta)), transform, correction)

        def loglik_u(u):
            return multinomial_loglik(spectrum(transform.theta_from_u(u)), sfs)

        return loglik_u, transform, spectrum

    def _optimise(self, model, predictor, sfs, rng):
        loglik_u, transform, _ = self._loglik_fn(model, predictor, sfs)
        starts = model.sample_prior(self.n_starts, random_state=rng)
        z = transform.z_from_theta(starts).clone().requires_grad_(True)

        def objective():
            return -loglik_u(transform.u_from_z(z)).sum()

        if self.optimizer == "lbfgs":
            n_iter = _lbfgs(objective, z, self.max_iter)
        else:
            opt = torch.optim.Adam([z], lr=0.05)
            for n_iter in range(1, self.max_iter + 1):  # noqa: B007
                opt.zero_grad()
                objective().backward()
                opt.step()
        z_final = z.detach()
        zg = z_final.clone().requires_grad_(True)
        ll = loglik_u(transform.u_from_z(zg))
        grad = torch.autograd.grad(ll.sum(), zg)[0]
        ll = ll.detach().numpy()
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        best = int(np.argmax(ll))
        theta = transform.theta_from_u(transform.u_from_z(z_final)).numpy()
        return {
            "model": model, "theta": theta[best], "loglik": float(ll[best]),
            "all_loglik": ll, "all_theta": theta, "n_iter": n_iter,
            "z": z_final[best].numpy(),
            "grad_norm": float(grad[best].norm()),
        }

    def _exact_loglik(self, model, theta, sfs):
        try:
            fs = model.expected_sfs(theta, [int(s) for s in sfs.sample_sizes])
        except ValueError:
            return -np.inf
        ll = multinomial_loglik(fs, sfs)
        return float(ll) if np.isfinite(ll) else -np.inf

    def _teacher(self, model, thetas, sfs):
        """Exact spectra at ``thetas`` (joblib, ``n_jobs``): (spectra or None, reasons)."""
        sizes = [int(s) for s in sfs.sample_sizes]
        out = Parallel(n_jobs=self.n_jobs)(
            delayed(evaluate_teacher)(model, t, sizes) for t in np.atleast_2d(thetas))
        return [o[0] for o in out], [o[1] for o in out]

    def _exact_logliks(self, model, thetas, sfs):
        """Exact log-likelihoods at ``thetas`` (-inf where the teacher failed), the spectra
        and the failure reasons."""
        spectra, reasons = self._teacher(model, thetas, sfs)
        lls = np.array([float(multinomial_loglik(f, sfs)) if f is not None else -np.inf
                        for f in spectra])
        return np.where(np.isfinite(lls), lls, -np.inf), spectra, reasons

    def _refine(self, model, predictor, sfs, theta, rng):
        """Learn a local correction of the emulator from ``refine`` teacher spectra around
        ``theta`` (three rounds, evaluated in parallel), re-optimising after each round.

        Round r draws its points from N(u_c, (s_r)^2 I^-1) in the fitter's parameter space
        (u_c the current optimum, I the Fisher information there, s = 3, 2, 1; the first
        point is u_c itself), fits the log-ratio teacher / emulator of every entry as a
        quadratic (linear when there are too few points) in the whitened parameters, and
        moves u_c to the optimum of the corrected likelihood. Returns the best parameters
        by the EXACT likelihood (the refined optimum, or a design point if one is better)
        and that likelihood.
        """
        _, transform, plain = self._loglik_fn(model, predictor, sfs)  # one emulator copy
        lo, hi = transform.lo.numpy(), transform.hi.numpy()
        d = model.n_params
        quadratic = self.refine >= 2 * (1 + d + d * (d + 1) // 2)
        u_c = np.clip(model.transform(theta), lo, hi)
        design, residuals, exact_ll = [], [], []
        n_failed, reasons, history = 0, {}, []
        correction = None
        scales = [3.0, 2.0, 1.0]
        sizes = [len(part) for part in np.array_split(np.arange(self.refine), len(scales))]
        for n_round, scale in zip(sizes, scales):
            if n_round == 0:
                continue
            spectrum = _corrected(plain, transform, correction)
            info = _fisher_information(spectrum, transform, sfs, u_c)
            # design covariance: the inverse information, its variances kept within
            # [1e-4^2, (span / 4)^2] so flat or sharp directions still get sensible steps
            vals, vecs = np.linalg.eigh(info + 1e-12 * np.eye(d))
            var = np.clip(1.0 / np.maximum(vals, 1e-300), 1e-8,
                          (np.min(hi - lo) / 4) ** 2)
            chol = np.linalg.cholesky((vecs * var) @ vecs.T + 1e-14 * np.eye(d))
            eps = rng.standard_normal((n_round, d))
            eps[0] = 0.0
            u_new = np.clip(u_c + scale * eps @ chol.T, lo, hi)
            thetas = model.inverse_transform(u_new)
            lls, spectra, why = self._exact_logliks(model, thetas, sfs)
            with torch.no_grad():
                emu = plain(torch.as_tensor(thetas)).numpy()
            for u_i, ll, fs, e in zip(u_new, lls, spectra, emu):
                if fs is None:
                    n_failed += 1
                    continue
                ok = (fs > 0) & (e > 0)
                design.append(u_i)
                residuals.append(np.where(ok, np.log(np.where(ok, fs, 1.0))
                                          - np.log(np.where(ok, e, 1.0)), 0.0))
                exact_ll.append(ll)
            for reason in filter(None, why):
                key = reason.split(":")[0]
                reasons[key] = reasons.get(key, 0) + 1
            if len(design) < d + 2:
                break
            # the correction, in the coordinates of this round's design
            U = np.asarray(design)
            chol_inv = np.linalg.inv(chol)
            w = (U - u_c) @ chol_inv.T
            phi = _LocalCorrection.features(torch.as_tensor(w), quadratic).numpy()
            R = np.asarray(residuals).reshape(len(U), -1)
            # weighted towards this round's centre: earlier, wider rounds only inform
            weight = np.exp(-0.5 * np.sum(w ** 2, axis=1) / (d * (2 * scale) ** 2))
            gram = phi.T @ (weight[:, None] * phi)
            coef = np.linalg.solve(gram + 1e-8 * np.trace(gram) / len(gram)
                                   * np.eye(len(gram)), phi.T @ (weight[:, None] * R))
            correction = _LocalCorrection(u_c, chol_inv, np.abs(w).max(axis=0), coef.reshape(
                (len(coef),) + residuals[0].shape), quadratic)
            spectrum = _corrected(plain, transform, correction)
            z = transform.z_from_theta(model.inverse_transform(u_c)[None]).clone()
            z.requires_grad_(True)
            _lbfgs(lambda z=z, f=spectrum: -multinomial_loglik(
                f(transform.theta_from_u(transform.u_from_z(z))), sfs).sum(), z, self.max_iter)
            u_c = transform.u_from_z(z.detach())[0].numpy()
            history.append(float(np.max(exact_ll)))
        theta_new = model.inverse_transform(u_c)
        ll_new, _, _ = self._exact_logliks(model, theta_new[None], sfs)
        best = int(np.argmax(exact_ll)) if exact_ll else None
        if best is not None and exact_ll[best] > ll_new[0]:
            theta_new, ll = model.inverse_transform(np.asarray(design[best])), exact_ll[best]
        else:
            ll = float(ll_new[0])
        self._correction = correction
        self.refinement_ = {
            "n_evaluations": self.refine + 1, "n_failed": n_failed, "failures": reasons,
            "quadratic": quadratic, "best_design_loglik": history,
            "loglik_refined": ll,
        }
        if n_failed:
            warnings.warn(f"{n_failed} of {self.refine} teacher evaluations of the refinement "
                          f"failed ({reasons}); they were left out.", stacklevel=3)
        return theta_new, ll

    def _polish(self, model, theta0, sfs):
        """Nelder-Mead on the exact likelihood in the (log-)parameter space, within bounds."""
        u0 = model.transform(theta0)
        lo, hi = model.transform(model.lower_bound), model.transform(model.upper_bound)
        u0 = np.clip(u0, lo, hi)

        def negll(u):
            return -self._exact_loglik(model, model.inverse_transform(np.clip(u, lo, hi)), sfs)

        simplex = np.vstack([u0] + [u0 + 0.05 * np.eye(len(u0))[i] * np.where(
            u0 + 0.05 < hi, 1, -1)[i] for i in range(len(u0))])
        res = minimize(negll, u0, method="Nelder-Mead", bounds=list(zip(lo, hi)),
                       options=dict(maxfev=self.polish_maxfev, xatol=1e-4, fatol=1e-5,
                                    initial_simplex=simplex))
        return model.inverse_transform(np.clip(res.x, lo, hi)), -float(res.fun), res

    def fit(self, X, y=None, *, blocks=None):
        """Fit the model to an observed spectrum.

        Parameters
        ----------
        X : moments.Spectrum, array-like, path, or per-site counts
            The observed SFS (a Spectrum, an array of counts, or a ``.fs`` path), or per-site
            derived-allele counts of shape (n_sites, n_populations) with ``sample_sizes``.
        y : None
            Ignored.
        blocks : array-like of shape (n_sites,), default=None
            Genomic block of each site (per-site input), for the Godambe block bootstrap.

        Returns
        -------
        self
        """
        self._check_params()
        start = time.perf_counter()
        rng = check_random_state(self.random_state)
        sfs, counts = self._spectrum(X)
        predictor = self._predictor()
        if self.model is not None:
            candidates = [self.model]
        else:
            served = getattr(predictor.model_, "n_epochs", None)
            if not isinstance(predictor.model_, PiecewiseConstant):
                raise ValueError(
                    f"model=None selects among PiecewiseConstant models, but the predictor "
                    f"was trained on {predictor.model_!r}; pass model=."
                )
            candidates = [PiecewiseConstant(n_epochs=k)
                          for k in range(1, min(self.max_epochs_auto, served) + 1)]
        results = []
        for model in candidates:
            res = self._optimise(model, predictor, sfs, rng)
            res["aic"] = 2 * model.n_params - 2 * res["loglik"]
            results.append(res)
            if self.verbose:
                print(f"{model!r}: emulator log-likelihood {res['loglik']:.3f}, "
                      f"AIC {res['aic']:.2f}")
        best = min(results, key=lambda r: r["aic"])
        model = best["model"]
        self.model_ = model
        self.selection_ = [
            {"model": repr(r["model"]), "n_params": r["model"].n_params,
             "log_likelihood_emulator": r["loglik"], "aic": r["aic"]}
            for r in results
        ]
        self.log_likelihood_emulator_ = best["loglik"]
        self.n_iter_ = best["n_iter"]
        self.starts_loglik_ = best["all_loglik"]
        t_emulator = time.perf_counter() - start

        theta = best["theta"]
        converged = best["grad_norm"] < 1e-2
        self._correction, self.refinement_ = None, None
        t_refine = t_rank = 0.0
        start = time.perf_counter()
        if self.polish == "moments" or self.refine:
            # rank every start's emulator optimum by the EXACT likelihood (n_starts moments
            # evaluations, in parallel) and go on from the best: the emulator's own ranking
            # can be fooled by its errors where the data are large
            exact, _, _ = self._exact_logliks(model, best["all_theta"], sfs)
            pick = int(np.argmax(exact))
            theta, ll = best["all_theta"][pick], float(exact[pick])
            self.starts_loglik_exact_ = exact
            self.log_likelihood_emulator_start_exact_ = ll
            t_rank = time.perf_counter() - start
            if self.refine:
                t0 = time.perf_counter()
                refined, ll_refined = self._refine(model, predictor, sfs, theta, rng)
                if ll_refined >= ll:
                    theta, ll = refined, ll_refined
                t_refine = time.perf_counter() - t0
            if self.polish == "moments":
                polished, ll_polished, res = self._polish(model, theta, sfs)
                if ll_polished >= ll:
                    theta, ll = polished, ll_polished
                converged = converged or bool(res.success)
            self.log_likelihood_ = ll
            expected = model.expected_sfs(theta, [int(s) for s in sfs.sample_sizes])
        else:
            self.log_likelihood_ = best["loglik"]
            expected = predictor.predict_spectrum(
                _input_mapper(model, predictor)(torch.as_tensor(theta[None])).numpy(),
                sample_sizes=[int(s) for s in sfs.sample_sizes],
            )[0]
        t_polish = time.perf_counter() - start - t_refine - t_rank
        self.converged_ = bool(converged)
        self.params_ = dict(zip(model.param_names, np.asarray(theta, dtype=float).tolist()))
        self._theta_vector = np.asarray(theta, dtype=float)
        self.theta_ = float(optimal_theta(expected, sfs))
        self.expected_sfs_ = expected * self.theta_
        self.observed_sfs_ = sfs
        self._warn_bounds(model, predictor, theta)

        start = time.perf_counter()
        self._uncertainty(model, predictor, sfs, counts, blocks, rng)
        self.fit_time_ = {"emulator": t_emulator, "ranking": t_rank, "refine": t_refine,
                          "polish": t_polish,
                          "uncertainty": time.perf_counter() - start}
        self._physical_units(model)
        return self

    def _warn_bounds(self, model, predictor, theta):
        transform = _Transform(model)
        z = transform.z_from_theta(theta[None])[0].numpy()
        for name, value, zi, lo, hi in zip(model.param_names, theta, z, model.lower_bound,
                                           model.upper_bound):
            if abs(zi) > _Z_LIMIT:
                warnings.warn(
                    f"Parameter {name!r} = {value:.4g} sits on its prior "
                    f"{'upper' if zi > 0 else 'lower'} bound [{lo:g}, {hi:g}]; the optimum may "
                    "lie outside the bounds.", stacklevel=3,
                )
        inputs = _input_mapper(model, predictor)(torch.as_tensor(theta[None])).numpy()[0]
        outside = (inputs < predictor.param_min_ * (1 - 1e-9)) | (
            inputs > predictor.param_max_ * (1 + 1e-9))
        if outside.any():
            warnings.warn(
                f"The optimum lies outside the emulator's training domain in input(s) "
                f"{np.flatnonzero(outside).tolist()}; the emulator's likelihood there is an "
                "extrapolation.", stacklevel=3,
            )

    def _uncertainty(self, model, predictor, sfs, counts, blocks, rng):
        names = model.param_names
        self.stderr_ = dict.fromkeys(names, np.nan)
        self.conf_int_ = {n: (np.nan, np.nan) for n in names}
        self.covariance_ = self.covariance_fim_ = None
        self._counts, self._blocks = counts, blocks
        if self.uncertainty is None:
            return
        _, transform, spectrum = self._loglik_fn(model, predictor, sfs, self._correction)
        u_hat = torch.as_tensor(model.transform(self._theta_vector), dtype=torch.float64)
        # the expected (not the observed) information: the Hessian would amplify the
        # emulator's small errors
        info = _fisher_information(spectrum, transform, sfs, u_hat)
        try:
            h_inv = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            warnings.warn("The information matrix is singular; no standard errors.",
                          stacklevel=3)
            return
        cov = h_inv
        self.covariance_fim_ = h_inv
        if self.uncertainty == "godambe":
            boot = self._bootstrap_spectra(sfs, counts, blocks, rng)
            u = u_hat.clone().requires_grad_(True)
            mask = np.ma.getmaskarray(sfs)
            ll = multinomial_loglik(spectrum(transform.theta_from_u(u[None])), boot,
                                    mask=mask, folded=bool(sfs.folded))
            scores = torch.stack([torch.autograd.grad(ll[b], u, retain_graph=True)[0]
                                  for b in range(len(boot))]).numpy()
            J = np.cov(scores, rowvar=False).reshape(len(names), len(names))
            cov = h_inv @ J @ h_inv
        diag = np.diag(cov)
        if np.any(diag <= 0):
            warnings.warn("The information matrix is singular in some direction (a parameter "
                          "the data do not inform); standard errors are NaN there.",
                          stacklevel=3)
        se_u = np.sqrt(np.where(diag > 0, diag, np.nan))
        self.covariance_ = cov
        u = u_hat.numpy()
        for i, name in enumerate(names):
            if model.log_scaled[i]:
                self.stderr_[name] = float(self._theta_vector[i] * se_u[i])
                self.conf_int_[name] = (float(np.exp(u[i] - 1.96 * se_u[i])),
                                        float(np.exp(u[i] + 1.96 * se_u[i])))
            else:
                self.stderr_[name] = float(se_u[i])
                self.conf_int_[name] = (float(u[i] - 1.96 * se_u[i]),
                                        float(u[i] + 1.96 * se_u[i]))

    def _bootstrap_spectra(self, sfs, counts, blocks, rng):
        n_boot = self.n_bootstrap
        if counts is not None and blocks is not None:
            blocks = np.asarray(blocks)
            if len(blocks) != len(counts):
                raise ValueError(f"blocks has {len(blocks)} entries, but X has "
                                 f"{len(counts)} sites.")
            labels, index = np.unique(blocks, return_inverse=True)
            shape = sfs.shape
            per_block = np.zeros((len(labels),) + tuple(np.asarray(self.sample_sizes) + 1))
            np.add.at(per_block, (index,) + tuple(counts.T), 1.0)
            if sfs.folded:
                per_block = np.stack([moments.Spectrum(b).fold().data for b in per_block])
            draws = rng.randint(0, len(labels), size=(n_boot, len(labels)))
            boot = per_block[draws].sum(axis=1).reshape((n_boot,) + shape)
        else:
            data = np.ma.filled(sfs, 0.0)
            boot = rng.poisson(np.broadcast_to(data, (n_boot,) + data.shape)).astype(float)
        return boot

    def _physical_units(self, model):
        theta = self._theta_vector
        if self.mutation_rate is not None and self.sequence_length is not None:
            self.N_ref_ = self.theta_ / (4 * self.mutation_rate * self.sequence_length)
            graph = model.to_demes(theta, N_ref=self.N_ref_)
            if self.generation_time is not None:
                data = graph.asdict()
                gt = float(self.generation_time)
                for deme in data["demes"]:
                    if deme.get("start_time") not in (None, float("inf"), "Infinity"):
                        deme["start_time"] = deme["start_time"] * gt
                    for epoch in deme["epochs"]:
                        epoch["end_time"] = epoch["end_time"] * gt
                for mig in data.get("migrations", []):
                    for key in ("start_time", "end_time"):
                        if key in mig and mig[key] not in (float("inf"), "Infinity"):
                            mig[key] = mig[key] * gt
                for pulse in data.get("pulses", []):
                    pulse["time"] = pulse["time"] * gt
                data["time_units"], data["generation_time"] = "years", gt
                graph = demes.Graph.fromdict(data)
            units = graph.time_units
            time_scale, size_scale = 1.0, 1.0
        else:
            self.N_ref_ = None
            # a nominal N_ref of 1e4 keeps migration rates per generation valid (<= 1)
            graph = model.to_demes(theta, N_ref=1e4)
            # back to the model's units: times in 2 N_ref generations, sizes relative to N_ref
            units, time_scale, size_scale = "2*N_ref generations", 0.5e-4, 1e-4
        self.graph_ = graph
        self.ne_history_ = []
        if model.n_populations == 1:
            for epoch in graph.demes[-1].epochs:
                self.ne_history_.append({
                    "start_time": float(epoch.start_time) * time_scale,
                    "end_time": float(epoch.end_time) * time_scale,
                    "start_size": float(epoch.start_size) * size_scale,
                    "end_size": float(epoch.end_size) * size_scale,
                    "time_units": units,
                })

    def bootstrap_refit(self, n_bootstrap=None, *, random_state=None):
        """Refit the model to bootstrap replicates of the data, all as one emulator batch.

        Replicates are genomic-block resamples when per-site data and ``blocks`` were given
        to :meth:`fit`, else Poisson resamples of the spectrum. Every replicate starts at the
        fitted parameters; there is no exact polish.

        Parameters
        ----------
        n_bootstrap : int, default=None
            Number of replicates; default ``self.n_bootstrap``.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        params : ndarray of shape (n_bootstrap, n_params)
            The refitted parameters; percentiles of each column give bootstrap intervals.
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        saved = self.n_bootstrap
        try:
            if n_bootstrap is not None:
                self.n_bootstrap = n_bootstrap
            boot = self._bootstrap_spectra(self.observed_sfs_, self._counts, self._blocks, rng)
        finally:
            self.n_bootstrap = saved
        model, predictor, sfs = self.model_, self._predictor(), self.observed_sfs_
        _, transform, spectrum = self._loglik_fn(model, predictor, sfs, self._correction)
        mask = np.ma.getmaskarray(sfs)
        z0 = transform.z_from_theta(self._theta_vector[None])
        z = z0.repeat(len(boot), 1).clone().requires_grad_(True)

        def objective():
            theta = transform.theta_from_u(transform.u_from_z(z))
            return -multinomial_loglik(spectrum(theta), boot, mask=mask,
                                       folded=bool(sfs.folded)).sum()

        _lbfgs(objective, z, self.max_iter)
        return transform.theta_from_u(transform.u_from_z(z.detach())).numpy()

    def sample_posterior(self, n_samples=1000, *, method="nuts", temper=None,
                         warmup_steps=500, n_particles=2000, n_moves=10,
                         random_state=None,
                         progress=False):
        """Draw from the posterior through the emulator (NUTS, or sequential Monte Carlo).

        The prior is the model's own (:meth:`DemographicModel.log_prior_transformed`: uniform
        between the bounds on each parameter's scale unless the family says otherwise,
        truncated to the bounds); the likelihood is the emulator's multinomial one (theta
        profiled out), optionally raised to a power ``w`` ("tempered").

        ``method="nuts"`` runs pyro's NUTS in the unconstrained space of the fitter, started at
        the maximum-likelihood estimate (needs the ``bayes`` extra, ``pyro-ppl``).
        ``method="smc"`` runs sequential Monte Carlo: ``n_particles`` prior draws are carried
        to the posterior through adaptively chosen likelihood temperatures (each keeping an
        effective sample size of half the particles), with ``n_moves`` random-walk Metropolis
        moves per temperature, every step ONE emulator batch. It reaches every mode of a
        weakly identified model, which NUTS started at one mode does not.
        ``posterior_diagnostics_`` records the temperatures, acceptance and the fraction of
        distinct particles.

        Linked sites make the composite likelihood over-confident. ``temper="godambe"`` uses
        ``w = p / tr(H^-1 J)`` (Ribatet, Cooley & Davison 2012; H the Fisher information, J
        the variance of the score from the bootstrap of a fit with
        ``uncertainty="godambe"``), so the posterior's curvature matches the Godambe
        (sandwich) variance on average. A float sets ``w`` directly.

        Parameters
        ----------
        n_samples : int, default=1000
            Posterior draws kept.
        method : {"nuts", "smc"}, default="nuts"
            Sampler.
        temper : None, "godambe" or float, default=None
            Power of the likelihood (None: 1).
        warmup_steps : int, default=500
            NUTS adaptation steps (discarded).
        n_particles : int, default=2000
            SMC particles (at least ``n_samples``).
        n_moves : int, default=10
            SMC Metropolis moves per temperature.
        random_state : int or None, default=None
            Seed of the sampler's random numbers, local to this call.
        progress : bool, default=False
            pyro's progress bar.

        Returns
        -------
        samples : ndarray of shape (n_samples, n_params)
            Parameters in natural units, columns in the order of ``model_.param_names``.
        """
        check_is_fitted(self)
        if method not in ("nuts", "smc"):
            raise ValueError(f"method is {method!r}; expected 'nuts' or 'smc'.")
        weight = self._temper_weight(temper)
        if method == "smc":
            return self._smc_posterior(n_samples, n_particles, n_moves, weight, random_state)
        try:
            import pyro
            from pyro.infer import MCMC, NUTS
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise ImportError("sample_posterior needs pyro-ppl: pip install "
                              "'sfsestimators[bayes]'") from exc
        model, predictor, sfs = self.model_, self._predictor(), self.observed_sfs_
        loglik_u, transform, _ = self._loglik_fn(model, predictor, sfs, self._correction)
        span = torch.log(transform.hi - transform.lo)

        def potential(params):
            z = params["z"]
            u = transform.u_from_z(z)
            log_jacobian = (span + torch.nn.functional.logsigmoid(z)
                            + torch.nn.functional.logsigmoid(-z)).sum()
            return -(weight * loglik_u(u[None])[0] + model.log_prior_transformed(u)
                     + log_jacobian)

        z0 = transform.z_from_theta(self._theta_vector[None])[0]
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        with torch.random.fork_rng(devices=[]):
            pyro.set_rng_seed(seed)
            mcmc = MCMC(NUTS(potential_fn=potential), num_samples=n_samples,
                        warmup_steps=warmup_steps, initial_params={"z": z0},
                        disable_progbar=not progress)
            mcmc.run()
        z = mcmc.get_samples()["z"].detach()
        return transform.theta_from_u(transform.u_from_z(z)).numpy()

    def _temper_weight(self, temper):
        if temper is None:
            return 1.0
        if temper == "godambe":
            if self.covariance_fim_ is None or self.uncertainty != "godambe":
                raise ValueError("temper='godambe' needs a fit with uncertainty='godambe'.")
            ratio = np.trace(self.covariance_ @ np.linalg.inv(self.covariance_fim_))
            return float(np.clip(len(self.covariance_) / ratio, 1e-3, 1.0))
        weight = float(temper)
        if not 0 < weight <= 1:
            raise ValueError(f"temper is {temper!r}; expected None, 'godambe' or a float in "
                             "(0, 1].")
        return weight

    def _smc_posterior(self, n_samples, n_particles, n_moves, weight, random_state):
        """Sequential Monte Carlo from the prior to the (tempered) posterior, batched."""
        model, predictor, sfs = self.model_, self._predictor(), self.observed_sfs_
        loglik_u, transform, _ = self._loglik_fn(model, predictor, sfs, self._correction)
        rng = check_random_state(random_state)
        lo, hi = transform.lo.numpy(), transform.hi.numpy()
        n = max(int(n_particles), int(n_samples))

        def loglik(u):
            with torch.no_grad():
                ll = np.concatenate([loglik_u(torch.as_tensor(c)).numpy()
                                     for c in np.array_split(u, max(1, len(u) // 4096))])
            return np.where(np.isfinite(ll), ll, -np.inf)

        def resample(w, size):
            positions = (rng.uniform() + np.arange(size)) / size
            return np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)

        u = model.transform(model.sample_prior(n, random_state=rng))
        ll, lp = loglik(u), model.log_prior_transformed(u)
        beta, n_steps, accepted, proposed = 0.0, 0, 0, 0
        scale = 2.38 / np.sqrt(len(lo))
        while beta < weight:
            # next temperature: the incremental weights keep an effective sample size of n/2
            def ess(b, ll=ll, beta=beta):
                lw = (b - beta) * ll
                w = np.exp(lw - lw.max())
                return w.sum() ** 2 / (w ** 2).sum()

            if ess(weight) >= n / 2:
                new_beta = weight
            else:
                left, right = beta, weight
                for _ in range(50):
                    mid = (left + right) / 2
                    left, right = (mid, right) if ess(mid) >= n / 2 else (left, mid)
                new_beta = left if left > beta else right
            lw = (new_beta - beta) * ll
            w = np.exp(lw - lw.max())
            index = resample(w / w.sum(), n)
            u, ll, lp, beta = u[index], ll[index], lp[index], new_beta
            n_steps += 1
            # random-walk Metropolis moves with the particles' covariance
            cov = np.cov(u, rowvar=False) + 1e-10 * np.eye(len(lo))
            chol = np.linalg.cholesky(cov)
            for _ in range(n_moves):
                prop = u + scale * rng.standard_normal(u.shape) @ chol.T
                inside = np.all((prop >= lo) & (prop <= hi), axis=1)
                ll_p = np.full(n, -np.inf)
                ll_p[inside] = loglik(prop[inside])
                lp_p = model.log_prior_transformed(prop)
                log_a = beta * (ll_p - ll) + lp_p - lp
                take = inside & (np.log(rng.uniform(size=n)) < log_a)
                u[take], ll[take], lp[take] = prop[take], ll_p[take], lp_p[take]
                rate = take.mean()
                accepted, proposed = accepted + take.sum(), proposed + n
                scale *= np.exp(rate - 0.3)  # aim at ~30 % acceptance
        self.posterior_diagnostics_ = {
            "n_temperatures": n_steps, "acceptance": float(accepted / max(proposed, 1)),
            "unique_fraction": float(len(np.unique(u, axis=0)) / n), "weight": float(weight),
        }
        index = rng.choice(n, size=n_samples, replace=n_samples > n)
        return transform.theta_from_u(torch.as_tensor(u[index])).numpy()

    # -- using the fit -------------------------------------------------------------------------
    def _site_log_probs(self, X):
        check_is_fitted(self)
        sfs, counts = self._spectrum(X)
        expected = self.expected_sfs_
        if sfs.folded and not expected.folded:
            expected = expected.fold()
        if expected.shape != sfs.shape:
            raise ValueError(
                f"X has sample sizes {list(sfs.sample_sizes)}, but the fit was made at "
                f"{list(expected.sample_sizes)}."
            )
        include = ~(np.ma.getmaskarray(expected) | np.ma.getmaskarray(sfs))
        p = np.where(include, np.ma.filled(expected, 0.0), 0.0)
        p = p / p.sum()
        with np.errstate(divide="ignore"):
            logp = np.where(include & (p > 0), np.log(np.where(p > 0, p, 1.0)), -np.inf)
        return sfs, counts, logp

    def score_samples(self, X):
        """Per-site log-probability ``log p_j`` of each site's derived count under the fit.

        ``X`` holds per-site derived-allele counts (rows = sites).
        """
        sfs, counts, logp = self._site_log_probs(X)
        if counts is None:
            raise ValueError("score_samples needs per-site counts (rows = sites); got a "
                             "spectrum.")
        if sfs.folded:
            sizes = np.asarray(self.sample_sizes)
            counts = np.where(counts.sum(1, keepdims=True) > sizes.sum() / 2, sizes - counts,
                              counts)
        return logp[tuple(counts.T)]

    def score(self, X, y=None):
        """Composite log-likelihood of the sites, ``sum_j D_j log p_j`` (higher is better).

        For per-site input this is the sum of :meth:`score_samples`; for a spectrum the same
        quantity computed from its counts, so held-out blocks of sites can be compared.
        """
        sfs, _, logp = self._site_log_probs(X)
        data = np.ma.filled(sfs, 0.0)
        used = data > 0
        return float(np.sum(np.where(used, data * np.where(used, logp, 0.0), 0.0)))

    def summary(self):
        """A readable table of the fit."""
        check_is_fitted(self)
        lines = [f"DemographyFitter: {self.model_!r}",
                 f"{'parameter':<10} {'estimate':>11} {'std. err.':>11} {'95 % interval':>25}"]
        for name, value in self.params_.items():
            lo, hi = self.conf_int_[name]
            lines.append(f"{name:<10} {value:>11.4g} {self.stderr_[name]:>11.3g} "
                         f"{f'[{lo:.4g}, {hi:.4g}]':>25}")
        lines += [
            f"theta = 4 N_ref mu L: {self.theta_:.4g}"
            + (f"; N_ref = {self.N_ref_:.4g}" if self.N_ref_ else ""),
            f"log-likelihood: {self.log_likelihood_:.3f} "
            f"({'exact, moments' if self.polish or self.refine else 'emulator'}); emulator "
            "optimum "
            f"{self.log_likelihood_emulator_:.3f}",
            f"converged: {self.converged_}, iterations: {self.n_iter_}, time: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in self.fit_time_.items()),
        ]
        if self.refinement_:
            r = self.refinement_
            lines.append(f"refinement: {r['n_evaluations']} teacher evaluations "
                         f"({r['n_failed']} failed), {'quadratic' if r['quadratic'] else 'linear'}"
                         f" correction, exact log-likelihood {r['loglik_refined']:.3f}")
        if len(self.selection_) > 1:
            lines.append("model selection (AIC, emulator likelihood):")
            for row in self.selection_:
                lines.append(f"  {row['model']:<32} logL {row['log_likelihood_emulator']:>10.3f}"
                             f"  AIC {row['aic']:>10.2f}")
        if self.ne_history_:
            lines.append("Ne(t), most recent last:")
            for e in self.ne_history_:
                lines.append(f"  {e['start_time']:>12.4g} -> {e['end_time']:>10.4g}: "
                             f"{e['start_size']:.4g}" + (
                                 f" -> {e['end_size']:.4g}" if e['end_size'] != e['start_size']
                                 else ""))
        return "\n".join(lines)
