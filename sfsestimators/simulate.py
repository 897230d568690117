"""msprime training engine for genealogy networks: histories, simulations, targets, streams.

The generative model is msprime; a network learns its inverse. This module draws size
histories from a prior, simulates ancestry and mutations, and extracts from each tree
sequence the network's input (genotypes and positions) and its targets, computed with tskit:

- window-mean pairwise TMRCA of every pair of haplotypes
  (``divergence_matrix(mode="branch") / 2``),
- per haplotype and window, its nearest relative (the "copying parent": the other haplotype
  with the smallest window-mean TMRCA) and the number of tree breakpoints in the window,
- the times of the tree sequence's nodes,
- the true Ne(t) on a fixed log time grid.

``simulate_training_set`` makes a finite, seeded set in parallel (joblib);
``SimulationStream`` is an infinite torch ``IterableDataset`` whose workers draw independent
streams (seeded from ``numpy.random.SeedSequence([seed, worker_id])``).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import joblib
import msprime
import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = [
    "SizeHistory",
    "sample_size_history",
    "simulate",
    "extract_targets",
    "simulate_training_set",
    "SimulationStream",
    "TIME_GRID",
]

MUTATION_RATE = 1.25e-8
RECOMBINATION_RATE = 1e-8
#: log-spaced grid of times (generations) on which Ne(t) targets are given
TIME_GRID = np.geomspace(10.0, 1e6, 32)


class SizeHistory(NamedTuple):
    """A piecewise-constant population size history (one population).

    ``start_times[i]`` (generations ago, ``start_times[0] == 0``) is where epoch ``i`` begins
    going back in time; it has size ``sizes[i]`` until ``start_times[i + 1]``.

    Examples
    --------
    >>> from sfsestimators.simulate import SizeHistory
    >>> h = SizeHistory([0.0, 1000.0], [2e4, 5e3])  # a recent expansion from 5,000
    >>> h.size_at([10, 5000]).tolist()
    [20000.0, 5000.0]
    """

    start_times: np.ndarray
    sizes: np.ndarray

    def size_at(self, times):
        """Ne at ``times`` (generations ago)."""
        index = np.searchsorted(self.start_times, np.asarray(times, dtype=float), side="right")
        return np.asarray(self.sizes, dtype=float)[index - 1]

    def to_msprime(self):
        """An ``msprime.Demography`` with population ``"pop0"``."""
        demography = msprime.Demography()
        demography.add_population(name="pop0", initial_size=float(self.sizes[0]))
        for t, size in zip(self.start_times[1:], self.sizes[1:]):
            demography.add_population_parameters_change(time=float(t), initial_size=float(size),
                                                        population="pop0")
        return demography


def sample_size_history(random_state=None, *, max_epochs=7, size_range=(1e2, 1e5),
                        mean_epoch_time=1e4, time_range=None, min_epochs=1):
    """Draw a history: 1..``max_epochs`` epochs, sizes 10^U(log10 range), exponential times
    (or log-uniform change times with ``time_range``).

    Parameters
    ----------
    random_state : int, RandomState instance or None
    max_epochs : int, default=7
    min_epochs : int, default=1
        The number of epochs is uniform on ``min_epochs..max_epochs``.
    size_range : (float, float), default=(1e2, 1e5)
        Sizes are log-uniform in this range.
    mean_epoch_time : float, default=1e4
        Mean of the exponential durations (generations) of the epochs before the oldest.
    time_range : (float, float) or None, default=None
        If given, the change times are instead drawn log-uniform in this range (generations)
        and sorted: recent changes are as likely per log unit of time as old ones (the prior
        of the N_e(t) decoder).

    Returns
    -------
    SizeHistory

    Examples
    --------
    >>> from sfsestimators.simulate import sample_size_history
    >>> h = sample_size_history(0)
    >>> bool(h.start_times[0] == 0) and len(h.sizes) == len(h.start_times)
    True
    """
    rng = check_random_state(random_state)
    k = int(rng.randint(min_epochs, max_epochs + 1))
    lo, hi = np.log10(size_range[0]), np.log10(size_range[1])
    sizes = 10 ** rng.uniform(lo, hi, size=k)
    if time_range is None:
        changes = np.cumsum(rng.exponential(mean_epoch_time, k - 1))
    else:
        changes = np.sort(10 ** rng.uniform(*np.log10(time_range), size=k - 1))
    start_times = np.concatenate([[0.0], changes])
    return SizeHistory(start_times, sizes)


def _seed(rng):
    return int(rng.randint(1, 2**31 - 1))


def simulate(demography, n_haplotypes, sequence_length, *, mutation_rate=MUTATION_RATE,
             recombination_rate=RECOMBINATION_RATE, random_state=None):
    """Simulate ancestry and (binary) mutations of ``n_haplotypes / 2`` diploids.

    Parameters
    ----------
    demography : SizeHistory, msprime.Demography, or (DemographicModel, params, N_ref)
    n_haplotypes : int
        Even number of sampled haplotypes (diploid individuals).
    sequence_length : float
        Base pairs.
    mutation_rate, recombination_rate : float
        Per base pair per generation (defaults: human-like 1.25e-8 and 1e-8).
    random_state : int, RandomState instance or None

    Returns
    -------
    tskit.TreeSequence
    """
    if not isinstance(n_haplotypes, numbers.Integral) or n_haplotypes < 2 or n_haplotypes % 2:
        raise ValueError(f"n_haplotypes is {n_haplotypes!r}; expected an even integer >= 2 "
                         "(diploid samples).")
    if isinstance(demography, SizeHistory):
        demography = demography.to_msprime()
    elif isinstance(demography, tuple):
        model, params, n_ref = demography
        demography = model.to_msprime(params, N_ref=n_ref)
    rng = check_random_state(random_state)
    # the last population: the only one, or the last deme of a model's graph
    samples = {demography.populations[-1].name: n_haplotypes // 2}
    ts = msprime.sim_ancestry(samples=samples, demography=demography,
                              sequence_length=sequence_length,
                              recombination_rate=recombination_rate, random_seed=_seed(rng))
    return msprime.sim_mutations(ts, rate=mutation_rate, random_seed=_seed(rng),
                                 model=msprime.BinaryMutationModel())


def extract_targets(ts, window_size, *, history=None, time_grid=TIME_GRID):
    """Network input and genealogy targets of a tree sequence.

    Parameters
    ----------
    ts : tskit.TreeSequence
    window_size : float
        Window length in base pairs (the last window may be shorter).
    history : SizeHistory, default=None
        The true history, for the Ne(t) target.
    time_grid : array-like, default=TIME_GRID

    Returns
    -------
    dict
        ``genotypes`` (n_sites, n_haplotypes) int8, ``positions`` (n_sites,), ``windows``
        (n_windows + 1,) edges, ``tmrca`` (n_windows, n, n) window-mean pairwise TMRCA in
        generations (0 on the diagonal), ``nearest`` (n_windows, n) the copying parent,
        ``breakpoints`` (n_windows,) tree breakpoints in each window ``[start, end)``,
        ``node_times`` (n_nodes,), and ``log_ne`` (len(time_grid),) when ``history`` is given.
    """
    length = ts.sequence_length
    windows = np.append(np.arange(0.0, length, float(window_size)), length)
    tmrca = ts.divergence_matrix(windows=windows, mode="branch") / 2
    n = ts.num_samples
    diag = np.arange(n)
    tmrca[:, diag, diag] = 0.0
    masked = tmrca + np.where(np.eye(n, dtype=bool), np.inf, 0.0)
    breaks = np.asarray(ts.breakpoints(as_array=True))[1:-1]
    inside = np.histogram(breaks, bins=windows)[0]
    out = {
        "genotypes": ts.genotype_matrix().astype(np.int8),
        "positions": ts.tables.sites.position.copy(),
        "windows": windows,
        "tmrca": tmrca,
        "nearest": masked.argmin(axis=2),
        "breakpoints": inside,
        "node_times": ts.nodes_time.copy(),
    }
    if history is not None:
        out["log_ne"] = np.log(history.size_at(time_grid))
    return out


#: data the coalescent prior does not generate (the robustness phase of the curriculum)
SCENARIOS = ("sweep", "migration")


def _scenario_simulation(scenario, history, n_haplotypes, sequence_length, mutation_rate,
                         recombination_rate, rng):
    """A tree sequence of one robustness scenario: ``"sweep"``, a hard selective sweep
    (``msprime.SweepGenicSelection``, s log-uniform in 0.005-0.1) at the middle of the
    sequence that ended just now, in a population of constant size (the history's present
    one); ``"migration"``, the samples from one of two populations (sizes of the history's
    present epoch and another prior draw) exchanging 10^U(-5, -3) migrants per generation
    since their split an exponential (mean 1e4) number of generations ago from an ancestor
    of the history's oldest size."""
    if scenario == "sweep":
        n_now = float(history.sizes[0])
        sweep = msprime.SweepGenicSelection(
            position=sequence_length / 2, start_frequency=1.0 / (2 * n_now),
            end_frequency=1.0 - 1.0 / (2 * n_now), s=float(10 ** rng.uniform(-2.3, -1)),
            dt=1e-6)
        ts = msprime.sim_ancestry(
            samples=n_haplotypes // 2, population_size=n_now, sequence_length=sequence_length,
            recombination_rate=recombination_rate, model=[sweep, msprime.StandardCoalescent()],
            random_seed=_seed(rng))
    elif scenario == "migration":
        d = msprime.Demography()
        d.add_population(name="B", initial_size=float(10 ** rng.uniform(3, 5)))
        d.add_population(name="ANC", initial_size=float(history.sizes[-1]))
        d.add_population(name="A", initial_size=float(history.sizes[0]))
        d.set_symmetric_migration_rate(["A", "B"], float(10 ** rng.uniform(-5, -3)))
        d.add_population_split(time=float(rng.exponential(1e4)) + 1.0, derived=["A", "B"],
                               ancestral="ANC")
        ts = msprime.sim_ancestry(samples={"A": n_haplotypes // 2}, demography=d,
                                  sequence_length=sequence_length,
                                  recombination_rate=recombination_rate, random_seed=_seed(rng))
    else:
        raise ValueError(f"scenario is {scenario!r}; expected one of {SCENARIOS}.")
    return msprime.sim_mutations(ts, rate=mutation_rate, random_seed=_seed(rng),
                                 model=msprime.BinaryMutationModel())


def simulate_item(seed, n_haplotypes, sequence_length, window_size, mutation_rate,
                  recombination_rate, prior, rate_range=None, scenarios=()):
    """One training item: a size history from the prior (``prior`` holds keyword arguments
    of :func:`sample_size_history`), its simulation and the tskit targets, from ``seed``.

    ``rate_range=(low, high)``: the mutation and the recombination rate are each multiplied
    by an independent log-uniform factor in ``[low, high]`` (so their ratio varies too); the
    item's ``mutation_rate`` records the one used. ``scenarios`` (names of
    :data:`SCENARIOS`): each item is, with equal probability, the plain size history or one
    of these scenarios built from it."""
    rng = np.random.RandomState(seed)
    history = sample_size_history(rng, **prior)
    if rate_range is not None:
        low, high = np.log(rate_range[0]), np.log(rate_range[1])
        mutation_rate = mutation_rate * float(np.exp(rng.uniform(low, high)))
        recombination_rate = recombination_rate * float(np.exp(rng.uniform(low, high)))
    scenario = None
    if scenarios:
        pick = int(rng.randint(len(scenarios) + 1))
        scenario = None if pick == len(scenarios) else scenarios[pick]
    if scenario is None:
        ts = simulate(history, n_haplotypes, sequence_length, mutation_rate=mutation_rate,
                      recombination_rate=recombination_rate, random_state=rng)
    else:
        ts = _scenario_simulation(scenario, history, n_haplotypes, sequence_length,
                                  mutation_rate, recombination_rate, rng)
    # the size history is the truth of plain coalescent items only
    item = extract_targets(ts, window_size, history=None if scenario else history)
    item["mutation_rate"] = mutation_rate
    item["scenario"] = scenario or "coalescent"
    return item


def simulate_training_set(n, *, n_haplotypes=20, sequence_length=1e6, window_size=2e4,
                          mutation_rate=MUTATION_RATE, recombination_rate=RECOMBINATION_RATE,
                          prior=None, n_jobs=None, random_state=None):
    """A finite, seeded set of simulations with their targets, generated in parallel.

    The seeds of all ``n`` simulations are drawn up front, so the set does not depend on
    ``n_jobs`` or the joblib backend.

    Parameters
    ----------
    n : int
        Number of simulations.
    n_haplotypes, sequence_length, window_size, mutation_rate, recombination_rate
        As in :func:`simulate` and :func:`extract_targets`.
    prior : dict, default=None
        Keyword arguments of :func:`sample_size_history`.
    n_jobs : int, default=None
        joblib workers.
    random_state : int, RandomState instance or None

    Returns
    -------
    list of dict
        One :func:`extract_targets` dict per simulation.

    Examples
    --------
    >>> from sfsestimators.simulate import simulate_training_set
    >>> data = simulate_training_set(2, n_haplotypes=4, sequence_length=2e4, window_size=1e4,
    ...                              random_state=0)
    >>> data[0]["tmrca"].shape
    (2, 4, 4)
    """
    rng = check_random_state(random_state)
    seeds = rng.randint(1, 2**31 - 1, size=int(n))
    return joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(simulate_item)(int(s), n_haplotypes, sequence_length, window_size,
                                      mutation_rate, recombination_rate, dict(prior or {}))
        for s in seeds)


class SimulationStream(torch.utils.data.IterableDataset):
    """An endless stream of fresh simulations for on-the-fly training.

    Each DataLoader worker draws its own stream, seeded from
    ``numpy.random.SeedSequence([seed, worker_id])``: no two workers repeat each other, and a
    given ``(seed, num_workers)`` always yields the same items.

    Parameters
    ----------
    seed : int
    n_haplotypes, sequence_length, window_size, mutation_rate, recombination_rate, prior
        As in :func:`simulate_training_set`.

    Examples
    --------
    >>> from itertools import islice
    >>> from sfsestimators.simulate import SimulationStream
    >>> stream = SimulationStream(0, n_haplotypes=4, sequence_length=2e4, window_size=1e4)
    >>> [item["tmrca"].shape for item in islice(iter(stream), 2)]
    [(2, 4, 4), (2, 4, 4)]
    """

    def __init__(self, seed, *, n_haplotypes=20, sequence_length=1e6, window_size=2e4,
                 mutation_rate=MUTATION_RATE, recombination_rate=RECOMBINATION_RATE,
                 prior=None):
        super().__init__()
        self.seed = int(seed)
        self.args = (n_haplotypes, sequence_length, window_size, mutation_rate,
                     recombination_rate, dict(prior or {}))

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = 0 if info is None else info.id
        seq = np.random.SeedSequence([self.seed, worker])
        rng = np.random.RandomState(seq.generate_state(1)[0])
        while True:
            yield simulate_item(int(rng.randint(1, 2**31 - 1)), *self.args)
