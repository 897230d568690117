"""Command line: ``python -m sfsestimators <command> ...``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .models import get_model
from .teacher import generate_teacher_data

__all__ = ["main"]


def _teacher(args):
    params = {"n_epochs": args.n_epochs} if args.model == "piecewise" else {}
    model = get_model(args.model, **params)
    sizes = args.sample_sizes or [args.sample_size] * model.n_populations
    start = time.perf_counter()
    data = generate_teacher_data(
        model, args.n_examples, sizes, n_jobs=args.n_jobs, random_state=args.seed,
        out=args.out, progress=not args.quiet,
    )
    elapsed = time.perf_counter() - start
    print(f"model: {model!r}, sample sizes: {list(sizes)}, n_jobs: {args.n_jobs}")
    print(data.summary())
    rate = (len(data.theta) + data.n_failed) / elapsed if elapsed > 0 else float("inf")
    print(f"wall time: {elapsed:.1f} s ({rate:.1f} examples/s)")
    if args.out:
        print(f"shards written to {args.out}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="sfsestimators", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("teacher", help="generate exact expected spectra with moments")
    t.add_argument("--model", default="piecewise", help="built-in model (default: piecewise)")
    t.add_argument("--n-epochs", type=int, default=3, help="epochs of the piecewise model")
    t.add_argument("--n-examples", type=int, default=1000)
    t.add_argument("--sample-size", type=int, default=20, help="haploid size per population")
    t.add_argument("--sample-sizes", type=int, nargs="+", default=None)
    t.add_argument("--n-jobs", type=int, default=-1, help="joblib workers (-1: all cores)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="directory for resumable shards")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_teacher)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose, stream=sys.stderr)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"sfsestimators: error: {exc}", file=sys.stderr)
        return 2
