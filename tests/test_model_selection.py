"""PopulationBasedSearchCV: exploit copies weights, explore perturbs, results like sklearn's."""

import numpy as np
import pytest
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sfsestimators import NeuralSFSRegressor, TwoEpoch, generate_teacher_data
from sfsestimators.model_selection import PopulationBasedSearchCV


@pytest.fixture(scope="module")
def data():
    theta, sfs, _ = generate_teacher_data(TwoEpoch(), 240, [8], n_jobs=1, random_state=0)
    return theta, sfs.reshape(len(sfs), -1)


def _search(**kw):
    base = NeuralSFSRegressor(hidden_layer_sizes=(16,), early_stopping=False, batch_size=32,
                              random_state=0)
    params = dict(population_size=4, n_generations=3, epochs_per_generation=4, cv=2,
                  quantile_fraction=0.5, random_state=0)
    params.update(kw)
    dist = kw.pop("param_distributions", {"lr": [1e-7, 1e-6, 1e-2, 2e-2],
                                          "hidden_layer_sizes": [(16,), (32,)]})
    params.pop("param_distributions", None)
    return PopulationBasedSearchCV(base, dist, **params)


def test_results_layout_and_determinism(data):
    theta, y = data
    a = _search().fit(theta, y)
    res = a.cv_results_
    assert len(res["generation"]) == 4 * 3
    for key in ("generation", "member_id", "parent_id", "param_lr",
                "param_hidden_layer_sizes", "params", "split0_test_score",
                "split1_test_score", "mean_test_score", "std_test_score", "rank_test_score",
                "fitness"):
        assert key in res, key
    assert len(a.best_schedule_) == 3 and a.best_schedule_[-1] == a.best_params_
    assert a.n_epochs_total_ == 4 * 3 * 4 * 2
    assert a.best_score_ == pytest.approx(res["fitness"][a.best_index_])
    b = _search().fit(theta, y)
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert a.lineage_ == b.lineage_
    assert a.score(theta, y) == pytest.approx(b.score(theta, y))


def test_exploit_copies_weights_and_keeps_architecture(data):
    theta, y = data
    search = _search(resample_probability=0.0).fit(theta, y)
    res = search.cv_results_
    assert search.lineage_, "the bottom half must have copied the top half"
    for event in search.lineage_:
        g, child, parent = event["generation"], event["member_id"], event["parent_id"]
        row = (res["generation"] == g - 1)
        parent_before = res["mean_test_score"][row & (res["member_id"] == parent)][0]
        child_before = res["mean_test_score"][row & (res["member_id"] == child)][0]
        child_after = res["mean_test_score"][(res["generation"] == g)
                                             & (res["member_id"] == child)][0]
        # the child continues from the parent's trained weights: near (or above) the
        # parent's score, not back at its own untrained level
        assert child_after > child_before
        assert child_after >= parent_before - 0.05
        # architecture inherited, never mutated; lr perturbed by 0.8 or 1.2
        parent_params = res["params"][int(np.flatnonzero(row & (res["member_id"] == parent))[0])]
        assert event["params"]["hidden_layer_sizes"] == parent_params["hidden_layer_sizes"]
        assert event["params"]["lr"] / parent_params["lr"] == pytest.approx(0.8) or \
            event["params"]["lr"] / parent_params["lr"] == pytest.approx(1.2)
    # the winner trained with a useful learning rate
    assert search.best_params_["lr"] > 1e-3


def test_refit_best_member_and_pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=200)
    search = PopulationBasedSearchCV(
        SGDRegressor(random_state=0), {"eta0": [1e-5, 1e-3, 1e-2], "alpha": [1e-6, 1e-4]},
        population_size=4, n_generations=3, epochs_per_generation=3, cv=2,
        refit="best_member", random_state=0,
    )
    pipe = Pipeline([("scale", StandardScaler()), ("search", search)]).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.named_steps["search"].best_estimator_ is not None


def test_bad_arguments(data):
    theta, y = data
    from sklearn.linear_model import Ridge

    with pytest.raises(TypeError, match="no partial_fit"):
        PopulationBasedSearchCV(Ridge(), {"alpha": [1, 2]}).fit(theta, y)
    with pytest.raises(ValueError, match="mutable_params names"):
        _search(mutable_params=["weight_decay"]).fit(theta, y)
    with pytest.raises(ValueError, match="population_size is 1"):
        _search(population_size=1).fit(theta, y)
    with pytest.raises(ValueError, match="does not have"):
        _search(param_distributions={"nonsense": [1]}).fit(theta, y)


def test_pandas_inputs_split_by_position_like_numpy():
    """A DataFrame/Series with a non-default index gives the search of the numpy arrays."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    # labels that are not positions: label-based row selection would pick other rows
    index = pd.Index(np.arange(120)[::-1] * 7)
    X_df = pd.DataFrame(X, columns=["a", "b", "c"], index=index)
    y_series = pd.Series(y, index=index)

    def search():
        return PopulationBasedSearchCV(
            SGDRegressor(random_state=0), {"eta0": [1e-4, 1e-3, 1e-2], "alpha": [1e-6, 1e-4]},
            population_size=4, n_generations=3, epochs_per_generation=2, cv=3, random_state=0,
        )

    on_numpy = search().fit(X, y)
    on_pandas = search().fit(X_df, y_series)
    # equal up to rounding (a DataFrame's rows are laid out column-major in memory)
    for key in ["mean_test_score"] + [f"split{k}_test_score" for k in range(3)]:
        np.testing.assert_allclose(on_pandas.cv_results_[key], on_numpy.cv_results_[key],
                                   rtol=1e-12, err_msg=key)
    assert on_pandas.lineage_ == on_numpy.lineage_
    assert on_pandas.best_params_ == on_numpy.best_params_
    np.testing.assert_allclose(on_pandas.best_estimator_.coef_, on_numpy.best_estimator_.coef_,
                               rtol=1e-12)
    np.testing.assert_allclose(on_pandas.predict(X_df), on_numpy.predict(X), rtol=1e-12)
