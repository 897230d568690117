"""Mainspring's composite loss and its curriculum: phases as data, switched by skorch callbacks.

The network's one output (mean and sd of ln TMRCA of every pair and window) feeds four
losses, each with its own weight per phase:

- ``time``: the Gaussian NLL of the true window-mean ln TMRCA (the pair head);
- ``topology``: copying attention over the other haplotypes, logits ``-ln TMRCA``; a
  Gumbel-softmax sample at temperature ``tau`` (annealed exponentially from ``tau_max`` to
  ``tau_min`` over the run) scored by the cross-entropy of the true copying parent (closest
  relative in the local tree; times ``tau``, so that its gradient keeps its scale as the
  temperature falls), plus the binary cross-entropy of a parent change between
  adjacent windows (``1 - sum_j p_w(j) p_w+1(j)``) against the true changes;
- ``node``: the nodes of the UPGMA local trees built from the predictions, each a
  log-normal from the node-time head (:class:`~sfsestimators.nn.NodeTimeHead`, which reads
  the predicted times of the pairs the node joins), scored by the NLL of the true time of
  that set of leaves (the largest true TMRCA among its pairs): the node-time head with
  calibrated uncertainty;
- ``sfs``: the physics regulariser: the SFS those trees imply (branch length x mu x window
  length by number of descendant leaves, differentiable in the node times) against the
  item's observed SFS, ``sum_k (o_k - e_k)^2 / (e_k + 1) / (n - 1)``.

The node and SFS terms train the node-time head only: it reads the pair outputs detached.
Passed back into the pair times (session 13: the node times the means over each node's
pairs, no head), the two terms pulled the pairwise times off (MSE 0.415 against 0.297 on
``genealogy_accuracy.py`` (a) after phases 1-3 at lr 1e-4, root heights 1.15-1.40 of the
truth): a node is as old as the OLDEST of its pairs, and the SFS of UPGMA trees of
window-mean times is not the SFS of the true trees, so both asked the pairs to be older
than they are. Without a head the two terms are diagnostics (no gradient).

A :class:`Phase` holds the training prior, the steps and the weights; :data:`CURRICULUM` is
the four-phase default: constant N_e; 1-2 size changes; the full prior; robustness (selective
sweeps, structure with migration, rates off the nominal ones). :class:`PhaseSchedule` and
:class:`TauAnnealing` are the skorch callbacks; :class:`LossComponents` writes each
component and the diagnostics (copying-parent accuracy, 90 % coverage of node times and of
pairwise TMRCAs, overall and by time scale, SFS residual, attention entropy, the log10-RMSE
of the N_e(t) hazard estimate from the predicted times against the item's true history, and
on held-out batches the KC distance between the UPGMA trees of the predicted and of the true
times, via tskit) per epoch to the history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import tskit
from scipy.cluster.hierarchy import linkage
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor

from ..nn import node_features

__all__ = ["Phase", "CURRICULUM", "phases_of", "composite_loss", "window_trees",
           "trees_implied_sfs", "tree_node_times", "PhaseSchedule", "TauAnnealing",
           "LossComponents", "COMPONENTS", "scale_curriculum", "upgma_tree"]

#: what :func:`composite_loss` returns besides the total (losses and diagnostics)
COMPONENTS = ("loss_time", "loss_topology", "loss_node", "loss_sfs", "parent_accuracy",
              "node_coverage90", "tmrca_coverage90", "tmrca_coverage90_recent",
              "tmrca_coverage90_middle", "tmrca_coverage90_old", "sfs_residual",
              "attention_entropy", "ne_log10_rmse", "kc_distance")

#: the time scales of the coverage diagnostics (true TMRCA, generations)
COVERAGE_SCALES = (("recent", 0.0, 1e3), ("middle", 1e3, 1e4), ("old", 1e4, math.inf))
#: windows per held-out item whose trees are compared by their KC distance
KC_WINDOWS = 8
#: where the N_e(t) diagnostic compares the hazard estimate with the truth (generations;
#: within the middle 80 % of the item's true pairwise times)
NE_SCORED = (1e2, 5e4)


@dataclass(frozen=True)
class Phase:
    """One phase of the curriculum.

    Parameters
    ----------
    name : str
    steps : int
        Optimiser steps of the phase.
    prior : dict
        Keyword arguments of :func:`sfsestimators.simulate.sample_size_history`.
    lambda_time, lambda_topology, lambda_node, lambda_sfs : float
        Weights of the loss components.
    rate_range : tuple or None
        Rates off the nominal ones (as the estimator's ``rate_range``).
    scenarios : tuple of str
        Data the coalescent prior does not generate (``"sweep"``, ``"migration"``).

    Examples
    --------
    >>> from sfsestimators.genealogy import CURRICULUM, Phase
    >>> [p.name for p in CURRICULUM]
    ['constant', '1-2 changes', 'full prior', 'robustness']
    >>> Phase("warm-up", 100, {"max_epochs": 1}, lambda_sfs=0.1).weights()
    {'time': 1.0, 'topology': 0.0, 'node': 0.0, 'sfs': 0.1}
    """

    name: str
    steps: int
    prior: dict = field(default_factory=dict)
    lambda_time: float = 1.0
    lambda_topology: float = 0.0
    lambda_node: float = 0.0
    lambda_sfs: float = 0.0
    rate_range: tuple | None = None
    scenarios: tuple = ()

    def weights(self):
        return {"time": self.lambda_time, "topology": self.lambda_topology,
                "node": self.lambda_node, "sfs": self.lambda_sfs}


#: the default four phases (steps for a CPU run; scale them with ``scale_curriculum``)
CURRICULUM = (
    Phase("constant", 300, {"max_epochs": 1}, 1.0, 0.1, 0.1, 0.1),
    Phase("1-2 changes", 300, {"min_epochs": 2, "max_epochs": 3}, 1.0, 0.5, 0.5, 0.5),
    Phase("full prior", 600, {"max_epochs": 7}, 1.0, 1.0, 1.0, 1.0),
    Phase("robustness", 300, {"max_epochs": 7}, 1.0, 1.0, 1.0, 1.0, rate_range=(0.5, 2.0),
          scenarios=("sweep", "migration")),
)


def phase_at(phases, step):
    """The phase that step ``step`` (0-based, over the whole run) belongs to."""
    end = 0
    for phase in phases:
        end += phase.steps
        if step < end:
            return phase
    return phases[-1]


def window_trees(log_t, n, merges=None):
    """UPGMA trees of every window from predicted ln TMRCA (windows, pairs in triu order);
    ``merges``: the windows' scipy linkages of ``exp(log_t)``, if already computed.

    Returns ``node_of_pair`` (windows, pairs): the internal node 0..n-2 where each pair
    coalesces; ``parent`` (windows, 2n - 2): the parent node id (n + internal index) of
    every node but the root (leaves 0..n-1, internal n..2n-3); ``count`` (2n - 2,) per
    window: descendant leaves of those nodes, shape (windows, 2n - 2)."""
    log_t = np.asarray(log_t, dtype=float)
    n_w, n_p = log_t.shape
    index = np.full((n, n), -1)
    iu = np.triu_indices(n, 1)
    index[iu] = np.arange(n_p)
    index = np.maximum(index, index.T)
    node_of_pair = np.empty((n_w, n_p), dtype=np.int64)
    parent = np.empty((n_w, 2 * n - 2), dtype=np.int64)
    count = np.empty((n_w, 2 * n - 2), dtype=np.int64)
    for w in range(n_w):
        merged = (linkage(np.exp(log_t[w]), method="average") if merges is None
                  else merges[w])
        members = [[i] for i in range(n)]
        for k, (a, b, _, _) in enumerate(merged):
            a, b = int(a), int(b)
            node_of_pair[w, index[np.ix_(members[a], members[b])].ravel()] = k
            for c in (a, b):
                if c < 2 * n - 2:
                    parent[w, c] = n + k
                    count[w, c] = len(members[c])
            members.append(members[a] + members[b])
    return node_of_pair, parent, count


def tree_node_times(mean, var, trees, node_head=None):
    """Mean and variance of ln time (windows, n - 1) of the internal nodes of
    :func:`window_trees` ``trees`` from the pairs' predicted ln TMRCA ``mean`` and variance
    ``var`` (windows, pairs): the node-time head's (gradients to the head), or without one
    the means over each node's pairs."""
    node_of_pair = torch.as_tensor(trees[0], device=mean.device)
    n = trees[1].shape[1] // 2 + 1  # parents of the 2n - 2 non-root nodes
    node_mean = _scatter_mean(mean, node_of_pair, n - 1)
    node_var = _scatter_mean(var, node_of_pair, n - 1)
    if node_head is None:
        return node_mean, node_var
    high = torch.full_like(node_mean, -math.inf).scatter_reduce(1, node_of_pair, mean, "amax")
    low = torch.full_like(node_mean, math.inf).scatter_reduce(1, node_of_pair, mean, "amin")
    count = torch.as_tensor(trees[2], device=mean.device)[:, n:]  # internal nodes but the root
    size = torch.cat([count, torch.full_like(count[:, :1], n)], dim=1)
    # the head reads the sample size of its training (at 25 diploids, 20 read: node MSE
    # 0.697/0.661/0.865 -> 0.644/0.631/0.802 on genealogy_accuracy (a)-(c)); the leaves'
    # shares stay the data's
    n_read = getattr(node_head, "sample_size", None) or n
    head_mean, head_log_sd = node_head(node_features(node_mean, high, low, node_var,
                                                     size.to(mean.dtype) * (n_read / n),
                                                     n_read))
    return head_mean, torch.exp(2 * head_log_sd)


def _scatter_mean(values, index, size):
    total = torch.zeros(values.shape[0], size, dtype=values.dtype, device=values.device)
    count = torch.zeros_like(total)
    total.scatter_add_(1, index, values)
    count.scatter_add_(1, index, torch.ones_like(values))
    return total / count.clamp_min(1)


def trees_implied_sfs(node_log_time, trees, window_length, mutation_rate):
    """The expected SFS (n + 1,) of per-window trees (:func:`window_trees`) whose internal
    nodes have ln times ``node_log_time`` (windows, n - 1; differentiable): branch length x
    window length x mu, by descendant leaves (as tskit's branch-mode SFS x mu)."""
    _, parent, count = (torch.as_tensor(a, device=node_log_time.device) for a in trees)
    n_w, n = node_log_time.shape[0], node_log_time.shape[1] + 1
    times = torch.cat([torch.zeros(n_w, n, dtype=node_log_time.dtype,
                                   device=node_log_time.device), torch.exp(node_log_time)],
                      dim=1)
    length = (times.gather(1, parent) - times[:, :2 * n - 2]).clamp_min(0)
    span = torch.as_tensor(np.asarray(window_length), dtype=length.dtype,
                           device=length.device)[:, None]
    return torch.zeros(n + 1, dtype=length.dtype, device=length.device).index_add(
        0, count.reshape(-1), (length * span).reshape(-1)) * float(mutation_rate)


def upgma_tree(log_t, n):
    """The UPGMA tree (average linkage of the TMRCAs) of one window's ln TMRCA (pairs in
    triu order) as a :class:`tskit.Tree` (``sample_lists=True``, node times the merge
    heights)."""
    tables = tskit.TableCollection(sequence_length=1.0)
    times = [0.0] * n
    for _ in range(n):
        tables.nodes.add_row(flags=tskit.NODE_IS_SAMPLE, time=0.0)
    for a, b, height, _ in linkage(np.exp(np.asarray(log_t, dtype=float)), method="average"):
        a, b = int(a), int(b)
        t = max(float(height), times[a] * (1 + 1e-9) + 1e-9, times[b] * (1 + 1e-9) + 1e-9)
        node = tables.nodes.add_row(time=t)
        times.append(t)
        tables.edges.add_row(0.0, 1.0, node, a)
        tables.edges.add_row(0.0, 1.0, node, b)
    tables.sort()
    return tables.tree_sequence().first(sample_lists=True)


def _held_out_diagnostics(out, m, y, item, n):
    """The N_e(t) log10-RMSE (items with a known history) and the mean KC distance
    (topology, lambda 0) of :data:`KC_WINDOWS` windows' UPGMA trees of the predicted vs
    the true ln TMRCA (windows, pairs; numpy)."""
    from ..simulate import TIME_GRID
    from ._ne import NE_TIME_GRID, ne_from_times

    # scored inside NE_SCORED where the item's pairs coalesce (10-90 % of the true times:
    # beyond, a short simulation of a small population says nothing about N_e)
    lo, hi = np.exp(np.quantile(y, [0.1, 0.9]))
    t = TIME_GRID[(TIME_GRID >= max(NE_SCORED[0], lo)) & (TIME_GRID <= min(NE_SCORED[1], hi))]
    if item.get("log_ne") is not None and len(t):
        estimate = np.log10(ne_from_times(np.exp(m[np.isfinite(m)])))
        k = np.clip(np.searchsorted(NE_TIME_GRID, t, side="right") - 1, 0,
                    len(estimate) - 1)
        true = np.asarray(item["log_ne"], dtype=float)[np.isin(TIME_GRID, t)] / math.log(10)
        out["ne_log10_rmse"].append(float(np.sqrt(np.mean((estimate[k] - true) ** 2))))
    if n > 2:
        chosen = np.unique(np.linspace(0, len(m) - 1, KC_WINDOWS).round().astype(int))
        out["kc_distance"].append(float(np.mean([
            upgma_tree(m[w], n).kc_distance(upgma_tree(y[w], n), lambda_=0.0)
            for w in chosen])))


def composite_loss(mean, log_sd, target, aux, weights, tau=1.0, generator=None,
                   noise=True, node_head=None):
    """The weighted sum of the four losses (see the module) and every component.

    ``mean``, ``log_sd``, ``target``: (pairs of all items, windows); ``aux``: per item a
    dict with ``n``, ``nearest`` (windows, n), ``sfs`` (n + 1,) of the fully called sites,
    ``sfs_scale`` (the fraction of sites they are), ``window_length`` (windows,) accessible bp,
    ``mutation_rate`` and ``log_ne`` (ln N_e on ``simulate.TIME_GRID`` or None), its pairs
    consecutive in triu order. Components with
    weight 0 are still computed for the diagnostics (cheaply, without gradient) when asked
    with ``weights=None``. ``noise=False``: no Gumbel noise (held-out scoring).
    ``node_head``: a :class:`~sfsestimators.nn.NodeTimeHead` for the node times (None: the
    means over each node's pairs, without gradient)."""
    var = torch.exp(2 * log_sd)
    parts = {"loss_time": torch.nn.functional.gaussian_nll_loss(mean, target, var)}
    out = {k: [] for k in COMPONENTS if k != "loss_time"}
    start = 0
    for item in aux:
        n = int(item["n"])
        n_p = n * (n - 1) // 2
        m, v, y = (a[start:start + n_p].T for a in (mean, var, target))  # (windows, pairs)
        start += n_p
        n_w = m.shape[0]
        device = m.device
        iu = torch.triu_indices(n, n, 1, device=device)
        full = torch.full((n_w, n, n), float("inf"), dtype=m.dtype, device=device)
        full[:, iu[0], iu[1]] = m
        full[:, iu[1], iu[0]] = m
        # topology: Gumbel-softmax copying attention
        log_p = torch.log_softmax(-full, dim=2)
        nearest = torch.as_tensor(item["nearest"], device=device).long()
        if noise:
            u = torch.rand(log_p.shape, generator=generator, dtype=m.dtype).to(device)
            gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-10)))
        else:
            gumbel = torch.zeros_like(log_p)
        log_soft = torch.log_softmax((log_p + gumbel) / tau, dim=2)
        soft = log_soft.exp()
        # x tau: the same gradient scale at every temperature (the logits are divided by it)
        ce = -tau * log_soft.gather(2, nearest[..., None]).squeeze(2).mean()
        same = (soft[1:] * soft[:-1]).sum(2).clamp(1e-6, 1 - 1e-6)
        changed = (nearest[1:] != nearest[:-1]).to(m.dtype)
        bce = torch.nn.functional.binary_cross_entropy(1 - same, changed) if n_w > 1 else 0.0
        out["loss_topology"].append(ce + bce)
        probs = log_p.exp()
        out["parent_accuracy"].append((log_p.argmax(2) == nearest).float().mean())
        out["attention_entropy"].append(-(probs * log_p.clamp_min(-1e4)).sum(2).mean())
        # nodes of the UPGMA trees: log-normal per node, true time = max over its pairs
        m_np = m.detach().cpu().numpy()
        trees = window_trees(m_np, n)
        node_mean, node_var = tree_node_times(m.detach(), v.detach(), trees, node_head)
        node_of_pair = torch.as_tensor(trees[0], device=device)
        node_true = torch.full_like(node_mean, -float("inf")).scatter_reduce(
            1, node_of_pair, y, reduce="amax")
        out["loss_node"].append(torch.nn.functional.gaussian_nll_loss(node_mean, node_true,
                                                                      node_var))
        z = 1.6449 * node_var.sqrt()
        out["node_coverage90"].append(((node_true - node_mean).abs() <= z).float().mean())
        covered = (y - m).abs() <= 1.6449 * v.sqrt()
        out["tmrca_coverage90"].append(covered.float().mean())
        for name, lo, hi in COVERAGE_SCALES:
            inside = (y >= math.log(lo) if lo > 0 else torch.ones_like(covered)) & (
                y < math.log(hi))
            if inside.any():
                out[f"tmrca_coverage90_{name}"].append(covered[inside].float().mean())
        if not noise:  # held-out batches only
            _held_out_diagnostics(out, m_np, y.detach().cpu().numpy(), item, n)
        # the SFS those trees imply, against the item's observed SFS
        expected = trees_implied_sfs(node_mean, trees, item["window_length"],
                                     float(item["mutation_rate"])) * float(item["sfs_scale"])
        observed = torch.as_tensor(item["sfs"], dtype=m.dtype, device=device)
        e, o = expected[1:n], observed[1:n]
        out["loss_sfs"].append(((o - e) ** 2 / (e + 1.0)).sum() / (n - 1))
        out["sfs_residual"].append((e - o).abs().sum() / o.sum().clamp_min(1.0))
    for key, values in out.items():
        if values:  # those of held-out batches or of items with a known history only
            parts[key] = torch.stack([torch.as_tensor(v, dtype=mean.dtype)
                                      for v in values]).mean()
    total = sum(float(weights.get(k, 0.0)) * parts[f"loss_{k}"]
                for k in ("time", "topology", "node", "sfs")) if weights else parts["loss_time"]
    return total, parts


class PhaseSchedule(Callback):
    """Switches the training data's prior and the loss weights at the phase boundaries (at
    epoch starts) and records ``phase`` in the history."""

    def __init__(self, phases, dataset):
        self.phases = tuple(phases)
        self.dataset = dataset

    def on_epoch_begin(self, net, **kwargs):
        ds = self.dataset
        step = ds.first_step + ds.epoch * ds.steps_per_epoch
        phase = phase_at(self.phases, step)
        sim = list(ds.source.simulation)
        sim[5] = dict(phase.prior)
        sim[6] = phase.rate_range
        sim[7] = tuple(phase.scenarios)
        ds.source.simulation = tuple(sim)
        net.loss_weights_ = phase.weights()
        net.history.record("phase", phase.name)


class TauAnnealing(Callback):
    """Anneals the Gumbel-softmax temperature exponentially per step, ``tau_max`` ->
    ``tau_min`` over ``total_steps``; records the epoch's last ``tau``."""

    def __init__(self, dataset, total_steps, tau_max=5.0, tau_min=0.05):
        self.dataset, self.total_steps = dataset, int(total_steps)
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)

    def on_epoch_begin(self, net, **kwargs):
        ds = self.dataset
        self.step_ = ds.first_step + ds.epoch * ds.steps_per_epoch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            frac = min(self.step_ / max(self.total_steps - 1, 1), 1.0)
            net.tau_ = self.tau_max * (self.tau_min / self.tau_max) ** frac
            self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        net.history.record("tau", float(getattr(net, "tau_", self.tau_max)))


class LossComponents(Callback):
    """Epoch means of every component (and ``valid_`` ones on the held-out set)."""

    def on_epoch_end(self, net, **kwargs):
        batches = net.history[-1, "batches"]
        for prefix in ("", "valid_"):
            for key in COMPONENTS:
                values = [b[prefix + key] for b in batches if prefix + key in b]
                if values:
                    net.history.record(prefix + key, float(np.mean(values)))


def phases_of(curriculum, steps_per_epoch):
    """``MainspringARGEstimator(curriculum=)`` as Phase objects (empty for None), checked."""
    if curriculum is None:
        return ()
    if isinstance(curriculum, str):
        if curriculum != "default":
            raise ValueError(f"curriculum is {curriculum!r}; expected None, "
                             "'default' or a list of Phase keyword dicts.")
        return CURRICULUM
    try:
        phases = tuple(p if isinstance(p, Phase) else Phase(**dict(p))
                       for p in curriculum)
    except TypeError as exc:
        raise ValueError(f"curriculum holds {curriculum!r}; expected dicts of Phase "
                         f"arguments ({exc}).") from exc
    if not phases or any(int(p.steps) < 1 for p in phases):
        raise ValueError(f"curriculum is {curriculum!r}; expected at least one "
                         "phase, each with steps >= 1.")
    short = [p.name for p in phases if int(p.steps) % int(steps_per_epoch)]
    if short:
        raise ValueError(f"the steps of phase(s) {short} are not multiples of "
                         f"steps_per_epoch={steps_per_epoch}; expected multiples "
                         "(phases switch at epoch starts).")
    return tuple(Phase(**{**p.__dict__, "prior": dict(p.prior),
                          "rate_range": None if p.rate_range is None
                          else tuple(p.rate_range), "scenarios": tuple(p.scenarios)})
                 for p in phases)


def scale_curriculum(phases, factor):
    """The same phases with ``factor`` x their steps (at least one each)."""
    return tuple(Phase(**{**p.__dict__, "steps": max(1, int(math.ceil(p.steps * factor)))})
                 for p in phases)


class _GaussianNet(NeuralNet):
    """skorch NeuralNet whose module returns (mean, log sd): Gaussian NLL of the targets, or
    with a curriculum (``loss_weights_`` set by :class:`PhaseSchedule`) the composite loss
    of :func:`composite_loss`, its components recorded per batch."""

    loss_weights_ = None
    tau_ = 1.0
    _aux = None

    def infer(self, x, **fit_params):
        self._aux = None
        if isinstance(x, dict) and "aux" in x:  # read by the loss, not by the module
            x = dict(x)
            self._aux = x.pop("aux")
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        mean, log_sd = y_pred
        y = to_tensor(y_true, device=self.device)
        if self.loss_weights_ is None or self._aux is None:
            return self.criterion_(mean, y, torch.exp(2 * log_sd))
        total, parts = composite_loss(mean, log_sd, y, self._aux, self.loss_weights_,
                                      float(self.tau_), noise=training,
                                      node_head=self.module_.node_head)
        prefix = "" if training else "valid_"
        for key, value in parts.items():
            self.history.record_batch(prefix + key, float(value.detach()))
        return total


class _StepCounter(Callback):
    """Tells the training dataset which epoch is starting (its steps follow from it)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def on_epoch_begin(self, net, **kwargs):
        self.dataset.epoch = len(net.history) - 1 - self.dataset.epoch_offset
