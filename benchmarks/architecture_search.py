"""Architecture search at a fixed epoch budget: Grid, Randomized, HalvingRandom, PBT.

Run: python benchmarks/architecture_search.py [--n-train 3000] [--budget 720]

Task: the 1-pop emulator, PiecewiseConstant(2) at n = 20; training teacher spectra for the
searches (2-fold CV), a separate held-out set for the final score (minus the mean relative
error of the refitted best estimator). Every method gets about `--budget` training epochs in
its search (all candidates, all folds); the refit of the winner on all data is counted
separately. Then PBT with fitness_window 1, 2 and 5. Target: PBT's held-out error at equal
budget at least as good as the best of the others.
"""

import argparse
import time
import warnings

from scipy.stats import loguniform
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV

from sfsestimators import NeuralSFSRegressor, PiecewiseConstant, generate_teacher_data
from sfsestimators.model_selection import PopulationBasedSearchCV

ARCHS = [(32, 32), (64, 64), (128, 128)]
LRS = [3e-4, 1e-3, 3e-3]


def base(epochs):
    return NeuralSFSRegressor(max_epochs=epochs, early_stopping=False, batch_size=64,
                              random_state=0, device="cpu")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=720)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    model = PiecewiseConstant(n_epochs=2)
    theta, sfs, _ = generate_teacher_data(model, args.n_train + args.n_test, [20], n_jobs=-1,
                                          random_state=0)
    sfs = sfs.reshape(len(sfs), -1)
    X, y = theta[:args.n_train], sfs[:args.n_train]
    X_test, y_test = theta[args.n_train:], sfs[args.n_train:]
    n_cand, folds = len(ARCHS) * len(LRS), 2
    per_fit = args.budget // (n_cand * folds)
    grid_params = {"hidden_layer_sizes": ARCHS, "lr": LRS}
    dist = {"hidden_layer_sizes": ARCHS, "lr": loguniform(1e-4, 1e-2)}
    # population x generations x epochs x folds = the budget exactly (9 x 10 x 2 x 2 = 360)
    pbt_pop, pbt_gen = 9, 10
    pbt_epochs = max(1, args.budget // (pbt_pop * pbt_gen * folds))
    halving_min = max(1, args.budget // 90)
    searches = {
        "GridSearchCV": (GridSearchCV(base(per_fit), grid_params, cv=folds,
                                      n_jobs=args.n_jobs), n_cand * folds * per_fit),
        "RandomizedSearchCV": (RandomizedSearchCV(base(per_fit), dist, n_iter=n_cand,
                                                  cv=folds, n_jobs=args.n_jobs,
                                                  random_state=0), n_cand * folds * per_fit),
        "HalvingRandomSearchCV": (HalvingRandomSearchCV(
            base(per_fit), dist, resource="max_epochs", n_candidates=12, factor=3,
            min_resources=halving_min, max_resources=9 * halving_min, cv=folds,
            n_jobs=args.n_jobs, random_state=0), None),
    }
    for window in (1, 2, 5):
        searches[f"PopulationBasedSearchCV w={window}"] = (PopulationBasedSearchCV(
            base(pbt_epochs), dist, population_size=pbt_pop, n_generations=pbt_gen,
            epochs_per_generation=pbt_epochs, fitness_window=window, cv=folds,
            n_jobs=args.n_jobs, random_state=0), pbt_pop * pbt_gen * pbt_epochs * folds)
    head = (f"{'method':<30} {'search epochs':>13} {'refit epochs':>12} {'wall s':>7} "
            f"{'held-out mean rel. err':>23} {'best params':>40}")
    print(f"train {len(X)}, test {len(X_test)}, n = 20, budget ~{args.budget} epochs")
    print(head)
    print("-" * len(head))
    for name, (search, epochs) in searches.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X, y)
        wall = time.perf_counter() - start
        if epochs is None:  # halving: sum of resources over iterations
            epochs = int(sum(r * c for r, c in zip(search.n_resources_, search.n_candidates_))
                         * folds)
        est = search.best_estimator_
        refit_epochs = getattr(est, "n_epochs_", "?")
        err = -est.score(X_test, y_test)
        params = {k: (round(v, 5) if isinstance(v, float) else v)
                  for k, v in search.best_params_.items()}
        print(f"{name:<30} {epochs:>13} {refit_epochs!s:>12} {wall:>7.0f} "
              f"{100 * err:>22.2f}% {str(params):>40}")


if __name__ == "__main__":
    main()
