"""Spectra in and out: ``.fs`` files, VCF files, genotype matrices and tree sequences.

:class:`moments.Spectrum` is the spectrum type throughout (masked corners, folding, pop_ids).
"""

from __future__ import annotations

import logging
import os
import warnings

import moments
import numpy as np

from .spectrum import projection_matrix

__all__ = [
    "read_sfs",
    "write_sfs",
    "as_spectrum",
    "sfs_from_genotypes",
    "sfs_from_vcf",
    "sfs_from_tree_sequence",
    "read_bed",
]

logger = logging.getLogger(__name__)


def _fs_error(path, lineno, what):
    return ValueError(f"spectrum file {path!r} line {lineno}: {what}")


def _parse_fs_header(path, lineno, line):
    """(shape, folded, pop_ids) of a ``.fs`` header line, checked."""
    tokens = line.split('"')[0].split()
    shape, rest = [], []
    for i, token in enumerate(tokens):
        try:
            shape.append(int(token))
        except ValueError:
            rest = tokens[i:]
            break
    if not shape or any(d < 2 for d in shape):
        raise _fs_error(path, lineno, f"header is {line.strip()!r}; expected the dimensions "
                        "(integers >= 2: sample size + 1 per population), optionally followed "
                        "by 'folded' or 'unfolded' and quoted population names.")
    if rest and (rest[0] not in ("folded", "unfolded") or len(rest) > 1):
        raise _fs_error(path, lineno, f"header is {line.strip()!r}; expected 'folded' or "
                        f"'unfolded' after the dimensions, got {' '.join(rest)!r}.")
    pop_ids = line.split('"')[1::2] or None
    if pop_ids is not None and len(pop_ids) != len(shape):
        raise _fs_error(path, lineno, f"header names {len(pop_ids)} population(s) "
                        f"{pop_ids}, but has {len(shape)} dimension(s).")
    return tuple(shape), bool(rest) and rest[0] == "folded", pop_ids


def _parse_fs_numbers(path, lineno, line, n, what):
    try:
        values = np.array([float(v) for v in line.split()])
    except ValueError as exc:
        raise _fs_error(path, lineno, f"the {what} hold a non-number ({exc}).") from None
    if len(values) != n:
        raise _fs_error(path, lineno, f"{len(values)} {what}, but the header's dimensions "
                        f"need {n}: the file is truncated or its header is wrong.")
    return values


def read_sfs(path):
    """Read a spectrum from a dadi/moments ``.fs`` file, checked.

    The format: ``#`` comment lines; a header of the dimensions (sample size + 1 per
    population), optionally ``folded``/``unfolded`` and quoted population names; a line of
    the counts; optionally a line of the mask (0/1). Unlike moments' reader, a file whose
    number of counts or mask entries differs from what its header says, or that holds
    anything else, or that ends part-way through a line (no final newline: moments and dadi
    always write one), is an error naming the line, never read past its end.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    sfs : moments.Spectrum

    Raises
    ------
    ValueError
        On a malformed, truncated or inconsistent file, and on NaN, infinite or negative
        counts.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No spectrum file at {path!r}.")
    try:
        with open(path) as fh:
            lines = [(i, line) for i, line in enumerate(fh, 1)
                     if line.strip() and not line.startswith("#")]
    except UnicodeDecodeError as exc:
        raise ValueError(f"spectrum file {path!r} is not text ({exc}); expected a .fs "
                         "file.") from None
    if lines and not lines[-1][1].endswith("\n"):
        raise _fs_error(path, lines[-1][0], "the file ends part-way through this line (no "
                        "final newline, as moments and dadi always write): it may be "
                        "truncated; if it is complete, end it with a newline.")
    if len(lines) < 2:
        raise ValueError(f"spectrum file {path!r} has {len(lines)} non-comment line(s); "
                         "expected a header line and a line of counts (and an optional mask).")
    if len(lines) > 3:
        raise _fs_error(path, lines[3][0], "unexpected content after the header, the counts "
                        "and the mask lines.")
    shape, folded, pop_ids = _parse_fs_header(path, *lines[0])
    n = int(np.prod(shape))
    data = _parse_fs_numbers(path, *lines[1], n, "counts").reshape(shape)
    mask = np.ma.nomask
    if len(lines) == 3:
        values = _parse_fs_numbers(path, *lines[2], n, "mask entries")
        if not np.isin(values, (0, 1)).all():
            raise _fs_error(path, lines[2][0], "the mask holds values other than 0 and 1.")
        mask = values.reshape(shape).astype(bool)
    sfs = moments.Spectrum(data, mask=mask, data_folded=folded, pop_ids=pop_ids)
    return as_spectrum(sfs, name=f"spectrum file {path!r}")


def write_sfs(sfs, path, *, precision=16):
    """Write a spectrum to a dadi/moments ``.fs`` file (mask and folding included).

    Parameters
    ----------
    sfs : moments.Spectrum or array-like
        An array is wrapped as an unfolded spectrum with masked corners.
    path : str or path-like
    precision : int, default=16
        Significant digits written.
    """
    as_spectrum(sfs, name="sfs").to_file(os.fspath(path), precision=precision)


def as_spectrum(sfs, *, name="sfs", pop_ids=None, allow_float=True):
    """Return ``sfs`` as a :class:`moments.Spectrum`, checking its values.

    Parameters
    ----------
    sfs : moments.Spectrum, array-like or path
        A path is read with :func:`read_sfs`.
    name : str, default="sfs"
        Name used in error messages.
    pop_ids : sequence of str, default=None
        Population names for an array input.
    allow_float : bool, default=True
        Whether non-integer counts are accepted (projected data are fractional).

    Raises
    ------
    ValueError
        On NaN/infinite or negative entries among the unmasked ones, or a spectrum with fewer
        than two entries along an axis.
    """
    if isinstance(sfs, (str, os.PathLike)):
        sfs = read_sfs(sfs)
    if not isinstance(sfs, moments.Spectrum):
        arr = np.asarray(sfs)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} has dtype {arr.dtype}; expected numbers.")
        if arr.ndim < 1:
            raise ValueError(f"{name} is a scalar; expected a spectrum of 1 or more dimensions.")
        sfs = moments.Spectrum(arr.astype(float), mask_corners=True, pop_ids=pop_ids)
    if any(s < 2 for s in sfs.shape):
        raise ValueError(
            f"{name} has shape {sfs.shape}; expected at least 2 entries (sample size >= 1) "
            "along every axis."
        )
    values = np.ma.compressed(sfs)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite counts; expected finite counts.")
    if np.any(values < 0):
        raise ValueError(
            f"{name} contains negative counts (minimum {values.min():g}); expected counts >= 0."
        )
    if not allow_float and np.any(values != np.round(values)):
        raise ValueError(f"{name} contains non-integer counts; expected integer counts.")
    return sfs


# -- genotypes ------------------------------------------------------------------------------
def _check_genotypes(genotypes):
    g = np.asarray(genotypes)
    if g.ndim != 2:
        raise ValueError(
            f"genotypes has shape {g.shape}; expected a (sites x haplotypes) matrix."
        )
    if not np.issubdtype(g.dtype, np.integer):
        if not np.all(np.isfinite(g) | np.isnan(g)) or np.any(g[~np.isnan(g)] % 1):
            raise ValueError("genotypes has non-integer entries; expected 0, 1 or -1 (missing).")
        g = np.where(np.isnan(g), -1, g).astype(np.int64)
    bad = ~np.isin(g, (-1, 0, 1))
    if bad.any():
        raise ValueError(
            f"genotypes contains the value {g[bad][0]}; expected 0 (ancestral), 1 (derived) "
            "or -1 (missing)."
        )
    return g


def _check_sample_sets(sample_sets, n_haplotypes):
    if sample_sets is None:
        return [np.arange(n_haplotypes)]
    sets = [np.asarray(s, dtype=np.int64).ravel() for s in sample_sets]
    if not sets:
        raise ValueError("sample_sets is empty; expected at least one set of haplotypes.")
    for k, s in enumerate(sets):
        if s.size == 0:
            raise ValueError(f"sample_sets[{k}] is empty; expected haplotype indices.")
        if s.min() < 0 or s.max() >= n_haplotypes:
            raise ValueError(
                f"sample_sets[{k}] holds haplotype index {int(s.max())}, but genotypes has "
                f"{n_haplotypes} haplotypes (columns)."
            )
    return sets


def sfs_from_genotypes(
    genotypes, sample_sets=None, *, sample_sizes=None, folded=False, pop_ids=None
):
    """The (joint) SFS of a matrix of derived-allele indicators.

    Sites with missing calls are projected by hypergeometric down-sampling to
    ``sample_sizes``, as dadi/moments do: a site with ``d`` derived alleles among ``c`` called
    haplotypes contributes ``P(j) = C(d, j) C(c - d, n - j) / C(c, n)`` to entry ``j``. Sites
    with fewer than ``n`` called haplotypes in some population cannot be projected and are
    left out with a warning that counts them.

    Parameters
    ----------
    genotypes : array-like of shape (n_sites, n_haplotypes)
        0 = ancestral, 1 = derived, -1 (or NaN) = missing.
    sample_sets : list of array-like of int, default=None
        Haplotype (column) indices of each population; default: all in one population.
    sample_sizes : sequence of int, default=None
        Haploid sample size of each population; default: its number of haplotypes.
    folded : bool, default=False
        Return the folded spectrum (minor-allele counts).
    pop_ids : sequence of str, default=None
        Names of the populations.

    Returns
    -------
    sfs : moments.Spectrum
        Shape ``[n + 1 for n in sample_sizes]``, corners masked.

    Examples
    --------
    >>> import numpy as np
    >>> from sfsestimators.io import sfs_from_genotypes
    >>> g = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, -1, 1]])
    >>> sfs_from_genotypes(g, sample_sizes=[3]).data.round(3).tolist()
    [0.25, 1.25, 1.5, 0.0]
    """
    g = _check_genotypes(genotypes)
    sets = _check_sample_sets(sample_sets, g.shape[1])
    if sample_sizes is None:
        sizes = [len(s) for s in sets]
    else:
        raw = np.atleast_1d(np.asarray(sample_sizes, dtype=object))
        bad = [n for n in raw if isinstance(n, bool) or not isinstance(n, (int, np.integer))
               and not (isinstance(n, (float, np.floating)) and float(n).is_integer())]
        if bad:
            raise ValueError(f"sample_sizes is {list(raw)}; expected integers (haploid sample "
                             f"sizes), got {bad[0]!r}.")
        sizes = [int(n) for n in raw]
        if len(sizes) != len(sets):
            raise ValueError(
                f"sample_sizes is {list(sizes)} but there are {len(sets)} population(s); "
                "expected one sample size for each."
            )
        for k, (n, s) in enumerate(zip(sizes, sets)):
            if not 1 <= n <= len(s):
                raise ValueError(
                    f"sample_sizes[{k}] is {n}, but population {k} has {len(s)} haplotypes; "
                    f"expected 1 <= sample size <= {len(s)}."
                )
    called = np.stack([(g[:, s] >= 0).sum(axis=1) for s in sets], axis=1)
    derived = np.stack([(g[:, s] == 1).sum(axis=1) for s in sets], axis=1)
    usable = np.all(called >= np.asarray(sizes), axis=1)
    n_dropped = int((~usable).sum())
    if n_dropped:
        warnings.warn(
            f"{n_dropped} of {len(g)} sites have fewer called haplotypes than sample_sizes "
            f"{sizes} in some population and were left out; lower sample_sizes to keep them.",
            stacklevel=2,
        )
    called, derived = called[usable], derived[usable]
    fs = np.zeros([n + 1 for n in sizes])
    keys, counts = np.unique(np.concatenate([called, derived], axis=1), axis=0,
                             return_counts=True)
    k = len(sets)
    for key, count in zip(keys, counts):
        contribution = np.asarray(float(count))
        for pop in range(k):
            row = projection_matrix(key[pop], sizes[pop])[key[k + pop]]
            contribution = np.multiply.outer(contribution, row)
        fs += contribution
    sfs = moments.Spectrum(fs, mask_corners=True, pop_ids=pop_ids)
    return sfs.fold() if folded else sfs


# -- VCF ----------------------------------------------------------------------------------------
def _read_popfile(popfile):
    mapping = {}
    with open(os.fspath(popfile)) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 2:
                raise ValueError(
                    f"popfile {popfile!r} line {lineno} is {line.strip()!r}; expected "
                    "'sample population'."
                )
            if fields[0] in mapping:
                raise ValueError(
                    f"popfile {popfile!r} line {lineno} names sample {fields[0]!r} again "
                    f"(population {fields[1]!r}, first {mapping[fields[0]]!r}); expected each "
                    "sample once.")
            mapping[fields[0]] = fields[1]
    if not mapping:
        raise ValueError(f"popfile {popfile!r} names no samples; expected lines 'sample "
                         "population'.")
    return mapping


def _check_vcf_complete(path):
    """Raise a ValueError if the VCF (plain or gzipped) ends part-way through a record or
    its compressed stream is cut short: scikit-allel would read what is there silently."""
    import gzip

    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    last, n_columns, tail = b"", None, b""
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                tail = (tail + chunk)[-(1 << 16):]
    except (EOFError, OSError) as exc:
        raise ValueError(f"VCF file {path!r} is truncated or corrupted ({exc}).") from None
    lines = tail.split(b"\n")
    if lines and lines[-1] != b"":
        raise ValueError(f"VCF file {path!r} ends part-way through a line "
                         f"({lines[-1][:60]!r}); the file is truncated.")
    for line in reversed(lines):
        if line.startswith(b"#CHROM"):
            n_columns = len(line.split(b"\t"))
        elif line and not line.startswith(b"#") and not last:
            last = line
    n_last = len(last.split(b"\t"))
    if last and n_columns is not None and n_last != n_columns:
        raise ValueError(f"VCF file {path!r}: its last record has {n_last} columns, the "
                         f"header {n_columns}; the file is truncated.")


def sfs_from_vcf(
    path,
    popfile=None,
    populations=None,
    sample_sizes=None,
    folded=None,
    *,
    ancestral=None,
):
    """The (joint) SFS of the biallelic SNPs of a VCF file, read with scikit-allel.

    Parameters
    ----------
    path : str or path-like
        VCF file (plain or gzipped).
    popfile : str or path-like, default=None
        Two whitespace-separated columns, sample name and population (dadi's format). Samples
        of the VCF not named in it are ignored. Default: all samples form one population.
    populations : sequence of str, default=None
        Populations to include, in the order of the spectrum's axes; default: all, in order
        of first appearance in ``popfile``.
    sample_sizes : sequence of int, default=None
        Haploid sample sizes; sites with missing calls are projected down to them. Default:
        every haplotype of the population (then sites with missing calls are left out, with
        a warning).
    folded : bool, default=None
        Fold the spectrum. Default: fold when the polarisation is unknown, that is when the
        VCF has no ``INFO/AA`` field and ``ancestral`` is not ``"ref"``.
    ancestral : {None, "aa", "ref"}, default=None
        Where the ancestral allele comes from: the ``INFO/AA`` field ("aa"; the default when
        present) or the reference allele ("ref").

    Returns
    -------
    sfs : moments.Spectrum

    Notes
    -----
    Records that failed a filter (FILTER other than ``PASS`` or ``.``), multi-allelic
    records, indels and multi-base alleles, and (when polarising with ``INFO/AA``) sites whose
    ancestral allele is neither REF nor ALT, are left out; one warning says how many sites were
    used and how many were left out for each reason. A truncated file (a record cut short, a
    gzip stream that ends early) is an error.
    """
    if ancestral not in (None, "aa", "ref"):
        raise ValueError(f"ancestral is {ancestral!r}; expected None, 'aa' or 'ref'.")
    path = os.fspath(path)
    callset, has_aa = _read_vcf(path, ["samples", "calldata/GT"], with_aa=True)
    if ancestral is None:
        ancestral = "aa" if has_aa else None
    if ancestral == "aa" and not has_aa:
        raise ValueError(f"ancestral is 'aa', but VCF file {path!r} has no INFO/AA field.")
    if folded is None:
        folded = ancestral is None
    elif not folded and ancestral is None:
        raise ValueError(
            f"folded is False, but VCF file {path!r} has no INFO/AA field to polarise the "
            "alleles; pass ancestral='ref' if REF is the ancestral allele, or folded=True."
        )

    samples = list(callset["samples"])
    gt = callset["calldata/GT"]  # (variants, samples, ploidy)
    n_sites, _, ploidy = gt.shape
    keep, reasons = _site_filters(callset)
    alt = callset["variants/ALT"][:, 0]
    if ancestral == "aa":
        aa = np.char.upper(np.asarray(callset["variants/AA"], dtype=str))
        ref_up = np.char.upper(np.asarray(callset["variants/REF"], dtype=str))
        alt_up = np.char.upper(np.asarray(alt, dtype=str))
        is_ref, is_alt = aa == ref_up, (aa == alt_up) & (alt_up != "")
        unknown = keep & ~(is_ref | is_alt)
        reasons["ancestral allele unknown"] = int(unknown.sum())
        keep &= ~unknown
        flip = is_alt
    else:
        flip = np.zeros(n_sites, dtype=bool)
    _warn_dropped_sites(keep, reasons)

    haplotypes = gt[keep].reshape(int(keep.sum()), -1).astype(np.int64)
    derived = np.where(haplotypes < 0, -1, (haplotypes > 0).astype(np.int64))
    derived = np.where((haplotypes >= 0) & flip[keep, None], 1 - derived, derived)

    if popfile is None:
        if populations is not None and len(populations) != 1:
            raise ValueError(
                f"populations is {populations!r}, but without a popfile all samples form one "
                "population."
            )
        sets = [np.arange(derived.shape[1])]
        pop_ids = list(populations) if populations is not None else None
    else:
        mapping = _read_popfile(popfile)
        missing = sorted(set(mapping) - set(samples))
        if missing:
            raise ValueError(
                f"popfile names sample(s) {missing[:5]} that are not in VCF file {path!r}."
            )
        order = list(dict.fromkeys(mapping.values()))
        pop_ids = list(populations) if populations is not None else order
        unknown_pops = [p for p in pop_ids if p not in order]
        if unknown_pops:
            raise ValueError(
                f"populations names {unknown_pops}, which popfile does not; expected some of "
                f"{order}."
            )
        sets = []
        for pop in pop_ids:
            idx = [i for i, s in enumerate(samples) if mapping.get(s) == pop]
            sets.append(np.array([i * ploidy + p for i in idx for p in range(ploidy)]))
    logger.info("read %d sites x %d haplotypes from %s", *derived.shape, path)
    return sfs_from_genotypes(
        derived, sets, sample_sizes=sample_sizes, folded=folded, pop_ids=pop_ids
    )


def _read_vcf(path, fields, *, with_aa=False):
    """Check that the VCF exists and is complete, then read ``fields`` and what
    :func:`_site_filters` needs (REF, ALT, the number of ALT alleles, every declared filter
    but PASS), and INFO/AA when ``with_aa`` and the header declares it.

    Returns the callset and whether it holds INFO/AA.
    """
    import allel

    if not os.path.exists(path):
        raise FileNotFoundError(f"No VCF file at {path!r}.")
    _check_vcf_complete(path)
    headers = allel.read_vcf_headers(path)
    has_aa = with_aa and "AA" in headers.infos
    fields = list(fields) + ["variants/REF", "variants/ALT", "variants/numalt"] + [
        f"variants/FILTER_{name}" for name in headers.filters if name != "PASS"]
    callset = allel.read_vcf(path, fields=fields + (["variants/AA"] if has_aa else []),
                             alt_number=2)
    if callset is None:
        raise ValueError(f"VCF file {path!r} holds no variants.")
    return callset, has_aa


def _warn_dropped_sites(keep, reasons):
    """One warning: how many sites were used, and how many were left out for each reason."""
    dropped = {k: v for k, v in reasons.items() if v}
    if dropped:
        warnings.warn(f"Used {int(keep.sum())} of {len(keep)} VCF sites; left out "
                      f"{sum(dropped.values())}: {dropped}.", stacklevel=3)


def _site_filters(callset):
    """Which records are biallelic SNPs that passed the filters, and why the others are not.

    Left out, each counted: records that failed a filter (FILTER names one of the header's
    ``##FILTER`` ids other than PASS; ``PASS`` and ``.`` are kept), multi-allelic records,
    and indels or multi-base alleles (REF or ALT longer than one base, or symbolic).
    """
    n = len(callset["variants/numalt"])
    ref = np.asarray(callset["variants/REF"], dtype=str)
    alt = np.asarray(callset["variants/ALT"], dtype=str)
    failed = np.zeros(n, dtype=bool)
    for key, value in callset.items():  # FILTER_<name> of every declared filter but PASS
        if key.startswith("variants/FILTER_"):
            failed |= np.asarray(value, dtype=bool)
    multi = callset["variants/numalt"] > 1
    not_snp = (np.char.str_len(ref) != 1) | ((np.char.str_len(alt[:, 0]) > 1)
                                             | np.char.startswith(alt[:, 0], "<"))
    reasons = {"FILTER not PASS": int(failed.sum()), "multi-allelic": int((multi & ~failed).sum()),
               "indel or multi-base allele": int((not_snp & ~multi & ~failed).sum())}
    return ~(failed | multi | not_snp), reasons


# -- tree sequences -------------------------------------------------------------------------------
def sfs_from_tree_sequence(
    ts, sample_sets=None, *, mode="site", folded=False, span_normalise=False, pop_ids=None
):
    """The (joint) SFS of a tree sequence, through tskit's ``allele_frequency_spectrum``.

    Parameters
    ----------
    ts : tskit.TreeSequence
    sample_sets : list of array-like of int, default=None
        Sample node ids of each population; default: all samples in one population.
    mode : {"site", "branch"}, default="site"
        "site": counts of derived alleles; "branch": the expected counts per unit mutation
        rate (branch lengths, in the tree sequence's time units, times span).
    folded : bool, default=False
        Fold the spectrum (with moments' conventions).
    span_normalise : bool, default=False
        Divide by the sequence length, as tskit does.
    pop_ids : sequence of str, default=None
        Names of the populations.

    Returns
    -------
    sfs : moments.Spectrum
        Corners masked.
    """
    if mode not in ("site", "branch"):
        raise ValueError(f"mode is {mode!r}; expected 'site' or 'branch'.")
    if sample_sets is None:
        sample_sets = [ts.samples()]
    afs = ts.allele_frequency_spectrum(
        sample_sets=[np.asarray(s) for s in sample_sets],
        mode=mode,
        polarised=True,
        span_normalise=span_normalise,
    )
    sfs = moments.Spectrum(np.asarray(afs, dtype=float), mask_corners=True, pop_ids=pop_ids)
    return sfs.fold() if folded else sfs


def haplotypes_from_vcf(path):
    """Phased haplotypes and positions of a VCF, REF as the ancestral allele.

    Records failing a filter, multi-allelic records and indels are left out with a counted
    warning (as in :func:`sfs_from_vcf`); missing calls are kept as -1; a truncated file is
    an error.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    haplotypes : ndarray of shape (n_sites, n_samples * ploidy), 0/1, -1 where missing
    positions : ndarray of shape (n_sites,)
        0-based (VCF POS - 1).
    """
    path = os.fspath(path)
    callset, _ = _read_vcf(path, ["calldata/GT", "variants/POS"])
    keep, reasons = _site_filters(callset)
    _warn_dropped_sites(keep, reasons)
    gt = callset["calldata/GT"][keep]
    haplotypes = gt.reshape(len(gt), -1)
    out = np.where(haplotypes < 0, -1, (haplotypes > 0).astype(np.int8)).astype(np.int8)
    return out, callset["variants/POS"][keep].astype(float) - 1


def read_bed(path, *, chrom=None):
    """Accessible intervals from a BED file: (k, 2) float array of sorted, merged
    ``[start, end)`` (0-based, half-open, as BED). ``chrom`` picks one chromosome; it is
    needed when the file holds several. Header, ``track`` and ``#`` lines are skipped."""
    rows, names = [], set()
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            parts = line.split()
            try:
                start, end = int(parts[1]), int(parts[2])
            except (IndexError, ValueError):
                raise ValueError(f"{os.fspath(path)!r} line {lineno}: {line.strip()[:60]!r}; "
                                 "expected 'chrom start end' with integer start and end."
                                 ) from None
            if not 0 <= start < end:
                raise ValueError(f"{os.fspath(path)!r} line {lineno}: interval [{start}, "
                                 f"{end}); expected 0 <= start < end.")
            names.add(parts[0])
            if chrom is None or parts[0] == str(chrom):
                rows.append((start, end))
    if chrom is None and len(names) > 1:
        raise ValueError(f"{os.fspath(path)!r} holds intervals of {len(names)} chromosomes "
                         f"({sorted(names)[:5]}); pass chrom= to pick one.")
    if not rows:
        raise ValueError(f"{os.fspath(path)!r} holds no interval"
                         + (f" of chromosome {chrom!r}" if chrom is not None else "") + ".")
    rows.sort()
    merged = [list(rows[0])]
    for start, end in rows[1:]:
        if start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=float)
