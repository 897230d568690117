"""``MainspringARGEstimator``: genealogies from genotypes, learnt by inverting msprime.

A thin estimator over skorch: a ``NeuralNet`` trains :class:`~sfsestimators.nn.PairConvNet`
with :class:`torch.nn.GaussianNLLLoss` on batches built on the fly (:mod:`._data`),
with gradient-norm clipping, an optional cosine learning-rate schedule, a held-out simulation
set with early stopping, checkpoints that restore the optimiser and the history, and a
progress bar. Prediction reads the network directly (:mod:`._features`, :mod:`._prediction`).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import (
    Checkpoint,
    EarlyStopping,
    GradientNormClipping,
    LoadInitState,
    LRScheduler,
    ProgressBar,
)
from skorch.helper import predefined_split
from skorch.history import History

from .._persist import load_file, plain_history, resolve_device, save_file
from .._validation import check_int_params
from ..nn import NODE_HEAD_WIDTH, PairConvNet
from ..simulate import MUTATION_RATE, RECOMBINATION_RATE, extract_targets
from ._copying import CopyingHeadMixin
from ._curriculum import (
    LossComponents,
    PhaseSchedule,
    TauAnnealing,
    _GaussianNet,
    _StepCounter,
    phases_of,
)
from ._data import StepBatches, ValidationBatches, _Source
from ._decoder import NE_SFS_SIZE, NeDecoderMixin, decoder_posterior
from ._features import (
    N_PAIR_FEATURES,
    apply_accessibility,
    as_genotypes,
    check_pairs,
    window_divergence,
)
from ._ne import ne_posterior
from ._prediction import PairwisePrediction, prediction_from_pairs
from ._presets import from_format_1, load_backbone, train_new_only
from ._running import PairNetworkMixin

__all__ = ["MainspringARGEstimator", "PRESETS"]

#: network sizes by preset name
PRESETS = {
    "small": dict(width=32, n_blocks=4, kernel_size=5),
    "base": dict(width=96, n_blocks=8, kernel_size=5),
}


def _n_steps(history):
    """Optimiser steps recorded in a (skorch or plain) history."""
    return int(sum(row.get("train_batch_count", 0) for row in history))


class MainspringARGEstimator(PairNetworkMixin, NeDecoderMixin, CopyingHeadMixin,
                             BaseEstimator):
    """Pairwise coalescence times and local genealogies from phased genotypes.

    Learns by inverting msprime: training data are simulations (built on the fly, a fresh
    seed per step), or given tree sequences, the targets window-mean pairwise TMRCAs
    computed with tskit. A network of dilated 1-D convolutions along windows reads, for
    every pair of haplotypes, its local and global divergence (:func:`pair_features`) and
    predicts the mean and standard deviation of ln TMRCA per window (Gaussian likelihood
    loss). Ultrametric local trees (:meth:`GenealogyPrediction.to_tree_sequence`) follow
    from the predicted times; copying parents and breakpoints from a copying-parent head
    over the other haplotypes (:meth:`fit_copying_head`), or without one from the times.

    Training runs on skorch: ``history_`` is its :class:`skorch.history.History` (one row
    per epoch of ``steps_per_epoch`` steps, every step's loss in ``batches``).

    Parameters
    ----------
    preset : {"small", "base"}, default="small"
        Network size.
    features : {"triplet", "pair"}, default="triplet"
        Inputs per pair (:func:`pair_features`): the pair's own divergence only, or also
        what the other haplotypes say about it.
    n_haplotypes : int, default=20
        Haplotypes per training simulation; the network itself serves any number (pairs are
        independent inputs), ``max_haplotypes`` bounds what ``predict`` accepts. With more,
        each pair's triplet channels read ``n_haplotypes - 2`` others (as in training;
        :func:`features_for_pairs` ``others``), so a pair costs the same at any sample size.
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
    steps_per_epoch : int, default=50
        Steps per skorch epoch: one history row, one validation, one checkpoint.
    batch_size : int, default=2
        Simulations per step.
    lr : float, default=2e-3
        AdamW learning rate.
    lr_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"``: cosine annealing per epoch down to 5 % of ``lr`` at ``max_steps``
        (resumes at the right point from a checkpoint).
    validation_size : int, default=0
        Held-out simulations (seeds the training never uses) scored after every epoch
        (``valid_loss`` in the history); with tree sequences ``X``, that fraction of them
        instead (``validation_size / 100``).
    patience : int or None, default=None
        Stop when ``valid_loss`` has not improved for this many epochs (needs a validation
        set); the best weights are restored.
    checkpoint_dir : str or None, default=None
        Save the weights, the optimiser state and the history there after every epoch; a
        later :meth:`fit` with the same directory resumes from them (skorch ``Checkpoint``
        and ``LoadInitState``), up to ``max_steps`` in all.
    n_workers : int, default=0
        DataLoader workers building the batches (simulations) in parallel.
    prior : dict or None, default=None
        Keyword arguments of :func:`sfsestimators.simulate.sample_size_history` for the
        training simulations (e.g. ``{"max_epochs": 1}``: constant N_e only).
    rate_range : tuple (low, high) or None, default=None
        Train over a prior of rates: each simulation multiplies ``mutation_rate`` and
        ``recombination_rate`` by independent log-uniform factors in ``[low, high]`` (e.g.
        ``(0.25, 4)``; their ratio then varies ``high / low``-fold each way) and is read at
        its own mutation rate, as :meth:`predict` reads data at the given one. None: the
        nominal rates only.
    adapter : int, default=0
        Channels of bottleneck adapters after each block (0: none). With ``init_from``, only
        the adapters train: the backbone is frozen (its weights do not change).
    init_from : str or None, default=None
        Start from these weights: a preset name (:meth:`available`) or a file written by
        :meth:`save`.
    freeze_backbone : bool, default=False
        With ``init_from``: train only what the file lacks (the node-time head, adapters,
        the mask input map); the pairwise times stay those of ``init_from``.
    curriculum : "default", list of dict, or None, default=None
        Train through phases (:class:`~sfsestimators.genealogy.Phase` keyword arguments, or
        ``"default"`` for :data:`~sfsestimators.genealogy.CURRICULUM`: constant N_e; 1-2
        size changes; the full prior; sweeps, migration and rates off the nominal ones),
        each with its prior and the weights of the composite loss (pairwise times, copying
        topology with an annealed Gumbel-softmax, node times, the SFS the predicted trees
        imply; :func:`~sfsestimators.genealogy.composite_loss`). The run is then the sum of
        the phases' steps (``max_steps`` is not used); the history records each epoch's
        ``phase``, ``tau`` and every loss component and diagnostic. None: the Gaussian NLL
        of the pairwise times on ``prior``. A curriculum with node or SFS terms adds the
        node-time head (:class:`~sfsestimators.nn.NodeTimeHead`; the times of
        :meth:`GenealogyPrediction.to_tree_sequence`'s nodes).
    missing_mask : bool, default=False
        Read two bitmask channels besides the features (:func:`features_for_pairs` with
        ``mask=True``: the fraction of each window's sites a pair lacks, and the window's
        inaccessible fraction), through their own zero-initialised input map; training then
        masks every simulation as a real call set (:func:`~sfsestimators.genealogy._data.mask_item`:
        up to 30 % missing calls, inaccessible holes). The ``wmissing`` preset.
    device : str, default="auto"
        Torch device; "auto" uses CUDA when available.
    random_state : int or None, default=None
    verbose : int, default=0
        skorch's per-epoch table when > 0.
    progress : bool, default=False
        skorch's progress bar over the steps of each epoch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (``net_.module_`` is the :class:`PairConvNet`).
    module_ : PairConvNet
        The same module.
    history_ : skorch.history.History
    n_steps_ : int
        Optimiser steps taken so far (over every fit, partial fit and resumed run).
    ne_decoder_ : NeDecoderEnsemble or None
        The N_e(t) decoder (:meth:`fit_ne_decoder`), if any.
    copying_head_ : CopyingHead or None
        The copying-parent head (:meth:`fit_copying_head`), if any.

    See Also
    --------
    GenealogyPrediction : what :meth:`predict` returns.
    sfsestimators.simulate.SimulationStream : the simulation engine.

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
                 max_haplotypes=200, window_size=2000.0, train_length=4e5,
                 mutation_rate=MUTATION_RATE, recombination_rate=RECOMBINATION_RATE,
                 max_steps=200, steps_per_epoch=50, batch_size=2, lr=2e-3,
                 lr_schedule="constant", validation_size=0, patience=None,
                 checkpoint_dir=None, n_workers=0, prior=None, rate_range=None, adapter=0,
                 init_from=None, freeze_backbone=False, curriculum=None, missing_mask=False,
                 device="auto",
                 random_state=None, verbose=0, progress=False):
        self.preset = preset
        self.features = features
        self.n_haplotypes = n_haplotypes
        self.max_haplotypes = max_haplotypes
        self.window_size = window_size
        self.train_length = train_length
        self.mutation_rate = mutation_rate
        self.recombination_rate = recombination_rate
        self.max_steps = max_steps
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.validation_size = validation_size
        self.patience = patience
        self.checkpoint_dir = checkpoint_dir
        self.n_workers = n_workers
        self.prior = prior
        self.rate_range = rate_range
        self.adapter = adapter
        self.init_from = init_from
        self.freeze_backbone = freeze_backbone
        self.curriculum = curriculum
        self.missing_mask = missing_mask
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
    def _check(self):
        self._phases()  # a malformed curriculum: a clear error now
        if self.preset not in PRESETS:
            raise ValueError(f"preset is {self.preset!r}; expected one of {sorted(PRESETS)}.")
        if self.features not in N_PAIR_FEATURES:
            raise ValueError(f"features is {self.features!r}; expected one of "
                             f"{sorted(N_PAIR_FEATURES)}.")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule is {self.lr_schedule!r}; expected 'constant' or "
                             "'cosine'.")
        check_int_params(self, ("n_haplotypes", "max_haplotypes", "max_steps", "batch_size",
                                "steps_per_epoch"))
        check_int_params(self, ("validation_size", "n_workers", "adapter"), minimum=0)
        if self.prior is not None and not isinstance(self.prior, dict):
            raise ValueError(f"prior is {self.prior!r}; expected None or a dict of "
                             "sample_size_history arguments.")
        if self.rate_range is not None:
            ok = isinstance(self.rate_range, (tuple, list)) and len(self.rate_range) == 2 and all(
                isinstance(v, numbers.Real) and np.isfinite(v) and v > 0
                for v in self.rate_range) and self.rate_range[0] <= self.rate_range[1]
            if not ok:
                raise ValueError(f"rate_range is {self.rate_range!r}; expected None or (low, "
                                 "high) with 0 < low <= high (factors of the nominal rates).")
        if self.patience is not None:
            check_int_params(self, ("patience",))
            if not self.validation_size:
                raise ValueError(f"patience is {self.patience}, but validation_size is 0; "
                                 "early stopping needs a held-out set (validation_size > 0).")
        if self.n_haplotypes % 2:
            raise ValueError(f"n_haplotypes is {self.n_haplotypes}; expected an even number "
                             "(diploid simulations).")
        for name in ("window_size", "train_length", "lr", "mutation_rate"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and value > 0):
                raise ValueError(f"{name} is {value!r}; expected a positive number.")

    def _phases(self):
        """The curriculum as Phase objects (empty without one)."""
        return phases_of(self.curriculum, self.steps_per_epoch)

    def _total_steps(self):
        phases = self._phases()
        return sum(int(p.steps) for p in phases) if phases else self.max_steps

    def _callbacks(self, dataset):
        callbacks = [("steps", _StepCounter(dataset)),
                     ("clip", GradientNormClipping(gradient_clip_value=5.0))]
        phases = self._phases()
        if phases:
            callbacks += [("phases", PhaseSchedule(phases, dataset)),
                          ("tau", TauAnnealing(dataset, self._total_steps())),
                          ("components", LossComponents())]
        if self.checkpoint_dir is not None:
            checkpoint = Checkpoint(monitor=None, dirname=os.fspath(self.checkpoint_dir),
                                    f_params="params.pt", f_optimizer="optimizer.pt",
                                    f_criterion=None, f_history="history.json")
            callbacks += [("checkpoint", checkpoint), ("resume", LoadInitState(checkpoint))]
        if self.lr_schedule == "cosine":
            n_epochs = math.ceil(self._total_steps() / self.steps_per_epoch)
            callbacks.append(("lr", LRScheduler(
                policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=max(n_epochs, 1),
                eta_min=0.05 * self.lr)))
        if self.patience is not None:
            # with a curriculum the total loss changes weights between phases: the times'
            # NLL is the comparable score
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss_time" if phases else "valid_loss",
                patience=self.patience, load_best=True)))
        if self.progress:
            callbacks.append(("progress", ProgressBar()))
        return callbacks

    def _build(self, X, seed):
        triplet = self.features == "triplet"
        simulation = (self.n_haplotypes, self.train_length, self.window_size,
                      self.mutation_rate, self.recombination_rate, dict(self.prior or {}),
                      None if self.rate_range is None else tuple(map(float, self.rate_range)),
                      ())
        valid = None
        if X is None:
            source = _Source(simulation, missing=self.missing_mask)
            if self.validation_size:
                valid = ValidationBatches(source, seed, self.validation_size,
                                          mutation_rate=self.mutation_rate, triplet=triplet)
        else:
            X = list(X)
            n_valid = int(round(len(X) * self.validation_size / 100))
            source = _Source(simulation, X[n_valid:], self.window_size,
                             missing=self.missing_mask)
            if n_valid:
                valid = ValidationBatches(_Source(simulation, X[:n_valid], self.window_size,
                                                  missing=self.missing_mask),
                                          seed, n_valid, mutation_rate=self.mutation_rate,
                                          triplet=triplet)
        dataset = StepBatches(source, seed, batch_size=self.batch_size,
                              steps_per_epoch=self.steps_per_epoch,
                              mutation_rate=self.mutation_rate, triplet=triplet)
        dataset.epoch_offset = 0
        net = _GaussianNet(
            PairConvNet, module__n_features=N_PAIR_FEATURES[self.features],
            module__adapter=int(self.adapter), module__n_mask=2 if self.missing_mask else 0,
            module__node_head=NODE_HEAD_WIDTH * any(
                p.lambda_node or p.lambda_sfs for p in self._phases()),
            module__node_head_n=self.n_haplotypes,
            **{f"module__{k}": v for k, v in PRESETS[self.preset].items()},
            criterion=torch.nn.GaussianNLLLoss, optimizer=torch.optim.AdamW, lr=self.lr,
            max_epochs=math.ceil(self._total_steps() / self.steps_per_epoch), batch_size=None,
            iterator_train__num_workers=self.n_workers,
            train_split=predefined_split(valid) if valid is not None else None,
            callbacks=self._callbacks(dataset), device=resolve_device(self.device),
            verbose=self.verbose)
        return net, dataset

    def _train(self, steps, *, first_step=None, epoch_offset=None):
        """Run ``steps`` optimiser steps from ``first_step`` (default: the steps taken so
        far), whole epochs, the last one short; ``epoch_offset``: the epochs already in the
        history when training starts (LoadInitState brings a resumed run's back)."""
        ds = self._dataset
        done = self.n_steps_ if first_step is None else first_step
        ds.first_step, ds.limit = done, done + steps
        ds.epoch_offset = len(self.net_.history) if epoch_offset is None else epoch_offset
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(np.random.SeedSequence([self._seed, done]).generate_state(1)[0]))
            self.net_.partial_fit(ds, None, epochs=math.ceil(steps / self.steps_per_epoch))
        self._sync()
        return self

    def _sync(self):
        self.module_ = self.net_.module_
        self.module_.eval()
        self.history_ = self.net_.history
        self.n_steps_ = _n_steps(self.history_) + self._steps_before

    def _start(self, X):
        """A new, initialised network and dataset."""
        self._check()
        seed = int(check_random_state(self.random_state).randint(1, 2**31 - 1))
        self._seed, self._steps_before, self.n_steps_ = seed, 0, 0
        # the decoder and the copying head read one network's outputs: a new one has neither
        self.ne_decoder_ = self.copying_head_ = None
        self.ne_decoder_history_, self.copying_head_history_ = [], []
        self.net_, self._dataset = self._build(X, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net_.initialize()
        if self.init_from is not None:
            self._warm_start()

    def _warm_start(self):
        """Load the backbone from ``init_from``; with adapters or ``freeze_backbone``, train
        only the new modules."""
        load_backbone(self.net_.module_, self.init_from, type(self),
                      bool(self.adapter or self.freeze_backbone),
                      f"the preset {self.preset!r} with features={self.features!r}")

    def fit(self, X=None, y=None):
        """Train from scratch: on fresh simulations (``X=None``) or on tree sequences ``X``.

        With ``checkpoint_dir`` holding an earlier run's checkpoint, that run resumes
        (weights, optimiser state and history) and trains up to ``max_steps`` in all.
        """
        self._start(X)
        done = n_epochs = 0
        history_file = (os.path.join(os.fspath(self.checkpoint_dir), "history.json")
                        if self.checkpoint_dir is not None else None)
        if history_file and os.path.exists(history_file):
            with open(history_file) as f:
                rows = json.load(f)
            done, n_epochs = _n_steps(rows), len(rows)
        if done >= self._total_steps():  # nothing left to train: load the finished run
            self.net_.load_params(checkpoint=dict(self.net_.callbacks_)["checkpoint"])
            self._sync()
            return self
        # with a checkpoint, LoadInitState restores the run at the start of training
        return self._train(self._total_steps() - done, first_step=done, epoch_offset=n_epochs)

    def partial_fit(self, X=None, y=None, *, steps=None):
        """Continue training for ``steps`` (default ``max_steps``) more steps."""
        if not hasattr(self, "net_"):
            self._start(X)
        elif X is not None:
            self._dataset.source = _Source(self._dataset.source.simulation, list(X),
                                           self.window_size, missing=self.missing_mask)
        for attr, fit in (("ne_decoder_", "fit_ne_decoder"),
                          ("copying_head_", "fit_copying_head")):
            if getattr(self, attr, None) is not None:
                warnings.warn(f"partial_fit changes the network whose outputs {attr} reads: "
                              f"it is dropped (retrain it with {fit}).", stacklevel=2)
                setattr(self, attr, None)
                setattr(self, f"{attr}history_", [])
        return self._train(steps or self.max_steps)

    # -- prediction -------------------------------------------------------------------------
    def predict(self, X, *, sequence_length=None, mutation_rate=None,
                recombination_rate=None, pairs=None, batch_pairs=None, ne_draws=50,
                accessible=None, precision="auto", random_state=None):
        """Predict the genealogy of the haplotypes in ``X``, in bounded memory.

        The pairs go through the network in chunks of ``batch_pairs``, their features built
        per chunk from the windows' pairwise divergence (n_windows x n^2 numbers), so the
        peak memory does not grow with the number of pairs beyond the outputs.

        Parameters
        ----------
        X : tskit.TreeSequence, VCF path, or (genotypes, positions)
            Phased haplotypes, one column per haplotype, derived allele = 1 (-1 missing). Of
            a tree sequence only the genotypes are used.
        sequence_length : float, default=None
            Needed with a genotype matrix when the sequence extends past the last site.
        mutation_rate : float, default=None
            Of the data (per bp per generation); default the estimator's ``mutation_rate``
            (the training simulations'). It scales the divergence the network reads.
        recombination_rate : float, default=None
            Of the data; only checked: a ratio mu / r more than 4x away from the training
            simulations' is warned about (the network learnt one ratio).
        pairs : array-like of shape (n_pairs, 2), default=None
            Predict only these pairs of haplotype indices (as cxt samples pairs); then a
            :class:`PairwisePrediction` is returned (no trees).
        batch_pairs : int, default=None
            Pairs per network call; default such that a chunk's activations hold about 16
            million numbers.
        accessible : str, path or array-like of shape (k, 2), default=None
            The accessible sequence: a BED file (:func:`sfsestimators.io.read_bed`) or
            ``[start, end)`` intervals. Sites outside are left out (counted, warned); each
            window's divergence is per accessible bp; a window with less than 1 % of its
            length accessible takes each pair's sequence-wide estimate (counted, warned).
            Default: all of the sequence is accessible.
        precision : {"auto", "float32", "bfloat16"}, default="auto"
            Arithmetic of the network's convolutions. ``"bfloat16"`` (torch autocast) is
            about 4x faster on a CPU with native bfloat16 (AVX-512) and moves the predicted
            ln TMRCA by about 0.01 (its MSE against the truth unchanged at the third
            decimal, ``benchmarks/genealogy_scaling.py``); ``"auto"``: bfloat16 on such a
            CPU (unless the N_e(t) decoder reads this very pass: 20 haplotypes), else
            float32. The decoder always reads a float32 pass.
        ne_draws : int, default=50
            Draws of the N_e(t) posterior (``.ne``, :func:`ne_posterior`; 0: none): each
            samples the pair-windows' times from their predicted log-normals (at most
            50,000 of them, at random) and re-estimates N_e on :data:`NE_TIME_GRID`.
        random_state : int or None, default=None
            Seeds the N_e(t) draws.

        Returns
        -------
        GenealogyPrediction or PairwisePrediction
        """
        check_is_fitted(self)
        mu = self._rate("mutation_rate", mutation_rate, self.mutation_rate)
        if recombination_rate is not None:
            rho = self._rate("recombination_rate", recombination_rate, None)
            trained = self.mutation_rate / self.recombination_rate
            low, high = self.rate_range or (1.0, 1.0)
            span = 4 * high / low  # the ratios training saw, and 4x beyond
            if not 1 / span <= (mu / rho) / trained <= span:
                warnings.warn(f"mutation_rate / recombination_rate is {mu / rho:.3g}, more "
                              f"than {span:g}x away from the training simulations' "
                              f"{trained:.3g}; the network's accuracy there is not measured.",
                              stacklevel=2)
        g, pos, length = as_genotypes(X, sequence_length)
        n = g.shape[1]
        if n < 2:
            raise ValueError(f"X has {n} haplotype(s); expected at least 2.")
        if n > self.max_haplotypes:
            raise ValueError(f"X has {n} haplotypes; this estimator serves at most "
                             f"max_haplotypes={self.max_haplotypes}.")
        windows = np.append(np.arange(0.0, length, float(self.window_size)), length)
        subset = pairs is not None
        pairs = check_pairs(pairs, n) if subset else np.stack(np.triu_indices(n, 1), axis=1)
        lengths = None
        if accessible is not None:
            g, pos, lengths = apply_accessibility(accessible, g, pos, windows)
        div = window_divergence(g, pos, windows, mu, lengths)
        if batch_pairs is not None and (
                isinstance(batch_pairs, bool) or not isinstance(batch_pairs, numbers.Integral)
                or batch_pairs < 1):
            raise ValueError(f"batch_pairs is {batch_pairs!r}; expected an integer >= 1.")
        # the decoder reads a float32 pass; with exactly its 20 haplotypes it reads this one
        reads_this = (bool(ne_draws) and not subset and n == NE_SFS_SIZE
                      and getattr(self, "ne_decoder_", None) is not None)
        precision = "float32" if precision == "auto" and reads_this else self._precision(
            precision)
        mean, sd, pooled = self._network(div, pairs, batch_pairs, precision)
        if subset:
            return PairwisePrediction(windows, pairs, mean.T, sd.T, float(length))
        ne = None
        if ne_draws:
            rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
            if getattr(self, "ne_decoder_", None) is not None and n >= NE_SFS_SIZE:
                summary = self._summaries(g, pos, length, windows, lengths, mu,
                                          np.random.RandomState(int(rng.integers(2**31 - 1))),
                                          reuse=(mean, sd, pooled, div, pairs)
                                          if precision == "float32" else None)
                ne = decoder_posterior(self.ne_decoder_, summary, int(ne_draws),
                                       int(rng.integers(2**31 - 1)))
            else:
                keep = rng.choice(mean.size, size=min(mean.size, 50_000), replace=False)
                ne = ne_posterior(mean.ravel()[keep], sd.ravel()[keep], n_draws=int(ne_draws),
                                  random_state=int(rng.integers(2**31 - 1)))
        head = getattr(self, "copying_head_", None) is not None
        return self._with_copying(prediction_from_pairs(
            mean.T, sd.T, pairs, n, windows, length, ne=ne, copying=not head,
            node_head=self.module_.node_head),
                                  g, pos, div)

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
        last = [b for row in self.history_ for b in row.get("batches", [])][-10:]
        recent = {k: np.mean([b[k] for b in last if k in b]) for k in (
            "train_loss", "loss_time", "loss_node", "loss_sfs") if any(k in b for b in last)}
        phases = list(dict.fromkeys(r["phase"] for r in self.history_ if "phase" in r))
        valid = [row["valid_loss"] for row in self.history_ if "valid_loss" in row]
        return (f"MainspringARGEstimator ({self.preset}: {n_w:,} weights), trained "
                f"{self.n_steps_} steps" + (f", the last {_n_steps(self.history_)} through "
                f"the phases {', '.join(phases)}" + (" (the new modules only)" * bool(
                    self.freeze_backbone)) if phases else "") + "; recent " + ", ".join(
                    f"{k} {v:.4f}" for k, v in recent.items())
                + (f"; best valid loss {min(valid):.4f}" if valid else "")
                + f"; windows {self.window_size:g} bp; mutation rate {self.mutation_rate:g}"
                + ("" if getattr(self, "ne_decoder_", None) is None else
                   f"; N_e(t) decoder: {len(self.ne_decoder_.members)} flows")
                + ("" if getattr(self, "copying_head_", None) is None else
                   "; copying-parent head")
                + ("" if self.module_.node_head is None else "; node-time head"))

    # -- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted estimator: parameters, weights, optimiser state and history (a
        weights-only torch file, written atomically; see :meth:`load`)."""
        check_is_fitted(self)
        save_file(path, self, n_steps=self.n_steps_, seed=self._seed,
                  history=plain_history(self.history_),
                  state_dict={k: v.cpu() for k, v in self.module_.state_dict().items()},
                  optimizer=self.net_.optimizer_.state_dict(), **self._decoder_content(),
                  **self._copying_content())

    @classmethod
    def load(cls, path, *, device="auto"):
        """Read an estimator written by :meth:`save` onto ``device``; ``partial_fit``
        continues its training (optimiser state and history included)."""
        ckpt = load_file(path, cls, legacy=from_format_1)
        params = dict(ckpt["params"], device=device)
        est = cls(**params)
        est._check()
        est._seed = int(ckpt.get("seed", 0))
        est.net_, est._dataset = est._build(None, est._seed)
        est.net_.initialize()
        est.net_.module_.load_state_dict(ckpt["state_dict"])
        if ckpt.get("optimizer"):
            est.net_.optimizer_.load_state_dict(ckpt["optimizer"])
        est.net_.history = History(ckpt["history"])
        if (est.adapter or est.freeze_backbone) and est.init_from is not None:
            train_new_only(est.net_.module_)
        est._steps_before = int(ckpt["n_steps"]) - _n_steps(ckpt["history"])
        est._sync()
        est._load_decoder(ckpt)
        est._load_copying(ckpt)
        return est

    @classmethod
    def pretrained(cls, preset="small", *, device="auto"):
        """A named preset's trained estimator: the shipped ``small`` (alias ``broad``), or one
        built with ``python -m sfsestimators train-genealogy --preset NAME`` into the cache
        directory (see :meth:`available`); a clear error names the command when it is
        absent."""
        from ._presets import resolve

        return cls.load(resolve(preset), device=device)

    @staticmethod
    def available():
        """Every named preset -> its weights file, or None where it is not built yet."""
        from ._presets import available

        return available()
