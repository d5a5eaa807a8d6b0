"""A small real study folder (built once per session from real stage outputs) and a headless-Chromium helper.

The folder has the layout ``spinsyn study`` writes (docs/study.md): ``study.toml``, ``.spinsyn-study``,
``cache/<stage>/<key>/`` with stage in sweep, fit, train, export, simulate, and ``results.csv``. One set of
entries is real (reference-engine compound:4 sweep, bisigmoid fit, 20 neurons trained on 200 embedded MNIST
images, export, simulate); the four rows of results.csv point at it with different axis values, one row failed
and one without a sweep (a trial that used the published rule).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

AXES = ("device.n_mtj", "device.read_noise")
HEADER = ["trial", "status", "error", *AXES, "accuracy", "accuracy_lo", "accuracy_hi", "accuracy_trained",
          "energy_pJ_per_synapse", "program_time_ns_per_synapse", "devices", "devices_per_synapse", "retention_s",
          "wall_s", "sweep_dir", "fit_dir", "run_dir", "chip_dir"]
KEY = "3f2a9c"


def _stage_outputs(root: Path) -> dict:
    """Real sweep -> fit -> train -> export -> simulate into root/cache/<stage>/KEY/; returns simulate's dict."""
    from spinsyn import devices, hw_export, snn
    from spinsyn.fileio import write_json
    from spinsyn.fitting import fit_file

    c = {s: root / "cache" / s / KEY for s in ("sweep", "fit", "train", "export", "simulate")}
    for d in c.values():
        d.mkdir(parents=True)
    res = devices.sweep(devices.get_model("compound", n_mtj=4), devices.get_testbench("published"),
                        np.arange(0, 60, 6.0), 4, engine="reference", seed=0)
    devices.write_sweep(c["sweep"] / "sweep.h5", res)
    fit_file(c["sweep"] / "sweep.h5", c["fit"] / "rule.json", "bisigmoid", seed=0)
    cfg = snn.make_config(synapse="compound:4", neurons=20, n_train=200, n_test=100, n_assign=200,
                          rule=c["fit"] / "rule.json", device="cpu")
    snn.train(cfg, c["train"] / "run", progress=False)
    hw_export.export_run(c["train"] / "run", c["export"] / "chip", seed=0)
    sim = hw_export.simulate_chip(c["export"] / "chip", seed=1, n_test=100)
    write_json(c["simulate"] / "simulate.json", sim, fmt=hw_export.SIMULATION_FORMAT,
               version=hw_export.SIMULATION_VERSION, seed=1)
    return sim


def write_results(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` (dicts by column, missing cells empty) as a study results.csv."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for r in rows:
            w.writerow([r.get(c, "") for c in HEADER])
    return path


def study_rows(acc: float) -> list[dict]:
    """Four trials over (n_mtj, read_noise): trial 1 best, trial 2 without a sweep, trial 3 failed."""
    paths = {"sweep_dir": f"cache/sweep/{KEY}", "fit_dir": f"cache/fit/{KEY}", "run_dir": f"cache/train/{KEY}",
             "chip_dir": f"cache/export/{KEY}"}

    def ok(trial, n_mtj, noise, a, energy, **over):
        return {"trial": trial, "status": "ok", "device.n_mtj": n_mtj, "device.read_noise": noise, "accuracy": a,
                "accuracy_lo": a - 0.05, "accuracy_hi": a + 0.05, "accuracy_trained": a + 0.01,
                "energy_pJ_per_synapse": energy, "program_time_ns_per_synapse": 10 * n_mtj,
                "devices": 784 * 20 * n_mtj, "devices_per_synapse": n_mtj, "retention_s": 3.2e8, "wall_s": 12.5,
                **paths, **over}

    return [ok(0, 4, 0.0, acc - 0.10, 1.2), ok(1, 8, 0.0, acc, 2.5), ok(2, 4, 0.05, acc - 0.2, 1.3, sweep_dir=""),
            {"trial": 3, "status": "failed", "error": "ValueError: --synapse: got 'compound:0' <expected 1..256>",
             "device.n_mtj": 8, "device.read_noise": 0.05, "wall_s": 0.4}]


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory) -> Path:
    """A study folder with real cached stage outputs and a 4-row results.csv (see the module docstring)."""
    root = tmp_path_factory.mktemp("study")
    sim = _stage_outputs(root)
    (root / "study.toml").write_text('[study]\nname = "tiny"\n\n[axes]\n"device.n_mtj" = [4, 8]\n'
                                     '"device.read_noise" = [0.0, 0.05]\n', encoding="utf-8")
    (root / ".spinsyn-study").write_text('{"format": "spinsyn-study", "format_version": 1}\n', encoding="utf-8")
    acc = float(sim["accuracy"]["programmed"][sim["accuracy_key"]])
    write_results(root / "results.csv", study_rows(max(acc, 0.25)))
    return root


def chromium_binary() -> str:
    """Path of headless Chromium; skips the test when absent, except under CI (``CI`` set), where it fails."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (scripts/test installs it: apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium); CI fails instead of skipping")


def chromium(page: Path, tmp: Path, *args: str) -> str:
    """Run headless Chromium on the local file ``page`` with ``args``; returns its stdout."""
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}",
           "--virtual-time-budget=10000", *args, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
