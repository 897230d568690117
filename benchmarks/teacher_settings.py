"""What each teacher call costs and how accurate it is: moments' time step and computing size.

Run: python benchmarks/teacher_settings.py [--n-draws 6] [--data-dir ../shared/data]

Two settings make a moments evaluation cheaper:
- the integration time-step factor `dt_fac` (`Spectrum.integrate(dt_fac=0.02)` by default;
  ours: `model.expected_sfs(..., dt_fac=)`, `generate_teacher_data(dt_fac=)`,
  `DemographyFitter(dt_fac=)`);
- the computing sample size of several populations (`expected_sfs(min_compute_size=)`,
  default 20: moments' migration closure is inaccurate below, the result is projected down).

Table 1, per family (1-pop bottleneck n=20, YRI_CEU 20x20, OutOfAfrica3 20x20x20): for each
`dt_fac`, seconds per spectrum, the speed-up over the default 0.02, the mean and max relative
error (over entries > 1e-3 of the total, `--n-draws` prior draws plus the published optimum)
against a fine reference (dt_fac 0.002), and |dLL| at the published optimum on the real data
(multinomial; the error budget of a fit is ~0.1 log-likelihood units).
Table 2: the 2-population spectrum at 10x10 computed at sizes 10, 14, 20, 30 and projected,
against sizes 40; seconds and errors.
Time it with nothing else running.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _families import OOA3_PRIOR, PUBLISHED, YRI_CEU_PRIOR  # noqa: E402

from sfsestimators import multinomial_loglik, read_sfs  # noqa: E402
from sfsestimators.models import PiecewiseConstant, SplitMigration  # noqa: E402

REFERENCE_DT = 0.002


def rel_errors(fs, ref):
    a, b = np.ma.filled(fs, 0.0).ravel(), np.ma.filled(ref, 0.0).ravel()
    keep = b > 1e-3 * b.sum()
    err = np.abs(a[keep] / b[keep] - 1)
    return err.mean(), err.max()


def timed(model, p, sizes, **kw):
    t0 = time.perf_counter()
    fs = model.expected_sfs(p, sizes, **kw)
    return fs, time.perf_counter() - t0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-draws", type=int, default=6)
    parser.add_argument("--data-dir", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--families", nargs="+", default=["bottleneck", "yri_ceu", "ooa3"])
    args = parser.parse_args()
    families = {
        "bottleneck": (PiecewiseConstant(2), [20], "1_Bot_4_Sim",
                       [0.01, 1.0, 0.005, 0.05]),  # nuB for tB, then nuF for tF
        "yri_ceu": (YRI_CEU_PRIOR, [20, 20], *PUBLISHED["yri_ceu"][:2]),
        "ooa3": (OOA3_PRIOR, [20, 20, 20], *PUBLISHED["ooa3"][:2]),
    }
    dts = [0.01, 0.02, 0.05, 0.1, 0.2]
    head = (f"{'family':<11} {'dt_fac':>6} {'s/spectrum':>10} {'speed-up':>8} "
            f"{'mean err':>9} {'max err':>9} {'|dLL| opt':>9}")
    print(head)
    print("-" * len(head))
    for name in args.families:
        model, sizes, data_name, published = families[name]
        data = read_sfs(os.path.join(args.data_dir, f"{data_name}.fs"))
        points = [np.asarray(published, dtype=float)]
        points += list(model.sample_prior(args.n_draws, random_state=1))
        refs = [model.expected_sfs(p, sizes, dt_fac=REFERENCE_DT) for p in points]
        ll_ref = float(multinomial_loglik(refs[0], data))
        base = None
        for dt in dts:
            out = [timed(model, p, sizes, dt_fac=dt) for p in points]
            sec = np.mean([t for _, t in out])
            base = sec if dt == 0.02 else base
            errs = np.array([rel_errors(fs, ref) for (fs, _), ref in zip(out, refs)])
            d_ll = abs(float(multinomial_loglik(out[0][0], data)) - ll_ref)
            speed = f"{base / sec:>7.2f}x" if base else f"{'':>8}"
            print(f"{name:<11} {dt:>6} {sec:>10.3f} {speed} {100 * errs[:, 0].mean():>8.3f}% "
                  f"{100 * errs[:, 1].max():>8.3f}% {d_ll:>9.4f}")
        print(f"{name:<11} reference dt_fac {REFERENCE_DT}: LL at the published optimum "
              f"{ll_ref:.3f}")
    print("\nspeed-up: time at dt_fac 0.02 (moments' default) / time at this dt_fac")

    model = SplitMigration()
    points = model.sample_prior(args.n_draws, random_state=2)
    refs = [model.expected_sfs(p, [10, 10], min_compute_size=40) for p in points]
    head = f"{'compute n':>9} {'s/spectrum':>10} {'mean err':>9} {'max err':>9}"
    print("\nSplitMigration at 10x10, computed at n and projected, vs n = 40")
    print(head)
    print("-" * len(head))
    for n in [10, 14, 20, 30]:
        out = [timed(model, p, [10, 10], min_compute_size=n) for p in points]
        errs = np.array([rel_errors(fs, ref) for (fs, _), ref in zip(out, refs)])
        print(f"{n:>9} {np.mean([t for _, t in out]):>10.3f} {100 * errs[:, 0].mean():>8.3f}% "
              f"{100 * errs[:, 1].max():>8.3f}%")


if __name__ == "__main__":
    main()
