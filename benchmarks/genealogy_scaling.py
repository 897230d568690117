"""Mainspring at real sizes: time, peak memory and accuracy against tsinfer + tsdate.

Run: python benchmarks/genealogy_scaling.py [--haplotypes 20 50 100 200] [--lengths 1 5 20]
         [--rates] [--preset small] [--precision auto|float32|bfloat16]

Each run is its own process (peak RSS is per process): msprime simulates constant Ne = 2e4,
mu = 1.29e-8, r = 1e-8 (not timed), both methods warm up on a tiny data set (tsdate compiles
its numba kernels; not timed), then the timed run on the data. MSE of ln window-mean pairwise
TMRCA (2 kb windows) against the simulation's truth (at most 2,000 pairs scored for the
largest sample). Targets: at 100 haplotypes x 5 Mb peak RSS < 2 GB and time within 2x
tsinfer + tsdate; at 200 haplotypes no worse than 3x. ``--rates``: data simulated at 0.5x,
1x and 2x the nominal mutation rate, each method told the true rate. ``--missing 0.05 0.2``:
those fractions of the genotypes missing at random, the same masked data for both (tsinfer
takes the missing calls as such). ``--preset broad_rates``: our network is that preset (e.g.
the one trained over a prior of rates, ``sfsestimators train-genealogy --preset
broad_rates``) instead of the shipped ``small``.
Needs the `benchmark` extra (tsinfer, tsdate).
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

MU, RHO, WINDOW = 1.29e-8, 1e-8, 2000.0


def _masked(ts, fraction, seed):
    """Genotypes with a fraction missing (-1), at random, and the positions."""
    g = ts.genotype_matrix().astype(np.int8)
    g[np.random.default_rng(seed).random(g.shape) < fraction] = -1
    return g, ts.tables.sites.position


def child(method, n, length, mu, seed, missing=0.0, preset="small", precision="auto"):
    from sfsestimators import MainspringARGEstimator
    from sfsestimators.simulate import SizeHistory, extract_targets, simulate

    history = SizeHistory(np.array([0.0]), np.array([2e4]))
    ts = simulate(history, n, length, mutation_rate=mu, recombination_rate=RHO,
                  random_state=seed)
    tiny = simulate(history, 10, 5e4, mutation_rate=mu, recombination_rate=RHO,
                    random_state=1)
    iu = np.triu_indices(n, 1)
    rng = np.random.default_rng(0)
    keep = rng.choice(len(iu[0]), size=min(2000, len(iu[0])), replace=False)
    i, j = iu[0][keep], iu[1][keep]
    data = ts if not missing else _masked(ts, missing, seed)
    if method == "ours":
        import warnings

        est = MainspringARGEstimator.pretrained(preset, device="cpu")
        est.predict(tiny, mutation_rate=mu)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the count of missing genotypes
            pred = est.predict(data, mutation_rate=mu, sequence_length=length,
                               precision=precision)
        wall = time.perf_counter() - start
        log_pred = pred.log_tmrca[:, i, j]
    else:
        import tsdate
        import tsinfer

        def samples(data):
            if not isinstance(data, tuple):
                return tsinfer.SampleData.from_tree_sequence(data)
            g, pos = data
            sd = tsinfer.SampleData(sequence_length=length)
            for row, x in zip(g, pos):
                sd.add_site(x, row, ["0", "1"])
            sd.finalise()
            return sd

        def run(data):
            inferred = tsinfer.infer(samples(data), recombination_rate=RHO)
            return tsdate.date(tsdate.preprocess_ts(inferred), mutation_rate=mu)

        run(tiny)
        start = time.perf_counter()
        dated = run(data)
        wall = time.perf_counter() - start
        windows = np.append(np.arange(0.0, length, WINDOW), length)
        inferred = dated.divergence_matrix(windows=windows, mode="branch") / 2
        log_pred = np.log(np.maximum(inferred[:, i, j], 1.0))
    truth = extract_targets(ts, WINDOW)["tmrca"][:, i, j]
    mse = float(np.mean((log_pred - np.log(truth)) ** 2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB -> GB
    print(json.dumps({"wall": wall, "rss_gb": rss, "mse": mse, "sites": ts.num_sites}))


def run(method, n, length, mu, seed, missing=0.0, preset="small", precision="auto"):
    out = subprocess.run([sys.executable, __file__, "--child", method, "--n", str(n),
                          "--length", str(length), "--mu", str(mu), "--seed", str(seed),
                          "--missing", str(missing), "--preset", preset,
                          "--precision", precision],
                         capture_output=True, text=True)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--haplotypes", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--lengths", type=float, nargs="+", default=[1, 5, 20],
                        help="Mb")
    parser.add_argument("--rates", action="store_true")
    parser.add_argument("--missing", type=float, nargs="*", default=None,
                        help="fractions of genotypes set missing at random (50 x 1 Mb rows)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"],
                        help="of our network (predict's precision=)")
    parser.add_argument("--child", default=None)
    parser.add_argument("--n", type=int)
    parser.add_argument("--length", type=float)
    parser.add_argument("--mu", type=float, default=MU)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.n, args.length, args.mu, args.seed,
                     args.missing[0] if args.missing else 0.0, args.preset, args.precision)
    head = (f"{'haps':>5} {'Mb':>4} {'sites':>7} {'s ours':>8} {'s tsi+tsd':>10} "
            f"{'time ratio':>11} {'GB ours':>8} {'GB tsi+tsd':>11} {'MSE ours':>9} "
            f"{'MSE tsi+tsd':>12}")
    configs = [(n, mb, 1.0) for n in args.haplotypes for mb in args.lengths]
    if args.rates:
        configs = [(50, 1.0, f) for f in (0.5, 1.0, 2.0)]
        head = f"{'mu x':>5} {'haps':>4}" + head[10:]
    if args.missing:
        configs = [(50, 1.0, f) for f in args.missing]
        head = f"{'miss':>5} {'haps':>4}" + head[10:]
    print(f"ours: preset {args.preset}, precision {args.precision}")
    print(head)
    print("-" * len(head))
    for n, mb, factor in configs:
        rate, missing = (MU, factor) if args.missing else (MU * factor, 0.0)
        ours = run("ours", n, mb * 1e6, rate, args.seed, missing, args.preset, args.precision)
        theirs = run("tsinfer", n, mb * 1e6, rate, args.seed, missing)
        if "error" in ours or "error" in theirs:
            print(f"{n:>5} {mb:>4g} error: {ours.get('error', '')} {theirs.get('error', '')}")
            continue
        label = (f"{factor:>5g} {n:>4}" if args.rates or args.missing
                 else f"{n:>5} {mb:>4g}")
        print(f"{label} {ours['sites']:>7} {ours['wall']:>8.1f} {theirs['wall']:>10.1f} "
              f"{ours['wall'] / theirs['wall']:>11.2f} {ours['rss_gb']:>8.2f} "
              f"{theirs['rss_gb']:>11.2f} {ours['mse']:>9.3f} {theirs['mse']:>12.3f}",
              flush=True)
    print("targets: 100 x 5 Mb: GB ours < 2, time ratio <= 2; 200 haplotypes: time ratio <= 3")


if __name__ == "__main__":
    main()
