"""A default fit on a quiet and on a busy machine, beside moments in the same conditions.

Run: python benchmarks/under_load.py [--repeats 3] [--load 2]

The fit: ``DemographyFitter(random_state=0).fit(spectrum)`` (the shipped emulator, 1-6
epochs chosen on exact AIC, exact polish and convergence check) of the command line's demo
spectrum (PiecewiseConstant(2), 20 haplotypes). The anchor: 30 moments evaluations of the
same family. "Busy": ``--load`` other processes spinning on the CPU (a 2-core machine with
other jobs). Target: our slowdown (busy / quiet) no worse than moments'. Run it with nothing
else on the machine.
"""

import argparse
import multiprocessing as mp
import time
import warnings

import numpy as np

from sfsestimators import DemographyFitter, PiecewiseConstant
from sfsestimators.cli import demo_data


def _spin(stop):
    x = 0
    while not stop.is_set():
        x += 1


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=2)
    args = parser.parse_args()
    sfs = demo_data(0)["sfs"]
    model = PiecewiseConstant(2)
    thetas = model.sample_prior(30, random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            DemographyFitter(random_state=0).fit(sfs)

    def anchor():
        for t in thetas:
            model.expected_sfs(t, [20])

    fit()  # load the emulator once
    rows = {}
    for condition in ("quiet", "busy"):
        stop, procs = mp.Event(), []
        if condition == "busy":
            procs = [mp.Process(target=_spin, args=(stop,)) for _ in range(args.load)]
            for p in procs:
                p.start()
            time.sleep(1.0)
        try:
            rows[condition] = (timed(fit, args.repeats), timed(anchor, args.repeats))
        finally:
            stop.set()
            for p in procs:
                p.join()
    (fq, mq), (fb, mb) = rows["quiet"], rows["busy"]
    print(f"{'':<26} {'quiet s':>9} {'busy s':>9} {'slowdown':>9}")
    print(f"{'DemographyFitter().fit':<26} {fq:>9.2f} {fb:>9.2f} {fb / fq:>9.2f}")
    print(f"{'moments x 30 (anchor)':<26} {mq:>9.2f} {mb:>9.2f} {mb / mq:>9.2f}")
    print(f"busy: {args.load} spinning processes; ratio of slowdowns ours / moments "
          f"{(fb / fq) / (mb / mq):.2f} (target <= 1, roughly)")


if __name__ == "__main__":
    main()
