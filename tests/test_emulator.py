"""NeuralSFSRegressor: the sklearn contract, the physics of its output, persistence."""

import pickle

import moments
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sfsestimators import NeuralSFSRegressor, TwoEpoch, generate_teacher_data
from sfsestimators.metrics import SCORERS, get_scorer, mean_relative_error

SMALL = dict(hidden_layer_sizes=(32, 32), max_epochs=10, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def teacher():
    return generate_teacher_data(TwoEpoch(), 300, [12], n_jobs=1, random_state=0)


@pytest.fixture(scope="module")
def fitted(teacher):
    theta, sfs, _ = teacher
    params = dict(SMALL, max_epochs=300, lr=3e-3, patience=30)
    return NeuralSFSRegressor(**params).fit(theta[:250], sfs[:250], model=TwoEpoch())


@parametrize_with_checks(
    [NeuralSFSRegressor(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=False,
                        random_state=0)],
    expected_failed_checks=lambda est: {
        "check_regressor_multioutput": (
            "draws negative multi-output targets (make_regression) without honouring the "
            "positive_only tag; spectra are >= 0 and negative ones are rejected by design"
        ),
    },
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_learns_the_teacher(fitted, teacher):
    theta, sfs, _ = teacher
    held_out = fitted.score(theta[250:], sfs[250:])
    assert -0.15 < held_out <= 0  # a 32x32 net, 250 examples: within 15 % on held-out
    pred = fitted.predict(theta[250:])
    assert pred.shape == (50, 13)
    assert np.all(pred[:, [0, -1]] == 0) and np.all(pred[:, 1:-1] > 0)  # positive, corners 0
    assert fitted.n_epochs_ >= 10 and "valid_loss" in fitted.history_[-1]
    assert "(13,) (11 modelled entries)" in fitted.summary()
    # an untrained network is far worse: the score measures learning
    untrained = NeuralSFSRegressor(**dict(SMALL, max_epochs=1, lr=1e-6)).fit(theta[:250],
                                                                           sfs[:250])
    assert untrained.score(theta[250:], sfs[250:]) < held_out - 0.1


def test_projection_and_torch_module(fitted, teacher):
    theta, _, _ = teacher
    full = fitted.predict_spectrum(theta[:3])
    assert isinstance(full[0], moments.Spectrum) and full[0].mask[0] and full[0].mask[-1]
    small = fitted.predict_spectrum(theta[:3], sample_sizes=[6])
    np.testing.assert_allclose(small[1].data, full[1].project([6]).data, rtol=1e-10)
    module = fitted.as_torch(sample_sizes=[6], dtype=torch.float64)
    x = torch.tensor(theta[:3], dtype=torch.float64, requires_grad=True)
    out = module(x)
    assert out.shape == (3, 7)
    np.testing.assert_allclose(out.detach().numpy(), np.stack([s.data for s in small]),
                               rtol=1e-5)
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad != 0).any()


def test_pickle_save_load_and_partial_fit(fitted, teacher, tmp_path):
    theta, sfs, _ = teacher
    expected = fitted.predict(theta[:5])
    np.testing.assert_allclose(pickle.loads(pickle.dumps(fitted)).predict(theta[:5]), expected)
    fitted.set_params(lr=np.float64(fitted.lr))  # numpy scalars must not break weights_only
    fitted.save(tmp_path / "emulator.pt")
    loaded = NeuralSFSRegressor.load(tmp_path / "emulator.pt", device="cpu")
    np.testing.assert_allclose(loaded.predict(theta[:5]), expected, rtol=1e-6)
    assert loaded.get_params()["hidden_layer_sizes"] == (32, 32)
    assert repr(loaded.model_) == "TwoEpoch()"  # the family travels with the weights
    # partial_fit continues from the trained weights: the loss goes on from where it was
    before = loaded.score(theta[:250], sfs[:250])
    epochs = loaded.n_epochs_
    loaded.set_params(lr=1e-4)
    loaded.partial_fit(theta[:250], sfs[:250], epochs=3)
    assert loaded.n_epochs_ == epochs + 3
    assert loaded.score(theta[:250], sfs[:250]) > before - 0.02
    assert loaded.net_.optimizer_.param_groups[0]["lr"] == 1e-4
    # without set_params, continued training keeps the optimiser's current learning rate
    loaded.net_.optimizer_.param_groups[0]["lr"] = 5e-5  # as a scheduler would
    loaded.partial_fit(theta[:250], sfs[:250], epochs=1)
    assert loaded.net_.optimizer_.param_groups[0]["lr"] == 5e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_model_loads_on_gpu_and_back(fitted, teacher, tmp_path):
    theta = teacher[0]
    fitted.save(tmp_path / "e.pt")
    gpu = NeuralSFSRegressor.load(tmp_path / "e.pt", device="cuda")
    np.testing.assert_allclose(gpu.predict(theta[:5]), fitted.predict(theta[:5]), rtol=1e-4)
    gpu.save(tmp_path / "g.pt")
    cpu = NeuralSFSRegressor.load(tmp_path / "g.pt", device="cpu")
    np.testing.assert_allclose(cpu.predict(theta[:5]), fitted.predict(theta[:5]), rtol=1e-4)


def test_same_seed_same_model(teacher):
    theta, sfs, _ = teacher
    a = NeuralSFSRegressor(**SMALL).fit(theta, sfs).predict(theta[:4])
    b = NeuralSFSRegressor(**SMALL).fit(theta, sfs).predict(theta[:4])
    np.testing.assert_array_equal(a, b)


def test_pipeline_cross_val_and_grid_search(teacher):
    theta, sfs, _ = teacher
    y = sfs.reshape(len(sfs), -1)
    pipe = Pipeline([("identity", FunctionTransformer()),
                     ("emulator", NeuralSFSRegressor(**SMALL))])
    scores = cross_val_score(pipe, theta, y, cv=3)
    assert scores.shape == (3,) and np.all(scores <= 0)
    kl = cross_val_score(NeuralSFSRegressor(**SMALL), theta, y, cv=2,
                         scoring=SCORERS["neg_kl_divergence"])
    assert np.all(kl <= 0)
    search = GridSearchCV(
        NeuralSFSRegressor(**SMALL),
        {"hidden_layer_sizes": [(8,), (64, 64)], "lr": [1e-4, 3e-3]},
        cv=2, n_jobs=2, scoring=get_scorer("neg_mean_relative_error"),
    )
    search.fit(theta, y)
    assert len(search.cv_results_["params"]) == 4
    # the bigger, faster-learning network wins on this task
    assert search.best_params_ == {"hidden_layer_sizes": (64, 64), "lr": 3e-3}
    assert mean_relative_error(y, search.predict(theta)) < 0.5


def test_bad_input_is_a_clear_error(teacher):
    theta, sfs, _ = teacher
    est = NeuralSFSRegressor(**SMALL)
    with pytest.raises(ValueError, match="negative entries"):
        est.fit(theta, -sfs)
    with pytest.raises(ValueError, match="sfs has shape"):
        est.fit(theta, sfs[:10])
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clone(est).set_params(hidden_layer_sizes=(0,)).fit(theta, sfs)
    with pytest.raises(ValueError, match="loss is 'l1'"):
        clone(est).set_params(loss="l1").fit(theta, sfs)
    with pytest.raises(ValueError, match="'nu'.*outside"):
        est.fit(theta * [1000, 1], sfs, model=TwoEpoch())
    fitted = clone(est).set_params(max_epochs=1).fit(theta, sfs)
    with pytest.raises(ValueError, match="expecting 2 features"):
        fitted.predict(theta[:, :1])
    with pytest.raises(ValueError, match="log-scaled"):
        fitted.predict(-theta[:2])
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="shape"):
        fitted.partial_fit(theta, np.zeros((len(theta), 5)) + 1)


def test_killed_training_resumes_exactly(tmp_path, teacher):
    """train_resumable killed (SIGKILL) after a checkpoint and resumed ends with the model
    an uninterrupted run trains: weights, optimiser state and seeds are in the file."""
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from sfsestimators.pretrained.train_default import train_resumable

    theta, sfs, _ = teacher
    np.savez(tmp_path / "data.npz", theta=theta, sfs=sfs)
    kw = dict(max_epochs=30, chunk=2, hidden_layer_sizes=(16,), early_stopping=False,
              batch_size=16, random_state=0, model=TwoEpoch())
    ckpt = tmp_path / "killed.pt"
    script = textwrap.dedent(f"""
        import numpy as np
        from sfsestimators import TwoEpoch
        from sfsestimators.pretrained.train_default import train_resumable
        d = np.load({str(tmp_path / "data.npz")!r})
        train_resumable(d["theta"], d["sfs"], {str(ckpt)!r}, max_epochs=30, chunk=2,
                        hidden_layer_sizes=(16,), early_stopping=False, batch_size=16,
                        random_state=0, model=TwoEpoch(), log=lambda *a: None)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and not ckpt.exists() and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped = NeuralSFSRegressor.load(ckpt, device="cpu").n_epochs_
    assert 2 <= stopped < 30, "the run should have been killed part-way"
    resumed = train_resumable(theta, sfs, ckpt, log=lambda *a: None, **kw)
    whole = train_resumable(theta, sfs, tmp_path / "whole.pt", log=lambda *a: None, **kw)
    assert resumed.n_epochs_ == whole.n_epochs_ == 30
    np.testing.assert_allclose(resumed.predict(theta[:20]), whole.predict(theta[:20]),
                               rtol=1e-5)
