"""A demographic history as a graph of deme epochs, flattened for the graph encoder.

Nodes are the epochs of every deme (in the order the graph lists them), with features in
the model's units (sizes relative to the root's first size ``N_0``, times in ``2 N_0``
generations):

=====  =====================================================================
index  feature
=====  =====================================================================
0      ln(start size / N_0)
1      ln(end size / N_0)              (differs from 0 under exponential growth)
2      ln(end time + 1e-3)
3      ln(duration + 1e-3)             (0 for the infinite root epoch)
4      1 for an epoch reaching back to infinity (the root), else 0
5      1 for an epoch reaching the present, else 0
6      1 for a real node, 0 for padding
=====  =====================================================================

Edges: ``descent[a, c]`` is the share of node ``c``'s ancestry from node ``a`` (1 between
consecutive epochs of a deme, the ancestry proportions at a split or admixture, the pulse
proportions of a pulse), ``migration[s, d]`` the scaled rate ``2 N_0 m`` from source to
destination epochs, weighted by the fraction of the destination epoch the migration covers.
Per sampled deme, a one-hot pointer gives its present-day node. The flat row is
``nodes (max_nodes x 7) | descent (max_nodes^2) | migration (max_nodes^2) | pointers``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["encode_graph", "GRAPH_NODE_FEATURES", "graph_layout_size"]

GRAPH_NODE_FEATURES = 7
_EPS = 1e-3


def graph_layout_size(max_nodes, n_sampled):
    """Length of one flat encoding."""
    m = int(max_nodes)
    return m * GRAPH_NODE_FEATURES + 2 * m * m + int(n_sampled) * m


def _active_epoch(nodes, deme, t):
    """The node of ``deme`` alive at time ``t`` (at an epoch boundary, the older epoch)."""
    for index, (name, start, end) in nodes.items():
        if name == deme and end <= t < start:
            return index
    raise ValueError(f"Deme {deme!r} has no epoch alive at time {t:g}.")


def encode_graph(graph, sampled_demes, max_nodes=12):
    """Flat encoding of a :class:`demes.Graph` for :class:`sfsestimators.nn.PopulationGraphEncoder`.

    Parameters
    ----------
    graph : demes.Graph
        A resolved history (generations).
    sampled_demes : sequence of str
        The sampled demes, in the order of the spectrum's axes.
    max_nodes : int, default=12
        Node slots (deme epochs); a graph with more epochs is an error.

    Returns
    -------
    row : ndarray of shape (graph_layout_size(max_nodes, len(sampled_demes)),)

    Examples
    --------
    >>> from sfsestimators.models import YRI_CEU, encode_graph, graph_layout_size
    >>> g = YRI_CEU().to_demes([1.9, 0.07, 1.8, 0.9, 0.35, 0.11])
    >>> encode_graph(g, ["YRI", "CEU"]).shape == (graph_layout_size(12, 2),)
    True
    """
    m = int(max_nodes)
    root = next(d for d in graph.demes if not d.ancestors)
    n0 = float(root.epochs[0].start_size)
    scale = 2 * n0
    nodes, feats = {}, []
    for deme in graph.demes:
        for epoch in deme.epochs:
            start, end = epoch.start_time / scale, epoch.end_time / scale
            nodes[len(nodes)] = (deme.name, start, end)
            duration = 0.0 if math.isinf(start) else start - end
            feats.append([
                math.log(epoch.start_size / n0), math.log(epoch.end_size / n0),
                math.log(end + _EPS), math.log(duration + _EPS),
                float(math.isinf(start)), float(end == 0), 1.0,
            ])
    if len(nodes) > m:
        raise ValueError(f"The graph has {len(nodes)} deme epochs; max_nodes is {m}.")
    node_arr = np.zeros((m, GRAPH_NODE_FEATURES))
    node_arr[: len(feats)] = feats
    descent = np.zeros((m, m))
    migration = np.zeros((m, m))
    first = {}
    for index, (name, _, _) in nodes.items():
        if name in first:
            descent[index - 1, index] = 1.0  # consecutive epochs of one deme
        else:
            first[name] = index
    for deme in graph.demes:
        t = deme.start_time / scale
        for ancestor, proportion in zip(deme.ancestors, deme.proportions):
            descent[_active_epoch(nodes, ancestor, t), first[deme.name]] += proportion
    for pulse in graph.pulses:
        t = pulse.time / scale
        dest = _active_epoch(nodes, pulse.dest, t)
        for source, proportion in zip(pulse.sources, pulse.proportions):
            descent[_active_epoch(nodes, source, t), dest] += proportion
    for mig in graph.migrations:
        m_start, m_end = mig.start_time / scale, mig.end_time / scale
        for s, (s_name, s_start, s_end) in nodes.items():
            if s_name != mig.source:
                continue
            for d, (d_name, d_start, d_end) in nodes.items():
                if d_name != mig.dest:
                    continue
                lo = max(m_end, s_end, d_end)
                hi = min(m_start, s_start, d_start)
                if hi <= lo:
                    continue
                frac = 1.0 if math.isinf(d_start) else (min(hi, d_start) - lo) / (d_start - d_end)
                migration[s, d] += mig.rate * scale * frac
    pointer = np.zeros((len(sampled_demes), m))
    for i, name in enumerate(sampled_demes):
        present = [k for k, (n, _, end) in nodes.items() if n == name and end == 0]
        if not present:
            raise ValueError(f"sampled deme {name!r} is not in the graph or ends before the "
                             "present.")
        pointer[i, present[0]] = 1.0
    return np.concatenate([node_arr.ravel(), descent.ravel(), migration.ravel(),
                           pointer.ravel()])
