"""Default parameter bounds of the built-in families, in the moments/dadi units.

Sizes are relative to ``N_ref``, times in ``2 * N_ref`` generations, migration rates
``2 * N_ref * m``. A family's ``bounds`` constructor argument overrides them per parameter.
These values define the prior of the shipped emulators (``sfsestimators/pretrained``): do not
change them without retraining those.
"""

__all__ = ["ONE_POP_SIZE_BOUNDS", "MULTI_POP_SIZE_BOUNDS", "TIME_BOUNDS", "MIGRATION_BOUNDS"]

#: Relative sizes in the one-population families (PiecewiseConstant, TwoEpoch, ...).
ONE_POP_SIZE_BOUNDS = (1e-3, 100.0)

#: Relative sizes in the families of two or more populations (SplitMigration, ...). The floor
#: is ten times higher than for one population because of moments' cost: its time step is
#: proportional to the smallest relative size (``moments.Integration._compute_dt_1pop``), and a
#: step over a joint spectrum costs about ``(n + 1) ** (P - 1)`` times a one-population step.
#: Measured at n=20, SplitMigration(nu1, 1, 0.5, 1) takes 0.07 s at nu1=1e-2 and 0.34 s at
#: nu1=1e-3 (TwoEpoch: 0.005 s and 0.03 s).
MULTI_POP_SIZE_BOUNDS = (1e-2, 100.0)

#: Epoch durations and split times, in ``2 * N_ref`` generations (every family).
TIME_BOUNDS = (1e-4, 5.0)

#: Scaled migration rates ``2 * N_ref * m`` (linear scale, so 0 is allowed).
MIGRATION_BOUNDS = (0.0, 10.0)
