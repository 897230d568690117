"""``sfsestimators fit``: data in, a fitted demography out (stdout and ``--out DIR``)."""

from __future__ import annotations

import json
import sys
import time

__all__ = ["DEMO_HISTORY", "demo_data", "fit_command"]

#: The demo history of ``fit`` without data: PiecewiseConstant(2), a bottleneck then growth.
DEMO_HISTORY = [0.1, 2.0, 0.05, 0.1]
_DEMO = dict(n_diploids=10, length=2e7, rate=1e-8, N_ref=1e4, block=1e6)


def demo_data(seed=0):
    """The demo's data: a 20 Mb msprime simulation of :data:`DEMO_HISTORY` (10 diploids,
    mu = r = 1e-8, N_ref = 1e4) as per-site derived counts with 1 Mb genomic blocks (so
    the intervals account for linked sites), and the truth.

    Returns
    -------
    dict
        ``counts`` (n_sites, 1), ``blocks``, ``sfs``, ``mutation_rate``,
        ``sequence_length``, ``truth`` (parameter -> value), ``model``.
    """
    import msprime

    from ..io import sfs_from_tree_sequence
    from ..models import PiecewiseConstant

    model = PiecewiseConstant(n_epochs=2)
    ts = msprime.sim_ancestry(samples=_DEMO["n_diploids"],
                              demography=model.to_msprime(DEMO_HISTORY, N_ref=_DEMO["N_ref"]),
                              sequence_length=_DEMO["length"],
                              recombination_rate=_DEMO["rate"],
                              random_seed=seed + 1)  # msprime seeds must be > 0
    ts = msprime.sim_mutations(ts, rate=_DEMO["rate"], random_seed=seed + 2)
    g = ts.genotype_matrix()
    biallelic = g.max(axis=1) <= 1
    counts = g[biallelic].sum(axis=1)
    keep = (counts > 0) & (counts < g.shape[1])
    positions = ts.tables.sites.position[biallelic][keep]
    return {"counts": counts[keep][:, None], "blocks": (positions // _DEMO["block"]).astype(int),
            "sfs": sfs_from_tree_sequence(ts), "mutation_rate": _DEMO["rate"],
            "sequence_length": _DEMO["length"], "model": model,
            "truth": dict(zip(model.param_names, DEMO_HISTORY)),
            "description": f"simulated {int(keep.sum())} SNPs (10 diploids, 20 Mb, mu = r = "
                           f"1e-8, N_ref = 1e4) from PiecewiseConstant(2) with "
                           f"{dict(zip(model.param_names, DEMO_HISTORY))}"}


def _check_flags(args):
    """Flags that would be silently ignored, or that contradict each other, are errors."""
    data = args.data
    is_vcf = data is not None and data.endswith((".vcf", ".vcf.gz", ".bcf"))
    if not is_vcf:
        for flag, value in (("--popfile", args.popfile), ("--projections", args.projections),
                            ("--sample-size", args.sample_size)):
            if value is not None:
                raise ValueError(f"{flag} applies to VCF input only; got "
                                 f"{data or 'no data (the demo)'}.")
    if data is None:
        for flag, value in (("--mutation-rate", args.mutation_rate),
                            ("--sequence-length", args.sequence_length),
                            ("--model", args.model), ("--emulator", args.emulator)):
            if value is not None:
                raise ValueError(f"{flag} applies to your data; the demo (no data file) "
                                 "sets its own.")
    elif (args.mutation_rate is None) != (args.sequence_length is None) and not (
            data.endswith(".trees") and args.mutation_rate is not None):
        raise ValueError("--mutation-rate and --sequence-length go together (N_ref = theta / "
                         "(4 mu L)); give both or neither.")
    if args.generation_time is not None and data is not None and args.mutation_rate is None:
        raise ValueError("--generation-time needs --mutation-rate (physical units).")
    if args.model is not None and args.model.endswith(".py") and args.emulator is None:
        raise ValueError(f"--model {args.model} needs --emulator: an emulator trained on "
                         "teacher data of that model (sfsestimators teacher/train, or "
                         "NeuralSFSRegressor.fit + save).")
    if args.n_epochs is not None and args.model not in (None, "piecewise"):
        raise ValueError(f"--n-epochs applies to --model piecewise; got --model {args.model}.")


def _load(args):
    """(X, blocks, sample_sizes, mutation_rate, sequence_length, demo or None)."""
    data, mu, length = args.data, args.mutation_rate, args.sequence_length
    if data is None:
        demo = demo_data(args.seed)
        print(f"no data given: {demo['description']}", file=sys.stderr)
        return (demo["counts"], demo["blocks"], [20], demo["mutation_rate"],
                demo["sequence_length"], demo)
    if data.endswith((".vcf", ".vcf.gz", ".bcf")):
        from ..io import sfs_from_vcf

        sizes = args.projections or ([args.sample_size] if args.sample_size else None)
        return (sfs_from_vcf(data, popfile=args.popfile, sample_sizes=sizes), None, None, mu,
                length, None)
    if data.endswith(".trees"):
        import os

        import tskit

        from ..io import sfs_from_tree_sequence

        if not os.path.exists(data):
            raise FileNotFoundError(f"No tree sequence file at {data!r}.")
        ts = tskit.load(data)
        sets = [ts.samples(population=p.id) for p in ts.populations()]
        sets = [s for s in sets if len(s)] or [ts.samples()]
        return (sfs_from_tree_sequence(ts, sets), None, None, mu,
                length or (ts.sequence_length if mu is not None else None), None)
    from ..io import read_sfs

    return read_sfs(data), None, None, mu, length, None


def _model_and_emulator(args):
    model = predictor = None
    if args.model is not None and args.model.endswith(".py"):
        model = _model_from_file(args.model)
    elif args.model is not None:
        from ..models import get_model

        params = {"n_epochs": args.n_epochs} if args.model == "piecewise" and args.n_epochs \
            else {}
        model = get_model(args.model, **params)
    elif args.n_epochs is not None:
        from ..models import PiecewiseConstant

        model = PiecewiseConstant(n_epochs=args.n_epochs)
    if args.emulator is not None:
        from ..emulator import NeuralSFSRegressor

        predictor = NeuralSFSRegressor.load(args.emulator, device="cpu")
        if model is None:
            model = predictor.model_
    return model, predictor


def _model_from_file(path):
    """The ``model`` (a DemographicModel, e.g. a CustomModel of your demes graph) that a
    Python file defines."""
    import os
    import runpy

    from ..models import DemographicModel

    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    model = runpy.run_path(path).get("model")
    if not isinstance(model, DemographicModel):
        raise ValueError(f"{path!r} defines model = {model!r}; expected a DemographicModel "
                         "(e.g. model = CustomModel(names, lower, upper, graph_function=...)).")
    return model


def fit_command(args):
    _check_flags(args)
    X, blocks, sizes, mu, length, demo = _load(args)
    model, predictor = _model_and_emulator(args)
    from ..inference import DemographyFitter

    uncertainty = None if args.uncertainty == "none" else args.uncertainty
    if demo is not None and args.uncertainty == "fim":
        uncertainty = "godambe"  # linked sites: the block bootstrap's sandwich intervals
    fitter = DemographyFitter(
        predictor, model, n_starts=args.n_starts,
        polish=None if args.no_polish else "moments", uncertainty=uncertainty,
        sample_sizes=sizes, folded=True if args.folded else None, refine=args.refine,
        n_jobs=args.n_jobs, mutation_rate=mu, sequence_length=length,
        generation_time=args.generation_time, random_state=args.seed, verbose=args.verbose,
        progress=True,
    )
    start = time.perf_counter()
    fitter.fit(X, blocks=blocks)
    posterior = None
    if args.posterior is not None:
        posterior = fitter.sample_posterior(1000, method=args.posterior,
                                            random_state=args.seed)
    elapsed = time.perf_counter() - start
    truth = (demo["truth"] if demo is not None and repr(fitter.model_) == repr(demo["model"])
             else None)
    if args.json:
        from ._outputs import fit_record

        print(json.dumps(fit_record(fitter, truth), indent=1))
    else:
        print(fitter.summary())
        if truth is not None:
            print("demo truth vs estimate (95 % interval, block-bootstrap Godambe):")
            for name, value in truth.items():
                lo, hi = fitter.conf_int_[name]
                print(f"  {name:<5} truth {value:<8g} estimate {fitter.params_[name]:<10.4g} "
                      f"[{lo:.4g}, {hi:.4g}] {'covers' if lo <= value <= hi else 'MISSES'}")
        elif demo is not None:
            print(f"demo truth: PiecewiseConstant(2) {demo['truth']}; AIC chose "
                  f"{fitter.model_!r}")
        print(f"wall time: {elapsed:.1f} s")
    if args.out is not None:
        from ._outputs import write_outputs

        written = write_outputs(fitter, args.out, truth=truth, posterior=posterior)
        print(f"wrote {', '.join(written)} to {args.out}", file=sys.stderr)
    return 0
