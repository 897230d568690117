"""Train the shipped ``small`` MainspringARGEstimator preset, resumably.

Run: python -m sfsestimators.pretrained.train_mainspring [--steps 5400] [--chunk 100]
         [--workdir bench_out/mainspring] [--output PATH] [--device cpu] [--workers 0]
     python -m sfsestimators.pretrained.train_mainspring --node-head [--phases 3]

Fresh msprime simulations every step (1-7 epoch histories, sizes 10^U(2,5), exponential
epoch durations; 20 haplotypes x 400 kb, mu = 1.29e-8, r = 1.28e-8, 2 kb windows), a cosine
learning rate over ``--steps``. skorch writes the weights, the optimiser state and the
history to ``--workdir`` after every epoch of ``--chunk`` steps; running the same command
again resumes where a killed run stopped (the data of step k are seeded by k, so a resumed
run trains as an uninterrupted one). The output holds the parameters, weights, optimiser
state and history (a weights-only torch file of a few hundred KB).

The shipped ``mainspring_small.pt`` (5,400 steps, ~43 min on a 2-core CPU) was trained by the
hand-written loop this command replaces (three resumed calls of cosine schedules to 1,800,
3,200 and 5,400 steps) and converted to the skorch file format; its predictions are
unchanged (benchmarks/genealogy_accuracy.py gives the same MSE before and after).

``--node-head`` then trains the node-time head of the shipped file afresh through the first
``--phases`` (3 or 4) phases of :data:`~sfsestimators.genealogy.CURRICULUM` (constant N_e;
1-2 size changes; the full prior; robustness: sweeps, migration, rates off the nominal
ones; node and SFS weights 0.1 / 0.5 / 1 / 1; 300 / 300 / 600 / 300 steps, a cosine learning
rate from ``--lr``, 4 held-out simulations scored every epoch) on the frozen backbone
(``freeze_backbone=True``: the pairwise times, the N_e(t) decoder and the copying-parent
head, which read them, stay valid and are copied over), and writes the result over
``--output`` (~6-8 min on 2 cores). Resumable the same way (``--workdir``/node_headP).
"""

from __future__ import annotations

import argparse
import os
import time

from ..genealogy import MainspringARGEstimator
from . import MAINSPRING_WEIGHTS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5400)
    parser.add_argument("--chunk", type=int, default=100, help="steps per epoch/checkpoint")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--features", default="triplet")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader workers simulating in parallel")
    parser.add_argument("--workdir", default=os.path.join("bench_out", "mainspring"))
    parser.add_argument("--output", default=MAINSPRING_WEIGHTS)
    parser.add_argument("--node-head", action="store_true",
                        help="train the node-time head of --output through the curriculum")
    parser.add_argument("--phases", type=int, default=3, choices=(3, 4),
                        help="--node-head: phases 1-3, or all four (with robustness)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.node_head:
        est = train_node_head(args)
        est.save(args.output)
        print(f"{est.summary()}\nwrote {args.output} ({time.perf_counter() - start:.0f} s)")
        return
    est = MainspringARGEstimator(
        args.preset, features=args.features, max_steps=args.steps,
        steps_per_epoch=args.chunk, lr=args.lr, lr_schedule="cosine",
        mutation_rate=1.29e-8, recombination_rate=1.28e-8, device=args.device,
        n_workers=args.workers, random_state=0, verbose=1,
        checkpoint_dir=os.path.join(args.workdir, f"{args.preset}_{args.features}"),
    ).fit()
    est.save(args.output)
    print(f"{est.summary()}\nwrote {args.output} ({time.perf_counter() - start:.0f} s)")


def train_node_head(args):
    """The node-time head on the frozen backbone of ``args.output`` (see the module)."""
    from ..genealogy import CURRICULUM

    base = MainspringARGEstimator.load(args.output, device="cpu")
    phases = CURRICULUM[:args.phases]
    # the network without a head trained before: this one starts afresh
    start = os.path.join(args.workdir, "node_head_base.pt")
    os.makedirs(args.workdir, exist_ok=True)
    base.module_.node_head = None
    base.save(start)
    params = {**base.get_params(), "curriculum": [dict(p.__dict__) for p in phases],
              "init_from": start,
              "freeze_backbone": True, "lr": args.lr, "lr_schedule": "cosine",
              "steps_per_epoch": args.chunk, "validation_size": 4, "device": args.device,
              "n_workers": args.workers, "random_state": 0, "verbose": 1,
              "checkpoint_dir": os.path.join(args.workdir, f"node_head{args.phases}")}
    est = MainspringARGEstimator(**params).fit()
    # they read the pairwise outputs, which did not change
    for attr in ("ne_decoder_", "ne_decoder_history_", "copying_head_",
                 "copying_head_history_"):
        if hasattr(base, attr):
            setattr(est, attr, getattr(base, attr))
    # the backbone's own steps count too (a head trained before is replaced)
    est._steps_before = base._steps_before if base.freeze_backbone else base.n_steps_
    est.init_from = "small" if args.output == MAINSPRING_WEIGHTS else args.output
    est._sync()
    # shipped settings: no checkpoint folder of this machine, quiet
    return est.set_params(checkpoint_dir=None, verbose=0, n_workers=0, device="auto")


if __name__ == "__main__":
    main()
