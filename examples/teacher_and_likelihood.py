"""From a model to teacher data to a likelihood surface, in a few lines.

Run: python examples/teacher_and_likelihood.py
"""

import numpy as np

from sfsestimators import (
    TwoEpoch,
    generate_teacher_data,
    multinomial_loglik,
    sfs_from_tree_sequence,
)

model = TwoEpoch()
truth = [0.2, 0.05]

# 1. an "observed" spectrum: simulate the history with msprime from the same demes graph
import msprime  # noqa: E402

N_ref = 1e4
ts = msprime.sim_ancestry(samples=10, demography=model.to_msprime(truth, N_ref=N_ref),
                          sequence_length=5e6, recombination_rate=1e-8, random_seed=1)
ts = msprime.sim_mutations(ts, rate=1.5e-8, random_seed=2)
observed = sfs_from_tree_sequence(ts)
print(f"observed: {observed.S():.0f} segregating sites, n = {observed.sample_sizes[0]}")

# 2. teacher data: exact expected spectra from moments over the prior
theta, sfs, failures = generate_teacher_data(model, 200, [20], n_jobs=2, random_state=0)
print(f"teacher: {len(theta)} spectra, {len(failures)} failures")

# 3. the multinomial log-likelihood of every teacher spectrum, batched, in torch
ll = multinomial_loglik(sfs, observed)
best = np.argmax(ll)
print(f"best of 200 prior draws: nu={theta[best, 0]:.3f}, T={theta[best, 1]:.3f} "
      f"(truth nu={truth[0]}, T={truth[1]}), log-likelihood {ll[best]:.2f}")
