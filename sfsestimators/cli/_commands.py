"""``sfsestimators teacher | train | simulate | genealogy``."""

from __future__ import annotations

import os
import sys
import time

__all__ = ["teacher_command", "train_command", "simulate_command", "genealogy_command",
           "train_genealogy_command", "train_copying_head_command"]


def _get_model(name, n_epochs):
    from ..models import get_model

    return get_model(name, **({"n_epochs": n_epochs} if name == "piecewise" else {}))


def teacher_command(args):
    from ..teacher import generate_teacher_data

    if args.model_name and args.model and args.model_name != args.model:
        raise ValueError(f"MODEL is {args.model_name!r} but --model is {args.model!r}; give "
                         "one.")
    model = _get_model(args.model_name or args.model or "piecewise", args.n_epochs)
    sizes = args.sample_sizes or [args.sample_size or 20] * model.n_populations
    start = time.perf_counter()
    data = generate_teacher_data(model, args.n_examples, sizes, n_jobs=args.n_jobs,
                                 random_state=args.seed, out=args.out,
                                 progress=not args.quiet)
    elapsed = time.perf_counter() - start
    print(f"model: {model!r}, sample sizes: {list(sizes)}, n_jobs: {args.n_jobs}")
    print(data.summary())
    rate = (len(data.theta) + data.n_failed) / elapsed if elapsed > 0 else float("inf")
    print(f"wall time: {elapsed:.1f} s ({rate:.1f} examples/s)")
    if args.out:
        print(f"shards written to {args.out}; train an emulator on them with: sfsestimators "
              f"train {args.out} --out emulator.pt")
    return 0


def train_command(args):
    import json

    import numpy as np

    from ..emulator import NeuralSFSRegressor
    from ..metrics import mean_relative_error
    from ..models import model_from_spec
    from ..teacher import load_teacher_shards

    data = load_teacher_shards(args.teacher_dir)
    with open(os.path.join(args.teacher_dir, "meta.json")) as fh:
        model = model_from_spec(json.load(fh).get("model_spec"))  # None: not built in
    n_test = max(1, len(data.theta) // 20)
    est = NeuralSFSRegressor(tuple(args.hidden), head=args.head, max_epochs=args.max_epochs,
                             random_state=args.seed, progress=not args.quiet)
    start = time.perf_counter()
    est.fit(data.theta[:-n_test], data.sfs[:-n_test], model=model)
    per = mean_relative_error(data.sfs[-n_test:].reshape(n_test, -1),
                              est.predict(data.theta[-n_test:]), per_spectrum=True)
    est.save(args.out)
    print(est.summary())
    print(f"held-out ({n_test} spectra): mean relative error {100 * per.mean():.2f} %, p95 "
          f"{100 * np.quantile(per, 0.95):.2f} %; {time.perf_counter() - start:.0f} s")
    print(f"wrote {args.out}; fit with it: sfsestimators fit DATA --emulator {args.out}")
    _loss_plot(est, os.path.splitext(args.out)[0] + "_loss.png")
    return 0


def _loss_plot(est, path):
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    hist = est.history_
    ax.plot(hist[:, "train_loss"], label="train")
    if "valid_loss" in hist[-1]:
        ax.plot(hist[:, "valid_loss"], label="held out")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def simulate_command(args):
    import msprime
    import numpy as np

    from ..io import sfs_from_tree_sequence, write_sfs

    model = _get_model(args.model_name, args.n_epochs)
    params = model.check_params(np.asarray(args.params, dtype=float))
    if len(args.samples) != model.n_populations:
        raise ValueError(f"--samples has {len(args.samples)} value(s), but {model!r} has "
                         f"{model.n_populations} population(s); give one per population.")
    if not args.out.endswith((".trees", ".vcf", ".fs")):
        raise ValueError(f"--out is {args.out!r}; expected a .trees, .vcf or .fs file.")
    if args.seed < 1:
        raise ValueError(f"--seed is {args.seed}; expected an integer >= 1 (msprime).")
    demography = model.to_msprime(params, N_ref=args.n_ref)
    samples = {pop: n for pop, n in zip(model.pop_ids, args.samples)}
    ts = msprime.sim_ancestry(samples=samples, demography=demography,
                              sequence_length=args.length,
                              recombination_rate=args.recombination_rate,
                              random_seed=args.seed)
    ts = msprime.sim_mutations(ts, rate=args.mutation_rate, random_seed=args.seed)
    if args.out.endswith(".trees"):
        ts.dump(args.out)
    elif args.out.endswith(".vcf"):
        with open(args.out, "w") as fh:
            ts.write_vcf(fh, position_transform=lambda x: np.asarray(x, dtype=int) + 1)
    else:
        sets = [ts.samples(population=p.id) for p in ts.populations()]
        write_sfs(sfs_from_tree_sequence(ts, [s for s in sets if len(s)],
                                         pop_ids=list(model.pop_ids)), args.out)
    print(f"simulated {ts.num_sites} sites, {ts.num_samples} haplotypes, {args.length:g} bp "
          f"from {model!r} {dict(zip(model.param_names, params.tolist()))} (N_ref = "
          f"{args.n_ref:g}); wrote {args.out}")
    return 0


def _write_ne(post, path):
    """An NePosterior as CSV: median and 90 % band per interval (generations, diploids)."""
    import csv

    lo, hi = post.quantiles([0.05, 0.95])
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time_start_generations", "time_end_generations", "ne_median",
                         "ne_q05", "ne_q95", "method"])
        for k in range(len(post.median)):
            writer.writerow([post.grid[k], post.grid[k + 1], post.median[k], lo[k], hi[k],
                             post.method])


def _genotype_input(data):
    if not os.path.exists(data):
        raise FileNotFoundError(f"No genotype file at {data!r}; expected a phased VCF or a "
                                ".trees file.")
    if data.endswith(".trees"):
        import tskit

        return tskit.load(data)
    return data


def ne_command(args):
    from ..genealogy import MainspringARGEstimator

    est = MainspringARGEstimator.pretrained(args.preset, device="cpu")
    chromosomes = [_genotype_input(d) for d in args.data]
    post = est.predict_ne(chromosomes, mutation_rate=args.mutation_rate,
                          recombination_rate=args.recombination_rate, method=args.method,
                          n_draws=args.draws, random_state=args.seed)
    os.makedirs(args.out, exist_ok=True)
    _write_ne(post, os.path.join(args.out, "ne.csv"))
    written = ["ne.csv"]
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from ..plot import plot_ne

        plot_ne(post, path=os.path.join(args.out, "ne.png"))
        written.append("ne.png")
    except ImportError:
        pass
    extra = ""
    if post.info:
        extra = (f"; {post.info['n_pairs']} pairs x {len(chromosomes)} chromosome(s), "
                 f"{post.info['e_steps']} E-steps, recombination rate "
                 f"{post.info['recombination_rate']:.3g}")
    print(f"N_e(t) ({post.method}) of {len(chromosomes)} chromosome(s){extra}; wrote "
          f"{', '.join(written)} to {args.out}")
    return 0


def genealogy_command(args):
    import csv

    import numpy as np

    from ..genealogy import MainspringARGEstimator

    X = _genotype_input(args.data)
    est = MainspringARGEstimator.pretrained(args.preset, device="cpu")
    pred = est.predict(X, sequence_length=args.sequence_length,
                       mutation_rate=args.mutation_rate, accessible=args.accessible,
                       precision=args.precision)
    os.makedirs(args.out, exist_ok=True)
    n = pred.log_tmrca.shape[1]
    iu = np.triu_indices(n, 1)
    with open(os.path.join(args.out, "tmrca.csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["window_start", "window_end", "hap_i", "hap_j", "tmrca_generations",
                         "log_tmrca_sd"])
        for w in range(len(pred.windows) - 1):
            for i, j in zip(*iu):
                writer.writerow([pred.windows[w], pred.windows[w + 1], i, j,
                                 float(np.exp(pred.log_tmrca[w, i, j])),
                                 float(pred.log_tmrca_sd[w, i, j])])
    pred.to_tree_sequence().dump(os.path.join(args.out, "genealogy.trees"))
    written = ["tmrca.csv", "genealogy.trees"]
    if pred.ne is not None:
        _write_ne(pred.ne, os.path.join(args.out, "ne.csv"))
        written.append("ne.csv")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        mids = 0.5 * (pred.windows[1:] + pred.windows[:-1])
        mean = np.exp(pred.log_tmrca[:, iu[0], iu[1]]).mean(axis=1)
        ax.plot(mids, mean)
        ax.set_yscale("log")
        ax.set_xlabel("position (bp)")
        ax.set_ylabel("mean pairwise TMRCA (generations)")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "tmrca.png"), dpi=90)
        plt.close(fig)
        written.append("tmrca.png")
    except ImportError:
        pass
    print(f"{n} haplotypes, {len(pred.windows) - 1} windows of {est.window_size:g} bp; "
          f"median pairwise TMRCA {np.exp(np.median(pred.log_tmrca[:, iu[0], iu[1]])):.4g} "
          f"generations; wrote {', '.join(written)} to {args.out}")
    return 0


def train_genealogy_command(args):
    """Build a named Mainspring preset (resumable), from scratch or from its base."""
    from ..genealogy import MainspringARGEstimator
    from ..genealogy._presets import PRESETS_TRAINING, cache_dir

    if args.preset not in PRESETS_TRAINING:
        raise ValueError(f"--preset is {args.preset!r}; expected one of "
                         f"{sorted(PRESETS_TRAINING)}.")
    params, steps, base, description = PRESETS_TRAINING[args.preset]
    params = dict(params)
    if args.adapter is not None:
        params["adapter"] = args.adapter
    init_from = args.checkpoint or base
    out = args.out or cache_dir()
    os.makedirs(out, exist_ok=True)
    est = MainspringARGEstimator(
        **params, max_steps=args.steps or steps, steps_per_epoch=args.chunk, lr=args.lr,
        lr_schedule="cosine", init_from=init_from, device=args.device,
        n_workers=args.workers, random_state=0, progress=not args.quiet,
        checkpoint_dir=os.path.join(out, f"{args.preset}_checkpoint"))
    print(f"{args.preset}: {description}; {est.max_steps} steps"
          + (f", from {init_from}" if init_from else ", from scratch"), file=sys.stderr)
    est.fit()
    path = os.path.join(out, f"{args.preset}.pt")
    est.save(path)
    print(f"{est.summary()}\nwrote {path}")
    return 0


def train_ne_decoder_command(args):
    """Train the N_e(t) decoder of a built Mainspring preset on simulations of its prior
    (cached in --data: resumable) and write the preset with it."""
    from ..genealogy import MainspringARGEstimator

    est = MainspringARGEstimator.pretrained(args.preset, device="cpu")
    print(f"N_e(t) decoder for {args.preset}: {args.simulations} histories x "
          f"{args.chromosomes} x {args.length:g} bp, cached in {args.data}", file=sys.stderr)
    est.fit_ne_decoder(args.simulations, out_dir=args.data, chromosomes=args.chromosomes,
                       length=args.length, n_jobs=args.jobs, max_epochs=args.epochs,
                       random_state=args.seed, progress=not args.quiet)
    valid = [row["valid_loss"] for row in est.ne_decoder_history_ if "valid_loss" in row]
    est.save(args.out)
    print(f"decoder trained {len(est.ne_decoder_history_)} epochs, best held-out NLL "
          f"{min(valid):.3f}; wrote {args.out}")
    return 0


def train_copying_head_command(args):
    """Train the copying-parent head of a built Mainspring preset on simulations of its
    prior, through its frozen pair network, and write the preset with it."""
    from ..genealogy import MainspringARGEstimator

    est = MainspringARGEstimator.pretrained(args.preset, device="cpu")
    print(f"copying-parent head for {args.preset}: {args.simulations} simulations of "
          f"{args.haplotypes} haplotypes x {args.length:g} bp", file=sys.stderr)
    est.fit_copying_head(args.simulations, n_haplotypes=tuple(args.haplotypes),
                         length=args.length, n_jobs=args.jobs, max_epochs=args.epochs,
                         random_state=args.seed)
    best = min(est.copying_head_history_, key=lambda row: row["valid_loss"])
    est.save(args.out)
    print(f"head trained {len(est.copying_head_history_)} epochs; held-out copying-parent "
          f"accuracy {best['valid_accuracy']:.3f} (epoch {best['epoch']}; by the predicted "
          f"times alone {best['valid_accuracy_times']:.3f}); wrote {args.out}")
    return 0
