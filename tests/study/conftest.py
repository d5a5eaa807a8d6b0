"""Quick studies for the study tests: reference-engine sweeps and 10-neuron networks on the embedded MNIST subset.

``quick_toml(folder, axes)`` writes a study file; ``quick_run`` is one in-process run (session-scoped, ~10 s) of
two trials that share their sweep and fit, which several tests read and compare against.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

QUICK = """\
[study]
name = "quick"

[device]
preset = "compound"
engine = "reference"
trials = 4
dt_ms = [0.0, 60.0, 6.0]
{rule}
[network]
neurons = 10
n_train = 100
n_test = 100

[export]
write_pulse = "fixed"

[axes]
{axes}
"""
TWO_TRIALS = 'device.n_mtj = [2]\ndevice.read_noise = [0.0, 0.05]'


def quick_toml(folder: Path, axes: str = TWO_TRIALS, rule: str = "", name: str = "study.toml") -> Path:
    """A quick study file in ``folder`` with the ``[axes]`` body ``axes`` (and optional ``[rule]`` lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(QUICK.format(axes=axes, rule=rule))
    return p


def read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def without_wall(out: Path) -> list[dict[str, str]]:
    """results.csv rows without the wall_s column (the only one that may differ between runs)."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in read_rows(out)]


def spinsyn_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "spinsyn.cli", *args]


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """(study file, study folder, outcome) of the two-trial quick study run in process."""
    from spinsyn.study import run_study

    base = tmp_path_factory.mktemp("quick")
    toml = quick_toml(base)
    out = base / "out"
    return toml, out, run_study(toml, out, "none", progress=False)
