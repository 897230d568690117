"""Training data for the genealogy network: batches of (pair features, ln TMRCA targets).

Every training step ``k`` is seeded by ``numpy.random.SeedSequence([seed, k])``, drawn
in whichever process builds it, so the data do not depend on the number of DataLoader
workers, on epochs or on where a resumed run restarts.
"""

from __future__ import annotations

import numpy as np
import torch

from ..simulate import extract_targets, simulate_item
from ._features import pair_features

__all__ = ["StepBatches", "ValidationBatches", "make_batch", "mask_item"]

_VALID_OFFSET = 2**40  # validation seeds: steps never reach this far


def mask_item(item, rng, *, max_missing=0.3, hole_rate=1.5, hole_length=(5e3, 4e4)):
    """The item as a real call set would have it (training of the ``wmissing`` network):
    with probability 0.8 a fraction U(0, ``max_missing``) of the genotype calls missing
    (-1, independently), and Poisson(``hole_rate``) inaccessible holes of U(``hole_length``)
    bp whose sites are left out; ``accessible`` holds the accessible bp per window. The
    targets (true TMRCAs) are unchanged."""
    from ._features import accessible_lengths, sites_inside

    g = np.array(item["genotypes"], dtype=np.int8)
    if rng.rand() < 0.8:
        g[rng.rand(*g.shape) < rng.uniform(0, max_missing)] = -1
    windows = item["windows"]
    length = float(windows[-1])
    holes = []
    for _ in range(rng.poisson(hole_rate)):
        start = rng.uniform(0, length)
        holes.append((start, min(length, start + rng.uniform(*hole_length))))
    edges = [0.0]
    for start, end in sorted(holes):
        if start <= edges[-1]:
            edges[-1] = max(edges[-1], end)
        else:
            edges += [start, end]
    edges.append(length)  # accessible: [e0, e1), [e2, e3), ...
    intervals = np.array(edges).reshape(-1, 2)
    intervals = intervals[intervals[:, 1] > intervals[:, 0]]
    pos = np.asarray(item["positions"])
    keep = sites_inside(intervals, pos)
    return {**item, "genotypes": g[keep], "positions": pos[keep],
            "accessible": accessible_lengths(intervals, windows)}


def make_batch(items, mutation_rate, triplet, mask=False):
    """One training batch from simulation items (``extract_targets`` dicts): a dict of
    network inputs ``x`` (pairs, channels, windows) and ``shift`` (pairs,), ``aux`` (per
    item what the composite loss reads: haplotypes, true copying parents, observed SFS,
    window lengths, mutation rate), and targets."""
    feats, targets, shifts, aux = [], [], [], []
    for item in items:
        # an item simulated at its own rate is read at it, as predict(mutation_rate=) would
        f, shift, pairs = pair_features(item["genotypes"], item["positions"], item["windows"],
                                        item.get("mutation_rate", mutation_rate),
                                        triplet=triplet, accessible=item.get("accessible"),
                                        mask=mask)
        t = np.log(np.maximum(item["tmrca"][:, pairs[:, 0], pairs[:, 1]].T, 1e-3))
        feats.append(f)
        targets.append(t.astype(np.float32))
        shifts.append(np.full(len(f), shift, dtype=np.float32))
        g = np.asarray(item["genotypes"])
        n = g.shape[1]
        called = (g >= 0).all(axis=1)
        # what the composite loss needs besides the targets (genealogy/_curriculum.py)
        aux.append({"n": torch.tensor(n),
                    "nearest": torch.as_tensor(np.asarray(item["nearest"], dtype=np.int64)),
                    "sfs": torch.as_tensor(np.bincount((g[called] == 1).sum(axis=1),
                                                       minlength=n + 1).astype(np.float32)),
                    "sfs_scale": torch.tensor(float(called.mean()) if len(g) else 1.0),
                    "window_length": torch.as_tensor(np.asarray(
                        item["accessible"] if item.get("accessible") is not None
                        else np.diff(item["windows"]), dtype=np.float32)),
                    "mutation_rate": torch.tensor(float(item.get("mutation_rate",
                                                                 mutation_rate))),
                    # ln N_e on simulate.TIME_GRID: plain coalescent items only
                    "log_ne": None if item.get("log_ne") is None
                    else torch.as_tensor(np.asarray(item["log_ne"], dtype=np.float64))})
    x = torch.as_tensor(np.concatenate(feats))
    return ({"x": x, "shift": torch.as_tensor(np.concatenate(shifts)),
             "aux": AuxItems(aux, len(x))}, torch.as_tensor(np.concatenate(targets)))


class AuxItems:
    """The per-item extras of a batch (not tensors of the pairs: skorch passes them on
    untouched; its length is the batch's number of pairs, as skorch checks)."""

    def __init__(self, items, n_pairs):
        self.items, self.n_pairs = list(items), int(n_pairs)

    def __len__(self):
        return self.n_pairs

    def __iter__(self):
        return iter(self.items)


class _Source:
    """Where the items come from: fresh msprime simulations, or given tree sequences."""

    def __init__(self, simulation, tree_sequences=None, window_size=None, missing=False):
        # (n_haplotypes, length, window, mu, rho, prior, rate_range, scenarios)
        self.simulation = simulation
        self.missing = missing  # mask_item every item (the wmissing network)
        self.data = None
        if tree_sequences is not None:
            self.data = [extract_targets(ts, window_size) for ts in tree_sequences]

    def items(self, entropy, n):
        rng = np.random.RandomState(np.random.SeedSequence(entropy).generate_state(1)[0])
        if self.data is not None:
            items = [self.data[i] for i in rng.randint(len(self.data), size=n)]
        else:
            items = [simulate_item(int(rng.randint(1, 2**31 - 1)), *self.simulation)
                     for _ in range(n)]
        if self.missing:
            items = [mask_item(item, rng) for item in items]
        return items


class StepBatches(torch.utils.data.IterableDataset):
    """The steps of one epoch: ``steps_per_epoch`` batches of ``batch_size`` simulations,
    never past step ``limit``. A callback sets ``epoch`` before each epoch; DataLoader workers
    share the steps round-robin (worker ``w`` builds steps ``k`` with ``k % n == w``)."""

    def __init__(self, source, seed, *, batch_size, steps_per_epoch, mutation_rate, triplet):
        super().__init__()
        self.source, self.seed = source, int(seed)
        self.batch_size, self.steps_per_epoch = int(batch_size), int(steps_per_epoch)
        self.mutation_rate, self.triplet = mutation_rate, triplet
        self.mask = bool(getattr(source, "missing", False))
        self.epoch, self.first_step, self.limit = 0, 0, 0

    def steps(self):
        start = self.first_step + self.epoch * self.steps_per_epoch
        return range(start, min(start + self.steps_per_epoch, self.limit))

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        for k in self.steps():
            if k % n_workers == worker:
                yield make_batch(self.source.items([self.seed, k], self.batch_size),
                                 self.mutation_rate, self.triplet, self.mask)


class ValidationBatches(torch.utils.data.Dataset):
    """A fixed held-out set: ``n`` simulations from seeds the training steps never use,
    one batch each, built once."""

    def __init__(self, source, seed, n, *, mutation_rate, triplet):
        self.batches = [make_batch(source.items([int(seed), _VALID_OFFSET + i], 1),
                                   mutation_rate, triplet, bool(source.missing))
                        for i in range(int(n))]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]
