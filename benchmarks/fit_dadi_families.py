"""dadi's model families on two public benchmark spectra: default fits vs moments' optimiser.

Run: python benchmarks/fit_dadi_families.py --data-dir DIR [--moments-starts 5]

DIR holds `2_DivMig_5_Sim.fs` and `1_ZigZag_11_Sim.fs` from the public collection
"demographic_inference_data" (github.com/noscode/demographic_inference_data: each
`<name>/fs_data.fs`; these are not in ../shared/data, so they are read from a local copy and
never shipped). Both are expected spectra times theta, so their published maxima are the
log-likelihoods at the true parameters.

- 2_DivMig_5_Sim (20 x 20, published -1310.931): `SplitAsymmetricMigration` (nu1, nu2, T,
  m12, m21), emulator `python -m sfsestimators.pretrained.train_family
  split_asymmetric_migration --n-examples 5000` (bench_out/split_asymmetric_migration/);
- 1_ZigZag_11_Sim (n = 20, published -62.375): `PiecewiseExponential(5,
  final_constant=True)` (nu1..nu5, T1..T6), emulator `python -m
  sfsestimators.pretrained.train_family piecewise_exponential --param n_epochs=5 --param
  final_constant=true --n-examples 5000 --output bench_out/piecewise_exponential/zigzag_n20.pt`.

Ours: `DemographyFitter(emulator, model, random_state=0)` on its defaults (the exact ranking,
the sequential refinement when the emulator is off, the polish). moments:
`optimize_log_fmin` from `--moments-starts` prior draws, best kept. Target: ours at or above
the published maximum (d >= -0.05) and moments' best.
"""

import argparse
import os
import time
import warnings

import moments
from fit_real_data import fit_warnings, moments_fit

from sfsestimators import DemographyFitter, NeuralSFSRegressor, read_sfs
from sfsestimators.models import PiecewiseExponential, SplitAsymmetricMigration

ROWS = [
    ("2_DivMig_5_Sim", SplitAsymmetricMigration(), -1310.931,
     os.path.join("bench_out", "split_asymmetric_migration",
                  "split_asymmetric_migration_n20.pt"),
     [1.0, 0.1, 0.05, 5.0, 2.5]),
    ("1_ZigZag_11_Sim", PiecewiseExponential(5, final_constant=True), -62.375,
     os.path.join("bench_out", "piecewise_exponential", "zigzag_n20.pt"),
     [0.1, 1.0, 0.1, 1.0, 0.1, 1.789, 0.447, 0.112, 0.028, 0.007, 0.002]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--moments-starts", type=int, default=5)
    args = parser.parse_args()
    lines = []
    for name, model, published, path, truth in ROWS:
        if not os.path.exists(path):
            print(f"{name}: skipped ({path} absent)")
            continue
        data = read_sfs(os.path.join(args.data_dir, f"{name}.fs"))
        ll_truth = moments.Inference.ll_multinom(
            model.expected_sfs(truth, list(data.sample_sizes)), data)
        emulator = NeuralSFSRegressor.load(path, device="cpu")
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = DemographyFitter(emulator, model=model, random_state=0).fit(data)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        starts = model.sample_prior(args.moments_starts, random_state=0)
        ll_m, p_m, n_eval = moments_fit(model, data, starts, 400)
        t_m = time.perf_counter() - t0
        r = fit.refinement_ or {"n_evaluations": 0, "history": []}
        lines.append(
            f"{name:<16} {published:>10.3f} {ll_truth:>10.3f} {fit.log_likelihood_:>10.3f} "
            f"{ll_m:>10.3f} {fit.log_likelihood_ - published:>7.3f} "
            f"{fit.log_likelihood_ - ll_m:>7.3f} {fit.n_exact_evaluations_:>6} "
            f"{r['n_evaluations']:>7} {t_ours:>7.1f} {t_m:>9.1f} {n_eval:>8}")
        print(f"{name}: ours {[round(v, 4) for v in fit.params_.values()]}; moments "
              f"{[round(v, 4) for v in p_m]}; truth {truth}; refinement rounds "
              f"{len(r['history'])}; fit warnings: {fit_warnings(caught)}")
    head = (f"{'data':<16} {'published':>10} {'at truth':>10} {'ours':>10} {'moments':>10} "
            f"{'d pub':>7} {'d mom':>7} {'exact':>6} {'refine':>7} {'ours s':>7} "
            f"{'moments s':>9} {'evals':>8}")
    print(head)
    print("-" * len(head))
    print("\n".join(lines))
    print(f"d pub = ours - published maximum (target >= -0.05); d mom = ours - moments' best of "
          f"{args.moments_starts} starts; exact / refine: teacher calls of our fit / of its "
          "refinement; evals: moments' model evaluations")


if __name__ == "__main__":
    main()
