"""The parallel teacher: determinism across workers and backends, resume, failures."""

import os
import subprocess
import sys
import textwrap
import time

import joblib
import numpy as np
import pytest

from sfsestimators.models import CustomModel, PiecewiseConstant, SplitMigration
from sfsestimators.teacher import generate_teacher_data, load_teacher_shards

MODEL = PiecewiseConstant(n_epochs=2)


@pytest.fixture(scope="module")
def reference():
    return generate_teacher_data(MODEL, 24, [10], n_jobs=1, random_state=7)


def test_result_matches_the_model_directly(reference):
    theta, sfs, failures = reference
    assert theta.shape == (24, 4) and sfs.shape == (24, 11) and failures == []
    np.testing.assert_array_equal(theta, MODEL.sample_prior(24, random_state=7))
    for i in (0, 13):
        np.testing.assert_allclose(sfs[i][1:-1], MODEL.expected_sfs(theta[i], [10])[1:-1])
    assert sfs[:, 0].sum() == 0 and sfs[:, -1].sum() == 0  # masked corners stored as 0
    assert "24 ok, 0 failed" in reference.summary()


def test_same_data_for_any_number_of_workers(reference):
    for n_jobs, chunk_size in [(2, None), (2, 5), (1, 24)]:
        theta, sfs, _ = generate_teacher_data(MODEL, 24, [10], n_jobs=n_jobs,
                                              chunk_size=chunk_size, random_state=7)
        np.testing.assert_array_equal(theta, reference.theta)
        np.testing.assert_array_equal(sfs, reference.sfs)


@pytest.mark.slow
def test_same_data_on_a_dask_cluster(reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            with joblib.parallel_config(backend="dask"):
                theta, sfs, _ = generate_teacher_data(MODEL, 24, [10], n_jobs=2,
                                                      random_state=7)
    np.testing.assert_array_equal(theta, reference.theta)
    np.testing.assert_array_equal(sfs, reference.sfs)


def test_killed_run_resumes_without_loss(tmp_path, reference):
    out = tmp_path / "shards"
    script = textwrap.dedent(f"""
        from sfsestimators.models import PiecewiseConstant
        from sfsestimators.teacher import generate_teacher_data
        generate_teacher_data(PiecewiseConstant(n_epochs=2), 24, [10], n_jobs=1,
                              chunk_size=2, random_state=7, out={str(out)!r})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("shard_*.npz"))) < 3:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("shard_*.npz")}
    assert 3 <= len(done) < 12, "the run should have been killed part-way"
    # a different n_jobs on resume is fine: the chunking is stored with the draws
    theta, sfs, failures = generate_teacher_data(MODEL, 24, [10], n_jobs=2, random_state=7,
                                                 out=out)
    np.testing.assert_array_equal(theta, reference.theta)
    np.testing.assert_array_equal(sfs, reference.sfs)
    assert failures == []
    assert len(list(out.glob("shard_*.npz"))) == 12
    for name, mtime in done.items():  # finished shards were reused, not recomputed
        assert (out / name).stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="n_examples=24"):
        generate_teacher_data(MODEL, 30, [10], out=out)
    with pytest.raises(ValueError, match="random_state=7"):
        generate_teacher_data(MODEL, 24, [10], out=out, random_state=8)


def _fragile(params, ns):
    """A user model whose solver fails in parts of its parameter space."""
    import moments

    nu, T = params
    if nu > 10:
        raise RuntimeError("solver did not converge")
    fs = moments.Demographics1D.two_epoch((nu, T), ns)
    if nu < 0.1:
        fs[1] = np.nan
    elif T > 2:
        fs[2] = -1.0
    return fs


def test_failures_are_counted_and_reported():
    model = CustomModel(["nu", "T"], [1e-2, 1e-2], [100, 5], moments_function=_fragile)
    with pytest.warns(UserWarning, match=r"teacher evaluations failed"):
        data = generate_teacher_data(model, 40, [8], n_jobs=2, random_state=0)
    params = model.sample_prior(40, random_state=0)
    bad = (params[:, 0] > 10) | (params[:, 0] < 0.1) | (params[:, 1] > 2)
    assert bad.sum() > 0 and (~bad).sum() > 0
    assert data.n_failed == bad.sum() and len(data.theta) == (~bad).sum()
    assert data.failure_rate == pytest.approx(bad.mean())
    np.testing.assert_array_equal(data.theta, params[~bad])
    assert [f.index for f in data.failures] == list(np.flatnonzero(bad))
    reasons = {f.reason.split(":")[0] for f in data.failures}
    assert "RuntimeError" in reasons and "non-finite entries" in reasons
    assert "failed:" in data.summary()


def test_multi_population_and_progress_bar():
    theta, sfs, _ = generate_teacher_data(SplitMigration(), 3, [4, 6], random_state=1,
                                          progress=True)
    assert sfs.shape == (3, 5, 7)


def test_bad_arguments():
    with pytest.raises(TypeError, match="DemographicModel"):
        generate_teacher_data("piecewise", 10, [10])
    with pytest.raises(ValueError, match="n_examples is -1"):
        generate_teacher_data(MODEL, -1, [10])
    with pytest.raises(ValueError, match="one sample size for each"):
        generate_teacher_data(MODEL, 5, [10, 10])


def test_finished_shards_can_be_used_while_a_run_is_incomplete(tmp_path, reference):
    out = tmp_path / "teacher"
    full = generate_teacher_data(MODEL, 24, [10], random_state=7, out=out, chunk_size=10)
    np.testing.assert_array_equal(full.sfs, reference.sfs)
    os.remove(out / "shard_000001.npz")  # as if that chunk had not finished yet
    part = load_teacher_shards(out)
    keep = np.r_[0:10, 20:24]
    np.testing.assert_array_equal(part.theta, full.theta[keep])
    np.testing.assert_array_equal(part.sfs, full.sfs[keep])
    with pytest.raises(FileNotFoundError, match="no meta.json"):
        load_teacher_shards(tmp_path)


def test_time_step_is_applied_in_the_workers_and_recorded(tmp_path, reference):
    """dt_fac reaches moments in every worker; a store remembers it and refuses another."""
    out = tmp_path / "coarse"
    coarse = generate_teacher_data(MODEL, 24, [10], n_jobs=2, random_state=7, out=out,
                                   dt_fac=0.5)
    np.testing.assert_array_equal(coarse.theta, reference.theta)
    for i in (0, 13):
        np.testing.assert_allclose(coarse.sfs[i][1:-1],
                                   MODEL.expected_sfs(coarse.theta[i], [10], dt_fac=0.5)[1:-1])
    assert not np.allclose(coarse.sfs, reference.sfs, rtol=1e-6)
    with pytest.raises(ValueError, match="dt_fac=0.5, but this call has dt_fac=None"):
        generate_teacher_data(MODEL, 24, [10], random_state=7, out=out)
