"""A fitted history in physical units: ``N_ref = theta / (4 mu L)``, generations or years."""

from __future__ import annotations

from dataclasses import dataclass

import demes

__all__ = ["PhysicalHistory", "physical_history"]


@dataclass
class PhysicalHistory:
    """The fitted history as demes, and (one population) its epochs.

    Attributes
    ----------
    graph : demes.Graph
    N_ref : float or None
        The reference size, when the mutation rate and sequence length are known.
    ne_history : list of dict
        One population: epochs (start/end time, start/end size, time units), oldest first.
    """

    graph: demes.Graph
    N_ref: float | None
    ne_history: list


def _in_years(graph, generation_time):
    data = graph.asdict()
    gt = float(generation_time)
    for deme in data["demes"]:
        if deme.get("start_time") not in (None, float("inf"), "Infinity"):
            deme["start_time"] = deme["start_time"] * gt
        for epoch in deme["epochs"]:
            epoch["end_time"] = epoch["end_time"] * gt
    for mig in data.get("migrations", []):
        for key in ("start_time", "end_time"):
            if key in mig and mig[key] not in (float("inf"), "Infinity"):
                mig[key] = mig[key] * gt
    for pulse in data.get("pulses", []):
        pulse["time"] = pulse["time"] * gt
    data["time_units"], data["generation_time"] = "years", gt
    return demes.Graph.fromdict(data)


def physical_history(model, params, theta, *, mutation_rate=None, sequence_length=None,
                     generation_time=None):
    """The history of ``params`` with ``theta = 4 N_ref mu L`` in physical units.

    Without both ``mutation_rate`` and ``sequence_length`` the graph has a nominal
    ``N_ref = 1e4`` (which keeps migration rates per generation valid) and ``ne_history`` is
    in the model's units: sizes relative to ``N_ref``, times in ``2 N_ref`` generations.
    """
    if mutation_rate is not None and sequence_length is not None:
        N_ref = theta / (4 * mutation_rate * sequence_length)
        graph = model.to_demes(params, N_ref=N_ref)
        if generation_time is not None:
            graph = _in_years(graph, generation_time)
        units, time_scale, size_scale = graph.time_units, 1.0, 1.0
    else:
        N_ref = None
        graph = model.to_demes(params, N_ref=1e4)
        units, time_scale, size_scale = "2*N_ref generations", 0.5e-4, 1e-4
    ne_history = []
    if model.n_populations == 1:
        for epoch in graph.demes[-1].epochs:
            ne_history.append({
                "start_time": float(epoch.start_time) * time_scale,
                "end_time": float(epoch.end_time) * time_scale,
                "start_size": float(epoch.start_size) * size_scale,
                "end_size": float(epoch.end_size) * size_scale,
                "time_units": units,
            })
    return PhysicalHistory(graph, N_ref, ne_history)
