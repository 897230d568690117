"""Train the shipped two-population emulator (SplitMigration at 20 x 20), resumably.

Run: python -m sfsestimators.pretrained.train_split_migration [--n-examples 12000]
         [--max-epochs 500] [--workdir bench_out/split_migration] [--output PATH] [--n-jobs 1]

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

from ..models import SplitMigration
from . import SPLIT_MIGRATION_WEIGHTS
from .train_default import build_emulator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-examples", type=int, default=12_000)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--max-epochs", type=int, default=500)
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
    build_emulator(SplitMigration(), [args.n, args.n], args, n_jobs=args.n_jobs)


if __name__ == "__main__":
    main()
