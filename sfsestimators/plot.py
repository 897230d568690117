"""Plots of fits and histories (matplotlib; ``pip install 'sfsestimators[plot]'``).

- :func:`plot_sfs_fit`: data against model with residuals, as moments' comparison plots:
  bars for one population, heatmaps for two, the pairwise marginals for three or more;
- :func:`plot_history`: N_e(t) of a one-population fit (log-log steps; each epoch's 95 %
  size interval shaded where the fit has finite intervals), or the demes picture of a
  multi-population fit (demesdraw).

Every function takes plain values and returns the matplotlib Figure; ``path=`` writes it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_sfs_fit", "plot_history"]


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
