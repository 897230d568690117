"""Train the shipped two-population emulator (SplitMigration at 20 x 20), resumably.

Run: python -m sfsestimators.pretrained.train_split_migration [--n-examples 12000]
         [--max-epochs 150] [--workdir bench_out/split_migration] [--output PATH] [--n-jobs 1]

SplitMigration(): the ancestor splits a time T ago into sizes nu1, nu2 (in [0.01, 100]),
symmetric migration m in [0, 10] (2 N_ref m), T in [1e-4, 5] (2 N_ref generations); the
model's prior (log-uniform sizes and time, uniform m). Teacher spectra at n = 20 x 20
(moments, ~35 ms each on one core), exactly projected to any smaller sample sizes at use.
Shards and the emulator checkpoint live in --workdir, so a killed run resumes where it
stopped; the last 5 % of the draws are held out and the accuracy on them is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ..metrics import mean_relative_error
from ..models import SplitMigration
from ..teacher import generate_teacher_data
from . import SPLIT_MIGRATION_WEIGHTS
from .train_default import train_resumable


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-examples", type=int, default=12_000)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, default=150)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default=os.path.join("bench_out", "split_migration"))
    parser.add_argument("--output", default=SPLIT_MIGRATION_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    model = SplitMigration()
    t0 = time.perf_counter()
    data = generate_teacher_data(model, args.n_examples, [args.n, args.n], n_jobs=args.n_jobs,
                                 random_state=args.seed, progress=True,
                                 out=os.path.join(args.workdir, "teacher"))
    print(data.summary())
    print(f"teacher: {time.perf_counter() - t0:.0f} s")
    n_test = max(1, len(data.theta) // 20)
    theta, sfs = data.theta[:-n_test], data.sfs[:-n_test]
    t0 = time.perf_counter()
    est = train_resumable(
        theta, sfs, os.path.join(args.workdir, "emulator.pt"), max_epochs=args.max_epochs,
        chunk=args.chunk, model=model, hidden_layer_sizes=tuple(args.hidden), lr=args.lr,
        batch_size=args.batch_size, patience=30, random_state=args.seed, device=args.device,
    )
    print(f"training: {time.perf_counter() - t0:.0f} s this run, {est.n_epochs_} epochs")
    per = mean_relative_error(data.sfs[-n_test:].reshape(n_test, -1),
                              est.predict(data.theta[-n_test:]), per_spectrum=True)
    print(f"held-out ({n_test} spectra, n={args.n}x{args.n}): mean relative error "
          f"{100 * per.mean():.2f} %, p95 {100 * np.quantile(per, 0.95):.2f} %")
    est.save(args.output, include_optimizer=False)
    print(f"saved {args.output} ({os.path.getsize(args.output) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
