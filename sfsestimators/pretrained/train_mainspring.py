"""Train the shipped ``small`` MainspringARGEstimator preset, resumably.

Run: python -m sfsestimators.pretrained.train_mainspring [--steps 3000] [--chunk 100]
         [--workdir bench_out/mainspring] [--output PATH] [--device cpu]

Fresh msprime simulations every step (SimulationStream: 1-7 epoch histories, sizes
10^U(2,5), exponential epoch durations; 20 haplotypes x 400 kb, mu = 1.29e-8,
r = 1.28e-8, 2 kb windows). A pickle checkpoint is written every --chunk steps to --workdir,
so a killed run resumes where it stopped (the stream continues with a new seed). The output
holds the weights (torch, weights only) and the constructor parameters, a few hundred KB.

The shipped ``mainspring_small.pt`` was built by three calls on the same workdir (each a
cosine schedule from the step it resumes at; ~43 min on a 2-core CPU in all):
    python -m sfsestimators.pretrained.train_mainspring --features triplet --steps 1800
    python -m sfsestimators.pretrained.train_mainspring --features triplet --steps 3200
    python -m sfsestimators.pretrained.train_mainspring --features triplet --steps 5400
"""

from __future__ import annotations

import argparse
import os
import pickle
import time

import torch

from ..mainspring import MainspringARGEstimator
from . import MAINSPRING_WEIGHTS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--features", default="triplet")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default=os.path.join("bench_out", "mainspring"))
    parser.add_argument("--output", default=MAINSPRING_WEIGHTS)
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    ckpt = os.path.join(args.workdir, f"{args.preset}_{args.features}.pkl")
    if os.path.exists(ckpt):
        with open(ckpt, "rb") as f:
            est = pickle.load(f)
        print(f"resumed at step {est.n_steps_}")
    else:
        est = MainspringARGEstimator(args.preset, features=args.features,
                                     max_steps=args.chunk, lr=args.lr,
                                     mutation_rate=1.29e-8, recombination_rate=1.28e-8,
                                     device=args.device, random_state=0)
    start = time.perf_counter()
    while getattr(est, "n_steps_", 0) < args.steps:
        steps = min(args.chunk, args.steps - getattr(est, "n_steps_", 0))
        # cosine learning rate over the whole run, set per chunk
        done = getattr(est, "n_steps_", 0)
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(
            3.14159265 * done / args.steps)).item()))
        est.set_params(lr=lr)
        if hasattr(est, "module_"):
            for group in est._optimizer.param_groups:
                group["lr"] = lr
        est.partial_fit(steps=steps)
        with open(ckpt + ".tmp", "wb") as f:
            pickle.dump(est, f)
        os.replace(ckpt + ".tmp", ckpt)
        recent = sum(est.loss_history_[-steps:]) / steps
        print(f"step {est.n_steps_}: loss {recent:.4f}, lr {lr:.1e} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    est.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
