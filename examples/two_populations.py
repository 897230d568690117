"""Two populations: a YRI/CEU-like history, fitted with the shipped SplitMigration emulator.

Run: python examples/two_populations.py [--data FILE.fs] [--fast]   (~30 s; --fast ~15 s)

Without --data, msprime simulates 10 + 10 diploids (20 Mb) from the YRI_CEU family (an
ancestral expansion, a split with a CEU bottleneck and growth, symmetric migration), projected
to 8 x 8; the fit uses the simpler SplitMigration family, whose emulator ships with the
package. With --data, give a two-population .fs (e.g. 2_YRI_CEU_6_Gut.fs projected to
n <= 20 per population).
"""

import argparse
import sys

import msprime

from sfsestimators import DemographyFitter, SplitMigration, read_sfs, sfs_from_tree_sequence
from sfsestimators.models import YRI_CEU

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data", default=None)
parser.add_argument("--fast", action="store_true")
args = parser.parse_args()
if args.data:
    observed = read_sfs(args.data)
else:
    model = YRI_CEU()
    params = model.sample_prior(1, random_state=3)[0]
    print(f"simulating YRI_CEU {dict(zip(model.param_names, params.round(3)))}", flush=True)
    ts = msprime.sim_ancestry(samples={"YRI": 10, "CEU": 10},
                              demography=model.to_msprime(params, N_ref=1e4),
                              sequence_length=2e6 if args.fast else 2e7,
                              recombination_rate=1e-8, random_seed=2)
    ts = msprime.sim_mutations(ts, rate=1.25e-8, random_seed=3)
    sets = [ts.samples(population=p.id) for p in ts.populations()]
    observed = sfs_from_tree_sequence(ts, [s for s in sets if len(s)]).project([8, 8])
print(f"data: {observed.sample_sizes.tolist()} haplotypes, {observed.S():.0f} sites",
      flush=True)
fitter = DemographyFitter(model=SplitMigration(), n_starts=4 if args.fast else 16,
                          random_state=0, progress=True).fit(observed)
print(fitter.summary())
sys.exit(0)
