"""In-process checks behind the hostile table: output probes, folder locks, rule units, the ngspice check, the
Python API refusing what the CLI refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spinsyn.locks import FolderLockedError, check_unlocked, folder_lock, lock_path
from spinsyn.validation import check_writable_dir, check_writable_file


def test_writable_file_and_dir(tmp_path):
    assert check_writable_file(tmp_path / "new" / "deeper" / "x.h5", "--out") == tmp_path / "new" / "deeper" / "x.h5"
    assert not (tmp_path / "new").exists()  # the probe creates nothing that stays
    with pytest.raises(ValueError, match="--out: .*is a directory"):
        check_writable_file(tmp_path, "--out")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="--out: .*is a file"):
        check_writable_file(tmp_path / "f" / "x.h5", "--out")
    with pytest.raises(ValueError, match="--out: .*is a file, expected a directory"):
        check_writable_dir(tmp_path / "f", "--out")
    with pytest.raises(ValueError, match="--plot: .*unsupported file type '.xyz'"):
        check_writable_file(tmp_path / "a.xyz", "--plot", (".png", ".pdf"))
    assert os.listdir(tmp_path) == ["f"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into 0555 folders")
def test_readonly_folder_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(ValueError, match="--out: .*cannot write into"):
        check_writable_dir(ro / "run", "--out")


def test_readonly_filesystem_refused():
    with pytest.raises(ValueError, match="--out: .*cannot write into /sys"):
        check_writable_file("/sys/spinsyn.h5", "--out")


def _holder(folder: Path) -> subprocess.Popen:
    code = ("import sys, time; from spinsyn.locks import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_lock_names_holder_and_dies_with_it(tmp_path):
    run = tmp_path / "run"
    p = _holder(run)
    try:
        with pytest.raises(FolderLockedError, match=f"--out: .*in use by spinsyn process {p.pid}"):
            check_unlocked(run)
        with pytest.raises(FolderLockedError, match=f"in use by spinsyn process {p.pid}"):
            with folder_lock(run):
                pass
    finally:
        p.kill()
        p.wait()
    assert lock_path(run).exists()  # kill -9 leaves the file, but no lock: it is reused
    check_unlocked(run)
    with folder_lock(run) as path:
        with folder_lock(run):  # re-entrant in one process
            assert path.read_text().strip() == str(os.getpid())
    assert not lock_path(run).exists()


def test_train_api_refuses_locked_and_foreign_folders(tmp_path):
    from spinsyn import snn

    cfg = snn.make_config(synapse="ideal", neurons=5, n_train=10, n_test=0, n_assign=10, device="cpu")
    run = tmp_path / "run"
    p = _holder(run)
    try:
        with pytest.raises(FolderLockedError, match=str(p.pid)):
            snn.train(cfg, run, progress=False)
    finally:
        p.kill()
        p.wait()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty and is not a spinsyn run"):
        snn.train(cfg, tmp_path / "other", progress=False)
    for bad, opt in (({"nu": float("nan")}, "--nu"), ({"nu": -1.0}, "--nu"), ({"rule_offset": float("inf")},
                     "--rule-offset"), ({"synapse": "compound:4", "g_spread": -1.0}, "--g-spread")):
        with pytest.raises(ValueError, match=opt):
            snn.make_config(**{"synapse": "ideal", "device": "cpu", **bad})


def _rule_doc(tmp_path: Path) -> dict:
    from spinsyn.fitting import published_rule, save_rule

    save_rule(tmp_path / "pub.json", published_rule())
    return json.loads((tmp_path / "pub.json").read_text())


def test_rule_units_converted_or_refused(tmp_path):
    from spinsyn.fileio import SpinsynFileError
    from spinsyn.fitting import load_rule

    doc = _rule_doc(tmp_path)
    k0 = doc["params"]["k0"]["value"]
    doc["params"]["k0"]["unit"] = "1/s"
    (tmp_path / "s.json").write_text(json.dumps(doc))
    r = load_rule(tmp_path / "s.json")
    assert r.params["k0"].value == pytest.approx(k0 * 1e-3) and r.params["k0"].unit == "1/ms"
    doc["params"]["t0"]["unit"] = "s"
    doc["params"]["t0"]["value"] = 0.020
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert load_rule(tmp_path / "t.json").params["t0"].value == pytest.approx(20.0)
    for name, rec, words in (("k0", {"unit": "1/ms", "value": -1e6}, "out of range"),
                             ("t0", {"unit": "ms", "value": 1e30}, "out of range"),
                             ("t1", {"unit": "hours"}, "unit")):
        bad = json.loads(json.dumps(doc))
        bad["params"][name].update(rec)
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(SpinsynFileError, match=f"bad.json: params.{name}.*{words}"):
            load_rule(tmp_path / "bad.json")


def test_ngspice_library_path_missing_is_named(monkeypatch, tmp_path):
    from spinsyn import ngspice

    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", str(tmp_path / "libngspice.so"))
    with pytest.raises(ngspice.NgspiceMissingError, match="NGSPICE_LIBRARY_PATH=.*libngspice.so: file not found"):
        ngspice.ensure_library()
    (tmp_path / "libngspice.so").write_bytes(b"")
    with pytest.raises(ngspice.NgspiceMissingError, match="not a shared library"):
        ngspice.ensure_library()


def test_fit_api_checks_outputs_before_reading(tmp_path):
    from spinsyn.fitting import fit_file

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="--plot: .*'.bmpx'"):
        fit_file(tmp_path / "missing.csv", tmp_path / "r.json", "bisigmoid", plot_path=tmp_path / "f.bmpx")
    with pytest.raises(ValueError, match="--out: .*is a directory"):
        fit_file(tmp_path / "missing.csv", tmp_path, "bisigmoid")
    assert time.perf_counter() - t0 < 5 and os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/unshare").exists(), reason="needs root and unshare")
def test_hidden_system_library_any_jobs(tmp_path):
    """libngspice.so* hidden by an empty file bind-mounted over it (a private mount namespace): one line, exit 2,
    no progress bar, nothing written, for --jobs 1 and 2 and the pipeline."""
    from spinsyn.ngspice import find_library

    env = {k: v for k, v in os.environ.items() if k != "NGSPICE_LIBRARY_PATH"}
    lib = find_library() if "NGSPICE_LIBRARY_PATH" not in os.environ else None
    if lib is None:
        pytest.skip("no system libngspice to hide")
    (tmp_path / "empty.so").write_bytes(b"")
    sweep = f"{sys.executable} -m spinsyn.cli device sweep --model stt-mtj --dt-ms 0:20:5 --trials 2 --engine spice"
    script = (f"mount --bind {tmp_path}/empty.so {lib.resolve()} || exit 99\n"
              f"{sweep} --jobs 1 --out {tmp_path}/a.h5; echo rc=$?\n"
              f"{sweep} --jobs 2 --out {tmp_path}/b.h5; echo rc=$?\n"
              f"{sys.executable} -m spinsyn.cli pipeline --trials 2 --out {tmp_path}/p; echo rc=$?\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    if "rc=" not in r.stdout:
        pytest.skip(f"cannot bind-mount here: {r.stderr[-300:]}")
    assert r.stdout.split() == ["rc=2"] * 3, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3 and all("not a shared library" in ln and "apt-get install" in ln for ln in lines), lines
    assert sorted(os.listdir(tmp_path)) == ["empty.so"]


def test_spice_convergence_error_is_one_stderr_line(monkeypatch, tmp_path, capsys):
    """ngspice failing on an instance: one line on stderr naming the instance and the saved netlist, exit 2."""
    import spinsyn.devices as devices
    from spinsyn.cli import main
    from spinsyn.devices.spice import SpiceConvergenceError

    def fail(*a, **k):
        raise SpiceConvergenceError("ngspice failed on instance dt_ms=5 (index 1), trial 0: timestep too small; "
                                    f"netlist saved to {tmp_path}/spinsyn-failed-dt1-trial0.cir")

    monkeypatch.setattr(devices, "sweep", fail)
    rc = main(["device", "sweep", "--model", "stt-mtj", "--dt-ms", "0:20:5", "--trials", "2", "--engine", "spice",
               "--jobs", "1", "--out", str(tmp_path / "s.h5")])
    out = capsys.readouterr()
    assert rc == 2 and out.out == ""
    assert out.err.startswith("spinsyn: error: ngspice failed on instance dt_ms=5") and out.err.count("\n") == 1
