"""Your own model: a demes graph -> teacher data (moments) -> an emulator -> a fit.

Run: python examples/custom_model.py [--fast]          (~60 s on 2 cores; --fast ~15 s)

The family: exponential growth from N_ref to nu * N_ref over the last T (2 N_ref
generations). Teacher spectra come from moments through the demes graph, in parallel; the
emulator is a NeuralSFSRegressor; the fit refines it locally where it is off the exact
likelihood and polishes with moments.
"""

import demes
from _common import parse

from sfsestimators import DemographyFitter, NeuralSFSRegressor, generate_teacher_data
from sfsestimators.models import CustomModel


def growth(p, N_ref):
    b = demes.Builder(time_units="generations")
    b.add_deme("pop0", epochs=[dict(start_size=N_ref, end_time=2 * N_ref * p["T"]),
                               dict(start_size=N_ref, end_size=N_ref * p["nu"])])
    return b.resolve()


args, say = parse(__doc__)
model = CustomModel(["nu", "T"], [1e-2, 1e-3], [100, 5], graph_function=growth)
n_teacher, epochs = (150, 15) if args.fast else (1500, 80)
theta, sfs, failures = generate_teacher_data(model, n_teacher, [20], n_jobs=2,
                                             random_state=0, progress=True)
say(f"teacher: {len(theta)} spectra, {len(failures)} failed")
emulator = NeuralSFSRegressor((64, 64), max_epochs=epochs, random_state=0, progress=True)
emulator.fit(theta, sfs, model=model)
say(f"emulator trained ({emulator.n_epochs_} epochs)")
truth = [4.0, 0.2]
observed = model.expected_sfs(truth, [20]) * 20_000
fitter = DemographyFitter(emulator, model, n_starts=8, random_state=0,
                          progress=True).fit(observed)
print(fitter.summary())
say(f"truth nu={truth[0]}, T={truth[1]}")
