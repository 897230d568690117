"""What a fitted ``DemographyFitter`` offers: its likelihood surface, bootstrap refits,
posterior draws and per-site scores (a mixin, so the estimator's module keeps to fitting)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._threads import single_threaded
from ._checks import FitWarning, posterior_message
from ._data import site_log_probs
from ._exact import ExactLikelihood
from ._optimize import refit_batch
from ._posterior import nuts_posterior, smc_posterior, temper_weight
from ._surface import LikelihoodSurface
from ._uncertainty import bootstrap_spectra

__all__ = ["FittedFitMixin"]


class FittedFitMixin:
    """Methods of a fitted :class:`DemographyFitter` that use the fit."""

    # -- the fitted surface and what uses it ---------------------------------------------------
    def _theta(self):
        return np.array(list(self.params_.values()), dtype=float)

    def likelihood_surface(self):
        """The emulator's likelihood surface of the fitted data and model, with the local
        correction of a refined fit (``correction_``) applied.

        Returns
        -------
        LikelihoodSurface
            ``spectrum(theta)``, ``loglik(theta)``, ``fisher_information(u)``, batched torch.
        """
        check_is_fitted(self)
        surface = LikelihoodSurface(self.model_, self._predictor(), self.observed_sfs_)
        return surface.with_correction(self.correction_)

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
        n = self.n_bootstrap if n_bootstrap is None else n_bootstrap
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n_bootstrap is {n!r}; expected an integer >= 1.")
        boot = bootstrap_spectra(self.observed_sfs_, int(n), check_random_state(random_state),
                                 counts=self._counts, blocks=self._blocks,
                                 sample_sizes=self.sample_sizes)
        with single_threaded():
            return refit_batch(self.likelihood_surface(), self._theta(), boot,
                               max_iter=self.max_iter)

    def sample_posterior(self, n_samples=1000, *, method="nuts", temper=None,
                         warmup_steps=500, n_particles=2000, n_moves=10,
                         random_state=None, progress=False, return_diagnostics=False):
        """Draw from the posterior through the emulator (NUTS, or sequential Monte Carlo).

        The prior is the model's own (:meth:`DemographicModel.log_prior_transformed`: uniform
        between the bounds on each parameter's scale unless the family says otherwise,
        truncated to the bounds); the likelihood is the emulator's multinomial one (theta
        profiled out, with a refined fit's local correction), optionally raised to a power
        ``w`` ("tempered").

        ``method="nuts"`` runs pyro's NUTS in the unconstrained space of the fitter, started at
        the maximum-likelihood estimate (needs the ``bayes`` extra, ``pyro-ppl``).
        ``method="smc"`` runs sequential Monte Carlo: ``n_particles`` prior draws are carried
        to the posterior through adaptively chosen likelihood temperatures (each keeping an
        effective sample size of half the particles), with ``n_moves`` random-walk Metropolis
        moves per temperature, every step ONE emulator batch. It reaches every mode of a
        weakly identified model, which NUTS started at one mode does not.

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
        return_diagnostics : bool, default=False
            Also return the sampler's diagnostics (SMC: number of temperatures, acceptance,
            fraction of distinct particles; both: the likelihood's power ``weight``).

        Returns
        -------
        samples : ndarray of shape (n_samples, n_params)
            Parameters in natural units, columns in the order of ``model_.param_names``.
        diagnostics : dict
            Only with ``return_diagnostics=True``.
        """
        check_is_fitted(self)
        if method not in ("nuts", "smc"):
            raise ValueError(f"method is {method!r}; expected 'nuts' or 'smc'.")
        if temper == "godambe" and self.uncertainty != "godambe":
            raise ValueError("temper='godambe' needs a fit with uncertainty='godambe'.")
        weight = temper_weight(temper, self.covariance_, self.covariance_fim_)
        with single_threaded():
            return self._sample_posterior(n_samples, method, weight, warmup_steps,
                                          n_particles, n_moves, random_state, progress,
                                          return_diagnostics)

    def _sample_posterior(self, n_samples, method, weight, warmup_steps, n_particles,
                          n_moves, random_state, progress, return_diagnostics):
        surface = self.likelihood_surface()
        if method == "smc":
            draws, diagnostics = smc_posterior(surface, n_samples, n_particles=n_particles,
                                               n_moves=n_moves, weight=weight,
                                               random_state=random_state)
        else:
            draws, diagnostics = nuts_posterior(surface, self._theta(), n_samples,
                                                weight=weight, warmup_steps=warmup_steps,
                                                random_state=random_state, progress=progress)
        self._check_posterior(draws, diagnostics, weight)
        return (draws, diagnostics) if return_diagnostics else draws

    def _check_posterior(self, draws, diagnostics, weight):
        exact = ExactLikelihood(self.model_, self.observed_sfs_, n_jobs=self.n_jobs,
                                dt_fac=self.dt_fac)
        message = posterior_message(exact, draws, self.log_likelihood_exact_, weight,
                                    diagnostics)
        if message:
            warnings.warn(message, FitWarning, stacklevel=4)

    # -- using the fit -------------------------------------------------------------------------
    def _site_log_probs(self, X):
        check_is_fitted(self)
        sfs, counts = self._spectrum(X)
        return sfs, counts, site_log_probs(self.expected_sfs_, sfs)

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
