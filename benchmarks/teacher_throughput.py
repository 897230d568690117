"""Teacher throughput: examples per second at n_jobs=1 and n_jobs=2, and the speed-up.

Run: python benchmarks/teacher_throughput.py [--n-examples 200]

Prints one table from one run: 1-pop PiecewiseConstant(3) at n=20 and 2-pop SplitMigration at
20x20. Target: speed-up >= 1.8 at 2 workers on 2 cores.
"""

import argparse
import time

import joblib

from sfsestimators.models import PiecewiseConstant, SplitMigration
from sfsestimators.teacher import generate_teacher_data


def throughput(model, n_examples, sizes, n_jobs):
    # warm the worker pool so that process start-up is not charged to the first case
    generate_teacher_data(model, 2 * max(1, n_jobs), sizes, n_jobs=n_jobs, random_state=1)
    start = time.perf_counter()
    data = generate_teacher_data(model, n_examples, sizes, n_jobs=n_jobs, random_state=0)
    elapsed = time.perf_counter() - start
    return n_examples / elapsed, data.n_failed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-examples", type=int, default=200)
    args = parser.parse_args()
    cases = [
        ("1-pop PiecewiseConstant(3), n=20", PiecewiseConstant(n_epochs=3), [20]),
        ("2-pop SplitMigration, 20x20", SplitMigration(), [20, 20]),
    ]
    print(f"cores: {joblib.cpu_count()}, examples per case: {args.n_examples}")
    header = (f"{'case':<36} {'ex/s n_jobs=1':>14} {'ex/s n_jobs=2':>14} "
              f"{'speed-up':>9} {'failed':>7}")
    print(header)
    print("-" * len(header))
    for name, model, sizes in cases:
        one, f1 = throughput(model, args.n_examples, sizes, 1)
        two, f2 = throughput(model, args.n_examples, sizes, 2)
        print(f"{name:<36} {one:>14.1f} {two:>14.1f} {two / one:>9.2f} {f1 + f2:>7d}")


if __name__ == "__main__":
    main()
