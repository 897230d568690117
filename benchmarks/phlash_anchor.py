"""phlash on ne_accuracy.py's data, in its own virtual environment: the anchor measured here.

phlash 1.0.3 needs numpy<2 and tskit<1 (and dinopy built with Cython<3), so it cannot share
sfsestimators' environment. Set-up (once, ~5 min):

    python3 -m venv ../phlash_venv && . ../phlash_venv/bin/activate
    pip install "numpy<2" "tskit<1" "Cython<3" setuptools wheel
    pip install --no-build-isolation dinopy
    pip install phlash==1.0.3 "numpy<2" "tskit<1" msprime

Run (the data written by our environment, phlash fitted in its own, scored by ours):

    python benchmarks/ne_accuracy.py --cases a b c --diploids 10 --dump bench_out/phlash
    ../phlash_venv/bin/python benchmarks/phlash_anchor.py bench_out/phlash [--niter 300]
    python benchmarks/ne_accuracy.py --cases a b c --diploids 10 --phlash bench_out/phlash

For every replicate ``CASE_HAPS_REP`` (its chromosomes ``..._chrK.trees``, 10 diploids each
as consecutive haplotype pairs) phlash.fit on all its chromosomes with the anchor's setting
(300 iterations, 50 particles, below phlash's defaults; mu 1.29e-8), then N_e of every
posterior draw on the scoring grid (``grid.npy``) and the fit's wall and CPU seconds
(``time.process_time``: all of the process's threads) go to ``DIR/CASE_HAPS_REP.npz``.
One fit at a time, nothing else running: the CPU seconds are the comparison.
"""

import argparse
import glob
import os
import re
import time

import numpy as np

MU = 1.29e-8


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--niter", type=int, default=300)
    parser.add_argument("--particles", type=int, default=50)
    args = parser.parse_args()
    import phlash
    import tskit

    grid = np.load(os.path.join(args.folder, "grid.npy"))
    tags = sorted({re.sub(r"_chr\d+\.trees$", "", os.path.basename(f))
                   for f in glob.glob(os.path.join(args.folder, "*_chr*.trees"))})
    for tag in tags:
        out = os.path.join(args.folder, f"{tag}.npz")
        if os.path.exists(out):
            continue
        files = sorted(glob.glob(os.path.join(args.folder, f"{tag}_chr*.trees")))
        contigs = []
        for f in files:
            ts = tskit.load(f)
            pairs = [(2 * i, 2 * i + 1) for i in range(ts.num_samples // 2)]
            contigs.append(phlash.contig(ts, samples=pairs))
        t0, c0 = time.perf_counter(), time.process_time()
        draws = phlash.fit(contigs, niter=args.niter, num_particles=args.particles,
                           mutation_rate=MU)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ne = np.array([np.asarray(dm.eta(grid, Ne=True)) for dm in draws])
        np.savez(out, ne=ne, grid=grid, wall=wall, cpu=cpu, niter=args.niter,
                 particles=args.particles)
        print(f"{tag}: {len(draws)} draws, {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)


if __name__ == "__main__":
    main()
