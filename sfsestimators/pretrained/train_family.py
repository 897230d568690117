"""Train an emulator of any built-in family, resumably (what each shipped emulator costs).

Run: python -m sfsestimators.pretrained.train_family FAMILY [--param KEY=VALUE ...] [--n 20]
         [--n-examples 3000] [--dt-fac 0.05] [--max-epochs 300] [--workdir bench_out/FAMILY]
         [--output PATH]

FAMILY is a name of :func:`sfsestimators.models.get_model` (``yri_ceu``, ``growth``,
``split_asymmetric_migration``, ``isolation_migration_pre``, ``out_of_africa3``, ...), with
constructor parameters as ``--param n_epochs=5 --param final_constant=true`` (JSON values). The
teacher draws ``--n-examples`` parameter vectors from the family's prior (its default bounds)
and computes their spectra at ``--n`` haploid samples per population (moments, ``--dt-fac``
its time-step factor: 0.05 halves the cost at ~0.03 % error, see
``benchmarks/teacher_settings.py``); shards and the emulator checkpoint live in
``--workdir``, so a killed run resumes where it stopped; the last 5 % of the draws are held
out and their error is printed. The emulator need not be exact everywhere: the fitter's
sequential refinement corrects it with the teacher near the data's optimum.

The shipped ``yri_ceu_n20.pt`` was built by
``python -m sfsestimators.pretrained.train_family yri_ceu --n-examples 5000
--output sfsestimators/pretrained/yri_ceu_n20.pt`` (~5 min of teacher, ~3 min of training
on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os

from ..models import get_model
from .train_default import build_emulator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a constructor parameter of the family (JSON value)")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--n-examples", type=int, default=3000)
    parser.add_argument("--dt-fac", type=float, default=0.05)
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--output", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r}; expected KEY=VALUE")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    model = get_model(args.family, **params)
    args.workdir = args.workdir or os.path.join("bench_out", args.family)
    args.output = args.output or os.path.join(args.workdir, f"{args.family}_n{args.n}.pt")
    build_emulator(model, [args.n] * model.n_populations, args, n_jobs=args.n_jobs)


if __name__ == "__main__":
    main()
