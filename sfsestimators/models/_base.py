"""The :class:`DemographicModel` base class and user-defined models.

A model is a *family* of demographic histories indexed by a parameter vector in the
moments/dadi units: sizes relative to the ancestral size ``N_ref``, times in units of
``2 * N_ref`` generations, migration rates scaled as ``2 * N_ref * m``. Every built-in family is
written once, as a :class:`demes.Graph`; the teacher (moments) and the simulator (msprime) both
read that graph, so their unit conventions cannot drift apart.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import threading

import demes
import moments
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._scales import from_log_scale, to_log_scale
from .._validation import check_count
from ..spectrum import project

__all__ = ["DemographicModel", "CustomModel", "moments_time_step"]

_SCALES = ("log", "linear")

#: moments' default integration time-step factor (``Spectrum.integrate(dt_fac=0.02)``)
DEFAULT_DT_FAC = 0.02
_time_step = threading.local()


def _install_time_step_hook():
    """Let :func:`moments_time_step` reach ``Spectrum.integrate`` inside ``moments.Demes.SFS``
    (which does not pass ``dt_fac`` on): a wrapper that reads this thread's setting when the
    caller gives none. Installed once, on the first request for a non-default step."""
    integrate = moments.Spectrum.integrate
    if getattr(integrate, "_sfsestimators_hook", False):
        return

    @functools.wraps(integrate)
    def wrapper(self, *args, **kwargs):
        if "dt_fac" not in kwargs and len(args) < 3 and getattr(_time_step, "value", None):
            kwargs["dt_fac"] = _time_step.value
        return integrate(self, *args, **kwargs)

    wrapper._sfsestimators_hook = True
    moments.Spectrum.integrate = wrapper


@contextlib.contextmanager
def moments_time_step(dt_fac):
    """Run moments' integrations in this thread with time-step factor ``dt_fac``.

    moments chooses its step as ``dt_fac`` times the current population-size scale (default
    0.02). A larger factor is faster at a small cost in accuracy: for the out-of-Africa model
    at 20 x 20 x 20, 0.05 halves the time and moves the log-likelihood at the published
    optimum by 0.005 (``benchmarks/teacher_settings.py`` measures it per family).

    Parameters
    ----------
    dt_fac : float or None
        None leaves moments' default.
    """
    if dt_fac is None:
        yield
        return
    dt_fac = float(dt_fac)
    if not (np.isfinite(dt_fac) and 0 < dt_fac <= 1):
        raise ValueError(f"dt_fac is {dt_fac!r}; expected a time-step factor in (0, 1] "
                         f"(moments' default {DEFAULT_DT_FAC}).")
    _install_time_step_hook()
    previous = getattr(_time_step, "value", None)
    _time_step.value = dt_fac
    try:
        yield
    finally:
        _time_step.value = previous


class DemographicModel(BaseEstimator):
    """Base class of a parametric family of demographic histories.

    Subclasses describe their parameters with :meth:`_parameter_table` (names, default bounds,
    scales) and their history with :meth:`_graph` (a :class:`demes.Graph` in generations).
    Everything else -- validation, prior sampling, the expected SFS through moments, conversion
    to demes and msprime -- is shared.

    The ``bounds`` constructor parameter of every model overrides the default bounds of some
    parameters: ``{"nu": (1e-2, 10)}``.

    Parameters are given as an array-like in the order of :attr:`param_names` (a 1-D vector,
    or a 2-D array of several parameter vectors where a method says so), or as a dict.
    """

    #: Names of the sampled demes, in the order of the spectrum's axes.
    pop_ids: tuple = ("pop0",)

    @property
    def default_min_compute_size(self):
        """The computing sample size of :meth:`expected_sfs` by default: 20 per population
        for several populations (moments' migration closure needs it), 0 for one."""
        return 20 if self.n_populations > 1 else 0

    # -- subclasses implement -------------------------------------------------------------
    def _parameter_table(self):
        """Return a list of ``(name, lower, upper, scale)`` rows."""
        raise NotImplementedError

    def _graph(self, p, N_ref):
        """Return the demes graph (time units: generations) for parameter dict ``p``."""
        raise NotImplementedError

    # -- description ----------------------------------------------------------------------
    @property
    def param_names(self):
        """Names of the parameters, in order (tuple of str)."""
        return self._names()

    def _names(self):
        return tuple(row[0] for row in self._parameter_table())

    @property
    def n_params(self):
        """Number of free parameters."""
        return len(self._parameter_table())

    @property
    def n_populations(self):
        """Number of sampled populations (dimensions of the spectrum)."""
        return len(self.pop_ids)

    @property
    def scales(self):
        """Per-parameter scale, ``"log"`` or ``"linear"`` (tuple of str)."""
        return tuple(row[3] for row in self._parameter_table())

    @property
    def log_scaled(self):
        """Boolean array: which parameters live on a log scale."""
        return np.array([row[3] == "log" for row in self._parameter_table()])

    @property
    def bounds_(self):
        """Effective bounds, an array of shape ``(n_params, 2)``, overrides applied."""
        table = self._parameter_table()
        overrides = dict(getattr(self, "bounds", None) or {})
        unknown = set(overrides) - {row[0] for row in table}
        if unknown:
            raise ValueError(
                f"bounds names unknown parameter(s) {sorted(unknown)} of {self!r}; "
                f"expected some of {[row[0] for row in table]}."
            )
        out = np.array(
            [overrides.get(name, (lo, hi)) for name, lo, hi, _ in table], dtype=float
        ).reshape(len(table), 2)
        for (name, *_, scale), (lo, hi) in zip(table, out):
            if not lo < hi:
                raise ValueError(f"bounds of {name!r} are ({lo}, {hi}); expected lower < upper.")
            if scale == "log" and lo <= 0:
                raise ValueError(
                    f"bounds of {name!r} are ({lo}, {hi}); a log-scaled parameter needs "
                    "a lower bound > 0."
                )
        return out

    @property
    def lower_bound(self):
        """Lower bounds, array of shape ``(n_params,)``."""
        return self.bounds_[:, 0]

    @property
    def upper_bound(self):
        """Upper bounds, array of shape ``(n_params,)``."""
        return self.bounds_[:, 1]

    # -- parameters -----------------------------------------------------------------------
    def check_params(self, params, *, name="params"):
        """Validate parameters and return them as a float array.

        Parameters
        ----------
        params : array-like of shape (n_params,) or (n, n_params), or dict
            Parameter vector(s) in the order of :attr:`param_names`, or a dict by name.
        name : str, default="params"
            How to call the argument in error messages.

        Returns
        -------
        params : ndarray of the same shape

        Raises
        ------
        ValueError
            If the shape is wrong, a value is not finite, or a value lies outside its bounds;
            the message names the parameter, the value and the bounds.
        """
        if isinstance(params, dict):
            names = self._names()
            missing = [p for p in names if p not in params]
            extra = [p for p in params if p not in names]
            if missing or extra:
                raise ValueError(
                    f"{name} of {self!r} misses {missing} and has unknown {extra}; "
                    f"expected the keys {list(names)}."
                )
            params = [params[p] for p in names]
        arr = np.asarray(params, dtype=float)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.n_params:
            raise ValueError(
                f"{name} has shape {arr.shape}, but {self!r} expects {self.n_params} parameters "
                f"{list(self._names())} per row."
            )
        bounds = self.bounds_
        rows = np.atleast_2d(arr)
        for j, pname in enumerate(self._names()):
            col = rows[:, j]
            bad = ~np.isfinite(col)
            if bad.any():
                raise ValueError(
                    f"Parameter {pname!r} of {type(self).__name__} is {col[bad][0]}; "
                    "expected a finite number."
                )
            lo, hi = bounds[j]
            # a relative tolerance, so that values on a bound after a log/exp round trip pass
            tol = 1e-9 * max(abs(lo), abs(hi))
            out = (col < lo - tol) | (col > hi + tol)
            if out.any():
                raise ValueError(
                    f"Parameter {pname!r} of {type(self).__name__} is {col[out][0]:g}, outside "
                    f"its bounds [{lo:g}, {hi:g}]."
                )
        return arr

    def params_dict(self, params):
        """Return one parameter vector as a dict ``{name: value}``."""
        arr = self.check_params(params)
        if arr.ndim != 1:
            raise ValueError(f"params has shape {arr.shape}; expected one parameter vector.")
        return dict(zip(self._names(), arr.tolist()))

    def transform(self, params):
        """Map parameters to the unconstrained optimisation space (log where log-scaled)."""
        return to_log_scale(np.asarray(params, dtype=float), self.log_scaled)

    def inverse_transform(self, z):
        """Inverse of :meth:`transform`."""
        return from_log_scale(np.asarray(z, dtype=float), self.log_scaled)

    def sample_prior(self, n, random_state=None):
        """Draw ``n`` parameter vectors from the model's prior.

        The default prior is uniform between the bounds on each parameter's scale (log-uniform
        for log-scaled parameters); families with a better-informed prior override it.

        Parameters
        ----------
        n : int
            Number of draws.
        random_state : int, RandomState instance or None, default=None
            Seed or generator.

        Returns
        -------
        params : ndarray of shape (n, n_params)
        """
        n = check_count(n, "n")
        rng = check_random_state(random_state)
        bounds = self.bounds_
        lo, hi = self.transform(bounds[:, 0]), self.transform(bounds[:, 1])
        return self.inverse_transform(rng.uniform(lo, hi, size=(n, self.n_params)))

    def encode_graphs(self, params, max_nodes=12, *, check=True):
        """Population-graph encodings (:func:`encode_graph`) of parameter vectors.

        Parameters
        ----------
        params : array-like of shape (n, n_params)
        max_nodes : int, default=12
        check : bool, default=True
            Check the parameters against the bounds (the fitter's finite differences step
            just past a bound).

        Returns
        -------
        X : ndarray of shape (n, graph_layout_size(max_nodes, n_populations))
            Inputs of a ``NeuralSFSRegressor(encoder="graph")``.
        """
        from ._graph import encode_graph, graph_layout_size

        arr = np.atleast_2d(np.asarray(params, dtype=float))
        if check:
            self.check_params(arr)
        names, size = self.param_names, graph_layout_size(max_nodes, self.n_populations)
        rows = []
        for p in arr:
            if not np.all(np.isfinite(p)):  # an optimiser's wild step: NaN, not an error
                rows.append(np.full(size, np.nan))
                continue
            rows.append(encode_graph(self._graph(dict(zip(names, p)), 1e4),
                                     list(self.pop_ids), max_nodes))
        return np.stack(rows)

    def log_prior_transformed(self, u):
        """Unnormalised log density of the prior at ``u = transform(params)``, inside the bounds.

        The density of :meth:`sample_prior` on the transformed scale (where samplers and the
        fitter work); the default prior is uniform there, so this is 0. Works on numpy arrays
        and on torch tensors (differentiable).

        Parameters
        ----------
        u : array-like or torch.Tensor of shape (..., n_params)

        Returns
        -------
        log_density : array or tensor of shape (...)
        """
        return (u * 0).sum(-1)

    # -- what the parameters mean ---------------------------------------------------------
    def to_demes(self, params, N_ref=1e4):
        """Return the history as a :class:`demes.Graph` in physical units.

        Parameters
        ----------
        params : array-like of shape (n_params,) or dict
            One parameter vector.
        N_ref : float, default=1e4
            The ancestral (reference) effective size; times become ``2 * N_ref * T``
            generations, sizes ``N_ref * nu``, migration rates ``M / (2 * N_ref)`` per
            generation.

        Returns
        -------
        graph : demes.Graph
        """
        if not (isinstance(N_ref, numbers.Real) and N_ref > 0):
            raise ValueError(f"N_ref is {N_ref!r}; expected a positive number.")
        return self._graph(self.params_dict(params), float(N_ref))

    def to_msprime(self, params, N_ref=1e4):
        """Return the history as an :class:`msprime.Demography` (via :meth:`to_demes`)."""
        import msprime

        return msprime.Demography.from_demes(self.to_demes(params, N_ref=N_ref))

    def check_sample_sizes(self, sample_sizes):
        """Validate haploid sample sizes, one per sampled population; return a tuple of int."""
        sizes = np.atleast_1d(np.asarray(sample_sizes))
        if sizes.ndim != 1 or len(sizes) != self.n_populations:
            raise ValueError(
                f"sample_sizes is {sample_sizes!r}, but {self!r} has {self.n_populations} "
                f"population(s) {list(self.pop_ids)}; expected one sample size for each."
            )
        if not np.issubdtype(sizes.dtype, np.integer) and not np.all(sizes == np.round(sizes)):
            raise ValueError(f"sample_sizes is {sample_sizes!r}; expected integers.")
        if np.any(sizes < 2):
            raise ValueError(f"sample_sizes is {sample_sizes!r}; expected every size >= 2.")
        return tuple(int(s) for s in sizes)

    def expected_sfs(self, params, sample_sizes, *, min_compute_size=None, dt_fac=None):
        """The expected SFS for ``theta = 4 * N_ref * mu * L = 1``, computed by moments.

        Parameters
        ----------
        params : array-like of shape (n_params,) or dict
            One parameter vector.
        sample_sizes : sequence of int
            Haploid sample size of each population, in the order of :attr:`pop_ids`.
        min_compute_size : int, default=None
            Smallest sample size per population that moments computes with; smaller requests
            are computed at this size and projected down (exactly). Default: the family's
            :attr:`default_min_compute_size` (20 for several populations, none for
            one). moments' closure for migration is inaccurate at small sample sizes: for an
            isolation-with-migration history we measured errors of 49 % computing at n=4,
            4.4 % at n=10 and 0.7 % at n=20, against n=40 (one population needs no closure).
        dt_fac : float, default=None
            moments' integration time-step factor (None: its default, 0.02); see
            :func:`moments_time_step`.

        Returns
        -------
        sfs : moments.Spectrum
            Unfolded spectrum of shape ``[n + 1 for n in sample_sizes]``, corners masked.
        """
        sample_sizes = self.check_sample_sizes(sample_sizes)
        if min_compute_size is None:
            min_compute_size = self.default_min_compute_size
        compute_sizes = [max(n, int(min_compute_size)) for n in sample_sizes]
        with moments_time_step(dt_fac):
            fs = self._moments_sfs(params, compute_sizes)
        if compute_sizes != list(sample_sizes):
            fs = project(fs, sample_sizes)
        fs.pop_ids = list(self.pop_ids)
        return fs

    def _moments_sfs(self, params, sample_sizes):
        graph = self.to_demes(params, N_ref=1e4)
        return moments.Demes.SFS(
            graph, sampled_demes=list(self.pop_ids), sample_sizes=list(sample_sizes), theta=1.0
        )

    def __repr__(self, N_CHAR_MAX=700):
        return super().__repr__(N_CHAR_MAX=N_CHAR_MAX)


class CustomModel(DemographicModel):
    """A demographic model defined by a user function.

    Give either ``graph_function`` (preferred: it drives moments *and* msprime) or
    ``moments_function`` (a dadi/moments-style ``func(params, ns) -> moments.Spectrum``; then
    :meth:`to_demes` is unavailable).

    Parameters
    ----------
    param_names : sequence of str
        Parameter names, in order.
    lower_bound, upper_bound : sequence of float
        Bounds of each parameter.
    graph_function : callable, default=None
        ``graph_function(params: dict, N_ref: float) -> demes.Graph`` with times in
        generations, sizes ``N_ref * nu`` and migration rates ``M / (2 * N_ref)``.
    moments_function : callable, default=None
        ``moments_function(params: sequence, ns: list[int]) -> moments.Spectrum`` for
        ``theta = 1``, in the moments/dadi units.
    scales : sequence of {"log", "linear"}, default=None
        Scale of each parameter; by default "log" where the lower bound is positive.
    pop_ids : sequence of str, default=("pop0",)
        The sampled demes (of the graph), in the order of the spectrum's axes.

    Examples
    --------
    >>> import demes
    >>> from sfsestimators.models import CustomModel
    >>> def growth(p, N_ref):
    ...     b = demes.Builder(time_units="generations")
    ...     b.add_deme("pop0", epochs=[dict(start_size=N_ref, end_time=2 * N_ref * p["T"]),
    ...                                dict(start_size=N_ref, end_size=N_ref * p["nu"])])
    ...     return b.resolve()
    >>> model = CustomModel(["nu", "T"], [1e-2, 1e-3], [100, 5], graph_function=growth)
    >>> fs = model.expected_sfs([2.0, 0.1], [10])
    >>> fs.sample_sizes.tolist()
    [10]
    """

    # The constructor arguments shadow the base-class properties of the same names, so that
    # sklearn's get_params/set_params/clone see them; the base class reads _parameter_table().
    param_names = None
    lower_bound = None
    upper_bound = None
    scales = None

    def __init__(
        self,
        param_names,
        lower_bound,
        upper_bound,
        *,
        graph_function=None,
        moments_function=None,
        scales=None,
        pop_ids=("pop0",),
    ):
        self.param_names = param_names
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.graph_function = graph_function
        self.moments_function = moments_function
        self.scales = scales
        self.pop_ids = pop_ids

    def _parameter_table(self):
        names = list(self.param_names)
        lo = np.asarray(self.lower_bound, dtype=float)
        hi = np.asarray(self.upper_bound, dtype=float)
        if not (len(names) == lo.size == hi.size):
            raise ValueError(
                f"param_names has {len(names)} entries, lower_bound {lo.size} and upper_bound "
                f"{hi.size}; expected the same number."
            )
        scales = self.scales
        if scales is None:
            scales = ["log" if low > 0 else "linear" for low in lo]
        for s in scales:
            if s not in _SCALES:
                raise ValueError(f"scales contains {s!r}; expected 'log' or 'linear'.")
        return list(zip(names, lo.tolist(), hi.tolist(), scales))

    def _graph(self, p, N_ref):
        if self.graph_function is None:
            raise NotImplementedError(
                "This CustomModel was given only a moments_function; give graph_function to "
                "convert it to demes/msprime."
            )
        return self.graph_function(p, N_ref)

    def _moments_sfs(self, params, sample_sizes):
        if self.graph_function is None and self.moments_function is None:
            raise ValueError("CustomModel needs graph_function or moments_function; got neither.")
        if self.moments_function is None:
            return super()._moments_sfs(params, sample_sizes)
        fs = self.moments_function(self.check_params(params), list(sample_sizes))
        if not isinstance(fs, moments.Spectrum):
            fs = moments.Spectrum(np.asarray(fs, dtype=float))
        return fs


def _epochs_builder():
    """A demes builder in generations (small helper shared by the built-in families)."""
    return demes.Builder(time_units="generations", generation_time=1)
