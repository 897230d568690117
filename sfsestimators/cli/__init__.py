"""Command line: ``sfsestimators <command> ...`` (or ``python -m sfsestimators``).

Commands: ``fit`` (a demography from a spectrum, VCF or tree sequence), ``teacher`` (exact
spectra with moments), ``train`` (an emulator from teacher data), ``simulate`` (data from a
built-in model with msprime), ``genealogy`` (Mainspring on phased genotypes). Imports are
lazy, so ``--help`` and ``--version`` answer at once; every error is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ._commands import (
    genealogy_command,
    ne_command,
    simulate_command,
    teacher_command,
    train_command,
    train_copying_head_command,
    train_genealogy_command,
    train_ne_decoder_command,
)
from ._fit import DEMO_HISTORY, demo_data, fit_command

__all__ = ["main", "build_parser", "demo_data", "DEMO_HISTORY"]

MODELS = ["piecewise", "two_epoch", "three_epoch", "bottlegrowth", "split_migration",
          "isolation_migration", "yri_ceu", "out_of_africa3"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as every other error
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _refine(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer, got {text!r}") from None


def build_parser():
    from .. import __version__

    parser = _Parser(prog="sfsestimators", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sfsestimators {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    f = sub.add_parser("fit", help="fit a demography to data (the shipped emulators)")
    f.add_argument("data", nargs="?", default=None,
                   help=".fs spectrum, VCF (+ --popfile) or .trees; none: the demo")
    f.add_argument("--model", default=None,
                   help=f"built-in family ({', '.join(MODELS)}), or a .py file defining "
                        "'model' (with --emulator); default: piecewise, epochs by AIC")
    f.add_argument("--n-epochs", type=int, default=None,
                   help="epochs of the piecewise model (default: chosen by AIC)")
    f.add_argument("--emulator", default=None,
                   help="a NeuralSFSRegressor file (from 'train') for your model")
    f.add_argument("--popfile", default=None, help="VCF sample -> population file")
    f.add_argument("--projections", type=int, nargs="+", default=None,
                   help="VCF: haploid sample size per population (missing calls projected)")
    f.add_argument("--sample-size", type=int, default=None, help=argparse.SUPPRESS)
    f.add_argument("--folded", action="store_true", help="fold the data")
    f.add_argument("--n-starts", type=int, default=16)
    f.add_argument("--no-polish", action="store_true", help="skip the exact moments polish")
    f.add_argument("--refine", type=_refine, default="auto",
                   help="teacher evaluations of a local correction of the emulator (0: none; "
                        "auto: where the emulator is off the exact likelihood by > 1 unit)")
    f.add_argument("--uncertainty", choices=["fim", "godambe", "none"], default="fim")
    f.add_argument("--posterior", choices=["smc", "nuts"], default=None,
                   help="also draw from the posterior (written to posterior.csv)")
    f.add_argument("--n-jobs", type=int, default=None, help="joblib workers for the teacher")
    f.add_argument("--mutation-rate", type=float, default=None, help="per bp per generation")
    f.add_argument("--sequence-length", type=float, default=None, help="bp behind the data")
    f.add_argument("--generation-time", type=float, default=None, help="years")
    f.add_argument("--out", default=None,
                   help="directory for params.json/.csv, model.yaml, fit.png, history.png")
    f.add_argument("--json", action="store_true", help="print params.json to stdout")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=fit_command)

    t = sub.add_parser("teacher", help="exact expected spectra with moments, resumable")
    t.add_argument("model_name", nargs="?", default=None, metavar="MODEL",
                   help=f"built-in family ({', '.join(MODELS)})")
    t.add_argument("--model", default=None, help=argparse.SUPPRESS)
    t.add_argument("--n-epochs", type=int, default=3, help="epochs of the piecewise model")
    t.add_argument("--n", "--n-examples", dest="n_examples", type=int, default=1000)
    t.add_argument("--sample-sizes", type=int, nargs="+", default=None,
                   help="haploid size per population (default: 20 each)")
    t.add_argument("--sample-size", type=int, default=None, help=argparse.SUPPRESS)
    t.add_argument("--n-jobs", type=int, default=-1, help="joblib workers (-1: all cores)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="directory for resumable shards")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=teacher_command)

    r = sub.add_parser("train", help="train an emulator on a teacher directory")
    r.add_argument("teacher_dir", help="the --out directory of 'teacher'")
    r.add_argument("--out", required=True, help="the emulator file to write (.pt)")
    r.add_argument("--head", choices=["dense", "cp"], default="dense")
    r.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    r.add_argument("--max-epochs", type=int, default=200)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=train_command)

    s = sub.add_parser("simulate", help="simulate data from a built-in model with msprime")
    s.add_argument("model_name", metavar="MODEL", help=f"built-in family ({', '.join(MODELS)})")
    s.add_argument("--n-epochs", type=int, default=2, help="epochs of the piecewise model")
    s.add_argument("--params", type=float, nargs="+", required=True,
                   help="the model's parameters, in order (relative sizes, 2 N_ref gen.)")
    s.add_argument("--samples", type=int, nargs="+", required=True,
                   help="diploid individuals per population")
    s.add_argument("--length", type=float, default=1e7, help="bp")
    s.add_argument("--n-ref", type=float, default=1e4)
    s.add_argument("--mutation-rate", type=float, default=1.25e-8)
    s.add_argument("--recombination-rate", type=float, default=1e-8)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True, help="data.trees, data.vcf or data.fs")
    s.set_defaults(func=simulate_command)

    tg = sub.add_parser("train-genealogy", help="build a named Mainspring preset (resumable)")
    tg.add_argument("--preset", required=True,
                    help="small, narrow, broad_w500, broad_rates, wmissing or curriculum (see "
                         "MainspringARGEstimator.available())")
    tg.add_argument("--checkpoint", default=None,
                    help="start from these weights (a preset name or a file) instead of the "
                         "preset's base")
    tg.add_argument("--adapter", type=int, default=None,
                    help="bottleneck adapter channels (the backbone stays frozen)")
    tg.add_argument("--steps", type=int, default=None, help="default: the preset's")
    tg.add_argument("--chunk", type=int, default=100, help="steps per epoch/checkpoint")
    tg.add_argument("--lr", type=float, default=2e-3)
    tg.add_argument("--device", default="cpu")
    tg.add_argument("--workers", type=int, default=0)
    tg.add_argument("--out", default=None,
                    help="directory (default: the cache, $SFSESTIMATORS_CACHE/mainspring)")
    tg.add_argument("--quiet", action="store_true")
    tg.set_defaults(func=train_genealogy_command)

    nd = sub.add_parser("train-ne-decoder",
                        help="train a Mainspring preset's N_e(t) decoder (resumable)")
    nd.add_argument("--preset", default="small", help="a built Mainspring preset")
    nd.add_argument("--simulations", type=int, default=1400, help="training histories")
    nd.add_argument("--chromosomes", type=int, default=3, help="per history")
    nd.add_argument("--length", type=float, default=4e6, help="bp per chromosome")
    nd.add_argument("--epochs", type=int, default=400, help="at most (early stopping)")
    nd.add_argument("--jobs", type=int, default=None, help="joblib workers")
    nd.add_argument("--seed", type=int, default=20261201)
    nd.add_argument("--data", required=True, help="directory caching the simulations")
    nd.add_argument("--out", required=True, help="the preset file to write, with its decoder")
    nd.add_argument("--quiet", action="store_true")
    nd.set_defaults(func=train_ne_decoder_command)

    ch = sub.add_parser("train-copying-head",
                        help="train a Mainspring preset's copying-parent head")
    ch.add_argument("--preset", default="small", help="a built Mainspring preset")
    ch.add_argument("--simulations", type=int, default=80)
    ch.add_argument("--haplotypes", type=int, nargs="+", default=[20, 30, 50],
                    help="sample sizes the simulations cycle through")
    ch.add_argument("--length", type=float, default=5e5, help="bp per simulation")
    ch.add_argument("--epochs", type=int, default=8)
    ch.add_argument("--jobs", type=int, default=None, help="joblib workers (simulations)")
    ch.add_argument("--seed", type=int, default=20261201)
    ch.add_argument("--out", required=True, help="the preset file to write, with its head")
    ch.set_defaults(func=train_copying_head_command)

    g = sub.add_parser("genealogy", help="pairwise coalescence times and local trees")
    g.add_argument("data", help="phased VCF or .trees")
    g.add_argument("--out", required=True, help="directory for tmrca.csv, genealogy.trees, "
                                                "tmrca.png")
    g.add_argument("--sequence-length", type=float, default=None)
    g.add_argument("--mutation-rate", type=float, default=None,
                   help="of the data (default: the network's)")
    g.add_argument("--accessible", default=None,
                   help="BED file of the accessible sequence (default: all of it)")
    g.add_argument("--preset", default="small", help="a built Mainspring preset")
    g.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="arithmetic of the network (auto: bfloat16 on a CPU that has it)")
    g.set_defaults(func=genealogy_command)

    n = sub.add_parser("ne", help="N_e(t) posterior from the chromosomes of one population")
    n.add_argument("data", nargs="+", help="phased VCF or .trees files, one per chromosome")
    n.add_argument("--out", required=True, help="directory for ne.csv and ne.png")
    n.add_argument("--mutation-rate", type=float, default=None,
                   help="of the data (default: the network's)")
    n.add_argument("--recombination-rate", type=float, default=None,
                   help="of the data (default: estimated with the sizes)")
    n.add_argument("--method", default="smc", choices=["smc", "decoder"],
                   help="smc: the decoder refined by the pairwise SMC' likelihood (default); "
                        "decoder: the learnt posterior alone (seconds)")
    n.add_argument("--draws", type=int, default=200, help="posterior draws")
    n.add_argument("--preset", default="small", help="a built Mainspring preset")
    n.add_argument("--seed", type=int, default=0)
    n.set_defaults(func=ne_command)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose, stream=sys.stderr)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception held
        print(f"sfsestimators: error: {message}", file=sys.stderr)
        return 2
