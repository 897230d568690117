"""Plots of fits and histories (matplotlib; ``pip install 'sfsestimators[plot]'``).

- :func:`plot_sfs_fit`: data against model with residuals, as moments' comparison plots:
  bars for one population, heatmaps for two, the pairwise marginals for three or more;
- :func:`plot_history`: N_e(t) of a one-population fit (log-log steps; each epoch's 95 %
  size interval shaded where the fit has finite intervals), or the demes picture of a
  multi-population fit (demesdraw);
- :func:`plot_ne`: an N_e(t) posterior of Mainspring (median, band, optional truth);
- :func:`plot_training`: Mainspring's loss components and diagnostics per epoch, the
  curriculum's phases shaded.

Every function takes plain values and returns the matplotlib Figure; ``path=`` writes it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_sfs_fit", "plot_history", "plot_ne", "plot_training"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError("plots need matplotlib: pip install 'sfsestimators[plot]'") from exc
    return plt


def _residuals(obs, exp):
    """Poisson residuals (obs - exp) / sqrt(exp), masked where exp <= 0."""
    exp = np.ma.masked_less_equal(np.ma.asarray(exp, dtype=float), 0)
    return (np.ma.asarray(obs, dtype=float) - exp) / np.ma.sqrt(exp)


def _marginal(sfs, keep):
    axes = tuple(i for i in range(sfs.ndim) if i not in keep)
    return sfs.marginalize(axes) if axes else sfs


def plot_sfs_fit(observed, expected, *, path=None, title=None):
    """Observed against fitted spectrum, with Poisson residuals.

    Parameters
    ----------
    observed, expected : moments.Spectrum
        The data and the fitted expected spectrum (scaled to the data).
    path : str or path-like, default=None
        Write the figure there (PNG, PDF, ... by the extension).
    title : str, default=None

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    if expected.folded is False and observed.folded:
        expected = expected.fold()
    ndim = observed.ndim
    if ndim == 1:
        fig, (ax, axr) = plt.subplots(2, 1, figsize=(7, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
        k = np.arange(observed.shape[0])
        ax.bar(k - 0.2, np.ma.filled(observed, 0), width=0.4, label="data")
        ax.bar(k + 0.2, np.ma.filled(expected, 0), width=0.4, label="model")
        ax.set_ylabel("sites")
        ax.legend()
        axr.bar(k, np.ma.filled(_residuals(observed, expected), 0), color="grey")
        axr.axhline(0, color="black", lw=0.5)
        axr.set_xlabel("derived allele count")
        axr.set_ylabel("residual")
    else:
        pairs = [(0, 1)] if ndim == 2 else [(i, j) for i in range(ndim)
                                              for j in range(i + 1, ndim)]
        fig, axes = plt.subplots(len(pairs), 3, figsize=(11, 3.4 * len(pairs)), squeeze=False)
        for row, (i, j) in zip(axes, pairs):
            obs, exp = _marginal(observed, (i, j)), _marginal(expected, (i, j))
            vmax = float(max(np.ma.max(obs), np.ma.max(exp)))
            for ax, data, name in ((row[0], obs, "data"), (row[1], exp, "model")):
                im = ax.imshow(np.ma.log10(np.ma.masked_less_equal(data, 0)).T,
                               origin="lower", vmin=-1, vmax=np.log10(max(vmax, 1e-9)),
                               cmap="viridis")
                ax.set_title(f"{name}: populations {i}, {j}")
                ax.set_xlabel(f"count in {i}")
                ax.set_ylabel(f"count in {j}")
            fig.colorbar(im, ax=row[1], label="log10 sites")
            res = _residuals(obs, exp)
            lim = float(np.ma.max(np.ma.abs(res))) if res.count() else 1.0
            im = row[2].imshow(res.T, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
            row[2].set_title("residual (data - model) / sqrt(model)")
            fig.colorbar(im, ax=row[2])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def plot_history(fitter, *, path=None, generation_time=None):
    """The fitted history: N_e(t) for one population (with the 95 % band the parameters'
    intervals give, where finite), the demes picture (demesdraw) otherwise.

    Parameters
    ----------
    fitter : DemographyFitter
        A fitted one.
    path : str or path-like, default=None
    generation_time : float, default=None
        Only for the axis label when the fit is in generations.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    if fitter.model_.n_populations > 1:
        try:
            import demesdraw
        except ImportError as exc:  # pragma: no cover
            raise ImportError("multi-population pictures need demesdraw: pip install "
                              "'sfsestimators[plot]'") from exc
        fig, ax = plt.subplots(figsize=(7, 5))
        demesdraw.tubes(fitter.graph_, ax=ax)
        ax.set_title(repr(fitter.model_))
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        epochs = fitter.ne_history_
        units = epochs[0]["time_units"]
        t_max = max(e["start_time"] for e in epochs if np.isfinite(e["start_time"]))
        times, sizes = [], []
        for e in epochs:
            start = e["start_time"] if np.isfinite(e["start_time"]) else 2 * max(t_max, 1e-9)
            times += [start, e["end_time"]]
            sizes += [e["start_size"], e["end_size"]]
        times = np.asarray(times, dtype=float)
        positive = times[times > 0]
        floor = positive.min() / 10 if len(positive) else 1.0
        times = np.maximum(times, floor)  # the present (0) on a log axis
        ax.plot(times, sizes, color="C0", label="fit")
        for i, e in enumerate(epochs[1:], start=1):  # epoch i has size nu{i}
            name = f"nu{i}"
            if name not in fitter.params_:
                continue
            lo, hi = fitter.conf_int_[name]
            if np.isfinite(lo) and np.isfinite(hi) and lo > 0:
                scale = e["start_size"] / fitter.params_[name]
                ax.fill_between([min(max(e["start_time"], floor), times.max()),
                                 max(e["end_time"], floor)],
                                lo * scale, hi * scale, color="C0", alpha=0.2,
                                label="95 % interval" if i == 1 else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter

        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.invert_xaxis()
        ax.set_xlabel(f"time ago ({units})")
        ax.set_ylabel("N_e" if fitter.N_ref_ else "N_e / N_ref")
        ax.set_title(f"{fitter.model_!r}: size history (present on the right)")
        ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def plot_ne(posterior, *, truth=None, path=None, generation_time=None, level=0.9,
            label="Mainspring"):
    """An N_e(t) posterior (:class:`~sfsestimators.genealogy.NePosterior`): median and the
    central ``level`` band, log-log, with an optional true curve ``truth=(times, sizes)``.

    Parameters
    ----------
    posterior : NePosterior
    truth : tuple of arrays, default=None
        Times (generations) and sizes to draw beside it.
    path : str or path-like, default=None
    generation_time : float, default=None
        Years per generation: the time axis in years.
    level : float, default=0.9
    label : str, default="Mainspring"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.genealogy import NE_TIME_GRID, NePosterior
    >>> from sfsestimators.plot import plot_ne
    >>> post = NePosterior(NE_TIME_GRID, np.full((10, 32), 1e4))
    >>> plot_ne(post, truth=([1e2, 1e5], [1e4, 1e4])).axes[0].get_xscale()
    'log'
    """
    plt = _pyplot()
    scale = 1.0 if generation_time is None else float(generation_time)
    grid = np.asarray(posterior.grid, dtype=float) * scale
    lo, med, hi = posterior.quantiles([(1 - level) / 2, 0.5, (1 + level) / 2])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.stairs(med, grid, color="C0", label=f"{label} median ({posterior.method})")
    ax.fill_between(grid[:-1].repeat(2)[1:], lo.repeat(2)[:-1], hi.repeat(2)[:-1],
                    step=None, color="C0", alpha=0.2, label=f"{level:.0%} band")
    if truth is not None:
        t, n = (np.asarray(v, dtype=float) for v in truth)
        ax.plot(t * scale, n, color="k", lw=1, label="truth")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time ago (" + ("years" if generation_time else "generations") + ")")
    ax.set_ylabel("N_e (diploid individuals)")
    ax.legend(frameon=False)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_training(estimator, *, path=None, keys=None):
    """Mainspring's training diagnostics per epoch: every loss component and diagnostic the
    history holds (``loss_*``, ``parent_accuracy``, coverages, ``sfs_residual``,
    ``attention_entropy``, their ``valid_`` twins dashed), the curriculum's phases shaded.

    Parameters
    ----------
    estimator : MainspringARGEstimator
        A fitted one (any history; without a curriculum only ``train_loss`` and
        ``valid_loss`` are there).
    path : str or path-like, default=None
    keys : list of str, default=None
        The history keys to draw, each with its ``valid_`` twin (``"loss"``: ``train_loss``
        and ``valid_loss``); default: all of the above present.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .genealogy import COMPONENTS

    plt = _pyplot()
    rows = list(estimator.history_)
    keys = keys or [k for k in ("loss",) + COMPONENTS
                    if any(k in r or f"train_{k}" in r or f"valid_{k}" in r for r in rows)]
    epochs = np.arange(1, len(rows) + 1)
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.6 * len(keys) + 0.5), sharex=True,
                             squeeze=False)
    phases = [r.get("phase") for r in rows]
    for ax, key in zip(axes[:, 0], keys):
        for prefix, style in (("", "-"), ("valid_", "--")):
            name = prefix + key if prefix or key != "loss" else "train_loss"
            values = [r.get(name, np.nan) for r in rows]
            if np.any(np.isfinite(values)):
                ax.plot(epochs, values, style, color="C0" if prefix == "" else "C1",
                        label="held out" if prefix else "train")
        ax.set_ylabel(key, fontsize=8)
        start = 0
        for i in range(1, len(phases) + 1):  # shade alternate phases, name each
            if i == len(phases) or phases[i] != phases[start]:
                if phases[start] is not None:
                    if len({p for p in phases[:start + 1]}) % 2 == 0:
                        ax.axvspan(start + 0.5, i + 0.5, color="0.9")
                    if ax is axes[0, 0]:
                        ax.text((start + i + 1) / 2, 1.02, phases[start], ha="center",
                                transform=ax.get_xaxis_transform(), fontsize=7)
                start = i
    axes[-1, 0].set_xlabel("epoch")
    axes[0, 0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
