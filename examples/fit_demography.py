"""Fit a demography out of the box, with uncertainty, model selection and a posterior.

Run: python examples/fit_demography.py
"""

import msprime
import numpy as np

from sfsestimators import DemographyFitter, PiecewiseConstant, sfs_from_tree_sequence

# A bottleneck then growth, simulated with msprime from the model's own demes graph
model = PiecewiseConstant(n_epochs=2)
truth = [0.1, 2.0, 0.05, 0.1]                 # nu1, nu2 (x N_ref), T1, T2 (x 2 N_ref gens)
mu, length, N_ref = 1e-8, 2e7, 1e4
ts = msprime.sim_ancestry(samples=15, demography=model.to_msprime(truth, N_ref=N_ref),
                          sequence_length=length, recombination_rate=1e-8, random_seed=1)
ts = msprime.sim_mutations(ts, rate=mu, random_seed=2)
observed = sfs_from_tree_sequence(ts)
print(f"{ts.num_sites} SNPs, n = {observed.sample_sizes[0]}; truth {truth}")

# The shipped emulator picks the number of epochs by AIC; moments confirms the optimum
fitter = DemographyFitter(mutation_rate=mu, sequence_length=length, generation_time=25,
                          random_state=0).fit(observed)
print(fitter.summary())
print(f"N_ref estimated {fitter.N_ref_:.0f} (truth {N_ref:.0f})")

# Bootstrap refits, all replicates as one batch through the emulator
refits = fitter.bootstrap_refit(100, random_state=0)
print("bootstrap 95 % intervals:",
      {n: np.round(np.quantile(refits[:, j], [0.025, 0.975]), 4).tolist()
       for j, n in enumerate(fitter.model_.param_names)})

# A posterior by NUTS through the emulator (pip install 'sfsestimators[bayes]')
draws = fitter.sample_posterior(300, warmup_steps=150, random_state=0)
print("posterior medians:", dict(zip(fitter.model_.param_names,
                                     np.round(np.median(draws, axis=0), 4))))
