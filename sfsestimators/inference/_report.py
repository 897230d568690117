"""The fitted DemographyFitter as text."""

from __future__ import annotations

from ._refine import history_table

__all__ = ["summary_text"]


def summary_text(est):
    """The text of ``DemographyFitter.summary()``."""
    lines = [f"DemographyFitter: {est.model_!r}",
             f"{'parameter':<10} {'estimate':>11} {'std. err.':>11} {'95 % interval':>25}"]
    for name, value in est.params_.items():
        lo, hi = est.conf_int_[name]
        lines.append(f"{name:<10} {value:>11.4g} {est.stderr_[name]:>11.3g} "
                     f"{f'[{lo:.4g}, {hi:.4g}]':>25}")
    lines += [
        f"theta = 4 N_ref mu L: {est.theta_:.4g}"
        + (f"; N_ref = {est.N_ref_:.4g}" if est.N_ref_ else ""),
        f"log-likelihood: {est.log_likelihood_:.3f} "
        f"({'exact, moments' if est.polish or est.refine else 'emulator'}); exact at "
        f"the fit {est.log_likelihood_exact_:.3f}; emulator optimum "
        f"{est.log_likelihood_emulator_:.3f}",
        f"converged: {est.converged_}"
        f" ({'exact' if est.polish or est.refine else 'emulator gradient'}), "
        f"iterations: {est.n_iter_}, exact evaluations: "
        f"{est.n_exact_evaluations_}, time: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in est.fit_time_.items()),
    ]
    if est.refinement_:
        r = est.refinement_
        lines.append(f"refinement: {len(r['history'])} rounds, {r['n_evaluations']} teacher "
                     f"evaluations ({r['n_failed']} failed), "
                     f"{'converged' if r['converged'] else 'stopped by its budget'}, last "
                     f"correction {'quadratic' if r['quadratic'] else 'linear'}, exact "
                     f"log-likelihood {r['loglik_refined']:.3f}:")
        lines += ["  " + line for line in history_table(r["history"]).splitlines()]
    if len(est.selection_) > 1:
        lines.append("model selection (AIC on the exact likelihood):")
        for row in est.selection_:
            lines.append(f"  {row['model']:<32} logL {row['log_likelihood_exact']:>10.3f}"
                         f"  AIC {row['aic']:>10.2f}  (emulator "
                         f"{row['log_likelihood_emulator']:.3f})"
                         + (f", refitted from {row['refitted_from']}"
                            if row["refitted_from"] else ""))
    if est.flags_:
        lines.append(f"FLAGS ({len(est.flags_)}): this result is suspect where they say")
        lines += [f"  ! {flag}" for flag in est.flags_]
    if est.ne_history_:
        lines.append("Ne(t), most recent last:")
        for e in est.ne_history_:
            lines.append(f"  {e['start_time']:>12.4g} -> {e['end_time']:>10.4g}: "
                         f"{e['start_size']:.4g}" + (
                             f" -> {e['end_size']:.4g}" if e['end_size'] != e['start_size']
                             else ""))
    return "\n".join(lines)
