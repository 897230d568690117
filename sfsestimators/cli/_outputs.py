"""What ``sfsestimators fit --out DIR`` writes: parameters (JSON, CSV) in relative and
physical units, the history as demes YAML, and the plots."""

from __future__ import annotations

import csv
import json
import math
import os
import sys

__all__ = ["parameter_table", "fit_record", "write_outputs"]


def _kind(name):
    if name.startswith("nu"):
        return "size"
    if name.startswith("T"):
        return "time"
    if name.startswith("m"):
        return "migration"
    return "fraction"


UNITS = {"size": "relative to N_ref", "time": "2 N_ref generations",
         "migration": "2 N_ref m (per generation m)", "fraction": "dimensionless"}


def _physical(kind, value, N_ref, generation_time):
    """(value, units) in physical units, or (None, None) without N_ref."""
    if N_ref is None or value is None or not math.isfinite(value):
        return None, None
    if kind == "size":
        return value * N_ref, "individuals"
    if kind == "time":
        gens = value * 2 * N_ref
        return (gens * generation_time, "years") if generation_time else (gens, "generations")
    if kind == "migration":
        return value / (2 * N_ref), "per generation"
    return value, "dimensionless"


def parameter_table(fitter, truth=None):
    """One row per parameter: estimate, std. error, 95 % interval, units, physical value."""
    rows = []
    gt = fitter.generation_time
    for name, value in fitter.params_.items():
        kind = _kind(name)
        lo, hi = fitter.conf_int_[name]
        phys, phys_units = _physical(kind, value, fitter.N_ref_, gt)
        plo, _ = _physical(kind, lo, fitter.N_ref_, gt)
        phi, _ = _physical(kind, hi, fitter.N_ref_, gt)
        row = {"parameter": name, "estimate": value, "stderr": fitter.stderr_[name],
               "ci95_low": lo, "ci95_high": hi, "units": UNITS[kind],
               "physical_estimate": phys, "physical_ci95_low": plo, "physical_ci95_high": phi,
               "physical_units": phys_units}
        if truth is not None:
            row["truth"] = truth.get(name)
            row["covered"] = (bool(lo <= truth[name] <= hi) if name in truth
                              and math.isfinite(lo) and math.isfinite(hi) else None)
        rows.append(row)
    return rows


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fit_record(fitter, truth=None):
    """The fit as plain JSON-able values."""
    return {
        "model": repr(fitter.model_),
        "parameters": [{k: _plain(v) for k, v in row.items()}
                       for row in parameter_table(fitter, truth)],
        "theta": fitter.theta_,
        "N_ref": fitter.N_ref_,
        "generation_time": fitter.generation_time,
        "log_likelihood": fitter.log_likelihood_,
        "log_likelihood_exact": fitter.log_likelihood_exact_,
        "converged": fitter.converged_,
        "flags": list(fitter.flags_),
        "selection": [{k: _plain(v) for k, v in row.items()} for row in fitter.selection_],
        "fit_time_s": fitter.fit_time_,
    }


def write_outputs(fitter, out, *, truth=None, posterior=None):
    """params.json, params.csv, model.yaml, fit.png and history.png (and posterior.csv)."""
    import demes

    os.makedirs(out, exist_ok=True)
    record = fit_record(fitter, truth)
    with open(os.path.join(out, "params.json"), "w") as fh:
        json.dump(record, fh, indent=1)
    rows = record["parameters"]
    with open(os.path.join(out, "params.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    demes.dump(fitter.graph_, os.path.join(out, "model.yaml"))
    written = ["params.json", "params.csv", "model.yaml"]
    if posterior is not None:
        with open(os.path.join(out, "posterior.csv"), "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(fitter.params_))
            writer.writerows(posterior.tolist())
        written.append("posterior.csv")
    try:
        import matplotlib.pyplot as plt

        from ..plot import plot_history, plot_sfs_fit

        fig = plot_sfs_fit(fitter.observed_sfs_, fitter.expected_sfs_,
                           path=os.path.join(out, "fit.png"), title=repr(fitter.model_))
        plt.close(fig)
        plt.close(plot_history(fitter, path=os.path.join(out, "history.png")))
        written += ["fit.png", "history.png"]
    except ImportError as exc:
        print(f"sfsestimators: no plots ({exc})", file=sys.stderr)
    return written
