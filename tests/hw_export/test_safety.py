"""Chip folders you can trust: strict verify, CSVs cross-checked, safe --overwrite, no leftovers, signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.devices import SynapseSpec
from spinsyn.fileio import SpinsynFileError
from spinsyn.hw_export import ExportConfig, chipfile, export_chip, export_run, verify_chip
from spinsyn.hw_export.staging import MARKER_FORMAT, MARKER_NAME, TMP_PREFIX, remove_stale


@pytest.fixture(scope="module")
def chip(tmp_path_factory):
    w = np.random.default_rng(0).random((40, 30))
    out = tmp_path_factory.mktemp("safe") / "chip"
    export_chip(w, ExportConfig(SynapseSpec.parse("dw:16"), tile_rows=32, tile_cols=16), out)
    return out


def _copy(chip, tmp_path):
    out = tmp_path / "c"
    shutil.copytree(chip, out)
    return out


def _rehash(out):
    man = json.loads((out / "manifest.json").read_text())
    doc = chipfile.manifest_doc(out, [e["path"] for e in man["files"]], None)
    (out / "manifest.json").write_text(chipfile.to_json(doc) + "\n")


def _tmp_dirs(parent):
    return [p for p in parent.iterdir() if p.name.startswith(".")]


def test_extra_file_fails_unless_allowed(chip, tmp_path, capsys):
    out = _copy(chip, tmp_path)
    (out / "csv" / "notes.txt").write_text("mine")
    with pytest.raises(SpinsynFileError, match="files not in manifest.json: csv/notes.txt"):
        verify_chip(out)
    assert main(["export", "verify", str(out)]) == 2
    assert "--allow-extra" in capsys.readouterr().err
    assert verify_chip(out, allow_extra=True)["unlisted_files"] == ["csv/notes.txt"]
    assert main(["export", "verify", str(out), "--allow-extra"]) == 0
    assert "accepted with --allow-extra" in capsys.readouterr().out


@pytest.mark.parametrize("rel,line,field,new", [
    ("csv/tile_0_targets.csv", 3, 7, "999.000000"),   # g_target_uS
    ("csv/tile_1_targets.csv", 2, 5, "7"),            # level
    ("csv/tile_0_schedule.csv", 2, 3, "0.1234"),      # v_V
    ("layer_targets_uS.csv", 5, 2, "1.000000"),
    ("aihwkit_fusion.csv", 7, 10, "2.000000"),
])
def test_csv_value_change_with_regenerated_manifest_fails(chip, tmp_path, rel, line, field, new):
    out = _copy(chip, tmp_path)
    p = out / rel
    lines = p.read_text().split("\n")
    vals = lines[line - 1].split(",")
    assert vals[field] != new
    vals[field] = new
    lines[line - 1] = ",".join(vals)
    p.write_text("\n".join(lines))
    _rehash(out)  # checksums agree: only the cross-check against chip.h5 can catch it
    with pytest.raises(SpinsynFileError, match=f"{p.name}: line {line} .*differs from chip.h5"):
        verify_chip(out)


def test_csv_reformatted_to_fewer_decimals_passes(chip, tmp_path):
    out = _copy(chip, tmp_path)
    p = out / "csv/tile_0_targets.csv"
    lines = p.read_text().split("\n")
    vals = lines[1].split(",")
    vals[7] = f"{float(vals[7]):.2f}"  # same value at the printed precision
    lines[1] = ",".join(vals)
    p.write_text("\n".join(lines))
    _rehash(out)
    verify_chip(out)


def test_overwrite_refuses_non_chips_and_sources(tiny_run, tmp_path, capsys):
    run = tiny_run("compound:8")
    ck = run / "checkpoint.pt"
    before = ck.read_bytes()
    assert main(["export", str(run), "--out", str(run), "--overwrite"]) == 2
    assert "is the export's source" in capsys.readouterr().err
    assert ck.read_bytes() == before
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a spinsyn chip folder"):
        export_run(run, user, overwrite=True)
    assert (user / "thesis.tex").read_text() == "precious"
    # a folder holding the weight file
    np.save(user / "w.npy", np.random.default_rng(0).random((10, 4)))
    assert main(["export", str(user / "w.npy"), "--synapse", "dw:8", "--out", str(user), "--overwrite"]) == 2
    assert "holds the export's source" in capsys.readouterr().err
    # a chip is replaced; a chip holding a user file is not
    out = tmp_path / "chip"
    export_run(run, out)
    export_run(run, out, overwrite=True, seed=5)
    verify_chip(out)
    (out / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="holds files its manifest does not list"):
        export_run(run, out, overwrite=True)
    assert (out / "keep.txt").exists() and _tmp_dirs(tmp_path) == []


def _fake_tmp(parent, pid, marker=True):
    d = parent / f"{TMP_PREFIX}{pid}-abc{'' if marker else 'x'}.tmp"
    (d / "chip").mkdir(parents=True)
    if marker:
        import socket

        (d / MARKER_NAME).write_text(json.dumps({"format": MARKER_FORMAT, "pid": pid, "host": socket.gethostname()}))
    return d


def test_stale_temporary_folders_are_removed_only_with_marker_and_dead_pid(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = _fake_tmp(tmp_path, p.pid)
    no_marker = _fake_tmp(tmp_path, p.pid, marker=False)
    alive = _fake_tmp(tmp_path, os.getpid())
    other = tmp_path / ".c.abc.tmp"
    other.mkdir()
    export_chip(np.random.default_rng(0).random((8, 4)), ExportConfig(SynapseSpec.parse("dw:8")), tmp_path / "chip")
    assert not dead.exists() and no_marker.exists() and alive.exists() and other.exists()
    assert remove_stale(tmp_path) == []


# ----------------------------------------------------------------------------- real processes and signals
def _spawn(cwd, out):
    return subprocess.Popen([sys.executable, "-m", "spinsyn.cli", "export", "w.npy", "--synapse", "compound:8",
                             "--out", out], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_guarded(p, timeout=60.0):
    """Wait until the export installed its SIGTERM handler (the interrupt guard): bit 15 of SigCgt in /proc."""
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as fh:
                cgt = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            cgt = 0
        if cgt >> (signal.SIGTERM - 1) & 1:
            return time.perf_counter()
        time.sleep(0.002)
    raise AssertionError("the export did not start")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A weight file whose export takes a few seconds, and the time from the guard to the end of an export."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc")
    d = tmp_path_factory.mktemp("sig")
    np.save(d / "w.npy", np.random.default_rng(0).random((784, 300)))
    window = []
    for out in ("full", "full2"):  # the first run may fill numba's cache
        p = _spawn(d, out)
        t0 = _wait_guarded(p)
        assert p.wait() == 0
        window.append(time.perf_counter() - t0)
        verify_chip(d / out)
    return d, min(window)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_exits_with_no_chip_and_no_temporary_folder(big, sig, code):
    d, window = big
    rng = np.random.default_rng(int(sig))
    tries = 10 if sig == signal.SIGINT else 2
    interrupted = 0
    for i in range(tries):
        out = f"c_{int(sig)}_{i}"
        p = _spawn(d, out)
        _wait_guarded(p)
        time.sleep(rng.uniform(0.0, 0.6 * window))  # inside the export, before its last step (the rename)
        p.send_signal(sig)
        rc = p.wait(timeout=60)
        err = p.stderr.read().decode()
        assert not [q for q in d.iterdir() if q.name.startswith(TMP_PREFIX)], i
        if rc == 0:  # the export ran faster than the window measured under other load: finished before the signal
            verify_chip(d / out)  # then it is a complete chip, and this try tested nothing about interruption
            continue
        assert rc == code, (i, rc, err)
        assert not (d / out).exists()
        interrupted += 1
    assert interrupted >= tries - max(1, tries // 4), f"{interrupted} of {tries} exports still ran at the signal"


def test_kill_9_leftover_is_removed_by_the_next_export(big):
    d, _window = big
    p = _spawn(d, "k9")
    deadline = time.time() + 60

    def marked() -> bool:  # the kill lands after the marker is complete (the earlier window: the test below)
        for q in d.iterdir():
            if q.name.startswith(TMP_PREFIX):
                try:
                    return isinstance(json.loads((q / MARKER_NAME).read_text()), dict)
                except (OSError, ValueError):
                    return False
        return False

    while time.time() < deadline and not marked():
        time.sleep(0.005)
    p.kill()
    p.wait()
    left = [q for q in d.iterdir() if q.name.startswith(TMP_PREFIX)]
    assert left and (left[0] / MARKER_NAME).is_file()  # kill -9 leaves the marked folder ...
    assert main(["export", str(d / "w.npy"), "--synapse", "dw:8", "--tile", "512x512", "--no-csv",
                 "--out", str(d / "next")]) == 0
    assert not [q for q in d.iterdir() if q.name.startswith(TMP_PREFIX)]  # ... the next export removes it
    assert not (d / "k9").exists()
    verify_chip(d / "next")


def test_a_wrapper_killed_before_its_marker_was_written_is_removed(tmp_path):
    """kill -9 between the temporary folder's creation and its marker's last byte: the next export removes it when
    its name carries a dead pid and it holds nothing but that partial marker; a live pid's folder and a folder with
    other files stay."""
    import os
    import subprocess

    from spinsyn.hw_export.staging import TMP_SUFFIX, remove_stale

    p = subprocess.Popen(["sleep", "0"])
    p.wait()
    dead = tmp_path / f"{TMP_PREFIX}{p.pid}-a{TMP_SUFFIX}"
    live = tmp_path / f"{TMP_PREFIX}{os.getpid()}-b{TMP_SUFFIX}"
    full = tmp_path / f"{TMP_PREFIX}{p.pid}-c{TMP_SUFFIX}"
    for d in (dead, live, full):
        d.mkdir()
        (d / MARKER_NAME).write_text('{"format": "spinsy')  # cut short
    (full / "user.txt").write_text("keep")
    assert remove_stale(tmp_path) == [dead]
    assert sorted(q.name for q in tmp_path.iterdir()) == sorted([live.name, full.name])
