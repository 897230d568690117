"""Every bad or unusual input of the table (tests/bad_inputs.py) gets a clear error naming
the parameter, the value and what was expected, a warning with its counts, or is handled;
none returns a wrong answer silently. Plus property-based round trips and corruption."""

import os
import re
import warnings

import numpy as np
import pytest
from bad_inputs import CASES, TMP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsestimators import read_sfs, write_sfs
from sfsestimators.io import as_spectrum


def test_the_table_is_large():
    assert len(CASES) >= 60
    assert {c.kind for c in CASES} == {"error", "warn", "handled"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.name}" for c in CASES])
def test_bad_input(case):
    if case.kind == "error":
        with pytest.raises(case.exc, match=re.escape(case.match)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                case.call()
    elif case.kind == "warn":
        with pytest.warns(case.exc, match=re.escape(case.match)):
            case.call()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            case.call()


# -- property-based: .fs round trips and corruption ------------------------------------------
spectra = st.integers(2, 5).flatmap(lambda ndim: st.lists(
    st.integers(2, 6), min_size=1, max_size=2)).flatmap(
    lambda shape: st.lists(st.floats(0, 1e6, allow_nan=False), min_size=int(np.prod(shape)),
                           max_size=int(np.prod(shape))).map(
        lambda values: np.array(values).reshape(shape)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=spectra, folded=st.booleans())
def test_fs_round_trip(data, folded):
    sfs = as_spectrum(data)
    if folded:
        sfs = sfs.fold()
    path = os.path.join(TMP, "prop.fs")
    write_sfs(sfs, path)
    back = read_sfs(path)
    assert back.shape == sfs.shape and bool(back.folded) == bool(sfs.folded)
    np.testing.assert_array_equal(np.ma.getmaskarray(back), np.ma.getmaskarray(sfs))
    np.testing.assert_allclose(np.ma.compressed(back), np.ma.compressed(sfs), rtol=1e-14)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_corrupted_fs_never_reads_wrong_data(cut, flip, byte):
    """Truncate or change one byte of a valid file: it reads as the same spectrum, as an
    honestly different one (the changed byte is a digit of a count), or raises ValueError;
    never as the wrong shape or garbage."""
    sfs = as_spectrum(np.arange(1.0, 22.0))
    path = os.path.join(TMP, "good.fs")
    write_sfs(sfs, path)
    raw = bytearray(open(path, "rb").read())
    mode = cut % 2
    if mode == 0:
        raw = raw[: cut % len(raw)]
    else:
        raw[flip % len(raw)] = byte
    bad = os.path.join(TMP, "corrupt.fs")
    with open(bad, "wb") as fh:
        fh.write(bytes(raw))
    try:
        back = read_sfs(bad)
    except (ValueError, FileNotFoundError):
        return
    assert back.shape == sfs.shape
    assert np.all(np.isfinite(np.ma.compressed(back))) and np.all(np.ma.compressed(back) >= 0)
    if mode == 0:  # a cut file reads only when the cut spared every count
        np.testing.assert_array_equal(back.data, sfs.data)
