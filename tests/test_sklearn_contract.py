"""The scikit-learn contract of every estimator in the package.

``NeuralSFSRegressor`` takes 2-D arrays and runs the whole of ``parametrize_with_checks``
(tests/test_emulator.py). The others take spectra, tree sequences or other estimators, so
sklearn skips its data checks for them (``input_tags.two_d_array = False``); they run
sklearn's API checks here, and the fitted-state rules with real data below.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)

from sfsestimators import (
    DemographyFitter,
    MainspringARGEstimator,
    NeuralSFSRegressor,
    OutOfAfrica3,
    PiecewiseConstant,
    PopulationBasedSearchCV,
    SplitMigration,
    TwoEpoch,
    generate_teacher_data,
)

ESTIMATORS = [
    DemographyFitter(),
    DemographyFitter(model=TwoEpoch(), n_starts=2),
    MainspringARGEstimator(),
    PopulationBasedSearchCV(NeuralSFSRegressor(max_epochs=1), {"lr": [1e-3, 1e-2]}),
    PiecewiseConstant(3),
    TwoEpoch(),
    SplitMigration(),
    OutOfAfrica3(),
]
API_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_checks(estimator, check):
    check(type(estimator).__name__, clone(estimator))


@pytest.fixture(scope="module")
def emulator():
    theta, sfs, _ = generate_teacher_data(TwoEpoch(), 200, [12], random_state=0)
    return NeuralSFSRegressor((32, 32), max_epochs=20, random_state=0).fit(
        theta, sfs, model=TwoEpoch())


@pytest.mark.filterwarnings("ignore::UserWarning")  # a tiny emulator's fits sit on bounds
def test_fitter_fit_leaves_parameters_alone_and_refit_clears_state(emulator):
    observed = TwoEpoch().expected_sfs([0.5, 0.1], [12]) * 2000
    fitter = DemographyFitter(emulator, TwoEpoch(), n_starts=3, polish="moments",
                              polish_maxfev=20, uncertainty="godambe", n_bootstrap=20,
                              random_state=0)
    before = repr(fitter.get_params(deep=False))
    assert fitter.fit(observed) is fitter
    assert repr(fitter.get_params(deep=False)) == before
    assert fitter.starts_loglik_exact_ is not None and fitter.n_exact_evaluations_ > 3
    # bootstrap_refit and sample_posterior leave the parameters and the fit alone
    state = {k: repr(v) for k, v in vars(fitter).items()}
    boot = fitter.bootstrap_refit(7, random_state=0)
    assert boot.shape == (7, 2) and fitter.n_bootstrap == 20
    fitter.sample_posterior(50, method="smc", n_particles=100, random_state=0)
    assert {k: repr(v) for k, v in vars(fitter).items()} == state
    # a refit without the exact stages forgets what they found
    fitter.set_params(polish=None, refine=0, uncertainty=None).fit(observed)
    assert fitter.starts_loglik_exact_ is None
    assert fitter.n_exact_evaluations_ == 1  # the one check of the emulator at the fit
    assert fitter.covariance_ is None and np.isnan(fitter.stderr_["nu"])
    again = pickle.loads(pickle.dumps(fitter))
    assert again.params_ == fitter.params_
    with pytest.raises(ValueError, match="n_bootstrap is 0"):
        fitter.bootstrap_refit(0)


def test_emulator_partial_fit_leaves_max_epochs_alone():
    theta, sfs, _ = generate_teacher_data(TwoEpoch(), 60, [8], random_state=1)
    est = NeuralSFSRegressor((8,), max_epochs=7, early_stopping=False, random_state=0)
    est.partial_fit(theta, sfs, epochs=2)
    assert est.max_epochs == 7 and est.n_epochs_ == 2
    est.partial_fit(theta, sfs, epochs=3)
    assert est.n_epochs_ == 5
    # seeded continuations: the same calls give the same network
    other = NeuralSFSRegressor((8,), max_epochs=7, early_stopping=False, random_state=0)
    other.partial_fit(theta, sfs, epochs=2).partial_fit(theta, sfs, epochs=3)
    np.testing.assert_allclose(other.predict(theta), est.predict(theta), rtol=1e-6)


def test_mainspring_fit_leaves_parameters_alone():
    est = MainspringARGEstimator(max_steps=3, steps_per_epoch=2, train_length=2e4,
                                 n_haplotypes=4, random_state=0)
    before = repr(est.get_params())
    est.fit().partial_fit(steps=2)
    assert repr(est.get_params()) == before and est.n_steps_ == 5
