"""The error of the pairwise-SMC N_e(t) estimate on histories of the decoder's prior: what
widens its bootstrap band into a calibrated one (``sfsestimators/pretrained/smc_error.json``).

Run: python benchmarks/smc_calibration.py --n 40 --out bench_out/smc_calibration [--jobs 1]
     python benchmarks/smc_calibration.py --summarise bench_out/smc_calibration

Each simulation draws a history from ``NE_PRIOR`` (seeds 5,000,000 + i: never the
benchmarks' or the decoder's), simulates 20 haplotypes x 3 chromosomes of 10 Mb (mu 1.29e-8,
r 1e-8, as ``ne_accuracy.py``), runs ``MainspringARGEstimator.predict_ne(method="smc")``
(the shipped decoder's median as the reference, :func:`smc_ne`'s defaults) with 20 bootstrap
draws, and stores the point estimate, the bootstrap sd and the truth (log10, per interval of
``NE_TIME_GRID``; the truth is the log-mean of the size over the interval). ``--summarise``
prints, per interval, the RMS error, the RMS bootstrap sd and the excess the bootstrap
misses, sqrt(max(error^2 - sd^2, 0)), and writes that excess (the model error added to the
draws of ``smc_ne``) to the package.
"""

import argparse
import json
import os
import time

import numpy as np
from joblib import Parallel, delayed

from sfsestimators import MainspringARGEstimator
from sfsestimators.genealogy import NE_PRIOR, NE_TIME_GRID
from sfsestimators.simulate import sample_size_history, simulate

MU, RHO = 1.29e-8, 1e-8
OUT = os.path.join(os.path.dirname(__file__), "..", "sfsestimators", "pretrained",
                   "smc_error.json")


def interval_truth(history, grid=NE_TIME_GRID):
    """log10 of the size, averaged on the log scale over each interval (open last one: its
    first 1.5 decades)."""
    edges = np.concatenate([[1.0], grid[1:-1], [grid[-2] * 10 ** 1.5]])
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        t = np.geomspace(a, b, 64)
        out.append(np.mean(np.log10(history.size_at(t))))
    return np.array(out)


def one(i, out_dir):
    path = os.path.join(out_dir, f"sim_{i:04d}.npz")
    if os.path.exists(path):
        return
    seed = 5_000_000 + i
    history = sample_size_history(seed, **NE_PRIOR)
    tss = [simulate(history, 20, 1e7, mutation_rate=MU, recombination_rate=RHO,
                    random_state=seed * 10 + c) for c in range(3)]
    est = MainspringARGEstimator.pretrained(device="cpu")
    t0 = time.perf_counter()
    post = est.predict_ne(tss, mutation_rate=MU, method="smc", n_draws=20, random_state=0,
                          smc_params={"model_error": False})
    seconds = time.perf_counter() - t0
    log_draws = np.log10(post.samples)
    np.savez(path, point=log_draws[0], boot_sd=log_draws[1:].std(axis=0),
             truth=interval_truth(history), seconds=seconds)


def summarise(out_dir, write=True):
    files = sorted(f for f in os.listdir(out_dir) if f.startswith("sim_"))
    runs = [np.load(os.path.join(out_dir, f)) for f in files]
    err = np.array([r["point"] - r["truth"] for r in runs])
    sd = np.array([r["boot_sd"] for r in runs])
    rms, boot = np.sqrt(np.mean(err ** 2, 0)), np.sqrt(np.mean(sd ** 2, 0))
    excess = np.sqrt(np.maximum(rms ** 2 - boot ** 2, 0.0))
    print(f"{len(runs)} simulations; {np.mean([r['seconds'] for r in runs]):.1f} s each")
    print(f"{'interval (gen)':>22} {'RMS error':>10} {'boot sd':>8} {'excess':>7}")
    for k in range(len(rms)):
        print(f"{NE_TIME_GRID[k]:>10.0f}-{NE_TIME_GRID[k + 1]:<11.0f} {rms[k]:>10.3f} "
              f"{boot[k]:>8.3f} {excess[k]:>7.3f}")
    if write:
        with open(OUT, "w") as fh:
            json.dump({"log10_model_error": [round(float(x), 4) for x in excess],
                       "simulations": len(runs),
                       "command": "python benchmarks/smc_calibration.py --n %d" % len(runs)},
                      fh, indent=1)
        print("written", os.path.normpath(OUT))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--out", default="bench_out/smc_calibration")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--summarise", default=None, metavar="DIR")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    os.makedirs(args.out, exist_ok=True)
    Parallel(n_jobs=args.jobs)(delayed(one)(i, args.out) for i in range(args.n))
    summarise(args.out)


if __name__ == "__main__":
    main()
