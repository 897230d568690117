"""What ``MainspringARGEstimator.predict`` returns, and its local trees as tskit."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.cluster.hierarchy import linkage

__all__ = ["GenealogyPrediction", "PairwisePrediction", "prediction_from_pairs"]

#: windows per call of the node-time head in :meth:`GenealogyPrediction.to_tree_sequence`
_HEAD_CHUNK = 256


class GenealogyPrediction(NamedTuple):
    """What :meth:`MainspringARGEstimator.predict` returns.

    Attributes
    ----------
    windows : ndarray (n_windows + 1,)
        Window edges (bp).
    log_tmrca, log_tmrca_sd : ndarray (n_windows, n, n)
        Mean and standard deviation of ln pairwise TMRCA (generations); diagonal 0.
    copying_probs : ndarray (n_windows, n, n)
        Per haplotype (row) a distribution over its copying parent (its closest relative
        in the local tree): from the estimator's copying-parent head when it has one
        (:class:`~sfsestimators.genealogy.CopyingHead`, the shipped ``small`` does), else
        the softmax of minus the predicted ln TMRCA over the other haplotypes, temperature
        ``log_tmrca_sd``.
    nearest : ndarray (n_windows, n)
        The most probable copying parent.
    breakpoints : ndarray (n_windows, n) of bool
        Whether the copying parent changes from the previous window.
    sequence_length : float
    ne : NePosterior or None
        N_e(t) draws from the predicted pairwise times (:func:`ne_posterior`): ``times``,
        ``median``, ``quantiles(q)``, ``band_at(t)``, ``sample(n)``; generations and diploid
        individuals (``in_years(generation_time)`` for years).
    node_head : NodeTimeHead or None
        The estimator's node-time head (:class:`~sfsestimators.nn.NodeTimeHead`), if it has
        one: the times and sds of :meth:`to_tree_sequence`'s nodes.

    Examples
    --------
    >>> from sfsestimators import MainspringARGEstimator
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> ts = simulate(SizeHistory([0.0], [1e4]), 6, 2e4, random_state=1)
    >>> pred = MainspringARGEstimator.pretrained(device="cpu").predict(ts)
    >>> pred.to_tree_sequence(merge=False).num_trees == len(pred.windows) - 1
    True
    >>> pred.to_tree_sequence().num_trees <= len(pred.windows) - 1  # shared across windows
    True
    """

    windows: np.ndarray
    log_tmrca: np.ndarray
    log_tmrca_sd: np.ndarray
    copying_probs: np.ndarray
    nearest: np.ndarray
    breakpoints: np.ndarray
    sequence_length: float
    ne: object = None
    node_head: object = None

    def implied_sfs(self, mutation_rate):
        """The unfolded SFS the predicted local trees imply: their branch lengths times
        ``mutation_rate``, by number of descendant samples (:func:`implied_sfs`); compare it
        with the data's (``sfs_chi2``) to see whether the genealogy explains the data's
        allele frequencies."""
        from ._physics import branch_structure, implied_sfs

        ts = self.to_tree_sequence()
        return implied_sfs(branch_structure(ts), ts.tables.nodes.time, mutation_rate).numpy()

    def to_tree_sequence(self, *, merge=True, linkage_method="average", times="auto"):
        """Ultrametric local trees (UPGMA of the predicted TMRCAs) as a tskit tree sequence.

        With ``merge=True`` a subtree that persists from one window to the next (the same
        leaves, grouped the same way) is ONE ancestral node whose edges span all its windows,
        so adjacent windows share nodes as in an ARG; its time is the mean of its merge
        heights over those windows (parents kept older than their children). With
        ``merge=False`` every window has its own nodes. Samples are nodes ``0..n-1`` at time 0;
        times in generations. Each internal node's JSON metadata holds ``log_time_sd``: the
        predicted standard deviation of ln time of the pairs it joins (their mean over the
        pairs and, length-weighted, over its windows), and ``windows``: how many it spans.

        Parameters
        ----------
        merge : bool, default=True
        linkage_method : str, default="average"
            scipy's hierarchical clustering of the predicted times ("average" is UPGMA).
        times : {"auto", "head", "mean", "median"}, default="auto"
            ``"head"``: cluster the medians ``exp(mu)`` (as in training) and take each
            node's time (the median of its log-normal) and ``log_time_sd`` from the node-time
            head (:class:`~sfsestimators.nn.NodeTimeHead`, trained on the true times of the
            nodes' leaf sets); ``"mean"`` / ``"median"``: no head, each node at the UPGMA
            height of the pairwise times' means ``exp(mu + sd^2 / 2)`` under the predicted
            log-normal or of their medians, its sd the mean over its pairs. Measured on
            held-out msprime data (20 haplotypes, 500 kb, constant and bottleneck
            histories): the root's height is 0.91-1.02 of the truth with the means and
            0.85-0.92 with the medians. ``"auto"``: ``"head"`` when there is one, else
            ``"mean"``.
        """
        if times not in ("auto", "head", "mean", "median"):
            raise ValueError(f"times is {times!r}; expected 'auto', 'head', 'mean' or "
                             "'median'.")
        if times == "head" and self.node_head is None:
            raise ValueError("times='head' needs a node-time head; this prediction has none "
                             "(an estimator trained with a curriculum of node or SFS terms "
                             "has one); expected 'mean' or 'median'.")
        if times == "auto":
            times = "mean" if self.node_head is None else "head"
        if times == "head" and linkage_method != "average":
            raise ValueError(f"linkage_method is {linkage_method!r}; the node-time head "
                             "reads UPGMA trees: expected 'average' (or times='mean').")
        import tskit

        n = self.log_tmrca.shape[1]
        tables = tskit.TableCollection(sequence_length=float(self.sequence_length))
        tables.populations.add_row()
        for _ in range(n):
            tables.nodes.add_row(flags=tskit.NODE_IS_SAMPLE, time=0.0, population=0)
        iu = np.triu_indices(n, 1)
        nodes = {}  # subtree key -> [heights, spans]; a key is the nested grouping
        edges = []  # (left, right, parent key, child key)
        active = {}  # key -> id of its run of consecutive windows
        runs = 0
        for w in range(len(self.windows) - 1):
            left, right = float(self.windows[w]), float(self.windows[w + 1])
            log_t = self.log_tmrca[w][iu].astype(float)
            if times == "mean":
                log_t = log_t + 0.5 * self.log_tmrca_sd[w][iu].astype(float) ** 2
            if times == "head":
                if w % _HEAD_CHUNK == 0:  # the chunk's trees and their head times
                    head_mean, head_sd, chunk = self._head_times(w, w + _HEAD_CHUNK)
                merges = chunk[w % _HEAD_CHUNK]
            else:
                merges = linkage(np.exp(log_t), method=linkage_method)
            keys = list(range(n))
            members = [[i] for i in range(n)]
            sd_w = self.log_tmrca_sd[w]
            now = {}
            for k, (a, b, height, _) in enumerate(merges):
                a, b = int(a), int(b)
                if times == "head":
                    height, sd = head_mean[w % _HEAD_CHUNK, k], head_sd[w % _HEAD_CHUNK, k]
                else:
                    sd = float(sd_w[np.ix_(members[a], members[b])].mean())
                members.append(members[a] + members[b])
                key = frozenset((keys[a], keys[b]))
                if not merge or key not in active:
                    runs += 1
                    node = (key, runs)
                else:
                    node = active[key]
                now[key] = node
                nodes.setdefault(node, []).append((float(height), right - left, sd))
                edges += [(left, right, node, _node_of(now, keys[c])) for c in (a, b)]
                keys.append(key)
            active = now
        tables.nodes.metadata_schema = tskit.MetadataSchema.permissive_json()
        ids = _place_nodes(tables, nodes, edges)
        for left, right, parent, child in edges:
            tables.edges.add_row(left, right, ids[parent], ids.get(child, child))
        tables.sort()
        tables.edges.squash()
        tables.sort()
        return tables.tree_sequence()

    def _head_times(self, start, stop):
        """The node-time head's median time and ln-time sd (windows, n - 1) of every merge
        of windows ``start:stop``, and the windows' UPGMA linkages of the median times
        (the merges in that order)."""
        import torch

        from ._curriculum import tree_node_times, window_trees

        n = self.log_tmrca.shape[1]
        iu = np.triu_indices(n, 1)
        log_t = self.log_tmrca[start:stop][:, iu[0], iu[1]].astype(float)
        sd = self.log_tmrca_sd[start:stop][:, iu[0], iu[1]].astype(float)
        merges = [linkage(np.exp(row), method="average") for row in log_t]
        head = self.node_head
        like = next(head.parameters())
        with torch.no_grad():
            mean, var = tree_node_times(
                torch.as_tensor(log_t, dtype=like.dtype, device=like.device),
                torch.as_tensor(sd ** 2, dtype=like.dtype, device=like.device),
                window_trees(log_t, n, merges), head)
        return (np.exp(mean.double().cpu().numpy()), np.sqrt(var.double().cpu().numpy()),
                merges)


def _node_of(now, key):
    """The node of a child: a sample id, or the (key, run) of an internal node."""
    return key if isinstance(key, (int, np.integer)) else now[key]


def _place_nodes(tables, nodes, edges):
    """Add the internal nodes with their length-weighted mean heights, every parent older
    than its children; returns node -> id."""
    times = {node: float(np.average([h for h, _, _ in hs], weights=[s for _, s, _ in hs]))
             for node, hs in nodes.items()}
    sds = {node: float(np.average([sd for *_, sd in hs], weights=[s for _, s, _ in hs]))
           for node, hs in nodes.items()}
    children = {}
    for _, _, parent, child in edges:
        children.setdefault(parent, set()).add(child)

    # a child is always made before its parent (a smaller run number): one pass upwards
    for node in sorted(times, key=lambda nd: nd[1]):
        low = max((times[c] for c in children.get(node, ()) if c in times), default=0.0)
        times[node] = max(times[node], low * (1 + 1e-9) + 1e-9)
    return {node: tables.nodes.add_row(
                time=times[node], population=0,
                metadata={"log_time_sd": round(sds[node], 4), "windows": len(nodes[node])})
            for node in sorted(times, key=lambda nd: times[nd])}


def parents_and_breaks(probs):
    """The most probable copying parent (n_windows, n) of copying probabilities and where
    it changes from the previous window."""
    nearest = probs.argmax(axis=2)
    breaks = np.zeros_like(nearest, dtype=bool)
    breaks[1:] = nearest[1:] != nearest[:-1]
    return nearest, breaks


def prediction_from_pairs(mean, sd, pairs, n, windows, length, chunk=256, ne=None,
                          copying=True, node_head=None):
    """Assemble a :class:`GenealogyPrediction` from per-pair (n_windows, n_pairs) means and
    standard deviations of ln TMRCA (float32; the copying probabilities in window chunks,
    so that no temporary is larger than ``chunk`` windows). ``copying=False``: without the
    copying probabilities, parents and breakpoints (None: a copying head supplies them);
    ``node_head``: the estimator's node-time head, carried along for the trees."""
    n_w = len(windows) - 1
    log_t = np.zeros((n_w, n, n), dtype=np.float32)
    log_sd_full = np.zeros((n_w, n, n), dtype=np.float32)
    log_t[:, pairs[:, 0], pairs[:, 1]] = log_t[:, pairs[:, 1], pairs[:, 0]] = mean
    log_sd_full[:, pairs[:, 0], pairs[:, 1]] = sd
    log_sd_full[:, pairs[:, 1], pairs[:, 0]] = sd
    if not copying:
        return GenealogyPrediction(windows, log_t, log_sd_full, None, None, None,
                                   float(length), ne, node_head)
    probs = np.empty((n_w, n, n), dtype=np.float32)
    diag = np.arange(n)
    for start in range(0, n_w, chunk):
        logits = -log_t[start:start + chunk] / np.maximum(log_sd_full[start:start + chunk],
                                                          0.05)
        logits[:, diag, diag] = -np.inf
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        probs[start:start + chunk] = p / p.sum(axis=2, keepdims=True)
    return GenealogyPrediction(windows, log_t, log_sd_full, probs, *parents_and_breaks(probs),
                               float(length), ne, node_head)


class PairwisePrediction(NamedTuple):
    """What :meth:`MainspringARGEstimator.predict` returns for a subset of pairs
    (``pairs=``): no trees, only the pairs asked for.

    Attributes
    ----------
    windows : ndarray (n_windows + 1,)
    pairs : ndarray (n_pairs, 2)
        Haplotype indices of each pair.
    log_tmrca, log_tmrca_sd : ndarray (n_windows, n_pairs)
        Mean and standard deviation of ln TMRCA (generations).
    sequence_length : float
    """

    windows: np.ndarray
    pairs: np.ndarray
    log_tmrca: np.ndarray
    log_tmrca_sd: np.ndarray
    sequence_length: float
