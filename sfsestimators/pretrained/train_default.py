"""Train the shipped default emulator, reproducibly and resumably.

Run: python -m sfsestimators.pretrained.train_default [--n-examples 100000] [--n 100]
         [--max-epochs 200] [--workdir bench_out/default] [--output PATH]

PiecewiseConstant(6, padded_prior=True): every draw has 1 to 6 active epochs, the older ones
padded with neutral epochs, so the network serves K = 1..6. Teacher spectra at n = 100
(exactly projected to any smaller n at use). Teacher shards and the emulator checkpoint live
in --workdir, so a killed run resumes where it stopped. The last 5 % of the draws are held
out and the accuracy on them is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ..emulator import NeuralSFSRegressor
from ..metrics import mean_relative_error
from ..models import PiecewiseConstant
from ..teacher import generate_teacher_data
from . import DEFAULT_WEIGHTS

DEFAULT_MODEL = PiecewiseConstant(n_epochs=6, padded_prior=True)


def cosine_lr(lr, epoch, max_epochs, floor=0.05):
    """Cosine decay from ``lr`` to ``floor * lr`` over ``max_epochs``."""
    frac = min(1.0, epoch / max_epochs)
    return float(lr * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * frac))))


def train_resumable(theta, sfs, checkpoint, *, max_epochs, chunk=20, log=print, model="auto",
                    **params):
    """Train (or resume) a NeuralSFSRegressor, saving ``checkpoint`` every ``chunk`` epochs.

    The learning rate follows a cosine decay over ``max_epochs`` (:func:`cosine_lr`), set at
    the start of every chunk; the checkpoint holds the optimiser state and the seeds, so a
    killed run resumed from it trains exactly as an uninterrupted one (without early
    stopping, whose counters restart). Stops at ``max_epochs`` or when early
    stopping fires inside a chunk. ``model`` is passed to ``fit`` ("auto": the default
    family when theta has its 12 columns, else None).
    """
    if isinstance(model, str) and model == "auto":
        model = DEFAULT_MODEL if theta.shape[1] == 12 else None
    lr0 = params.pop("lr", 1e-3)
    est = None
    if os.path.exists(checkpoint):
        est = NeuralSFSRegressor.load(checkpoint, device=params.get("device", "cpu"))
        log(f"resumed {checkpoint} at epoch {est.n_epochs_}")
    start = time.perf_counter()
    while est is None or est.n_epochs_ < max_epochs:
        if est is None:
            est = NeuralSFSRegressor(max_epochs=chunk, lr=lr0, **params).fit(
                theta, sfs, model=model)
        else:
            est.set_params(lr=cosine_lr(lr0, est.n_epochs_, max_epochs))
            est.partial_fit(theta, sfs, epochs=min(chunk, max_epochs - est.n_epochs_))
        est.save(checkpoint)
        hist = est.history_
        valid = (f", valid loss {hist[-1, 'valid_loss']:.3e}" if "valid_loss" in hist[-1]
                 else "")
        log(f"epoch {est.n_epochs_}: train loss {hist[-1, 'train_loss']:.3e}{valid}, lr "
            f"{est.net_.optimizer_.param_groups[0]['lr']:.1e} "
            f"({time.perf_counter() - start:.0f} s)")
        if len(hist) < chunk:  # early stopping fired inside the chunk
            break
    return est


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-examples", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256, 256])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", default=os.path.join("bench_out", "default"))
    parser.add_argument("--output", default=DEFAULT_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build_emulator(DEFAULT_MODEL, [args.n], args, model_for_fit="auto", param_scale="log")


def build_emulator(model, sample_sizes, args, *, n_jobs=-1, model_for_fit=None, **params):
    """Teacher data (resumable shards in ``args.workdir``), a resumable emulator
    (:func:`train_resumable`), its held-out error on the last 5 % of the draws, and the
    shipped file ``args.output`` (without the optimiser state). ``args`` carries
    n_examples, max_epochs, chunk, hidden, lr, batch_size, device, seed, workdir, output
    (and optionally dt_fac, the teacher's time-step factor)."""
    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.perf_counter()
    data = generate_teacher_data(model, args.n_examples, sample_sizes, n_jobs=n_jobs,
                                 random_state=args.seed, progress=True,
                                 out=os.path.join(args.workdir, "teacher"),
                                 dt_fac=getattr(args, "dt_fac", None))
    print(data.summary())
    print(f"teacher: {time.perf_counter() - t0:.0f} s")
    n_test = max(1, len(data.theta) // 20)
    t0 = time.perf_counter()
    est = train_resumable(
        data.theta[:-n_test], data.sfs[:-n_test], os.path.join(args.workdir, "emulator.pt"),
        max_epochs=args.max_epochs, chunk=args.chunk, model=model_for_fit or model,
        hidden_layer_sizes=tuple(args.hidden), lr=args.lr, batch_size=args.batch_size,
        patience=30, random_state=args.seed, device=args.device, **params)
    print(f"training: {time.perf_counter() - t0:.0f} s this run, {est.n_epochs_} epochs")
    per = mean_relative_error(data.sfs[-n_test:].reshape(n_test, -1),
                              est.predict(data.theta[-n_test:]), per_spectrum=True)
    print(f"held-out ({n_test} spectra, n={sample_sizes}): mean relative error "
          f"{100 * per.mean():.2f} %, p95 {100 * np.quantile(per, 0.95):.2f} %")
    est.save(args.output, include_optimizer=False)
    print(f"saved {args.output} ({os.path.getsize(args.output) / 1e6:.2f} MB)")
    return est

if __name__ == "__main__":
    main()
