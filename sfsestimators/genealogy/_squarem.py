"""SQUAREM, the EM accelerator of :func:`~sfsestimators.genealogy.smc_ne`."""

import numpy as np


def _squarem(e_step, m_step, params, n_e, n_iter, tol):
    """EM accelerated by SQUAREM (Varadhan & Roland 2008): two EM steps, an extrapolation
    along them, one EM step from there (kept only if the objective did not fall).
    ``e_step(p)`` -> (objective, stats), ``m_step(p, stats)`` -> p; ``n_e[0]`` counts the
    E-steps. Returns the point, its stats, the objective's trace, whether it converged
    (a cycle gained less than ``tol``) and the last gain."""
    obj0, stats = e_step(params)
    trace = [obj0]
    improvement = np.inf
    while n_e[0] < n_iter:
        p1 = m_step(params, stats)
        obj1, stats1 = e_step(p1)
        p2 = m_step(p1, stats1)
        obj2, stats2 = e_step(p2)
        r, v = p1 - params, p2 - 2 * p1 + params
        alpha = -np.sqrt(r @ r) / max(np.sqrt(v @ v), 1e-300)
        candidate = obj2, p2, stats2
        if alpha < -1:
            p3 = params - 2 * alpha * r + alpha ** 2 * v
            obj3, stats3 = e_step(p3)
            if np.isfinite(obj3) and obj3 > obj2:
                candidate = obj3, p3, stats3
        if not np.isfinite(candidate[0]):
            raise ValueError("the SMC likelihood is not finite at the EM's step; the data "
                             "lie outside what the model can describe (check the rates "
                             "and genotypes).")
        improvement = candidate[0] - trace[-1]
        trace.extend([obj1, candidate[0]])
        _, params, stats = candidate
        if improvement < tol:
            return params, stats, trace, True, improvement
    return params, stats, trace, False, improvement
