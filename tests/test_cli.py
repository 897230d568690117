"""The command line, end to end on tiny data: files written and parsable, exit codes, one-line
errors."""

import json
import re
import subprocess
import sys

import demes
import numpy as np
import pytest

from sfsestimators.cli import main


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_and_version_do_not_import_torch():
    code = ("import sys; from sfsestimators.cli import build_parser; "
            "p = build_parser(); p.format_help(); "
            "print('torch' in sys.modules, 'moments' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
    proc = subprocess.run([sys.executable, "-m", "sfsestimators", "--version"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("sfsestimators ")
    proc = subprocess.run([sys.executable, "-m", "sfsestimators", "--help"],
                          capture_output=True, text=True, check=True)
    for command in ("fit", "teacher", "train", "simulate", "genealogy", "ne"):
        assert command in proc.stdout


def test_fit_a_file_writes_every_output(capsys, tmp_path):
    from sfsestimators import TwoEpoch, write_sfs

    write_sfs(TwoEpoch().expected_sfs([0.3, 0.1], [16]) * 3000, tmp_path / "obs.fs")
    out_dir = tmp_path / "out"
    code, out, err = _run(capsys, "fit", tmp_path / "obs.fs", "--n-epochs", "1",
                          "--n-starts", "4", "--mutation-rate", "1e-8", "--sequence-length",
                          "1e6", "--generation-time", "25", "--refine", "12", "--n-jobs", "2",
                          "--out", out_dir)
    assert code == 0, err
    rounds = re.search(r"refinement: (\d+) rounds, (\d+) teacher evaluations \(0 failed\)", out)
    assert rounds and int(rounds.group(2)) <= 12, out
    record = json.loads((out_dir / "params.json").read_text())
    names = [p["parameter"] for p in record["parameters"]]
    assert names == ["nu1", "T1"] and record["N_ref"] > 0
    nu1 = record["parameters"][0]
    assert nu1["physical_units"] == "individuals"
    assert nu1["physical_estimate"] == pytest.approx(nu1["estimate"] * record["N_ref"])
    t1 = record["parameters"][1]
    assert t1["physical_units"] == "years"
    assert t1["physical_estimate"] == pytest.approx(t1["estimate"] * 2 * record["N_ref"] * 25)
    graph = demes.load(out_dir / "model.yaml")
    assert graph.time_units == "years"
    assert (out_dir / "params.csv").read_text().startswith("parameter,estimate")
    for png in ("fit.png", "history.png"):
        assert (out_dir / png).stat().st_size > 5000
    code, out, _ = _run(capsys, "fit", tmp_path / "obs.fs", "--n-epochs", "1", "--n-starts",
                        "4", "--no-polish", "--refine", "0", "--json")
    assert code == 0 and json.loads(out)["model"] == "PiecewiseConstant()"


@pytest.mark.slow
def test_demo_tells_the_truth(capsys):
    """The README's second set-up command: the demo's 95 % intervals (block bootstrap) cover
    the history it simulated, and it prints the truth beside the estimates."""
    code, out, err = _run(capsys, "fit")
    assert code == 0, err
    assert "demo truth vs estimate" in out
    lines = [line for line in out.splitlines() if line.strip().startswith(("nu1 ", "nu2 ",
                                                                           "T1 ", "T2 "))
             and "truth" in line]
    assert len(lines) == 4 and all(line.endswith("covers") for line in lines)
    assert "simulated" in err


def test_two_population_fit_with_the_shipped_emulator(capsys, tmp_path):
    from sfsestimators import SplitMigration, write_sfs

    truth = [2.0, 0.5, 0.3, 1.5]
    write_sfs(SplitMigration().expected_sfs(truth, [8, 8]) * 5000, tmp_path / "two.fs")
    code, out, err = _run(capsys, "fit", tmp_path / "two.fs", "--model", "split_migration",
                          "--n-starts", "8", "--json")
    assert code == 0, err
    record = json.loads(out)
    fitted = [p["estimate"] for p in record["parameters"]]
    np.testing.assert_allclose(fitted, truth, rtol=0.02)  # expected data: the truth is the MLE
    assert record["converged"]
    # without --model, the error says what to do
    code, _, err = _run(capsys, "fit", tmp_path / "two.fs")
    assert code == 2 and "model=SplitMigration()" in err and len(err.strip().splitlines()) == 1


def test_teacher_train_simulate_genealogy(capsys, tmp_path):
    teacher = tmp_path / "teacher"
    code, out, _ = _run(capsys, "teacher", "two_epoch", "--n", "60", "--sample-sizes", "8",
                        "--n-jobs", "1", "--quiet", "--out", teacher)
    assert code == 0 and "60 ok, 0 failed of 60" in out
    code, out, err = _run(capsys, "train", teacher, "--out", tmp_path / "emu.pt",
                          "--hidden", "16", "--max-epochs", "5", "--quiet")
    assert code == 0, err
    assert (tmp_path / "emu.pt").exists() and (tmp_path / "emu_loss.png").exists()
    code, out, _ = _run(capsys, "simulate", "two_epoch", "--params", "0.5", "0.2",
                        "--samples", "4", "--length", "2e5", "--out", tmp_path / "d.fs")
    assert code == 0 and "wrote" in out
    code, out, err = _run(capsys, "fit", tmp_path / "d.fs", "--emulator", tmp_path / "emu.pt",
                          "--n-starts", "2", "--no-polish", "--refine", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "TwoEpoch()"
    code, out, _ = _run(capsys, "simulate", "piecewise", "--n-epochs", "1", "--params", "1",
                        "0.5", "--samples", "3", "--length", "2e4", "--out",
                        tmp_path / "g.trees")
    assert code == 0
    code, out, err = _run(capsys, "genealogy", tmp_path / "g.trees", "--out", tmp_path / "gen")
    assert code == 0, err
    import tskit

    assert tskit.load(tmp_path / "gen" / "genealogy.trees").num_samples == 6
    rows = (tmp_path / "gen" / "tmrca.csv").read_text().splitlines()
    assert rows[0].startswith("window_start") and len(rows) == 1 + 10 * 15
    ne = (tmp_path / "gen" / "ne.csv").read_text().splitlines()
    assert ne[0].startswith("time_start_generations") and len(ne) == 1 + 32
    assert ne[1].endswith("hazard")  # 6 haplotypes: fewer than the decoder reads
    code, out, err = _run(capsys, "train-copying-head", "--simulations", "4", "--haplotypes",
                          "6", "8", "--length", "3e4", "--epochs", "2", "--jobs", "1",
                          "--out", tmp_path / "head.pt")
    assert code == 0, err
    assert "held-out copying-parent accuracy" in out and (tmp_path / "head.pt").exists()


@pytest.mark.filterwarnings("ignore:the EM of smc_ne")
def test_ne_writes_the_posterior_of_several_chromosomes(capsys, tmp_path):
    """`sfsestimators ne` reads one file per chromosome and writes the SMC-refined N_e(t)."""
    for seed in (1, 2):
        code, _, err = _run(capsys, "simulate", "piecewise", "--n-epochs", "1", "--params",
                            "1", "0.5", "--samples", "10", "--length", "3e5", "--seed",
                            str(seed), "--out", tmp_path / f"c{seed}.trees")
        assert code == 0, err
    code, out, err = _run(capsys, "ne", tmp_path / "c1.trees", tmp_path / "c2.trees",
                          "--out", tmp_path / "ne", "--draws", "10")
    assert code == 0, err
    assert "N_e(t) (smc) of 2 chromosome(s)" in out and "E-steps" in out
    rows = (tmp_path / "ne" / "ne.csv").read_text().splitlines()
    assert len(rows) == 1 + 32 and rows[1].endswith("smc")
    assert (tmp_path / "ne" / "ne.png").exists()


@pytest.mark.parametrize("argv,message", [
    (["fit", "missing.fs"], "No spectrum file"),
    (["fit", "--nonsense"], "unrecognized arguments"),
    (["teacher", "nonsense", "--quiet"], "expected one of"),
    (["simulate", "two_epoch", "--params", "0.5", "--samples", "2", "--out", "x.fs"],
     "expects 2 parameters"),
    (["simulate", "two_epoch", "--params", "0.5", "0.1", "--samples", "2", "--out", "x.txt"],
     "expected a .trees, .vcf or .fs file"),
    (["genealogy", "missing.vcf", "--out", "g"], "No genotype file"),
    (["ne", "missing.vcf", "--out", "n"], "No genotype file"),
    (["fit", "--model", "split_migration"], "the demo (no data file) sets its own"),
])
def test_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_malformed_vcf_and_wrong_model_dimension(capsys, tmp_path):
    (tmp_path / "bad.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL"
                                      "\tFILTER\tINFO\tFORMAT\ta\n1\t5\t.\tA\tC\t.\tPASS\t")
    code, _, err = _run(capsys, "fit", tmp_path / "bad.vcf")
    assert code == 2 and "truncated" in err
    from sfsestimators import TwoEpoch, write_sfs

    write_sfs(TwoEpoch().expected_sfs([0.3, 0.1], [10]) * 300, tmp_path / "one.fs")
    code, _, err = _run(capsys, "fit", tmp_path / "one.fs", "--model", "split_migration")
    assert code == 2 and "1 population(s), but model SplitMigration() has 2" in err


def test_model_from_a_python_file(capsys, tmp_path):
    """--model FILE.py: your own family (a CustomModel of a demes graph) with its emulator."""
    (tmp_path / "growth.py").write_text(
        "import demes\n"
        "from sfsestimators.models import CustomModel\n"
        "def growth(p, N_ref):\n"
        "    b = demes.Builder(time_units='generations')\n"
        "    b.add_deme('pop0', epochs=[dict(start_size=N_ref, end_time=2 * N_ref * p['T']),\n"
        "                               dict(start_size=N_ref, end_size=N_ref * p['nu'])])\n"
        "    return b.resolve()\n"
        "model = CustomModel(['nu', 'T'], [1e-2, 1e-3], [100, 5], graph_function=growth)\n")
    import runpy

    from sfsestimators import NeuralSFSRegressor, generate_teacher_data, write_sfs

    model = runpy.run_path(str(tmp_path / "growth.py"))["model"]
    theta, sfs, _ = generate_teacher_data(model, 80, [10], random_state=0)
    NeuralSFSRegressor((16,), max_epochs=5, random_state=0).fit(
        theta, sfs, model=model).save(tmp_path / "emu.pt")
    write_sfs(model.expected_sfs([3.0, 0.2], [10]) * 2000, tmp_path / "g.fs")
    code, out, err = _run(capsys, "fit", tmp_path / "g.fs", "--model", tmp_path / "growth.py",
                          "--emulator", tmp_path / "emu.pt", "--n-starts", "4", "--json")
    assert code == 0, err
    fitted = {p["parameter"]: p["estimate"] for p in json.loads(out)["parameters"]}
    assert fitted["nu"] == pytest.approx(3.0, rel=0.05) and fitted["T"] == pytest.approx(
        0.2, rel=0.05)  # the exact polish reaches the truth of expected data
    code, _, err = _run(capsys, "fit", tmp_path / "g.fs", "--model", tmp_path / "growth.py")
    assert code == 2 and "needs --emulator" in err
