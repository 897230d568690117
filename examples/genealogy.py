"""Genealogies from phased haplotypes with the shipped Mainspring network.

Run: python examples/genealogy.py [--fast]             (~20 s on 2 cores)

msprime simulates 10 diploids over 1 Mb (a held-out seed); Mainspring predicts the pairwise
coalescence time of every pair in every 2 kb window, with uncertainty, and the local trees as
a tskit tree sequence (nodes dated by its node-time head), whose implied SFS is compared with
the data's; the truth comes from the simulation's own trees.
"""

import numpy as np
from _common import parse

from sfsestimators import MainspringARGEstimator
from sfsestimators.simulate import MUTATION_RATE, SizeHistory, extract_targets, simulate

args, say = parse(__doc__)
length = 2e5 if args.fast else 1e6
ts = simulate(SizeHistory([0.0, 2000.0], [1e4, 3e4]), 20, length, random_state=12345)
say(f"simulated {ts.num_sites} sites, {ts.num_samples} haplotypes, {length:g} bp")
est = MainspringARGEstimator.pretrained(device="cpu")
pred = est.predict(ts)
truth = np.log(extract_targets(ts, est.window_size)["tmrca"])
iu = np.triu_indices(ts.num_samples, 1)
mse = np.mean((pred.log_tmrca[:, iu[0], iu[1]] - truth[:, iu[0], iu[1]]) ** 2)
inside = np.abs(pred.log_tmrca - truth)[:, iu[0], iu[1]] < 1.645 * pred.log_tmrca_sd[
    :, iu[0], iu[1]]
say(f"ln TMRCA: MSE {mse:.3f}, 90 % intervals cover {inside.mean():.2f}")
trees = pred.to_tree_sequence()
ours, true = trees.diversity(mode="branch"), ts.diversity(mode="branch")
say(f"local trees: {trees.num_trees}; branch diversity from them {ours:.4g} (truth {true:.4g})")
# their nodes are dated by the node-time head, trained on true node times and on the SFS
# the trees imply: compare that SFS with the data's
observed = ts.allele_frequency_spectrum(mode="site", polarised=True, span_normalise=False)
implied = pred.implied_sfs(MUTATION_RATE)
residual = np.abs(implied - observed)[1:-1].sum() / observed[1:-1].sum()
say(f"SFS the trees imply vs the data's: total absolute residual {residual:.2f} of the data's")
