"""Per-evaluation time of moments vs the emulator, single and batched, one table, one run.

Run: python benchmarks/emulator_speed.py

1-pop PiecewiseConstant(6) at n=20 and n=100; the emulator is the default architecture
(4 x 256, GELU) on the CPU. The network's speed does not depend on its training, so it is
fitted for one epoch on 200 teacher spectra. moments' batched time is its single-evaluation
time x 10,000 (moments has no batch mode), measured over `--n-moments` parameter draws.
Targets: >= 30x single, >= 1,000x batched on CPU.
"""

import argparse
import time

import numpy as np
import torch

from sfsestimators import NeuralSFSRegressor, PiecewiseConstant, generate_teacher_data


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(model, n, args):
    """Times for one sample size: moments single, emulator single, predict(), batch."""
    theta, sfs, _ = generate_teacher_data(model, 200, [n], n_jobs=-1, random_state=0)
    est = NeuralSFSRegressor(max_epochs=1, random_state=0, device="cpu").fit(theta, sfs)
    module = est.as_torch()
    draws = model.sample_prior(args.n_moments, random_state=1)
    model.expected_sfs(draws[0], [n])  # warm-up (imports, caches)
    start = time.perf_counter()
    for p in draws:
        model.expected_sfs(p, [n])
    t_moments = (time.perf_counter() - start) / len(draws)
    one = torch.as_tensor(draws[:1], dtype=torch.float32)
    batch = torch.as_tensor(model.sample_prior(args.batch, random_state=2),
                            dtype=torch.float32)
    with torch.no_grad():
        module(one), module(batch)  # warm-up
        t_single = best_time(lambda: module(one), 200)
        t_batch = best_time(lambda: module(batch), 5)
    t_predict = best_time(lambda: est.predict(draws[:1]), 50)
    return n, t_moments, t_single, t_predict, t_batch


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-moments", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = PiecewiseConstant(n_epochs=6, padded_prior=True)
    rows = [measure(model, n, args) for n in (20, 100)]

    print(f"torch threads: {torch.get_num_threads()}, batch: {args.batch}")
    head = (f"{'n':>4} {'moments 1 (ms)':>15} {'emu 1 (ms)':>11} {'ratio 1':>8} "
            f"{'predict() (ms)':>15} {'moments batch (s)':>18} {'emu batch (ms)':>15} "
            f"{'ratio batch':>12}")
    print(head)
    print("-" * len(head))
    for n, t_m, t_s, t_p, t_b in rows:
        moments_batch = t_m * args.batch
        print(f"{n:>4} {1e3 * t_m:>15.2f} {1e3 * t_s:>11.3f} {t_m / t_s:>8.0f} "
              f"{1e3 * t_p:>15.3f} {moments_batch:>18.1f} {1e3 * t_b:>15.1f} "
              f"{moments_batch / t_b:>12.0f}")


if __name__ == "__main__":
    main()
