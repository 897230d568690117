"""Small checks of estimator hyperparameters, shared by the estimators."""

from __future__ import annotations

import numbers


def check_int_params(estimator, names, minimum=1):
    """Raise a ValueError naming the first of ``names`` that is not an integer >= minimum."""
    for name in names:
        value = getattr(estimator, name)
        if isinstance(value, bool) or not (isinstance(value, numbers.Integral)
                                           and value >= minimum):
            raise ValueError(f"{name} is {value!r}; expected an integer >= {minimum}.")


def check_count(n, name, minimum=0):
    """``n`` as an int, or a ValueError naming ``name`` unless it is an integer >=
    ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        expected = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{name} is {n!r}; expected {expected}.")
    return int(n)
