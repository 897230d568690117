"""torch and the BLAS/OpenMP pools on one thread: for work made of many small products (the
fitter's batches, the SMC's recursions), where a second thread spins more than it computes."""

from __future__ import annotations

import contextlib

import torch
from threadpoolctl import threadpool_limits

__all__ = ["single_threaded"]


@contextlib.contextmanager
def single_threaded():
    """torch and the BLAS/OpenMP pools on one thread, restored afterwards.

    The fitter's batches are small (a few starts x a few parameters), and so are the SMC's
    per-bin products (:func:`~sfsestimators.genealogy.smc_ne`): a second thread gains
    little on a quiet machine, and on a busy one OpenMP's spinning threads compete with every
    other process (a default fit measured 4.6 s quiet and 407 s loaded before this). Teacher
    calls run in joblib's worker processes, which limit their own pools.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(n)
