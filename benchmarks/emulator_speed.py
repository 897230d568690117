"""Per-evaluation time of moments vs the emulator, single and batched, one table, one run.

Run: python benchmarks/emulator_speed.py

1-pop PiecewiseConstant(6) at n=20 and n=100, 2-pop YRI_CEU at 20 x 20, 3-pop OutOfAfrica3
at 20 x 20 x 20 (dense and CP heads); the emulator is the default architecture (4 x 256,
GELU) on the CPU. The network's speed does not depend on its training, so it is fitted for
one epoch on a few teacher spectra. moments' batched time is its single-evaluation time x
the batch (moments has no batch mode), measured over a few parameter draws (`--n-moments`
for 1 pop, fewer for 2 and 3). The 3-pop batch is 1,000 (a 10,000 x 9,261 float tensor and
the CP head's intermediate do not fit comfortably in memory). Targets: 1-pop >= 30x single,
>= 1,000x batched; 3-pop >= 1,000x single.
"""

import argparse
import time

import numpy as np
import torch

from sfsestimators import NeuralSFSRegressor, PiecewiseConstant, generate_teacher_data
from sfsestimators.models import YRI_CEU, OutOfAfrica3


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(label, model, sizes, n_fit, n_moments, batch_size, head="dense"):
    """Times for one case: moments single, emulator single, predict(), batch."""
    theta, sfs, _ = generate_teacher_data(model, n_fit, sizes, n_jobs=-1, random_state=0)
    est = NeuralSFSRegressor(max_epochs=1, random_state=0, device="cpu", head=head,
                             rank=32, early_stopping=False).fit(theta, sfs, model=model)
    module = est.as_torch()
    draws = model.sample_prior(n_moments, random_state=1)
    model.expected_sfs(draws[0], sizes)  # warm-up (imports, caches)
    start = time.perf_counter()
    for p in draws:
        model.expected_sfs(p, sizes)
    t_moments = (time.perf_counter() - start) / len(draws)
    one = torch.as_tensor(draws[:1], dtype=torch.float32)
    batch = torch.as_tensor(model.sample_prior(batch_size, random_state=2),
                            dtype=torch.float32)
    with torch.no_grad():
        module(one), module(batch)  # warm-up
        t_single = best_time(lambda: module(one), 100)
        t_batch = best_time(lambda: module(batch), 3)
    t_predict = best_time(lambda: est.predict(draws[:1]), 20)
    n_weights = sum(p.numel() for p in est.net_.module_.parameters())
    return label, n_weights, t_moments, t_single, t_predict, t_batch, batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-moments", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--one-pop-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    one_pop = PiecewiseConstant(n_epochs=6, padded_prior=True)
    rows = [measure(f"1-pop n={n}", one_pop, [n], 200, args.n_moments, args.batch)
            for n in (20, 100)]
    if not args.one_pop_only:
        rows.append(measure("2-pop YRI_CEU 20x20", YRI_CEU(), [20, 20], 8, 5, args.batch))
        for head in ("dense", "cp"):
            rows.append(measure(f"3-pop OOA3 20^3 {head}", OutOfAfrica3(), [20, 20, 20], 4, 3,
                                1000, head=head))

    print(f"torch threads: {torch.get_num_threads()}")
    head = (f"{'case':<22} {'weights':>10} {'moments 1 (ms)':>15} {'emu 1 (ms)':>11} "
            f"{'ratio 1':>8} {'predict() (ms)':>15} {'batch':>6} {'moments batch (s)':>18} "
            f"{'emu batch (ms)':>15} {'ratio batch':>12}")
    print(head)
    print("-" * len(head))
    for label, n_w, t_m, t_s, t_p, t_b, b in rows:
        moments_batch = t_m * b
        print(f"{label:<22} {n_w:>10,} {1e3 * t_m:>15.2f} {1e3 * t_s:>11.3f} "
              f"{t_m / t_s:>8.0f} {1e3 * t_p:>15.3f} {b:>6} {moments_batch:>18.1f} "
              f"{1e3 * t_b:>15.1f} {moments_batch / t_b:>12.0f}")

if __name__ == "__main__":
    main()
