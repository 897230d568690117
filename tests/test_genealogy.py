"""MainspringARGEstimator: training on simulations, predictions, tskit output, sklearn contract."""

import pickle

import numpy as np
import pytest
import torch
import tskit
from sklearn.base import clone

from sfsestimators import GenealogyPrediction, MainspringARGEstimator
from sfsestimators.simulate import SizeHistory, extract_targets, simulate

HISTORY = SizeHistory(np.array([0.0]), np.array([1e4]))


@pytest.fixture(scope="module")
def fitted():
    return MainspringARGEstimator(max_steps=40, train_length=1e5, n_haplotypes=8,
                                  batch_size=2, random_state=0).fit()


@pytest.fixture(scope="module")
def held_out():
    return [simulate(HISTORY, 10, 5e4, random_state=s) for s in (101, 102)]


def test_training_reduces_the_loss(fitted):
    losses = np.asarray([b["train_loss"] for row in fitted.history_ for b in row["batches"]])
    assert len(losses) == fitted.n_steps_ == 40
    assert len(fitted.history_) == -(-40 // fitted.steps_per_epoch)  # a skorch History
    assert losses[-10:].mean() < losses[:5].mean()
    assert "40 steps" in fitted.summary()


def test_beats_the_naive_estimate(fitted, held_out):
    """Better than ln((d + 1/2) / (2 mu L)) per window: the network uses its context."""
    from sfsestimators.genealogy import pair_features

    naive = []
    for ts in held_out:
        t = extract_targets(ts, fitted.window_size)
        feats, shift, pairs = pair_features(t["genotypes"], t["positions"], t["windows"],
                                            fitted.mutation_rate)
        truth = np.log(t["tmrca"][:, pairs[:, 0], pairs[:, 1]].T)
        naive.append(((feats[:, 0] + shift - truth) ** 2).ravel())
    assert fitted.score(held_out) > -np.mean(np.concatenate(naive))


def test_predict_shapes_and_tree_sequence(fitted, held_out):
    ts = held_out[0]
    pred = fitted.predict(ts)
    assert isinstance(pred, GenealogyPrediction)
    n_w = int(np.ceil(ts.sequence_length / fitted.window_size))
    assert pred.log_tmrca.shape == pred.log_tmrca_sd.shape == (n_w, 10, 10)
    np.testing.assert_allclose(pred.log_tmrca, np.transpose(pred.log_tmrca, (0, 2, 1)))
    assert np.all(pred.log_tmrca_sd[:, 0, 1:] > 0)
    np.testing.assert_allclose(pred.copying_probs.sum(axis=2), 1.0, rtol=1e-5)
    assert np.all(np.diagonal(pred.copying_probs, axis1=1, axis2=2) == 0)
    assert np.all(pred.nearest != np.arange(10)[None, :])
    out = pred.to_tree_sequence(merge=False, times="median")
    assert isinstance(out, tskit.TreeSequence)
    assert out.num_samples == 10 and out.num_trees == n_w
    tree = out.first()
    assert tree.num_roots == 1
    # the local tree's TMRCAs are the UPGMA heights of the predicted times: ultrametric,
    # and the root is as old as the largest predicted pairwise time (average linkage: between
    # the mean and the max)
    iu = np.triu_indices(10, 1)
    t_pred = np.exp(pred.log_tmrca[0][iu])
    assert t_pred.mean() <= tree.time(tree.root) <= t_pred.max() * (1 + 1e-6)
    # the same answer from the genotype matrix and positions
    same = fitted.predict((ts.genotype_matrix(), ts.tables.sites.position),
                          sequence_length=ts.sequence_length)
    np.testing.assert_allclose(same.log_tmrca, pred.log_tmrca)


def test_vcf_input(fitted, held_out, tmp_path):
    ts = held_out[0]
    path = tmp_path / "x.vcf"
    with open(path, "w") as f:
        ts.write_vcf(f, position_transform=lambda x: np.asarray(x) + 1)
    pred = fitted.predict(path, sequence_length=ts.sequence_length + 1)
    assert pred.log_tmrca.shape[1] == 10


def test_bad_input_errors(fitted, held_out):
    g = held_out[0].genotype_matrix()
    with pytest.raises(ValueError, match="no positions"):
        fitted.predict(g)
    with pytest.raises(ValueError, match="one position per site"):
        fitted.predict((g, np.arange(3.0)))
    with pytest.warns(UserWarning, match=f"Left out {len(g)} multi-allelic site"):
        with pytest.raises(ValueError, match="no segregating site"):
            fitted.predict((g * 2, held_out[0].tables.sites.position))
    with pytest.raises(ValueError, match="the value -3"):
        fitted.predict((g - 3, held_out[0].tables.sites.position))
    pos = held_out[0].tables.sites.position.copy()
    pos[3] = pos[2]
    with pytest.raises(ValueError, match="repeat 1 time"):
        fitted.predict((g, pos))
    with pytest.raises(ValueError, match="expected 0 <= position < sequence_length"):
        fitted.predict((g, held_out[0].tables.sites.position), sequence_length=10.0)
    with pytest.raises(ValueError, match="not sorted"):
        fitted.predict((g, held_out[0].tables.sites.position[::-1]))
    few = MainspringARGEstimator(max_haplotypes=6)
    few.net_ = fitted.net_
    with pytest.raises(ValueError, match="at most max_haplotypes=6"):
        few.predict(held_out[0])
    with pytest.raises(ValueError, match="n_haplotypes is 7"):
        MainspringARGEstimator(n_haplotypes=7).fit()
    with pytest.raises(ValueError, match="preset is 'huge'"):
        MainspringARGEstimator(preset="huge").fit()


def test_sklearn_contract_clone_pickle_partial_fit(fitted, held_out):
    params = fitted.get_params()
    assert params["preset"] == "small" and clone(fitted).get_params() == params
    assert not hasattr(clone(fitted), "module_")
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(held_out[0]).log_tmrca,
                                  fitted.predict(held_out[0]).log_tmrca)
    again.partial_fit(held_out, steps=3)  # continues on given tree sequences
    assert again.n_steps_ == fitted.n_steps_ + 3
    # seeded: the same random_state trains the same network
    a = MainspringARGEstimator(max_steps=2, train_length=2e4, n_haplotypes=4,
                               random_state=5).fit()
    b = MainspringARGEstimator(max_steps=2, train_length=2e4, n_haplotypes=4,
                               random_state=5).fit()
    assert a.history_[:, "train_loss"] == b.history_[:, "train_loss"]


def test_save_load_roundtrip(fitted, held_out, tmp_path):
    path = tmp_path / "m.pt"
    fitted.save(path)
    again = MainspringARGEstimator.load(path, device="cpu")
    assert again.get_params()["window_size"] == fitted.window_size
    np.testing.assert_allclose(again.predict(held_out[0]).log_tmrca,
                               fitted.predict(held_out[0]).log_tmrca, rtol=1e-6)
    assert again.n_steps_ == fitted.n_steps_
    with pytest.raises(ValueError, match="preset is 'base'; expected one of"):
        MainspringARGEstimator.pretrained("base")


def test_triplet_features_by_brute_force(held_out):
    from sfsestimators.genealogy import pair_features

    ts = held_out[0]
    t = extract_targets(ts, 1e4)
    feats, shift, pairs = pair_features(t["genotypes"], t["positions"], t["windows"], 1e-8,
                                        triplet=True)
    assert feats.shape == (45, 6, 5)
    n = 10
    L = np.zeros((5, n, n))
    L[:, pairs[:, 0], pairs[:, 1]] = L[:, pairs[:, 1], pairs[:, 0]] = (feats[:, 0] + shift).T
    for p, (i, j) in enumerate(pairs[:7]):
        others = [k for k in range(n) if k not in (i, j)]
        bound = np.min(np.maximum(L[:, i, others], L[:, j, others]), axis=1)
        spread = np.mean(np.abs(L[:, i, others] - L[:, j, others]), axis=1)
        np.testing.assert_allclose(feats[p, 4] + shift, bound, rtol=1e-5)
        np.testing.assert_allclose(feats[p, 5], spread, rtol=1e-5, atol=1e-6)


def test_triplet_channels_over_a_subset_of_others(held_out):
    """``others=k``: each pair reads exactly k other haplotypes (never itself), the same
    ones whatever else is asked for and in whichever order the pair is given; with
    k >= n - 2 all of them, as before."""
    from sfsestimators.genealogy import features_for_pairs, window_divergence

    t = extract_targets(held_out[0], 1e4)
    div = window_divergence(t["genotypes"], t["positions"], t["windows"], 1e-8)
    pairs = np.stack(np.triu_indices(10, 1), axis=1)
    full = features_for_pairs(div, pairs, True)
    np.testing.assert_array_equal(features_for_pairs(div, pairs, True, others=8), full)
    sub = features_for_pairs(div, pairs, True, others=3)
    np.testing.assert_array_equal(sub[:, :4], full[:, :4])  # the pair's own channels
    # the same rows for a pair asked alone, in small chunks
    np.testing.assert_array_equal(
        features_for_pairs(div, pairs[[7, 30]], True, others=3, max_elements=5), sub[[7, 30]])
    np.testing.assert_array_equal(
        features_for_pairs(div, pairs[:, ::-1].astype(np.uint64), True, others=3), sub)
    L = div.local
    from itertools import combinations

    for p, (i, j) in enumerate(pairs):  # some set of 3 others gives both channels
        ks = [k for k in range(10) if k not in (i, j)]
        assert any(
            np.allclose(sub[p, 4] + div.shift,
                        np.min(np.maximum(L[:, i, S], L[:, j, S]), axis=1), rtol=1e-5)
            and np.allclose(sub[p, 5], np.mean(np.abs(L[:, i, S] - L[:, j, S]), axis=1),
                            rtol=1e-5, atol=1e-6)
            for S in map(list, combinations(ks, 3)))
    assert not np.allclose(sub[:, 5], full[:, 5])


def _tiny(**kw):
    return MainspringARGEstimator(**{**dict(max_steps=8, steps_per_epoch=2, train_length=2e4,
                                            n_haplotypes=4, random_state=3), **kw})


def test_checkpoint_resumes_exactly_where_it_stopped(tmp_path):
    """A run stopped after 4 steps and resumed to 8 from its checkpoint (weights, optimiser
    state, history) trains exactly as an uninterrupted run of 8 steps."""
    whole = _tiny().fit()
    _tiny(max_steps=4, checkpoint_dir=tmp_path).fit()
    resumed = _tiny(checkpoint_dir=tmp_path).fit()
    assert resumed.n_steps_ == whole.n_steps_ == 8
    np.testing.assert_allclose(resumed.history_[:, "train_loss"],
                               whole.history_[:, "train_loss"], rtol=1e-6)
    for p, q in zip(resumed.module_.parameters(), whole.module_.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-7)
    # a finished run is loaded, not trained again
    again = _tiny(checkpoint_dir=tmp_path).fit()
    assert again.n_steps_ == 8 and len(again.history_) == 4


def test_held_out_simulations_and_early_stopping():
    est = _tiny(max_steps=6, validation_size=2, patience=1, lr_schedule="cosine").fit()
    valid = est.history_[:, "valid_loss"]
    assert len(valid) >= 2 and np.all(np.isfinite(valid))
    lrs = est.history_[:, "event_lr"]
    assert lrs[0] == pytest.approx(est.lr) and lrs[-1] < lrs[0]  # the cosine schedule
    with pytest.raises(ValueError, match="validation_size is 0"):
        _tiny(patience=2).fit()
    with pytest.raises(ValueError, match="lr_schedule is 'step'"):
        _tiny(lr_schedule="step").fit()


def test_shipped_checkpoint_and_corrupted_files(tmp_path):
    from sfsestimators.pretrained import MAINSPRING_WEIGHTS

    shipped = MainspringARGEstimator.pretrained(device="cpu")
    # 5,400 steps of the network, then 1,200 of its node-time head through phases 1-3
    assert shipped.n_steps_ == 6600 and shipped.features == "triplet"
    assert shipped.module_.node_head is not None and shipped.freeze_backbone
    assert list(dict.fromkeys(row["phase"] for row in shipped.history_)) == [
        "constant", "1-2 changes", "full prior"]
    assert shipped.checkpoint_dir is None
    path = tmp_path / "copy.pt"
    shipped.save(path)
    again = MainspringARGEstimator.load(path, device="cpu")
    assert again.n_steps_ == 6600 and len(again.history_) == len(shipped.history_)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(open(MAINSPRING_WEIGHTS, "rb").read()[:5000])  # a truncated copy
    with pytest.raises(ValueError, match="not a readable MainspringARGEstimator file"):
        MainspringARGEstimator.load(bad)
    from sfsestimators.pretrained import DEFAULT_WEIGHTS

    with pytest.raises(ValueError, match="expected a MainspringARGEstimator file"):
        MainspringARGEstimator.load(DEFAULT_WEIGHTS)


def test_missing_and_multiallelic_sites_are_counted_never_nan(fitted, held_out):
    """Missing genotypes are compared pair by pair on the called sites, multi-allelic sites
    left out; both are warned about with counts, and the output stays finite and close to
    the complete data's."""
    import msprime

    ts = held_out[0]
    full = fitted.predict(ts).log_tmrca
    g = ts.genotype_matrix().astype(np.int64)
    rng = np.random.default_rng(0)
    holes = rng.random(g.shape) < 0.05
    g[holes] = -1
    with pytest.warns(UserWarning, match=f"{int(holes.sum())} of {g.size} genotypes"):
        pred = fitted.predict((g, ts.tables.sites.position), sequence_length=ts.sequence_length)
    assert np.all(np.isfinite(pred.log_tmrca)) and np.all(np.isfinite(pred.log_tmrca_sd))
    iu = np.triu_indices(10, 1)
    assert np.mean((pred.log_tmrca[:, iu[0], iu[1]] - full[:, iu[0], iu[1]]) ** 2) < 0.05
    # a tree sequence with multi-allelic sites (an infinite-alleles-free model, many hits)
    multi = msprime.sim_mutations(ts.delete_sites(np.arange(ts.num_sites)), rate=2e-7,
                                  model=msprime.JC69(), random_seed=4, discrete_genome=True)
    n_multi = sum(len(set(v.alleles) - {None}) > 2 for v in multi.variants())
    assert n_multi > 0
    with pytest.warns(UserWarning, match=f"Left out {n_multi} multi-allelic site"):
        pred = fitted.predict(multi)
    assert np.all(np.isfinite(pred.log_tmrca))
    # missing data in a tree sequence: a sample with no genealogy over a region
    tables = ts.dump_tables()
    tables.edges.truncate(0)
    for e in ts.edges():
        if not (e.child == 0 and e.left < ts.sequence_length / 2):
            tables.edges.append(e)
    tables.sort()
    with pytest.warns(UserWarning, match="genotypes of the tree sequence are missing"):
        pred = fitted.predict(tables.tree_sequence())
    assert np.all(np.isfinite(pred.log_tmrca))


def test_rates_pairs_and_chunks_at_predict(fitted, held_out):
    """The mutation rate at predict scales the reading (a rate twice as high halves the
    times, to first order); a subset of pairs gives those pairs' predictions; the chunking
    does not change the answer."""
    ts = held_out[0]
    full = fitted.predict(ts)
    chunked = fitted.predict(ts, batch_pairs=7)
    np.testing.assert_allclose(chunked.log_tmrca, full.log_tmrca, rtol=1e-5, atol=1e-5)
    pairs = np.array([[0, 1], [2, 9], [4, 5]])
    sub = fitted.predict(ts, pairs=pairs)
    np.testing.assert_allclose(sub.log_tmrca, full.log_tmrca[:, pairs[:, 0], pairs[:, 1]],
                               rtol=1e-5, atol=1e-5)
    doubled = fitted.predict(ts, mutation_rate=2 * fitted.mutation_rate)
    iu = np.triu_indices(10, 1)
    shift = np.mean(full.log_tmrca[:, iu[0], iu[1]] - doubled.log_tmrca[:, iu[0], iu[1]])
    assert 0.5 * np.log(2) < shift < 1.5 * np.log(2)
    with pytest.warns(UserWarning, match="more than 4x away"):
        fitted.predict(ts, recombination_rate=fitted.recombination_rate * 10)
    with pytest.raises(ValueError, match="mutation_rate is -1"):
        fitted.predict(ts, mutation_rate=-1)
    with pytest.raises(ValueError, match="pairs of two different haplotypes"):
        fitted.predict(ts, pairs=np.array([[0, 0]]))
    with pytest.raises(ValueError, match="batch_pairs is 0"):
        fitted.predict(ts, batch_pairs=0)


def test_merged_tree_sequence_shares_nodes_across_windows(fitted, held_out):
    """Subtrees that persist between windows are one node whose edges span them: fewer
    nodes than window-by-window trees, the same trees at every position, a valid tree
    sequence that tskit statistics accept."""
    pred = fitted.predict(held_out[0])
    merged = pred.to_tree_sequence()
    separate = pred.to_tree_sequence(merge=False)
    assert merged.num_nodes < separate.num_nodes and merged.num_edges < separate.num_edges
    mids = 0.5 * (pred.windows[1:] + pred.windows[:-1])
    for x in mids:
        a = merged.at(x, sample_lists=True)
        b = separate.at(x, sample_lists=True)
        assert a.num_roots == 1 and a.kc_distance(b) == 0.0  # same topology
        for node in a.nodes():
            if a.parent(node) != -1:
                assert a.time(a.parent(node)) > a.time(node)
    merged.tables.tree_sequence()  # tskit validates the tables
    assert merged.diversity(mode="branch") > 0
    assert merged.genealogical_nearest_neighbours([0, 1], [[2, 3, 4], [5, 6, 7]]).shape == (
        2, 2)
    # per-node uncertainty: the predicted sd of ln time of the pairs each node joins
    internal = [merged.node(u) for u in range(merged.num_nodes) if not merged.node(u).is_sample()]
    sds = np.array([node.metadata["log_time_sd"] for node in internal])
    spans = np.array([node.metadata["windows"] for node in internal])
    assert np.all(np.isfinite(sds) & (sds > 0)) and spans.max() > 1
    root = merged.first().root
    iu = np.triu_indices(10, 1)
    pairs = pred.log_tmrca_sd[:, iu[0], iu[1]]
    assert pairs.min() <= merged.node(root).metadata["log_time_sd"] <= pairs.max()


def test_monomorphic_sites_change_nothing(fitted, held_out):
    """Sites fixed among the given haplotypes (a subset of a sample, a VCF's fixed sites)
    are not segregating: the predictions are those without them (they once inflated the
    segregating-site channel and biased N_e(t) of subsets by 0.1 log10 units)."""
    ts = held_out[0]
    g = ts.genotype_matrix()
    pos = ts.tables.sites.position
    extra = np.array([1234.5, 20000.5, 44444.5])
    g2 = np.vstack([g, np.zeros((1, 10), dtype=g.dtype), np.ones((2, 10), dtype=g.dtype)])
    pos2 = np.concatenate([pos, extra])
    order = np.argsort(pos2)
    a = fitted.predict((g, pos), sequence_length=ts.sequence_length, ne_draws=0,
                       precision="float32")
    b = fitted.predict((g2[order], pos2[order]), sequence_length=ts.sequence_length,
                       ne_draws=0, precision="float32")
    np.testing.assert_array_equal(a.log_tmrca, b.log_tmrca)


def test_bfloat16_predictions_agree_with_float32(fitted, held_out):
    """The faster arithmetic moves ln TMRCA by a little, nothing else changes; a wrong
    precision is refused by name."""
    exact = fitted.predict(held_out[0], precision="float32", ne_draws=0)
    fast = fitted.predict(held_out[0], precision="bfloat16", ne_draws=0)
    iu = np.triu_indices(10, 1)
    diff = np.abs(fast.log_tmrca - exact.log_tmrca)[:, iu[0], iu[1]]
    assert 0 < diff.max() < 0.1
    with pytest.raises(ValueError, match="precision is 'half'; expected 'auto'"):
        fitted.predict(held_out[0], precision="half")


@pytest.mark.parametrize("avx512_bf16,amx,expected", [
    (True, False, "bfloat16"), (False, True, "bfloat16"), (False, False, "float32"),
    (AttributeError, False, "float32")])
def test_auto_precision_follows_the_cpu(fitted, monkeypatch, avx512_bf16, amx, expected):
    """"auto" is bfloat16 only where the CPU has it natively (or float32 when torch cannot
    say)."""
    def flag(value):
        def probe():
            if value is AttributeError:
                raise AttributeError("no such probe in this torch build")
            return value
        return probe

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", flag(avx512_bf16))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", flag(amx))
    assert fitted._precision("auto") == expected


def test_true_closest_are_the_leaves_under_the_parent():
    """On a window with one tree: i's closest relatives are the other leaves below its
    parent node in the tskit tree (a sibling clade: all of them)."""
    from sfsestimators.genealogy import true_closest

    ts = simulate(HISTORY, 12, 2e4, recombination_rate=0.0, random_state=5)
    closest = true_closest(extract_targets(ts, 2e4)["tmrca"])[0]
    tree = ts.first()
    for i in range(12):
        under = set(tree.samples(tree.parent(i))) - {i}
        assert set(np.flatnonzero(closest[i])) == under
    assert (closest.sum(axis=1) > 1).any()  # some ties, all counted


def test_copying_candidates_are_the_closest_by_time():
    """The head scores each haplotype's k closest relatives by the predicted times, closest
    first, never itself; their features equal the full-matrix definitions."""
    from sfsestimators.genealogy import candidates, copying_features

    rng = np.random.default_rng(0)
    log_t = rng.normal(size=(6, 7, 7)).astype(np.float32)
    log_t = (log_t + log_t.transpose(0, 2, 1)) / 2
    idx = candidates(log_t, 3)
    for w in range(6):
        for i in range(7):
            others = [j for j in np.argsort(log_t[w, i]) if j != i]
            assert list(idx[w, i]) == others[:3]
    assert candidates(log_t, 50).shape == (6, 7, 6)  # at most n - 1
    local = rng.normal(size=(6, 7, 7)).astype(np.float32)
    counts = rng.poisson(0.3, size=(6, 7, 7)).astype(np.float32)
    feats, idx2 = copying_features(log_t, np.full_like(log_t, 0.5), local, np.ones(6),
                                   counts, counts, k=3)
    np.testing.assert_array_equal(idx2, idx)
    off = ~np.eye(7, dtype=bool)[None]
    for f, x in ((0, log_t), (9, local)):  # gaps to the row minimum over all others
        full = x - np.where(off, x, np.inf).min(axis=2, keepdims=True)
        np.testing.assert_allclose(feats[..., f], np.take_along_axis(full, idx, 2),
                                   rtol=1e-6)
    np.testing.assert_allclose(feats[..., 4], np.log1p(np.take_along_axis(counts, idx, 2)))
    assert np.all(feats[..., 0, 0] == 0) and np.all(feats[..., 0, 11] <= 0)  # the closest
    np.testing.assert_allclose(feats[..., 1:, 11], feats[..., 1:, 0])  # the others: own gap


def test_copying_head_trains_predicts_and_persists(fitted, held_out, tmp_path, monkeypatch):
    """The head trains on simulations through the frozen network (its validation loss
    falls), gives each haplotype a distribution over the others, drives ``nearest``, and
    survives save/load and pickling; partial_fit drops it with a warning."""
    est = pickle.loads(pickle.dumps(fitted))
    before = [p.detach().clone() for p in est.module_.parameters()]
    est.fit_copying_head(6, n_haplotypes=(8, 10), length=4e4, max_epochs=8, random_state=1)
    for a, b in zip(before, est.module_.parameters()):
        assert torch.equal(a, b)  # the pair network is frozen
    hist = est.copying_head_history_
    assert len(hist) == 8 and min(h["valid_loss"] for h in hist) < hist[0]["valid_loss"]
    pred = est.predict(held_out[0])
    probs = pred.copying_probs
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, rtol=1e-5)
    assert np.all(probs[:, np.arange(10), np.arange(10)] == 0)
    np.testing.assert_array_equal(pred.nearest, probs.argmax(axis=2))
    plain = fitted.predict(held_out[0])
    assert not np.allclose(plain.copying_probs, probs)  # the head, not the times' softmax
    np.testing.assert_array_equal(plain.log_tmrca, pred.log_tmrca)
    assert "copying-parent head" in est.summary()
    est.save(tmp_path / "head.pt")
    again = MainspringARGEstimator.load(tmp_path / "head.pt", device="cpu")
    np.testing.assert_allclose(again.predict(held_out[0]).copying_probs, probs, atol=1e-6)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(est)).predict(
        held_out[0]).copying_probs, probs, atol=1e-6)
    # in blocks of a few windows (each with its context) as in one block
    from sfsestimators.genealogy import window_divergence

    t = extract_targets(held_out[0], est.window_size)
    div = window_divergence(t["genotypes"], t["positions"], t["windows"], est.mutation_rate)
    args = (t["genotypes"], t["positions"], t["windows"], div.local, div.log_seg,
            pred.log_tmrca, pred.log_tmrca_sd)
    whole = est._copying_probs(*args)
    np.testing.assert_allclose(whole, probs, atol=1e-6)
    np.testing.assert_allclose(est._copying_probs(*args, max_elements=3 * 100 * 32), whole,
                               atol=1e-6)
    # bfloat16 convolutions move the parents little (the output map stays float32)
    fast = est.predict(held_out[0], precision="bfloat16")
    assert np.mean(fast.nearest == est.predict(held_out[0], precision="float32").nearest) > 0.9
    import sfsestimators.genealogy._copying as copying

    with monkeypatch.context() as m:  # a file from a version whose head read other features
        m.setattr(copying, "N_COPY_FEATURES", 13)
        with pytest.warns(UserWarning, match="head reads 12 features; this version reads 13"):
            old = MainspringARGEstimator.load(tmp_path / "head.pt", device="cpu")
        assert old.copying_head_ is None
    with pytest.warns(UserWarning, match="copying_head_ reads: it is dropped"):
        est.partial_fit(steps=1)
    assert est.copying_head_ is None and est.copying_head_history_ == []
    with pytest.raises(ValueError, match="n_simulations is 1; expected at least 2"):
        est.fit_copying_head(1)


def test_presets_cache_and_adapters(tmp_path, monkeypatch, held_out):
    """Every named preset builds with one command into the cache directory and loads by
    name; the adapter preset trains only its adapters (the backbone's weights unchanged)."""
    from sfsestimators.cli import main

    monkeypatch.setenv("SFSESTIMATORS_CACHE", str(tmp_path))
    table = MainspringARGEstimator.available()
    assert table["small"] is not None and table["narrow"] is None
    with pytest.raises(FileNotFoundError, match="train-genealogy --preset narrow"):
        MainspringARGEstimator.pretrained("narrow")
    small = MainspringARGEstimator.pretrained("small", device="cpu")
    for name in ("narrow", "broad_w500"):
        assert main(["train-genealogy", "--preset", name, "--steps", "2", "--chunk", "1",
                     "--quiet"]) == 0
        est = MainspringARGEstimator.pretrained(name, device="cpu")
        assert est.n_steps_ == 2
        assert est.predict(held_out[0]).log_tmrca.shape[1] == 10
    adapted = MainspringARGEstimator.pretrained("broad_w500", device="cpu")
    assert adapted.window_size == 500.0 and adapted.adapter == 8
    base = dict(small.module_.named_parameters())
    changed = False
    for name, param in adapted.module_.named_parameters():
        if name.startswith("adapters."):
            changed |= bool(param.detach().abs().sum() > 0) and name.endswith("up.weight")
        else:  # the frozen backbone is the small preset's, unchanged
            np.testing.assert_array_equal(param.detach().numpy(), base[name].detach().numpy())
    assert changed  # the adapters learnt (their up-projections started at zero)
    assert MainspringARGEstimator.available()["narrow"] == str(tmp_path / "mainspring" /
                                                               "narrow.pt")


def test_accessibility_mask_from_bed(fitted, held_out, tmp_path):
    """Sites in an inaccessible stretch are absent from real data: without the mask the
    windows there read as young (no differences); with it their divergence is per
    accessible bp, the dark windows take each pair's sequence-wide estimate, both counted."""
    from sfsestimators.io import read_bed

    ts = held_out[0]
    L = ts.sequence_length
    hole = (0.3 * L, 0.6 * L)
    keep = ~((ts.tables.sites.position >= hole[0]) & (ts.tables.sites.position < hole[1]))
    g, pos = ts.genotype_matrix()[keep], ts.tables.sites.position[keep]
    bed = tmp_path / "mask.bed"
    bed.write_text(f"track name=acc\nchr1\t0\t{int(hole[0])}\nchr1\t{int(hole[1])}\t{int(L)}\n")
    np.testing.assert_array_equal(read_bed(bed), [[0, hole[0]], [hole[1], L]])
    with pytest.warns(UserWarning, match="windows are \\(almost\\) inaccessible"):
        masked = fitted.predict((g, pos), sequence_length=L, accessible=bed)
    unmasked = fitted.predict((g, pos), sequence_length=L)
    truth = np.log(np.maximum(extract_targets(ts, fitted.window_size)["tmrca"], 1e-3))
    iu = np.triu_indices(10, 1)
    w = masked.windows
    affected = (w[1:] > hole[0]) & (w[:-1] < hole[1])
    assert affected.any() and np.all(np.isfinite(masked.log_tmrca))

    def mse(pred):
        return np.mean((pred.log_tmrca[affected][:, iu[0], iu[1]]
                        - truth[affected][:, iu[0], iu[1]]) ** 2)

    assert mse(masked) < 0.5 * mse(unmasked)
    # sites outside the intervals are left out, with a count
    with pytest.warns(UserWarning, match=f"Left out {int((~keep).sum())} of {len(keep)} sites"):
        fitted.predict(ts, accessible=[[0, hole[0]], [hole[1], L]])
    with pytest.raises(ValueError, match="expected 'chrom start end'"):
        bed.write_text("chr1\t0\n")
        read_bed(bed)
    with pytest.raises(ValueError, match="pass chrom= to pick one"):
        bed.write_text("chr1\t0\t10\nchr2\t0\t10\n")
        fitted.predict(ts, accessible=bed)
    with pytest.raises(ValueError, match="accessible intervals overlap"):
        fitted.predict(ts, accessible=[[0, 10], [5, 20]])


def test_training_over_a_prior_of_rates():
    """rate_range draws each simulation's mutation and recombination rates, and the network
    reads each at its own rate; a bad range is a clear error."""
    from sfsestimators.genealogy._data import _Source

    source = _Source((8, 2e4, 2000.0, 1e-8, 1e-8, {}, (0.25, 4.0)))
    rates = np.array([item["mutation_rate"] for item in source.items([0, 1], 6)])
    assert np.all((rates >= 0.25e-8) & (rates <= 4e-8)) and len(set(rates)) == 6
    nominal = _Source((8, 2e4, 2000.0, 1e-8, 1e-8, {}, None)).items([0, 1], 2)
    assert [item["mutation_rate"] for item in nominal] == [1e-8, 1e-8]
    est = _tiny(rate_range=(0.5, 2.0)).fit()
    losses = [b["train_loss"] for row in est.history_ for b in row["batches"]]
    assert np.all(np.isfinite(losses))
    with pytest.raises(ValueError, match="rate_range is \\(2, 1\\); expected None or"):
        _tiny(rate_range=(2, 1)).fit()


def test_wmissing_bitmask_channels_train_on_a_frozen_backbone():
    """The wmissing stage: two bitmask channels through their own input map (zero at
    first: the backbone's answers are unchanged), trained with the adapters on masked
    simulations while the backbone's weights stay exactly as they were."""
    import torch

    from sfsestimators.genealogy import features_for_pairs, window_divergence
    from sfsestimators.genealogy._data import mask_item
    from sfsestimators.simulate import SizeHistory, extract_targets, simulate

    base = MainspringARGEstimator.pretrained(device="cpu")
    est = MainspringARGEstimator(missing_mask=True, adapter=4, init_from="small",
                                 max_steps=4, steps_per_epoch=2, n_haplotypes=8,
                                 train_length=1e5, random_state=0).fit()
    trained, frozen = est.module_.state_dict(), base.module_.state_dict()
    assert all(torch.equal(trained[k], frozen[k]) for k in frozen if k in trained)
    assert set(frozen) - set(trained) == {k for k in frozen if k.startswith("node_head.")}
    assert float(est.module_.mask_in.weight.abs().sum()) > 0
    item = extract_targets(simulate(SizeHistory([0.0], [1e4]), 8, 1e5, random_state=5), 2000.0)
    masked = mask_item(item, np.random.RandomState(2), hole_rate=3.0)
    assert len(masked["positions"]) <= len(item["positions"])
    assert np.all(masked["accessible"] <= 2000.0) and masked["accessible"].min() < 2000.0
    div = window_divergence(masked["genotypes"], masked["positions"], item["windows"],
                            1.29e-8, masked["accessible"])
    feats = features_for_pairs(div, np.array([[0, 1], [2, 3]]), True, mask=True)
    assert feats.shape == (2, 8, 50)
    lacking = (masked["genotypes"] < 0).any()
    assert (feats[:, 6].max() > 0) == bool(lacking) and feats[:, 7].max() > 0
    g = masked["genotypes"]
    pred = est.predict((g, masked["positions"]), sequence_length=1e5, ne_draws=0)
    assert np.all(np.isfinite(pred.log_tmrca))
