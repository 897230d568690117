"""Settings of :func:`smc_ne` side by side on histories of the decoder's prior.

Run: python benchmarks/smc_variants.py --variants "smoothing=0.1" "tol=0.01,n_iter=60"
         [--n 20] [--jobs 2] [--calibration bench_out/smc_calibration]
         [--out bench_out/smc_variants]

The histories and data of ``smc_calibration.py`` (seeds 5,000,000 + i: 20 haplotypes x 3
chromosomes of 10 Mb of a history drawn from ``NE_PRIOR``) are simulated again, and
:func:`smc_ne` is fitted to each with the shipped settings (the decoder's median, stored by
the calibration run in ``--calibration``, as reference and start: what ``predict_ne`` does,
without the bootstrap) and with each variant (keyword arguments of :func:`smc_ne`,
``key=value`` separated by commas; ``reference=None`` starts from and pulls towards the
diversity's constant size). Each setting's fits are cached in ``--out`` (resumable).

Prints per setting the mean and median log10-RMSE over 100-5e4 generations (the
intervals of ``NE_TIME_GRID`` whose midpoints lie there; truth: the log-mean size over each
interval), the histories it improves or worsens by more than 0.005 against the shipped
settings, and its seconds per fit (one thread per job). ``--out/setting.json`` records the
shipped settings the folder's fits were made with (a run with other defaults refuses it).

Why: ``ne_accuracy.py`` scores five histories, some at the edge of the prior the decoder and
the error model were fitted on; a change that helps them can hurt the typical history
(session 11: a reference pooled with the constant size, a start at the constant size and
smoothing 0.1 each helped the bottleneck or the zigzag, and none helped here).
"""

import argparse
import os
import re
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from smc_calibration import MU, SCORED, check_setting, parse, sim_path, simulate_history

from sfsestimators.genealogy import as_genotypes


def fit_path(out_dir, i, variant):
    """Where the fit of the i-th history with ``variant`` is cached."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", variant) or "shipped"
    return os.path.join(out_dir, f"sim_{i:04d}_{tag}.npz")


def one(i, variants, calibration, out_dir):
    from threadpoolctl import threadpool_limits

    from sfsestimators.genealogy import smc_ne

    todo = [v for v in variants if not os.path.exists(fit_path(out_dir, i, v))]
    if not todo:
        return
    decoder = np.load(sim_path(calibration, i))["decoder"]
    haps = [as_genotypes(ts) for ts in simulate_history(i)[1]]
    for v in todo:
        kwargs = {"reference": 10 ** decoder[1], **parse(v)}
        start = time.perf_counter()
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = smc_ne(haps, MU, n_boot=0, random_state=0, **kwargs)
        np.savez(fit_path(out_dir, i, v), point=np.log10(post.samples[0]),
                 seconds=time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=[])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--calibration", default="bench_out/smc_calibration")
    parser.add_argument("--out", default="bench_out/smc_variants")
    args = parser.parse_args()
    variants = [""] + [v for v in args.variants if v]
    for v in variants:
        parse(v)  # a malformed variant fails here, before any simulation
    os.makedirs(args.out, exist_ok=True)
    check_setting(args.out, {})  # the shipped row's setting: today's defaults
    Parallel(n_jobs=args.jobs)(delayed(one)(i, variants, args.calibration, args.out)
                               for i in range(args.n))
    truth = [np.load(sim_path(args.calibration, i))["truth"] for i in range(args.n)]
    rows = {}
    for v in variants:
        runs = [np.load(fit_path(args.out, i, v)) for i in range(args.n)]
        rows[v] = (np.array([np.sqrt(np.mean((r["point"] - t)[SCORED] ** 2))
                             for r, t in zip(runs, truth)]),
                   np.mean([float(r["seconds"]) for r in runs]))
    base = rows[""][0]
    print(f"{args.n} histories of NE_PRIOR; log10-RMSE over 100-5e4 generations")
    print(f"{'setting':<36} {'mean':>6} {'median':>7} {'better':>7} {'worse':>6} {'s/fit':>6}")
    for v, (rmse, seconds) in rows.items():
        name = v or "shipped (decoder's median)"
        better, worse = ((int(np.sum(rmse < base - 0.005)), int(np.sum(rmse > base + 0.005)))
                         if v else ("", ""))
        print(f"{name:<36} {rmse.mean():>6.3f} {np.median(rmse):>7.3f} {better:>7} "
              f"{worse:>6} {seconds:>6.1f}")


if __name__ == "__main__":
    main()
