"""The teacher: exact expected spectra from moments for parameters drawn from a model's prior.

Parallel with joblib. The library passes only ``n_jobs``, never ``backend=``, so a user runs the
same call on a Dask or Ray cluster by wrapping it in ``joblib.parallel_config(backend="dask")``.
All parameters are drawn up front in the calling process, so the result does not depend on the
backend, the number of workers or the order in which chunks finish.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import joblib
import moments
import numpy as np
from tqdm.auto import tqdm

from ._validation import check_count
from .models import DemographicModel, model_spec

__all__ = [
    "generate_teacher_data", "load_teacher_shards", "TeacherData", "TeacherFailure",
    "evaluate_teacher"]

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 2  # 2: a store identity in meta.json and in every shard


@dataclass(frozen=True)
class TeacherFailure:
    """One parameter vector the teacher could not evaluate.

    Attributes
    ----------
    index : int
        Position of the draw among the ``n_examples``.
    params : ndarray of shape (n_params,)
        The parameters.
    reason : str
        What went wrong: the exception, or which entries were NaN or negative.
    """

    index: int
    params: np.ndarray
    reason: str


class TeacherData(NamedTuple):
    """Teacher pairs: unpacks as ``theta, sfs, failures``.

    Attributes
    ----------
    theta : ndarray of shape (n_ok, n_params)
        Parameters of the successful evaluations, in draw order.
    sfs : ndarray of shape (n_ok, *spectrum_shape)
        Their expected spectra (``theta = 1``; unfolded; the two corners set to 0).
    failures : list of TeacherFailure
        Every draw that failed, with its reason. ``len(theta) + len(failures)`` is the
        number of examples asked for.
    """

    theta: np.ndarray
    sfs: np.ndarray
    failures: list

    @property
    def n_failed(self):
        """Number of failed teacher evaluations."""
        return len(self.failures)

    @property
    def failure_rate(self):
        """Fraction of failed evaluations."""
        total = len(self.theta) + len(self.failures)
        return self.n_failed / total if total else 0.0

    def spectra(self, pop_ids=None):
        """The spectra as a list of :class:`moments.Spectrum` (corners masked)."""
        return [moments.Spectrum(s, mask_corners=True, pop_ids=pop_ids) for s in self.sfs]

    def summary(self):
        """A short text description: counts, failures and spectrum statistics."""
        total = len(self.theta) + self.n_failed
        lines = [
            f"teacher examples: {len(self.theta)} ok, {self.n_failed} failed of {total} "
            f"({100 * self.failure_rate:.2f} % failed)",
            f"theta shape: {self.theta.shape}, sfs shape: {self.sfs.shape}",
        ]
        if len(self.sfs):
            seg = self.sfs.reshape(len(self.sfs), -1).sum(axis=1)
            lines.append(
                "segregating sites per unit theta: "
                f"median {np.median(seg):.3f}, 5-95 % [{np.quantile(seg, 0.05):.3f}, "
                f"{np.quantile(seg, 0.95):.3f}]"
            )
        reasons = {}
        for f in self.failures:
            key = f.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        for key, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  failed: {count} x {key}")
        return "\n".join(lines)


def evaluate_teacher(model, params, sample_sizes, *, dt_fac=None):
    """Evaluate the teacher for one parameter vector; never raises.

    ``dt_fac``: moments' integration time-step factor (None: its default; see
    :func:`sfsestimators.models.moments_time_step`).

    Returns
    -------
    sfs : ndarray or None
        The expected spectrum with the corners set to 0, or None on failure.
    reason : str or None
        Why it failed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fs = model.expected_sfs(params, sample_sizes, dt_fac=dt_fac)
    except Exception as exc:  # the failure is recorded and reported, never dropped
        return None, f"{type(exc).__name__}: {exc}"
    values = np.ma.compressed(fs)
    if not np.all(np.isfinite(values)):
        return None, f"non-finite entries: {int((~np.isfinite(values)).sum())} NaN/inf"
    if np.any(values < 0):
        return None, f"negative entries: {int((values < 0).sum())}, min {values.min():.3g}"
    return np.ma.filled(fs, 0.0).astype(float), None


def _evaluate_chunk(model, params, sample_sizes, dt_fac=None):
    shape = tuple(n + 1 for n in sample_sizes)
    out = np.zeros((len(params),) + shape)
    reasons = []
    for i, p in enumerate(params):
        sfs, reason = evaluate_teacher(model, p, sample_sizes, dt_fac=dt_fac)
        if sfs is not None:
            out[i] = sfs
        reasons.append(reason or "")
    return out, np.asarray(reasons, dtype=str)


def _default_chunk_size(n_examples, n_jobs):
    workers = max(1, joblib.effective_n_jobs(n_jobs))
    return int(min(100, max(1, math.ceil(n_examples / (4 * workers)))))


# -- shards on disk -------------------------------------------------------------------------------
def _shard_path(out, k):
    return os.path.join(out, f"shard_{k:06d}.npz")


def _atomic_savez(path, **arrays):
    # the temporary name must not match shard_*.npz: readers glob for finished shards
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _store_id(meta, params):
    """The identity of a store: its arguments and its draws."""
    digest = hashlib.sha1(json.dumps(meta, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(params, dtype=float).tobytes())
    return digest.hexdigest()


def _read_meta(out):
    meta_path = os.path.join(out, "meta.json")
    params_path = os.path.join(out, "params.npy")
    if not os.path.exists(meta_path):
        raise FileNotFoundError(f"{out!r} holds no teacher data (no meta.json).")
    with open(meta_path) as fh:
        stored = json.load(fh)
    if stored.get("format_version") != _FORMAT_VERSION or "store_id" not in stored:
        raise ValueError(
            f"{out!r} holds teacher data of format {stored.get('format_version')!r}; expected "
            f"format {_FORMAT_VERSION} (with a store identity); generate it again in a new "
            "directory.")
    if not os.path.exists(params_path):
        raise ValueError(f"{out!r} has a meta.json but no params.npy; the store is "
                         "incomplete: generate it again in a new directory.")
    params = np.load(params_path)
    identity = {k: v for k, v in stored.items() if k != "store_id"}
    if _store_id(identity, params) != stored["store_id"]:
        raise ValueError(f"{out!r}: params.npy does not match meta.json (store "
                         f"{stored['store_id'][:12]}); the store was modified or mixed with "
                         "another: generate it again in a new directory.")
    return stored, params


def _open_store(out, model, sample_sizes, n_examples, random_state, chunk_size, n_jobs,
                dt_fac=None):
    """Create the output directory, or check it against the call and reuse its draws."""
    os.makedirs(out, exist_ok=True)
    meta_path = os.path.join(out, "meta.json")
    meta = {
        "format_version": _FORMAT_VERSION,
        "model": repr(model),
        "model_spec": model_spec(model),  # rebuilds a built-in model (None for others)
        "sample_sizes": list(sample_sizes),
        "n_examples": n_examples,
    }
    if dt_fac is not None:  # absent for moments' default, so older stores keep their identity
        meta["dt_fac"] = float(dt_fac)
    if os.path.exists(meta_path):
        stored, params = _read_meta(out)
        for key in list(meta) + ["dt_fac"]:
            value = meta.get(key)
            if stored.get(key) != value:
                raise ValueError(
                    f"out={out!r} holds teacher data with {key}={stored.get(key)!r}, but this "
                    f"call has {key}={value!r}; use another directory or the same arguments."
                )
        if isinstance(random_state, (int, np.integer)) and stored.get("random_state") not in (
            None, int(random_state)
        ):
            raise ValueError(
                f"out={out!r} was drawn with random_state={stored['random_state']}, but this "
                f"call has random_state={random_state}."
            )
        return params, int(stored["chunk_size"]), stored["store_id"]
    if glob.glob(os.path.join(out, "shard_*.npz")):
        raise ValueError(f"out={out!r} holds teacher shards but no meta.json: they cannot be "
                         "identified; use another directory.")
    params = model.sample_prior(n_examples, random_state=random_state)
    chunk_size = chunk_size or _default_chunk_size(n_examples, n_jobs)
    meta["chunk_size"] = chunk_size
    if isinstance(random_state, (int, np.integer)):
        meta["random_state"] = int(random_state)
    meta["store_id"] = _store_id(meta, params)
    with open(os.path.join(out, "params.npy.partial"), "wb") as fh:
        np.save(fh, params)
    os.replace(os.path.join(out, "params.npy.partial"), os.path.join(out, "params.npy"))
    with open(meta_path + ".partial", "w") as fh:
        json.dump(meta, fh, indent=1)
    os.replace(meta_path + ".partial", meta_path)
    return params, chunk_size, meta["store_id"]


def generate_teacher_data(
    model,
    n_examples,
    sample_sizes,
    *,
    n_jobs=None,
    random_state=None,
    out=None,
    chunk_size=None,
    progress=False,
    verbose=0,
    dt_fac=None,
):
    """Draw parameters from ``model``'s prior and compute their exact expected spectra.

    Parameters
    ----------
    model : DemographicModel
        The family; its ``sample_prior`` draws the parameters and its ``expected_sfs`` (moments)
        computes the spectra.
    n_examples : int
        Number of parameter draws.
    sample_sizes : sequence of int
        Haploid sample size per population.
    n_jobs : int, default=None
        Number of joblib workers (None: 1, unless a ``joblib.parallel_config`` says otherwise;
        -1: all cores). The backend is the caller's choice, e.g.
        ``with joblib.parallel_config(backend="dask"):`` with a ``distributed.Client``.
    random_state : int, RandomState instance or None, default=None
        Seed of the parameter draws, all made up front in this process.
    out : str or path-like, default=None
        Directory for shards. Each finished chunk is written as it arrives; a call with the
        same directory and arguments after an interruption computes only the missing chunks
        and returns exactly the data an uninterrupted run would (the draws are stored too).
    chunk_size : int, default=None
        Examples per joblib task; default about a quarter of the work per worker, at most 100.
    progress : bool, default=False
        Show a tqdm progress bar.
    verbose : int, default=0
        joblib verbosity.
    dt_fac : float, default=None
        moments' integration time-step factor (None: its default 0.02; larger is faster and
        less accurate, see :func:`sfsestimators.models.moments_time_step`); recorded in the
        store.

    Returns
    -------
    data : TeacherData
        Unpacks as ``theta, sfs, failures``; failures are listed, counted and warned about,
        never dropped silently.

    Examples
    --------
    >>> from sfsestimators.models import PiecewiseConstant
    >>> from sfsestimators.teacher import generate_teacher_data
    >>> theta, sfs, failures = generate_teacher_data(PiecewiseConstant(2), 4, [10],
    ...                                              random_state=0)
    >>> theta.shape, sfs.shape, len(failures)
    ((4, 4), (4, 11), 0)
    """
    if not isinstance(model, DemographicModel):
        raise TypeError(f"model is {type(model).__name__}; expected a DemographicModel.")
    n_examples = check_count(n_examples, "n_examples")
    sample_sizes = model.check_sample_sizes(sample_sizes)
    if chunk_size is not None:
        chunk_size = check_count(chunk_size, "chunk_size")
        if chunk_size == 0:
            raise ValueError("chunk_size is 0; expected a positive integer.")
    shape = tuple(n + 1 for n in sample_sizes)

    if out is not None:
        out = os.fspath(out)
        params, chunk_size, store_id = _open_store(
            out, model, sample_sizes, n_examples, random_state, chunk_size, n_jobs, dt_fac
        )
    else:
        params = model.sample_prior(n_examples, random_state=random_state)
        chunk_size = chunk_size or _default_chunk_size(n_examples, n_jobs)

    starts = list(range(0, n_examples, chunk_size))
    results = {}
    if out is not None:
        results = _read_shards(out, store_id, _chunk_lengths(n_examples, chunk_size), shape)
        if results:
            logger.info("resuming %s: %d of %d chunks on disk", out, len(results), len(starts))
    todo = [k for k in range(len(starts)) if k not in results]

    bar = tqdm(
        total=n_examples, disable=not progress, desc="teacher", unit="sfs",
        initial=sum(len(results[k][1]) for k in results),
    )
    tasks = (
        joblib.delayed(_evaluate_chunk)(model, params[starts[k] : starts[k] + chunk_size],
                                        sample_sizes, dt_fac)
        for k in todo
    )
    parallel = joblib.Parallel(n_jobs=n_jobs, verbose=verbose, return_as="generator")
    try:
        for k, (sfs, reasons) in zip(todo, parallel(tasks) if todo else ()):
            results[k] = (sfs, reasons)
            if out is not None:
                _atomic_savez(_shard_path(out, k), sfs=sfs, reasons=reasons,
                              store_id=np.array(store_id), chunk=np.array(k))
            bar.update(len(reasons))
    finally:
        bar.close()

    sfs_all = np.concatenate([results[k][0] for k in range(len(starts))]) if starts else (
        np.zeros((0,) + shape)
    )
    reasons = np.concatenate([results[k][1] for k in range(len(starts))]) if starts else (
        np.zeros(0, dtype=str)
    )
    data = _teacher_data(params, sfs_all, reasons, np.arange(len(params)))
    failures = data.failures
    if failures:
        warnings.warn(
            f"{len(failures)} of {n_examples} teacher evaluations failed "
            f"({100 * data.failure_rate:.2f} %); see the failures of the result.",
            stacklevel=2,
        )
    return data


def load_teacher_shards(out):
    """The finished shards of a (possibly still running) ``generate_teacher_data(out=...)``.

    Lets a long generation be used while it runs, or after it was stopped: the examples of
    every shard on disk, in draw order, with their failures.

    Parameters
    ----------
    out : str or path-like
        The ``out`` directory of a ``generate_teacher_data`` call.

    Returns
    -------
    TeacherData
    """
    out = os.fspath(out)
    stored, params = _read_meta(out)
    chunk = int(stored["chunk_size"])
    starts = range(0, len(params), chunk)
    shape = tuple(n + 1 for n in stored["sample_sizes"])
    shards = _read_shards(out, stored["store_id"], _chunk_lengths(len(params), chunk), shape)
    if not shards:
        raise ValueError(f"{out!r} holds no finished shard yet.")
    ks = sorted(shards)
    index = np.concatenate([np.arange(starts[k], min(starts[k] + chunk, len(params)))
                            for k in ks])
    return _teacher_data(params[index], np.concatenate([shards[k][0] for k in ks]),
                         np.concatenate([shards[k][1] for k in ks]), index)


def _chunk_lengths(n_examples, chunk_size):
    return [min(chunk_size, n_examples - start) for start in range(0, n_examples, chunk_size)]


def _read_shards(out, store_id, lengths, shape):
    """The shards on disk, ``{chunk: (sfs, reasons)}``, each checked against the store: its
    stamp, its chunk index, its length and its spectrum shape."""
    results = {}
    for path in sorted(glob.glob(os.path.join(out, "shard_*.npz"))):
        name = os.path.basename(path)
        try:
            k = int(name[len("shard_"):-len(".npz")])
            with np.load(path) as shard:
                content = {key: shard[key] for key in shard.files}
        except Exception as exc:
            raise ValueError(f"teacher shard {path!r} cannot be read ({type(exc).__name__}: "
                             f"{exc}); delete it to have it computed again.") from None
        stamp = str(content["store_id"]) if "store_id" in content else None
        if stamp != store_id:
            raise ValueError(
                f"teacher shard {path!r} belongs to store {stamp!r}, not to this one "
                f"({store_id[:12]}...: {out!r}'s meta.json); shards of different runs must "
                "not be mixed: delete it or use another directory.")
        sfs, reasons = content["sfs"], content["reasons"]
        if (k >= len(lengths) or int(content["chunk"]) != k or len(sfs) != lengths[k]
                or len(reasons) != lengths[k] or tuple(sfs.shape[1:]) != tuple(shape)):
            raise ValueError(
                f"teacher shard {path!r} holds {len(sfs)} spectra of shape {sfs.shape[1:]} for "
                f"chunk {content['chunk']}; the store expects chunk {k} of "
                f"{lengths[k] if k < len(lengths) else 0} spectra of shape {tuple(shape)}.")
        results[k] = (sfs, reasons)
    return results


def _teacher_data(params, sfs, reasons, index):
    """TeacherData of the successful rows; failures keep their draw ``index``."""
    ok = reasons == ""
    failures = [TeacherFailure(int(index[i]), params[i].copy(), str(reasons[i]))
                for i in np.flatnonzero(~ok)]
    return TeacherData(params[ok], sfs[ok], failures)
