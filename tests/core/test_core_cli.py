"""The spinsyn command: --version, --help, doctor, data, package layout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import spinsyn
from spinsyn.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"spinsyn {spinsyn.__version__}"


def test_help_lists_stage_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("doctor", "data", "pipeline"):
        assert cmd in out


def test_doctor_reports_ngspice_version(capsys):
    rc = main(["doctor"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "ngspice" in out and "version" in out
    assert "ok  mnist" in out and " images" in out and "torch" in out  # source and its image counts (issue 24)


def test_doctor_fails_without_ngspice(capsys, monkeypatch):
    from spinsyn import ngspice

    monkeypatch.setattr(ngspice, "find_library", lambda: None)
    assert main(["doctor"]) == 1
    assert "apt-get install -y libngspice0" in capsys.readouterr().out


def test_bad_data_dir_exits_2_with_message(tmp_path, capsys):
    rc = main(["data", "mnist", "--data-dir", str(tmp_path)])
    assert rc == 2
    assert f"--data-dir {tmp_path}: no MNIST train files" in capsys.readouterr().err


def test_console_script_and_import_from_elsewhere(tmp_path):
    exe = Path(sys.executable).with_name("spinsyn")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "spinsyn" in out.stdout
    code = "import spinsyn.devices, spinsyn.fitting, spinsyn.snn, spinsyn.hw_export, spinsyn; print(spinsyn.__file__)"
    for cwd in (tmp_path, ROOT):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                           env={**os.environ, "PYTHONPATH": ""})
        assert r.returncode == 0, r.stderr
        # the strict editable install imports through a link tree (build/__editable__*/spinsyn -> core/)
        assert Path(r.stdout.strip()).resolve().parent == (ROOT / "core").resolve()


def test_layout_has_no_shadowing_spinsyn_folder():
    assert not (ROOT / "spinsyn").exists()
    for folder in ("devices", "fitting", "snn", "hw_export", "tests", "examples", "benchmarks", ".ci"):
        assert (ROOT / folder).is_dir(), folder
