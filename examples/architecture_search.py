"""Model selection over emulator architectures with scikit-learn's GridSearchCV.

Run: python examples/architecture_search.py [--fast]   (~60 s on 2 cores; --fast ~15 s)

NeuralSFSRegressor is a scikit-learn regressor: GridSearchCV cross-validates widths, depths
and heads on teacher data, scored by the mean relative error of the predicted spectra.
"""

from _common import parse
from sklearn.model_selection import GridSearchCV

from sfsestimators import NeuralSFSRegressor, TwoEpoch, generate_teacher_data
from sfsestimators.metrics import SCORERS

args, say = parse(__doc__)
theta, sfs, _ = generate_teacher_data(TwoEpoch(), 150 if args.fast else 600, [16], n_jobs=2,
                                      random_state=0)
say(f"teacher: {len(theta)} spectra")
grid = {"hidden_layer_sizes": [(32,), (64, 64)] if args.fast else [(32,), (64, 64),
                                                                     (128, 128, 128)],
        "lr": [3e-3] if args.fast else [1e-3, 3e-3]}
search = GridSearchCV(NeuralSFSRegressor(max_epochs=10 if args.fast else 60, random_state=0),
                      grid, cv=3, scoring=SCORERS["neg_mean_relative_error"], verbose=2)
search.fit(theta, sfs)
say(f"best: {search.best_params_}, mean relative error {-search.best_score_:.2%}")
