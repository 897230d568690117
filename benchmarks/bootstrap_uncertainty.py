"""Fit + bootstrap refits through the emulator vs moments, as a ratio from one run.

Run: python benchmarks/bootstrap_uncertainty.py [--n-bootstrap 100] [--n-moments-refits 10]

Data: a PiecewiseConstant(2) spectrum (n = 20, Poisson counts around 20,000 SNPs). Ours: one
DemographyFitter fit (emulator + exact polish + Godambe errors) and `bootstrap_refit` of
`--n-bootstrap` Poisson replicates, all refitted as one batch through the emulator. moments:
the same multi-start fit (`optimize_log_fmin` from `--n-starts` prior draws, the best kept),
and refits of bootstrap replicates from the optimum (ours also start there); the per-refit
time of `--n-moments-refits` refits is scaled to `--n-bootstrap` (stated in the table).
Emulator training is not counted here; its time is in the closing note of the default model
(`python -m sfsestimators.pretrained.train_default`).
Target: ratio >= 20.
"""

import argparse
import time
import warnings

import moments
import numpy as np

from sfsestimators import DemographyFitter, PiecewiseConstant
from sfsestimators.pretrained import load_default

MODEL = PiecewiseConstant(n_epochs=2)
TRUTH = [0.1, 2.0, 0.05, 0.1]


def fmin(data, p0, maxiter=300):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moments.Inference.optimize_log_fmin(
            p0, data, lambda p, ns: MODEL.expected_sfs(p, ns), lower_bound=MODEL.lower_bound,
            upper_bound=MODEL.upper_bound, multinom=True, maxiter=maxiter)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-bootstrap", type=int, default=100)
    parser.add_argument("--n-moments-refits", type=int, default=10)
    parser.add_argument("--n-starts", type=int, default=8)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    expected = MODEL.expected_sfs(TRUTH, [20])
    data = moments.Spectrum(rng.poisson(np.ma.filled(expected / expected.S() * 2e4, 0))
                            .astype(float))
    load_default()
    starts = MODEL.sample_prior(args.n_starts, random_state=1)

    t0 = time.perf_counter()
    fitter = DemographyFitter(model=MODEL, n_starts=args.n_starts, uncertainty="godambe",
                              n_bootstrap=args.n_bootstrap, random_state=0).fit(data)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    refits = fitter.bootstrap_refit(args.n_bootstrap, random_state=0)
    t_boot = time.perf_counter() - t0

    t0 = time.perf_counter()
    fits = [fmin(data, p0) for p0 in starts]
    lls = [moments.Inference.ll_multinom(MODEL.expected_sfs(p, [20]), data) for p in fits]
    p_hat = fits[int(np.argmax(lls))]
    t_mfit = time.perf_counter() - t0
    boots = rng.poisson(np.broadcast_to(np.ma.filled(data, 0), (args.n_moments_refits,)
                                        + data.shape)).astype(float)
    t0 = time.perf_counter()
    moment_refits = [fmin(moments.Spectrum(b), p_hat) for b in boots]
    t_mrefit = (time.perf_counter() - t0) / args.n_moments_refits * args.n_bootstrap

    ours, theirs = t_fit + t_boot, t_mfit + t_mrefit
    print(f"{'':<34} {'ours (s)':>9} {'moments (s)':>12} {'ratio':>7}")
    print(f"{f'fit from {args.n_starts} starts':<34} {t_fit:>9.2f} {t_mfit:>12.2f} "
          f"{t_mfit / t_fit:>7.1f}   (ours: one batch + exact ranking + polish)")
    print(f"{f'{args.n_bootstrap} bootstrap refits':<34} {t_boot:>9.2f} {t_mrefit:>12.1f} "
          f"{t_mrefit / t_boot:>7.0f}   (moments: {args.n_moments_refits} refits timed, scaled)")
    print(f"{'total':<34} {ours:>9.2f} {theirs:>12.1f} {theirs / ours:>7.1f}   (target >= 20)")
    print(f"log-likelihood (exact): ours {fitter.log_likelihood_:.3f}, moments {max(lls):.3f}")
    print()
    print(f"{'parameter':<6} {'truth':>7} {'ours':>8} {'moments':>8} {'Godambe 95 %':>20} "
          f"{'bootstrap 95 % (ours)':>22} {'boot sd ours/moments':>21}")
    mr = np.array(moment_refits)
    for j, name in enumerate(MODEL.param_names):
        lo, hi = fitter.conf_int_[name]
        blo, bhi = np.quantile(refits[:, j], [0.025, 0.975])
        sd_ratio = np.std(np.log(refits[:, j])) / np.std(np.log(mr[:, j]))
        print(f"{name:<6} {TRUTH[j]:>7.3g} {fitter.params_[name]:>8.4g} {p_hat[j]:>8.4g} "
              f"{f'[{lo:.3g}, {hi:.3g}]':>20} {f'[{blo:.3g}, {bhi:.3g}]':>22} {sd_ratio:>21.2f}")


if __name__ == "__main__":
    main()
