"""The error of the pairwise-SMC N_e(t) estimate on histories of the decoder's prior: what
widens its bootstrap band into a calibrated one (``sfsestimators/pretrained/smc_error.json``).

Run: python benchmarks/smc_calibration.py --n 42 --out bench_out/smc_calibration [--jobs 1]
         [--smc "tol=0.01,n_iter=60"]   (a candidate setting; the shipped: tol=0.001)
     python benchmarks/smc_calibration.py --summarise bench_out/smc_calibration

Each simulation draws a history from ``NE_PRIOR`` (seeds 5,000,000 + i: never the
benchmarks' or the decoder's), simulates 20 haplotypes x 3 chromosomes of 10 Mb (mu 1.29e-8,
r 1e-8, as ``ne_accuracy.py``), runs ``MainspringARGEstimator.predict_ne(method="smc")``
(the shipped decoder's median as the reference, :func:`smc_ne`'s defaults) with 200
draws (``predict_ne``'s default: the decoder's band is measured as at predict), and stores
the point estimate, the decoder's median and 90 % band, the data's coalescing tracts per
interval (``info["events"]``) and the truth (log10, per interval of ``NE_TIME_GRID``; the
truth is the log-mean of the size over the interval). ``--summarise`` fits the error model
that ``predict_ne`` adds to the draws (the one-step bootstrap misses most of the error:
smoothing bias and intervals the data do not inform), compares it with the model of
sessions 8-12 by coverage and negative log-likelihood left one simulation out, and writes
it to the package. ``--smc``
calibrates a candidate setting of :func:`smc_ne` (``predict_ne``'s ``smc_params``, as
``smc_variants.py`` takes them): its summary is printed, not written (``--summarise DIR``
writes it when the setting ships). The folder's ``setting.json`` records smc_ne's setting
(its defaults updated by ``--smc``) and ``predict_ne``'s ``summary_pairs`` (since session
15: 64; a folder of the 190-pair summaries before it has no such key and is refused); a run
into a folder made with another refuses to mix the cached estimates.
"""

import argparse
import ast
import json
import os
import time

import numpy as np
from joblib import Parallel, delayed

from sfsestimators import MainspringARGEstimator
from sfsestimators.genealogy import (
    EVENT_LEVELS,
    NE_PRIOR,
    NE_TIME_GRID,
    design_columns,
    error_design,
)
from sfsestimators.simulate import sample_size_history, simulate

MU, RHO = 1.29e-8, 1e-8
_MID = np.sqrt(NE_TIME_GRID[:-1] * NE_TIME_GRID[1:])
#: the intervals whose midpoints lie in ne_accuracy's scored times, 100-5e4 generations
SCORED = (_MID > 100) & (_MID < 5e4)
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
    # and the pairs of the decoder's summary (its median is smc_ne's reference)
    setting["summary_pairs"] = inspect.signature(
        MainspringARGEstimator.predict_ne).parameters["summary_pairs"].default
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
             truth=interval_truth(history), seconds=seconds, events=post.info["events"])


def _fit(design, target, start=None):
    """The error model's weights (>= 0) by maximum likelihood: each error normal with the
    variance ``design @ weights`` (``target``: the squared errors); L-BFGS-B from their
    non-negative least squares, from 0.01 each and from ``start`` (the best: it is not
    convex). The likelihood weighs each error against its own predicted sd, where least
    squares on the squared errors is ruled by the largest ones."""
    from scipy.optimize import minimize, nnls

    def nll(w):
        var = np.maximum(design @ w, 1e-6)
        grad = 0.5 * design.T @ (1 / var - target / var ** 2)
        return 0.5 * np.mean(np.log(var) + target / var), grad / len(target)

    starts = [nnls(design, target)[0], np.full(design.shape[1], 0.01)]
    if start is not None:
        starts.append(start)
    res = min((minimize(nll, np.maximum(x0, 1e-4), jac=True, method="L-BFGS-B",
                        bounds=[(0.0, None)] * design.shape[1]) for x0 in starts),
              key=lambda r: r.fun)
    return np.where(res.x < 1e-6, 0.0, res.x)


def summarise(out_dir, write=True):
    """Fit the error model (:func:`error_design`: per interval k, e^2 ~ v(level of the
    tracts coalescing in k) + b w_k^2 + c d_k^2, with e the log10 error of the estimate,
    w the decoder's log10 sd and d the estimate's log10 distance from the decoder's
    median; by maximum likelihood over every simulation and interval, :func:`_fit`),
    beside the model of sessions 8-12 (a constant per interval instead of per evidence
    level, by least squares on e^2), each with its coverage and log-likelihood left one
    simulation out; print the fitted one per interval and write it to the package."""
    from scipy.optimize import nnls

    files = sorted(f for f in os.listdir(out_dir) if f.startswith("sim_"))
    runs = [np.load(os.path.join(out_dir, f)) for f in files]
    if not all("events" in r for r in runs):
        raise SystemExit(f"{out_dir} holds estimates without the data's evidence (made "
                         "before session 13); rerun them into a fresh --out.")
    err = np.array([r["point"] - r["truth"] for r in runs])
    n, k = err.shape
    target = err.reshape(-1) ** 2
    design = np.vstack([error_design(10 ** r["decoder"], 10 ** r["point"], r["events"])
                        for r in runs])
    scored = SCORED
    rows = np.arange(n * k).reshape(n, k)
    c = design_columns(k)
    print(f"{n} simulations; {np.mean([r['seconds'] for r in runs]):.1f} s each")
    per_interval = np.r_[c["interval"], c["decoder_sd"], c["disagreement"]]
    per_level = np.r_[c["level"], c["decoder_sd"], c["disagreement"]]
    fits = {"per interval, least squares": (per_interval, lambda X, y, c0: nnls(X, y)[0]),
            "per evidence level, likelihood": (per_level, _fit)}
    print(f"{'model':<32} {'LOO cov90':>9} {'100-5e4':>8} {'LOO nll':>8} {'100-5e4':>8} "
          f"{'RMS sd':>7} {'sims cov<0.85':>14} {'>0.95':>6}")
    for label, (cols, fit) in fits.items():
        coef = np.zeros(design.shape[1])
        coef[cols] = fit(design[:, cols], target, None)
        held, nll, sds = [], [], []  # leave one simulation out: fit on the others
        for i in range(n):
            keep = np.delete(rows, i, axis=0).ravel()
            c_i = np.zeros(design.shape[1])
            c_i[cols] = fit(design[keep][:, cols], target[keep], coef[cols])
            sd = np.sqrt(np.maximum(design[rows[i]] @ c_i, 1e-6))
            held.append(np.abs(err[i]) < 1.645 * sd)
            nll.append(np.log(sd) + 0.5 * (err[i] / sd) ** 2)
            sds.append(sd)
        held, nll, sds = np.array(held), np.array(nll), np.array(sds)
        per_sim = held[:, scored].mean(1)
        print(f"{label:<32} {held.mean():>9.3f} {held[:, scored].mean():>8.3f} "
              f"{nll.mean():>8.3f} {nll[:, scored].mean():>8.3f} "
              f"{np.sqrt(np.mean(sds[:, scored] ** 2)):>7.3f} {np.mean(per_sim < 0.85):>14.2f} "
              f"{np.mean(per_sim > 0.95):>6.2f}")
    sigma = np.sqrt(design @ coef).reshape(n, k)  # the last: the one written
    z = np.abs(err) / sigma
    print(f"written model: decoder-sd weight {coef[c['decoder_sd']]:.3f}, disagreement "
          f"weight {coef[c['disagreement']]:.3f}; sd per evidence level (tracts < "
          + ", ".join(f"{e:g}" for e in EVENT_LEVELS) + ", more): "
          + " ".join(f"{np.sqrt(v):.3f}" for v in coef[c["level"]]))
    print(f"{'interval (gen)':>22} {'RMS error':>10} {'RMS sd':>7} {'cov90':>6} "
          f"{'decoder cov90':>14} {'median tracts':>14}")
    dec_cov = np.mean([(r["truth"] >= r["decoder"][0]) & (r["truth"] <= r["decoder"][2])
                       for r in runs], axis=0)
    tracts = np.median([r["events"] for r in runs], axis=0)
    for i in range(k):
        print(f"{NE_TIME_GRID[i]:>10.0f}-{NE_TIME_GRID[i + 1]:<11.0f} "
              f"{np.sqrt(np.mean(err[:, i] ** 2)):>10.3f} "
              f"{np.sqrt(np.mean(sigma[:, i] ** 2)):>7.3f} "
              f"{np.mean(z[:, i] < 1.645):>6.2f} {dec_cov[i]:>14.2f} {tracts[i]:>14.0f}")
    dec_err = np.array([r["decoder"][1] - r["truth"] for r in runs])
    rms = [np.mean(np.sqrt(np.mean(e[:, scored] ** 2, 1))) for e in (err, dec_err)]
    print(f"mean log10-RMSE over 100-5e4 generations: estimate {rms[0]:.3f}, decoder "
          f"{rms[1]:.3f}")
    if write:
        setting_path = os.path.join(out_dir, "setting.json")
        setting = None  # the smc_ne setting the estimates were made with, where recorded
        if os.path.exists(setting_path):
            with open(setting_path) as fh:
                setting = {k: v for k, v in json.load(fh).items() if k in ("tol", "n_iter")}
        model = {"intervals": k,
                 "events_variance": [round(float(x), 5) for x in coef[c["level"]]],
                 "decoder_sd_weight": round(float(coef[c["decoder_sd"]]), 4),
                 "disagreement_weight": round(float(coef[c["disagreement"]]), 4),
                 "simulations": n,
                 "command": f"python benchmarks/smc_calibration.py --n {n}",
                 "smc_setting": setting}
        with open(OUT, "w") as fh:
            json.dump(model, fh, indent=1)
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
