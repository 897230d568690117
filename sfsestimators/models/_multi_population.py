"""Families of two and three populations (split, isolation-with-migration, Gutenkunst 2009)."""

from __future__ import annotations

from ._base import DemographicModel, _epochs_builder
from ._bounds import MIGRATION_BOUNDS, MULTI_POP_SIZE_BOUNDS, TIME_BOUNDS

__all__ = ["SplitMigration", "SplitAsymmetricMigration", "IsolationMigration",
           "IsolationMigrationPre", "YRI_CEU", "OutOfAfrica3", "FourPopulationTree"]


def _migrate(b, N_ref, rate, *, demes=None, source=None, dest=None):
    """Add a migration with a ``2 * N_ref * m`` scaled ``rate``; a zero rate adds nothing."""
    if rate > 0:
        b.add_migration(demes=demes, source=source, dest=dest, rate=rate / (2 * N_ref))


def _split_graph(N_ref, T, start_sizes, end_sizes, migrations, names=("pop0", "pop1")):
    b = _epochs_builder()
    t = 2 * N_ref * T
    b.add_deme("ancestral", epochs=[dict(start_size=N_ref, end_time=t)])
    for name, start, end in zip(names, start_sizes, end_sizes):
        b.add_deme(name, ancestors=["ancestral"], epochs=[dict(start_size=start, end_size=end)])
    for source, dest, rate in migrations:
        _migrate(b, N_ref, rate, source=source, dest=dest)
    return b.resolve()


class SplitMigration(DemographicModel):
    """Split into sizes ``nu1``, ``nu2`` a time ``T`` ago, symmetric migration ``m``.

    As moments' ``Demographics2D.split_mig``; parameters ``(nu1, nu2, T, m)``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import SplitMigration
    >>> SplitMigration().expected_sfs([1.0, 0.5, 0.2, 1.0], [4, 4]).shape
    (5, 5)
    """

    pop_ids = ("pop0", "pop1")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nu1", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
            ("m", *MIGRATION_BOUNDS, "linear"),
        ]

    def _graph(self, p, N_ref):
        nu1, nu2 = N_ref * p["nu1"], N_ref * p["nu2"]
        return _split_graph(
            N_ref, p["T"], (nu1, nu2), (nu1, nu2),
            [("pop0", "pop1", p["m"]), ("pop1", "pop0", p["m"])],
        )


class SplitAsymmetricMigration(DemographicModel):
    """Split into sizes ``nu1``, ``nu2`` a time ``T`` ago, migration ``m12`` and ``m21``.

    As moments' ``Demographics2D.split_asym_mig`` (and the ``2_DivMig_5_Sim`` benchmark's
    model): ``m12`` is the migration into population 1 (``pop0``) from population 2
    (``pop1``), ``m21`` the reverse, both ``2 * N_ref * m``. Parameters
    ``(nu1, nu2, T, m12, m21)``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import SplitAsymmetricMigration
    >>> SplitAsymmetricMigration().expected_sfs([1.0, 0.5, 0.2, 1.0, 0.1], [4, 4]).shape
    (5, 5)
    """

    pop_ids = ("pop0", "pop1")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nu1", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
            ("m12", *MIGRATION_BOUNDS, "linear"),
            ("m21", *MIGRATION_BOUNDS, "linear"),
        ]

    def _graph(self, p, N_ref):
        nu1, nu2 = N_ref * p["nu1"], N_ref * p["nu2"]
        return _split_graph(N_ref, p["T"], (nu1, nu2), (nu1, nu2),
                            [("pop1", "pop0", p["m12"]), ("pop0", "pop1", p["m21"])])


class IsolationMigration(DemographicModel):
    """Isolation with migration, as dadi/moments' ``IM``.

    The ancestor splits a time ``T`` ago into sizes ``s`` and ``1 - s``, which grow
    exponentially to ``nu1`` and ``nu2``; ``m12`` is the migration into population 1 from
    population 2 and ``m21`` the reverse (both ``2 * N_ref * m``).

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import IsolationMigration
    >>> IsolationMigration().param_names
    ('s', 'nu1', 'nu2', 'T', 'm12', 'm21')
    """

    pop_ids = ("pop0", "pop1")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("s", 0.01, 0.99, "linear"),
            ("nu1", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
            ("m12", *MIGRATION_BOUNDS, "linear"),
            ("m21", *MIGRATION_BOUNDS, "linear"),
        ]

    def _graph(self, p, N_ref):
        s = p["s"]
        return _split_graph(
            N_ref, p["T"],
            (N_ref * s, N_ref * (1 - s)),
            (N_ref * p["nu1"], N_ref * p["nu2"]),
            # m12: lineages of pop 1 (pop0) come from pop 2 (pop1), i.e. forward-time
            # migrants move from pop1 into pop0
            [("pop1", "pop0", p["m12"]), ("pop0", "pop1", p["m21"])],
        )


class IsolationMigrationPre(DemographicModel):
    """Isolation with migration after an ancestral size change (dadi's ``IM_pre``).

    The ancestor changes to size ``nuPre`` for ``TPre``, then splits into sizes
    ``s * nuPre`` and ``(1 - s) * nuPre``, which grow exponentially to ``nu1`` and ``nu2``
    over ``T``, with migrations ``m12`` (into population 1 from 2) and ``m21``. Parameters
    ``(nuPre, TPre, s, nu1, nu2, T, m12, m21)``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import IsolationMigrationPre
    >>> IsolationMigrationPre().n_params
    8
    """

    pop_ids = ("pop0", "pop1")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nuPre", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("TPre", *TIME_BOUNDS, "log"),
            ("s", 0.01, 0.99, "linear"),
            ("nu1", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
            ("m12", *MIGRATION_BOUNDS, "linear"),
            ("m21", *MIGRATION_BOUNDS, "linear"),
        ]

    def _graph(self, p, N_ref):
        b = _epochs_builder()
        t_split = 2 * N_ref * p["T"]
        pre = N_ref * p["nuPre"]
        b.add_deme("ancestral", epochs=[
            dict(start_size=N_ref, end_time=t_split + 2 * N_ref * p["TPre"]),
            dict(start_size=pre, end_time=t_split)])
        for name, frac, final in (("pop0", p["s"], p["nu1"]), ("pop1", 1 - p["s"], p["nu2"])):
            b.add_deme(name, ancestors=["ancestral"],
                       epochs=[dict(start_size=pre * frac, end_size=N_ref * final)])
        _migrate(b, N_ref, p["m12"], source="pop1", dest="pop0")
        _migrate(b, N_ref, p["m21"], source="pop0", dest="pop1")
        return b.resolve()


class YRI_CEU(DemographicModel):  # noqa: N801 (the name of the published model)
    """The two-population model of Gutenkunst et al. (2009) for YRI and CEU.

    The ancestral population changes to size ``nu1F`` for ``Tp``; it then splits: YRI keeps
    ``nu1F``; CEU starts at ``nu2B`` and grows exponentially to ``nu2F`` over ``T``, with
    symmetric migration ``m``. Parameters ``(nu1F, nu2B, nu2F, m, Tp, T)``; sampled
    populations ``("YRI", "CEU")``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import YRI_CEU
    >>> YRI_CEU().pop_ids
    ('YRI', 'CEU')
    """

    pop_ids = ("YRI", "CEU")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return [
            ("nu1F", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2B", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("nu2F", *MULTI_POP_SIZE_BOUNDS, "log"),
            ("m", *MIGRATION_BOUNDS, "linear"),
            ("Tp", *TIME_BOUNDS, "log"),
            ("T", *TIME_BOUNDS, "log"),
        ]

    def _graph(self, p, N_ref):
        b = _epochs_builder()
        t_split = 2 * N_ref * p["T"]
        nu1F = N_ref * p["nu1F"]
        b.add_deme(
            "ancestral",
            epochs=[
                dict(start_size=N_ref, end_time=t_split + 2 * N_ref * p["Tp"]),
                dict(start_size=nu1F, end_time=t_split),
            ],
        )
        b.add_deme("YRI", ancestors=["ancestral"], epochs=[dict(start_size=nu1F)])
        b.add_deme(
            "CEU",
            ancestors=["ancestral"],
            epochs=[dict(start_size=N_ref * p["nu2B"], end_size=N_ref * p["nu2F"])],
        )
        _migrate(b, N_ref, p["m"], demes=["YRI", "CEU"])
        return b.resolve()


class OutOfAfrica3(DemographicModel):
    """The three-population out-of-Africa model of Gutenkunst et al. (2009).

    The ancestor grows to ``nuAf`` for ``TAf``; YRI (size ``nuAf``) and the Eurasian founder
    (size ``nuB``, migration ``mAfB`` with YRI) split and last ``TB``; the founder splits
    into CEU and CHB, growing exponentially ``nuEu0 -> nuEu`` and ``nuAs0 -> nuAs`` over
    ``TEuAs``, with symmetric migrations ``mAfEu``, ``mAfAs`` and ``mEuAs``. Sampled
    populations ``("YRI", "CEU", "CHB")``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import OutOfAfrica3
    >>> OutOfAfrica3().n_params
    13
    """

    pop_ids = ("YRI", "CEU", "CHB")

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        sizes = ["nuAf", "nuB", "nuEu0", "nuEu", "nuAs0", "nuAs"]
        migrations = ["mAfB", "mAfEu", "mAfAs", "mEuAs"]
        times = ["TAf", "TB", "TEuAs"]
        return (
            [(name, *MULTI_POP_SIZE_BOUNDS, "log") for name in sizes]
            + [(name, *MIGRATION_BOUNDS, "linear") for name in migrations]
            + [(name, *TIME_BOUNDS, "log") for name in times]
        )

    def _graph(self, p, N_ref):
        b = _epochs_builder()
        t_eu_as = 2 * N_ref * p["TEuAs"]
        t_b = t_eu_as + 2 * N_ref * p["TB"]
        t_af = t_b + 2 * N_ref * p["TAf"]
        nuAf = N_ref * p["nuAf"]
        b.add_deme(
            "ancestral",
            epochs=[dict(start_size=N_ref, end_time=t_af), dict(start_size=nuAf, end_time=t_b)],
        )
        b.add_deme("YRI", ancestors=["ancestral"], epochs=[dict(start_size=nuAf)])
        b.add_deme(
            "B", ancestors=["ancestral"],
            epochs=[dict(start_size=N_ref * p["nuB"], end_time=t_eu_as)],
        )
        b.add_deme(
            "CEU", ancestors=["B"],
            epochs=[dict(start_size=N_ref * p["nuEu0"], end_size=N_ref * p["nuEu"])],
        )
        b.add_deme(
            "CHB", ancestors=["B"],
            epochs=[dict(start_size=N_ref * p["nuAs0"], end_size=N_ref * p["nuAs"])],
        )
        _migrate(b, N_ref, p["mAfB"], demes=["YRI", "B"])
        _migrate(b, N_ref, p["mAfEu"], demes=["YRI", "CEU"])
        _migrate(b, N_ref, p["mAfAs"], demes=["YRI", "CHB"])
        _migrate(b, N_ref, p["mEuAs"], demes=["CEU", "CHB"])
        return b.resolve()


class FourPopulationTree(DemographicModel):
    """Four populations from three successive splits, with migration between sisters.

    The ancestor (size 1) splits ``T1 + T2 + T3`` ago into ``A`` and the ancestor of
    ``B, C, D`` (both size 1); that one splits ``T2 + T3`` ago into ``B`` and the ancestor of
    ``C, D``, which splits ``T3`` ago into ``C`` and ``D``. Each sampled population has its
    own constant size from its split on (``nuA``, ``nuB``, ``nuC``, ``nuD``); ``mAB`` is the
    symmetric migration between ``A`` and ``B`` (from ``B``'s split on), ``mCD`` between ``C``
    and ``D``. Parameters ``(nuA, nuB, nuC, nuD, mAB, mCD, T1, T2, T3)``; sampled
    populations ``("A", "B", "C", "D")``.

    Parameters
    ----------
    bounds : dict, default=None
        Overrides of the default bounds.

    Examples
    --------
    >>> from sfsestimators.models import FourPopulationTree
    >>> FourPopulationTree().expected_sfs([1, 0.5, 2, 1, 1, 0.5, 0.3, 0.2, 0.1], [2] * 4,
    ...                                   min_compute_size=0).shape
    (3, 3, 3, 3)

    moments computes this family at 10 haploid samples per population by default
    (:attr:`default_min_compute_size`), ~2 s per spectrum with ``dt_fac=0.05``.
    """

    pop_ids = ("A", "B", "C", "D")
    #: moments computes at 10 per population (21^4 entries at 20 would cost ~40x more); its
    #: migration closure is then a few % off the coalescent expectation, a fixed error of
    #: this family's teacher (the fitter's exact likelihood uses the same computation)
    default_min_compute_size = 10

    def __init__(self, *, bounds=None):
        self.bounds = bounds

    def _parameter_table(self):
        return (
            [(name, *MULTI_POP_SIZE_BOUNDS, "log") for name in ("nuA", "nuB", "nuC", "nuD")]
            + [(name, *MIGRATION_BOUNDS, "linear") for name in ("mAB", "mCD")]
            + [(name, *TIME_BOUNDS, "log") for name in ("T1", "T2", "T3")]
        )

    def _graph(self, p, N_ref):
        b = _epochs_builder()
        t3 = 2 * N_ref * p["T3"]
        t2 = t3 + 2 * N_ref * p["T2"]
        t1 = t2 + 2 * N_ref * p["T1"]
        b.add_deme("ancestral", epochs=[dict(start_size=N_ref, end_time=t1)])
        b.add_deme("A", ancestors=["ancestral"], epochs=[dict(start_size=N_ref * p["nuA"])])
        b.add_deme("BCD", ancestors=["ancestral"],
                   epochs=[dict(start_size=N_ref, end_time=t2)])
        b.add_deme("B", ancestors=["BCD"], epochs=[dict(start_size=N_ref * p["nuB"])])
        b.add_deme("CD", ancestors=["BCD"], epochs=[dict(start_size=N_ref, end_time=t3)])
        b.add_deme("C", ancestors=["CD"], epochs=[dict(start_size=N_ref * p["nuC"])])
        b.add_deme("D", ancestors=["CD"], epochs=[dict(start_size=N_ref * p["nuD"])])
        _migrate(b, N_ref, p["mAB"], demes=["A", "B"])
        _migrate(b, N_ref, p["mCD"], demes=["C", "D"])
        return b.resolve()
