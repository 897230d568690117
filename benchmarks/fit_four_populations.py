"""Four populations (`FourPopulationTree`, n = 10 each): emulator accuracy and speed against
moments, and a fit of msprime data against moments' own optimiser.

Run: python benchmarks/fit_four_populations.py [--n-train 600] [--n-jobs 2]

Teacher: `--n-train` draws of the prior below (narrower than the family's default bounds),
moments at 10 x 10 x 10 x 10 (dt_fac 0.05; resumable shards in bench_out/four_pop); the last
10 % are held out. Emulator: CP head (rank 32), resumable checkpoint. Data: msprime, 5
diploids per population, 2e7 bp, N_ref 1e4, mu 1.25e-8, r 1e-8, an unseen seed.
Fit: `DemographyFitter(emulator, model, dt_fac=0.05, polish=None)` (the exact ranking and
the sequential refinement with the teacher, in parallel), against
`moments.Inference.optimize_log_fmin` from the same first start (same dt_fac), whose best
log-likelihood after our wall time and at its end are printed.
"""

import argparse
import os
import time
import warnings

import msprime
import numpy as np
import torch
from fit_real_data import moments_fit, moments_time_to, moments_trace_best

from sfsestimators import (
    DemographyFitter,
    generate_teacher_data,
    multinomial_loglik,
    sfs_from_tree_sequence,
)
from sfsestimators.models import FourPopulationTree
from sfsestimators.pretrained.train_default import train_resumable

PRIOR = FourPopulationTree(bounds={
    "nuA": (0.1, 10.0), "nuB": (0.1, 10.0), "nuC": (0.1, 10.0), "nuD": (0.1, 10.0),
    "mAB": (0.0, 5.0), "mCD": (0.0, 5.0), "T1": (0.02, 1.0), "T2": (0.02, 1.0),
    "T3": (0.02, 1.0)})
TRUTH = [2.0, 0.5, 1.0, 0.3, 1.0, 2.0, 0.3, 0.2, 0.1]
SIZES = [10, 10, 10, 10]
DT = 0.05


def simulate(seed):
    ts = msprime.sim_ancestry(samples={p: 5 for p in PRIOR.pop_ids},
                              demography=PRIOR.to_msprime(TRUTH, N_ref=1e4),
                              sequence_length=2e7, recombination_rate=1e-8, random_seed=seed)
    ts = msprime.sim_mutations(ts, rate=1.25e-8, random_seed=seed + 1,
                               model=msprime.BinaryMutationModel())
    names = [p.metadata.get("name") for p in ts.populations()]
    return sfs_from_tree_sequence(
        ts, sample_sets=[ts.samples(population=names.index(p)) for p in PRIOR.pop_ids])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--moments-maxiter", type=int, default=150)
    parser.add_argument("--workdir", default=os.path.join("bench_out", "four_pop"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = generate_teacher_data(PRIOR, args.n_train, SIZES, n_jobs=args.n_jobs,
                                 random_state=0, out=os.path.join(args.workdir, "teacher"),
                                 chunk_size=10, progress=True, dt_fac=DT)
    print(data.summary())
    t_teacher = time.perf_counter() - t0
    n_test = max(1, len(data.theta) // 10)
    t0 = time.perf_counter()
    est = train_resumable(data.theta[:-n_test], data.sfs[:-n_test],
                          os.path.join(args.workdir, "cp.pt"), max_epochs=args.max_epochs,
                          chunk=25, model=PRIOR, head="cp", rank=32,
                          hidden_layer_sizes=(256, 256, 256), lr=1e-3, batch_size=64,
                          patience=30, random_state=0, device="cpu")
    t_train = time.perf_counter() - t0
    true = data.sfs[-n_test:].reshape(n_test, -1)
    pred = est.predict(data.theta[-n_test:]).reshape(n_test, -1)
    keep = true > 1e-3 * true.sum(1, keepdims=True)
    per = np.array([np.mean(np.abs(p[k] / t[k] - 1)) for p, t, k in zip(pred, true, keep)])
    module = est.as_torch(dtype=torch.float64)
    theta = torch.as_tensor(data.theta[-n_test:])
    with torch.no_grad():
        module(theta[:1])
        t0 = time.perf_counter()
        for i in range(len(theta)):
            module(theta[i:i + 1])
        t_single = (time.perf_counter() - t0) / len(theta)
        t0 = time.perf_counter()
        module(theta)
        t_batch = (time.perf_counter() - t0) / len(theta)
    t0 = time.perf_counter()
    for p in data.theta[-3:]:
        PRIOR.expected_sfs(p, SIZES, dt_fac=DT)
    t_moments = (time.perf_counter() - t0) / 3

    observed = simulate(args.seed)
    start = PRIOR.sample_prior(16, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = DemographyFitter(est, model=PRIOR, n_starts=16, random_state=0, polish=None,
                               uncertainty=None, dt_fac=DT, n_jobs=args.n_jobs,
                               verbose=1).fit(observed)
    t_ours = time.perf_counter() - t0
    trace = []
    t0 = time.perf_counter()
    ll_m, p_m, n_eval = moments_fit(PRIOR, observed, start[:1], args.moments_maxiter, trace,
                                    dt_fac=DT)
    t_m = time.perf_counter() - t0
    ll_truth = float(multinomial_loglik(PRIOR.expected_sfs(TRUTH, SIZES, dt_fac=DT), observed))

    print(f"\nteacher: {len(data.theta)} spectra ({data.n_failed} failed), {t_teacher:.0f} s "
          f"this run; emulator {sum(p.numel() for p in module.parameters()):,} weights, "
          f"{est.n_epochs_} epochs, {t_train:.0f} s this run")
    head = (f"{'held-out mean err':>17} {'p95':>7} {'emu ms (1)':>10} {'emu ms (batch)':>14} "
            f"{'moments s':>9} {'speed-up 1':>10} {'speed-up batch':>14}")
    print(head)
    print("-" * len(head))
    print(f"{100 * per.mean():>16.2f}% {100 * np.quantile(per, 0.95):>6.2f}% "
          f"{1e3 * t_single:>10.2f} {1e3 * t_batch:>14.3f} {t_moments:>9.2f} "
          f"{t_moments / t_single:>10.0f} {t_moments / t_batch:>14.0f}")
    r = fit.refinement_ or {"n_evaluations": 0}
    head = (f"{'SNPs':>7} {'truth LL':>10} {'ours LL':>10} {'moments LL':>10} {'d':>7} "
            f"{'ours s':>7} {'exact calls':>11} {'moments s':>9} {'moments evals':>13}")
    print(head)
    print("-" * len(head))
    print(f"{int(observed.S()):>7} {ll_truth:>10.3f} {fit.log_likelihood_:>10.3f} "
          f"{ll_m:>10.3f} {fit.log_likelihood_ - ll_m:>7.3f} {t_ours:>7.0f} "
          f"{fit.n_exact_evaluations_:>11} {t_m:>9.0f} {n_eval:>13}")
    print(f"d = ours - moments (from the same first start, maxiter {args.moments_maxiter}); "
          f"refinement {r['n_evaluations']} teacher calls; moments' best after our "
          f"{t_ours:.0f} s: {moments_trace_best(trace, t_ours):.3f}; moments reached our "
          f"value: {moments_time_to(trace, fit.log_likelihood_)}")
    print("truth   " + ", ".join(f"{v:.3g}" for v in TRUTH))
    print("ours    " + ", ".join(f"{v:.3g}" for v in fit.params_.values()))
    print("moments " + ", ".join(f"{v:.3g}" for v in p_m))


if __name__ == "__main__":
    main()
