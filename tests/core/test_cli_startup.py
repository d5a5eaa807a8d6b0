"""``spinsyn --version``, ``--help`` and every command's ``--help`` answer without importing the heavy stages.

One subprocess runs ``spinsyn.cli.main`` on each argument list in turn and reports which heavy libraries
(numba, torch, scipy, matplotlib, h5py, PySpice) and which spinsyn stage modules ``sys.modules`` holds after each;
a fresh interpreter per list would be cleaner but slower, so the lists run from the cheapest and each is checked
against what it added (a heavy library any of them imported stays listed for every later one, so all must be clean).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("numba", "torch", "scipy", "matplotlib", "h5py", "PySpice")
#: every command and nested command whose ``--help`` is checked
HELPS = (
    ["--version"], ["--help"],
    ["device", "--help"], ["device", "sweep", "--help"], ["device", "plot", "--help"], ["device", "info", "--help"],
    ["device", "fit", "--help"], ["fit", "--help"], ["train", "--help"], ["eval", "--help"],
    ["import", "--help"], ["import", "bindsnet", "--help"], ["export", "--help"], ["export", "verify", "--help"],
    ["export", "simulate", "--help"], ["export", "nir", "--help"], ["doctor", "--help"], ["data", "--help"],
    ["data", "mnist", "--help"], ["pipeline", "--help"], ["study", "--help"],
)

_PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    heavy = %r
    out = []
    for argv in json.loads(sys.argv[1]):
        from spinsyn.cli import main
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        mods = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        out.append({"argv": argv, "code": code, "heavy": sorted({m.split(".")[0] for m in mods}),
                    "chars": len(buf.getvalue()), "stages": sorted(m for m in sys.modules if m.startswith("spinsyn."))})
    print(json.dumps(out))
""") % (HEAVY,)


def _probe(lists: list[list[str]]) -> list[dict]:
    r = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(lists)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_help_and_version_import_no_heavy_library() -> None:
    """Every ``--help`` prints its help (exit 0) and none imports numba, torch, scipy, matplotlib, h5py or
    PySpice; ``--version`` imports no stage at all."""
    res = _probe([list(a) for a in HELPS])
    first = res[0]
    assert first["code"] == 0 and first["chars"] > 0
    assert not [m for m in first["stages"] if m.split(".")[1] in ("devices", "fitting", "snn", "hw_export",
                                                                   "study", "pipeline")], first["stages"]
    for r in res:
        assert r["code"] == 0 and r["chars"] > 100 or r["argv"] == ["--version"], r
        assert r["heavy"] == [], f"{' '.join(r['argv'])} imported {r['heavy']}"


def test_a_command_imports_only_its_own_stage() -> None:
    """Parsing ``export verify`` (its ``--help``) loads nothing of snn's training code, and ``train --help``
    nothing of hw_export: building the parser does not load every stage's package."""
    res = _probe([["export", "verify", "--help"]])
    assert not [m for m in res[0]["stages"] if m.startswith(("spinsyn.snn.", "spinsyn.study."))], res[0]["stages"]
    res = _probe([["train", "--help"]])
    assert not [m for m in res[0]["stages"] if m.startswith(("spinsyn.hw_export.", "spinsyn.study."))], \
        res[0]["stages"]


def test_stage_packages_load_whole_on_first_use() -> None:
    """``import spinsyn.<stage>.cli`` loads no stage code; the first name taken from the package loads all of it, as
    an eager ``__init__`` did (a name that is also a submodule, ``devices.sweep``, is the function, as before)."""
    code = textwrap.dedent("""
        import sys, types
        import spinsyn.devices.cli, spinsyn.hw_export.cli, spinsyn.snn.cli, spinsyn.fitting.cli, spinsyn.study.cli
        light = not any(m in sys.modules for m in ("spinsyn.devices.models", "spinsyn.hw_export.export",
                                                   "spinsyn.snn.trainer", "spinsyn.fitting.fit", "numba"))
        from spinsyn.devices import PRESETS, sweep
        import spinsyn.devices as D
        print(light, callable(sweep) and not isinstance(sweep, types.ModuleType), "graded" in PRESETS,
              "sot-mtj" in PRESETS, set(D.__all__) <= set(dir(D)), isinstance(D.reference, types.ModuleType))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True"] * 6, r.stdout
