"""N_e(t) from genotypes: Mainspring's learnt posterior vs the SFS-only fit vs the TMRCA oracle.

Run: python benchmarks/ne_accuracy.py [--chromosomes 3] [--length 1e7] [--diploids 10 25]
         [--replicates 1] [--cases a b c d e f] [--weights FILE] [--smc "tol=0.001,n_iter=120"]
         [--save DIR]

Held-out msprime data (seeds never used in training), mu = 1.29e-8, r = 1e-8, 10 diploids x
3 chromosomes of 10 Mb (and a 25-diploid row): (a) constant N_e = 1e4; (b) 2e4 now, 1e3 from
1,000 to 2,000 generations ago, 1e4 before; (c) stdpopsim's HomSap Zigzag_1S14 with its
sizes / 5 (its growth rates and times: 14,312 now, exponential decline back in time to 1,431
at 133 generations, growth to 14,312 at 533, 1,431 at 2,133, 14,312 at 8,533, 1,431 at
34,133 and before; the anchors' zigzag); (d) exponential growth, 5e4 now from 5e3 at 2,000
generations ago, 5e3 before; (e) outside the training prior: the samples come from one of
two populations of 1e4 exchanging 2e-4 migrants per generation since their split 2e4
generations ago from an ancestor of 1e4; (f) the square zigzag that stood for (c) until
session 12: constant epochs of 14,000 and 1,400 switching at 34 x 4^k generations, 14,000
again after 34,816 (no pair outlives its 1,400 epoch of 8,704-34,816 generations: the
estimate after it is the prior's).
Truth: the inverse instantaneous coalescence rate of two of the sampled lineages
(msprime's ``DemographyDebugger.coalescence_rate_trajectory``; the size itself for (a)-(d),
the quantity any coalescent-based N_e(t) estimate targets for (e)). Score: log10-RMSE over
t = geomspace(100, 5e4, 50), the fraction of those t inside the 90 % band, wall time.

Columns: Mainspring (``predict_ne(chromosomes)``: the learnt decoder's median, a normalizing
flow conditioned on the pooled predictions of all chromosomes, refined by the pairwise SMC'
composite likelihood of the genotypes, ``method="smc"``); the decoder alone (its RMSE and
coverage: ``method="decoder"``, the release before); the hazard estimate from its
predicted pairwise times (the pre-decoder method, ``ne_posterior``); ``DemographyFitter()`` on
the same data's SFS (mutation rate and length given: physical units); the oracle (the hazard
estimator on the TRUE pairwise coalescence times at the windows' midpoints: the limit of a
method that reads pairwise times through that estimator). Anchor (README): phlash 0.225 /
0.245 / 0.203 on (a)-(c) in 500-1,000 s each.
"""

import argparse
import os
import time
import warnings

import msprime
import numpy as np
from smc_calibration import parse

from sfsestimators import DemographyFitter, MainspringARGEstimator, sfs_from_tree_sequence
from sfsestimators.genealogy import ne_from_times, ne_posterior
from sfsestimators.simulate import SizeHistory, simulate

MU, RHO = 1.29e-8, 1e-8
GRID = np.geomspace(100, 5e4, 50)
ZIG_T = np.concatenate([[0.0], 34 * 4.0 ** np.arange(6)])


def _growth():
    d = msprime.Demography()
    d.add_population(name="pop0", initial_size=5e4, growth_rate=np.log(10) / 2000)
    d.add_population_parameters_change(time=2000, initial_size=5e3, growth_rate=0,
                                       population="pop0")
    return d


def _zigzag(scale=5.0):
    """stdpopsim's HomSap Zigzag_1S14 (Schiffels & Durbin 2014) with sizes / ``scale``."""
    n0 = 5 * 14312 / scale
    d = msprime.Demography()
    d.add_population(name="pop0", initial_size=n0)
    for t, g in [(33.333334976, 0.02302578256), (133.3334544, -0.0057564631),
                 (533.33324512, 0.00143911578), (2133.3352704, -0.0003597785),
                 (8533.329632, 8.9944801565e-5)]:
        d.add_population_parameters_change(time=t, growth_rate=g, population="pop0")
    d.add_population_parameters_change(time=34133.318528, initial_size=n0 / 10,
                                       growth_rate=0, population="pop0")
    return d


def _structured():
    d = msprime.Demography()
    for name in ("B", "ANC", "A"):  # simulate() samples the last population
        d.add_population(name=name, initial_size=1e4)
    d.set_symmetric_migration_rate(["A", "B"], 2e-4)
    d.add_population_split(time=2e4, derived=["A", "B"], ancestral="ANC")
    return d


CASES = {
    "(a) constant 1e4": SizeHistory(np.array([0.0]), np.array([1e4])),
    "(b) bottleneck": SizeHistory(np.array([0.0, 1000.0, 2000.0]),
                                  np.array([2e4, 1e3, 1e4])),
    "(c) zigzag / 5": _zigzag(),
    "(d) growth": _growth(),
    "(e) 2 pops + mig": _structured(),
    "(f) square zigzag": SizeHistory(ZIG_T, np.array([14000.0, 1400.0] * 3 + [14000.0])),
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


def truth(demography, t):
    """Inverse coalescence rate of two lineages of the sampled (last) population."""
    d = demography.to_msprime() if isinstance(demography, SizeHistory) else demography
    t = np.asarray(t, dtype=float)
    steps = np.unique(np.concatenate([np.linspace(0.0, 1.2 * t.max(), 6001), t]))
    rate, _ = d.debug().coalescence_rate_trajectory(steps, {d.populations[-1].name: 2})
    return 1.0 / (2.0 * rate[np.searchsorted(steps, t)])


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


def band_cover(post, true):
    lo, hi = post.band_at(GRID, 0.9)
    return float(np.mean((true >= lo) & (true <= hi)))


def phlash_scores(folder, tag, true):
    """log10-RMSE of phlash's posterior median, its 90 % band's coverage, wall and CPU
    seconds, from ``phlash_anchor.py``'s ``folder/tag.npz`` (NaN where absent)."""
    path = None if folder is None else os.path.join(folder, f"{tag}.npz")
    if path is None or not os.path.exists(path):
        return (float("nan"),) * 4
    fit = np.load(path)
    lo, mid, hi = np.quantile(fit["ne"], [0.05, 0.5, 0.95], axis=0)
    return (rmse(mid, true), float(np.mean((true >= lo) & (true <= hi))), float(fit["wall"]),
            float(fit["cpu"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chromosomes", type=int, default=3)
    parser.add_argument("--length", type=float, default=1e7)
    parser.add_argument("--diploids", type=int, nargs="+", default=[10, 25])
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--cases", nargs="+", default=["a", "b", "c", "d", "e", "f"])
    parser.add_argument("--weights", default=None, help="a Mainspring file (default: shipped)")
    parser.add_argument("--no-sfs", action="store_true", help="skip the SFS-only fit")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--smc", default="", help="a candidate setting of smc_ne "
                        "(predict_ne's smc_params): key=value,...")
    parser.add_argument("--save", default=None, metavar="DIR",
                        help="write each replicate's posterior (draws, the decoder's band, the "
                        "SMC fit's evidence) and the truth to DIR/CASE_HAPS_REP.npz")
    parser.add_argument("--dump", default=None, metavar="DIR",
                        help="only write each replicate's chromosomes (tskit files) and the "
                        "scoring grid to DIR, for benchmarks/phlash_anchor.py")
    parser.add_argument("--phlash", default=None, metavar="DIR",
                        help="read phlash_anchor.py's fits of those files from DIR and score "
                        "them beside ours (the phlash column; the anchor's numbers otherwise)")
    args = parser.parse_args()
    smc_params = parse(args.smc) or None
    est = (MainspringARGEstimator.load(args.weights, device="cpu") if args.weights
           else MainspringARGEstimator.pretrained(device="cpu"))
    rows = []
    for k, (name, history) in enumerate(CASES.items()):
        if name[1] not in args.cases:
            continue
        true = truth(history, GRID)
        for n_dip in args.diploids:
            if n_dip != args.diploids[0] and name[1] != "a":
                continue  # the larger sample: one row, (a)
            acc = []
            for rep in range(args.replicates):
                seed = args.seed + 100 * k + 10_000 * rep
                tss = [simulate(history, 2 * n_dip, args.length, mutation_rate=MU,
                                recombination_rate=RHO, random_state=seed + c)
                       for c in range(args.chromosomes)]
                tag = f"{name[1]}_{2 * n_dip}_{rep}"
                if args.dump:
                    os.makedirs(args.dump, exist_ok=True)
                    np.save(os.path.join(args.dump, "grid.npy"), GRID)
                    for c, ts in enumerate(tss):
                        ts.dump(os.path.join(args.dump, f"{tag}_chr{c}.trees"))
                    continue
                # Mainspring: the learnt decoder on all chromosomes' pooled summaries
                t0, c0 = time.perf_counter(), time.process_time()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    post = est.predict_ne(tss, mutation_rate=MU, n_draws=400, random_state=0,
                                          smc_params=smc_params)
                for w in caught:
                    print(f"  warning ({name}, rep {rep}): {w.message}", flush=True)
                t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
                dec = post.info["decoder"]
                # the hazard estimate from the same predicted times (before the decoder)
                means, sds = [], []
                for ts in tss:
                    pred = est.predict(ts, mutation_rate=MU, ne_draws=0)
                    iu = np.triu_indices(ts.num_samples, 1)
                    means.append(pred.log_tmrca[:, iu[0], iu[1]].ravel())
                    sds.append(pred.log_tmrca_sd[:, iu[0], iu[1]].ravel())
                mean, sd = np.concatenate(means), np.concatenate(sds)
                keep = np.random.default_rng(0).choice(mean.size, min(mean.size, 200_000),
                                                       replace=False)
                hazard = ne_posterior(mean[keep], sd[keep], n_draws=50, random_state=0)
                # the SFS-only fit of the same data
                r_s = t_sfs = float("nan")
                if not args.no_sfs:
                    t0 = time.perf_counter()
                    sfs = sum(sfs_from_tree_sequence(ts) for ts in tss)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fitter = DemographyFitter(random_state=0, mutation_rate=MU,
                                                  sequence_length=args.length * len(tss)
                                                  ).fit(sfs)
                    t_sfs = time.perf_counter() - t0
                    r_s = rmse(sfs_fit_curve(fitter, GRID), true)
                # the oracle: the hazard estimator on the true pairwise times
                true_t = np.concatenate([point_tmrcas(ts, est.window_size) for ts in tss])
                oracle_curve = step(post.grid, ne_from_times(true_t), GRID)
                r_ours, cov_ours = rmse(post.median_at(GRID), true), band_cover(post, true)
                if args.save:
                    os.makedirs(args.save, exist_ok=True)
                    np.savez(os.path.join(args.save, f"{name[1]}_{2 * n_dip}_{rep}.npz"),
                             samples=post.samples, grid=post.grid, truth=true,
                             decoder=dec.quantiles([0.05, 0.5, 0.95]),
                             events=post.info["events"], boot_sd=post.info["boot_sd"],
                             model_error=np.nan if post.info["model_error"] is None
                             else post.info["model_error"])
                r_dec = rmse(dec.median_at(GRID), true)
                print(f"  {name} rep {rep}: ours {r_ours:.3f} (cov90 {cov_ours:.2f}) in "
                      f"{t_ours:.1f} s wall, {c_ours:.1f} s CPU ({post.info.get('e_steps', 0)} "
                      f"E-steps); decoder {r_dec:.3f}",
                      flush=True)
                acc.append((r_ours, cov_ours, t_ours, r_dec, band_cover(dec, true),
                            rmse(hazard.median_at(GRID), true), r_s, t_sfs,
                            rmse(oracle_curve, true), c_ours,
                            *phlash_scores(args.phlash, tag, true)))
            if acc:
                rows.append((name, 2 * n_dip, *np.mean(acc, axis=0)))
            print(f"{name} ({2 * n_dip} haplotypes) done", flush=True)
    head = (f"{'case':<18} {'haps':>5} {'ours RMSE':>10} {'cov90':>6} {'s ours':>7} {'CPU s':>6} "
            f"{'decoder':>8} {'cov90':>6} {'hazard':>7} {'SFS RMSE':>9} {'s SFS':>6} "
            f"{'oracle':>7} {'ours-oracle':>12} {'phlash':>7} {'cov90':>6} {'s':>6} {'CPU s':>6}")
    print(f"{args.replicates} replicate(s) per row; {args.diploids[0]} diploids x "
          f"{args.chromosomes} x {args.length:g} bp; smc_ne: {args.smc or 'shipped'}")
    print(head)
    print("-" * len(head))
    anchor = {"(a)": 0.225, "(b)": 0.245, "(c)": 0.203}
    for name, haps, r_o, cov, t_o, r_d, cov_d, r_h, r_s, t_s, r_or, c_o, *ph in rows:
        r_p = ph[0] if np.isfinite(ph[0]) else anchor.get(name[:3], float("nan"))
        print(f"{name:<18} {haps:>5} {r_o:>10.3f} {cov:>6.2f} {t_o:>7.1f} {c_o:>6.1f} {r_d:>8.3f} "
              f"{cov_d:>6.2f} {r_h:>7.3f} {r_s:>9.3f} {t_s:>6.1f} {r_or:>7.3f} "
              f"{r_o - r_or:>12.3f} {r_p:>7.3f} {ph[1]:>6.2f} {ph[2]:>6.0f} {ph[3]:>6.0f}")
    print("phlash: measured here from --phlash DIR where given (RMSE of its posterior median, "
          "its 90 % band, wall and CPU seconds), else the anchor's RMSE (ANCHORS.md)")
    print("log10-RMSE over t = 100..5e4 generations (50 log-spaced) against the inverse "
          "coalescence rate; targets: ours <= 0.20 on (a)-(c), below the SFS fit, 90 % bands "
          "covering 0.85-0.95")


if __name__ == "__main__":
    main()
