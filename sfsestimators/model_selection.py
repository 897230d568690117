"""Model selection beyond grid search: population-based training (PBT) as a sklearn estimator."""

from __future__ import annotations

import copy
import inspect
import numbers

import joblib
import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterSampler, check_cv
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import check_is_fitted, indexable

from ._validation import check_int_params

__all__ = ["PopulationBasedSearchCV"]

#: Parameter names treated as optimiser-level (mutable) by default.
OPTIMIZER_PARAMS = ("lr", "learning_rate_init", "eta0", "alpha", "weight_decay", "batch_size")


def _train_member(estimators, X, y, splits, epochs, scorer):
    """Continue training one member's per-fold estimators and score them (a joblib task)."""
    scores = []
    for est, (train, test) in zip(estimators, splits):
        X_train, y_train = _take(X, train), _take(y, train)
        if "epochs" in inspect.signature(est.partial_fit).parameters:
            est.partial_fit(X_train, y_train, epochs=epochs)
        else:
            for _ in range(epochs):
                est.partial_fit(X_train, y_train)
        scores.append(scorer(est, _take(X, test), _take(y, test)))
    return estimators, np.asarray(scores, dtype=float)


def _take(a, idx):
    """Rows ``idx`` (positions) of ``a``: arrays, sparse matrices, DataFrames and Series."""
    return _safe_indexing(a, idx) if a is not None else None


def _as_indexable(a):
    """Lists become arrays; arrays, sparse matrices and DataFrames/Series stay as they are."""
    if a is None or hasattr(a, "shape") or hasattr(a, "iloc"):
        return a
    return np.asarray(a)


class PopulationBasedSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Population-based training of an estimator's hyperparameters, with cross-validation.

    A population of members trains in parallel with ``partial_fit``. After every generation
    of ``epochs_per_generation`` epochs, each member's *effective fitness* -- its mean CV score
    averaged over the last ``fitness_window`` generations, which averages out the fast
    training noise -- ranks the population; the bottom ``quantile_fraction`` copy a random
    member of the top quantile (trained weights and hyperparameters, by deep copy) and then
    explore: each optimiser-level parameter (``mutable_params``) is resampled from
    ``param_distributions`` with probability ``resample_probability`` or else multiplied by
    one of ``perturbation_factors``. Architecture parameters are inherited, never mutated, so
    selection prunes weak architectures. Hyperparameters thus become a schedule learned within
    one training budget (Jaderberg et al. 2017; the effective-fitness view follows Borghi,
    Im and Pareschi, arXiv:2603.19808).

    Unlike sklearn's searches it does not clone candidates between generations (that would
    discard the weights), so it is a meta-estimator of its own. Members run in parallel with
    joblib (``n_jobs`` only: Dask or Ray through ``joblib.parallel_config``).

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        The base estimator; ``partial_fit(X, y, epochs=k)`` is used when it accepts
        ``epochs``, else ``partial_fit`` is called ``k`` times.
    param_distributions : dict
        Parameter name -> list of values or a scipy distribution (as RandomizedSearchCV).
    population_size : int, default=16
    n_generations : int, default=10
    epochs_per_generation : int, default=5
    mutable_params : list of str, default=None
        Parameters explored after an exploit; default: those of ``param_distributions``
        among ``OPTIMIZER_PARAMS`` (lr, weight decay, batch size, ...).
    quantile_fraction : float, default=0.25
        Fraction of the population replaced (and copied from) each generation.
    perturbation_factors : tuple of float, default=(0.8, 1.2)
    resample_probability : float, default=0.25
    fitness_window : int, default=2
        Generations averaged in the effective fitness.
    scoring : str or callable, default=None
        sklearn scoring; default the estimator's ``score``.
    cv : int, cross-validation generator or iterable, default=None
        As in sklearn (None: 5-fold). Each member keeps one estimator per fold.
    refit : {True, "replay", "best_member", False}, default=True
        ``True``/``"replay"``: retrain a fresh estimator on all data following the winner's
        hyperparameter schedule (``best_schedule_``) for the same number of epochs;
        ``"best_member"``: keep the winner's first-fold estimator as it is (no retraining);
        ``False``: no ``best_estimator_``.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    cv_results_ : dict of arrays
        One row per member per generation: ``generation``, ``member_id``, ``parent_id``
        (the member copied at the start of that generation, or -1), ``param_<name>``,
        ``params``, ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``fitness`` and ``rank_test_score`` (rank of the fitness within the generation).
    best_params_ : dict
        The winner's final hyperparameters.
    best_score_ : float
        The winner's effective fitness at the last generation.
    best_schedule_ : list of dict
        The winner's hyperparameters in each generation (inherited ones included).
    best_estimator_ : estimator
        See ``refit``.
    lineage_ : list of dict
        Every exploit: ``generation``, ``member_id``, ``parent_id``, ``params``.
    n_epochs_total_ : int
        Training epochs spent over the whole population and all folds.

    Examples
    --------
    >>> from sklearn.linear_model import SGDRegressor
    >>> from sklearn.datasets import make_regression
    >>> from sfsestimators.model_selection import PopulationBasedSearchCV
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> pbt = PopulationBasedSearchCV(SGDRegressor(random_state=0),
    ...                               {"eta0": [1e-4, 1e-3, 1e-2], "alpha": [1e-5, 1e-3]},
    ...                               population_size=4, n_generations=3,
    ...                               epochs_per_generation=2, cv=2, random_state=0)
    >>> pbt = pbt.fit(X, y)
    >>> len(pbt.cv_results_["generation"])
    12
    """

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        population_size=16,
        n_generations=10,
        epochs_per_generation=5,
        mutable_params=None,
        quantile_fraction=0.25,
        perturbation_factors=(0.8, 1.2),
        resample_probability=0.25,
        fitness_window=2,
        scoring=None,
        cv=None,
        refit=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.population_size = population_size
        self.n_generations = n_generations
        self.epochs_per_generation = epochs_per_generation
        self.mutable_params = mutable_params
        self.quantile_fraction = quantile_fraction
        self.perturbation_factors = perturbation_factors
        self.resample_probability = resample_probability
        self.fitness_window = fitness_window
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- set-up ------------------------------------------------------------------------------
    def _check(self):
        if not hasattr(self.estimator, "partial_fit"):
            raise TypeError(f"estimator {type(self.estimator).__name__} has no partial_fit; "
                            "population-based training continues training members.")
        check_int_params(self, ("population_size", "n_generations", "epochs_per_generation",
                                "fitness_window"))
        if self.population_size < 2:
            raise ValueError(f"population_size is {self.population_size}; expected >= 2.")
        if not 0 < self.quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction is {self.quantile_fraction!r}; expected a "
                             "number in (0, 0.5].")
        if not 0 <= self.resample_probability <= 1:
            raise ValueError(f"resample_probability is {self.resample_probability!r}; "
                             "expected a probability.")
        if self.refit not in (True, False, "replay", "best_member"):
            raise ValueError(f"refit is {self.refit!r}; expected True, False, 'replay' or "
                             "'best_member'.")
        valid = self.estimator.get_params()
        unknown = [k for k in self.param_distributions if k not in valid]
        if unknown:
            raise ValueError(f"param_distributions names {unknown}, which "
                             f"{type(self.estimator).__name__} does not have.")
        if self.mutable_params is None:
            mutable = [k for k in self.param_distributions
                       if k.rsplit("__", 1)[-1] in OPTIMIZER_PARAMS]
        else:
            mutable = list(self.mutable_params)
            missing = [k for k in mutable if k not in self.param_distributions]
            if missing:
                raise ValueError(f"mutable_params names {missing}, which are not in "
                                 "param_distributions (needed to resample them).")
        return mutable

    def _explore(self, params, mutable, rng):
        new = dict(params)
        for name in mutable:
            if rng.rand() < self.resample_probability:
                new[name] = next(iter(ParameterSampler(
                    {name: self.param_distributions[name]}, 1,
                    random_state=rng.randint(2**31 - 1))))[name]
            else:
                value = new[name] * self.perturbation_factors[
                    rng.randint(len(self.perturbation_factors))]
                if isinstance(new[name], numbers.Integral) and not isinstance(new[name], bool):
                    value = max(1, int(round(value)))
                new[name] = value
        return new

    # -- the search --------------------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None):
        """Run the population for ``n_generations`` generations and refit the winner."""
        mutable = self._check()
        rng = check_random_state(self.random_state)
        X, y, groups = indexable(X, y, groups)
        X, y = _as_indexable(X), _as_indexable(y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        has_seed = "random_state" in self.estimator.get_params()

        member_params = list(ParameterSampler(self.param_distributions, self.population_size,
                                              random_state=rng.randint(2**31 - 1)))
        members = []
        for i, params in enumerate(member_params):
            est = clone(self.estimator).set_params(**params)
            if has_seed:
                est.set_params(random_state=int(rng.randint(2**31 - 1)))
            members.append({"id": i, "params": params, "scores": [], "schedule": [],
                            "estimators": [clone(est) for _ in splits]})

        rows, self.lineage_ = [], []
        parents = {m["id"]: -1 for m in members}
        parallel = joblib.Parallel(n_jobs=self.n_jobs, verbose=self.verbose)
        for gen in range(self.n_generations):
            results = parallel(
                joblib.delayed(_train_member)(m["estimators"], X, y, splits,
                                              self.epochs_per_generation, scorer)
                for m in members
            )
            for m, (estimators, scores) in zip(members, results):
                m["estimators"] = estimators
                m["scores"].append(scores)
                m["schedule"].append(dict(m["params"]))
            fitness = np.array([
                np.mean([s.mean() for s in m["scores"][-self.fitness_window:]])
                for m in members
            ])
            ranks = (-fitness).argsort().argsort() + 1
            for m, fit, rank in zip(members, fitness, ranks):
                rows.append({"generation": gen, "member_id": m["id"],
                             "parent_id": parents[m["id"]], "params": dict(m["params"]),
                             "scores": m["scores"][-1], "fitness": fit, "rank": rank})
            if self.verbose:
                print(f"generation {gen}: best fitness {fitness.max():.4g}, median "
                      f"{np.median(fitness):.4g}")
            parents = {m["id"]: -1 for m in members}
            if gen == self.n_generations - 1:
                break
            n_swap = max(1, int(np.floor(self.quantile_fraction * len(members))))
            order = np.argsort(fitness)
            bottom, top = order[:n_swap], order[-n_swap:]
            for b in bottom:
                parent = members[int(top[rng.randint(len(top))])]
                child = members[int(b)]
                child["estimators"] = copy.deepcopy(parent["estimators"])
                child["scores"] = [s.copy() for s in parent["scores"]]
                child["schedule"] = [dict(p) for p in parent["schedule"]]
                child["params"] = self._explore(parent["params"], mutable, rng)
                for est in child["estimators"]:
                    est.set_params(**child["params"])
                parents[child["id"]] = parent["id"]
                self.lineage_.append({"generation": gen + 1, "member_id": child["id"],
                                      "parent_id": parent["id"],
                                      "params": dict(child["params"])})

        self._store_results(rows, len(splits))
        best = members[int(np.argmax(fitness))]
        self.best_index_ = int(np.flatnonzero(
            (self.cv_results_["generation"] == self.n_generations - 1)
            & (self.cv_results_["member_id"] == best["id"]))[0])
        self.best_params_ = dict(best["params"])
        self.best_score_ = float(fitness.max())
        self.best_schedule_ = [dict(p) for p in best["schedule"]]
        self.n_epochs_total_ = (self.n_generations * self.epochs_per_generation
                                * self.population_size * len(splits))
        self.n_splits_ = len(splits)
        if self.refit in (True, "replay"):
            est = clone(self.estimator)
            if has_seed:
                est.set_params(random_state=best["estimators"][0].get_params()["random_state"])
            for params in self.best_schedule_:
                est.set_params(**params)
                _train_member([est], X, y, [(np.arange(X.shape[0]), np.arange(0))],
                              self.epochs_per_generation, lambda *a: np.nan)
            self.best_estimator_ = est
        elif self.refit == "best_member":
            self.best_estimator_ = best["estimators"][0]
        return self

    def _store_results(self, rows, n_splits):
        res = {
            "generation": np.array([r["generation"] for r in rows]),
            "member_id": np.array([r["member_id"] for r in rows]),
            "parent_id": np.array([r["parent_id"] for r in rows]),
            "params": [r["params"] for r in rows],
        }
        names = sorted({k for r in rows for k in r["params"]})
        for name in names:
            res[f"param_{name}"] = np.ma.masked_array(
                [r["params"].get(name) for r in rows], dtype=object)
        for k in range(n_splits):
            res[f"split{k}_test_score"] = np.array([r["scores"][k] for r in rows])
        res["mean_test_score"] = np.array([r["scores"].mean() for r in rows])
        res["std_test_score"] = np.array([r["scores"].std() for r in rows])
        res["fitness"] = np.array([r["fitness"] for r in rows])
        res["rank_test_score"] = np.array([r["rank"] for r in rows])
        self.cv_results_ = res

    # -- delegation --------------------------------------------------------------------------
    def predict(self, X):
        """Predict with ``best_estimator_``."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def score(self, X, y=None):
        """Score ``best_estimator_`` with ``scoring`` (or its own score)."""
        check_is_fitted(self, "best_estimator_")
        return check_scoring(self.best_estimator_, scoring=self.scoring)(
            self.best_estimator_, X, y)
