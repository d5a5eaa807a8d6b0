"""Every script in examples/ runs, in its ``--quick`` mode, as a subprocess in an empty folder, writing only its
``--out``; what it prints and writes is checked with the owning stage's reader."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TESTED = {"device_sweep.py", "export_roundtrip.py", "fit_published_recovery.py", "train_mnist.py"}


def run_example(name: str, cwd: Path, *args: str) -> str:
    """Run ``examples/name --quick args`` in ``cwd``; returns stdout (fails with its stderr on a non-zero exit)."""
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_example_has_a_test():
    assert {p.name for p in EXAMPLES.glob("*.py")} == TESTED


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[Path, str]:
    """``examples/train_mnist.py --quick``: (its --out run folder, its stdout); the run export_roundtrip uses."""
    cwd = tmp_path_factory.mktemp("train_mnist")
    out = run_example("train_mnist.py", cwd, "--out", str(cwd / "run"))
    assert sorted(p.name for p in cwd.iterdir()) == ["run"]  # nothing written beside --out
    return cwd / "run", out


def test_train_mnist(quick_run):
    from spinsyn.snn import load_run

    run, out = quick_run
    m = re.search(r"all activity ([\d.]+), proportion ([\d.]+), (\d+) train samples/s", out)
    assert m and float(m.group(1)) >= 0.25 and int(m.group(3)) > 0  # measured 0.390 (chance 0.10)
    re_eval = float(re.search(r"re-evaluated: ([\d.]+)", out).group(1))
    assert re_eval == pytest.approx(float(m.group(1)), abs=0.05)  # the saved run evaluates as trained
    net = load_run(run)
    assert net.n_neurons == 20 and str(net.spec) == "compound:8" and net.config.n_train == 200


def test_export_roundtrip(quick_run, tmp_path):
    from spinsyn.hw_export import load_chip

    run, _ = quick_run
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}
    out = run_example("export_roundtrip.py", tmp_path, str(run), str(tmp_path / "chip"))
    assert re.search(r"export: 15680 devices on \d+ tiles", out)  # 784 x 20 synapses, unipolar
    assert re.search(r"verify: OK, \d+ files", out)
    assert re.search(r"simulate: accuracy trained [\d.]+%, targets [\d.]+%, programmed [\d.]+% .* \(50 test images\)",
                     out)
    assert load_chip(tmp_path / "chip").meta["synapse"] == "compound:8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chip"]
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}  # run untouched


def test_device_sweep(tmp_path):
    from spinsyn.devices import read_sweep

    out = run_example("device_sweep.py", tmp_path, "--out", str(tmp_path / "sweep.h5"))
    lines = re.findall(r"dt = +(\d+) ms +mean normalised dG = ([+-][\d.]+)", out)
    assert [int(d) for d, _ in lines] == [0, 12, 24, 36, 48]
    assert float(lines[0][1]) > 0.2  # pre just before post: potentiation
    spice = re.search(r"spice check: \[ *([-\d.]+) +([-\d.]+)\]", out)
    assert spice and float(spice.group(1)) > float(spice.group(2))  # Δt = 2 ms potentiates more than 56 ms
    r = read_sweep(tmp_path / "sweep.h5")
    assert r.engine == "reference" and r.dg_norm.shape == (5, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.h5"]


def test_fit_published_recovery(tmp_path):
    out = run_example("fit_published_recovery.py", tmp_path, "--out", str(tmp_path / "errors.csv"))
    assert out.startswith("5 seeds, ") and "auto chose bisigmoid in " in out
    for k in ("t0", "t1", "k0", "k1"):
        assert re.search(rf"  {k}: median \|rel err\| [\d.]+%", out)
    rows = (tmp_path / "errors.csv").read_text().splitlines()
    assert rows[0] == "seed,rel_err_t0,rel_err_t1,rel_err_k0,rel_err_k1,auto_model" and len(rows) == 6
    for row in rows[1:]:
        cells = row.split(",")
        assert float(cells[1]) < 0.05 and float(cells[2]) < 0.05  # the transition times come back within 5 %
    assert sorted(p.name for p in tmp_path.iterdir()) == ["errors.csv"]
