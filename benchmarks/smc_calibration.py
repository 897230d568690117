"""The error of the pairwise-SMC N_e(t) estimate on histories of the decoder's prior: what
widens its bootstrap band into a calibrated one (``sfsestimators/pretrained/smc_error.json``).

Run: python benchmarks/smc_calibration.py --n 40 --out bench_out/smc_calibration [--jobs 1]
         [--smc "tol=0.01,n_iter=60"]
     python benchmarks/smc_calibration.py --summarise bench_out/smc_calibration

Each simulation draws a history from ``NE_PRIOR`` (seeds 5,000,000 + i: never the
benchmarks' or the decoder's), simulates 20 haplotypes x 3 chromosomes of 10 Mb (mu 1.29e-8,
r 1e-8, as ``ne_accuracy.py``), runs ``MainspringARGEstimator.predict_ne(method="smc")``
(the shipped decoder's median as the reference, :func:`smc_ne`'s defaults) with 200
draws (``predict_ne``'s default: the decoder's band is measured as at predict), and stores
the point estimate, the decoder's median and 90 % band and the truth (log10, per interval
of ``NE_TIME_GRID``; the truth is the log-mean of the size over the interval).
``--summarise`` fits the error model that ``predict_ne`` adds to the draws (the one-step
bootstrap misses most of the error: smoothing bias and intervals the data do not inform),
reports its leave-one-simulation-out coverage and writes it to the package. ``--smc``
calibrates a candidate setting of :func:`smc_ne` (``predict_ne``'s ``smc_params``, as
``smc_variants.py`` takes them): its summary is printed, not written (``--summarise DIR``
writes it when the setting ships). The folder's ``setting.json`` records smc_ne's setting
(its defaults updated by ``--smc``); a run into a folder made with another refuses to mix
the cached estimates.
"""

import argparse
import ast
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


def simulate_history(i):
    """The i-th history of the decoder's prior (seed 5,000,000 + i) and its 3 chromosomes
    of 10 Mb, 20 haplotypes."""
    seed = 5_000_000 + i
    history = sample_size_history(seed, **NE_PRIOR)
    return history, [simulate(history, 20, 1e7, mutation_rate=MU, recombination_rate=RHO,
                              random_state=seed * 10 + c) for c in range(3)]


def parse(setting):
    """'key=value,key=value' -> dict of smc_ne keyword arguments."""
    out = {}
    for item in filter(None, setting.split(",")):
        key, value = item.split("=", 1)
        out[key.strip()] = ast.literal_eval(value.strip())
    return out


def sim_path(out_dir, i):
    """Where the i-th simulation's estimate, decoder band and truth are stored."""
    return os.path.join(out_dir, f"sim_{i:04d}.npz")


def resolved_setting(smc_params):
    """smc_ne's scalar keyword arguments as this run uses them: its defaults (today's
    package) updated by ``smc_params``."""
    import inspect

    from sfsestimators.genealogy import smc_ne

    setting = {k: p.default for k, p in inspect.signature(smc_ne).parameters.items()
               if p.default is not inspect.Parameter.empty
               and isinstance(p.default, (int, float, str, bool, type(None)))}
    setting.update(smc_params or {})
    return setting


def check_setting(out_dir, smc_params):
    """Record the setting in ``out_dir/setting.json``, or refuse a folder whose cached
    estimates were made with another one (they would be mixed silently)."""
    path = os.path.join(out_dir, "setting.json")
    setting = json.loads(json.dumps(resolved_setting(smc_params)))
    if os.path.exists(path):
        with open(path) as fh:
            stored = json.load(fh)
        if stored != setting:
            diff = {k: (stored.get(k), setting.get(k)) for k in set(stored) | set(setting)
                    if stored.get(k) != setting.get(k)}
            raise SystemExit(f"{out_dir} holds estimates made with another smc_ne setting "
                             f"(stored, this run: {diff}); use a fresh --out.")
    elif any(f.startswith("sim_") for f in os.listdir(out_dir)):
        raise SystemExit(f"{out_dir} holds estimates but no setting.json: their setting is "
                         "unknown; use a fresh --out (or write setting.json for them).")
    else:
        with open(path, "w") as fh:
            json.dump(setting, fh, indent=1, sort_keys=True)


def one(i, out_dir, smc_params=None):
    path = sim_path(out_dir, i)
    if os.path.exists(path):
        return
    history, tss = simulate_history(i)
    est = MainspringARGEstimator.pretrained(device="cpu")
    t0 = time.perf_counter()
    post = est.predict_ne(tss, mutation_rate=MU, method="smc", n_draws=200, random_state=0,
                          smc_params=smc_params)
    seconds = time.perf_counter() - t0
    dec = np.log10(post.info["decoder"].quantiles([0.05, 0.5, 0.95]))
    np.savez(path, point=np.log10(post.samples[0]), decoder=dec,
             truth=interval_truth(history), seconds=seconds)


def summarise(out_dir, write=True):
    """Fit the error model: per interval k, e^2 ~ a_k + b w_k^2 + c d_k^2 with e the
    log10 error of the estimate, w the decoder's log10 sd (its 90 % band / 3.29) and d the
    log10 distance of the estimate from the decoder's median (non-negative least squares
    over every simulation and interval); print it per interval with the calibrated sd."""
    from scipy.optimize import nnls

    files = sorted(f for f in os.listdir(out_dir) if f.startswith("sim_"))
    runs = [np.load(os.path.join(out_dir, f)) for f in files]
    err = np.array([r["point"] - r["truth"] for r in runs])
    w = np.array([(r["decoder"][2] - r["decoder"][0]) / 3.29 for r in runs])
    d = np.array([r["point"] - r["decoder"][1] for r in runs])
    n, k = err.shape
    design = np.hstack([np.tile(np.eye(k), (n, 1)), w.reshape(-1, 1) ** 2,
                        d.reshape(-1, 1) ** 2])
    coef, _ = nnls(design, err.reshape(-1) ** 2)
    sigma = np.sqrt(design @ coef).reshape(n, k)
    z = np.abs(err) / sigma
    print(f"{n} simulations; {np.mean([r['seconds'] for r in runs]):.1f} s each; "
          f"decoder-sd weight {coef[k]:.3f}, disagreement weight {coef[k + 1]:.3f}")
    print(f"{'interval (gen)':>22} {'RMS error':>10} {'RMS sd':>7} {'a_k':>6} "
          f"{'cov90':>6} {'decoder cov90':>14}")
    dec_cov = np.mean([(r["truth"] >= r["decoder"][0]) & (r["truth"] <= r["decoder"][2])
                       for r in runs], axis=0)
    for i in range(k):
        print(f"{NE_TIME_GRID[i]:>10.0f}-{NE_TIME_GRID[i + 1]:<11.0f} "
              f"{np.sqrt(np.mean(err[:, i] ** 2)):>10.3f} "
              f"{np.sqrt(np.mean(sigma[:, i] ** 2)):>7.3f} {np.sqrt(coef[i]):>6.3f} "
              f"{np.mean(z[:, i] < 1.645):>6.2f} {dec_cov[i]:>14.2f}")
    print(f"overall 90 % coverage (Gaussian, in-sample): {np.mean(z < 1.645):.3f}")
    held = []  # leave one simulation out: fit on the others, cover the one left out
    rows = np.arange(n * k).reshape(n, k)
    for i in range(n):
        keep = np.delete(rows, i, axis=0).ravel()
        c_i, _ = nnls(design[keep], err.reshape(-1)[keep] ** 2)
        held.append(np.abs(err[i]) < 1.645 * np.sqrt(design[rows[i]] @ c_i))
    print(f"overall 90 % coverage (Gaussian, leave-one-simulation-out): {np.mean(held):.3f}")
    dec_err = np.array([r["decoder"][1] - r["truth"] for r in runs])
    rms = [np.mean(np.sqrt(np.mean(e ** 2, 1))) for e in (err, dec_err)]
    print(f"mean log10-RMSE over the intervals: estimate {rms[0]:.3f}, decoder {rms[1]:.3f}")
    if write:
        setting_path = os.path.join(out_dir, "setting.json")
        setting = None  # the smc_ne setting the estimates were made with, where recorded
        if os.path.exists(setting_path):
            with open(setting_path) as fh:
                setting = {k: v for k, v in json.load(fh).items() if k in ("tol", "n_iter")}
        with open(OUT, "w") as fh:
            json.dump({"interval_variance": [round(float(x), 5) for x in coef[:k]],
                       "decoder_sd_weight": round(float(coef[k]), 4),
                       "disagreement_weight": round(float(coef[k + 1]), 4),
                       "simulations": n,
                       "command": f"python benchmarks/smc_calibration.py --n {n}",
                       "smc_setting": setting},
                      fh, indent=1)
        print("written", os.path.normpath(OUT))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--out", default="bench_out/smc_calibration")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--summarise", default=None, metavar="DIR")
    parser.add_argument("--smc", default="", help="a candidate setting: key=value,...")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    os.makedirs(args.out, exist_ok=True)
    smc_params = parse(args.smc)
    check_setting(args.out, smc_params)
    Parallel(n_jobs=args.jobs)(delayed(one)(i, args.out, smc_params) for i in range(args.n))
    summarise(args.out, write=not smc_params)


if __name__ == "__main__":
    main()
