"""The msprime training engine: histories, targets checked against tskit, seeding, streams."""

from itertools import islice

import msprime
import numpy as np
import pytest
import torch

from sfsestimators.models import TwoEpoch
from sfsestimators.simulate import (
    TIME_GRID,
    SimulationStream,
    SizeHistory,
    extract_targets,
    sample_size_history,
    simulate,
    simulate_training_set,
)

L, W = 5e4, 1e4


@pytest.fixture(scope="module")
def ts():
    history = SizeHistory(np.array([0.0, 2000.0]), np.array([5000.0, 20000.0]))
    return simulate(history, 10, L, random_state=3)


def test_prior_draws_follow_the_design():
    draws = [sample_size_history(i) for i in range(300)]
    ks = np.array([len(h.sizes) for h in draws])
    assert ks.min() == 1 and ks.max() == 7
    sizes = np.concatenate([h.sizes for h in draws])
    assert sizes.min() >= 1e2 and sizes.max() <= 1e5
    assert np.all([np.all(np.diff(h.start_times) > 0) for h in draws])
    h = draws[0]
    np.testing.assert_array_equal(h.size_at(h.start_times), h.sizes)


def test_simulated_history_is_the_drawn_one(ts):
    debug = SizeHistory(np.array([0.0, 2000.0]), np.array([5000.0, 20000.0])).to_msprime()
    debugger = debug.debug()
    assert debugger.population_size_trajectory([0, 1000, 3000]).ravel().tolist() == [
        5000.0, 5000.0, 20000.0]
    assert ts.num_samples == 10 and ts.sequence_length == L
    assert ts.num_sites > 0 and ts.num_trees > 1


def test_targets_match_tskit(ts):
    out = extract_targets(ts, W)
    n_windows = int(L // W)
    assert out["tmrca"].shape == (n_windows, 10, 10)
    np.testing.assert_array_equal(out["windows"], np.arange(0, L + 1, W))
    # window-mean TMRCA of one pair, by hand from the trees
    for w in (0, n_windows - 1):
        lo, hi = out["windows"][w], out["windows"][w + 1]
        total = 0.0
        for tree in ts.trees():
            a, b = max(lo, tree.interval.left), min(hi, tree.interval.right)
            if b > a:
                total += (b - a) * tree.tmrca(2, 7)
        assert out["tmrca"][w, 2, 7] == pytest.approx(total / (hi - lo), rel=1e-9)
    assert np.all(np.diagonal(out["tmrca"], axis1=1, axis2=2) == 0)
    np.testing.assert_allclose(out["tmrca"], np.transpose(out["tmrca"], (0, 2, 1)))
    # the nearest relative is never oneself and has the smallest TMRCA
    nearest = out["nearest"]
    assert np.all(nearest != np.arange(10)[None, :])
    off = out["tmrca"] + np.where(np.eye(10, dtype=bool), np.inf, 0)
    np.testing.assert_array_equal(off.min(axis=2),
                                  np.take_along_axis(out["tmrca"], nearest[..., None], 2)[..., 0])
    breaks = np.asarray(ts.breakpoints(as_array=True))
    assert out["breakpoints"].sum() == len(breaks) - 2
    np.testing.assert_array_equal(out["genotypes"], ts.genotype_matrix())
    np.testing.assert_array_equal(out["positions"], ts.tables.sites.position)
    np.testing.assert_array_equal(out["node_times"], ts.nodes_time)


def test_ne_target_and_model_demographies():
    history = SizeHistory(np.array([0.0, 1e3]), np.array([1e3, 1e4]))
    ts = simulate((TwoEpoch(), [0.1, 0.05], 1e4), 4, 1e4, random_state=1)
    assert ts.num_samples == 4
    out = extract_targets(ts, 5e3, history=history)
    assert out["log_ne"].shape == TIME_GRID.shape
    assert out["log_ne"][0] == pytest.approx(np.log(1e3))
    assert out["log_ne"][-1] == pytest.approx(np.log(1e4))
    with pytest.raises(ValueError, match="n_haplotypes is 5"):
        simulate(history, 5, 1e4)
    with pytest.raises(ValueError, match="n_haplotypes is 0"):
        simulate(msprime.Demography.isolated_model([1e4]), 0, 1e4)


def test_training_set_is_seeded_and_independent_of_n_jobs():
    kw = dict(n_haplotypes=4, sequence_length=2e4, window_size=1e4, random_state=7)
    one = simulate_training_set(3, n_jobs=1, **kw)
    two = simulate_training_set(3, n_jobs=2, **kw)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a["tmrca"], b["tmrca"])
        np.testing.assert_array_equal(a["genotypes"], b["genotypes"])
    assert not np.array_equal(one[0]["tmrca"], one[1]["tmrca"])


def test_stream_workers_do_not_repeat_each_other():
    stream = SimulationStream(11, n_haplotypes=4, sequence_length=1e4, window_size=5e3)
    first = [item["tmrca"] for item in islice(iter(stream), 2)]
    again = [item["tmrca"] for item in islice(iter(stream), 2)]
    np.testing.assert_array_equal(first[0], again[0])  # same seed, same stream
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    items = list(islice(iter(loader), 4))  # alternates worker 0, worker 1
    w0, w1 = items[0]["tmrca"], items[1]["tmrca"]
    assert not np.array_equal(np.asarray(w0), np.asarray(w1))
    # worker 0's stream is the single-process stream
    np.testing.assert_array_equal(np.asarray(w0), first[0])
