"""Torch modules: the SFS emulator and the genealogy network (:class:`PairConvNet`).

The network maps parameters in natural units to a log spectrum over the modelled entries:

``log SFS = log(total) + log_softmax(logits)``,

a *shape* (softmax over entries: positive, sums to one) times a *scale* (the total branch
length, exponentiated: positive). The input encoding (log of log-scaled parameters, then
standardisation) lives inside the module as buffers, so the module alone maps natural-unit
parameters to spectra and is differentiable end to end.
"""

from __future__ import annotations

import torch
from torch import nn

from ._scales import to_log_scale
from .spectrum import projection_matrix

__all__ = ["SFSEmulatorModule", "PopulationGraphEncoder", "SpectrumModule", "SpectrumLoss",
           "PairConvNet", "BottleneckAdapter", "NodeTimeHead", "node_features",
           "N_NODE_FEATURES", "ACTIVATIONS"]

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class SFSEmulatorModule(nn.Module):
    """MLP from parameters to the log expected spectrum (modelled entries only).

    Parameters
    ----------
    n_params : int
        Number of input parameters.
    n_outputs : int
        Number of modelled spectrum entries.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers.
    activation : {"gelu", "relu", "silu", "tanh"}
        Non-linearity.
    log_params : list of bool
        Which parameters are log-transformed before standardisation.
    param_mean, param_std : list of float
        Standardisation of the (log-)parameters.
    head : {"dense", "cp"}, default="dense"
        ``"dense"``: a softmax over all modelled entries. ``"cp"``: a rank-``rank`` CP
        (canonical polyadic) tensor built from per-population factors, far fewer output
        weights for three or more populations (``sfs_shape`` and ``included`` needed).
    rank : int, default=16
        Rank of the CP head.
    sfs_shape, included : tuple of int, array of bool
        The spectrum's shape and its modelled entries (CP head only).
    encoder : {"mlp", "graph"}, default="mlp"
        ``"graph"``: the inputs are encoded population graphs
        (:func:`sfsestimators.models.encode_graph`), read by a
        :class:`PopulationGraphEncoder` before the MLP trunk.
    graph_layout : tuple (max_nodes, n_sampled)
        Layout of the graph encoding (graph encoder only).
    """

    def __init__(self, n_params, n_outputs, hidden_layer_sizes=(256, 256), activation="gelu",
                 log_params=None, param_mean=None, param_std=None, head="dense", rank=16,
                 sfs_shape=None, included=None, encoder="mlp", graph_layout=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation is {activation!r}; expected one of {sorted(ACTIVATIONS)}."
            )
        if head not in ("dense", "cp"):
            raise ValueError(f"head is {head!r}; expected 'dense' or 'cp'.")
        if encoder not in ("mlp", "graph"):
            raise ValueError(f"encoder is {encoder!r}; expected 'mlp' or 'graph'.")
        log_params = [False] * n_params if log_params is None else list(log_params)
        param_mean = [0.0] * n_params if param_mean is None else list(param_mean)
        param_std = [1.0] * n_params if param_std is None else list(param_std)
        self.register_buffer("log_params", torch.tensor(log_params, dtype=torch.bool))
        self.register_buffer("param_mean", torch.tensor(param_mean, dtype=torch.float32))
        self.register_buffer("param_std", torch.tensor(param_std, dtype=torch.float32))
        self.graph = None
        width = n_params
        if encoder == "graph":
            if graph_layout is None:
                raise ValueError("encoder='graph' needs graph_layout (max_nodes, n_sampled).")
            self.graph = PopulationGraphEncoder(*graph_layout, width=int(hidden_layer_sizes[0]),
                                                activation=activation)
            width = self.graph.out_features
        layers = []
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), ACTIVATIONS[activation]()]
            width = int(size)
        self.trunk = nn.Sequential(*layers)
        self.head = head
        if head == "dense":
            self.shape_head = nn.Linear(width, n_outputs)
        else:
            if sfs_shape is None or included is None:
                raise ValueError("head='cp' needs sfs_shape and included.")
            self.sfs_shape = tuple(int(n) for n in sfs_shape)
            self.rank = int(rank)
            self.register_buffer("index", torch.nonzero(
                torch.as_tensor(included, dtype=torch.bool).reshape(-1)).reshape(-1))
            if len(self.index) != n_outputs:
                raise ValueError(f"included has {len(self.index)} entries; n_outputs is "
                                 f"{n_outputs}.")
            self.shape_head = nn.Linear(width, self.rank * (1 + sum(self.sfs_shape)))
        self.scale_head = nn.Linear(width, 1)

    def encode(self, theta):
        """Natural-unit parameters -> standardised network inputs."""
        theta = theta.to(self.param_mean.dtype)
        z = to_log_scale(theta, self.log_params, floor=1e-30)
        return (z - self.param_mean) / self.param_std

    def forward(self, theta):
        x = self.encode(theta)
        if self.graph is not None:
            x = self.graph(x)
        h = self.trunk(x)
        if self.head == "dense":
            log_shape = torch.log_softmax(self.shape_head(h), dim=-1)
        else:
            log_shape = self._cp_log_shape(self.shape_head(h))
        return self.scale_head(h) + log_shape

    def _cp_log_shape(self, out):
        """Rank-R CP tensor: a mixture of R product distributions over the k axes.

        Each rank-one term is a product of per-population distributions (softmax over that
        axis) with a mixture weight (softmax over ranks), so the full tensor sums to one; the
        modelled entries (corners excluded) are renormalised.
        """
        batch, r = out.shape[0], self.rank
        parts = torch.split(out.reshape(batch, r, -1), [1, *self.sfs_shape], dim=-1)
        log_w = torch.log_softmax(parts[0][..., 0], dim=-1)  # (batch, r)
        if not self.training:
            # the same tensor by products and one batched matmul over the ranks, each factor
            # shifted by its maximum: no (batch, rank, entries) logsumexp
            logs = [torch.log_softmax(logits, dim=-1) for logits in parts[1:]]
            shift = [lf.amax(dim=-1, keepdim=True) for lf in logs]
            log_scale = log_w + sum(m[..., 0] for m in shift)  # (batch, r)
            top = log_scale.amax(dim=-1, keepdim=True)
            factors = [torch.exp(lf - m) for lf, m in zip(logs, shift)]
            prod = torch.exp(log_scale - top)[..., None] * factors[0]
            for f in factors[1:-1]:
                prod = (prod[..., None] * f[:, :, None, :]).reshape(batch, r, -1)
            joint = (torch.bmm(prod.transpose(1, 2), factors[-1]) if len(factors) > 1
                     else prod.sum(dim=1))
            tiny = torch.finfo(joint.dtype).tiny
            joint = torch.log(joint.reshape(batch, -1).clamp_min(tiny))[:, self.index]
            return joint - torch.logsumexp(joint, dim=-1, keepdim=True)
        total = log_w.reshape((batch, r) + (1,) * len(self.sfs_shape))
        for axis, logits in enumerate(parts[1:]):
            shape = [batch, r] + [1] * len(self.sfs_shape)
            shape[2 + axis] = self.sfs_shape[axis]
            total = total + torch.log_softmax(logits, dim=-1).reshape(shape)
        joint = torch.logsumexp(total, dim=1).reshape(batch, -1)[:, self.index]
        return joint - torch.logsumexp(joint, dim=-1, keepdim=True)


class PopulationGraphEncoder(nn.Module):
    """Message passing over a demographic history's graph of deme epochs.

    The input row is the flat encoding of :func:`sfsestimators.models.encode_graph`: node
    features (log sizes, log times, root/present flags, a validity mask), a descent matrix
    (ancestry proportions, pulses included), a migration matrix (scaled rates, weighted by
    time overlap) and, per sampled population, a one-hot pointer to its present-day node.
    Nodes are embedded, updated by ``n_layers`` rounds of sum-aggregated messages along
    descent (both directions) and migration edges, and read out as the sampled populations'
    embeddings in sample order plus a masked mean over all nodes. Sum aggregation makes the
    output independent of the order in which demes are listed; only the sample order
    (the axes of the spectrum) matters.

    Parameters
    ----------
    max_nodes, n_sampled : int
        The layout of the encoding.
    width : int, default=128
        Node embedding width.
    n_layers : int, default=3
        Message-passing rounds.
    activation : str, default="gelu"

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.models import YRI_CEU
    >>> from sfsestimators.nn import PopulationGraphEncoder
    >>> x = YRI_CEU().encode_graphs([[1.9, 0.07, 1.8, 0.9, 0.35, 0.11]])
    >>> encoder = PopulationGraphEncoder(12, 2, width=16)
    >>> encoder(torch.as_tensor(x, dtype=torch.float32)).shape
    torch.Size([1, 48])
    """

    def __init__(self, max_nodes, n_sampled, width=128, n_layers=3, activation="gelu"):
        super().__init__()
        from .models import GRAPH_NODE_FEATURES

        self.max_nodes, self.n_sampled = int(max_nodes), int(n_sampled)
        self.n_features = GRAPH_NODE_FEATURES
        act = ACTIVATIONS[activation]
        self.embed = nn.Sequential(nn.Linear(self.n_features, width), act())
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(4 * width, width), act()) for _ in range(int(n_layers)))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(int(n_layers)))
        self.out_features = width * (self.n_sampled + 1)

    @property
    def in_features(self):
        m = self.max_nodes
        return m * self.n_features + 2 * m * m + self.n_sampled * m

    def split(self, x):
        m, f = self.max_nodes, self.n_features
        sizes = [m * f, m * m, m * m, self.n_sampled * m]
        nodes, descent, migration, pointer = torch.split(x, sizes, dim=-1)
        batch = x.shape[0]
        return (nodes.reshape(batch, m, f), descent.reshape(batch, m, m),
                migration.reshape(batch, m, m), pointer.reshape(batch, self.n_sampled, m))

    def forward(self, x):
        nodes, descent, migration, pointer = self.split(x)
        valid = nodes[..., -1:]  # the last node feature is the validity mask
        h = self.embed(nodes) * valid
        for layer, norm in zip(self.layers, self.norms):
            messages = torch.cat([
                h, descent.transpose(1, 2) @ h,  # from ancestors
                descent @ h,  # from descendants
                migration @ h + migration.transpose(1, 2) @ h,
            ], dim=-1)
            h = norm(h + layer(messages)) * valid
        sampled = (pointer @ h).reshape(x.shape[0], -1)
        pooled = h.sum(dim=1) / valid.sum(dim=1).clamp_min(1.0)
        return torch.cat([sampled, pooled], dim=-1)


class SpectrumModule(nn.Module):
    """The differentiable map ``theta -> expected spectrum`` of a fitted emulator.

    Output shape ``(batch, *spectrum_shape)``; entries the emulator does not model (the
    monomorphic corners) are 0; optionally projected exactly to smaller sample sizes.
    """

    def __init__(self, emulator, spectrum_shape, included, sample_sizes=None):
        super().__init__()
        self.emulator = emulator
        self.spectrum_shape = tuple(int(s) for s in spectrum_shape)
        self.register_buffer("index", torch.nonzero(torch.as_tensor(included).reshape(-1))
                             .reshape(-1))
        self.n_total = int(torch.as_tensor(included).numel())
        self.projections = nn.ParameterList()
        self.project_to = None
        if sample_sizes is not None:
            self.project_to = [int(n) for n in sample_sizes]
            for n_from, n_to in zip([s - 1 for s in self.spectrum_shape], self.project_to):
                p = torch.as_tensor(projection_matrix(n_from, n_to), dtype=torch.float32)
                self.projections.append(nn.Parameter(p, requires_grad=False))

    def forward(self, theta):
        values = torch.exp(self.emulator(theta))
        out = values.new_zeros(values.shape[0], self.n_total)
        out = out.index_copy(1, self.index, values).reshape((-1,) + self.spectrum_shape)
        if self.project_to is not None:
            for axis, p in enumerate(self.projections, start=1):
                out = torch.movedim(torch.tensordot(out, p.to(out.dtype), dims=([axis], [0])),
                                    -1, axis)
        return out


class SpectrumLoss(nn.Module):
    """Training loss on log spectra.

    ``"log_mse"``: mean squared error of the log entries (relative error, uniform over
    entries). ``"kl"``: KL divergence between the normalised spectra plus the squared error of
    the log total (shape and scale separately, as the likelihood sees them).
    """

    def __init__(self, kind="log_mse"):
        super().__init__()
        if kind not in ("log_mse", "kl"):
            raise ValueError(f"loss is {kind!r}; expected 'log_mse' or 'kl'.")
        self.kind = kind

    def forward(self, log_pred, log_true):
        if self.kind == "log_mse":
            return torch.mean((log_pred - log_true) ** 2)
        total_pred = torch.logsumexp(log_pred, dim=-1, keepdim=True)
        total_true = torch.logsumexp(log_true, dim=-1, keepdim=True)
        p_true = torch.exp(log_true - total_true)
        kl = torch.sum(p_true * ((log_true - total_true) - (log_pred - total_pred)), dim=-1)
        return torch.mean(kl + (total_pred - total_true).squeeze(-1) ** 2)


# -- the genealogy network (MainspringARGEstimator) --------------------------------------
class _Block(nn.Module):
    def __init__(self, width, kernel_size, dilation):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(width, width, kernel_size, padding=pad, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.act = nn.GELU()

    def forward(self, h):
        return h + self.mix(self.act(self.conv(self.act(h))))


class BottleneckAdapter(nn.Module):
    """``h + up(gelu(down(h)))`` with 1x1 convolutions through ``bottleneck`` channels; ``up``
    starts at zero, so the adapter starts as the identity."""

    def __init__(self, width, bottleneck):
        super().__init__()
        self.down = nn.Conv1d(width, bottleneck, 1)
        self.up = nn.Conv1d(bottleneck, width, 1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.act = nn.GELU()

    def forward(self, h):
        return h + self.up(self.act(self.down(h)))


class PairConvNet(nn.Module):
    """Dilated residual 1-D convolutions along windows, shared by all pairs.

    Output per pair and window: mean and log standard deviation of ln TMRCA (Gaussian
    likelihood head, trained with :class:`torch.nn.GaussianNLLLoss`).

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.nn import PairConvNet
    >>> mean, log_sd = PairConvNet(width=8, n_blocks=2)(torch.zeros(3, 4, 10))
    >>> tuple(mean.shape), tuple(log_sd.shape)
    ((3, 10), (3, 10))
    """

    def __init__(self, width=32, n_blocks=4, kernel_size=5, n_features=4, adapter=0,
                 n_mask=0, node_head=0, node_head_n=None):
        super().__init__()
        self.n_features = n_features
        self.inp = nn.Conv1d(n_features, width, 1)
        # bitmask channels (missing calls, inaccessible sequence) after the features: their
        # own input map, zero at initialisation so a trained backbone keeps its answers
        self.mask_in = None
        if n_mask:
            self.mask_in = nn.Conv1d(n_mask, width, 1)
            nn.init.zeros_(self.mask_in.weight)
            nn.init.zeros_(self.mask_in.bias)
        # bottleneck adapters after each block (0: none): identity at initialisation, so a
        # trained backbone keeps its answers until the adapters learn (Houlsby et al. 2019)
        self.adapters = nn.ModuleList([BottleneckAdapter(width, adapter)
                                       for _ in range(n_blocks)]) if adapter else None
        self.blocks = nn.Sequential(*[_Block(width, kernel_size, 2 ** (i % 5))
                                      for i in range(n_blocks)])
        self.out = nn.Conv1d(width, 2, 1)
        # the node-time head of the local trees (0: none); it reads the pair outputs, not
        # the activations, so the pair head's answers do not depend on it
        self.node_head = NodeTimeHead(node_head, node_head_n) if node_head else None

    def forward(self, x, shift=None, hidden=False):
        """Mean and log sd of ln TMRCA, each (n_pairs, n_windows); ``shift`` (n_pairs,), the
        features' offset (:func:`~sfsestimators.genealogy.pair_features`), is added back to
        the mean. ``hidden=True``: also the last block's activations summed over pairs and
        windows, (width,) (what the N_e(t) decoder pools)."""
        h = self.inp(x[:, :self.n_features])
        if self.mask_in is not None:
            h = h + self.mask_in(x[:, self.n_features:])
        if self.adapters is None:
            h = self.blocks(h)
        else:
            for block, adapter in zip(self.blocks, self.adapters):
                h = adapter(block(h))
        pooled = h.float().sum(dim=(0, 2)) if hidden else None
        # the output map in float32 even under bfloat16 autocast: the predicted ln TMRCA
        # keeps its resolution (bfloat16 would round it to ~0.01 and make ties)
        with torch.autocast(h.device.type, enabled=False):
            h = self.out(h.float())
        mean = h[:, 0] if shift is None else h[:, 0] + shift.to(h.dtype)[:, None]
        if hidden:
            return mean, h[:, 1].clamp(-5, 3), pooled
        return mean, h[:, 1].clamp(-5, 3)


class NodeTimeHead(nn.Module):
    """Log-normal time of a node of a local tree from the predicted times of the pairs it
    joins.

    A node that joins leaf sets A and B is as old as the oldest of its |A| x |B| pairs'
    TMRCAs (the MRCA of a set of leaves), not their mean: the head maps the mean, spread
    and predicted sd of those pairs' ln TMRCA, the node's share of the leaves and the
    sample size (:data:`N_NODE_FEATURES` numbers, :func:`node_features`) through a small
    MLP to a correction of the mean and of the log sd. Its last layer starts at zero, so an
    untrained head answers the pairs' mean and mean sd.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.nn import NodeTimeHead, node_features
    >>> x = node_features(torch.tensor([8.0]), torch.tensor([8.5]), torch.tensor([7.5]),
    ...                   torch.tensor([0.25]), torch.tensor([2.0]), 10)
    >>> mean, log_sd = NodeTimeHead(16)(x)
    >>> float(mean[0]), round(float(log_sd[0].exp()), 3)   # untrained: the pairs' mean, sd
    (8.0, 0.5)
    """

    def __init__(self, width=32, sample_size=None):
        super().__init__()
        # the sample size the head reads (that of its training; None: the data's): an
        # input that was constant in training leaves its weights untrained
        self.sample_size = sample_size
        self.mlp = nn.Sequential(nn.Linear(N_NODE_FEATURES, width), nn.GELU(),
                                 nn.Linear(width, width), nn.GELU(), nn.Linear(width, 2))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x):
        """Mean and log sd of ln node time (generations), each (...,), from features
        (..., N_NODE_FEATURES)."""
        out = self.mlp(x)
        return x[..., 0] * 2 + 9 + out[..., 0], (x[..., 3] + out[..., 1]).clamp(-5, 3)


#: inputs of :class:`NodeTimeHead` per node
N_NODE_FEATURES = 6
#: hidden width of the node-time head that a Mainspring curriculum with node or SFS terms adds
NODE_HEAD_WIDTH = 32


def node_features(mean, high, low, var, size, n):
    """:class:`NodeTimeHead`'s inputs: of the pairs a node joins, the mean, largest and
    smallest predicted ln TMRCA and the mean predicted variance; the node's number of
    descendant leaves ``size`` of ``n``. Tensors of one shape; returns (..., 6)."""
    size = torch.as_tensor(size, dtype=mean.dtype, device=mean.device)
    return torch.stack([(mean - 9) / 2, high - mean, mean - low,
                        0.5 * torch.log(var.clamp_min(1e-6)), torch.log(size / n),
                        torch.full_like(mean, float(torch.log(torch.tensor(float(n)))) - 3)],
                       dim=-1)
