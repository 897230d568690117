"""N_e(t) from pairwise coalescence times (genealogy/_ne.py)."""

import numpy as np
import pytest

from sfsestimators.genealogy import NE_TIME_GRID, ne_from_times, ne_posterior


def _two_epoch_times(rng, n, recent, ancient, t_change):
    """Pairwise coalescence times of a population of `recent` diploids until t_change, then
    `ancient`: rate 1 / (2 N) per generation, by inversion of the piecewise exponential."""
    e = rng.exponential(size=n)
    first = e * 2 * recent
    late = t_change + (e - t_change / (2 * recent)) * 2 * ancient
    return np.where(first < t_change, first, late)


def test_recovers_a_size_change():
    rng = np.random.default_rng(1)
    times = _two_epoch_times(rng, 400_000, 5e3, 2e4, 3e3)
    ne = ne_from_times(times)
    mids = np.sqrt(NE_TIME_GRID[:-1] * NE_TIME_GRID[1:])
    recent = (mids > 200) & (mids < 2e3)
    ancient = (mids > 5e3) & (mids < 5e4)
    np.testing.assert_allclose(ne[recent], 5e3, rtol=0.15)
    np.testing.assert_allclose(ne[ancient], 2e4, rtol=0.15)


def test_intervals_no_pair_reached_take_their_neighbours_size():
    times = np.random.default_rng(2).exponential(2e4, size=20_000)
    times = times[times < 1e5]  # nothing beyond 1e5 generations
    ne = ne_from_times(times)
    mids = np.sqrt(NE_TIME_GRID[:-1] * NE_TIME_GRID[1:])
    assert np.all(np.isfinite(ne)) and np.all(ne > 0)
    beyond = mids > 2e5
    np.testing.assert_allclose(ne[beyond], ne[beyond][0], rtol=1e-3)  # flat: no data
    with pytest.raises(ValueError, match="no positive finite"):
        ne_from_times([np.nan, -1.0])


def test_posterior_api_and_prediction(rng):
    times = rng.exponential(2e4, size=(40, 45))
    post = ne_posterior(np.log(times), np.full(times.shape, 0.2), n_draws=30, random_state=0)
    assert post.samples.shape == (30, len(NE_TIME_GRID) - 1)
    lo, hi = post.band_at([1e3, 1e4], 0.9)
    assert np.all(lo <= post.median_at([1e3, 1e4])) and np.all(post.median_at([1e3, 1e4]) <= hi)
    assert post.quantiles([0.05, 0.5, 0.95]).shape == (3, len(NE_TIME_GRID) - 1)
    assert post.sample(7, random_state=0).shape == (7, len(NE_TIME_GRID) - 1)
    np.testing.assert_allclose(post.in_years(25).grid, 25 * NE_TIME_GRID)
    from sfsestimators import MainspringARGEstimator
    from sfsestimators.simulate import SizeHistory, simulate

    ts = simulate(SizeHistory([0.0], [1e4]), 10, 2e5, random_state=4)
    pred = MainspringARGEstimator.pretrained(device="cpu").predict(ts, random_state=0)
    assert np.all(np.isfinite(pred.ne.samples))
    assert 2e3 < pred.ne.median_at(5e3) < 5e4  # the right order of magnitude on 200 kb


def test_implied_sfs_is_tskit_branch_sfs_times_mu():
    """The physics forward model equals tskit's branch-mode SFS x mu on a true tree
    sequence, and its gradient reaches the node times."""
    import torch

    from sfsestimators.genealogy import branch_structure, implied_sfs, sfs_chi2
    from sfsestimators.simulate import SizeHistory, simulate

    ts = simulate(SizeHistory([0.0], [1e4]), 8, 5e4, random_state=3)
    mu = 1.29e-8
    times = torch.tensor(ts.tables.nodes.time, dtype=torch.float64, requires_grad=True)
    ours = implied_sfs(branch_structure(ts), times, mu)
    theirs = ts.allele_frequency_spectrum(mode="branch", polarised=True,
                                          span_normalise=False) * mu
    np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-10)
    observed = ts.allele_frequency_spectrum(mode="site", polarised=True,
                                            span_normalise=False)
    loss = sfs_chi2(ours, observed, eps=1.0)
    loss.backward()
    assert torch.isfinite(loss) and times.grad.abs().sum() > 0
    assert float(sfs_chi2(torch.tensor(observed), observed)) == 0.0


def test_the_predicted_genealogy_implies_the_data_sfs():
    from sfsestimators import MainspringARGEstimator
    from sfsestimators.genealogy import sfs_chi2
    from sfsestimators.simulate import SizeHistory, simulate

    ts = simulate(SizeHistory([0.0], [1e4]), 10, 3e5, mutation_rate=1.29e-8, random_state=6)
    est = MainspringARGEstimator.pretrained(device="cpu")
    implied = est.predict(ts, ne_draws=0).implied_sfs(1.29e-8)
    observed = ts.allele_frequency_spectrum(mode="site", polarised=True,
                                            span_normalise=False)
    assert implied.shape == observed.shape and implied[0] == implied[-1] == 0
    assert 0.5 < implied.sum() / observed.sum() < 2  # the predicted times carry the diversity
    assert np.isfinite(float(sfs_chi2(implied, observed)))
