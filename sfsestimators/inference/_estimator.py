"""``DemographyFitter``: maximum-likelihood demography through the emulator, confirmed exactly.

A thin estimator over the parts of the :mod:`sfsestimators.inference` package: the emulator's
:class:`LikelihoodSurface` (built once per candidate model), the batched :func:`multistart`
optimiser, the exact teacher (:class:`ExactLikelihood`: ranking, :func:`polish`,
:func:`refine`), :func:`uncertainty` and the posterior samplers.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._threads import single_threaded
from .._validation import check_int_params
from ..likelihood import optimal_theta
from ..models import DemographicModel, PiecewiseConstant
from ._checks import (
    EMULATOR_TOLERANCE,
    EXPECTED_GAIN_TOLERANCE,
    FitWarning,
    expected_exact_gain,
    fit_messages,
    unbounded_intervals,
)
from ._data import observed_spectrum
from ._exact import ExactLikelihood, polish
from ._fitted import FittedFitMixin
from ._optimize import multistart
from ._refine import refine
from ._report import summary_text
from ._select import CandidateFit, exact_rank, select
from ._surface import LikelihoodSurface, input_mapper
from ._uncertainty import Uncertainty, bootstrap_spectra, uncertainty
from ._units import physical_history

__all__ = ["DemographyFitter"]

class DemographyFitter(FittedFitMixin, BaseEstimator):
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
    refine : int or "auto", default="auto"
        Teacher evaluations at most for the sequential (trust-region) refinement of the
        emulator before the polish (0: none; :func:`~sfsestimators.inference.refine`). Each
        round evaluates the last proposed step and ``2 p`` points around it in parallel
        (``n_jobs``), corrects the emulator near the current optimum (the log-ratio teacher /
        emulator of every entry, linear, then quadratic in the parameters), moves to the
        corrected optimum within a trust radius, and grows or shrinks the radius by how well
        the exact gain matched the predicted one. It stops when a step gains less than 0.1
        exactly and the corrected emulator was within 0.1 there. The corrected emulator
        also serves the uncertainty, :meth:`bootstrap_refit` and :meth:`sample_posterior`
        near the fit (the correction is clamped to the design's range). ``"auto"``: up to
        ``100 (p + 1)`` evaluations when the emulator's log-likelihood at the exactly-best
        start differs from the exact one by more than 1 unit, else none. See
        ``refinement_`` (its ``history`` has one row per round).
    n_jobs : int, default=None
        joblib workers for the teacher evaluations (the exact ranking of the starts and the
        refinement); honours ``joblib.parallel_config`` (e.g. a Dask cluster).
    dt_fac : float, default=None
        moments' integration time-step factor for the fit's teacher evaluations (ranking,
        refinement, polish; None: moments' default 0.02). Larger is faster and less exact:
        ``benchmarks/teacher_settings.py`` measures both per family (e.g. 0.05 halves the
        out-of-Africa model's time and moves its log-likelihood by ~0.005).
    teacher_cache : str or path-like, default=None
        A directory where every teacher evaluation of the fit is stored (one file per
        parameter vector): rerunning an interrupted fit with the same ``random_state``
        replays them instead of calling moments again, so a long refinement resumes.
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
    progress : bool, default=False
        A progress bar on stderr over the stages: each candidate's emulator starts, the
        exact ranking, the refinement, the polish and the uncertainty.

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
        The emulator's and the exact log-likelihood at every start's emulator optimum
        (exact: all of them when polished or refined, the best 4 by the emulator when only
        selecting among candidates, NaN where not evaluated; None without either).
    n_exact_evaluations_ : int
        Teacher (moments) evaluations made by the fit: ranking, refinement and polish.
    n_exact_cached_ : int
        Of them, how many were read back from ``teacher_cache`` (a resumed fit).
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
        Per candidate model: parameters, emulator and exact log-likelihood and AIC (exact
        whenever there are several candidates: the model is selected on exact values, and a
        nested model that fits worse than its sub-model is refitted from the sub-model's
        optimum, ``refitted_from``).
    n_iter_ : int
        Optimiser iterations.
    converged_ : bool
        With an exact stage (polish or refine): whether a Newton step on the EXACT
        likelihood (central-difference gradient, 2 p teacher calls; the emulator's Fisher
        information as curvature) would gain less than 0.1 log-likelihood units. Without
        one: whether the emulator's gradient vanished.
    log_likelihood_exact_ : float
        The exact log-likelihood at the fit, always (one teacher call when there is no
        exact stage).
    flags_ : list of str
        What makes the result suspect, each also a :class:`FitWarning`: a parameter on a
        prior bound, the fit outside the emulator's training data, the emulator and the
        exact likelihood disagreeing by more than 1 unit at the fit, no convergence, an
        unbounded interval, a nested model refitted, failed teacher evaluations.
    fit_time_ : dict
        Seconds spent in the emulator optimisation, the exact ranking of the starts, the
        refinement, the polish and the uncertainty.
    refinement_ : dict or None
        When the refinement ran: teacher evaluations made and failed (with reasons), whether
        the last correction was quadratic, whether it ``converged`` (stopped by its rule, not
        its budget), its ``history`` (per round: teacher calls, exact log-likelihood, exact
        and predicted gain, the corrected emulator's error, trust radius) and the exact
        log-likelihood of the refined fit.
    correction_ : LocalCorrection or None
        The refinement's correction of the emulator near the fit
        (:meth:`likelihood_surface` applies it).

    See Also
    --------
    LikelihoodSurface : the emulator's likelihood of the data (:meth:`likelihood_surface`).
    NeuralSFSRegressor : the emulator.

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
        refine="auto",
        dt_fac=None,
        teacher_cache=None,
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
        progress=False,
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
        self.dt_fac = dt_fac
        self.teacher_cache = teacher_cache
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
        self.progress = progress

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

    def _spectrum(self, X):
        return observed_spectrum(X, n_populations=self._n_populations(),
                                 sample_sizes=self.sample_sizes, folded=self.folded,
                                 model=self.model)

    # -- fitting ------------------------------------------------------------------------------
    def _check_params(self):
        check_int_params(self, ("n_starts", "max_iter", "n_bootstrap", "polish_maxfev",
                                "max_epochs_auto"))
        if not (isinstance(self.refine, str) and self.refine == "auto") and (
                isinstance(self.refine, bool) or not isinstance(self.refine, (int, np.integer))
                or self.refine < 0):
            raise ValueError(f"refine is {self.refine!r}; expected 'auto' or an integer >= 0 "
                             "(teacher "
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
        from ..pretrained import load_for

        return load_for(self.model)

    def _candidates(self, predictor):
        if self.model is not None:
            return [self.model]
        if not isinstance(predictor.model_, PiecewiseConstant):
            raise ValueError(
                f"model=None selects among PiecewiseConstant models, but the predictor "
                f"was trained on {predictor.model_!r}; pass model=."
            )
        served = predictor.model_.n_epochs
        return [PiecewiseConstant(n_epochs=k)
                for k in range(1, min(self.max_epochs_auto, served) + 1)]

    def _n_refine(self, surface, theta, ll_exact):
        """Teacher evaluations of the refinement at most: ``refine``, or for "auto"
        ``100 (p + 1)`` when the emulator is more than 1 unit off the exact likelihood here."""
        if not (isinstance(self.refine, str) and self.refine == "auto"):
            return int(self.refine)
        with torch.no_grad():
            ll_emulator = float(surface.loglik(torch.as_tensor(np.asarray(theta)[None]))[0])
        if abs(ll_emulator - ll_exact) <= EMULATOR_TOLERANCE:
            return 0
        return 100 * (surface.model.n_params + 1)

    def _reset(self):
        """Forget every fitted attribute of a previous fit (the sklearn contract)."""
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)
        for key in ("_counts", "_blocks"):
            self.__dict__.pop(key, None)

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
        self._reset()
        with single_threaded(), contextlib.ExitStack() as closing:
            return self._fit(X, blocks, closing)

    def _report_round(self, row):
        if self.verbose:
            print(f"refinement round {row['round']}: {row['teacher_calls']} teacher calls, "
                  f"exact LL {row['exact_loglik']:.3f}, gain {row['gain']:.3f} (predicted "
                  f"{row['predicted_gain']:.3f}), radius {row['radius']:.3g}", flush=True)

    def _fit(self, X, blocks, closing):
        start = time.perf_counter()
        rng = check_random_state(self.random_state)
        sfs, counts = self._spectrum(X)
        predictor = self._predictor()
        candidates = self._candidates(predictor)
        # the progress bar opens once the input is known to be good, closes with fit
        bar = closing.enter_context(tqdm(
            total=len(candidates) + 4, desc="DemographyFitter", unit="stage",
            disable=not self.progress, file=sys.stderr, leave=False))
        fits = []
        for model in candidates:
            bar.set_postfix_str(f"emulator: {model!r}")
            surface = LikelihoodSurface(model, predictor, sfs)
            res = multistart(surface, model.sample_prior(self.n_starts, random_state=rng),
                             optimizer=self.optimizer, max_iter=self.max_iter)
            fits.append(CandidateFit(model, surface, res,
                                     ExactLikelihood(model, sfs, n_jobs=self.n_jobs,
                                                     dt_fac=self.dt_fac,
                                                     cache_dir=self.teacher_cache)))
            bar.update()
            if self.verbose:
                print(f"{model!r}: emulator log-likelihood {res.loglik:.3f}")
        times = {"emulator": time.perf_counter() - start}

        # rank every start's emulator optimum by the EXACT likelihood (n_starts moments
        # evaluations, in parallel) and go on from the best: the emulator's own ranking can
        # be fooled by its errors where the data are large; candidates are chosen on exact
        # AIC, a nested model never worse than its sub-model
        start = time.perf_counter()
        bar.set_postfix_str("exact ranking")
        flags = []
        exact_stage = self.polish == "moments" or self.refine != 0
        notes = []
        if len(fits) > 1:
            pick, notes = select(fits, optimizer=self.optimizer, max_iter=self.max_iter,
                                 rng=rng.randint(2**31 - 1))
        else:
            pick = 0
        if exact_stage:  # every start of the chosen model
            exact_rank(fits[pick])
        chosen = fits[pick]
        model, surface, best, exact = chosen.model, chosen.surface, chosen.result, chosen.exact
        theta, ll = chosen.theta, chosen.loglik
        start_exact = ll if exact_stage else None
        times["ranking"] = time.perf_counter() - start
        bar.update()
        n_refine = self._n_refine(surface, theta, ll)
        bar.set_postfix_str(f"refinement ({n_refine} teacher calls)")
        start = time.perf_counter()
        report = None
        if n_refine:
            report = refine(surface, exact, theta, rng, max_evaluations=n_refine,
                            max_iter=self.max_iter, callback=self._report_round)
            if report.n_failed:
                flags.append(f"{report.n_failed} of {report.n_evaluations} teacher evaluations "
                             f"of the refinement failed ({report.failures}); they were left out.")
            if report.loglik >= ll:
                theta, ll = report.theta, report.loglik
        times["refine"] = time.perf_counter() - start
        bar.update()
        bar.set_postfix_str("polish and convergence check")
        start = time.perf_counter()
        if self.polish == "moments":
            polished = polish(exact, theta, maxfev=self.polish_maxfev)
            if polished.loglik >= ll:
                theta, ll = polished.theta, polished.loglik
        theta = np.asarray(theta, dtype=float)
        correction = report.correction if report is not None else None
        fitted = surface.with_correction(correction)
        with torch.no_grad():
            ll_emulator = float(fitted.loglik(torch.as_tensor(theta[None]))[0])
        if exact_stage:
            expected = exact.spectrum(theta)
            gain, _ = expected_exact_gain(exact, fitted, theta)
            converged = bool(gain < EXPECTED_GAIN_TOLERANCE)
            if not converged and np.isnan(gain):
                flags.append("Convergence could not be checked: the exact likelihood failed "
                             "next to the fit (a parameter at a bound the teacher cannot "
                             "serve?); converged_ is False.")
            elif not converged:
                flags.append(f"The fit did not converge: a Newton step on the exact "
                             f"likelihood would still gain {gain:.3g} log-likelihood units "
                             f"(tolerance {EXPECTED_GAIN_TOLERANCE}); raise polish_maxfev or "
                             "refine=, or start elsewhere (random_state, n_starts).")
        else:
            ll = ll_emulator
            expected = predictor.predict_spectrum(
                input_mapper(model, predictor)(torch.as_tensor(theta[None])).numpy(),
                sample_sizes=[int(s) for s in sfs.sample_sizes],
            )[0]
            converged = bool(best.grad_norm < 1e-2)
        ll_exact = ll if exact_stage else float(exact.evaluate(theta[None])[0][0])
        times["polish"] = time.perf_counter() - start
        flags += fit_messages(model, predictor, input_mapper(model, predictor), theta,
                              ll_emulator, ll_exact, exact_stage)

        bar.update()
        bar.set_postfix_str(f"uncertainty ({self.uncertainty})")
        start = time.perf_counter()
        if self.uncertainty is None:
            unc = Uncertainty.empty(model.param_names)
        else:
            boot = None
            if self.uncertainty == "godambe":
                boot = bootstrap_spectra(sfs, self.n_bootstrap, rng, counts=counts,
                                         blocks=blocks, sample_sizes=self.sample_sizes)
            unc = uncertainty(fitted, theta, method=self.uncertainty, boot=boot)
            loose = unbounded_intervals(unc.conf_int)
            if loose:
                flags.append(f"The 95 % intervals of {loose} are unbounded: the data do not "
                             "inform these parameters; fit a simpler model, or use "
                             "bootstrap_refit / sample_posterior for their spread.")
        times["uncertainty"] = time.perf_counter() - start
        bar.update()
        theta_scale = float(optimal_theta(expected, sfs))
        history = physical_history(model, theta, theta_scale,
                                   mutation_rate=self.mutation_rate,
                                   sequence_length=self.sequence_length,
                                   generation_time=self.generation_time)
        for message in notes + flags:  # notes: corrected on the way, not suspect now
            warnings.warn(message, FitWarning, stacklevel=3)

        # -- the fitted state, set in one place -------------------------------------------
        self.model_ = model
        self.selection_ = [
            {"model": repr(f.model), "n_params": f.model.n_params,
             "log_likelihood_emulator": f.result.loglik, "log_likelihood_exact": f.loglik,
             "aic": f.aic, "refitted_from": f.refitted_from} for f in fits]
        self.params_ = dict(zip(model.param_names, theta.tolist()))
        self.theta_ = theta_scale
        self.log_likelihood_ = float(ll)
        self.log_likelihood_exact_ = float(ll_exact)
        self.log_likelihood_emulator_ = best.loglik
        self.starts_loglik_ = best.all_loglik
        self.starts_loglik_exact_ = chosen.exact_loglik
        self.log_likelihood_emulator_start_exact_ = start_exact
        self.n_iter_ = best.n_iter
        self.converged_ = converged
        self.n_exact_evaluations_ = int(sum(f.exact.n_evaluations for f in fits))
        self.n_exact_cached_ = int(sum(f.exact.n_cached for f in fits))
        self.refinement_ = None if report is None else {
            "n_evaluations": report.n_evaluations, "n_failed": report.n_failed,
            "failures": report.failures, "quadratic": report.quadratic,
            "converged": report.converged, "history": report.history,
            "loglik_refined": report.loglik}
        self.correction_ = correction
        self.expected_sfs_ = expected * theta_scale
        self.observed_sfs_ = sfs
        self.covariance_, self.covariance_fim_ = unc.covariance, unc.covariance_fim
        self.stderr_, self.conf_int_ = unc.stderr, unc.conf_int
        self.N_ref_, self.graph_ = history.N_ref, history.graph
        self.ne_history_ = history.ne_history
        self.fit_time_ = times
        self.flags_ = flags
        self._counts, self._blocks = counts, blocks
        return self

    def summary(self):
        """A readable table of the fit: parameters, intervals, likelihoods, the model
        selection, the size history, and every flag that makes the result suspect."""
        check_is_fitted(self)
        return summary_text(self)
