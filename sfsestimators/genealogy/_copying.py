"""The copying-parent head: which other haplotype each haplotype copies in each window.

The pair network predicts every pair's ln TMRCA on its own; the closest of a haplotype's
relatives is a comparison across pairs, and the predicted times alone pick it well only
when the gap is large. This head reads, per window, haplotype i and candidate j, the
predicted times as gaps to i's closest predicted relative (here and over neighbouring
windows, and in units of the predicted sd; by how much it beats i's other candidates),
the raw divergence gap, and the derived
alleles i and j share that few others carry (doubletons; alleles of count <= 4 weighted
by ``1 / (count - 1)``), here and nearby; a small MLP scores each of i's
:data:`CANDIDATES` closest relatives by the predicted times and a softmax over them gives
the copying distribution (the others get 0: the cost per haplotype does not grow with the
sample). Trained by cross-entropy against
the true copying parent (any of the equally closest relatives in the true local tree),
on simulations through the frozen pair network (:meth:`CopyingHeadMixin.fit_copying_head`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d
from sklearn.utils import check_random_state
from torch import nn

from ._prediction import parents_and_breaks, prediction_from_pairs

__all__ = ["CopyingHead", "copying_features", "rare_sharing", "train_copying_head",
           "true_closest", "candidates", "N_COPY_FEATURES", "CANDIDATES"]

#: derived-allele counts read as "rare" (shared by few haplotypes: evidence of a close pair)
RARE_MAX = 4
#: windows each side over which the smoothed channels average or sum
NEAR, WIDE = 2, 5
N_COPY_FEATURES = 12
#: the features that are log1p counts of shared rare alleles: zero for almost every
#: candidate, so standardising them by their spread would blow one allele up to a flag;
#: they are read as they are
COUNT_FEATURES = (4, 5, 6, 7, 8)
#: candidates the head scores per haplotype and window: its closest relatives by the
#: predicted times (the true parent is almost always among them; the cost per haplotype
#: then does not grow with the sample)
CANDIDATES = 16


def rare_sharing(g, pos, windows, max_count=RARE_MAX):
    """Per window and pair: the doubletons both carry, and the shared derived alleles of
    count 2..``max_count`` weighted ``1 / (count - 1)``; each (n_windows, n, n) float32.
    Missing calls (-1) carry nothing; a site counts when it is rare whatever its missing
    calls are (called carriers >= 2, carriers + missing <= ``max_count``) and not fixed
    among these haplotypes; positions are sorted (as :func:`as_genotypes` returns them)."""
    g = np.asarray(g)
    n = g.shape[1]
    n_w = len(windows) - 1
    carry = (g > 0).astype(np.float32)
    count = carry.sum(axis=1)
    unknown = (g < 0).sum(axis=1)
    rare = (count >= 2) & (count + unknown <= max_count) & (count + unknown < n)
    carry, count, pos = carry[rare], count[rare], np.asarray(pos)[rare]
    index = np.clip(np.searchsorted(windows, pos, side="right") - 1, 0, n_w - 1)
    bounds = np.searchsorted(index, np.arange(n_w + 1))
    doubletons = np.zeros((n_w, n, n), dtype=np.float32)
    weighted = np.zeros((n_w, n, n), dtype=np.float32)
    for w in range(n_w):
        block, c = carry[bounds[w]:bounds[w + 1]], count[bounds[w]:bounds[w + 1]]
        if len(block):
            doubletons[w] = block[c == 2].T @ block[c == 2]
            weighted[w] = (block / (c[:, None] - 1)).T @ block
    return doubletons, weighted


def _others_min(x):
    """Each row's minimum over the other haplotypes (W, n, 1), the diagonal left out."""
    n = x.shape[1]
    return np.min(x, axis=2, keepdims=True, initial=np.inf,
                  where=~np.eye(n, dtype=bool)[None])


def candidates(log_t, k=CANDIDATES):
    """(n_windows, n, min(k, n - 1)) indices of each haplotype's k closest relatives by
    the predicted ln TMRCA (n_windows, n, n), closest first, never itself."""
    n = log_t.shape[1]
    k = min(k, n - 1)
    masked = np.array(log_t, dtype=np.float32)
    diag = np.arange(n)
    masked[:, diag, diag] = np.inf
    idx = np.argpartition(masked, k - 1, axis=2)[:, :, :k] if k < n - 1 else np.argsort(
        masked, axis=2)[:, :, :k]
    order = np.argsort(np.take_along_axis(masked, idx, axis=2), axis=2, kind="stable")
    return np.take_along_axis(idx, order, axis=2)


def copying_features(log_t, log_sd, local, log_seg, doubletons, weighted, k=CANDIDATES):
    """The features of each haplotype's :func:`candidates` (see the module docstring):
    (n_windows, n, k, :data:`N_COPY_FEATURES`) float32 and the candidates' indices
    (n_windows, n, k). All inputs (n_windows, n, n) but ``log_seg`` (n_windows,).
    The full (n, n) arrays are only filtered and reduced; the features themselves are built
    for the k candidates."""
    idx = candidates(log_t, k)

    def at(x):
        return np.take_along_axis(x, idx, axis=2)

    def gap(x):  # at the candidates, minus the row's minimum over all others
        return at(x) - _others_min(x)

    near_t = uniform_filter1d(log_t, 2 * NEAR + 1, axis=0, mode="nearest")
    near_d = uniform_filter1d(doubletons, 2 * NEAR + 1, axis=0, mode="constant")
    wide_w = uniform_filter1d(weighted, 2 * WIDE + 1, axis=0, mode="constant")
    time_gap = gap(log_t)
    sd = np.maximum(at(log_sd), 0.05)
    # by how much each candidate beats i's other candidates: the runner-up's gap for the
    # closest (0 on a tie), its own gap for the others (sorted: the first is the closest)
    margin = time_gap - time_gap[:, :, :1]
    margin[:, :, 0] = (time_gap[:, :, 0] - time_gap[:, :, 1]) if idx.shape[2] > 1 else 0.0
    shape = time_gap.shape
    feats = [time_gap, gap(near_t), sd, np.minimum(time_gap / sd, 20.0),
             np.log1p(at(doubletons)), np.log1p(at(near_d) * (2 * NEAR + 1)),
             np.log1p(at(weighted)), np.log1p(at(wide_w) * (2 * WIDE + 1)),
             np.broadcast_to(np.log1p(doubletons.sum(axis=2, keepdims=True)), shape),
             gap(local),
             np.broadcast_to(np.asarray(log_seg, dtype=np.float32)[:, None, None], shape),
             margin]
    return np.stack(feats, axis=-1).astype(np.float32), idx


class CopyingHead(nn.Module):
    """Scores each candidate copying parent from its :func:`copying_features`; the
    distribution over a haplotype's candidates (:func:`candidates`) is their softmax.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.genealogy import CopyingHead
    >>> head = CopyingHead()
    >>> probs = head.probabilities(torch.zeros(2, 5, 4, 12))  # 2 windows, 5 x 4 candidates
    >>> tuple(probs.shape), float(probs.sum(-1)[0, 0])
    ((2, 5, 4), 1.0)
    """

    def __init__(self, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.register_buffer("loc", torch.zeros(N_COPY_FEATURES))
        self.register_buffer("scale", torch.ones(N_COPY_FEATURES))
        self.mlp = nn.Sequential(nn.Linear(N_COPY_FEATURES, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, feats):
        """Logits (..., k) of the candidates' features (..., k, F)."""
        x = ((feats - self.loc) / self.scale).clamp(-10, 10)
        return self.mlp(x).squeeze(-1)

    def probabilities(self, feats):
        """Softmax of the logits over the candidates (last axis but one of ``feats``)."""
        return torch.softmax(self(feats), dim=-1)


def set_nll(logits, closest):
    """Minus the log probability that the copying parent is one of the true closest
    relatives (``closest``: bool, same shape as ``logits``), mean over the rows that have
    one among their candidates."""
    log_p = torch.log_softmax(logits, dim=-1)
    reachable = closest.any(dim=-1)
    return -torch.logsumexp(log_p.masked_fill(~closest, float("-inf")),
                            dim=-1)[reachable].mean()


def true_closest(tmrca, rtol=1e-6):
    """(n_windows, n, n) bool: j is among i's closest relatives by the true window-mean
    TMRCAs (ties: all of them)."""
    t = np.array(tmrca, dtype=float)
    n = t.shape[1]
    diag = np.arange(n)
    t[:, diag, diag] = np.inf
    return t <= t.min(axis=2, keepdims=True) * (1 + rtol)


def train_copying_head(items, *, hidden=32, max_epochs=30, lr=3e-3, validation=0.15,
                       random_state=0, verbose=False):
    """Fit a :class:`CopyingHead` on ``items``: per simulation the candidates' features
    (:func:`copying_features`) and whether each is a true closest relative. The best epoch
    on a held-out fraction of the items is kept (its accuracy counts rows whose true parent
    is not among the candidates as wrong). Returns the head and its history (per epoch:
    train loss, valid loss, valid accuracy, and beside it the accuracy of the closest
    relative by the predicted times)."""
    rng = check_random_state(random_state)
    if len(items) < 2:
        raise ValueError(f"{len(items)} simulation(s) given; the copying head needs at least "
                         "2 (one is held out).")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.randint(2**31 - 1)))
        return _train(items, rng, hidden, max_epochs, lr, validation, verbose)


def _train(items, rng, hidden, max_epochs, lr, validation, verbose):
    order = rng.permutation(len(items))
    n_valid = min(len(items) - 1, max(1, int(round(validation * len(items)))))
    valid = [items[k] for k in order[:n_valid]]
    train = [items[k] for k in order[n_valid:]]
    head = CopyingHead(hidden)
    flat = np.concatenate([f.reshape(-1, f.shape[-1]) for f, _ in train[:20]])
    loc, scale = flat.mean(axis=0), np.maximum(flat.std(axis=0), 1e-3)
    loc[list(COUNT_FEATURES)], scale[list(COUNT_FEATURES)] = 0.0, 1.0
    head.loc.copy_(torch.as_tensor(loc))
    head.scale.copy_(torch.as_tensor(scale))
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max_epochs)
    history, best, best_state = [], np.inf, None

    def evaluate(data):
        head.eval()
        loss = acc = rows = 0.0
        with torch.no_grad():
            for f, c in data:
                logits = head(torch.as_tensor(f))
                closest = torch.as_tensor(c)
                r = logits.shape[0] * logits.shape[1]
                loss += float(set_nll(logits, closest)) * r
                pick = logits.argmax(dim=-1, keepdim=True)
                acc += float(closest.gather(-1, pick).float().sum())
                rows += r
        return loss / rows, acc / rows

    # the rule the head is to beat: the smallest predicted TMRCA (the first candidate)
    times_hits = sum(float(c[..., 0].sum()) for _, c in valid)
    times_rows = sum(c.shape[0] * c.shape[1] for _, c in valid)
    for epoch in range(max_epochs):
        head.train()
        total = 0.0
        for k in rng.permutation(len(train)):
            f, c = train[k]
            loss = set_nll(head(torch.as_tensor(f)), torch.as_tensor(c))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        sched.step()
        v_loss, v_acc = evaluate(valid)
        history.append({"epoch": epoch + 1, "train_loss": total / len(train),
                        "valid_loss": v_loss, "valid_accuracy": v_acc,
                        "valid_accuracy_times": float(times_hits / times_rows)})
        if verbose:
            print(history[-1], flush=True)
        if v_loss < best:
            best, best_state = v_loss, {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    head.eval()
    return head, history


class CopyingHeadMixin:
    """:class:`MainspringARGEstimator`'s copying-parent head: its training, its use in
    :meth:`predict` and its persistence (the estimator supplies ``_network``)."""

    def _copying_probs(self, g, pos, windows, local, log_seg, log_t, log_sd,
                       max_elements=1 << 24):
        """(n_windows, n, n) copying probabilities from the head (0 outside each
        haplotype's candidates), in blocks of windows (each read with :data:`WIDE` windows
        of context on either side) whose (n, n) arrays hold about ``max_elements`` numbers
        per feature."""
        n_w, n = log_t.shape[0], log_t.shape[1]
        head = self.copying_head_
        block = max(1, int(max_elements // (n * n * N_COPY_FEATURES)))
        probs = np.zeros((n_w, n, n), dtype=np.float32)
        pos = np.asarray(pos)
        for a in range(0, n_w, block):
            b = min(n_w, a + block)
            lo, hi = max(0, a - WIDE), min(n_w, b + WIDE)
            inside = (pos >= windows[lo]) & (pos < windows[hi])
            doubletons, weighted = rare_sharing(g[inside], pos[inside], windows[lo:hi + 1])
            feats, idx = copying_features(log_t[lo:hi], log_sd[lo:hi], local[lo:hi],
                                          log_seg[lo:hi], doubletons, weighted)
            feats, idx = feats[a - lo:b - lo], idx[a - lo:b - lo]
            with torch.no_grad():
                p = head.probabilities(torch.as_tensor(feats)).numpy()
            np.put_along_axis(probs[a:b], idx, p, axis=2)
        return probs

    def _with_copying(self, pred, g, pos, div):
        """``pred`` (made without copying probabilities when the estimator has a head) with
        the head's copying probabilities, parents and breakpoints."""
        if getattr(self, "copying_head_", None) is None:
            return pred
        probs = self._copying_probs(g, pos, pred.windows, div.local, div.log_seg,
                                    pred.log_tmrca, pred.log_tmrca_sd)
        nearest, breaks = parents_and_breaks(probs)
        return pred._replace(copying_probs=probs, nearest=nearest, breakpoints=breaks)

    def fit_copying_head(self, n_simulations=80, *, n_haplotypes=(20, 30, 50), length=5e5,
                         prior=None, n_jobs=None, random_state=0, verbose=False, **kwargs):
        """Train the copying-parent head (:class:`CopyingHead`) on ``n_simulations``
        simulations of ``prior`` (default: the network's training prior and rate range),
        with sample sizes cycling through ``n_haplotypes`` (an int or a sequence), each
        ``length`` bp, read by this (trained, frozen) network as :meth:`predict` reads
        data (``precision="auto"``). Other keyword arguments go to
        :func:`train_copying_head`. Sets ``copying_head_`` and ``copying_head_history_``;
        :meth:`save` keeps them."""
        from joblib import Parallel, delayed
        from sklearn.utils.validation import check_is_fitted

        from ..simulate import simulate_item
        from ._features import window_divergence

        check_is_fitted(self)
        if int(n_simulations) < 2:
            raise ValueError(f"n_simulations is {n_simulations!r}; expected at least 2 (one "
                             "is held out).")
        rng = check_random_state(random_state)
        seeds = rng.randint(2**31 - 1, size=int(n_simulations))
        sizes = np.resize(np.atleast_1d(np.asarray(n_haplotypes, dtype=int)), len(seeds))
        rates = None if self.rate_range is None else tuple(map(float, self.rate_range))
        sims = Parallel(n_jobs=n_jobs)(
            delayed(simulate_item)(int(s), int(n), float(length), float(self.window_size),
                                   self.mutation_rate, self.recombination_rate,
                                   dict(prior or self.prior or {}), rates)
            for s, n in zip(seeds, sizes))
        precision = self._precision("auto")
        items = []
        for item in sims:
            g, pos, windows = item["genotypes"], item["positions"], item["windows"]
            n = g.shape[1]
            div = window_divergence(g, pos, windows, item["mutation_rate"])
            pairs = np.stack(np.triu_indices(n, 1), axis=1)
            mean, sd, _ = self._network(div, pairs, precision=precision)
            pred = prediction_from_pairs(mean.T, sd.T, pairs, n, windows, windows[-1],
                                         copying=False)
            doubletons, weighted = rare_sharing(g, pos, windows)
            feats, idx = copying_features(pred.log_tmrca, pred.log_tmrca_sd, div.local,
                                          div.log_seg, doubletons, weighted)
            items.append((feats, np.take_along_axis(true_closest(item["tmrca"]), idx,
                                                    axis=2)))
        self.copying_head_, self.copying_head_history_ = train_copying_head(
            items, random_state=int(rng.randint(2**31 - 1)), verbose=verbose, **kwargs)
        return self

    def _copying_content(self):
        if getattr(self, "copying_head_", None) is None:
            return {}
        return {"copying_head": {"hidden": self.copying_head_.hidden,
                                 "n_features": N_COPY_FEATURES,
                                 "state_dict": {k: v.cpu() for k, v in
                                                self.copying_head_.state_dict().items()},
                                 "history": getattr(self, "copying_head_history_", [])}}

    def _load_copying(self, ckpt):
        """Restore the head a :meth:`save` file holds (none: ``copying_head_`` is None)."""
        self.copying_head_, self.copying_head_history_ = None, []
        head = ckpt.get("copying_head")
        if head and head.get("n_features", 11) != N_COPY_FEATURES:
            warnings.warn(f"The saved copying-parent head reads {head.get('n_features', 11)} "
                          f"features; this version reads {N_COPY_FEATURES}: it is not loaded "
                          "(retrain it with fit_copying_head or sfsestimators "
                          "train-copying-head); parents come from the predicted times.",
                          stacklevel=3)
            head = None
        if head:
            self.copying_head_ = CopyingHead(head["hidden"])
            self.copying_head_.load_state_dict(head["state_dict"])
            self.copying_head_.eval()
            self.copying_head_history_ = head.get("history", [])
