"""Running studies: the folder layout and columns, shared cache entries, reruns, failures, and the same results
on every scheduler (in process, a LocalCluster, an external ``dask scheduler`` with two ``dask worker``s)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from spinsyn.fileio import write_json
from spinsyn.study import columns, run_study
from spinsyn.study.runner import same_study

from .conftest import quick_toml, read_rows, spinsyn_cmd, without_wall

AXES = ["device.n_mtj", "device.read_noise"]


def test_layout_columns_and_shared_entries(quick_run):
    toml, out, outcome = quick_run
    assert (outcome.trials, outcome.ok, outcome.failed, outcome.skipped) == (2, 2, 0, 0)
    marker = json.loads((out / ".spinsyn-study").read_text())
    assert (marker["format"], marker["format_version"]) == ("spinsyn-study", 1)
    assert same_study((out / "study.toml").read_text(), toml.read_text())
    rows = read_rows(out)
    assert list(rows[0]) == columns(AXES) and [r["trial"] for r in rows] == ["0", "1"]
    assert [(r["status"], r["error"], r["device.read_noise"]) for r in rows] == [("ok", "", "0.0"), ("ok", "", "0.05")]
    assert rows[0]["sweep_dir"] == rows[1]["sweep_dir"] and rows[0]["fit_dir"] == rows[1]["fit_dir"]
    assert rows[0]["run_dir"] == rows[1]["run_dir"]  # read noise acts only at evaluation: one training
    for stage, n in (("sweep", 1), ("fit", 1), ("train", 1), ("export", 1), ("simulate", 2)):
        assert len(list((out / "cache" / stage).iterdir())) == n, stage  # one computation per distinct input
    r = rows[1]
    assert (out / r["sweep_dir"] / "sweep.h5").is_file() and (out / r["fit_dir"] / "rule.json").is_file()
    assert (out / r["run_dir"] / "run" / "metrics.json").is_file() and (out / r["chip_dir"] / "chip").is_dir()
    acc, lo, hi = (float(r[k]) for k in ("accuracy", "accuracy_lo", "accuracy_hi"))
    assert 0 <= lo <= acc <= hi <= 1 and 0 <= float(r["accuracy_trained"]) <= 1
    assert float(r["energy_pJ_per_synapse"]) > 0 and float(r["program_time_ns_per_synapse"]) > 0
    # compound:2, unipolar: one crossbar cell of two MTJs per synapse
    assert int(r["devices"]) == 784 * 10 * 2 and float(r["devices_per_synapse"]) == 2.0
    assert float(r["retention_s"]) > 0 and float(r["wall_s"]) > 0
    import pyarrow.parquet as pq

    table = pq.read_table(out / "results.parquet")
    assert table.schema.names == columns(AXES) and table.column("device.n_mtj").to_pylist() == [2, 2]
    assert table.column("accuracy").to_pylist() == [float(x["accuracy"]) for x in rows]


def test_rerun_skips_finished_trials(quick_run):
    toml, out, _ = quick_run
    before = read_rows(out)
    stamps = {p: p.stat().st_mtime_ns for p in (out / "cache").glob("*/*/entry.json")}
    outcome = run_study(toml, out, "none", progress=False)
    assert (outcome.ok, outcome.skipped) == (2, 2)
    assert read_rows(out) == before
    assert {p: p.stat().st_mtime_ns for p in (out / "cache").glob("*/*/entry.json")} == stamps


def test_a_failed_trial_is_recorded_and_the_study_goes_on(tmp_path, quick_run, monkeypatch):
    from spinsyn.study import stages

    _, done, _ = quick_run
    out = tmp_path / "out"
    (out / "cache").mkdir(parents=True)
    write_json(out / ".spinsyn-study", {}, fmt="spinsyn-study", version=1)
    os.symlink(done / "cache" / "sweep", out / "cache" / "sweep")  # reuse the sweep and fit: only what fails runs
    os.symlink(done / "cache" / "fit", out / "cache" / "fit")
    real = stages.ACTIONS["train"]

    def train_or_fail(task, folder, upstream, root, jobs):
        if task.inputs["make_config"].get("g_spread") == 0.1:  # training reads g_spread (not read noise)
            raise RuntimeError("device on fire")
        real(task, folder, upstream, root, jobs)

    monkeypatch.setitem(stages.ACTIONS, "train", train_or_fail)
    toml = quick_toml(tmp_path, 'device.n_mtj = [2]\ndevice.g_spread = [0.1, 0.05]')
    outcome = run_study(toml, out, "none", progress=False)
    assert (outcome.ok, outcome.failed) == (1, 1)
    rows = read_rows(out)
    assert rows[0]["status"] == "failed" and "train" in rows[0]["error"] and "device on fire" in rows[0]["error"]
    assert rows[0]["accuracy"] == "" and rows[0]["run_dir"].startswith("cache/train/")
    assert rows[1]["status"] == "ok"
    assert not list((out / "cache" / "train").glob(".staging-*"))  # nothing half-written left


def test_local_cluster_gives_the_same_results(tmp_path, quick_run):
    toml, out, _ = quick_run
    local = tmp_path / "local"
    outcome = run_study(toml, local, "local:2", progress=False)
    assert outcome.ok == 2
    assert without_wall(local) == without_wall(out)


def test_device_sweep_on_a_local_cluster_is_bit_identical(tmp_path):
    from spinsyn import devices

    model = devices.get_model("compound", n_mtj=3)
    tb = devices.get_testbench("published")
    a = devices.sweep(model, tb, [0.0, 10.0, 30.0], 7, seed=5)
    b = devices.sweep(model, tb, [0.0, 10.0, 30.0], 7, seed=5, scheduler="local:2")
    for k in ("g_before_S", "g_after_S", "switched_up", "switched_down", "state_before", "state_after"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    with pytest.raises(ValueError, match="--scheduler"):
        devices.sweep(model, tb, [0.0], 2, scheduler="cluster")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.slow
def test_external_dask_scheduler_with_two_workers(tmp_path, quick_run):
    """``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1 (random free ports); all shut down after."""
    toml, out, _ = quick_run
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
                   log=tmp_path / "scheduler.log")]
    try:
        for i in range(2):
            procs.append(_dask("worker", addr, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                               "--no-dashboard", log=tmp_path / f"worker{i}.log"))
        from distributed import Client

        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
        r = subprocess.run(spinsyn_cmd("study", str(toml), "--out", str(tmp_path / "tcp"), "--scheduler", addr,
                                       "--quiet"), capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "2 ok, 0 failed" in r.stdout
        assert without_wall(tmp_path / "tcp") == without_wall(out)
    finally:
        _stop(procs)
    assert all(p.poll() is not None for p in procs)


@pytest.mark.slow
def test_killed_midway_and_rerun_skips_finished_trials(tmp_path):
    toml = quick_toml(tmp_path, 'device.n_mtj = [2]\ndevice.read_noise = [0.0, 0.01, 0.02, 0.05]')
    out = tmp_path / "out"
    p = subprocess.Popen(spinsyn_cmd("study", str(toml), "--out", str(out), "--scheduler", "none", "--quiet"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if (out / "results.csv").is_file() and len(read_rows(out)) >= 1:
            break
        time.sleep(0.2)
    assert p.poll() is None, "the study ended before it could be killed"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 143
    done = read_rows(out)
    assert 1 <= len(done) < 4 and all(r["status"] == "ok" for r in done)
    assert not list((out / "cache").glob("*/.staging-*"))  # the interrupted entry was removed
    r = subprocess.run(spinsyn_cmd("study", str(toml), "--out", str(out), "--scheduler", "none", "--quiet"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"4 ok, 0 failed ({len(done)} done already)" in r.stdout
    rows = read_rows(out)
    assert [x["trial"] for x in rows] == ["0", "1", "2", "3"] and rows[:len(done)] == done
