"""Mainspring's composite loss and curriculum (genealogy/_curriculum.py) on real msprime data."""

import msprime
import numpy as np
import pytest
import torch

from sfsestimators import MainspringARGEstimator
from sfsestimators.genealogy import composite_loss, trees_implied_sfs, window_trees
from sfsestimators.genealogy._data import make_batch
from sfsestimators.simulate import SCENARIOS, extract_targets, simulate_item


def _one_tree_item(n=8, seed=3):
    ts = msprime.sim_ancestry(n // 2, population_size=1e4, sequence_length=1e5,
                              random_seed=seed)
    ts = msprime.sim_mutations(ts, rate=1e-8, random_seed=seed,
                               model=msprime.BinaryMutationModel())
    item = extract_targets(ts, 2e4)
    item["mutation_rate"] = 1e-8
    return ts, item


def test_trees_of_the_true_times_imply_tskits_branch_sfs():
    """UPGMA of exact pairwise times recovers the tree: its implied SFS is tskit's
    branch-mode SFS x mu, its node times the true ones; perfect predictions score a
    copying-parent accuracy of 1 and cover the node times."""
    ts, item = _one_tree_item()
    n = ts.num_samples
    iu = np.triu_indices(n, 1)
    log_t = np.log(item["tmrca"][:, iu[0], iu[1]])  # (windows, pairs)
    trees = window_trees(log_t, n)
    node_mean = torch.zeros(log_t.shape[0], n - 1, dtype=torch.float64).scatter_reduce(
        1, torch.as_tensor(trees[0]), torch.as_tensor(log_t), reduce="mean",
        include_self=False)
    np.testing.assert_allclose(np.sort(np.exp(node_mean[0].numpy())),
                               np.sort(ts.tables.nodes.time[ts.num_samples:]
                                       [:n - 1]), rtol=1e-6)
    ours = trees_implied_sfs(node_mean, trees, np.diff(item["windows"]), 1e-8).numpy()
    tskit_sfs = ts.allele_frequency_spectrum(mode="branch", polarised=True,
                                             span_normalise=False) * 1e-8
    np.testing.assert_allclose(ours[1:-1], tskit_sfs[1:-1], rtol=1e-6)
    (batch, target) = make_batch([item], 1e-8, True)
    total, parts = composite_loss(target, torch.full_like(target, -3.0), target,
                                  batch["aux"], {"time": 1, "topology": 1, "node": 1,
                                                 "sfs": 1}, tau=0.5)
    assert float(parts["parent_accuracy"]) == 1.0
    assert float(parts["node_coverage90"]) == 1.0
    assert np.isfinite(float(total))


def test_held_out_diagnostics_score_the_truth_perfectly():
    """KC distance (tskit) of the true times' trees is 0 and the coverage 1 at every time
    scale; times off by a factor e score worse on the KC distance and on N_e(t); the KC
    distance is computed on held-out batches only (no noise)."""
    item = simulate_item(11, 10, 1e6, 2e4, 1.29e-8, 1.28e-8,
                         {"max_epochs": 1, "size_range": (5e3, 2e4)})
    (batch, target) = make_batch([item], 1.29e-8, True)
    tight = torch.full_like(target, -3.0)
    _, perfect = composite_loss(target, tight, target, batch["aux"], None, noise=False)
    rng = np.random.default_rng(0)
    noisy = target + torch.as_tensor(rng.normal(0, 1.0, target.shape), dtype=target.dtype)
    _, off = composite_loss(noisy + 1.0, tight, target, batch["aux"], None, noise=False)
    assert float(perfect["kc_distance"]) == 0.0 < float(off["kc_distance"])
    assert float(perfect["ne_log10_rmse"]) < float(off["ne_log10_rmse"])
    scales = [k for k in perfect if k.startswith("tmrca_coverage90_")]
    assert scales and all(float(perfect[k]) == 1.0 for k in scales)
    _, training = composite_loss(target, tight, target, batch["aux"], None, noise=True)
    assert "kc_distance" not in training and "ne_log10_rmse" not in training


def test_curriculum_switches_phases_anneals_tau_and_records_components():
    phases = [dict(name="constant", steps=2, prior={"max_epochs": 1}, lambda_topology=0.1,
                   lambda_node=0.1, lambda_sfs=0.1),
              dict(name="robust", steps=4, prior={"max_epochs": 3}, lambda_topology=1,
                   lambda_node=1, lambda_sfs=1, rate_range=(0.5, 2),
                   scenarios=("sweep", "migration"))]
    est = MainspringARGEstimator(curriculum=phases, max_steps=999, steps_per_epoch=2,
                                 n_haplotypes=6, train_length=3e4, validation_size=1,
                                 random_state=0).fit()
    assert est.n_steps_ == 6  # the phases' steps, not max_steps
    rows = list(est.history_)
    assert [r["phase"] for r in rows] == ["constant", "robust", "robust"]
    taus = [r["tau"] for r in rows]
    assert taus[0] > taus[1] > taus[2] and taus[-1] == pytest.approx(0.05)
    for key in ("loss_time", "loss_topology", "loss_node", "loss_sfs", "parent_accuracy",
                "node_coverage90", "tmrca_coverage90", "sfs_residual", "attention_entropy",
                "valid_loss_sfs", "valid_kc_distance"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert any(k.startswith("valid_tmrca_coverage90_") for r in rows for k in r)
    assert est._dataset.source.simulation[7] == ("sweep", "migration")
    with pytest.raises(ValueError, match="curriculum"):
        MainspringARGEstimator(curriculum=[{"name": "x", "steps": 0}]).fit()
    with pytest.raises(ValueError, match="curriculum"):
        MainspringARGEstimator(curriculum="fancy").fit()


def test_robustness_scenarios_simulate():
    seen = set()
    for seed in range(16):
        item = simulate_item(seed, 6, 5e4, 1e4, 1.29e-8, 1.28e-8, {}, None, SCENARIOS)
        seen.add(item["scenario"])
        assert item["tmrca"].shape == (5, 6, 6)
    assert seen == {"coalescent", "sweep", "migration"}
    with pytest.raises(ValueError, match="scenario"):
        simulate_item(1, 6, 5e4, 1e4, 1.29e-8, 1.28e-8, {}, None, ("bogus",))


def test_training_and_ne_plots(tmp_path):
    from sfsestimators.genealogy import NE_TIME_GRID, NePosterior
    from sfsestimators.plot import plot_ne, plot_training

    est = MainspringARGEstimator(curriculum=[dict(name="a", steps=2, lambda_sfs=0.1),
                                             dict(name="b", steps=2, lambda_node=1)],
                                 steps_per_epoch=2, n_haplotypes=6, train_length=2e4,
                                 validation_size=1, random_state=0).fit()
    fig = plot_training(est, path=tmp_path / "training.png")
    assert (tmp_path / "training.png").stat().st_size > 0
    labels = [ax.get_ylabel() for ax in fig.axes]
    # every component, those of held-out batches only (KC distance) too
    assert labels[0] == "loss" and len(set(labels)) == len(labels) and {
        "loss_time", "loss_sfs", "parent_accuracy", "kc_distance"} <= set(labels)
    post = NePosterior(NE_TIME_GRID, np.full((5, len(NE_TIME_GRID) - 1), 1e4))
    plot_ne(post, truth=([1e2, 1e5], [1e4, 1e4]), generation_time=25,
            path=tmp_path / "ne.png")
    assert (tmp_path / "ne.png").stat().st_size > 0


def test_node_and_sfs_terms_train_the_node_head_not_the_pair_times():
    """With a node-time head the node and SFS terms have gradients for the head only: the
    pairwise times (the time term's) are not pulled towards the oldest pair of each node."""
    from sfsestimators.nn import NodeTimeHead

    _, item = _one_tree_item()
    (batch, target) = make_batch([item], 1e-8, True)
    mean = (target + 0.3 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0),
                                       dtype=target.dtype)).requires_grad_(True)
    head = NodeTimeHead(8).to(target.dtype)
    total, parts = composite_loss(mean, torch.full_like(target, -1.0), target, batch["aux"],
                                  {"time": 0, "topology": 0, "node": 1, "sfs": 1},
                                  node_head=head)
    total.backward()
    assert mean.grad is None or float(mean.grad.abs().sum()) == 0.0
    assert float(head.mlp[-1].weight.grad.abs().sum()) > 0
    # without a head the two terms are diagnostics: no gradient at all
    _, parts0 = composite_loss(target, torch.full_like(target, -1.0), target, batch["aux"],
                               None)
    assert np.isfinite(float(parts0["loss_node"])) and not parts0["loss_node"].requires_grad


def test_node_head_trains_on_a_frozen_backbone_and_dates_the_trees(tmp_path):
    """freeze_backbone: the curriculum trains only the node-time head (every other weight
    stays init_from's); the trees' nodes take the head's times and sds; the head survives
    save/load."""
    from sfsestimators.genealogy import tree_node_times
    from sfsestimators.simulate import SizeHistory, simulate

    base = MainspringARGEstimator.pretrained(device="cpu")
    est = MainspringARGEstimator(
        curriculum=[dict(name="c", steps=4, prior={"max_epochs": 1}, lambda_node=1,
                         lambda_sfs=0.1)], steps_per_epoch=2, n_haplotypes=6,
        train_length=3e4, init_from="small", freeze_backbone=True, lr=1e-2, device="cpu",
        random_state=0).fit()
    before, after = base.module_.state_dict(), est.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("node_"))
    head = [k for k in after if k.startswith("node_head.")]
    assert head and any(k not in before or not torch.equal(before[k], after[k]) for k in head)
    # the head reads the sample size it was trained at (6) on data of 8 haplotypes
    assert est.module_.node_head.sample_size == 6
    ts = simulate(SizeHistory([0.0], [1e4]), 8, 3e4, random_state=1)
    pred = est.predict(ts, ne_draws=0)
    dated = pred.to_tree_sequence(merge=False)
    plain = pred.to_tree_sequence(merge=False, times="median")
    iu = np.triu_indices(8, 1)
    log_t = pred.log_tmrca[:, iu[0], iu[1]].astype(float)
    sd = pred.log_tmrca_sd[:, iu[0], iu[1]].astype(float)
    with torch.no_grad():
        mean, var = tree_node_times(torch.tensor(log_t, dtype=torch.float32),
                                    torch.tensor(sd ** 2, dtype=torch.float32),
                                    window_trees(log_t, 8), est.module_.node_head)
    parent = window_trees(log_t, 8)[1]
    for w, x in enumerate(0.5 * (pred.windows[1:] + pred.windows[:-1])):
        a, b = dated.at(x, sample_lists=True), plain.at(x, sample_lists=True)
        assert a.kc_distance(b) == 0.0  # the same UPGMA topology, other node times
        # the head's median times, each parent kept older than its children
        expected = np.exp(mean[w].numpy().astype(float))
        for k in range(7):
            kids = [c - 8 for c in np.flatnonzero(parent[w] == 8 + k) if c >= 8]
            expected[k] = max([expected[k]] + [expected[c] * (1 + 1e-9) + 1e-9 for c in kids])
        times = sorted(a.time(u) for u in a.nodes() if a.is_internal(u))
        np.testing.assert_allclose(times, np.sort(expected), rtol=1e-5)
    with torch.no_grad():  # read as 8 (the data's n), the head dates the nodes otherwise
        est.module_.node_head.sample_size = None
        as_data = tree_node_times(torch.tensor(log_t, dtype=torch.float32),
                                  torch.tensor(sd ** 2, dtype=torch.float32),
                                  window_trees(log_t, 8), est.module_.node_head)[0]
        est.module_.node_head.sample_size = 6
    assert not torch.equal(as_data, mean)
    sds = np.array([dated.node(u).metadata["log_time_sd"] for u in range(8, dated.num_nodes)])
    head_sds = var.sqrt().numpy().ravel()
    assert np.all(np.abs(sds[:, None] - head_sds[None, :]).min(axis=1) < 1e-4)  # 4 decimals
    assert pred.implied_sfs(1.29e-8).sum() > 0
    est.save(tmp_path / "head.pt")
    again = MainspringARGEstimator.load(tmp_path / "head.pt", device="cpu")
    assert again.module_.node_head.sample_size == 6
    assert again.predict(ts, ne_draws=0).to_tree_sequence().tables.nodes == \
        pred.to_tree_sequence().tables.nodes
    with pytest.raises(ValueError, match="linkage_method"):
        pred.to_tree_sequence(linkage_method="single")
    with pytest.raises(ValueError, match="node-time head"):
        pred._replace(node_head=None).to_tree_sequence(times="head")
