"""The table of bad and unusual inputs, shared by tests/test_bad_inputs.py and
benchmarks/robustness.py.

Every case is a zero-argument callable and what it must do: raise a clear error (the type,
and a message naming the parameter/file, the value and what was expected), warn (the
warning class and a message with the counts), or be handled (it returns and its own check
passes). Nothing here is a mock: real files, real moments, msprime, tskit and torch.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import tempfile
from dataclasses import dataclass

import numpy as np

import sfsestimators as sfs_pkg
from sfsestimators import (
    DemographyFitter,
    MainspringARGEstimator,
    NeuralSFSRegressor,
    PiecewiseConstant,
    SplitMigration,
    TwoEpoch,
    generate_teacher_data,
    read_sfs,
    sfs_from_genotypes,
    sfs_from_vcf,
    write_sfs,
)
from sfsestimators.cli import main as cli_main
from sfsestimators.genealogy import as_genotypes
from sfsestimators.inference import FitWarning
from sfsestimators.models import OutOfAfrica3
from sfsestimators.simulate import SizeHistory, simulate
from sfsestimators.teacher import load_teacher_shards

TMP = tempfile.mkdtemp(prefix="sfs_bad_inputs_")


@dataclass
class Case:
    """One bad or unusual input: ``kind`` is "error", "warn" or "handled"."""

    group: str
    name: str
    call: object
    kind: str
    exc: type = None
    match: str = ""


def _file(name, text, mode="w"):
    path = os.path.join(TMP, name)
    with open(path, mode) as fh:
        fh.write(text)
    return path


# -- fixtures shared by the cases (built once, small) ---------------------------------------
@functools.cache
def emulator():
    theta, sfs, _ = generate_teacher_data(TwoEpoch(), 300, [12], random_state=0)
    return NeuralSFSRegressor((32, 32), max_epochs=40, random_state=0).fit(
        theta, sfs, model=TwoEpoch())


@functools.cache
def mainspring():
    return MainspringARGEstimator.pretrained(device="cpu")


@functools.cache
def sample_ts():
    return simulate(SizeHistory([0.0], [1e4]), 6, 2e4, random_state=3)


def observed(params=(0.5, 0.1), n=12, scale=5000):
    return TwoEpoch().expected_sfs(list(params), [n]) * scale


def _fit(X, **kw):
    params = dict(model=TwoEpoch(), n_starts=2, polish=None, uncertainty=None,
                  random_state=0)
    params.update(kw)
    return DemographyFitter(emulator(), **params).fit(X)


def _geno(g=None, pos=None, **kw):
    ts = sample_ts()
    g = ts.genotype_matrix() if g is None else g
    pos = ts.tables.sites.position if pos is None else pos
    return mainspring().predict((g, pos), **kw)


VCF_HEAD = ("##fileformat=VCFv4.2\n##FILTER=<ID=q10,Description=\"low\">\n##contig=<ID=1>\n"
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n")
VCF_BODY = ("1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0|1\t1|1\n"
            "1\t20\t.\tA\tC\t.\t.\t.\tGT\t0|1\t0|0\n"
            "1\t30\t.\tA\tC\t.\tq10\t.\tGT\t0|1\t1|1\n"
            "1\t40\t.\tAT\tC\t.\tPASS\t.\tGT\t0|1\t1|1\n"
            "1\t50\t.\tA\tC,G\t.\tPASS\t.\tGT\t0|1\t1|2\n")


def _vcf(body=VCF_BODY, name="x.vcf"):
    return _file(name, VCF_HEAD + body)


def _gz(data, name):
    path = os.path.join(TMP, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _cli(*argv):
    """Run the command line; return (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = cli_main(list(argv))
        except SystemExit as exc:  # argparse
            status = exc.code
    return status, err.getvalue()


def _cli_error(*argv, match):
    status, err = _cli(*argv)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if status != 2 or not lines or match not in lines[-1]:
        raise AssertionError(f"exit {status}, stderr {err!r}; expected exit 2 and {match!r}")
    if "Traceback" in err:
        raise AssertionError(f"a traceback on stderr: {err!r}")
    raise ValueError(lines[-1])  # the clear one-line error, as the table expects


def _teacher_store(name):
    out = os.path.join(TMP, name)
    generate_teacher_data(TwoEpoch(), 6, [6], chunk_size=2, random_state=1, out=out)
    return out


def _foreign_shard():
    out = _teacher_store("store_a")
    other = os.path.join(TMP, "store_b")  # another run: another seed
    generate_teacher_data(TwoEpoch(), 6, [6], chunk_size=2, random_state=2, out=other)
    os.replace(os.path.join(other, "shard_000001.npz"), os.path.join(out, "shard_000001.npz"))
    return load_teacher_shards(out)


def _shards_without_meta():
    out = _teacher_store("store_c")
    os.remove(os.path.join(out, "meta.json"))
    return load_teacher_shards(out)


def _resume_other_args():
    out = _teacher_store("store_d")
    return generate_teacher_data(TwoEpoch(), 8, [6], chunk_size=2, random_state=1, out=out)


def _corrupt(path_from, name, n_bytes=3000):
    with open(path_from, "rb") as fh:
        data = fh.read()[:n_bytes]
    return _gz(data, name)


def _check_roundtrip():
    fs = observed()
    path = os.path.join(TMP, "ok.fs")
    write_sfs(fs, path)
    back = read_sfs(path)
    assert np.allclose(back.data[1:-1], fs.data[1:-1])


def _fit_on_bound():
    return _fit(observed((100, 0.3)), polish="moments")


def _fit_far_from_emulator():
    # the tiny emulator at a data size where its error is tens of log-likelihood units, and
    # no refinement to correct it (by default the sequential refinement would)
    return _fit(observed((0.5, 0.1), scale=5e6), refine=0)


def _missing_genotypes():
    g = sample_ts().genotype_matrix().astype(int)
    g[::3, 0] = -1
    pred = _geno(g)
    assert np.all(np.isfinite(pred.log_tmrca))
    return pred


def _multiallelic():
    g = sample_ts().genotype_matrix().astype(int)
    g[::4, 1] = 2
    pred = _geno(g)
    assert np.all(np.isfinite(pred.log_tmrca))
    return pred


def _mainspring_checkpoint_corrupt():
    from sfsestimators.pretrained import MAINSPRING_WEIGHTS

    return MainspringARGEstimator.load(_corrupt(MAINSPRING_WEIGHTS, "m.pt"))


def _emulator_checkpoint_corrupt():
    from sfsestimators.pretrained import DEFAULT_WEIGHTS

    return NeuralSFSRegressor.load(_corrupt(DEFAULT_WEIGHTS, "e.pt"))


def _emulator_file_of_mainspring():
    from sfsestimators.pretrained import MAINSPRING_WEIGHTS

    return NeuralSFSRegressor.load(MAINSPRING_WEIGHTS)


FS = "21 unfolded\n" + " ".join(["1"] * 21) + "\n"
CASES = [
    # -- .fs files and spectra -------------------------------------------------------------
    Case("spectra", "truncated counts", lambda: read_sfs(_file(
        "t1.fs", "21 unfolded\n" + " ".join(["1"] * 15) + "\n")), "error", ValueError,
        "15 counts, but the header's dimensions need 21"),
    Case("spectra", "header only", lambda: read_sfs(_file("t2.fs", "21 unfolded\n")),
         "error", ValueError, "1 non-comment line"),
    Case("spectra", "empty file", lambda: read_sfs(_file("t3.fs", "")), "error", ValueError,
         "0 non-comment line"),
    Case("spectra", "cut inside the last count", lambda: read_sfs(_file(
        "t3b.fs", "3 unfolded\n0 4 12")), "error", ValueError, "ends part-way"),
    Case("spectra", "header not dimensions", lambda: read_sfs(_file(
        "t4.fs", "21 x\n" + " ".join(["1"] * 21) + "\n")), "error", ValueError,
        "'folded' or"),
    Case("spectra", "dimension below 2", lambda: read_sfs(_file("t5.fs", "1\n1\n")),
         "error", ValueError, "integers >= 2"),
    Case("spectra", "short mask", lambda: read_sfs(_file("t6.fs", FS + "0 1\n")), "error",
         ValueError, "2 mask entries"),
    Case("spectra", "mask not 0/1", lambda: read_sfs(_file(
        "t7.fs", FS + " ".join(["2"] * 21) + "\n")), "error", ValueError, "other than 0 and 1"),
    Case("spectra", "word among counts", lambda: read_sfs(_file(
        "t8.fs", "3 unfolded\n1 two 3\n")), "error", ValueError, "non-number"),
    Case("spectra", "NaN count", lambda: read_sfs(_file("t9.fs", "3 unfolded\n0 nan 0\n")),
         "error", ValueError, "NaN or infinite"),
    Case("spectra", "negative count", lambda: read_sfs(_file(
        "t10.fs", "3 unfolded\n0 -4 0\n")), "error", ValueError, "negative counts"),
    Case("spectra", "content after the mask", lambda: read_sfs(_file(
        "t11.fs", "3 unfolded\n0 4 0\n1 0 1\n7 7 7\n")), "error", ValueError,
        "unexpected content"),
    Case("spectra", "population names vs dimensions", lambda: read_sfs(_file(
        "t12.fs", '3 3 unfolded "a"\n' + " ".join(["1"] * 9) + "\n")), "error", ValueError,
        "names 1 population"),
    Case("spectra", "binary file", lambda: read_sfs(_gz(gzip.compress(b"x" * 100),
                                                         "t13.fs")),
         "error", ValueError, "spectrum file"),
    Case("spectra", "missing file", lambda: read_sfs(os.path.join(TMP, "nope.fs")), "error",
         FileNotFoundError, "No spectrum file"),
    Case("spectra", "scalar spectrum", lambda: sfs_pkg.io.as_spectrum(3.0), "error",
         ValueError, "scalar"),
    Case("spectra", "strings as spectrum", lambda: sfs_pkg.io.as_spectrum(["a", "b"]),
         "error", TypeError, "expected numbers"),
    Case("spectra", "write/read round trip", _check_roundtrip, "handled"),
    # -- genotypes, VCF, popfiles ----------------------------------------------------------
    Case("vcf", "genotypes 3-D", lambda: sfs_from_genotypes(np.zeros((2, 2, 2))), "error",
         ValueError, "(sites x haplotypes) matrix"),
    Case("vcf", "genotype value 2", lambda: sfs_from_genotypes(np.array([[0, 2]])), "error",
         ValueError, "the value 2"),
    Case("vcf", "sample set out of range", lambda: sfs_from_genotypes(
        np.array([[0, 1]]), [[0, 5]]), "error", ValueError, "haplotype index 5"),
    Case("vcf", "non-integer sample size", lambda: sfs_from_genotypes(
        np.array([[0, 1, 1]]), sample_sizes=[2.5]), "error", ValueError, "got 2.5"),
    Case("vcf", "sample size above haplotypes", lambda: sfs_from_genotypes(
        np.array([[0, 1]]), sample_sizes=[4]), "error", ValueError, "1 <= sample size <= 2"),
    Case("vcf", "truncated VCF", lambda: sfs_from_vcf(_vcf(VCF_BODY[:-12], "t.vcf")),
         "error", ValueError, "truncated"),
    Case("vcf", "truncated gzip VCF", lambda: sfs_from_vcf(_gz(
        gzip.compress((VCF_HEAD + VCF_BODY).encode())[:80], "t.vcf.gz")), "error",
        ValueError, "truncated or corrupted"),
    Case("vcf", "FILTER, indel, multi-allelic records", lambda: sfs_from_vcf(
        _vcf(), ancestral="ref", folded=False), "warn", UserWarning,
        "Used 2 of 5 VCF sites; left out 3: {'FILTER not PASS': 1, 'multi-allelic': 1, "
        "'indel or multi-base allele': 1}"),
    Case("vcf", "popfile duplicate sample", lambda: sfs_from_vcf(_vcf(), popfile=_file(
        "p1.txt", "s1 A\ns2 B\ns1 B\n")), "error", ValueError, "names sample 's1' again"),
    Case("vcf", "popfile unknown sample", lambda: sfs_from_vcf(_vcf(), popfile=_file(
        "p2.txt", "s1 A\ns9 B\n")), "error", ValueError, "not in VCF"),
    Case("vcf", "empty popfile", lambda: sfs_from_vcf(_vcf(), popfile=_file("p3.txt", "")),
         "error", ValueError, "names no samples"),
    Case("vcf", "missing VCF", lambda: sfs_from_vcf(os.path.join(TMP, "no.vcf")), "error",
         FileNotFoundError, "No VCF file"),
    Case("vcf", "unknown ancestral", lambda: sfs_from_vcf(_vcf(), ancestral="x"), "error",
         ValueError, "ancestral is 'x'"),
    Case("vcf", "unfolded without INFO/AA", lambda: sfs_from_vcf(_vcf(), folded=False),
         "error", ValueError, "no INFO/AA"),
    # -- models ----------------------------------------------------------------------------
    Case("models", "n_epochs 0", lambda: PiecewiseConstant(0).param_names, "error",
         ValueError, "n_epochs is 0"),
    Case("models", "parameter outside bounds", lambda: TwoEpoch().expected_sfs(
        [1e6, 0.1], [10]), "error", ValueError, "Parameter 'nu' of TwoEpoch is 1e+06"),
    Case("models", "too few parameters", lambda: TwoEpoch().expected_sfs([0.5], [10]),
         "error", ValueError, "expects 2 parameters"),
    Case("models", "NaN parameter", lambda: TwoEpoch().expected_sfs([np.nan, 0.1], [10]),
         "error", ValueError, "'nu' of TwoEpoch is nan"),
    Case("models", "sample size 0", lambda: TwoEpoch().expected_sfs([0.5, 0.1], [0]),
         "error", ValueError, "sample_sizes is [0]"),
    Case("models", "fractional sample size", lambda: TwoEpoch().expected_sfs(
        [0.5, 0.1], [2.5]), "error", ValueError, "expected integers"),
    Case("models", "negative N_ref", lambda: TwoEpoch().to_demes([0.5, 0.1], N_ref=-1),
         "error", ValueError, "N_ref is -1"),
    Case("models", "negative prior draws", lambda: TwoEpoch().sample_prior(-1), "error",
         ValueError, "n is -1"),
    # -- teacher ---------------------------------------------------------------------------
    Case("teacher", "negative n_examples", lambda: generate_teacher_data(
        TwoEpoch(), -1, [6]), "error", ValueError, "n_examples is -1"),
    Case("teacher", "chunk_size 0", lambda: generate_teacher_data(
        TwoEpoch(), 4, [6], chunk_size=0), "error", ValueError, "chunk_size is 0"),
    Case("teacher", "not a model", lambda: generate_teacher_data("TwoEpoch", 4, [6]),
         "error", TypeError, "expected a DemographicModel"),
    Case("teacher", "resume with other arguments", _resume_other_args, "error", ValueError,
         "n_examples=6, but this call has n_examples=8"),
    Case("teacher", "a shard of another run", _foreign_shard, "error", ValueError,
         "belongs to store"),
    Case("teacher", "shards without meta.json", _shards_without_meta, "error",
         FileNotFoundError, "no meta.json"),
    # -- emulator --------------------------------------------------------------------------
    Case("emulator", "NaN theta", lambda: NeuralSFSRegressor(max_epochs=1).fit(
        np.array([[np.nan, 0.1]] * 4), np.ones((4, 7))), "error", ValueError, "NaN"),
    Case("emulator", "rows of theta and sfs differ", lambda: NeuralSFSRegressor(
        max_epochs=1).fit(np.ones((4, 2)), np.ones((3, 7))), "error", ValueError,
        "but theta has 4 rows"),
    Case("emulator", "negative spectra", lambda: NeuralSFSRegressor(max_epochs=1).fit(
        np.ones((4, 2)), -np.ones((4, 7))), "error", ValueError, "negative"),
    Case("emulator", "predict with 3 features", lambda: emulator().predict(np.ones((2, 3))),
         "error", ValueError, "3 features"),
    Case("emulator", "predict a negative size", lambda: emulator().predict(
        np.array([[-0.5, 0.1]])), "error", ValueError, "log-scaled but holds -0.5"),
    Case("emulator", "corrupted file", _emulator_checkpoint_corrupt, "error", ValueError,
         "not a readable NeuralSFSRegressor file"),
    Case("emulator", "a file of another estimator", _emulator_file_of_mainspring, "error",
         ValueError, "expected a NeuralSFSRegressor file"),
    # -- fitter ----------------------------------------------------------------------------
    Case("fitter", "two populations, default family", lambda: DemographyFitter().fit(
        SplitMigration().expected_sfs([1, 1, 0.1, 1], [6, 6]) * 100), "error", ValueError,
        "pass model=SplitMigration()"),
    Case("fitter", "per-site counts with NaN", lambda: DemographyFitter(
        emulator(), TwoEpoch(), sample_sizes=[12]).fit(np.array([[1.0], [np.nan]])),
        "error", ValueError, "NaN or non-integer"),
    Case("fitter", "per-site count above n", lambda: DemographyFitter(
        emulator(), TwoEpoch(), sample_sizes=[12]).fit(np.array([[1], [13]])), "error",
        ValueError, "outside [0, sample_sizes=[12]]"),
    Case("fitter", "all-zero spectrum", lambda: _fit(np.zeros(13)), "error", ValueError,
         "no segregating sites"),
    Case("fitter", "sample size above the emulator's", lambda: _fit(observed(n=20)),
         "error", ValueError, "above the emulator's maximum 12"),
    Case("fitter", "sample size 3", lambda: _fit(observed(n=3)), "error", ValueError,
         "at least 4"),
    Case("fitter", "refine -1", lambda: _fit(observed(), refine=-1), "error", ValueError,
         "refine is -1"),
    Case("fitter", "unknown polish", lambda: _fit(observed(), polish="dadi"), "error",
         ValueError, "polish is 'dadi'"),
    Case("fitter", "unknown optimizer", lambda: _fit(observed(), optimizer="sgd"), "error",
         ValueError, "optimizer is 'sgd'"),
    Case("fitter", "no emulator ships for the family", lambda: DemographyFitter(
        model=OutOfAfrica3()).fit(np.ones((5, 5, 5))), "error", ValueError,
        "No emulator ships for OutOfAfrica3()"),
    Case("fitter", "optimum on a prior bound", _fit_on_bound, "warn", FitWarning,
         "sits on its prior upper bound 100"),
    Case("fitter", "emulator far from the exact likelihood", _fit_far_from_emulator, "warn",
         FitWarning, "differs from the exact one"),
    Case("fitter", "temper above 1", lambda: _fit(observed()).sample_posterior(
        5, method="smc", temper=2), "error", ValueError, "temper is 2"),
    Case("fitter", "unknown sampler", lambda: _fit(observed()).sample_posterior(
        5, method="mh"), "error", ValueError, "method is 'mh'"),
    Case("fitter", "bootstrap of 0", lambda: _fit(observed()).bootstrap_refit(0), "error",
         ValueError, "n_bootstrap is 0"),
    # -- Mainspring ------------------------------------------------------------------------
    Case("mainspring", "bare genotype matrix", lambda: mainspring().predict(
        sample_ts().genotype_matrix()), "error", ValueError, "no positions"),
    Case("mainspring", "positions of another length", lambda: _geno(pos=np.arange(3.0)),
         "error", ValueError, "one position per site"),
    Case("mainspring", "unsorted positions", lambda: _geno(
        pos=sample_ts().tables.sites.position[::-1]), "error", ValueError, "not sorted"),
    Case("mainspring", "repeated positions", lambda: _geno(pos=np.repeat(
        sample_ts().tables.sites.position[::2], 2)[:sample_ts().num_sites]), "error",
        ValueError, "repeat"),
    Case("mainspring", "NaN positions", lambda: _geno(pos=np.full(sample_ts().num_sites,
                                                                  np.nan)),
         "error", ValueError, "NaN or infinite"),
    Case("mainspring", "genotype value -3", lambda: _geno(
        sample_ts().genotype_matrix() - 3), "error", ValueError, "the value -3"),
    Case("mainspring", "missing genotypes", _missing_genotypes, "warn", UserWarning,
         "genotypes of the genotypes are missing"),
    Case("mainspring", "multi-allelic sites", _multiallelic, "warn", UserWarning,
         "multi-allelic site(s)"),
    Case("mainspring", "no segregating site", lambda: _geno(
        np.zeros_like(sample_ts().genotype_matrix())), "error", ValueError,
        "no segregating site"),
    Case("mainspring", "one haplotype", lambda: _geno(sample_ts().genotype_matrix()[:, :1]),
         "error", ValueError, "no segregating site"),
    Case("mainspring", "corrupted checkpoint", _mainspring_checkpoint_corrupt, "error",
         ValueError, "not a readable MainspringARGEstimator file"),
    Case("mainspring", "BED line without an end", lambda: mainspring().predict(
        sample_ts(), accessible=_file("b1.bed", "chr1\t0\n")), "error", ValueError,
        "expected 'chrom start end' with integer start and end"),
    Case("mainspring", "BED of two chromosomes", lambda: mainspring().predict(
        sample_ts(), accessible=_file("b2.bed", "chr1\t0\t10\nchr2\t0\t10\n")), "error",
        ValueError, "pass chrom= to pick one"),
    Case("mainspring", "overlapping accessible intervals", lambda: mainspring().predict(
        sample_ts(), accessible=[[0, 10], [5, 20]]), "error", ValueError,
        "accessible intervals overlap"),
    Case("mainspring", "dark windows", lambda: mainspring().predict(
        sample_ts(), accessible=[[0, 5000]]), "warn", UserWarning,
        "windows are (almost) inaccessible"),
    Case("mainspring", "rate_range reversed", lambda: MainspringARGEstimator(
        rate_range=(4, 0.25), max_steps=1).fit(), "error", ValueError,
        "rate_range is (4, 0.25); expected None or (low, high)"),
    Case("mainspring", "checked genotypes helper", lambda: as_genotypes(
        (np.array([[0, 1]]), np.array([5.0])), sequence_length=3.0), "error", ValueError,
        "expected 0 <= position < sequence_length = 3"),
    # -- command line ----------------------------------------------------------------------
    Case("cli", "missing data file", lambda: _cli_error(
        "fit", os.path.join(TMP, "none.fs"), match="No spectrum file"), "error", ValueError,
        "No spectrum file"),
    Case("cli", "malformed .fs", lambda: _cli_error(
        "fit", _file("c1.fs", "21 unfolded\n1 2 3\n"), match="truncated"), "error",
        ValueError, "truncated"),
    Case("cli", "two populations, no model", lambda: _cli_error(
        "fit", _file("c2.fs", "3 3 unfolded\n" + " ".join(["5"] * 9) + "\n"),
        match="2 population(s)"), "error", ValueError, "2 population(s)"),
    Case("cli", "--popfile with a .fs", lambda: _cli_error(
        "fit", _file("c3.fs", FS), "--popfile", "p.txt", match="VCF input only"), "error",
        ValueError, "VCF input only"),
    Case("cli", "--mutation-rate alone", lambda: _cli_error(
        "fit", _file("c4.fs", FS), "--mutation-rate", "1e-8", match="go together"), "error",
        ValueError, "go together"),
    Case("cli", "malformed VCF", lambda: _cli_error(
        "fit", _vcf(VCF_BODY[:-7], "c5.vcf"), match="truncated"), "error", ValueError,
        "truncated"),
]
