"""Calibration on msprime simulations: parameter recovery, interval coverage, Ne(t) error.

Run: python benchmarks/calibration.py [--n-datasets 50] [--n-jobs 2]

Each data set: a PiecewiseConstant(2) history drawn from its prior (restricted to sizes in
[0.05, 20] and durations in [0.01, 1], where 20 haploids carry information), simulated with
msprime (N_ref = 1e4, 10 diploids, 20 Mb in 20 independent 1 Mb chromosomes, mu = r = 1e-8),
read as per-site derived counts; fitted by the default DemographyFitter (shipped emulator,
exact polish) with Godambe errors from a bootstrap over the 1 Mb chromosomes; the fitter is
given the model WITH the prior's bounds (the prior that generated the truth). Prints the
median relative error of each parameter, the empirical coverage of the 95 % intervals (Wald
FIM, Wald Godambe, and the central 95 % of the posterior drawn by sequential Monte Carlo
through the emulator with the Godambe-tempered likelihood; target 0.90-0.99), the median
|log10 Ne(t)| error on a log time grid and the coverage of the posterior's Ne(t) band.
"""

import argparse
import time
import warnings

import joblib
import msprime
import numpy as np
from sklearn.base import clone

from sfsestimators import DemographyFitter, PiecewiseConstant

MODEL = PiecewiseConstant(n_epochs=2, bounds={"nu1": (0.05, 20), "nu2": (0.05, 20),
                                               "T1": (0.01, 1), "T2": (0.01, 1)})
N_REF, N_HAP, N_CHROM, CHROM_LEN, RATE = 1e4, 20, 20, 1e6, 1e-8
GRID = np.geomspace(0.005, 2.0, 30)  # times in 2 N_ref generations


def size_at(params, times):
    nu1, nu2, T1, T2 = params
    return np.where(times < T2, nu2, np.where(times < T1 + T2, nu1, 1.0))


def one(seed):
    rng = np.random.default_rng(seed)
    truth = MODEL.sample_prior(1, random_state=seed)[0]
    demography = MODEL.to_msprime(truth, N_ref=N_REF)
    counts, blocks = [], []
    for chrom in range(N_CHROM):
        ts = msprime.sim_ancestry(samples=N_HAP // 2, demography=demography,
                                  sequence_length=CHROM_LEN, recombination_rate=RATE,
                                  random_seed=int(rng.integers(2**31)))
        ts = msprime.sim_mutations(ts, rate=RATE, random_seed=int(rng.integers(2**31)),
                                   model=msprime.BinaryMutationModel())
        g = ts.genotype_matrix()
        c = g.sum(axis=1)
        c = c[(c > 0) & (c < N_HAP)]
        counts.append(c)
        blocks.append(np.full(len(c), chrom))
    X, blocks = np.concatenate(counts)[:, None], np.concatenate(blocks)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = DemographyFitter(model=clone(MODEL), sample_sizes=[N_HAP],
                                  uncertainty="godambe", random_state=seed).fit(X, blocks=blocks)
    elapsed = time.perf_counter() - start
    est = np.array(list(fitter.params_.values()))
    u_hat, u_true = np.log(est), np.log(truth)
    out = {"truth": truth, "est": est, "time": elapsed, "n_sites": len(X)}
    for key, cov in (("fim", fitter.covariance_fim_), ("godambe", fitter.covariance_)):
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) if cov is not None else np.full(4, np.nan)
        out[key] = np.abs(u_hat - u_true) < 1.96 * se
    out["ne_err"] = np.median(np.abs(np.log10(size_at(est, GRID) / size_at(truth, GRID))))
    # posterior through the emulator: the model's prior, likelihood tempered to the Godambe
    # curvature, sequential Monte Carlo (reaches every mode of a weakly identified history)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples, diagnostics = fitter.sample_posterior(
            2000, method="smc", temper="godambe", random_state=seed, return_diagnostics=True)
    out["post_time"] = time.perf_counter() - start
    out["ess"] = diagnostics["unique_fraction"]
    lo, hi = np.quantile(samples, [0.025, 0.975], axis=0)
    out["posterior"] = (truth >= lo) & (truth <= hi)
    curves = np.array([size_at(s, GRID) for s in samples])
    c_lo, c_hi = np.quantile(curves, [0.025, 0.975], axis=0)
    true_curve = size_at(truth, GRID)
    out["ne_cover"] = np.mean((true_curve >= c_lo) & (true_curve <= c_hi))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-datasets", type=int, default=50)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    results = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(one)(seed) for seed in range(args.n_datasets))
    wall = time.perf_counter() - start
    truth = np.array([r["truth"] for r in results])
    est = np.array([r["est"] for r in results])
    rel = np.abs(est / truth - 1)
    fim = np.array([r["fim"] for r in results])
    god = np.array([r["godambe"] for r in results])
    post = np.array([r["posterior"] for r in results])
    print(f"{args.n_datasets} data sets, median {np.median([r['n_sites'] for r in results]):.0f}"
          f" segregating sites each; fit time median "
          f"{np.median([r['time'] for r in results]):.1f} s; total wall {wall:.0f} s")
    print(f"posterior (SMC, Godambe-tempered): median unique-particle fraction "
          f"{np.median([r['ess'] for r in results]):.2f}, median time "
          f"{np.median([r['post_time'] for r in results]):.2f} s")
    head = (f"{'parameter':<10} {'median rel. err':>16} {'coverage FIM':>13} "
            f"{'coverage Godambe':>17} {'coverage posterior':>19}   target")
    print(head)
    print("-" * len(head))
    for j, name in enumerate(MODEL.param_names):
        print(f"{name:<10} {np.median(rel[:, j]):>16.3f} {fim[:, j].mean():>13.2f} "
              f"{god[:, j].mean():>17.2f} {post[:, j].mean():>19.2f}   0.90-0.99")
    print(f"Ne(t) on a 30-point log grid (0.005-2 x 2N_ref gens): median over data sets of the "
          f"median |log10 Ne error| {np.median([r['ne_err'] for r in results]):.3f}; "
          f"coverage of the pointwise 95 % posterior band "
          f"{np.mean([r['ne_cover'] for r in results]):.2f}")


if __name__ == "__main__":
    main()
