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


def test_weighted_times_equal_repeated_times(rng):
    times = rng.exponential(2e4, size=500)
    weights = rng.integers(1, 4, size=500)
    np.testing.assert_allclose(ne_from_times(times, weights=weights),
                               ne_from_times(np.repeat(times, weights)), rtol=1e-6)


def test_summaries_pool_by_addition():
    """Chromosomes' decoder summaries add up; the SFS is moments' projection to 20; more
    than 20 haplotypes are read as disjoint groups of 20 (what the decoder was trained on)."""
    import moments

    from sfsestimators import MainspringARGEstimator, sfs_from_tree_sequence
    from sfsestimators.genealogy import DIVERGENCE_SCALES, NE_SFS_SIZE
    from sfsestimators.simulate import SizeHistory, simulate

    est = MainspringARGEstimator.pretrained(device="cpu")
    h = SizeHistory([0.0], [1e4])
    ts1, ts2 = (simulate(h, 20, 1e5, mutation_rate=1.29e-8, random_state=s) for s in (1, 2))
    s1, s2 = (est.ne_summary(ts, mutation_rate=1.29e-8) for ts in (ts1, ts2))
    both = sum([s1, s2])
    assert both.n_pair_windows == s1.n_pair_windows + s2.n_pair_windows == 2 * 190 * 50
    assert both.time_counts.sum() == both.n_pair_windows
    np.testing.assert_array_equal(s1.divergence_counts.sum(axis=1),
                                  [190 * (50 // k) for k in DIVERGENCE_SCALES])
    np.testing.assert_allclose(both.mu_length, 2 * 1.29e-8 * 1e5)
    np.testing.assert_allclose(s1.sfs, np.asarray(sfs_from_tree_sequence(ts1)), rtol=1e-6)
    big = simulate(h, 44, 1e5, mutation_rate=1.29e-8, random_state=3)
    groups = est.ne_summary(big, mutation_rate=1.29e-8, random_state=0)
    assert groups.n_pair_windows == 2 * 190 * 50  # two groups of 20, four left out
    np.testing.assert_allclose(groups.mu_length, 2 * 1.29e-8 * 1e5)
    # missing calls: each site projected from the haplotypes that call it
    g = big.genotype_matrix().astype(np.int8)
    g[np.random.default_rng(0).random(g.shape) < 0.05] = -1
    from sfsestimators.genealogy._decoder import projected_sfs

    sfs, kept = projected_sfs(g)
    full = moments.Spectrum(np.asarray(sfs_from_tree_sequence(big)),
                            mask_corners=False).project([NE_SFS_SIZE])
    assert kept == 1.0
    np.testing.assert_allclose(sfs[1:-1].sum(), np.asarray(full)[1:-1].sum(), rtol=0.05)
    few = simulate(h, 10, 1e5, random_state=3)
    with pytest.raises(ValueError, match="at least 20"):
        est.ne_summary(few)
    sub = est.ne_summary(ts1, max_pairs=30, random_state=0)
    assert sub.n_pair_windows == 30 * 50


def test_decoder_learns_the_size_scale_and_persists(tmp_path):
    """A small decoder trained on constant-size histories tells a population of 2e3 from
    one of 5e4, reports its draws as the decoder's, and survives save/load."""
    from sfsestimators import MainspringARGEstimator
    from sfsestimators.simulate import SizeHistory, simulate

    est = MainspringARGEstimator.pretrained(device="cpu")
    est.fit_ne_decoder(40, out_dir=tmp_path / "sims", chromosomes=2, length=1e5,
                       prior={"max_epochs": 1, "size_range": (1e3, 1e5)}, n_jobs=1,
                       max_epochs=80, hidden=32, embed=16, transforms=2, patience=80,
                       members=2)
    assert len(list((tmp_path / "sims").glob("chunk*.npz"))) == 2  # cached, resumable
    assert "N_e(t) decoder: 2 flows" in est.summary()
    medians = {}
    for size in (2e3, 5e4):
        tss = [simulate(SizeHistory([0.0], [size]), 20, 1e5, mutation_rate=1.29e-8,
                        recombination_rate=1e-8, random_state=s) for s in (11, 12)]
        post = est.predict_ne(tss, n_draws=100, method="decoder", random_state=0)
        assert post.method == "decoder" and np.all(np.isfinite(post.samples))
        medians[size] = np.median(post.median_at(np.geomspace(1e3, 1e4, 5)))
    assert medians[5e4] > 4 * medians[2e3]
    pred = est.predict(tss[0], ne_draws=20, random_state=0)
    assert pred.ne.method == "decoder"
    est.save(tmp_path / "with_decoder.pt")
    again = MainspringARGEstimator.load(tmp_path / "with_decoder.pt")
    # the file holds the flows' weights in half precision
    np.testing.assert_allclose(
        again.predict_ne(tss, method="decoder", random_state=1).samples,
        est.predict_ne(tss, method="decoder", random_state=1).samples, rtol=2e-2)
    with pytest.raises(ValueError, match="no N_e"):
        MainspringARGEstimator(max_steps=1, train_length=2e4, n_haplotypes=4,
                               random_state=0).fit().predict_ne(tss)
