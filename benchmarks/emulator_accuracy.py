"""Emulator accuracy on held-out teacher data, and the likelihood-surface check.

Run: python benchmarks/emulator_accuracy.py [--n-train 100000] [--n-test 10000]
         [--max-epochs 300] [--workdir bench_out/accuracy]

One network for PiecewiseConstant with K = 1..6 epochs (the K-epoch histories padded with
neutral epochs, `PiecewiseConstant(6, padded_prior=True)`), n = 20. Every stage resumes from
`--workdir`: teacher shards, then the emulator checkpoint (saved every `--chunk` epochs).

Prints: mean and 95th percentile of the per-spectrum mean relative error on the held-out set
(targets < 1 %, < 3 %), by number of active epochs; the constant-size check (theta / j within
0.5 %); and max |loglik_emulator - loglik_moments| (multinomial) on a 7 x 7 grid around three
reference histories for an observed spectrum of 100,000 SNPs (target < 0.5).

Multi-population rows: `--family yri_ceu` (2 pops, 20 x 20) or `--family ooa3` (3 pops,
20 x 20 x 20), teacher draws from the training priors of `benchmarks/_families.py`, shards and
checkpoints in bench_out/<family>; `--heads dense cp` trains one emulator per head on the same
data and prints, side by side: held-out mean / p95 relative error (targets 2-pop < 2 % /
< 5 %, 3-pop mean < 3 %), weights, and |loglik_emulator - loglik_moments| at the published
optimum of the real data set and 10 perturbations of it (+-10 % per parameter; targets
< 0.5 for YRI_CEU, < 1.0 for the 3-pop model). E.g.
    python benchmarks/emulator_accuracy.py --family yri_ceu --n-train 5400 --n-test 600
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from _families import OOA3_PRIOR, PUBLISHED, YRI_CEU_PRIOR

from sfsestimators import (
    DemographyFitter,
    PiecewiseConstant,
    generate_teacher_data,
    load_teacher_shards,
    multinomial_loglik,
    read_sfs,
)
from sfsestimators.pretrained.train_default import train_resumable

MODEL = PiecewiseConstant(n_epochs=6, padded_prior=True)
N = 20
REFERENCES = {
    # name: (k-epoch parameters nu1..nuk, T1..Tk) -- padded to 6 epochs
    "bottleneck+recovery (k=2)": [0.05, 1.0, 0.02, 0.05],
    "expansion (k=1)": [5.0, 0.1],
    "three-epoch A. thaliana-like (k=2)": [0.149, 1.256, 0.023, 0.045],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--family", choices=["piecewise", "yri_ceu", "ooa3"],
                        default="piecewise")
    parser.add_argument("--heads", nargs="+", default=["dense"], choices=["dense", "cp"])
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--refine", type=int, default=0,
                        help="multi-population: also the |dLL| of the emulator corrected by "
                             "DemographyFitter(refine=N) on the real data")
    parser.add_argument("--available", action="store_true",
                        help="multi-pop: the finished teacher shards only (10 %% held out)")
    parser.add_argument("--dt-fac", type=float, default=None,
                        help="multi-pop: moments' integration time-step factor of the teacher "
                             "(default 0.02; see benchmarks/teacher_settings.py)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256, 256])
    parser.add_argument("--data-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))
    args = parser.parse_args()
    if args.family != "piecewise":
        return multipop(args)
    args.workdir = args.workdir or os.path.join("bench_out", "accuracy")
    os.makedirs(args.workdir, exist_ok=True)

    t0 = time.perf_counter()
    data = generate_teacher_data(MODEL, args.n_train + args.n_test, [N], n_jobs=-1,
                                 random_state=0, out=os.path.join(args.workdir, "teacher"),
                                 progress=True)
    t_teacher = time.perf_counter() - t0
    theta, sfs = data.theta, data.sfs
    n_train = len(theta) - args.n_test
    print(data.summary())
    t0 = time.perf_counter()
    est = train_resumable(
        theta[:n_train], sfs[:n_train], os.path.join(args.workdir, "emulator.pt"),
        max_epochs=args.max_epochs, chunk=args.chunk, lr=args.lr, batch_size=args.batch_size,
        patience=30, random_state=0, device="cpu", param_scale="log",
    )
    t_train = time.perf_counter() - t0

    test_theta, test_sfs = theta[n_train:], sfs[n_train:]
    pred = est.predict(test_theta)
    true = test_sfs.reshape(len(test_sfs), -1)
    keep = true > 0
    rel = np.where(keep, np.abs(pred - true) / np.where(keep, true, 1), 0)
    per = rel.sum(1) / keep.sum(1)
    active = 6 - (test_theta[:, :6] == 1.0).sum(1)

    print()
    print(f"teacher: {len(theta) + data.n_failed} spectra in {t_teacher:.0f} s "
          f"({data.n_failed} failed); training: {est.n_epochs_} epochs, {t_train:.0f} s "
          "this run")
    print(f"{'held-out set':<28} {'n':>6} {'mean rel err':>13} {'p95':>8} {'target':>16}")
    print(f"{'all K (1..6)':<28} {len(per):>6} {100 * per.mean():>12.2f}% "
          f"{100 * np.quantile(per, 0.95):>7.2f}% {'< 1 %, < 3 %':>16}")
    for k in range(1, 7):
        sel = active == k
        if sel.any():
            print(f"{f'  K = {k} active epochs':<28} {sel.sum():>6} "
                  f"{100 * per[sel].mean():>12.2f}% {100 * np.quantile(per[sel], 0.95):>7.2f}%")

    const = MODEL.pad_params([1.0, 0.5], 1)[None]
    flat = est.predict(const)[0][1:-1]
    const_err = np.max(np.abs(flat - 1 / np.arange(1, N)) * np.arange(1, N))
    print(f"constant size: max |pred - 1/j| / (1/j) = {100 * const_err:.2f} % (target < 0.5 %)")

    print(f"{'likelihood surface (7x7 grid)':<40} {'max |dLL|':>10} {'median':>8} {'target':>7}")
    factors = np.exp(np.linspace(np.log(0.5), np.log(2.0), 7))
    for name, params in REFERENCES.items():
        k = len(params) // 2
        base = MODEL.pad_params(params, k)
        nu_i, t_i = 5, 11  # the most recent epoch's size and duration
        observed = MODEL.expected_sfs(base, [N])
        observed = np.round(1e5 * observed / observed.sum())
        grid = []
        for a in factors:
            for b in factors:
                p = base.copy()
                p[nu_i] = np.clip(p[nu_i] * a, *MODEL.bounds_[nu_i])
                p[t_i] = np.clip(p[t_i] * b, *MODEL.bounds_[t_i])
                grid.append(p)
        grid = np.array(grid)
        ll_exact = np.array([multinomial_loglik(MODEL.expected_sfs(p, [N]), observed)
                             for p in grid])
        ll_emu = multinomial_loglik(est.predict(grid), observed)
        diff = np.abs(ll_emu - ll_exact)
        print(f"{name:<40} {diff.max():>10.3f} {np.median(diff):>8.3f} {'< 0.5':>7}")


def multipop(args):
    model, sizes, chunk = ((YRI_CEU_PRIOR, [20, 20], 50) if args.family == "yri_ceu"
                           else (OOA3_PRIOR, [20, 20, 20], 10))
    data_name, published, published_ll = PUBLISHED[args.family]
    workdir = args.workdir or os.path.join("bench_out", args.family)
    os.makedirs(workdir, exist_ok=True)
    t0 = time.perf_counter()
    if args.available:  # the finished shards of a generation still running (or stopped)
        data = load_teacher_shards(os.path.join(workdir, "teacher"))
        args.n_test = max(1, len(data.theta) // 10)
    else:
        data = generate_teacher_data(model, args.n_train + args.n_test, sizes, n_jobs=-1,
                                     random_state=0, out=os.path.join(workdir, "teacher"),
                                     chunk_size=chunk, progress=True, dt_fac=args.dt_fac)
    t_teacher = time.perf_counter() - t0
    theta, sfs = data.theta, data.sfs
    n_train = len(theta) - args.n_test
    print(data.summary())
    observed = read_sfs(os.path.join(args.data_dir, f"{data_name}.fs"))
    rng = np.random.default_rng(0)
    points = [np.asarray(published)]
    for _ in range(10):
        p = np.asarray(published) * np.exp(rng.uniform(-0.1, 0.1, len(published)))
        points.append(np.clip(p, model.lower_bound, model.upper_bound))
    points = np.array(points)
    t0 = time.perf_counter()
    ll_exact = np.array([multinomial_loglik(model.expected_sfs(p, sizes), observed)
                         for p in points])
    t_exact = (time.perf_counter() - t0) / len(points)
    rows, refined = [], []
    for head in args.heads:
        t0 = time.perf_counter()
        est = train_resumable(
            theta[:n_train], sfs[:n_train], os.path.join(workdir, f"{head}.pt"),
            max_epochs=args.max_epochs, chunk=args.chunk, lr=args.lr,
            batch_size=args.batch_size, patience=30, random_state=0, device="cpu",
            model=model, head=head, rank=args.rank, hidden_layer_sizes=tuple(args.hidden),
        )
        t_train = time.perf_counter() - t0
        pred = est.predict(theta[n_train:])
        true = sfs[n_train:].reshape(args.n_test, -1)
        keep = true > 0
        per = (np.where(keep, np.abs(pred - true) / np.where(keep, true, 1), 0).sum(1)
               / keep.sum(1))
        module = est.as_torch(dtype=torch.float64)
        t0 = time.perf_counter()
        with torch.no_grad():
            spectra = module(torch.as_tensor(points))
        t_emu = (time.perf_counter() - t0) / len(points)
        d_ll = np.abs(multinomial_loglik(spectra, observed).numpy() - ll_exact)
        rows.append((head, est, per, d_ll, t_train, t_emu))
        if args.refine:  # the same emulator with the fitter's local correction
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter = DemographyFitter(est, model=model, random_state=0, polish=None,
                                          uncertainty=None, refine=args.refine,
                                          n_jobs=-1).fit(observed)
            with torch.no_grad():
                ll_c = fitter.likelihood_surface().loglik(torch.as_tensor(points))
            refined.append((head, np.abs(ll_c.numpy() - ll_exact), fitter,
                            time.perf_counter() - t0))
    target = "< 2 %, < 5 %" if len(sizes) == 2 else "< 3 %"
    print(f"\nteacher: {len(theta)} spectra ({data.n_failed} failed), {t_teacher:.0f} s this run;"
          f" moments {t_exact:.2f} s per spectrum")
    head_line = (f"{'head':<6} {'weights':>10} {'epochs':>7} {'mean rel err':>13} {'p95':>7} "
                 f"{'target':>13} {'max|dLL|':>9} {'med|dLL|':>9} {'target':>7} "
                 f"{'emu ms':>7} {'train s':>8}")
    print(head_line)
    print("-" * len(head_line))
    for head, est, per, d_ll, t_train, t_emu in rows:
        n_w = sum(p.numel() for p in est.net_.module_.parameters())
        print(f"{head:<6} {n_w:>10,} {est.n_epochs_:>7} {100 * per.mean():>12.2f}% "
              f"{100 * np.quantile(per, 0.95):>6.2f}% {target:>13} {d_ll.max():>9.2f} "
              f"{np.median(d_ll):>9.2f} {'< 0.5' if len(sizes) == 2 else '< 1.0':>7} "
              f"{1e3 * t_emu:>7.3f} {t_train:>8.0f}")
    print(f"|dLL|: {data_name} at the published optimum and 10 perturbations (exact LL "
          f"{ll_exact[0]:.3f} at the optimum, published {published_ll:.3f})")
    for head, d_ll, fitter, t in refined:
        inside = fitter.correction_.contains(model.transform(points))
        print(f"{head} + local correction from DemographyFitter(refine={args.refine}) on "
              f"{data_name} ({t:.0f} s): max|dLL| {d_ll.max():.2f}, median {np.median(d_ll):.2f}"
              f"; at the {inside.sum()} of 11 points inside the refinement's design box: max "
              f"{d_ll[inside].max() if inside.any() else np.nan:.2f}; the refined fit's exact "
              f"LL {fitter.log_likelihood_:.3f}")


if __name__ == "__main__":
    main()
