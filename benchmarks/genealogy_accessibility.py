"""Inaccessible sequence: Mainspring with and without the accessibility mask.

Run: python benchmarks/genealogy_accessibility.py [--seed 777]

msprime: 10 diploids x 1 Mb, constant N_e 2e4, mu 1.29e-8, r 1e-8. Ten stretches of 20 kb
(20 % of the sequence) are made inaccessible: their sites are removed, as a real call set
has none there. MSE of ln window-mean pairwise TMRCA (2 kb windows, all pairs) of the shipped
network on (1) the complete data, (2) the data with holes and `predict(accessible=...)`,
(3) the data with holes and no mask (the holes read as identical sequence), in the windows
the holes touch and elsewhere.
"""

import argparse
import warnings

import numpy as np

from sfsestimators import MainspringARGEstimator
from sfsestimators.simulate import SizeHistory, extract_targets, simulate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    est = MainspringARGEstimator.pretrained(device="cpu")
    ts = simulate(SizeHistory(np.array([0.0]), np.array([2e4])), 20, 1e6,
                  mutation_rate=1.29e-8, recombination_rate=1e-8, random_state=args.seed)
    length = ts.sequence_length
    rng = np.random.default_rng(1)
    starts = np.sort(rng.choice(np.arange(5e4, 1e6 - 5e4, 5e4), 10, replace=False))
    holes = [(s, s + 2e4) for s in starts]
    pos = ts.tables.sites.position
    keep = np.ones(len(pos), bool)
    for a, b in holes:
        keep &= ~((pos >= a) & (pos < b))
    accessible, x = [], 0.0
    for a, b in holes:
        accessible.append([x, a])
        x = b
    accessible.append([x, length])
    g = ts.genotype_matrix()[keep]
    truth = np.log(extract_targets(ts, est.window_size)["tmrca"])
    iu = np.triu_indices(20, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the counts of dark windows
        rows = [("complete data", est.predict(ts)),
                ("holes, accessible= mask", est.predict((g, pos[keep]), sequence_length=length,
                                                        accessible=np.array(accessible))),
                ("holes, no mask", est.predict((g, pos[keep]), sequence_length=length))]
    w = rows[0][1].windows
    touched = np.zeros(len(w) - 1, bool)
    for a, b in holes:
        touched |= (w[1:] > a) & (w[:-1] < b)

    def mse(pred, sel):
        return float(np.mean((pred.log_tmrca[sel][:, iu[0], iu[1]]
                              - truth[sel][:, iu[0], iu[1]]) ** 2))

    head = f"{'data':<26} {'MSE in holes':>12} {'MSE elsewhere':>14} {'MSE all':>8}"
    print(head)
    print("-" * len(head))
    for name, pred in rows:
        print(f"{name:<26} {mse(pred, touched):>12.3f} {mse(pred, ~touched):>14.3f} "
              f"{mse(pred, np.ones_like(touched)):>8.3f}")
    print(f"{touched.sum()} of {len(touched)} windows touch a hole")


if __name__ == "__main__":
    main()
