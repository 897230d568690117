"""N_e(t) by the pairwise SMC' composite likelihood (genealogy/_smc.py)."""

import numpy as np
import pytest
import torch

from sfsestimators.genealogy import NE_TIME_GRID, as_genotypes
from sfsestimators.genealogy._smc import (
    _state_edges,
    forward_backward,
    pair_difference_counts,
    smc_model,
    smc_ne,
)
from sfsestimators.simulate import SizeHistory, simulate

MU = 1.29e-8
LEFT = _state_edges(NE_TIME_GRID)


@pytest.mark.parametrize("sizes", [np.full(32, 1e4), np.geomspace(1e3, 1e5, 32)])
def test_smc_model_is_a_stationary_chain(sizes):
    """Rows of the transition matrix and of the emissions sum to one, and the coalescence
    time's distribution is (nearly: one recombination per 1/32 bin) stationary under SMC'."""
    log_n = torch.tensor(np.log(sizes), requires_grad=True)
    pi, trans, emit = smc_model(log_n, 1e-8 * 500, MU * 500, LEFT)
    np.testing.assert_allclose(trans.detach().sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(emit.detach().sum(1), 1.0, atol=1e-12)
    assert float(pi.detach().sum()) == pytest.approx(1.0)
    drift = (pi @ trans - pi).detach() / pi.detach()
    assert float(drift.abs().max()) < 0.03
    # pi is the coalescence-time distribution of two lineages
    surv = np.exp(-np.cumsum(np.diff(np.append(LEFT, np.inf)) / (2 * sizes))[:-1])
    np.testing.assert_allclose(pi.detach()[:-1].sum(), 1 - surv[-1], rtol=1e-10)
    (trans.log().sum() + emit.log().sum()).backward()
    assert torch.all(torch.isfinite(log_n.grad))


def test_forward_backward_matches_the_plain_recursion():
    """The chunked float32 E-step equals a plain float64 forward-backward, block sums
    included; a missing bin (-1) emits nothing."""
    rng = np.random.default_rng(0)
    pi, trans, emit = (x.numpy() for x in smc_model(
        torch.tensor(np.log(np.geomspace(2e3, 5e4, 32))), 5e-6, MU * 500, LEFT))
    counts = rng.poisson(0.3, size=(700, 5)).astype(np.int8)
    counts[10:30, 2] = -1
    lookup = np.vstack([emit.T, np.ones((1, 32))])
    alpha, scale = np.empty((700, 5, 32)), np.empty((700, 5))
    a = pi * lookup[counts[0]]
    for x in range(700):
        if x:
            a = (alpha[x - 1] @ trans) * lookup[counts[x]]
        scale[x] = a.sum(1)
        alpha[x] = a / scale[x][:, None]
    b, xi, em = np.ones((5, 32)), np.zeros((32, 32)), np.zeros((10, 32))
    for x in range(699, -1, -1):
        np.add.at(em, counts[x], alpha[x] * b)
        if x:
            eb = lookup[counts[x]] * b / scale[x][:, None]
            xi += alpha[x - 1].T @ eb
            b = eb @ trans.T
    loglik, xi_b, em_b, first = forward_backward(counts, pi, trans, emit,
                                                 np.arange(700) // 250, chunk=64)
    assert loglik == pytest.approx(np.log(scale).sum(), rel=1e-6)
    assert xi_b.shape == (3, 32, 32) and em_b.shape == (3, 32, 9)
    np.testing.assert_allclose(xi_b.sum(0), xi * trans, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(em_b.sum(0), em[:-1].T, rtol=1e-3, atol=1e-4)
    # every sequence's 700 bins: 699 transitions and one first state
    assert xi_b.sum() + first.sum() == pytest.approx(700 * 5, rel=1e-5)
    # every other bin is scaled, the last one included: an odd number of bins too
    odd = forward_backward(counts[:699], pi, trans, emit, np.arange(699) // 250, chunk=64)
    assert odd[0] == pytest.approx(np.log(scale[:699]).sum(), rel=1e-6)
    assert odd[1].sum() + odd[3].sum() == pytest.approx(699 * 5, rel=1e-5)


def test_m_step_memory_keeps_the_optimum_in_fewer_evaluations(monkeypatch):
    """An M-step that starts from the previous M-step's L-BFGS pairs reaches the same
    maximum of the next objective as a fresh L-BFGS, with fewer evaluations of the model."""
    from sfsestimators.genealogy import _smc

    rng = np.random.default_rng(1)
    sizes = np.geomspace(2e3, 5e4, 32)
    pi, trans, emit = (x.numpy() for x in smc_model(
        torch.tensor(np.log(sizes)), 5e-6, MU * 500, LEFT))
    counts = rng.poisson(0.3, size=(1500, 8)).astype(np.int8)
    blocks = np.zeros(1500, dtype=int)
    _, xi, em, first = forward_backward(counts, pi, trans, emit, blocks)
    stats = (xi.sum(0), em.sum(0), first)
    penalty = (0.03, 0.01, torch.full((32,), float(np.log(1e4)), dtype=torch.float64))
    start = np.r_[np.log(sizes), np.log(5e-6)]
    args = (MU * 500, LEFT, penalty, 8, True)
    calls = []
    real = _smc.smc_model
    monkeypatch.setattr(_smc, "smc_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    memory = {}
    p1 = _smc._m_step(stats, start, *args, memory=memory)
    second = (xi.sum(0) * 1.05, em.sum(0), first)  # the next E-step's statistics
    n_before = len(calls)
    cold = _smc._m_step(second, p1, *args)
    n_cold = len(calls) - n_before
    warm = _smc._m_step(second, p1, *args, memory=memory)
    n_warm = len(calls) - n_before - n_cold
    np.testing.assert_allclose(warm, cold, atol=2e-3)
    assert "lbfgs" in memory and n_warm < n_cold
    # the first step of a warm M-step makes no curvature pair across the two objectives
    kept = len(memory["lbfgs"]["old_dirs"])
    one = dict(memory)
    _smc._m_step((xi.sum(0) * 0.9, em.sum(0), first), warm, *args, max_iter=1, memory=one)
    assert len(one["lbfgs"]["old_dirs"]) == kept


def test_pair_difference_counts():
    g = np.array([[0, 1, 0], [1, 1, 0], [0, -1, 1], [1, 0, 1]])
    pos = np.array([10.0, 20.0, 150.0, 260.0])
    counts = pair_difference_counts(g, pos, 300.0, np.array([[0, 1], [0, 2], [1, 2]]), 100, 8)
    # bins [0,100): sites 10, 20; [100,200): 150; [200,300): 260
    # a pair missing the only call of a bin misses the bin; one of two calls: counted
    np.testing.assert_array_equal(counts, [[1, 1, 2], [-1, 1, -1], [1, 0, 1]])
    half = pair_difference_counts(g, pos, 300.0, np.array([[1, 2]]), 200, 8)
    assert half.tolist() == [[2], [1]]  # sites 10, 20 (both called), 150 (missing)
    # bins before the first site and after the last say nothing: missing
    late = pair_difference_counts(g, pos + 1000, 2000.0, np.array([[0, 1]]), 100, 8)
    assert late[:10].tolist() == [[-1]] * 10 and late[-7:].tolist() == [[-1]] * 7
    capped = pair_difference_counts(np.ones((20, 2), int) * [0, 1], np.arange(20.0), 20.0,
                                    np.array([[0, 1]]), 100, 8)
    assert capped.tolist() == [[8]]


@pytest.fixture(scope="module")
def bottleneck_data():
    history = SizeHistory(np.array([0.0, 2000.0, 4000.0]), np.array([2e4, 1.5e3, 1e4]))
    haps = [as_genotypes(simulate(history, 8, 4e6, mutation_rate=MU, recombination_rate=1e-8,
                                  random_state=s)) for s in (5, 6)]
    return history, haps


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_smc_ne_finds_a_bottleneck_and_the_recombination_rate(bottleneck_data):
    """On msprime data of a bottleneck the estimate is low inside it and high outside, the
    recombination rate comes out near the simulated one, and the draws are the bootstrap's
    around the point estimate (the first draw)."""
    history, haps = bottleneck_data
    post = smc_ne(haps, MU, max_pairs=12, n_boot=8, n_iter=15, random_state=0)
    assert post.method == "smc" and post.samples.shape == (9, 32)
    mids = post.times
    inside = post.samples[0][(mids > 2200) & (mids < 3600)]
    before = post.samples[0][(mids > 200) & (mids < 1000)]
    after = post.samples[0][(mids > 1e4) & (mids < 3e4)]
    assert inside.max() < 5e3 < min(before.min(), after.min())
    assert 0.5e-8 < post.info["recombination_rate"] < 2e-8
    assert post.info["e_steps"] >= 3 and np.all(np.isfinite(post.samples))
    lo, hi = post.band_at(mids, 0.9)
    assert np.all(lo <= hi) and np.mean(hi > lo) > 0.9
    once = smc_ne(haps, MU, max_pairs=6, n_boot=2, n_iter=3, random_state=1)
    again = smc_ne(haps, MU, max_pairs=6, n_boot=2, n_iter=3, random_state=1)
    np.testing.assert_array_equal(again.samples, once.samples)


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_smc_ne_evidence_counts_the_tracts_per_interval(bottleneck_data):
    """info["events"]: every sequence starts one tract and each change of state starts
    another, so they sum to at least the sequences and at most their bins; the tracts sit
    where the pairs coalesce (none in the first interval, before 32 generations, or beyond
    1e5), and the model error callable is given them."""
    history, haps = bottleneck_data
    given = {}

    def model_error(point, evidence):
        given.update(evidence)
        return np.full(len(point), 0.1)

    post = smc_ne(haps, MU, max_pairs=6, n_boot=3, n_iter=6, model_error=model_error,
                  random_state=0)
    events, n_seq = post.info["events"], 6 * len(haps)
    assert events.shape == (32,) and np.all(events >= 0)
    assert n_seq <= events.sum() <= post.info["n_bins"] * n_seq
    mids = post.times
    assert events[mids < 40].sum() < 1e-3 * events.sum()
    assert events[(mids > 1e3) & (mids < 1e5)].sum() > 0.9 * events.sum()
    np.testing.assert_array_equal(given["events"], events)
    assert post.info["boot_sd"].shape == (32,) and np.all(post.info["boot_sd"] >= 0)


@pytest.mark.filterwarnings("ignore:the EM of smc_ne", "ignore:50 % of the pair-bins")
def test_smc_ne_bins_hold_half_a_difference_per_pair(bottleneck_data):
    """bin_size="auto": the bin in which a pair differs at 0.5 sites on average (by tskit's
    pairwise diversity), of the accessible sequence only; 1,000 bp at most, finer for
    diverse data; told in info."""
    _, haps = bottleneck_data
    assert smc_ne(haps, MU, max_pairs=6, n_boot=0, n_iter=3,
                  random_state=0).info["bin_size"] == 1000  # 0.5 / diversity: 1,500
    ts = simulate(SizeHistory([0.0], [3e4]), 8, 3e6, mutation_rate=MU,
                  recombination_rate=1e-8, random_state=2)
    g, pos, length = as_genotypes(ts)
    wanted = 0.5 / ts.diversity()  # 0.5 / (4 N mu): about 320 bp
    post = smc_ne([(g, pos, length)], MU, max_pairs=28, n_boot=0, n_iter=3, random_state=0)
    assert abs(post.info["bin_size"] - wanted) <= 60
    # half the sequence not called (no sites there, said by accessible=): the bin of the
    # called half, not of twice its length
    keep = pos < 1.5e6
    half = smc_ne([(g[keep], pos[keep], length)], MU, max_pairs=28, n_boot=0, n_iter=3,
                  random_state=0, accessible=[[[0.0, 1.5e6]]])
    called = 0.5 / ts.diversity(windows=[0, 1.5e6, length])[0]
    assert abs(half.info["bin_size"] - called) <= 60
    diverse = simulate(SizeHistory([0.0], [2e5]), 4, 3e5, mutation_rate=MU,
                       recombination_rate=1e-8, random_state=1)
    assert smc_ne([as_genotypes(diverse)], MU, n_boot=0, n_iter=3,
                  random_state=0).info["bin_size"] == 100  # 0.5 / diversity: 48
    assert smc_ne(haps, MU, bin_size=700, max_pairs=6, n_boot=0, n_iter=3,
                  random_state=0).info["bin_size"] == 700
    for bad in (0, -5, 2.5, np.nan, True, "fine"):
        with pytest.raises(ValueError, match="bin_size is"):
            smc_ne(haps, MU, bin_size=bad)


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_smc_ne_reads_missing_and_inaccessible_bins_as_missing(bottleneck_data):
    """Bins outside the accessible sequence are missing (no data), and a sequence with
    most of its pair-bins missing is warned about; fixing the recombination rate holds it."""
    _, haps = bottleneck_data
    g, pos, length = haps[0]
    with pytest.warns(UserWarning, match="missing"):
        post = smc_ne([(g, pos, length)], MU, max_pairs=6, n_boot=0, n_iter=3,
                      recombination_rate=1e-8, accessible=[[[0.0, 1.5e6]]], random_state=0)
    assert post.info["recombination_rate"] == pytest.approx(1e-8)
    g_missing = g.copy()
    g_missing[::3, 0] = -1
    post2 = smc_ne([(g_missing, pos, length)], MU, max_pairs=6, n_boot=0, n_iter=3,
                   recombination_rate=1e-8, random_state=0)
    assert np.all(np.isfinite(post2.samples))
    # a third of the sites miss one call: the SFS is projected to 7, no site dropped
    assert post2.info["sfs_size"] == 7 and post2.info["sfs_sites"] > 0.9 * np.sum(
        ((g == 1).sum(1) > 0) & ((g == 1).sum(1) < 8))
    with pytest.raises(ValueError, match="same samples"):
        smc_ne([(g, pos, length), (g[:, :4], pos, length)], MU)
    with pytest.raises(ValueError, match="recombination_rate is 0"):
        smc_ne([(g, pos, length)], MU, recombination_rate=0.0)
    with pytest.raises(ValueError, match="no pair differs"):
        smc_ne([(np.zeros_like(g), pos, length)], MU)
    # a 1 Mb hole without sites is missing sequence, not 1 Mb of identity
    keep = (pos < 1e6) | (pos > 2e6)
    with pytest.warns(UserWarning, match="long runs without any site"):
        post3 = smc_ne([(g[keep], pos[keep], length)], MU, max_pairs=6, n_boot=0, n_iter=3,
                       recombination_rate=1e-8, random_state=0)
    assert np.all(np.isfinite(post3.samples))


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_predict_ne_smc_refines_the_decoder():
    """The shipped estimator's default N_e(t) is the SMC refinement of its decoder; a
    NeSummary cannot feed it, and an unknown method is named."""
    from sfsestimators import MainspringARGEstimator

    est = MainspringARGEstimator.pretrained(device="cpu")
    history = SizeHistory(np.array([0.0]), np.array([1e4]))
    tss = [simulate(history, 20, 1e6, mutation_rate=MU, recombination_rate=1e-8,
                    random_state=s) for s in (21, 22)]
    post = est.predict_ne(tss, n_draws=10, random_state=0,
                          smc_params={"max_pairs": 10, "n_iter": 6})
    assert post.method == "smc" and post.samples.shape == (11, 32)
    assert post.info["decoder"].method == "decoder"
    # the shipped error model widens the band beyond the bootstrap's
    assert np.all(post.info["model_error"] > 0)
    mids = post.times
    middle = post.median[(mids > 1e3) & (mids < 2e4)]
    assert np.all((middle > 4e3) & (middle < 2.5e4))
    with pytest.raises(ValueError, match="NeSummary"):
        est.predict_ne([est.ne_summary(tss[0])], method="smc")
    with pytest.raises(ValueError, match="method is 'psmc'"):
        est.predict_ne(tss, method="psmc")
    # the decoder's summary pools 64 of the 190 pairs (as in its training) or all of them:
    # the same history to within the decoder's own spread
    some, every = (est.predict_ne(tss, method="decoder", summary_pairs=k, random_state=0)
                   for k in (64, None))
    spread = np.log10(every.quantiles([0.95])[0] / every.quantiles([0.05])[0])
    assert np.all(np.abs(np.log10(some.median / every.median)) < 0.25 * spread + 0.02)
    assert not np.array_equal(some.samples, every.samples)  # other pairs were read
    with pytest.raises(ValueError, match="summary_pairs is 0"):
        est.predict_ne(tss, summary_pairs=0)
    with pytest.raises(ValueError, match="max_pairs is 2.5"):
        est.ne_summary(tss[0], max_pairs=2.5)


def test_calibrated_error_grows_with_the_decoders_uncertainty():
    """The measured error model (pretrained/smc_error.json) gives a wider sd where the
    decoder is less sure, where the estimate parts from the decoder's median and where
    fewer tracts coalesce; it needs the data's evidence, and says nothing on a grid it was
    not measured on."""
    from sfsestimators.genealogy import NePosterior, calibrated_error

    rng = np.random.default_rng(0)
    point, many = np.full(32, 1e4), np.full(32, 1e4)
    narrow = NePosterior(NE_TIME_GRID, 1e4 * 10 ** (0.05 * rng.standard_normal((400, 32))))
    wide = NePosterior(NE_TIME_GRID, 1e4 * 10 ** (0.5 * rng.standard_normal((400, 32))))
    s_narrow, s_wide = calibrated_error(narrow, point, many), calibrated_error(wide, point, many)
    assert np.all(s_narrow > 0) and np.all(s_wide > s_narrow)
    assert np.all(calibrated_error(narrow, 3 * point, many) > s_narrow)
    assert np.all(calibrated_error(narrow, point, np.full(32, 2.0)) > s_narrow)
    with pytest.raises(ValueError, match="events"):
        calibrated_error(narrow, point)
    assert calibrated_error(narrow, np.full(10, 1e4), np.full(10, 1e4)) is None


@pytest.mark.parametrize("n", [6, 7, 20, 30])
def test_coalescent_sfs_matches_moments(n):
    """The expected SFS of a piecewise-constant history is 4 N / i at constant size and
    equals moments' integration of a bottleneck; its gradient in ln N_e is finite; folding
    sums i and n - i."""
    import moments

    from sfsestimators.genealogy._physics import coalescent_sfs
    from sfsestimators.spectrum import fold

    const = coalescent_sfs(torch.full((32,), np.log(1e4), dtype=torch.float64), LEFT, n)
    np.testing.assert_allclose(const, 4e4 / np.arange(1, n), rtol=1e-9)
    sizes = np.where(LEFT < 1e3, 2e4, np.where(LEFT < 2e3, 1e3, 1e4))
    log_n = torch.tensor(np.log(sizes), requires_grad=True)
    ours = coalescent_sfs(log_n, LEFT, n)
    fs = moments.Demographics1D.snm([n])  # back in time -> forwards from the oldest epoch
    for j in range(len(LEFT) - 2, -1, -1):
        fs.integrate([sizes[j] / 1e4], (LEFT[j + 1] - LEFT[j]) / 2e4)
    np.testing.assert_allclose(ours.detach(), fs.data[1:-1] * 4e4, rtol=1e-4)
    ours.sum().backward()
    assert torch.all(torch.isfinite(log_n.grad)) and float(log_n.grad.abs().sum()) > 0
    # the folding the SFS term uses (0..n with empty corners, moments' convention)
    folded = fold(torch.cat([torch.zeros(1, dtype=torch.float64), const,
                             torch.zeros(1, dtype=torch.float64)]))
    assert int(torch.count_nonzero(folded)) == n // 2
    assert float(folded.sum()) == pytest.approx(float(const.sum()))
    np.testing.assert_allclose(folded[1], 4e4 * (1 + 1 / (n - 1)))


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_smc_ne_sfs_term_reads_the_spectrum(bottleneck_data):
    """The SFS term's blocks add up to the whole data's projected SFS, its likelihood
    prefers the simulated bottleneck to a constant size, and smc_ne reports it."""
    from sfsestimators.genealogy._decoder import projected_sfs
    from sfsestimators.genealogy._smc import _block_sfs, _sfs_loglik

    history, haps = bottleneck_data
    blocks = _block_sfs([(g, pos) for g, pos, _ in haps], 8, 1e6, 4)
    whole = sum(projected_sfs(g, 8)[0][1:-1] for g, _, _ in haps)
    assert blocks.shape == (4, 7)
    np.testing.assert_allclose(blocks.sum(0), whole)
    # a recent tenfold expansion: its excess of rare alleles is what the term reads
    growth = SizeHistory(np.array([0.0, 500.0]), np.array([1e5, 5e3]))
    g, _, _ = as_genotypes(simulate(growth, 16, 2e6, mutation_rate=MU,
                                    recombination_rate=1e-8, random_state=9))
    true = torch.tensor(np.log(growth.size_at(np.r_[LEFT[1] / 2, LEFT[1:] * 1.01])))
    flat = torch.full((len(LEFT),), np.log(2e4), dtype=torch.float64)
    for folded in (False, True):
        term = _sfs_loglik(projected_sfs(g, 16)[0][1:-1], LEFT, 1.0, folded)
        assert float(term(true)) > float(term(flat)) + 10
    post = smc_ne(haps, MU, max_pairs=6, n_boot=2, n_iter=3, recombination_rate=1e-8,
                  random_state=0)
    assert post.info["sfs_weight"] == 3.0 and post.info["sfs_sites"] == pytest.approx(
        projected_sfs(np.vstack([g for g, _, _ in haps]), 8)[0][1:-1].sum())
    alone = smc_ne(haps, MU, max_pairs=6, n_boot=0, n_iter=3, recombination_rate=1e-8,
                   sfs_weight=0, random_state=0)
    assert alone.info["sfs_sites"] == 0.0 and alone.info["sfs_weight"] == 0.0
    # the fit that reads the SFS explains it better than the fit that does not
    term = _sfs_loglik(whole, LEFT, 1.0, False)
    assert float(term(torch.tensor(np.log(post.samples[0])))) > float(
        term(torch.tensor(np.log(alone.samples[0]))))
    with pytest.raises(ValueError, match="sfs_weight is nan"):
        smc_ne(haps, MU, sfs_weight=float("nan"))
    with pytest.raises(ValueError, match="sfs_weight is 'strong'"):
        smc_ne(haps, MU, sfs_weight="strong")
