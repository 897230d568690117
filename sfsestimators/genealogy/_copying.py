"""The copying-parent head: which other haplotype each haplotype copies in each window.

The pair network predicts every pair's ln TMRCA on its own; the closest of a haplotype's
relatives is a comparison across pairs, and the predicted times alone pick it well only
when the gap is large. This head reads, per window, haplotype i and candidate j, the
predicted times as gaps to i's closest predicted relative (here and over neighbouring
windows, and in units of the predicted sd), the raw divergence gap, and the derived
alleles i and j share that few others carry (doubletons; alleles of count <= 4 weighted
by ``1 / (count - 1)``), here and nearby; a small MLP scores each candidate and a softmax
over the other haplotypes gives the copying distribution. Trained by cross-entropy against
the true copying parent (any of the equally closest relatives in the true local tree),
on simulations through the frozen pair network (:meth:`CopyingHeadMixin.fit_copying_head`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d
from sklearn.utils import check_random_state
from torch import nn

__all__ = ["CopyingHead", "copying_features", "rare_sharing", "train_copying_head",
           "true_closest", "N_COPY_FEATURES"]

#: derived-allele counts read as "rare" (shared by few haplotypes: evidence of a close pair)
RARE_MAX = 4
#: windows each side over which the smoothed channels average or sum
NEAR, WIDE = 2, 5
N_COPY_FEATURES = 11


def rare_sharing(g, pos, windows, max_count=RARE_MAX):
    """Per window and pair: the doubletons both carry, and the shared derived alleles of
    count 2..``max_count`` weighted ``1 / (count - 1)``; each (n_windows, n, n) float32.
    Missing calls (-1) carry nothing."""
    g = np.asarray(g)
    n = g.shape[1]
    n_w = len(windows) - 1
    carry = (g > 0).astype(np.float32)
    count = carry.sum(axis=1)
    rare = (count >= 2) & (count <= max_count)
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


def _row_gap(x, diag):
    """x minus its row minimum over the other haplotypes (last axis)."""
    masked = x.copy()
    masked[:, diag, diag] = np.inf
    return x - masked.min(axis=2, keepdims=True)


def copying_features(log_t, log_sd, local, log_seg, doubletons, weighted):
    """(n_windows, n, n, :data:`N_COPY_FEATURES`) float32 features of candidate j (last
    axis but one) for haplotype i (the middle axis) in each window (the first): see the
    module docstring. All inputs (n_windows, n, n) but ``log_seg`` (n_windows,)."""
    n = log_t.shape[1]
    diag = np.arange(n)
    gap = _row_gap(log_t, diag)
    near_t = uniform_filter1d(log_t, 2 * NEAR + 1, axis=0, mode="nearest")
    sd = np.maximum(log_sd, 0.05)
    local = np.where(np.isfinite(local), local, 0.0)
    feats = [gap, _row_gap(near_t, diag), sd, np.minimum(gap / sd, 20.0),
             np.log1p(doubletons),
             np.log1p(uniform_filter1d(doubletons, 2 * NEAR + 1, axis=0, mode="constant")
                      * (2 * NEAR + 1)),
             np.log1p(weighted),
             np.log1p(uniform_filter1d(weighted, 2 * WIDE + 1, axis=0, mode="constant")
                      * (2 * WIDE + 1)),
             np.broadcast_to(np.log1p(doubletons.sum(axis=2, keepdims=True)), gap.shape),
             _row_gap(local, diag),
             np.broadcast_to(np.asarray(log_seg, dtype=np.float32)[:, None, None],
                             gap.shape)]
    return np.stack(feats, axis=-1).astype(np.float32)


class CopyingHead(nn.Module):
    """Scores each candidate copying parent from its :func:`copying_features`; the
    distribution over candidates is the softmax over the other haplotypes.

    Examples
    --------
    >>> import torch
    >>> from sfsestimators.genealogy import CopyingHead
    >>> head = CopyingHead()
    >>> probs = head.probabilities(torch.zeros(2, 5, 5, 11))  # 2 windows, 5 haplotypes
    >>> tuple(probs.shape), float(probs[0, 0, 0])  # never itself
    ((2, 5, 5), 0.0)
    """

    def __init__(self, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.register_buffer("loc", torch.zeros(N_COPY_FEATURES))
        self.register_buffer("scale", torch.ones(N_COPY_FEATURES))
        self.mlp = nn.Sequential(nn.Linear(N_COPY_FEATURES, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, feats):
        """Logits (..., n, n) of the features (..., n, n, F), -inf on the diagonal."""
        x = ((feats - self.loc) / self.scale).clamp(-10, 10)
        logits = self.mlp(x).squeeze(-1)
        n = logits.shape[-1]
        eye = torch.eye(n, dtype=torch.bool, device=logits.device)
        return logits.masked_fill(eye, float("-inf"))

    def probabilities(self, feats):
        return torch.softmax(self(feats), dim=-1)


def set_nll(logits, closest):
    """Minus the log probability that the copying parent is one of the true closest
    relatives (``closest``: bool, same shape as ``logits``), mean over rows."""
    log_p = torch.log_softmax(logits, dim=-1)
    return -torch.logsumexp(log_p.masked_fill(~closest, float("-inf")), dim=-1).mean()


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
    """Fit a :class:`CopyingHead` on ``items``: (features, closest) per simulation; the
    best epoch on a held-out fraction of the items is kept. Returns the head and its
    history (per epoch: train loss, valid loss, valid accuracy, and beside it the accuracy
    of the closest relative by the predicted times)."""
    rng = check_random_state(random_state)
    torch.manual_seed(int(rng.randint(2**31 - 1)))
    order = rng.permutation(len(items))
    n_valid = max(1, int(round(validation * len(items))))
    valid = [items[k] for k in order[:n_valid]]
    train = [items[k] for k in order[n_valid:]]
    head = CopyingHead(hidden)
    flat = np.concatenate([f[~np.eye(f.shape[1], dtype=bool)[None].repeat(len(f), 0)]
                           for f, _ in train[:20]])
    head.loc.copy_(torch.as_tensor(flat.mean(axis=0)))
    head.scale.copy_(torch.as_tensor(np.maximum(flat.std(axis=0), 1e-3)))
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

    # the rule the head is to beat: the smallest predicted TMRCA (feature 0, the gap)
    times_hits = times_rows = 0.0
    for f, c in valid:
        gap = np.where(np.eye(f.shape[1], dtype=bool)[None], np.inf, f[..., 0])
        times_hits += np.take_along_axis(c, gap.argmin(axis=2)[..., None], axis=2).sum()
        times_rows += c.shape[0] * c.shape[1]
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


def _simulated_item(seed, n, length, window_size, mutation_rate, recombination_rate, prior):
    from ..simulate import simulate_item

    return simulate_item(seed, n, length, window_size, mutation_rate, recombination_rate,
                         prior)


class CopyingHeadMixin:
    """:class:`MainspringARGEstimator`'s copying-parent head: its training, its use in
    :meth:`predict` and its persistence (the estimator supplies ``_network``)."""

    def _copying_probs(self, g, pos, windows, local, log_seg, log_t, log_sd,
                       max_elements=1 << 24):
        """(n_windows, n, n) copying probabilities from the head, in blocks of windows
        (each read with :data:`WIDE` windows of context on either side)."""
        n_w, n = log_t.shape[0], log_t.shape[1]
        block = max(1, int(max_elements // (n * n * N_COPY_FEATURES)))
        probs = np.empty((n_w, n, n), dtype=np.float32)
        head = self.copying_head_
        pos = np.asarray(pos)
        for a in range(0, n_w, block):
            b = min(n_w, a + block)
            lo, hi = max(0, a - WIDE), min(n_w, b + WIDE)
            inside = (pos >= windows[lo]) & (pos < windows[hi])
            doubletons, weighted = rare_sharing(g[inside], pos[inside], windows[lo:hi + 1])
            feats = copying_features(log_t[lo:hi], log_sd[lo:hi], local[lo:hi],
                                     log_seg[lo:hi], doubletons, weighted)
            with torch.no_grad():
                p = head.probabilities(torch.as_tensor(feats[a - lo:b - lo]))
            probs[a:b] = p.numpy()
        return probs

    def _with_copying(self, pred, g, pos, div):
        """``pred`` with the head's copying probabilities, parents and breakpoints (as it
        is without a head)."""
        if getattr(self, "copying_head_", None) is None:
            return pred
        probs = self._copying_probs(g, pos, pred.windows, div.local, div.log_seg,
                                    pred.log_tmrca, pred.log_tmrca_sd)
        nearest = probs.argmax(axis=2)
        breaks = np.zeros_like(nearest, dtype=bool)
        breaks[1:] = nearest[1:] != nearest[:-1]
        return pred._replace(copying_probs=probs, nearest=nearest, breakpoints=breaks)

    def fit_copying_head(self, n_simulations=80, *, n_haplotypes=(20, 30), length=5e5,
                         prior=None, n_jobs=None, random_state=0, verbose=False, **kwargs):
        """Train the copying-parent head (:class:`CopyingHead`) on ``n_simulations``
        simulations of ``prior`` (default: the network's training prior), with sample sizes
        cycling through ``n_haplotypes``, each ``length`` bp, read by this (trained, frozen)
        network. Other keyword arguments go to :func:`train_copying_head`. Sets
        ``copying_head_`` and ``copying_head_history_``; :meth:`save` keeps them."""
        from joblib import Parallel, delayed
        from sklearn.utils.validation import check_is_fitted

        from ._features import window_divergence

        check_is_fitted(self)
        rng = check_random_state(random_state)
        seeds = rng.randint(2**31 - 1, size=int(n_simulations))
        sizes = [int(n_haplotypes[k % len(n_haplotypes)]) for k in range(len(seeds))]
        sims = Parallel(n_jobs=n_jobs)(
            delayed(_simulated_item)(int(s), n, float(length), float(self.window_size),
                                     self.mutation_rate, self.recombination_rate,
                                     dict(prior or self.prior or {}))
            for s, n in zip(seeds, sizes))
        items = []
        for item in sims:
            g, pos, windows = item["genotypes"], item["positions"], item["windows"]
            n = g.shape[1]
            div = window_divergence(g, pos, windows, item["mutation_rate"])
            pairs = np.stack(np.triu_indices(n, 1), axis=1)
            mean, sd, _ = self._network(div, pairs, others=self.n_haplotypes - 2)
            log_t = np.zeros((len(windows) - 1, n, n), dtype=np.float32)
            log_sd = np.ones_like(log_t)
            log_t[:, pairs[:, 0], pairs[:, 1]] = log_t[:, pairs[:, 1], pairs[:, 0]] = mean.T
            log_sd[:, pairs[:, 0], pairs[:, 1]] = log_sd[:, pairs[:, 1], pairs[:, 0]] = sd.T
            doubletons, weighted = rare_sharing(g, pos, windows)
            items.append((copying_features(log_t, log_sd, div.local, div.log_seg,
                                           doubletons, weighted),
                          true_closest(item["tmrca"])))
        self.copying_head_, self.copying_head_history_ = train_copying_head(
            items, random_state=int(rng.randint(2**31 - 1)), verbose=verbose, **kwargs)
        return self

    def _copying_content(self):
        if getattr(self, "copying_head_", None) is None:
            return {}
        return {"copying_head": {"hidden": self.copying_head_.hidden,
                                 "state_dict": {k: v.cpu() for k, v in
                                                self.copying_head_.state_dict().items()},
                                 "history": getattr(self, "copying_head_history_", [])}}

    def _load_copying(self, ckpt):
        """Restore the head a :meth:`save` file holds (none: ``copying_head_`` is None)."""
        self.copying_head_ = None
        head = ckpt.get("copying_head")
        if head:
            self.copying_head_ = CopyingHead(head["hidden"])
            self.copying_head_.load_state_dict(head["state_dict"])
            self.copying_head_.eval()
            self.copying_head_history_ = head.get("history", [])
