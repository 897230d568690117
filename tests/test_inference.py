"""DemographyFitter: fits through the emulator, exact polish, uncertainty, model selection."""

import pickle
import warnings

import moments
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from sfsestimators import (
    DemographyFitter,
    NeuralSFSRegressor,
    PiecewiseConstant,
    TwoEpoch,
    generate_teacher_data,
    write_sfs,
)

N = 12
FAMILY = PiecewiseConstant(n_epochs=3, padded_prior=True)


@pytest.fixture(scope="module")
def emulator():
    """A small emulator of 1..3-epoch histories at n = 12."""
    theta, sfs, _ = generate_teacher_data(FAMILY, 600, [N], n_jobs=2, random_state=0)
    return NeuralSFSRegressor((64, 64), max_epochs=120, lr=3e-3, batch_size=64, patience=20,
                              random_state=0).fit(theta, sfs, model=FAMILY)


TRUTH = [0.2, 0.1]  # PiecewiseConstant(1): size 0.2 for the last 0.1


@pytest.fixture(scope="module")
def observed():
    expected = PiecewiseConstant(1).expected_sfs(TRUTH, [N]) * 5000
    rng = np.random.default_rng(5)
    return moments.Spectrum(rng.poisson(np.ma.filled(expected, 0)).astype(float))


def _fitter(emulator, **kw):
    params = dict(n_starts=6, random_state=0, max_iter=100)
    params.update(kw)
    return DemographyFitter(emulator, **params)


def test_fit_polish_and_summary(emulator, observed):
    fitter = _fitter(emulator, model=PiecewiseConstant(1)).fit(observed)
    assert set(fitter.params_) == {"nu1", "T1"}
    # the exact polish never makes the answer worse than the emulator's optimum
    assert fitter.log_likelihood_ >= fitter.log_likelihood_emulator_start_exact_ - 1e-9
    exact_truth = moments.Inference.ll_multinom(PiecewiseConstant(1).expected_sfs(TRUTH, [N]),
                                                observed)
    assert fitter.log_likelihood_ >= exact_truth - 1e-6  # at least as good as the truth
    assert fitter.theta_ == pytest.approx(observed.S() / fitter.expected_sfs_.S() *
                                          fitter.theta_, rel=1e-6)
    for name, value in fitter.params_.items():
        lo, hi = fitter.conf_int_[name]
        assert lo < value < hi and fitter.stderr_[name] > 0
    text = fitter.summary()
    assert "nu1" in text and "exact, moments" in text and "Ne(t)" in text
    assert fitter.ne_history_[-1]["end_time"] == 0
    assert fitter.ne_history_[-1]["start_time"] == pytest.approx(fitter.params_["T1"])


def test_posterior_by_nuts_agrees_with_the_intervals(emulator, observed):
    pytest.importorskip("pyro")
    fitter = _fitter(emulator, model=PiecewiseConstant(1), polish=None).fit(observed)
    draws = fitter.sample_posterior(150, warmup_steps=75, random_state=0)
    assert draws.shape == (150, 2) and np.all(np.isfinite(draws))
    model = fitter.model_
    assert np.all(draws >= model.lower_bound) and np.all(draws <= model.upper_bound)
    again = fitter.sample_posterior(150, warmup_steps=75, random_state=0)
    np.testing.assert_array_equal(draws, again)  # seeded
    # the posterior sits where the likelihood does: its median inside the FIM interval
    for j, name in enumerate(model.param_names):
        lo, hi = fitter.conf_int_[name]
        assert lo < np.median(draws[:, j]) < hi


def test_posterior_by_smc_agrees_with_nuts_and_tempering_widens_it(emulator, observed):
    pytest.importorskip("pyro")
    fitter = _fitter(emulator, model=PiecewiseConstant(1), polish=None,
                     uncertainty="godambe", n_bootstrap=50).fit(observed)
    smc, diag = fitter.sample_posterior(1000, method="smc", n_particles=1000, random_state=0,
                                        return_diagnostics=True)
    model = fitter.model_
    assert smc.shape == (1000, 2)
    assert np.all(smc >= model.lower_bound) and np.all(smc <= model.upper_bound)
    assert diag["n_temperatures"] >= 2 and 0.05 < diag["acceptance"] < 0.9
    nuts = fitter.sample_posterior(300, warmup_steps=150, random_state=0)
    for j in range(2):  # same posterior: medians agree to a fraction of its width
        width = np.subtract(*np.quantile(nuts[:, j], [0.9, 0.1]))
        assert abs(np.median(smc[:, j]) - np.median(nuts[:, j])) < 0.5 * width
    wide = fitter.sample_posterior(1000, method="smc", n_particles=1000, temper=0.1,
                                   random_state=0)
    assert np.std(np.log(wide), axis=0).min() > 1.5 * np.std(np.log(smc), axis=0).max() or \
        np.all(np.std(np.log(wide), axis=0) > 1.5 * np.std(np.log(smc), axis=0))
    _, tempered = fitter.sample_posterior(200, method="smc", n_particles=200,
                                          temper="godambe", random_state=0,
                                          return_diagnostics=True)
    assert 0 < tempered["weight"] < 1 and diag["weight"] == 1.0
    assert not hasattr(fitter, "posterior_diagnostics_")  # sampling leaves the fit alone
    with pytest.raises(ValueError, match="method is 'mh'"):
        fitter.sample_posterior(10, method="mh")
    with pytest.raises(ValueError, match="temper is 2"):
        fitter.sample_posterior(10, method="smc", temper=2)


def test_refinement_corrects_the_emulator_near_the_fit(emulator, observed):
    model = PiecewiseConstant(1)
    refined = _fitter(emulator, model=model, polish=None, refine=24, n_jobs=2).fit(observed)
    info = refined.refinement_
    assert info["n_evaluations"] <= 24 and info["n_failed"] == 0 and info["converged"]
    # the history: one row per round, the exact log-likelihood never falls, the last step
    # was predicted (and gained) < 0.1 with the corrected emulator within 0.1 of moments
    history = info["history"]
    assert [h["round"] for h in history] == list(range(1, len(history) + 1))
    assert history[-1]["teacher_calls"] == info["n_evaluations"]
    assert np.all(np.diff([h["exact_loglik"] for h in history]) >= 0)
    last = history[-1]
    assert abs(last["gain"]) < 0.1 and last["predicted_gain"] < 0.1
    assert last["emulator_error"] < 0.1
    assert "refinement: " in refined.summary() and " emu error " in refined.summary()
    # exact all the way: the refined optimum is no worse than the best start's, and as good
    # as the sequential Nelder-Mead polish of the exact likelihood
    assert refined.log_likelihood_ >= refined.log_likelihood_emulator_start_exact_
    assert refined.log_likelihood_ == pytest.approx(
        moments.Inference.ll_multinom(model.expected_sfs(list(refined.params_.values()), [N]),
                                      observed), abs=1e-6)
    polished = _fitter(emulator, model=model, uncertainty=None).fit(observed)
    assert refined.log_likelihood_ >= polished.log_likelihood_ - 0.05
    # the corrected emulator is closer to moments than the plain one at the fit
    params = list(refined.params_.values())
    theta = torch.as_tensor([params], dtype=torch.float64)
    exact = model.expected_sfs(params, [N]).data[1:-1]
    surface = refined.likelihood_surface()
    errors = []
    for correction in (None, refined.correction_):
        emu = surface.with_correction(correction).spectrum(theta).detach().numpy()[0][1:-1]
        errors.append(np.abs(emu / exact - 1).max())
    assert errors[1] < 0.25 * errors[0]
    assert refined.correction_.contains(model.transform(np.array([params]))).all()
    # every teacher call is counted: the starts' ranking, the refinement's and the exact
    # convergence check (a central difference per parameter)
    assert refined.n_exact_evaluations_ == (refined.n_starts + info["n_evaluations"]
                                            + 2 * model.n_params)
    assert refined.converged_
    assert refined.fit_time_["refine"] > 0
    assert pickle.loads(pickle.dumps(refined)).log_likelihood_ == refined.log_likelihood_


def test_interrupted_refinement_resumes_from_the_teacher_cache(emulator, observed, tmp_path):
    """Every teacher call of a fit is stored; a rerun with the same seed replays them (no
    moments call), and a run that lost some of them recomputes exactly those."""
    import glob
    import os

    model = PiecewiseConstant(2)
    params = dict(model=model, polish=None, refine=40, uncertainty=None,
                  teacher_cache=tmp_path / "cache")
    first = _fitter(emulator, **params).fit(observed)
    stored = sorted(glob.glob(str(tmp_path / "cache" / "*.npz")))
    # each call either stored a new spectrum or read one stored earlier in the same fit
    assert len(stored) + first.n_exact_cached_ == first.n_exact_evaluations_
    assert len(stored) > first.n_starts
    again = _fitter(emulator, **params).fit(observed)
    assert again.n_exact_cached_ == again.n_exact_evaluations_ == first.n_exact_evaluations_
    assert len(glob.glob(str(tmp_path / "cache" / "*.npz"))) == len(stored)
    assert again.params_ == first.params_ and again.refinement_["history"] == \
        first.refinement_["history"]
    for path in stored[::3]:  # an interruption: these were never written
        os.remove(path)
    resumed = _fitter(emulator, **params).fit(observed)
    assert resumed.params_ == first.params_
    assert resumed.n_exact_cached_ < resumed.n_exact_evaluations_
    assert len(glob.glob(str(tmp_path / "cache" / "*.npz"))) == len(stored)


def test_log_prior_transformed_is_the_sampling_density():
    model = PiecewiseConstant(2)
    draws = model.transform(model.sample_prior(20000, random_state=0))
    lp = model.log_prior_transformed(draws)
    assert lp.shape == (20000,)
    t = torch.tensor(draws[:5], requires_grad=True)  # differentiable for NUTS
    torch_lp = model.log_prior_transformed(t)
    torch_lp.sum().backward()
    assert torch.all(torch.isfinite(t.grad))
    np.testing.assert_allclose(torch_lp.detach().numpy(), lp[:5])
    # log nu ~ N(0, 1.5): the draws' variance matches; log T density peaks at T = 0.5
    assert np.std(draws[:, 0]) == pytest.approx(1.5, rel=0.05)
    grid = np.log(np.array([[1, 1, 0.1, 0.5], [1, 1, 0.1, 2.0]]))
    dens = model.log_prior_transformed(grid)
    assert dens[0] > dens[1]
    assert TwoEpoch().log_prior_transformed(np.zeros((3, 2))).tolist() == [0, 0, 0]


def test_model_selection_by_aic(emulator, observed):
    fitter = _fitter(emulator, polish=None, uncertainty=None).fit(observed)
    assert [row["n_params"] for row in fitter.selection_] == [2, 4, 6]
    best = min(fitter.selection_, key=lambda r: r["aic"])
    assert repr(fitter.model_) == best["model"]
    # more epochs never fit (much) worse: nested families
    lls = [row["log_likelihood_emulator"] for row in fitter.selection_]
    assert lls[1] >= lls[0] - 1.0


def test_input_forms_agree(emulator, observed, tmp_path):
    fit = _fitter(emulator, model=PiecewiseConstant(1), polish=None, uncertainty=None)
    ref = clone(fit).fit(observed).params_
    write_sfs(observed, tmp_path / "obs.fs")
    from_path = clone(fit).fit(str(tmp_path / "obs.fs")).params_
    from_array = clone(fit).fit(np.ma.filled(observed, 0)).params_
    for other in (from_path, from_array):
        assert other == pytest.approx(ref, rel=1e-6)
    folded = clone(fit).fit(observed.fold())
    assert folded.expected_sfs_.folded is False  # the model stays unfolded; likelihood folds
    small = clone(fit).fit(observed.project([8]))
    assert small.expected_sfs_.sample_sizes.tolist() == [8]


def test_bad_input_is_a_clear_error(emulator, observed):
    fit = _fitter(emulator, model=PiecewiseConstant(1), polish=None, uncertainty=None)
    bad = np.ma.filled(observed, 0).copy()
    bad[3] = -2
    with pytest.raises(ValueError, match="negative counts"):
        fit.fit(bad)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit.fit(bad)
    with pytest.raises(ValueError, match="above the emulator's maximum 12"):
        fit.fit(np.r_[0, np.ones(19), 0])
    with pytest.raises(ValueError, match="has 2 population"):
        fit.fit(moments.Spectrum(np.ones((5, 6))))
    with pytest.raises(ValueError, match="need sample_sizes|needs sample_sizes"):
        clone(fit).fit(np.ones((10, 1), dtype=int))
    with pytest.raises(ValueError, match="per-site counts of shape"):
        clone(fit).fit(np.ones((10, 2), dtype=int))
    with pytest.raises(ValueError, match="monomorphic"):
        clone(fit).set_params(sample_sizes=[N]).fit(np.array([[0], [3]]))
    with pytest.raises(ValueError, match="serves at most 3 epochs"):
        clone(fit).set_params(model=PiecewiseConstant(4)).fit(observed)
    with pytest.raises(ValueError, match="n_starts is 0"):
        clone(fit).set_params(n_starts=0).fit(observed)
    with pytest.raises(ValueError, match="refine is -1"):
        clone(fit).set_params(refine=-1).fit(observed)


def test_pickle_clone_and_physical_units(emulator, observed):
    fitter = _fitter(emulator, model=PiecewiseConstant(1), polish=None, mutation_rate=1e-8,
                     sequence_length=1e6, generation_time=25).fit(observed)
    copy = pickle.loads(pickle.dumps(fitter))
    assert copy.params_ == fitter.params_
    assert clone(fitter).get_params()["mutation_rate"] == 1e-8
    assert fitter.N_ref_ == pytest.approx(fitter.theta_ / (4 * 1e-8 * 1e6))
    assert fitter.graph_.time_units == "years"
    recent = fitter.graph_.demes[-1].epochs[-1]
    assert recent.start_size == pytest.approx(fitter.N_ref_ * fitter.params_["nu1"])
    assert recent.start_time == pytest.approx(2 * fitter.N_ref_ * fitter.params_["T1"] * 25)


def _per_site(n_sites, rng):
    p = np.ma.filled(PiecewiseConstant(1).expected_sfs(TRUTH, [N]), 0)
    p = p / p.sum()
    return rng.choice(N + 1, size=n_sites, p=p)[:, None]


def test_per_site_scores_and_grid_search_over_epochs(emulator):
    rng = np.random.default_rng(2)
    X = _per_site(3000, rng)
    blocks = np.arange(len(X)) // 100
    base = _fitter(emulator, sample_sizes=[N], polish=None, uncertainty=None)
    fitted = clone(base).set_params(model__n_epochs=1).fit(X)
    per_site = fitted.score_samples(X)
    assert per_site.shape == (3000,) and np.all(per_site < 0)
    assert fitted.score(X) == pytest.approx(per_site.sum())
    search = GridSearchCV(base, {"model__n_epochs": [1, 2, 3]}, cv=GroupKFold(n_splits=3))
    search.fit(X, groups=blocks)
    assert search.cv_results_["mean_test_score"].shape == (3,)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["model__n_epochs"] in (1, 2, 3)
    godambe = clone(base).set_params(model__n_epochs=1, uncertainty="godambe",
                                     n_bootstrap=30).fit(X, blocks=blocks)
    assert all(np.isfinite(v) and v > 0 for v in godambe.stderr_.values())
    refits = godambe.bootstrap_refit(20, random_state=0)
    assert refits.shape == (20, 2) and np.all(np.isfinite(refits))
    lo, hi = np.quantile(refits[:, 0], [0.025, 0.975])
    assert lo < hi and lo <= godambe.params_["nu1"] * 1.5
def test_default_fitter_recovers_an_msprime_history():
    """Out of the box: the shipped emulator, on sites simulated with msprime.

    The sites are linked (20 Mb, r = 1e-8), so the intervals are Godambe ones from a
    bootstrap over 1 Mb blocks; the Fisher information alone assumes independent sites.
    """
    import msprime

    model = TwoEpoch()
    truth = {"nu": 0.25, "T": 0.1}
    N_ref, mu, length = 1e4, 1e-8, 2e7
    ts = msprime.sim_ancestry(samples=15, demography=model.to_msprime(list(truth.values()),
                                                                      N_ref=N_ref),
                              sequence_length=length, recombination_rate=1e-8, random_seed=3)
    ts = msprime.sim_mutations(ts, rate=mu, random_seed=4,
                               model=msprime.BinaryMutationModel())
    counts = ts.genotype_matrix().sum(axis=1)
    keep = (counts > 0) & (counts < 30)
    X = counts[keep][:, None]
    blocks = (ts.tables.sites.position[keep] // 1e6).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bound or domain warnings on this easy case
        fitter = DemographyFitter(model=PiecewiseConstant(1), sample_sizes=[30],
                                  uncertainty="godambe", random_state=0).fit(X, blocks=blocks)
    for (name, value), true in zip(fitter.params_.items(), truth.values()):
        lo, hi = fitter.conf_int_[name]
        assert lo < true < hi, (name, value, (lo, hi), true)
    # Godambe intervals are wider than the independent-sites Fisher ones on linked data
    assert np.all(np.diag(fitter.covariance_) > np.diag(fitter.covariance_fim_))
    assert fitter.theta_ == pytest.approx(4 * N_ref * mu * length, rel=0.15)
