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
