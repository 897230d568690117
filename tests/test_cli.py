"""The command line."""

import subprocess
import sys

from sfsestimators.cli import main


def test_teacher_command_prints_a_summary(capsys, tmp_path):
    code = main(["teacher", "--model", "piecewise", "--n-epochs", "2", "--n-examples", "6",
                 "--sample-size", "8", "--n-jobs", "1", "--quiet", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "PiecewiseConstant(n_epochs=2)" in out and "6 ok, 0 failed of 6" in out
    assert len(list(tmp_path.glob("shard_*.npz"))) > 0


def test_fit_command_on_a_file(capsys, tmp_path):
    from sfsestimators import TwoEpoch, write_sfs

    write_sfs(TwoEpoch().expected_sfs([0.3, 0.1], [16]) * 3000, tmp_path / "obs.fs")
    code = main(["fit", str(tmp_path / "obs.fs"), "--n-epochs", "1", "--n-starts", "4",
                 "--mutation-rate", "1e-8", "--sequence-length", "1e6", "--refine", "12",
                 "--n-jobs", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "refinement: 13 teacher evaluations (0 failed), quadratic" in out
    assert "DemographyFitter: PiecewiseConstant()" in out  # sklearn's repr hides n_epochs=1
    assert "N_ref" in out and "nu1" in out and "T1" in out


def test_fit_command_without_data_runs_the_demo(capsys):
    """The README's second set-up command, with a quicker fit."""
    code = main(["fit", "--n-epochs", "2", "--n-starts", "4", "--no-polish"])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulated" in out and "PiecewiseConstant(n_epochs=2)" in out and "N_ref" in out


def test_bad_model_is_a_clear_error(capsys):
    assert main(["teacher", "--model", "nonsense", "--quiet"]) == 2
    assert "expected one of" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "sfsestimators", "--help"],
                          capture_output=True, text=True, check=True)
    assert "teacher" in proc.stdout
