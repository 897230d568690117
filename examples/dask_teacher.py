"""Teacher data on a Dask cluster: the same call, joblib picks the backend.

Run: python examples/dask_teacher.py [--fast]          (~20 s on 2 cores)

A LocalCluster of two workers here. On a real cluster, change ONE line: connect the client to
its scheduler, ``Client("tcp://scheduler-address:8786")``. The library itself passes only
``n_jobs``; the draws are made up front, so the data are identical on any backend.
"""

import joblib
import numpy as np
from _common import parse
from dask.distributed import Client, LocalCluster

from sfsestimators import PiecewiseConstant, generate_teacher_data


def main():
    args, say = parse(__doc__)
    model, n = PiecewiseConstant(3), (40 if args.fast else 400)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:  # a real cluster: Client("tcp://scheduler-address:8786")
        say(f"dask: {client}")
        with joblib.parallel_config(backend="dask"):
            on_dask = generate_teacher_data(model, n, [20], n_jobs=-1, random_state=0)
    say(f"on dask: {len(on_dask.theta)} spectra")
    local = generate_teacher_data(model, n, [20], n_jobs=1, random_state=0)
    say(f"identical to a local run: {np.array_equal(local.sfs, on_dask.sfs)}")


if __name__ == "__main__":  # worker processes re-import this file
    main()
