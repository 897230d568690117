"""Fits of the benchmark spectra: the emulator fitter vs moments' optimiser, from the same starts.

Run: python benchmarks/fit_real_data.py [--n-starts 8] [--data-dir ../shared/data]

Data (../shared/data, see its README): 1_AraTha_4_Hub (n=16, A. thaliana three-epoch,
published maximum -72.574) and 1_Bot_4_Sim (n=20, simulated bottleneck, -88.560); both are
PiecewiseConstant(2) in our parametrisation (size nu1 for T1, then nu2 for T2).

For each data set, from the same `--n-starts` prior draws:
- ours: DemographyFitter with the shipped emulator (all starts as one batch), then the exact
  moments polish; log-likelihood at the emulator's optimum (exact, before polish) and after;
- moments: `moments.Inference.optimize_log_fmin` from each start (multinomial), best kept.
Targets: before polish within 0.5 of the published maximum; after polish within 0.05 of
moments' own optimum. Wall times side by side with their ratio.

`--family yri_ceu` / `--family ooa3`: 2_YRI_CEU_6_Gut (published -1066.823) or
3_YRI_CEU_CHB_13_Gut (-6316.578) with the emulator trained by `emulator_accuracy.py --family`
(bench_out/<family>/dense.pt, prior of `_families.py`). moments runs from the first
`--moments-starts` of the same starts (each evaluation takes ~1 s for 2 pops, ~8 s for 3 on
this CPU), and its time per start is reported next to ours for all starts. `--refine N`
(with `--n-jobs`) adds the fitter's local refinement (N teacher evaluations in parallel, a
correction of the emulator near its optimum, `DemographyFitter(refine=N)`); `--polish-maxfev 0`
leaves the sequential Nelder-Mead polish out, e.g.
    python benchmarks/fit_real_data.py --family yri_ceu --refine 64 --polish-maxfev 0 --n-jobs 2
"""

import argparse
import json
import os
import time
import warnings

import moments
import numpy as np
from _families import OOA3_PRIOR, PUBLISHED, YRI_CEU_PRIOR

from sfsestimators import DemographyFitter, NeuralSFSRegressor, PiecewiseConstant, read_sfs
from sfsestimators.pretrained import load_default

DATA = {
    "1_AraTha_4_Hub": -72.574,
    "1_Bot_4_Sim": -88.560,
}


def moments_fit(model, data, starts, maxiter, trace=None, dt_fac=None):
    """moments' Nelder-Mead from each start; ``trace`` collects (seconds, best LL so far)."""
    ns = list(data.sample_sizes)
    best = (-np.inf, None)
    n_eval = 0
    t0, best_ll = time.perf_counter(), -np.inf

    def func(params, ns_):
        nonlocal n_eval, best_ll
        n_eval += 1
        fs = model.expected_sfs(params, ns_, dt_fac=dt_fac)
        if trace is not None:
            best_ll = max(best_ll, moments.Inference.ll_multinom(fs, data))
            trace.append((time.perf_counter() - t0, best_ll))
        return fs

    for p0 in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            popt = moments.Inference.optimize_log_fmin(
                p0, data, func, lower_bound=model.lower_bound, upper_bound=model.upper_bound,
                multinom=True, maxiter=maxiter, verbose=0,
            )
        ll = moments.Inference.ll_multinom(model.expected_sfs(popt, ns), data)
        if ll > best[0]:
            best = (ll, popt)
    return best[0], best[1], n_eval


def fit_warnings(caught):
    """The FitWarnings among recorded warnings, each message cut to 90 characters."""
    return [str(w.message)[:90] for w in caught if w.category.__name__ == "FitWarning"]


def moments_trace_best(trace, seconds):
    """moments' best log-likelihood within ``seconds`` (nan before its first evaluation)."""
    within = [ll for t, ll in trace if t <= seconds]
    return within[-1] if within else np.nan


def moments_time_to(trace, target):
    """When moments first reached ``target`` ("not reached" if never)."""
    for t, ll in trace:
        if ll >= target:
            return f"{t:.0f} s"
    return f"not reached in {trace[-1][0]:.0f} s" if trace else "not run"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-starts", type=int, default=16)
    parser.add_argument("--maxiter", type=int, default=300,
                        help="Nelder-Mead iterations per moments start")
    parser.add_argument("--data-dir", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--family", choices=["piecewise", "yri_ceu", "ooa3"],
                        default="piecewise")
    parser.add_argument("--moments-starts", type=int, default=2)
    parser.add_argument("--polish-maxfev", type=int, default=150,
                        help="exact Nelder-Mead evaluations of the polish (0: no polish)")
    parser.add_argument("--refine", default="auto",
                        help="multi-population: teacher evaluations at most of the sequential "
                             "refinement ('auto': the fitter's default)")
    parser.add_argument("--dt-fac", type=float, default=None,
                        help="multi-population: moments' time-step factor of the fit's teacher "
                             "calls (the final log-likelihood is re-evaluated at the default)")
    parser.add_argument("--emulator", default=None,
                        help="multi-population: the emulator file (default "
                             "bench_out/<family>/dense.pt)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="joblib workers for the fitter's teacher evaluations")
    args = parser.parse_args()
    if args.family != "piecewise":
        return multipop(args)
    model = PiecewiseConstant(n_epochs=2)
    t0 = time.perf_counter()
    load_default()
    print(f"emulator load: {time.perf_counter() - t0:.2f} s (once per process)")
    rows = []
    for name, published in DATA.items():
        data = read_sfs(os.path.join(args.data_dir, f"{name}.fs"))
        starts = model.sample_prior(args.n_starts, random_state=0)
        t0 = time.perf_counter()
        fitter = DemographyFitter(model=model, n_starts=args.n_starts, random_state=0,
                                  uncertainty=None).fit(data)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ll_moments, p_moments, n_eval = moments_fit(model, data, starts, args.maxiter)
        t_moments = time.perf_counter() - t0
        rows.append(dict(
            name=name, n=data.sample_sizes[0], published=published,
            emu=fitter.log_likelihood_emulator_,
            pre=fitter.log_likelihood_emulator_start_exact_, post=fitter.log_likelihood_,
            moments=ll_moments, fit_time=fitter.fit_time_, t_ours=t_ours, t_moments=t_moments,
            n_eval=n_eval, params=fitter.params_, params_moments=p_moments,
        ))

    head = (f"{'data':<16} {'n':>3} {'published':>10} {'emu(emu)':>9} {'emu(exact)':>11} "
            f"{'polished':>9} {'moments':>9} {'d_pre':>6} {'d_post':>7} {'ours s':>7} "
            f"{'moments s':>10} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<16} {r['n']:>3} {r['published']:>10.3f} {r['emu']:>9.3f} "
              f"{r['pre']:>11.3f} {r['post']:>9.3f} {r['moments']:>9.3f} "
              f"{r['pre'] - r['published']:>6.2f} {r['post'] - r['moments']:>7.3f} "
              f"{r['t_ours']:>7.2f} {r['t_moments']:>10.1f} {r['t_moments'] / r['t_ours']:>6.1f}")
    print()
    print("d_pre = exact log-likelihood at the emulator's optimum - published maximum "
          "(target > -0.5); d_post = polished - moments' own optimum (target > -0.05)")
    for r in rows:
        ft = r["fit_time"]
        print(f"{r['name']}: ours {', '.join(f'{k}={v:.4g}' for k, v in r['params'].items())} "
              f"[emulator {ft['emulator']:.2f} s + polish {ft['polish']:.2f} s]; moments "
              f"{', '.join(f'{v:.4g}' for v in r['params_moments'])} "
              f"[{r['n_eval']} evaluations]")

def multipop(args):
    model = YRI_CEU_PRIOR if args.family == "yri_ceu" else OOA3_PRIOR
    name, published_params, published = PUBLISHED[args.family]
    data = read_sfs(os.path.join(args.data_dir, f"{name}.fs"))
    t0 = time.perf_counter()
    path = args.emulator or os.path.join("bench_out", args.family, "dense.pt")
    emulator = NeuralSFSRegressor.load(path, device="cpu")
    store = os.path.join(os.path.dirname(path), "teacher", "meta.json")
    n_train = json.load(open(store))["n_examples"] if os.path.exists(store) else 0
    refine = args.refine if args.refine == "auto" else int(args.refine)
    print(f"emulator load: {time.perf_counter() - t0:.2f} s")
    starts = model.sample_prior(args.n_starts, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = DemographyFitter(
            emulator, model=model, n_starts=args.n_starts, random_state=0, uncertainty=None,
            polish="moments" if args.polish_maxfev > 0 else None,
            polish_maxfev=max(args.polish_maxfev, 1), refine=refine, n_jobs=args.n_jobs,
            dt_fac=args.dt_fac, verbose=1,
        ).fit(data)
    t_ours = time.perf_counter() - t0
    ll_default = moments.Inference.ll_multinom(
        model.expected_sfs(list(fitter.params_.values()), list(data.sample_sizes)), data)
    ll_m, p_m, n_eval, t_m, trace = np.nan, [], 0, np.nan, []
    if args.moments_starts:
        t0 = time.perf_counter()
        ll_m, p_m, n_eval = moments_fit(model, data, starts[: args.moments_starts],
                                        args.maxiter, trace)
        t_m = time.perf_counter() - t0
    per_start = t_m / max(args.moments_starts, 1)
    ft = fitter.fit_time_
    refined = fitter.refinement_["loglik_refined"] if fitter.refinement_ else np.nan
    moments_at_same_time = moments_trace_best(trace, t_ours)
    pre = fitter.log_likelihood_emulator_start_exact_
    print(f"{'data':<22} {'published':>10} {'emu(emu)':>9} {'emu(exact)':>11} {'refined':>9} "
          f"{'polished':>9} {'moments':>9} {'d_pre':>6} {'d_refined':>9} {'d_post':>7}")
    print(f"{name:<22} {published:>10.3f} {fitter.log_likelihood_emulator_:>9.3f} "
          f"{pre:>11.3f} {refined:>9.3f} "
          f"{fitter.log_likelihood_ if fitter.polish else np.nan:>9.3f} {ll_m:>9.3f} "
          f"{pre - published:>6.2f} {refined - published:>9.3f} "
          f"{(fitter.log_likelihood_ - published) if fitter.polish else np.nan:>7.3f}")
    print(f"final fit at moments' default time step: {ll_default:.3f} (published "
          f"{published:.3f}, difference {ll_default - published:+.3f}); teacher calls: "
          f"{n_train} training spectra + {fitter.n_exact_evaluations_} in the fit = "
          f"{n_train + fitter.n_exact_evaluations_}; fit wall time {t_ours:.0f} s, "
          f"dt_fac {args.dt_fac}")
    n_refined = fitter.refinement_["n_evaluations"] if fitter.refinement_ else 0
    print(f"time: ours {t_ours:.1f} s for {args.n_starts} starts (emulator "
          f"{ft['emulator']:.1f} s + exact ranking of the starts {ft['ranking']:.1f} s + "
          "refinement "
          f"{ft['refine']:.1f} s ({n_refined} teacher evaluations, n_jobs={args.n_jobs}) + "
          f"polish {ft['polish']:.1f} s); moments {t_m:.1f} s for {args.moments_starts} "
          f"start(s), {per_start:.1f} s per start ({n_eval} evaluations) -> "
          f"{args.n_starts} starts ~{per_start * args.n_starts:.0f} s, ratio "
          f"{per_start * args.n_starts / t_ours:.1f}")
    print("d_pre = exact log-likelihood at the emulator's optimum - published maximum; "
          "d_refined = the same after the local refinement (target > "
          f"-{0.5 if args.family == 'yri_ceu' else 1.0} for both); d_post = polished - "
          "published (target >= 0)")
    print("ours:     " + ", ".join(f"{k}={v:.4g}" for k, v in fitter.params_.items()))
    if len(p_m):
        print("moments:  " + ", ".join(f"{v:.4g}" for v in p_m))
    print("published " + ", ".join(f"{v:.4g}" for v in published_params))
    if args.moments_starts:
        print(f"moments' best after our fit's wall time ({t_ours:.0f} s): "
              f"{moments_at_same_time:.3f}; time moments took to reach our final "
              f"{ll_default:.3f}: {moments_time_to(trace, ll_default)}")


if __name__ == "__main__":
    main()
