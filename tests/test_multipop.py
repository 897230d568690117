"""Multi-population emulators: dense and CP heads, the population-graph encoder, 2-pop fits."""

import warnings

import demes
import moments
import numpy as np
import pytest
import torch

from sfsestimators import DemographyFitter, NeuralSFSRegressor, generate_teacher_data
from sfsestimators.models import (
    GRAPH_NODE_FEATURES,
    IsolationMigration,
    SplitMigration,
    encode_graph,
    graph_layout_size,
)
from sfsestimators.nn import SFSEmulatorModule

N = 6
FAMILY = SplitMigration(bounds={"nu1": (0.3, 3.0), "nu2": (0.3, 3.0), "T": (0.1, 1.0),
                                "m": (0.0, 2.0)})


@pytest.fixture(scope="module")
def teacher():
    return generate_teacher_data(FAMILY, 120, [N, N], n_jobs=2, random_state=0)


def _emulator(**kw):
    params = dict(hidden_layer_sizes=(64, 64), max_epochs=150, lr=3e-3, batch_size=32,
                  early_stopping=False, random_state=0)
    params.update(kw)
    return NeuralSFSRegressor(**params)


@pytest.fixture(scope="module")
def dense(teacher):
    return _emulator().fit(teacher.theta, teacher.sfs, model=FAMILY)


@pytest.fixture(scope="module")
def graph_emulator(teacher):
    X = FAMILY.encode_graphs(teacher.theta)
    return _emulator(encoder="graph", hidden_layer_sizes=(48, 48)).fit(X, teacher.sfs)


def test_cp_head_is_a_normalised_mixture_of_products():
    shape = (5, 6, 4)
    included = np.ones(shape, dtype=bool)
    included[0, 0, 0] = included[-1, -1, -1] = False
    module = SFSEmulatorModule(3, int(included.sum()), (16,), head="cp", rank=3,
                               sfs_shape=shape, included=included.reshape(-1).tolist())
    torch.manual_seed(0)
    log_shape = module._cp_log_shape(module.shape_head(module.trunk(torch.randn(2, 3))))
    assert log_shape.shape == (2, int(included.sum()))
    np.testing.assert_allclose(torch.exp(log_shape).sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    # rank 1: the full tensor (before masking) is an outer product of its marginals
    one = SFSEmulatorModule(3, int(np.prod(shape)), (16,), head="cp", rank=1,
                            sfs_shape=shape, included=[True] * int(np.prod(shape)))
    p = torch.exp(one._cp_log_shape(one.shape_head(one.trunk(torch.randn(1, 3))))).reshape(shape)
    outer = torch.einsum("i,j,k->ijk", p.sum((1, 2)), p.sum((0, 2)), p.sum((0, 1)))
    np.testing.assert_allclose(p.detach().numpy(), outer.detach().numpy(), rtol=1e-5)
    # inference evaluates the same tensor by products and a matmul over the ranks
    for k_shape in [(5, 6, 4), (7, 3), (9,)]:
        inc = np.ones(k_shape, dtype=bool)
        inc.reshape(-1)[[0, -1]] = False
        m = SFSEmulatorModule(3, int(inc.sum()), (16,), head="cp", rank=4, sfs_shape=k_shape,
                              included=inc.reshape(-1).tolist()).double()
        out = m.shape_head(m.trunk(torch.randn(3, 3, dtype=torch.float64))) * 4
        slow = m._cp_log_shape(out)
        fast = m.eval()._cp_log_shape(out)
        np.testing.assert_allclose(fast.detach().numpy(), slow.detach().numpy(), atol=1e-10)
    with pytest.raises(ValueError, match="head is 'tucker'"):
        SFSEmulatorModule(3, 10, (16,), head="tucker")


def test_cp_head_has_fewer_weights_and_learns(teacher, dense):
    cp = _emulator(head="cp", rank=2).fit(teacher.theta, teacher.sfs, model=FAMILY)
    n_dense = sum(p.numel() for p in dense.net_.module_.shape_head.parameters())
    n_cp = sum(p.numel() for p in cp.net_.module_.shape_head.parameters())
    assert n_cp < n_dense
    losses = cp.history_[:, "train_loss"]
    assert losses[-1] < 0.2 * losses[0]
    pred = cp.predict(teacher.theta[:3]).reshape(3, N + 1, N + 1)
    assert np.all(pred[:, 0, 0] == 0) and np.all(pred[:, -1, -1] == 0)  # corners masked
    assert np.all(pred[:, 1:-1, 1:-1] > 0)
    # a rank-2 CP head predicts a mixture of two products: without the rows of the two
    # masked corners, each predicted (N+1) x (N+1) spectrum is a matrix of rank <= 2; the
    # dense head's is not
    for head, est in [("cp", cp), ("dense", dense)]:
        rows = est.predict(teacher.theta[:3]).reshape(3, N + 1, N + 1)[:, 1:-1, :]
        sv = np.linalg.svd(rows, compute_uv=False)
        ratio = sv[:, 2] / sv[:, 0]
        assert np.all(ratio < 1e-5) if head == "cp" else np.all(ratio > 1e-3), (head, ratio)


@pytest.mark.parametrize("which", ["dense", "graph"])
def test_projection_and_marginals_consistent(teacher, dense, graph_emulator, which):
    est = dense if which == "dense" else graph_emulator
    X = teacher.theta[:2] if which == "dense" else FAMILY.encode_graphs(teacher.theta[:2])
    full = est.predict_spectrum(X)
    small = est.predict_spectrum(X, sample_sizes=[4, 4])
    module = est.as_torch(sample_sizes=[4, 3], dtype=torch.float64)
    for f, s, t in zip(full, small, module(torch.as_tensor(X, dtype=torch.float64))):
        np.testing.assert_allclose(s.data, f.project([4, 4]).data, rtol=1e-5, atol=1e-10)
        np.testing.assert_allclose(t.detach().numpy(), f.project([4, 3]).data, rtol=1e-5,
                                   atol=1e-10)
        # the marginals of the projected predictions (sfsestimators' projection, in numpy
        # and in torch) are the 1-population projections of the full prediction's marginals
        # (moments' marginalize and 1-D project); interior entries hold no masked corner
        for axis, (n_s, n_t) in enumerate([(4, 4), (4, 3)]):
            other = 1 - axis
            full_marginal = f.marginalize([other])
            np.testing.assert_allclose(s.marginalize([other]).data[1:-1],
                                       full_marginal.project([n_s]).data[1:-1], rtol=1e-5)
            np.testing.assert_allclose(t.detach().numpy().sum(axis=other)[1:-1],
                                       full_marginal.project([n_t]).data[1:-1], rtol=1e-5)


def _split_graph_yaml(first):
    """A split history with the two child demes listed in either order."""
    demes_ = {
        "A": dict(name="A", ancestors=["anc"], epochs=[dict(start_size=500, end_time=0)]),
        "B": dict(name="B", ancestors=["anc"],
                  epochs=[dict(start_size=2000, end_size=8000, end_time=0)]),
    }
    order = ["A", "B"] if first == "A" else ["B", "A"]
    data = {
        "time_units": "generations",
        "demes": [dict(name="anc", epochs=[dict(start_size=1000, end_time=300)])]
        + [demes_[k] for k in order],
        "migrations": [dict(source="A", dest="B", rate=1e-4)],
        "pulses": [dict(sources=["A"], dest="B", proportions=[0.1], time=50)],
    }
    return demes.Graph.fromdict(data)


def test_graph_encoding_reads_the_history():
    g = _split_graph_yaml("A")
    row = encode_graph(g, ["A", "B"], max_nodes=5)
    assert row.shape == (graph_layout_size(5, 2),)
    m = 5
    nodes = row[: m * GRAPH_NODE_FEATURES].reshape(m, GRAPH_NODE_FEATURES)
    descent = row[m * GRAPH_NODE_FEATURES: m * GRAPH_NODE_FEATURES + m * m].reshape(m, m)
    migration = row[m * GRAPH_NODE_FEATURES + m * m: m * GRAPH_NODE_FEATURES + 2 * m * m]
    migration = migration.reshape(m, m)
    pointer = row[-2 * m:].reshape(2, m)
    np.testing.assert_array_equal(nodes[:, -1], [1, 1, 1, 0, 0])  # three epochs, two pads
    np.testing.assert_allclose(nodes[2, :2], np.log([2.0, 8.0]))  # B grows 2000 -> 8000
    np.testing.assert_allclose(nodes[0, 2], np.log(300 / 2000 + 1e-3))  # split, 2 N_0 gens
    assert nodes[0, 4] == 1 and nodes[1, 5] == 1  # root epoch; A reaches the present
    assert descent[0, 1] == 1 and descent[0, 2] == 1  # both children descend from anc
    assert descent[1, 2] == pytest.approx(0.1)  # the pulse A -> B
    assert migration[1, 2] == pytest.approx(1e-4 * 2 * 1000)  # 2 N_0 m
    np.testing.assert_array_equal(pointer.argmax(1), [1, 2])
    with pytest.raises(ValueError, match="max_nodes is 2"):
        encode_graph(g, ["A", "B"], max_nodes=2)
    with pytest.raises(ValueError, match="'C'"):
        encode_graph(g, ["A", "C"], max_nodes=5)


def test_graph_encoder_is_invariant_to_deme_order(graph_emulator):
    """Listing demes in another order permutes nodes; the prediction must not change."""
    a = encode_graph(_split_graph_yaml("A"), ["A", "B"])
    b = encode_graph(_split_graph_yaml("B"), ["A", "B"])
    assert not np.allclose(a, b)  # the rows differ (nodes permuted) ...
    pred = graph_emulator.predict(np.stack([a, b]))
    np.testing.assert_allclose(pred[0], pred[1], rtol=1e-5)  # ... the spectra do not
    # the sample order is the spectrum's axis order, and does matter
    swapped = graph_emulator.predict(encode_graph(_split_graph_yaml("A"), ["B", "A"])[None])
    assert not np.allclose(pred[0], swapped[0], rtol=1e-3)


@pytest.mark.slow
def test_graph_encoder_serves_another_topology(teacher):
    """One network for two families of different graphs (split+migration, IM with growth)."""
    im = IsolationMigration(bounds={"s": (0.2, 0.8), "nu1": (0.3, 3), "nu2": (0.3, 3),
                                    "T": (0.1, 1.0), "m12": (0, 2), "m21": (0, 2)})
    other = generate_teacher_data(im, 30, [N, N], n_jobs=2, random_state=1)
    X = np.vstack([FAMILY.encode_graphs(teacher.theta), im.encode_graphs(other.theta)])
    y = np.concatenate([teacher.sfs, other.sfs])
    est = _emulator(encoder="graph", hidden_layer_sizes=(48, 48), max_epochs=100).fit(X, y)
    assert est.score(X, y) > -0.15
    n = len(teacher.theta)
    assert est.score(X[n:], y[n:]) > -0.2  # the second topology is served too
    with pytest.raises(ValueError, match="encoder='graph' expects"):
        _emulator(encoder="graph").fit(teacher.theta, teacher.sfs)


def _observed(theta, scale=20000, seed=0):
    expected = FAMILY.expected_sfs(theta, [N, N]) * scale
    rng = np.random.default_rng(seed)
    return moments.Spectrum(rng.poisson(np.ma.filled(expected, 0)).astype(float))


def test_fit_two_populations_end_to_end(dense):
    truth = np.array([0.8, 1.6, 0.4, 0.7])
    observed = _observed(truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = DemographyFitter(dense, model=FAMILY, n_starts=8, polish="moments",
                                  polish_maxfev=80, random_state=0).fit(observed)
    exact_truth = moments.Inference.ll_multinom(FAMILY.expected_sfs(truth, [N, N]), observed)
    assert fitter.log_likelihood_ >= exact_truth - 3.0
    assert fitter.expected_sfs_.shape == (N + 1, N + 1)
    assert set(fitter.params_) == {"nu1", "nu2", "T", "m"}
    assert len(fitter.graph_.demes) == 3


def test_fit_through_the_graph_encoder(graph_emulator):
    truth = np.array([0.8, 1.6, 0.4, 0.7])
    observed = _observed(truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = DemographyFitter(graph_emulator, model=FAMILY, n_starts=4, max_iter=20,
                                  polish=None, uncertainty=None, random_state=0).fit(observed)
    assert np.isfinite(fitter.log_likelihood_)
    assert fitter.n_iter_ > 1  # the finite-difference gradients moved the starts


def test_population_mismatch_errors(dense):
    one_pop = moments.Spectrum(np.arange(N + 1, dtype=float))
    with pytest.raises(ValueError, match="1 population"):
        DemographyFitter(dense, model=FAMILY).fit(one_pop)
    big = moments.Spectrum(np.ones((N + 3, N + 3)))
    with pytest.raises(ValueError, match="above the emulator's maximum"):
        DemographyFitter(dense, model=FAMILY).fit(big)
