"""Command line: ``python -m sfsestimators <command> ...``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .models import PiecewiseConstant, get_model
from .teacher import generate_teacher_data

#: The demo history of ``fit`` without data: PiecewiseConstant(2), a bottleneck then growth.
DEMO_HISTORY = [0.1, 2.0, 0.05, 0.1]

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


def _demo_spectrum(seed):
    """A site SFS simulated with msprime from DEMO_HISTORY (N_ref = 1e4, 20 haplotypes)."""
    import msprime

    from .io import sfs_from_tree_sequence

    model = PiecewiseConstant(n_epochs=2)
    ts = msprime.sim_ancestry(samples=10, demography=model.to_msprime(DEMO_HISTORY, N_ref=1e4),
                              sequence_length=2e7, recombination_rate=1e-8,
                              random_seed=seed + 1)  # msprime seeds must be > 0
    ts = msprime.sim_mutations(ts, rate=1e-8, random_seed=seed + 2)
    print(f"no data given: simulated {ts.num_sites} SNPs (10 diploids, 20 Mb, mu = r = 1e-8, "
          f"N_ref = 1e4) from PiecewiseConstant(2) with "
          f"{dict(zip(model.param_names, DEMO_HISTORY))}")
    return sfs_from_tree_sequence(ts), 1e-8, 2e7


def _check_fit_flags(args):
    """Flags that would be silently ignored, or that contradict each other, are errors."""
    is_vcf = args.data is not None and args.data.endswith((".vcf", ".vcf.gz", ".bcf"))
    if not is_vcf:
        for flag, value in (("--popfile", args.popfile), ("--sample-size", args.sample_size)):
            if value is not None:
                raise ValueError(f"{flag} applies to VCF input only; got "
                                 f"{args.data or 'no data (the demo)'}.")
    if args.data is None and (args.mutation_rate is not None
                              or args.sequence_length is not None):
        raise ValueError("--mutation-rate/--sequence-length apply to your data; the demo "
                         "(no data file) sets its own.")
    if args.data is not None and (args.mutation_rate is None) != (args.sequence_length is None):
        raise ValueError("--mutation-rate and --sequence-length go together (N_ref = theta / "
                         "(4 mu L)); give both or neither.")
    if args.generation_time is not None and args.data is not None and (
            args.mutation_rate is None):
        raise ValueError("--generation-time needs --mutation-rate and --sequence-length "
                         "(physical units).")


def _fit(args):
    from .inference import DemographyFitter
    from .io import read_sfs, sfs_from_vcf

    mutation_rate, length = args.mutation_rate, args.sequence_length
    _check_fit_flags(args)
    if args.data is None:
        sfs, mutation_rate, length = _demo_spectrum(args.seed)
    elif args.data.endswith((".vcf", ".vcf.gz", ".bcf")):
        sfs = sfs_from_vcf(args.data, popfile=args.popfile,
                           sample_sizes=[args.sample_size] if args.sample_size else None)
    else:
        sfs = read_sfs(args.data)
    model = None if args.n_epochs is None else PiecewiseConstant(n_epochs=args.n_epochs)
    fitter = DemographyFitter(
        model=model, n_starts=args.n_starts, polish=None if args.no_polish else "moments",
        uncertainty=args.uncertainty, folded=True if args.folded else None,
        refine=args.refine, n_jobs=args.n_jobs,
        mutation_rate=mutation_rate, sequence_length=length,
        generation_time=args.generation_time, random_state=args.seed, verbose=args.verbose,
    )
    start = time.perf_counter()
    fitter.fit(sfs)
    print(fitter.summary())
    print(f"wall time: {time.perf_counter() - start:.1f} s")
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

    f = sub.add_parser("fit", help="fit a demography to a spectrum with the shipped emulator")
    f.add_argument("data", nargs="?", default=None,
                   help=".fs spectrum or VCF; none: a simulated demo spectrum")
    f.add_argument("--n-epochs", type=int, default=None,
                   help="epochs of the piecewise-constant model (default: chosen by AIC)")
    f.add_argument("--popfile", default=None, help="VCF sample -> population file")
    f.add_argument("--sample-size", type=int, default=None, help="project a VCF to this n")
    f.add_argument("--folded", action="store_true", help="fold the data")
    f.add_argument("--n-starts", type=int, default=16)
    f.add_argument("--no-polish", action="store_true", help="skip the exact moments polish")
    f.add_argument("--refine", type=int, default=0,
                   help="teacher evaluations of a local correction of the emulator (0: none)")
    f.add_argument("--n-jobs", type=int, default=None, help="joblib workers for the teacher")
    f.add_argument("--uncertainty", choices=["fim", "godambe"], default="fim")
    f.add_argument("--mutation-rate", type=float, default=None)
    f.add_argument("--sequence-length", type=float, default=None)
    f.add_argument("--generation-time", type=float, default=None)
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=_fit)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose, stream=sys.stderr)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception held
        print(f"sfsestimators: error: {message}", file=sys.stderr)
        return 2
