"""``NeuralSFSRegressor``: the neural SFS emulator as a scikit-learn regressor (skorch + torch)."""

from __future__ import annotations

import numbers

import moments
import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetRegressor
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import ValidSplit

from ._persist import load_file, resolve_device, save_file
from ._scales import to_log_scale
from ._validation import check_int_params
from .metrics import mean_relative_error
from .models import graph_layout_size, model_from_spec, model_spec
from .nn import SFSEmulatorModule, SpectrumLoss, SpectrumModule
from .spectrum import project

__all__ = ["NeuralSFSRegressor"]


def _as_spectra_array(sfs):
    """Spectra (array, or list of moments.Spectrum) -> float array, masked entries as 0."""
    if isinstance(sfs, (list, tuple)) and sfs and isinstance(sfs[0], moments.Spectrum):
        return np.stack([np.ma.filled(s, 0.0) for s in sfs]).astype(float)
    if isinstance(sfs, np.ma.MaskedArray):
        return np.ma.filled(sfs, 0.0).astype(float)
    return np.asarray(sfs)


class NeuralSFSRegressor(RegressorMixin, BaseEstimator):
    """Neural emulator of the expected SFS: demographic parameters -> spectrum.

    Trained by distillation on teacher pairs ``(theta, sfs)`` (see
    :func:`sfsestimators.generate_teacher_data`). The network outputs a *shape* (softmax over
    the spectrum entries) times a *scale* (the total), so every predicted entry is positive;
    it is trained on the log spectrum. Entries that are 0 in every training spectrum (the
    masked monomorphic corners) are not modelled and predicted as 0. One network trained at
    sample size ``n`` serves every smaller ``n`` through exact projection
    (:meth:`predict_spectrum`, :meth:`as_torch`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256, 256, 256)
        Widths of the hidden layers.
    activation : {"gelu", "relu", "silu", "tanh"}, default="gelu"
        Non-linearity.
    head : {"dense", "cp"}, default="dense"
        Output head. ``"dense"``: a softmax over every modelled entry of the (joint)
        spectrum. ``"cp"``: a rank-``rank`` CP tensor, a mixture of ``rank`` products of
        per-population distributions; far fewer output weights for 3 or more populations
        (:class:`sfsestimators.nn.SFSEmulatorModule`).
    rank : int, default=16
        Rank of the CP head.
    encoder : {"mlp", "graph"}, default="mlp"
        ``"mlp"``: ``X`` holds a model's parameters. ``"graph"``: ``X`` holds population-graph
        encodings (``model.encode_graphs(theta, max_nodes)``, or
        :func:`sfsestimators.models.encode_graph` of any demes graph), read by message
        passing (:class:`sfsestimators.nn.PopulationGraphEncoder`), so one network can serve
        families of different topologies.
    max_nodes : int, default=12
        Node slots of the graph encoding (graph encoder only).
    loss : {"log_mse", "kl"}, default="log_mse"
        Training loss on log spectra (see :class:`sfsestimators.nn.SpectrumLoss`).
    lr : float, default=1e-3
        AdamW learning rate.
    max_epochs : int, default=200
        Epochs of :meth:`fit` (and of each :meth:`partial_fit` call unless ``epochs=``).
    batch_size : int, default=256
        Minibatch size.
    weight_decay : float, default=0.0
        AdamW weight decay.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the data, halve the learning rate on plateaus,
        stop after ``patience`` epochs without improvement and keep the best weights.
    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.
    patience : int, default=20
        Epochs without improvement of the validation loss before stopping.
    param_scale : "auto", "log", "linear" or array-like of bool, default="auto"
        Which parameters are log-transformed before standardisation. "auto": those whose
        training values are all positive and span more than a factor 10. A ``model=`` given
        to :meth:`fit` overrides it with the model's own scales.
    device : str, default="auto"
        Torch device; "auto" uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split and minibatch order.
    verbose : int, default=0
        skorch's per-epoch table when > 0.
    progress : bool, default=False
        A progress bar over batches.

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The trained network (composition, not inheritance).
    sfs_shape_ : tuple of int
        Shape of one spectrum.
    included_ : ndarray of bool of shape sfs_shape_
        Entries the network models.
    param_log_ : ndarray of bool of shape (n_features_in_,)
        Which parameters were log-transformed.
    model_ : DemographicModel or None
        The model given to :meth:`fit`: the family whose parameters the network reads.
    param_min_, param_max_ : ndarray of shape (n_features_in_,)
        The training domain (range of each parameter in the training data).
    n_features_in_ : int
        Number of parameters.
    n_epochs_ : int
        Epochs trained so far.
    history_ : skorch.History
        Per-epoch training (and validation) loss.

    See Also
    --------
    sfsestimators.generate_teacher_data : teacher pairs to train on.
    sfsestimators.metrics.SCORERS : scorers for sklearn searches.

    Examples
    --------
    >>> from sfsestimators import NeuralSFSRegressor, TwoEpoch, generate_teacher_data
    >>> theta, sfs, _ = generate_teacher_data(TwoEpoch(), 64, [10], random_state=0)
    >>> est = NeuralSFSRegressor(hidden_layer_sizes=(32, 32), max_epochs=5, random_state=0)
    >>> est = est.fit(theta, sfs)
    >>> est.predict(theta[:2]).shape
    (2, 11)
    >>> est.predict_spectrum(theta[:1], sample_sizes=[6])[0].sample_sizes.tolist()
    [6]
    """

    def __init__(
        self,
        hidden_layer_sizes=(256, 256, 256, 256),
        activation="gelu",
        *,
        head="dense",
        rank=16,
        encoder="mlp",
        max_nodes=12,
        loss="log_mse",
        lr=1e-3,
        max_epochs=200,
        batch_size=256,
        weight_decay=0.0,
        early_stopping=True,
        validation_fraction=0.1,
        patience=20,
        param_scale="auto",
        device="auto",
        random_state=None,
        verbose=0,
        progress=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.head = head
        self.rank = rank
        self.encoder = encoder
        self.max_nodes = max_nodes
        self.loss = loss
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.param_scale = param_scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True  # spectra are non-negative counts
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False  # y is (n_samples, n_entries)
        # score() is minus the mean relative error (<= 0), never sklearn's R^2 > 0.5
        tags.regressor_tags.poor_score = True
        tags.non_deterministic = False
        return tags

    # -- validation -------------------------------------------------------------------------
    def _validate_hyperparameters(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if not sizes or any(not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes is {self.hidden_layer_sizes!r}; expected a non-empty "
                "tuple of positive integers."
            )
        for name in ("lr", "validation_fraction"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and value > 0):
                raise ValueError(f"{name} is {value!r}; expected a positive number.")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction is {self.validation_fraction!r}; expected 0 < value < 1."
            )
        check_int_params(self, ("max_epochs", "batch_size", "patience"))
        if not (isinstance(self.weight_decay, numbers.Real) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay is {self.weight_decay!r}; expected a number >= 0.")
        SpectrumLoss(self.loss)  # raises on an unknown loss
        if self.head not in ("dense", "cp"):
            raise ValueError(f"head is {self.head!r}; expected 'dense' or 'cp'.")
        if self.encoder not in ("mlp", "graph"):
            raise ValueError(f"encoder is {self.encoder!r}; expected 'mlp' or 'graph'.")
        check_int_params(self, ("rank", "max_nodes"))
        return sizes

    def _validate_spectra(self, theta, sfs, reset):
        if sfs is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None; "
                "expected spectra of shape (n_samples, *spectrum_shape)."
            )
        theta = validate_data(self, theta, reset=reset, dtype=np.float64)
        y = _as_spectra_array(sfs)
        if y.ndim < 1 or len(y) != len(theta):
            raise ValueError(
                f"sfs has shape {y.shape}, but theta has {len(theta)} rows; "
                "expected sfs of shape (n_samples, *spectrum_shape)."
            )
        shape = y.shape[1:] if y.ndim > 1 else (1,)
        y_flat = y.reshape(len(y), -1)
        theta, y_flat = validate_data(
            self, theta, y_flat, reset=False, multi_output=True, y_numeric=True,
            dtype=np.float64,
        )
        y_flat = np.asarray(y_flat, dtype=np.float64).reshape(len(theta), -1)
        if np.any(y_flat < 0):
            raise ValueError(
                f"sfs contains negative entries (minimum {y_flat.min():g}); expected expected "
                "spectra, which are >= 0."
            )
        if not reset and tuple(shape) != self.sfs_shape_:
            raise ValueError(
                f"sfs spectra have shape {tuple(shape)}, but {type(self).__name__} was fitted "
                f"on spectra of shape {self.sfs_shape_}."
            )
        return theta, y_flat, tuple(shape)

    def _param_log(self, theta, model):
        if model is not None:
            model.check_params(theta, name="theta")
            return np.asarray(model.log_scaled, dtype=bool)
        scale = self.param_scale
        positive = np.all(theta > 0, axis=0)
        if isinstance(scale, str):
            if scale == "auto":
                span = np.where(positive, theta.max(axis=0) / np.where(
                    positive, theta.min(axis=0), 1.0), 1.0)
                return positive & (span > 10)
            if scale == "log":
                if not positive.all():
                    raise ValueError(
                        "param_scale is 'log', but theta has non-positive values in column(s) "
                        f"{np.flatnonzero(~positive).tolist()}."
                    )
                return np.ones(theta.shape[1], dtype=bool)
            if scale == "linear":
                return np.zeros(theta.shape[1], dtype=bool)
            raise ValueError(
                f"param_scale is {scale!r}; expected 'auto', 'log', 'linear' or booleans."
            )
        arr = np.asarray(scale, dtype=bool)
        if arr.shape != (theta.shape[1],):
            raise ValueError(
                f"param_scale has {arr.size} entries, but theta has {theta.shape[1]} columns."
            )
        return arr

    # -- training ---------------------------------------------------------------------------
    def _build_net(self, sizes, n_outputs, device, seed):
        callbacks = []
        train_split = None
        if self.early_stopping:
            train_split = ValidSplit(self.validation_fraction, stratified=False,
                                     random_state=seed)
            callbacks += [
                ("plateau", LRScheduler(policy="ReduceLROnPlateau", monitor="valid_loss",
                                        factor=0.5, patience=max(1, self.patience // 3))),
                ("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.patience,
                                                 load_best=True)),
            ]
        if self.progress:
            callbacks.append(("progress", ProgressBar()))
        return NeuralNetRegressor(
            SFSEmulatorModule,
            module__n_params=self.n_features_in_,
            module__n_outputs=n_outputs,
            module__hidden_layer_sizes=sizes,
            module__activation=self.activation,
            module__log_params=self.param_log_.tolist(),
            module__param_mean=self._param_mean.tolist(),
            module__param_std=self._param_std.tolist(),
            module__head=self.head,
            module__rank=self.rank,
            module__sfs_shape=list(self.sfs_shape_),
            module__included=self.included_.reshape(-1).tolist(),
            module__encoder=self.encoder,
            module__graph_layout=(self.max_nodes, len(self.sfs_shape_)),
            criterion=SpectrumLoss,
            criterion__kind=self.loss,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            train_split=train_split,
            callbacks=callbacks,
            device=resolve_device(self.device),
            verbose=self.verbose,
        )

    def _targets(self, y_flat):
        with np.errstate(divide="ignore"):
            return np.log(y_flat[:, self.included_.reshape(-1)]).astype(np.float32)

    def fit(self, X, y, *, model=None):
        """Train the emulator from scratch on teacher pairs ``fit(theta, sfs)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_params)
            Parameters ``theta`` in natural units.
        y : array-like of shape (n_samples, *spectrum_shape) or list of moments.Spectrum
            Expected spectra ``sfs`` (masked entries count as 0).
        model : DemographicModel, default=None
            Checks theta against the model's bounds and takes its log/linear scales.

        Returns
        -------
        self
        """
        return self._fit(X, y, model=model, epochs=None)

    def _fit(self, X, y, *, model, epochs):
        sizes = self._validate_hyperparameters()
        theta, y_flat, shape = self._validate_spectra(X, y, reset=True)
        self.sfs_shape_ = shape
        self.included_ = (y_flat > 0).any(axis=0).reshape(shape)
        if not self.included_.any():
            raise ValueError("sfs is zero everywhere; expected spectra with positive entries.")
        partial_zero = (y_flat[:, self.included_.reshape(-1)] <= 0).any(axis=0)
        if partial_zero.any():
            raise ValueError(
                f"sfs has zeros in {int(partial_zero.sum())} entr(ies) that are positive in "
                "other spectra; expected spectra whose only zeros are the masked corners."
            )
        self.model_ = model
        if self.encoder == "graph":
            expected = graph_layout_size(self.max_nodes, len(shape))
            if theta.shape[1] != expected:
                raise ValueError(
                    f"X has {theta.shape[1]} columns; encoder='graph' expects population-graph "
                    f"encodings of {expected} columns (model.encode_graphs(theta, "
                    f"max_nodes={self.max_nodes}) for {len(shape)} population(s))."
                )
            # the encoding is already on log scales; its structure (masks, adjacency) must
            # reach the message passing unchanged
            self.param_log_ = np.zeros(theta.shape[1], dtype=bool)
            self._param_mean = np.zeros(theta.shape[1])
            self._param_std = np.ones(theta.shape[1])
        else:
            self.param_log_ = self._param_log(theta, model)
            z = to_log_scale(theta, self.param_log_)
            self._param_mean = z.mean(axis=0)
            std = z.std(axis=0)
            self._param_std = np.where(std > 0, std, 1.0)
        self.param_min_, self.param_max_ = theta.min(axis=0), theta.max(axis=0)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.net_ = self._build_net(sizes, int(self.included_.sum()), self.device, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if epochs is None:
                self.net_.fit(theta.astype(np.float32), self._targets(y_flat))
            else:
                self.net_.initialize()
                self.net_.partial_fit(theta.astype(np.float32), self._targets(y_flat),
                                      epochs=epochs)
        self._seed, self._n_partial = seed, 0
        self._epoch_offset = 0
        self._applied = {"lr": self.lr, "batch_size": self.batch_size,
                         "optimizer__weight_decay": self.weight_decay}
        self._sync()
        return self

    def partial_fit(self, X, y, *, epochs=None, model=None):
        """Continue training (or start, if not fitted) for ``epochs`` (default max_epochs).

        Optimiser-level hyperparameters (``lr``, ``weight_decay``, ``batch_size``) changed
        with ``set_params`` since the last call take effect; architecture parameters need a
        new :meth:`fit`.
        """
        if not hasattr(self, "net_"):
            return self._fit(X, y, model=model, epochs=epochs)
        theta, y_flat, _ = self._validate_spectra(X, y, reset=False)
        # push only what set_params changed since the last call, so that the learning-rate
        # scheduler's own reductions survive plain continued training
        current = {"lr": self.lr, "batch_size": self.batch_size,
                   "optimizer__weight_decay": self.weight_decay}
        changed = {k: v for k, v in current.items() if self._applied.get(k) != v}
        if changed:
            self.net_.set_params(**changed)
        self._applied = current
        # one independent torch seed per continuation, from the fit's seed
        self._n_partial = getattr(self, "_n_partial", 0) + 1
        seed = int(np.random.SeedSequence([self._seed, self._n_partial]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net_.partial_fit(theta.astype(np.float32), self._targets(y_flat),
                                  epochs=epochs or self.max_epochs)
        self._sync()
        return self

    def _sync(self):
        self.history_ = self.net_.history
        # epochs trained before a save/load are not in the new net's history
        self.n_epochs_ = getattr(self, "_epoch_offset", 0) + len(self.net_.history)

    # -- prediction -------------------------------------------------------------------------
    def _log_predict(self, theta):
        check_is_fitted(self)
        theta = validate_data(self, theta, reset=False, dtype=np.float64)
        if self.param_log_.any() and np.any(theta[:, self.param_log_] <= 0):
            col = int(np.flatnonzero(self.param_log_ & (theta <= 0).any(axis=0))[0])
            raise ValueError(
                f"theta column {col} is log-scaled but holds {theta[:, col].min():g}; "
                "expected positive values."
            )
        module = self.net_.module_
        module.eval()
        with torch.no_grad():
            x = torch.as_tensor(theta, dtype=torch.float32, device=self.net_.device)
            out = torch.cat([module(chunk) for chunk in torch.split(x, 65536)])
        return out.double().cpu().numpy()

    def predict(self, X):
        """Predicted spectra, flattened: an array of shape (n_samples, n_entries).

        ``X`` holds the parameters ``theta`` (n_samples, n_params) in natural units. Entries
        not modelled (masked corners) are 0.
        """
        values = np.exp(self._log_predict(X))
        out = np.zeros((len(values), self.included_.size))
        out[:, self.included_.reshape(-1)] = values
        return out

    def predict_spectrum(self, theta, *, sample_sizes=None):
        """Predicted spectra as a list of :class:`moments.Spectrum` (corners masked).

        Parameters
        ----------
        theta : array-like of shape (n_samples, n_params)
        sample_sizes : sequence of int, default=None
            Project exactly to these (smaller) haploid sample sizes.
        """
        flat = self.predict(theta).reshape((-1,) + self.sfs_shape_)
        if sample_sizes is not None:
            flat = project(flat, sample_sizes)
        return [moments.Spectrum(s, mask_corners=True) for s in flat]

    def as_torch(self, *, sample_sizes=None, dtype=torch.float32):
        """The differentiable, batched torch module ``theta -> spectrum``.

        Parameters
        ----------
        sample_sizes : sequence of int, default=None
            Project exactly to these (smaller) sample sizes inside the module.
        dtype : torch.dtype, default=torch.float32
            Precision of the returned copy (float64 suits Hessians).

        Returns
        -------
        module : torch.nn.Module
            Maps a tensor ``(batch, n_params)`` in natural units to ``(batch, *shape)``; the
            unmodelled corners are 0. A copy: training it does not change the estimator.
        """
        check_is_fitted(self)
        import copy

        emulator = copy.deepcopy(self.net_.module_).to(dtype)
        emulator.eval()
        return SpectrumModule(emulator, self.sfs_shape_, self.included_,
                              sample_sizes=sample_sizes).to(dtype)

    def score(self, X, y, sample_weight=None):
        """Minus the mean relative error of the predicted spectra (higher is better, max 0).

        The relative error of a spectrum is the mean of ``|pred - true| / true`` over its
        positive entries; ``-0.01`` means 1 % error. The matching scorer is
        ``sfsestimators.metrics.SCORERS["neg_mean_relative_error"]``.
        """
        check_is_fitted(self)
        y = _as_spectra_array(y)
        y = y.reshape(len(y), -1)
        per = mean_relative_error(y, self.predict(X), per_spectrum=True)
        return -float(np.average(per, weights=sample_weight))

    # -- persistence ------------------------------------------------------------------------
    def save(self, path, *, include_optimizer=True):
        """Write the fitted emulator to ``path`` (a weights-only torch file, written
        atomically; see :meth:`load`).

        ``include_optimizer=False`` leaves out the optimiser state (two thirds of the file),
        for weights that are shipped rather than trained further.
        """
        check_is_fitted(self)
        save_file(
            path, self,
            sfs_shape=list(self.sfs_shape_),
            included=torch.as_tensor(self.included_),
            param_log=torch.as_tensor(self.param_log_),
            param_mean=torch.as_tensor(self._param_mean),
            param_std=torch.as_tensor(self._param_std),
            param_min=torch.as_tensor(self.param_min_),
            param_max=torch.as_tensor(self.param_max_),
            n_epochs=self.n_epochs_,
            model=model_spec(self.model_),
            state_dict={k: v.cpu() for k, v in self.net_.module_.state_dict().items()},
            # so that partial_fit after load continues exactly as it would have in-process
            optimizer=self.net_.optimizer_.state_dict() if include_optimizer else None,
            seed=int(self._seed), n_partial=int(getattr(self, "_n_partial", 0)),
        )

    @classmethod
    def load(cls, path, *, device="auto"):
        """Read an emulator written by :meth:`save`, onto ``device`` ("auto": CUDA if any).

        Raises a ValueError naming the file when it is not a readable emulator file.
        """
        # format 1 (before the shared convention) has the same fields, no identity
        ckpt = load_file(path, cls, legacy=lambda c: c if "sfs_shape" in c else None)
        params = dict(ckpt["params"])
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        params["device"] = device
        est = cls(**params)
        est.sfs_shape_ = tuple(ckpt["sfs_shape"])
        est.included_ = ckpt["included"].numpy()
        est.param_log_ = ckpt["param_log"].numpy()
        est._param_mean = ckpt["param_mean"].numpy()
        est._param_std = ckpt["param_std"].numpy()
        est.param_min_ = ckpt["param_min"].numpy()
        est.param_max_ = ckpt["param_max"].numpy()
        est.n_features_in_ = len(est.param_log_)
        est.model_ = model_from_spec(ckpt.get("model"))
        est._seed, est._n_partial = int(ckpt.get("seed", 0)), int(ckpt.get("n_partial", 0))
        est.net_ = est._build_net(est._validate_hyperparameters(), int(est.included_.sum()),
                                  device, est._seed)
        est.net_.initialize()
        est.net_.module_.load_state_dict(ckpt["state_dict"])
        if ckpt.get("optimizer"):
            est.net_.optimizer_.load_state_dict(ckpt["optimizer"])
        est._epoch_offset = int(ckpt["n_epochs"])
        est._applied = {"lr": est.lr, "batch_size": est.batch_size,
                        "optimizer__weight_decay": est.weight_decay}
        est._sync()
        return est

    def summary(self):
        """A short description of the fitted emulator."""
        check_is_fitted(self)
        n_weights = sum(p.numel() for p in self.net_.module_.parameters())
        lines = [
            f"{type(self).__name__}: {self.n_features_in_} parameters -> spectrum of shape "
            f"{self.sfs_shape_} ({int(self.included_.sum())} modelled entries)",
            f"network: {self.encoder} encoder, "
            f"{tuple(np.atleast_1d(self.hidden_layer_sizes))} {self.activation}, "
            f"{self.head} head" + (f" (rank {self.rank})" if self.head == "cp" else "")
            + f", {n_weights:,} weights, device {self.net_.device}",
            f"trained {self.n_epochs_} epochs"
            + (f"; last train loss {self.history_[-1, 'train_loss']:.3g}"
               if len(self.history_) else " (loaded: the losses of earlier epochs are not "
               "kept in the file)")
            + (f", best valid loss {min(self.history_[:, 'valid_loss']):.3g}"
               if len(self.history_) and "valid_loss" in self.history_[-1] else ""),
            f"log-scaled parameters: {np.flatnonzero(self.param_log_).tolist()}",
        ]
        return "\n".join(lines)
