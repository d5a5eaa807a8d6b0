"""Static tools see the installed package (issue #22).

``spinsyn`` maps ``core/``, ``devices/``, ``fitting/``, ``snn/`` and ``hw_export/`` onto one namespace through
``[tool.setuptools.package-dir]``. scripts/_setup.sh installs it as a *strict* editable install: a link tree
``spinsyn/devices/...`` of symlinks on ``sys.path`` that mypy and IDEs can follow (setuptools' default editable mode
is an import hook they cannot). These tests check that each stage ships a PEP 561 ``py.typed`` marker, that the
build-system floor can build the SPDX ``license`` string, that the link tree is complete, and (slow) that mypy
passes over the whole package from outside the repository.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
#: folder -> package it installs as (pyproject ``[tool.setuptools.package-dir]``)
STAGES = {"core": "spinsyn", "devices": "spinsyn.devices", "fitting": "spinsyn.fitting", "snn": "spinsyn.snn",
          "hw_export": "spinsyn.hw_export"}
SETUPTOOLS_FLOOR = 77  # first setuptools that accepts `license = "MIT"` (PEP 639 SPDX expression)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _installed_root() -> Path:
    """The directory of the installed ``spinsyn`` package as plain path-based import finds it."""
    spec = importlib.machinery.PathFinder.find_spec("spinsyn")
    assert spec is not None and spec.submodule_search_locations, (
        "`spinsyn` is not on sys.path as a plain directory (an import-hook editable install?): "
        "run `source scripts/_setup.sh` for the strict editable install")
    return Path(list(spec.submodule_search_locations)[0])


def test_py_typed_shipped_for_each_stage() -> None:
    data = _pyproject()["tool"]["setuptools"]["package-data"]
    for folder, package in STAGES.items():
        assert (ROOT / folder / "py.typed").is_file(), f"{folder}/py.typed missing"
        assert "py.typed" in data.get(package, []), f"py.typed not in package-data for {package}"
    root = _installed_root()
    for package in STAGES.values():
        marker = root.joinpath(*package.split(".")[1:], "py.typed")
        assert marker.is_file(), f"the installed {package} has no py.typed ({marker})"


def test_setuptools_floor_builds_the_spdx_license() -> None:
    data = _pyproject()
    assert isinstance(data["project"]["license"], str)  # the SPDX string form that needs setuptools >= 77
    floors = [int(m.group(1)) for req in data["build-system"]["requires"]
              if (m := re.fullmatch(r"setuptools\s*>=\s*(\d+)(?:\.\d+)*", req.strip()))]
    assert floors and floors[0] >= SETUPTOOLS_FLOOR, data["build-system"]["requires"]


def test_link_tree_holds_every_module() -> None:
    """Every module of every stage is a file under the installed ``spinsyn/`` tree (a stale tree fails here)."""
    root = _installed_root()
    assert root.resolve() != (ROOT / "core").resolve(), "spinsyn resolves to core/ itself, not a link tree"
    missing = []
    for folder, package in STAGES.items():
        base = root.joinpath(*package.split(".")[1:])
        for src in sorted((ROOT / folder).rglob("*.py")):
            rel = src.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts:
                continue
            installed = base / rel
            if not installed.is_file() or installed.resolve() != src.resolve():
                missing.append(f"{folder}/{rel}")
    assert not missing, ("not in the installed link tree (run `source scripts/_setup.sh` after adding a module, "
                         f"and list new sub-packages in pyproject): {missing}")


def test_installed_stage_imports_from_outside_the_repo(tmp_path: Path) -> None:
    code = ("import importlib.util, spinsyn.devices, spinsyn.hw_export;"
            "print(importlib.util.find_spec('spinsyn.devices').origin)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, check=True).stdout
    origin = Path(out.strip())
    assert origin.parts[-3:] == ("spinsyn", "devices", "__init__.py"), origin
    assert origin.resolve() == (ROOT / "devices" / "__init__.py").resolve()


@pytest.mark.slow
def test_mypy_passes_from_outside_the_repo(tmp_path: Path) -> None:
    """``mypy -p spinsyn`` (config: ``[tool.mypy]``) resolves every ``spinsyn.*`` module and reports nothing.

    ~1 min cold; ``scripts/test`` runs the same check (with a cache) before pytest.
    """
    pytest.importorskip("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "spinsyn"],
        cwd=tmp_path, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
    checked = int(re.search(r"in (\d+) source files", proc.stdout).group(1))
    n_modules = sum(1 for f in STAGES for p in (ROOT / f).rglob("*.py") if "__pycache__" not in p.parts)
    assert checked >= n_modules, (checked, n_modules)
