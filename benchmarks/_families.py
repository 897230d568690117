"""Training priors of the multi-population benchmark emulators (shared by the scripts).

Narrower than the families' default bounds (which reach sizes of 1 % and migration rates of
10, where moments slows down sharply), but containing the published optima of the real data
sets with room on every side.
"""

from sfsestimators.models import YRI_CEU, OutOfAfrica3

YRI_CEU_PRIOR = YRI_CEU(bounds={
    "nu1F": (0.1, 10.0), "nu2B": (0.02, 2.0), "nu2F": (0.1, 20.0), "m": (0.0, 5.0),
    "Tp": (0.01, 1.0), "T": (0.01, 1.0),
})
OOA3_PRIOR = OutOfAfrica3(bounds={
    "nuAf": (0.5, 5.0), "nuB": (0.05, 2.0), "nuEu0": (0.02, 1.0), "nuEu": (0.5, 20.0),
    "nuAs0": (0.02, 1.0), "nuAs": (0.5, 30.0), "mAfB": (0.0, 8.0), "mAfEu": (0.0, 3.0),
    "mAfAs": (0.0, 3.0), "mEuAs": (0.0, 5.0), "TAf": (0.05, 1.0), "TB": (0.05, 1.0),
    "TEuAs": (0.01, 0.3),
})

# data file, published optimum (in the families' parameter order) and maximum log-likelihood
# (../shared/data/README.md)
PUBLISHED = {
    "yri_ceu": ("2_YRI_CEU_6_Gut", [1.881, 0.071, 1.845, 0.911, 0.355, 0.111], -1066.823),
    "ooa3": ("3_YRI_CEU_CHB_13_Gut", [1.68, 0.287, 0.129, 3.74, 0.070, 7.29, 3.65, 0.44, 0.28,
                                      1.40, 0.211, 0.338, 0.058], -6316.578),
}
