"""Pairwise TMRCA accuracy: MainspringARGEstimator vs tsinfer + tsdate, on held-out simulations.

Run: python benchmarks/genealogy_accuracy.py [--weights bench_out/mainspring/small.pt]
         [--length 1e6] [--n-diploids 25] [--seed 12345]

Needs the `benchmark` extra (tsinfer, tsdate). Three held-out histories, never used in
training (the training seeds come from SimulationStream, these from --seed): (a) constant
Ne = 2e4; (b) a sawtooth, Ne alternating 2e4 / 4e3 every 4,000 generations; (c) a
bottleneck, 2e4 -> 1e3 between 2,000 and 2,500 generations ago -> 2e4. 25 diploids x 1 Mb,
mu = 1.29e-8, r = 1.28e-8, 2 kb windows, all pairs. For each: MSE of ln window-mean pairwise
TMRCA, the median over pairs of the Pearson r along the sequence, the coverage of our 90 %
intervals (tsdate gives no pairwise intervals: n/a), and wall time, side by side.
Target: better than tsinfer + tsdate on all three, and MSE <= 0.30 on (a).

A second table scores the tree sequences themselves against the true one with tskit: our
`predict(ts).to_tree_sequence()` (merged windows; node times from the node-time head when the
estimator has one, and beside it `times="mean"`, the UPGMA heights without it) and tsinfer +
tsdate's: the KC distance (topology, lambda 0, `TreeSequence.kc_distance`), the MSE of ln
pairwise TMRCA read from the output trees (branch divergence / 2 per window), the mean ratio
of the root height to the true one, the MSE of ln node time against the true time of the
same leaf set (its MRCA in the true tree, at window midpoints), the 90 % coverage of the
nodes' `log_time_sd`, and the SFS residual: sum |implied - observed| / sum observed, the
implied SFS the output trees' branch-mode SFS x mu (the physics regulariser's quantity).
"""

import argparse
import os
import time

import numpy as np

from sfsestimators import MainspringARGEstimator
from sfsestimators.genealogy import true_closest
from sfsestimators.pretrained import MAINSPRING_WEIGHTS
from sfsestimators.simulate import SizeHistory, extract_targets, simulate

MU, RHO, WINDOW = 1.29e-8, 1.28e-8, 2000.0
CASES = {
    "(a) constant 2e4": SizeHistory(np.array([0.0]), np.array([2e4])),
    "(b) sawtooth 2e4/4e3": SizeHistory(np.arange(0.0, 4e4, 4e3),
                                        np.array([2e4, 4e3] * 5)),
    "(c) bottleneck": SizeHistory(np.array([0.0, 2000.0, 2500.0]), np.array([2e4, 1e3, 2e4])),
}


def scores(log_pred, log_true, sd=None):
    """MSE, median per-pair Pearson r, 90 % coverage; arrays (windows, pairs)."""
    mse = float(np.mean((log_pred - log_true) ** 2))
    r = []
    for j in range(log_true.shape[1]):
        a, b = log_pred[:, j], log_true[:, j]
        if a.std() > 0 and b.std() > 0:
            r.append(np.corrcoef(a, b)[0, 1])
    cover = (float(np.mean(np.abs(log_pred - log_true) <= 1.645 * sd)) if sd is not None
             else float("nan"))
    return mse, float(np.median(r)), cover


def tree_scores(inferred, ts, truth, iu, log_true):
    """KC distance to the true trees, MSE of ln pairwise TMRCA from the trees, root ratio,
    node-time MSE and 90 % coverage, SFS residual."""
    times = inferred.divergence_matrix(windows=truth["windows"], mode="branch") / 2
    mse = float(np.mean((np.log(np.maximum(times[:, iu[0], iu[1]], 1.0)) - log_true) ** 2))
    mids = 0.5 * (truth["windows"][1:] + truth["windows"][:-1])
    ratio, kc, node_err, covered = [], [], [], []
    sd_of = [(m or {}).get("log_time_sd") if isinstance(m, dict) else None
             for m in (node.metadata for node in inferred.nodes())]
    for x in mids:  # at every window's midpoint (tsinfer's trees may have several roots)
        t_true = ts.at(x, sample_lists=True)
        t_inf = inferred.at(x, sample_lists=True)
        if t_inf.num_roots == 1:
            ratio.append(t_inf.time(t_inf.root) / max(t_true.time(t_true.root), 1e-9))
            kc.append(t_true.kc_distance(t_inf, lambda_=0.0))
        for u in t_inf.nodes():
            if t_inf.is_sample(u) or t_inf.num_samples(u) < 2 or t_inf.time(u) <= 0:
                continue
            true = t_true.time(t_true.mrca(*t_inf.samples(u)))
            err = np.log(t_inf.time(u)) - np.log(true)
            node_err.append(err)
            if sd_of[u] is not None:
                covered.append(abs(err) <= 1.645 * sd_of[u])
    implied = inferred.allele_frequency_spectrum(mode="branch", span_normalise=False,
                                                 polarised=True) * MU
    observed = ts.allele_frequency_spectrum(mode="site", span_normalise=False, polarised=True)
    residual = float(np.abs(implied - observed)[1:-1].sum() / observed[1:-1].sum())
    return (float(np.mean(kc)) if kc else float("nan"), mse,
            float(np.mean(ratio)) if ratio else float("nan"), float(np.mean(np.square(node_err))),
            float(np.mean(covered)) if covered else float("nan"), residual)


def closest_by(tmrca):
    """Each haplotype's closest relative by these pairwise times (ties: the lower index)."""
    t = np.array(tmrca, dtype=float)
    diag = np.arange(t.shape[1])
    t[:, diag, diag] = np.inf
    return t.argmin(axis=2)


def parent_accuracy(picked, closest):
    """Fraction of (window, haplotype) whose picked parent is one of its true copying
    parents (``closest``: the equally closest relatives by the true window-mean TMRCAs; a
    sibling clade of several haplotypes makes them all correct)."""
    return float(np.mean(np.take_along_axis(closest, picked[..., None], axis=2)))


def tsinfer_tsdate(ts):
    import tsdate
    import tsinfer

    sample_data = tsinfer.SampleData.from_tree_sequence(ts)
    inferred = tsinfer.infer(sample_data, recombination_rate=RHO)
    dated = tsdate.date(tsdate.preprocess_ts(inferred), mutation_rate=MU)
    return dated


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None,
                        help="a MainspringARGEstimator file written by save() (default: the "
                        "shipped preset, else train a quick one)")
    parser.add_argument("--length", type=float, default=1e6)
    parser.add_argument("--n-diploids", type=int, default=25)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--train-steps", type=int, default=300)
    args = parser.parse_args()
    if args.weights:
        est = MainspringARGEstimator.load(args.weights, device="cpu")
    elif os.path.exists(MAINSPRING_WEIGHTS):
        est = MainspringARGEstimator.pretrained(device="cpu")
    else:
        t0 = time.perf_counter()
        est = MainspringARGEstimator(max_steps=args.train_steps, random_state=0,
                                     mutation_rate=MU, recombination_rate=RHO).fit()
        print(f"trained {est.n_steps_} steps in {time.perf_counter() - t0:.0f} s")
    print(est.summary())
    # warm-up: tsdate compiles its numba kernels on first use (~80 s here), not timed
    tsinfer_tsdate(simulate(CASES["(a) constant 2e4"], 10, 5e4, mutation_rate=MU,
                            recombination_rate=RHO, random_state=1))
    rows, trees = [], []
    for i, (name, history) in enumerate(CASES.items()):
        ts = simulate(history, 2 * args.n_diploids, args.length, mutation_rate=MU,
                      recombination_rate=RHO, random_state=args.seed + i)
        truth = extract_targets(ts, WINDOW)
        closest = true_closest(truth["tmrca"])
        iu = np.triu_indices(ts.num_samples, 1)
        log_true = np.log(truth["tmrca"][:, iu[0], iu[1]])
        t0 = time.perf_counter()
        pred = est.predict(ts)
        t_ours = time.perf_counter() - t0
        ours = scores(pred.log_tmrca[:, iu[0], iu[1]], log_true,
                      pred.log_tmrca_sd[:, iu[0], iu[1]])
        t0 = time.perf_counter()
        dated = tsinfer_tsdate(ts)
        t_theirs = time.perf_counter() - t0
        inferred = dated.divergence_matrix(windows=truth["windows"], mode="branch") / 2
        log_inf = np.log(np.maximum(inferred[:, iu[0], iu[1]], 1.0))
        theirs = scores(log_inf, log_true)
        rows.append((name, ts.num_sites, ours, t_ours, theirs, t_theirs,
                     parent_accuracy(pred.nearest, closest),
                     parent_accuracy(closest_by(pred.log_tmrca), closest),
                     parent_accuracy(closest_by(inferred), closest)))
        trees.append((name, tree_scores(pred.to_tree_sequence(), ts, truth, iu, log_true),
                      tree_scores(pred.to_tree_sequence(times="mean"), ts, truth, iu,
                                  log_true),
                      tree_scores(dated, ts, truth, iu, log_true)))
    head = (f"{'case':<22} {'sites':>6} {'MSE ours':>9} {'MSE tsi+tsd':>12} {'r ours':>7} "
            f"{'r tsi+tsd':>10} {'cov90 ours':>11} {'s ours':>7} {'s tsi+tsd':>10} "
            f"{'MSE ratio':>10} {'parent ours':>12} {'by times':>9} {'parent tsi+tsd':>15}")
    print(head)
    print("-" * len(head))
    for name, n_sites, o, t_o, t, t_t, p_o, p_m, p_t in rows:
        print(f"{name:<22} {n_sites:>6} {o[0]:>9.3f} {t[0]:>12.3f} {o[1]:>7.3f} {t[1]:>10.3f} "
              f"{o[2]:>11.2f} {t_o:>7.2f} {t_t:>10.2f} {o[0] / t[0]:>10.2f} {p_o:>12.3f} "
              f"{p_m:>9.3f} {p_t:>15.3f}")
    print("parent: fraction of haplotype-windows whose predicted copying parent is one of "
          "the true ones (the equally closest relatives by the true window-mean TMRCAs); "
          "ours: predict(...).nearest (the copying head when the estimator has one), by "
          "times: the smallest predicted TMRCA; tsinfer+tsdate: the smallest TMRCA in its "
          "dated trees")
    print("target: MSE ours < tsinfer+tsdate on every case, and <= 0.30 on (a)")
    print(f"\nours: to_tree_sequence() (node-time head: {est.module_.node_head is not None}); "
          "UPGMA: to_tree_sequence(times='mean'), without the head; tsi: tsinfer + tsdate")
    head = (f"{'case':<22} {'KC ours':>8} {'KC tsi':>7} | {'tree MSE ours':>13} {'UPGMA':>6} "
            f"{'tsi':>6} | {'root ours':>9} {'UPGMA':>6} {'tsi':>5} | {'node MSE ours':>13} "
            f"{'UPGMA':>6} {'tsi':>6} | {'node cov90 ours':>15} {'UPGMA':>6} | "
            f"{'SFS res ours':>12} {'UPGMA':>6} {'tsi':>6}")
    print(head)
    print("-" * len(head))
    for name, o, m, t in trees:
        print(f"{name:<22} {o[0]:>8.3f} {t[0]:>7.3f} | {o[1]:>13.3f} {m[1]:>6.3f} {t[1]:>6.3f} "
              f"| {o[2]:>9.2f} {m[2]:>6.2f} {t[2]:>5.2f} | {o[3]:>13.3f} {m[3]:>6.3f} "
              f"{t[3]:>6.3f} | {o[4]:>15.2f} {m[4]:>6.2f} | {o[5]:>12.3f} {m[5]:>6.3f} "
              f"{t[5]:>6.3f}")
    print("KC: mean tskit kc_distance to the true trees at window midpoints (lambda 0, "
          "topology); tree MSE: ln pairwise TMRCA from the output trees; root: mean root "
          "height / true root height; node MSE: ln node time vs the true MRCA time of its "
          "leaves; node cov90: |error| <= 1.645 log_time_sd; SFS res: sum |branch SFS x mu - "
          "observed SFS| / sum observed")


if __name__ == "__main__":
    main()
