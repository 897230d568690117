"""N_e(t) from genotypes: Mainspring's posterior vs the SFS-only fit vs the TMRCA oracle.

Run: python benchmarks/ne_accuracy.py [--chromosomes 3] [--length 1e7] [--diploids 10 25]

Held-out msprime data (seeds never used in training), mu = 1.29e-8, r = 1e-8, 10 diploids x
3 chromosomes of 10 Mb (and a 25-diploid row for (a)): (a) constant N_e = 1e4; (b) 2e4 now,
1e3 from 1,000 to 2,000 generations ago, 1e4 before; (c) a zigzag like stdpopsim's
Zigzag_1S14 with sizes / 5 (14,000 <-> 1,400, switching at 34 x 4^k generations,
piecewise constant here). Score: log10-RMSE over t = geomspace(100, 5e4, 50) against
msprime's size trajectory, the fraction of those t inside the 90 % band, wall time.
Columns: Mainspring (``predict(X).ne``: N_e from its predicted pairwise times, with their
uncertainty), ``DemographyFitter()`` on the same data's SFS (mutation rate and length given:
physical units), the oracle (the same N_e estimator on the TRUE pairwise coalescence times at
the windows' midpoints: the limit of any method that reads pairwise times). Mainspring
predicts window-MEAN times, whose distribution lacks the shortest times (averaging), so its
recent N_e is biased upwards; its draws sample the predicted log-normal around them.
Anchor (README): phlash 0.225 / 0.245 / 0.203 on (a)-(c) in 500-1,000 s each.
"""

import argparse
import time
import warnings

import numpy as np

from sfsestimators import DemographyFitter, MainspringARGEstimator, sfs_from_tree_sequence
from sfsestimators.genealogy import ne_from_times, ne_posterior
from sfsestimators.simulate import SizeHistory, simulate

MU, RHO = 1.29e-8, 1e-8
GRID = np.geomspace(100, 5e4, 50)
ZIG_T = np.concatenate([[0.0], 34 * 4.0 ** np.arange(6)])
CASES = {
    "(a) constant 1e4": SizeHistory(np.array([0.0]), np.array([1e4])),
    "(b) bottleneck": SizeHistory(np.array([0.0, 1000.0, 2000.0]),
                                  np.array([2e4, 1e3, 1e4])),
    "(c) zigzag / 5": SizeHistory(ZIG_T, np.array([14000.0, 1400.0] * 3 + [14000.0])),
}


def point_tmrcas(ts, window):
    """The true pairwise coalescence times at each window's midpoint (not window means:
    averaging inside a window removes the short times)."""
    iu = np.triu_indices(ts.num_samples, 1)
    out = []
    for x in np.arange(window / 2, ts.sequence_length, window):
        tree = ts.at(x)
        out.append([tree.tmrca(int(a), int(b)) for a, b in zip(*iu)])
    return np.ravel(out)


def truth(history, t):
    return history.to_msprime().debug().population_size_trajectory(t)[:, 0]


def rmse(estimate, true):
    return float(np.sqrt(np.mean((np.log10(estimate) - np.log10(true)) ** 2)))


def step(grid, values, t):
    index = np.clip(np.searchsorted(grid, t) - 1, 0, len(values) - 1)
    return values[index]


def sfs_fit_curve(fitter, t):
    """N_e(t) of a one-population fit (physical units), at times t (generations)."""
    out = np.empty_like(t)
    for e in fitter.ne_history_:  # oldest first; start_time > end_time
        inside = (t < e["start_time"]) & (t >= e["end_time"])
        out[inside] = e["start_size"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chromosomes", type=int, default=3)
    parser.add_argument("--length", type=float, default=1e7)
    parser.add_argument("--diploids", type=int, nargs="+", default=[10])
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    est = MainspringARGEstimator.pretrained(device="cpu")
    rows = []
    for k, (name, history) in enumerate(CASES.items()):
        for n_dip in args.diploids:
            tss = [simulate(history, 2 * n_dip, args.length, mutation_rate=MU,
                            recombination_rate=RHO, random_state=args.seed + 100 * k + c)
                   for c in range(args.chromosomes)]
            true = truth(history, GRID)
            # Mainspring: the N_e posterior of all chromosomes' predicted pairwise times
            t0 = time.perf_counter()
            means, sds = [], []
            for ts in tss:
                pred = est.predict(ts, mutation_rate=MU, ne_draws=0)
                iu = np.triu_indices(ts.num_samples, 1)
                means.append(pred.log_tmrca[:, iu[0], iu[1]].ravel())
                sds.append(pred.log_tmrca_sd[:, iu[0], iu[1]].ravel())
            mean, sd = np.concatenate(means), np.concatenate(sds)
            keep = np.random.default_rng(0).choice(mean.size, min(mean.size, 200_000),
                                                   replace=False)
            post = ne_posterior(mean[keep], sd[keep], n_draws=100, random_state=0)
            t_ours = time.perf_counter() - t0
            ours = post.median_at(GRID)
            lo, hi = post.band_at(GRID, 0.9)
            cover = float(np.mean((true >= lo) & (true <= hi)))
            # the SFS-only fit of the same data
            t0 = time.perf_counter()
            sfs = sum(sfs_from_tree_sequence(ts) for ts in tss)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter = DemographyFitter(random_state=0, mutation_rate=MU,
                                          sequence_length=args.length * len(tss)).fit(sfs)
            t_sfs = time.perf_counter() - t0
            sfs_curve = sfs_fit_curve(fitter, GRID)
            # the oracle: the same estimator on the true window-mean pairwise times
            true_t = np.concatenate([point_tmrcas(ts, est.window_size) for ts in tss])
            oracle = ne_from_times(true_t)
            oracle_curve = step(post.grid, oracle, GRID)
            rows.append((name, 2 * n_dip, rmse(ours, true), cover, t_ours,
                         rmse(sfs_curve, true), t_sfs, rmse(oracle_curve, true)))
            print(f"{name} ({2 * n_dip} haplotypes) done", flush=True)
    head = (f"{'case':<18} {'haps':>5} {'ours RMSE':>10} {'cov90':>6} {'s ours':>7} "
            f"{'SFS RMSE':>9} {'s SFS':>6} {'oracle RMSE':>12} {'phlash':>7}")
    print(head)
    print("-" * len(head))
    anchor = {"(a)": 0.225, "(b)": 0.245, "(c)": 0.203}
    for name, haps, r_o, cov, t_o, r_s, t_s, r_or in rows:
        print(f"{name:<18} {haps:>5} {r_o:>10.3f} {cov:>6.2f} {t_o:>7.1f} {r_s:>9.3f} "
              f"{t_s:>6.1f} {r_or:>12.3f} {anchor.get(name[:3], float('nan')):>7.3f}")
    print("log10-RMSE over t = 100..5e4 generations (50 log-spaced); targets: ours <= 0.20 on "
          "(a)-(c), below the SFS fit, 90 % bands covering 0.85-0.95")


if __name__ == "__main__":
    main()
