"""MainspringARGEstimator: genealogies from genotypes, learnt by inverting msprime simulations.

Part 1 (this module): pairwise coalescence times per window, with uncertainty, the copying
parent of every haplotype per window, and ultrametric local trees as a tskit TreeSequence.
"""

from __future__ import annotations

import numbers
import os
import time
from typing import NamedTuple

import numpy as np
import torch
from scipy.cluster.hierarchy import linkage
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._validation import check_int_params
from .emulator import _resolve_device
from .simulate import MUTATION_RATE, RECOMBINATION_RATE, SimulationStream, extract_targets

__all__ = ["MainspringARGEstimator", "GenealogyPrediction", "PairConvNet", "pair_features"]

PRESETS = {
    "small": dict(width=32, n_blocks=4, kernel_size=5),
    "base": dict(width=96, n_blocks=8, kernel_size=5),
}
N_PAIR_FEATURES = {"pair": 4, "triplet": 6}


def pair_features(genotypes, positions, windows, mutation_rate, triplet=False):
    """Per pair and window: the local divergence signal the network reads.

    Channels: (0) ln of the method-of-moments TMRCA ``(d + 1/2) / (2 mu L_w)`` from the
    pair's ``d`` differences in the window, (1) the same over the whole sequence for the
    pair, (2) the window's mean over all pairs, (3) ln(1 + segregating sites in the window).
    With ``triplet=True``, what the OTHER haplotypes say about the pair (i, j): (4) the
    ultrametric bound ``min_k max(L_ik, L_jk)`` and (5) ``mean_k |L_ik - L_jk|`` (close
    relatives are equally far from everyone else), L being channel 0.
    Channels 0-2 and 4 are in ln generations, shifted by the sequence-wide mean of channel 0
    (so the network sees relative values; the shift is added back to its output).

    Returns
    -------
    features : ndarray of shape (n_pairs, 4 or 6, n_windows)
    shift : float
    pairs : ndarray of shape (n_pairs, 2)
    """
    g = np.asarray(genotypes, dtype=np.float32)
    n = g.shape[1]
    n_windows = len(windows) - 1
    index = np.clip(np.searchsorted(windows, positions, side="right") - 1, 0, n_windows - 1)
    iu = np.triu_indices(n, 1)
    diff = np.zeros((n_windows, len(iu[0])), dtype=np.float64)
    seg = np.bincount(index, minlength=n_windows).astype(float)
    for w in np.flatnonzero(seg):
        block = g[index == w]
        d = block.T @ (1 - block) + (1 - block).T @ block
        diff[w] = d[iu]
    length = np.diff(windows)[:, None]
    local = np.log((diff + 0.5) / (2 * mutation_rate * length))
    total = np.log((diff.sum(0) + 0.5) / (2 * mutation_rate * length.sum()))
    shift = float(local.mean())
    channels = [
        local - shift,
        np.broadcast_to(total - shift, local.shape),
        np.broadcast_to(local.mean(1, keepdims=True) - shift, local.shape),
        np.broadcast_to(np.log1p(seg)[:, None], local.shape),
    ]
    if triplet:
        channels += list(_triplet_channels(local, n, iu, shift))
    feats = np.stack(channels).transpose(2, 0, 1)
    return feats.astype(np.float32), shift, np.stack(iu, axis=1)


def _triplet_channels(local, n, iu, shift, chunk=64):
    """min_k max(L_ik, L_jk) and mean_k |L_ik - L_jk| over k != i, j, per window and pair."""
    if n < 3:  # no third haplotype: fall back to the pair's own value
        return local - shift, np.zeros_like(local)
    n_windows = len(local)
    bound = np.empty_like(local)
    spread = np.empty_like(local)
    eye = np.eye(n, dtype=bool)
    for start in range(0, n_windows, chunk):
        block = local[start:start + chunk]
        full = np.zeros((len(block), n, n), dtype=np.float32)
        full[:, iu[0], iu[1]] = block
        full[:, iu[1], iu[0]] = block
        a = full[:, iu[0], :]  # (w, pairs, k): L_ik
        b = full[:, iu[1], :]  # L_jk
        own = eye[iu[0]] | eye[iu[1]]  # k == i or k == j
        big = np.where(own[None], np.inf, np.maximum(a, b))
        bound[start:start + chunk] = big.min(axis=2)
        diff = np.where(own[None], 0.0, np.abs(a - b))
        spread[start:start + chunk] = diff.sum(axis=2) / max(n - 2, 1)
    return bound - shift, spread


class _Block(nn.Module):
    def __init__(self, width, kernel_size, dilation):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(width, width, kernel_size, padding=pad, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.act = nn.GELU()

    def forward(self, h):
        return h + self.mix(self.act(self.conv(self.act(h))))


class PairConvNet(nn.Module):
    """Dilated residual 1-D convolutions along windows, shared by all pairs.

    Output per pair and window: mean and log standard deviation of ln TMRCA (Gaussian
    likelihood head).
    """

    def __init__(self, width=32, n_blocks=4, kernel_size=5, n_features=4):
        super().__init__()
        self.inp = nn.Conv1d(n_features, width, 1)
        self.blocks = nn.Sequential(*[_Block(width, kernel_size, 2 ** (i % 5))
                                      for i in range(n_blocks)])
        self.out = nn.Conv1d(width, 2, 1)

    def forward(self, x):
        h = self.out(self.blocks(self.inp(x)))
        return h[:, 0], h[:, 1].clamp(-5, 3)


class GenealogyPrediction(NamedTuple):
    """What :meth:`MainspringARGEstimator.predict` returns.

    Attributes
    ----------
    windows : ndarray (n_windows + 1,)
        Window edges (bp).
    log_tmrca, log_tmrca_sd : ndarray (n_windows, n, n)
        Mean and standard deviation of ln pairwise TMRCA (generations); diagonal 0.
    copying_probs : ndarray (n_windows, n, n)
        Per haplotype (row) a distribution over its copying parent (softmax of minus the
        predicted ln TMRCA over the other haplotypes, temperature ``log_tmrca_sd``).
    nearest : ndarray (n_windows, n)
        The most probable copying parent.
    breakpoints : ndarray (n_windows, n) of bool
        Whether the copying parent changes from the previous window.
    sequence_length : float

    Examples
    --------
    >>> from sfsestimators import MainspringARGEstimator
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> ts = simulate(SizeHistory([0.0], [1e4]), 6, 2e4, random_state=1)
    >>> pred = MainspringARGEstimator.pretrained(device="cpu").predict(ts)
    >>> pred.to_tree_sequence().num_trees == len(pred.windows) - 1
    True
    """

    windows: np.ndarray
    log_tmrca: np.ndarray
    log_tmrca_sd: np.ndarray
    copying_probs: np.ndarray
    nearest: np.ndarray
    breakpoints: np.ndarray
    sequence_length: float

    def to_tree_sequence(self):
        """Ultrametric local trees (UPGMA of the predicted TMRCAs) per window, as tskit.

        Node times are the UPGMA merge heights in generations (monotone, so every parent is
        older than its children); samples are nodes ``0..n-1`` at time 0.
        """
        import tskit

        n = self.log_tmrca.shape[1]
        tables = tskit.TableCollection(sequence_length=float(self.sequence_length))
        tables.populations.add_row()
        for _ in range(n):
            tables.nodes.add_row(flags=tskit.NODE_IS_SAMPLE, time=0.0, population=0)
        iu = np.triu_indices(n, 1)
        for w in range(len(self.windows) - 1):
            left, right = float(self.windows[w]), float(self.windows[w + 1])
            tmrca = np.exp(self.log_tmrca[w][iu])
            merges = linkage(tmrca, method="average")
            ids = list(range(n))
            last = 0.0
            for a, b, height, _ in merges:
                last = max(float(height), last * (1 + 1e-9) + 1e-9)
                parent = tables.nodes.add_row(time=last, population=0)
                for child in (ids[int(a)], ids[int(b)]):
                    tables.edges.add_row(left, right, parent, child)
                ids.append(parent)
        tables.sort()
        return tables.tree_sequence()


def _as_genotypes(X, sequence_length=None):
    """(genotypes (sites, n), positions, sequence_length) from the accepted inputs."""
    import tskit

    if isinstance(X, tskit.TreeSequence):
        return X.genotype_matrix(), X.tables.sites.position, X.sequence_length
    if isinstance(X, (str, os.PathLike)):
        from .io import haplotypes_from_vcf

        g, pos = haplotypes_from_vcf(X)
        return g, pos, sequence_length or float(pos.max() + 1)
    if isinstance(X, (tuple, list)) and len(X) == 2:
        g, pos = np.asarray(X[0]), np.asarray(X[1], dtype=float)
        if g.ndim != 2 or len(pos) != len(g):
            raise ValueError(
                f"genotypes have shape {g.shape} and positions {pos.shape}; expected a "
                "(n_sites, n_haplotypes) matrix and one position per site.")
        if not np.isin(g, (0, 1)).all():
            raise ValueError("genotypes hold values other than 0/1; expected phased "
                             "haploid calls (one column per haplotype), derived = 1.")
        if len(pos) and np.any(np.diff(pos) < 0):
            raise ValueError("positions are not sorted; expected increasing site positions.")
        return g, pos, sequence_length or (float(pos.max()) + 1 if len(pos) else 0.0)
    raise ValueError(
        f"X is a {type(X).__name__}; expected a tskit.TreeSequence, a VCF path, or a tuple "
        "(genotypes of shape (n_sites, n_haplotypes), positions of shape (n_sites,)). A bare "
        "genotype matrix has no positions.")


class MainspringARGEstimator(BaseEstimator):
    """Pairwise coalescence times and local genealogies from phased genotypes.

    Learns by inverting msprime: training data are simulations (on the fly from
    :class:`sfsestimators.simulate.SimulationStream`, or given tree sequences), the targets
    window-mean pairwise TMRCAs computed with tskit. A network of dilated 1-D convolutions
    along windows reads, for every pair of haplotypes, its local and global divergence
    (:func:`pair_features`) and predicts the mean and standard deviation of ln TMRCA per
    window (Gaussian likelihood loss). Copying parents, breakpoints and ultrametric local
    trees (:meth:`GenealogyPrediction.to_tree_sequence`) follow from the predicted times.

    Parameters
    ----------
    preset : {"small", "base"}, default="small"
        Network size.
    features : {"triplet", "pair"}, default="triplet"
        Inputs per pair (:func:`pair_features`): the pair's own divergence only, or also
        what the other haplotypes say about it.
    n_haplotypes : int, default=20
        Haplotypes per training simulation; the network itself serves any number (pairs are
        independent inputs), ``max_haplotypes`` bounds what ``predict`` accepts.
    max_haplotypes : int, default=200
    window_size : float, default=2000
        Window length (bp).
    train_length : float, default=4e5
        Sequence length of each training simulation (bp).
    mutation_rate, recombination_rate : float
        Of the training simulations (per bp per generation); ``mutation_rate`` also scales
        the input features at prediction.
    max_steps : int, default=200
        Optimiser steps of :meth:`fit` (each on ``batch_size`` fresh simulations).
    batch_size : int, default=2
    lr : float, default=2e-3
    device : str, default="auto"
    random_state : int or None, default=None
    verbose : int, default=0
    progress : bool, default=False
        A tqdm bar over steps.

    Attributes
    ----------
    module_ : PairConvNet
    n_steps_ : int
    loss_history_ : list of float

    Examples
    --------
    >>> from sfsestimators import MainspringARGEstimator
    >>> from sfsestimators.simulate import SizeHistory, simulate
    >>> est = MainspringARGEstimator(max_steps=2, train_length=2e4, n_haplotypes=4,
    ...                              random_state=0).fit()
    >>> ts = simulate(SizeHistory([0.0], [1e4]), 6, 2e4, random_state=1)
    >>> est.predict(ts).log_tmrca.shape
    (10, 6, 6)
    """

    def __init__(self, preset="small", *, features="triplet", n_haplotypes=20,
                 max_haplotypes=200,
                 window_size=2000.0, train_length=4e5, mutation_rate=MUTATION_RATE,
                 recombination_rate=RECOMBINATION_RATE, max_steps=200, batch_size=2,
                 lr=2e-3, device="auto", random_state=None, verbose=0, progress=False):
        self.preset = preset
        self.features = features
        self.n_haplotypes = n_haplotypes
        self.max_haplotypes = max_haplotypes
        self.window_size = window_size
        self.train_length = train_length
        self.mutation_rate = mutation_rate
        self.recombination_rate = recombination_rate
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X: tree sequences, (genotypes, positions), VCF
        tags.requires_fit = True
        return tags

    # -- training ---------------------------------------------------------------------------
    def _device(self):
        return _resolve_device(self.device)

    def _check(self):
        if self.preset not in PRESETS:
            raise ValueError(f"preset is {self.preset!r}; expected one of {sorted(PRESETS)}.")
        if self.features not in N_PAIR_FEATURES:
            raise ValueError(f"features is {self.features!r}; expected one of "
                             f"{sorted(N_PAIR_FEATURES)}.")
        check_int_params(self, ("n_haplotypes", "max_haplotypes", "max_steps", "batch_size"))
        if self.n_haplotypes % 2:
            raise ValueError(f"n_haplotypes is {self.n_haplotypes}; expected an even number "
                             "(diploid simulations).")
        for name in ("window_size", "train_length", "lr", "mutation_rate"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and value > 0):
                raise ValueError(f"{name} is {value!r}; expected a positive number.")

    def _batches(self, X):
        """Endless (features, target ln TMRCA) batches: simulations or the given sequences."""
        if X is None:
            seed = int(self._rng.randint(1, 2**31 - 1))
            items = iter(SimulationStream(
                seed, n_haplotypes=self.n_haplotypes, sequence_length=self.train_length,
                window_size=self.window_size, mutation_rate=self.mutation_rate,
                recombination_rate=self.recombination_rate))
        else:
            data = [extract_targets(ts, self.window_size) for ts in X]

            def cycle():
                while True:
                    for i in self._rng.permutation(len(data)):
                        yield data[i]

            items = cycle()
        while True:
            feats, targets, shifts = [], [], []
            for _ in range(self.batch_size):
                item = next(items)
                f, shift, pairs = pair_features(item["genotypes"], item["positions"],
                                                item["windows"], self.mutation_rate,
                                                triplet=self.features == "triplet")
                t = np.log(np.maximum(item["tmrca"][:, pairs[:, 0], pairs[:, 1]].T, 1e-3))
                feats.append(f)
                targets.append(t.astype(np.float32))
                shifts.append(np.full(len(f), shift, dtype=np.float32))
            yield np.concatenate(feats), np.concatenate(targets), np.concatenate(shifts)

    def _loss(self, feats, targets, shifts):
        """Gaussian negative log-likelihood of ln TMRCA (the features' shift added back)."""
        device = self._device()
        x, y = torch.as_tensor(feats, device=device), torch.as_tensor(targets, device=device)
        mean, log_sd = self.module_(x)
        mean = mean + torch.as_tensor(shifts, device=device)[:, None]
        return torch.mean(log_sd + 0.5 * ((y - mean) / torch.exp(log_sd)) ** 2)

    def _new_module(self):
        return PairConvNet(**PRESETS[self.preset], n_features=N_PAIR_FEATURES[self.features])

    def fit(self, X=None, y=None):
        """Train from scratch: on fresh simulations (``X=None``) or on tree sequences ``X``."""
        self._check()
        self._rng = check_random_state(self.random_state)
        seed = int(self._rng.randint(1, 2**31 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module_ = self._new_module().to(self._device())
        self._optimizer = torch.optim.AdamW(self.module_.parameters(), lr=self.lr)
        self.n_steps_, self.loss_history_ = 0, []
        return self._train(X, self.max_steps)

    def partial_fit(self, X=None, y=None, *, steps=None):
        """Continue training for ``steps`` (default ``max_steps``) more steps."""
        if not hasattr(self, "module_"):
            return self.fit(X, y)
        return self._train(X, steps or self.max_steps)

    def _train(self, X, steps):
        if not hasattr(self, "_rng"):
            self._rng = check_random_state(self.random_state)
        if X is not None:
            X = list(X)
        batches = self._batches(X)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc="Mainspring training")
        start = time.perf_counter()
        self.module_.train()
        for _ in range(steps):
            loss = self._step(*next(batches))
            self.loss_history_.append(loss)
            self.n_steps_ += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
            if self.verbose and self.n_steps_ % max(1, steps // 10) == 0:
                print(f"step {self.n_steps_}: loss {loss:.4f} "
                      f"({time.perf_counter() - start:.0f} s)")
        if bar is not None:
            bar.close()
        self.module_.eval()
        return self

    def _step(self, feats, targets, shifts):
        self._optimizer.zero_grad()
        loss = self._loss(feats, targets, shifts)
        loss.backward()
        nn.utils.clip_grad_norm_(self.module_.parameters(), 5.0)
        self._optimizer.step()
        return float(loss.detach())

    # -- prediction -------------------------------------------------------------------------
    def predict(self, X, *, sequence_length=None):
        """Predict the genealogy of the haplotypes in ``X``.

        Parameters
        ----------
        X : tskit.TreeSequence, VCF path, or (genotypes, positions)
            Phased haplotypes, one column per haplotype, derived allele = 1. Of a tree
            sequence only the genotypes are used.
        sequence_length : float, default=None
            Needed with a genotype matrix when the sequence extends past the last site.

        Returns
        -------
        GenealogyPrediction
        """
        check_is_fitted(self)
        g, pos, length = _as_genotypes(X, sequence_length)
        n = g.shape[1]
        if n < 2:
            raise ValueError(f"X has {n} haplotype(s); expected at least 2.")
        if n > self.max_haplotypes:
            raise ValueError(f"X has {n} haplotypes; this estimator serves at most "
                             f"max_haplotypes={self.max_haplotypes}.")
        windows = np.append(np.arange(0.0, length, float(self.window_size)), length)
        feats, shift, pairs = pair_features(g, pos, windows, self.mutation_rate,
                                            triplet=self.features == "triplet")
        with torch.no_grad():
            mean, log_sd = self.module_(torch.as_tensor(feats, device=self._device()))
        mean = mean.cpu().numpy().T + shift
        sd = np.exp(log_sd.cpu().numpy().T)
        n_w = len(windows) - 1
        log_t = np.zeros((n_w, n, n))
        log_sd_full = np.zeros((n_w, n, n))
        log_t[:, pairs[:, 0], pairs[:, 1]] = log_t[:, pairs[:, 1], pairs[:, 0]] = mean
        log_sd_full[:, pairs[:, 0], pairs[:, 1]] = sd
        log_sd_full[:, pairs[:, 1], pairs[:, 0]] = sd
        logits = -log_t / np.maximum(log_sd_full, 0.05)
        logits[:, np.arange(n), np.arange(n)] = -np.inf
        probs = np.exp(logits - logits.max(axis=2, keepdims=True))
        probs /= probs.sum(axis=2, keepdims=True)
        nearest = probs.argmax(axis=2)
        breaks = np.zeros_like(nearest, dtype=bool)
        breaks[1:] = nearest[1:] != nearest[:-1]
        return GenealogyPrediction(windows, log_t, log_sd_full, probs, nearest, breaks,
                                   float(length))

    def score(self, X, y=None):
        """Minus the mean squared error of ln pairwise TMRCA on simulated tree sequences."""
        errors = []
        for ts in X:
            pred = self.predict(ts)
            true = extract_targets(ts, self.window_size)["tmrca"]
            iu = np.triu_indices(ts.num_samples, 1)
            errors.append((pred.log_tmrca[:, iu[0], iu[1]]
                           - np.log(np.maximum(true[:, iu[0], iu[1]], 1e-3))) ** 2)
        return -float(np.mean(np.concatenate([e.ravel() for e in errors])))

    def summary(self):
        """A short description of the fitted estimator."""
        check_is_fitted(self)
        n_w = sum(p.numel() for p in self.module_.parameters())
        last = np.mean(self.loss_history_[-10:]) if self.loss_history_ else float("nan")
        return (f"MainspringARGEstimator ({self.preset}: {n_w:,} weights), trained "
                f"{self.n_steps_} steps; recent loss {last:.4f}; windows {self.window_size:g} "
                f"bp; mutation rate {self.mutation_rate:g}")

    # -- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted network (torch, weights only) and the constructor parameters."""
        check_is_fitted(self)
        params = {k: v for k, v in self.get_params().items()
                  if k != "random_state" or isinstance(v, (int, type(None)))}
        torch.save({"format": 1, "params": params, "n_steps": self.n_steps_,
                    "loss_history": [float(v) for v in self.loss_history_],
                    "state_dict": {k: v.cpu() for k, v in self.module_.state_dict().items()}},
                   os.fspath(path))

    @classmethod
    def load(cls, path, *, device="auto"):
        """Read an estimator written by :meth:`save` onto ``device``."""
        ckpt = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        params = dict(ckpt["params"], device=device)
        params.setdefault("features", "pair")  # files written before the option existed
        est = cls(**params)
        est._check()
        est.module_ = est._new_module()
        est.module_.load_state_dict(ckpt["state_dict"])
        est.module_.to(est._device()).eval()
        est._optimizer = torch.optim.AdamW(est.module_.parameters(), lr=est.lr)
        est.n_steps_, est.loss_history_ = ckpt["n_steps"], list(ckpt["loss_history"])
        est._rng = check_random_state(est.random_state)
        return est

    @classmethod
    def pretrained(cls, preset="small", *, device="auto"):
        """The shipped preset (``python -m sfsestimators.pretrained.train_mainspring``)."""
        from .pretrained import MAINSPRING_WEIGHTS

        if preset != "small":
            raise ValueError(f"preset is {preset!r}; only 'small' ships with the package "
                             "(train others with sfsestimators.pretrained.train_mainspring).")
        if not os.path.exists(MAINSPRING_WEIGHTS):
            raise FileNotFoundError(
                f"The Mainspring weights are not installed ({MAINSPRING_WEIGHTS}); build them "
                "with: python -m sfsestimators.pretrained.train_mainspring")
        return cls.load(MAINSPRING_WEIGHTS, device=device)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_optimizer", None)  # rebuilt on partial_fit
        return state

    def __setstate__(self, state):
        state.setdefault("features", "pair")  # pickles from before the option existed
        self.__dict__.update(state)
        if "module_" in state:
            self._optimizer = torch.optim.AdamW(self.module_.parameters(), lr=self.lr)
