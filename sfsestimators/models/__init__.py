"""Demographic models: parametric families of histories in moments/dadi units.

Every family is written once as a :class:`demes.Graph`, which drives both the teacher
(``moments.Demes``) and the simulator (``msprime.Demography.from_demes``).
"""

from ._base import CustomModel, DemographicModel, moments_time_step
from ._graph import GRAPH_NODE_FEATURES, encode_graph, graph_layout_size
from ._multi_population import (
    YRI_CEU,
    FourPopulationTree,
    IsolationMigration,
    IsolationMigrationPre,
    OutOfAfrica3,
    SplitAsymmetricMigration,
    SplitMigration,
)
from ._one_population import (
    Bottlegrowth,
    Growth,
    PiecewiseConstant,
    PiecewiseExponential,
    ThreeEpoch,
    TwoEpoch,
)

__all__ = [
    "DemographicModel",
    "CustomModel",
    "moments_time_step",
    "PiecewiseConstant",
    "TwoEpoch",
    "ThreeEpoch",
    "Bottlegrowth",
    "Growth",
    "PiecewiseExponential",
    "SplitMigration",
    "SplitAsymmetricMigration",
    "IsolationMigration",
    "IsolationMigrationPre",
    "YRI_CEU",
    "OutOfAfrica3",
    "FourPopulationTree",
    "get_model",
    "model_spec",
    "model_from_spec",
    "encode_graph",
    "graph_layout_size",
    "GRAPH_NODE_FEATURES",
]

_REGISTRY = {
    "piecewise": PiecewiseConstant,
    "two_epoch": TwoEpoch,
    "three_epoch": ThreeEpoch,
    "bottlegrowth": Bottlegrowth,
    "growth": Growth,
    "piecewise_exponential": PiecewiseExponential,
    "split_migration": SplitMigration,
    "split_asymmetric_migration": SplitAsymmetricMigration,
    "isolation_migration": IsolationMigration,
    "isolation_migration_pre": IsolationMigrationPre,
    "yri_ceu": YRI_CEU,
    "out_of_africa3": OutOfAfrica3,
    "four_population_tree": FourPopulationTree,
}


def get_model(name, **params):
    """Build a built-in model by its short name (as used by the command line).

    Parameters
    ----------
    name : str
        One of ``"piecewise"``, ``"piecewise_exponential"``, ``"two_epoch"``,
        ``"three_epoch"``, ``"bottlegrowth"``, ``"growth"``, ``"split_migration"``,
        ``"split_asymmetric_migration"``, ``"isolation_migration"``,
        ``"isolation_migration_pre"``, ``"yri_ceu"``, ``"out_of_africa3"``,
        ``"four_population_tree"``.
    **params
        Constructor parameters, e.g. ``n_epochs=3`` for ``"piecewise"``.

    Examples
    --------
    >>> from sfsestimators.models import get_model
    >>> get_model("piecewise", n_epochs=3)
    PiecewiseConstant(n_epochs=3)
    """
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"model is {name!r}; expected one of {sorted(_REGISTRY)}.")
    return _REGISTRY[key](**params)


def model_spec(model):
    """A built-in model as plain values (class name and parameters, for weights-only torch
    files and JSON), or None for a model that is not built in or has non-plain parameters.

    Examples
    --------
    >>> from sfsestimators.models import PiecewiseConstant, model_from_spec, model_spec
    >>> model_from_spec(model_spec(PiecewiseConstant(n_epochs=3)))
    PiecewiseConstant(n_epochs=3)
    """
    if model is None or _BUILT_IN.get(type(model).__name__) is not type(model):
        return None
    params = model.get_params(deep=False)
    if any(not isinstance(v, (int, float, bool, str, type(None))) for v in params.values()):
        return None
    return {"class": type(model).__name__, "params": params}


def model_from_spec(spec):
    """The model :func:`model_spec` described (None for None)."""
    if not spec:
        return None
    return _BUILT_IN[spec["class"]](**spec["params"])


_BUILT_IN = {cls.__name__: cls for cls in _REGISTRY.values()}
