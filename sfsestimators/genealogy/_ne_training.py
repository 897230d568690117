"""The N_e(t) decoder's training: simulated histories summarised by a trained Mainspring
network (resumable chunks, a manifest of their settings) and the ensemble of flows fitted to
them with skorch (:func:`train_ne_decoder`)."""

from __future__ import annotations

import os

import numpy as np
import torch
from joblib import Parallel, delayed
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, GradientNormClipping
from torch import nn

from ._decoder import (
    HAZARD_FEATURES,
    NE_PRIOR,
    NE_SFS_SIZE,
    NeDecoder,
    NeDecoderEnsemble,
    NeSummary,
    grid_log10_ne,
    summary_features,
)

__all__ = ["ne_training_set", "load_training_set", "train_ne_decoder"]


class _NegLogProb(nn.Module):
    def forward(self, log_prob, y=None):
        return -log_prob.mean()


# -- training data ------------------------------------------------------------------------
def _summaries_of(estimator, seed, n_haplotypes, chromosomes, length, mutation_rate,
                  recombination_rate, rate_range, prior, max_pairs):
    """One training history: its target and the summaries of its chromosomes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _history_summaries(estimator, seed, n_haplotypes, chromosomes, length,
                                  mutation_rate, recombination_rate, rate_range, prior,
                                  max_pairs)
    finally:
        torch.set_num_threads(threads)


def _history_summaries(estimator, seed, n_haplotypes, chromosomes, length, mutation_rate,
                       recombination_rate, rate_range, prior, max_pairs):
    from ..simulate import sample_size_history, simulate

    rng = np.random.RandomState(seed)
    history = sample_size_history(rng, **prior)
    low, high = np.log(rate_range)
    rho = recombination_rate * float(np.exp(rng.uniform(low, high)))
    out = []
    for _ in range(chromosomes):
        ts = simulate(history, n_haplotypes, length, mutation_rate=mutation_rate,
                      recombination_rate=rho, random_state=rng)
        out.append(estimator.ne_summary(ts, mutation_rate=mutation_rate, max_pairs=max_pairs,
                                        random_state=rng).to_dict())
    return grid_log10_ne(history), out


def ne_training_set(estimator, n, *, out_dir, n_haplotypes=NE_SFS_SIZE, chromosomes=3,
                    length=4e6, mutation_rate=1.29e-8, recombination_rate=1e-8,
                    rate_range=(0.5, 2.0), prior=None, max_pairs=64, chunk=20,
                    n_jobs=None, random_state=0, progress=False):
    """Simulate ``n`` histories from the decoder's prior and summarise each chromosome with
    ``estimator``, in parallel (joblib), resumable: every ``chunk`` histories are one
    ``.npz`` file in ``out_dir``; files already there are kept.

    The recombination rate of each history is the nominal one times a log-uniform factor in
    ``rate_range``; each chromosome's summary pools ``max_pairs`` random pairs
    (:meth:`MainspringARGEstimator.ne_summary`). Returns ``(targets (n, K), summaries: list
    of per-chromosome lists)``.
    """
    prior = dict(NE_PRIOR if prior is None else prior)
    os.makedirs(out_dir, exist_ok=True)
    settings = {"n_haplotypes": int(n_haplotypes), "chromosomes": int(chromosomes),
                "length": float(length), "mutation_rate": float(mutation_rate),
                "recombination_rate": float(recombination_rate),
                "rate_range": [float(v) for v in rate_range],
                "prior": {k: list(v) if isinstance(v, tuple) else v for k, v in prior.items()},
                "max_pairs": max_pairs, "chunk": int(chunk), "random_state": random_state,
                "network_steps": int(getattr(estimator, "n_steps_", 0))}
    _check_manifest(os.path.join(out_dir, "manifest.json"), settings)
    seeds = np.random.SeedSequence(random_state).generate_state(n)
    todo = [c for c in range(0, n, chunk)
            if not os.path.exists(os.path.join(out_dir, f"chunk{c:06d}.npz"))]

    def run(c):
        items = [_summaries_of(estimator, int(s), n_haplotypes, chromosomes, length,
                               mutation_rate, recombination_rate, rate_range, prior,
                               max_pairs) for s in seeds[c:c + chunk]]
        flat = {"target": np.stack([t for t, _ in items])}
        for key in items[0][1][0]:
            flat[key] = np.stack([[d[key] for d in s] for _, s in items])
        path = os.path.join(out_dir, f"chunk{c:06d}.npz")
        np.savez(f"{path}.tmp.npz", **flat)
        os.replace(f"{path}.tmp.npz", path)
        return c

    jobs = (delayed(run)(c) for c in todo)
    if progress:
        from tqdm.auto import tqdm
        jobs = tqdm(jobs, total=len(todo), desc="N_e training histories (chunks)")
    Parallel(n_jobs=n_jobs)(jobs)
    return load_training_set(out_dir, limit=n)


def _check_manifest(path, settings):
    """Write the settings of a training-set directory, or check a resumed one's match."""
    import json

    settings = json.loads(json.dumps(settings))
    if os.path.exists(path):
        with open(path) as f:
            stored = json.load(f)
        if stored != settings:
            diff = {k: (stored.get(k), v) for k, v in settings.items() if stored.get(k) != v}
            raise ValueError(f"{os.path.dirname(path)!r} holds simulations of other settings "
                             f"(stored, asked: {diff}); expected the same settings to resume, "
                             "or a new directory.")
    else:
        with open(path, "w") as f:
            json.dump(settings, f, indent=1)


def load_training_set(out_dir, limit=None):
    """Read the chunks of :func:`ne_training_set` (in order): ``(targets, summaries)``."""
    files = sorted(f for f in os.listdir(out_dir) if f.startswith("chunk")
                   and f.endswith(".npz") and ".tmp" not in f)
    targets, summaries = [], []
    for f in files:
        with np.load(os.path.join(out_dir, f)) as d:
            for i in range(len(d["target"])):
                targets.append(d["target"][i])
                summaries.append([NeSummary.from_dict({k: d[k][i, c] for k in d.files
                                                       if k != "target"})
                                  for c in range(d["sd_sum"].shape[1])])
    if limit is not None:
        targets, summaries = targets[:limit], summaries[:limit]
    return np.asarray(targets), summaries


def _examples(targets, summaries, rng, subsets=True):
    """Features and targets: every history pooled over all its chromosomes, and (with
    ``subsets``) over random non-empty subsets of them (less sequence: more noise)."""
    x, y = [], []
    for target, chrom in zip(targets, summaries):
        x.append(summary_features(sum(chrom)))
        y.append(target)
        if subsets and len(chrom) > 1:
            for _ in range(len(chrom) - 1):
                k = rng.randint(1, len(chrom))
                pick = rng.choice(len(chrom), size=k, replace=False)
                x.append(summary_features(sum(chrom[i] for i in pick)))
                y.append(target)
    return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)


def train_ne_decoder(targets, summaries, *, max_epochs=400, lr=1e-3, batch_size=64,
                     patience=40, hidden=96, embed=64, transforms=3, residual=True,
                     members=4, subsets=True, device="cpu", random_state=0, verbose=0):
    """Fit an ensemble of ``members`` :class:`NeDecoder` flows to simulated histories, each
    a skorch ``NeuralNet`` (AdamW, gradient clipping, its own random 10 % of the histories
    held out, early stopping with the best weights restored) from its own seed; their
    draws pool (:class:`NeDecoderEnsemble`: a mixture, wider where they disagree).
    ``residual``: each flow models the correction of the hazard estimate among the
    features (:class:`NeDecoder` ``base``). Returns the ensemble (CPU, eval mode) and the
    members' skorch histories (one list)."""
    rng = np.random.RandomState(random_state)
    flows, histories = [], []
    for member in range(int(members)):
        order = rng.permutation(len(targets))
        n_valid = max(1, len(order) // 10)
        valid, train = order[:n_valid], order[n_valid:]
        x_tr, y_tr = _examples(targets[train], [summaries[i] for i in train], rng, subsets)
        x_va, y_va = _examples(targets[valid], [summaries[i] for i in valid], rng, False)
        torch.manual_seed(int(rng.randint(2**31 - 1)))
        net = NeuralNet(NeDecoder, module__n_context=x_tr.shape[1],
                        module__n_grid=y_tr.shape[1], module__hidden=hidden,
                        module__embed=embed, module__transforms=transforms,
                        module__base=HAZARD_FEATURES if residual else None,
                        criterion=_NegLogProb, optimizer=torch.optim.AdamW,
                        optimizer__weight_decay=1e-4, lr=lr, batch_size=batch_size,
                        max_epochs=max_epochs, device=device, iterator_train__shuffle=True,
                        verbose=verbose, train_split=_fixed_split(x_va, y_va),
                        callbacks=[("clip", GradientNormClipping(5.0)),
                                   ("early_stopping", EarlyStopping(patience=patience,
                                                                    load_best=True))])
        net.initialize()
        net.module_.standardise(x_tr, y_tr)
        net.partial_fit({"x": x_tr, "y": y_tr}, np.zeros(len(x_tr), dtype=np.float32))
        flows.append(net.module_.cpu().eval())
        histories += [dict(row, member=member) for row in net.history]
    config = dict(n_context=int(flows[0].x_mean.numel()), n_grid=int(flows[0].y_mean.numel()),
                  hidden=hidden, embed=embed, transforms=transforms,
                  base=HAZARD_FEATURES if residual else None)
    ensemble = NeDecoderEnsemble(int(members), **config)
    for target, flow in zip(ensemble.members, flows):
        target.load_state_dict(flow.state_dict())
    return ensemble.eval(), histories


def _fixed_split(x_valid, y_valid):
    """A skorch ``train_split`` that keeps all of X for training and validates on the given
    held-out histories (their features are not the training rows' subsets)."""
    from skorch.dataset import Dataset

    def split(dataset, y=None, **kwargs):
        return dataset, Dataset({"x": x_valid, "y": y_valid},
                                np.zeros(len(x_valid), dtype=np.float32))
    return split
