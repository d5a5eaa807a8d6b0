"""The output policy (issue #21, "data loss"): no file writer replaces an input of the same command, writes into a
run, chip, study or pipeline folder it did not make, or replaces a file that is not a spinsyn file of its own
format without ``--overwrite`` (``spinsyn.validation.check_output_file``).

The issue's four reproductions run as subprocesses; the matrix (every file writer x every situation) runs
in process through ``spinsyn.cli.main``. Shared inputs are copied into this module's own folder first: a writer
is never pointed at the session's inputs. Refused: exit 2, one stderr line naming the option, the target
byte-identical (or still absent). Accepted: the work runs (or, for the slow ones, reaches its first step).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import h5py
import pytest
from spinsyn.cli import main
from spinsyn.fileio import write_json
from spinsyn.validation import (
    FIGURE_FORMAT,
    NIR_FORMAT,
    PIPELINE_MARKER,
    STUDY_MARKER,
    STUDY_STAGING_MARKER,
    figure_save_kwargs,
    owned_folder,
    spinsyn_format,
)

from .conftest import spinsyn_cmd

USER_BYTES = b"somebody's own file\n"
SIM_FORMAT = "spinsyn-chip-simulation"


@dataclass(frozen=True)
class Arena:
    """Copies of the session's inputs (inputs of the commands) and folders spinsyn made (targets)."""

    sweep: Path
    rule: Path
    run: Path
    chip: Path
    run_t: Path
    chip_t: Path
    study: Path
    pipe: Path
    samples: dict  # format -> a spinsyn file of that format


def _marked_png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(path, format="png", **figure_save_kwargs("png"))
    plt.close(fig)
    return path


def _nir_like(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f.attrs["format"] = NIR_FORMAT
        f.attrs["format_version"] = 1
    return path


@pytest.fixture(scope="module")
def arena(hostile_env, tmp_path_factory) -> Arena:
    a = tmp_path_factory.mktemp("policy")
    env = {k: Path(v) for k, v in hostile_env.items()}
    shutil.copy(env["sweep"], a / "sweep.h5")
    shutil.copy(env["rule"], a / "rule.json")
    for name in ("run", "run_t"):
        shutil.copytree(env["run"], a / name)
    for name in ("chip", "chip_t"):
        shutil.copytree(env["chip"], a / name)
    (a / "study").mkdir()
    write_json(a / "study" / STUDY_MARKER, {"name": "s"}, fmt="spinsyn-study", version=1)
    (a / "pipe").mkdir()
    write_json(a / "pipe" / PIPELINE_MARKER, {}, fmt="spinsyn-pipeline", version=1)
    s = a / "samples"
    s.mkdir()
    write_json(s / "cal.json", {"best": {}}, fmt="spinsyn-calibration", version=1)
    write_json(s / "sim.json", {"n_test": 1}, fmt=SIM_FORMAT, version=2)
    write_json(s / "report.json", {}, fmt="spinsyn-chip-report", version=1)
    samples = {"spinsyn-sweep": a / "sweep.h5", "spinsyn-rule": a / "rule.json", "spinsyn-calibration": s / "cal.json",
               SIM_FORMAT: s / "sim.json", NIR_FORMAT: _nir_like(s / "g.nir"), FIGURE_FORMAT: _marked_png(s / "f.png"),
               "other": s / "report.json"}
    return Arena(a / "sweep.h5", a / "rule.json", a / "run", a / "chip", a / "run_t", a / "chip_t", a / "study",
                 a / "pipe", samples)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------- the issue's reproductions
def _sub(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(spinsyn_cmd(*args), capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def _refused_sub(r: subprocess.CompletedProcess, opt: str) -> None:
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"spinsyn: error: {opt}: "), r.stderr


def test_issue_nir_over_the_runs_checkpoint(hostile_env, tmp_path):
    run = shutil.copytree(hostile_env["run"], tmp_path / "RUN")
    before = _snapshot(run)
    r = _sub("export", "nir", "RUN", "--out", "RUN/checkpoint.pt", cwd=tmp_path)
    _refused_sub(r, "--out")
    assert _snapshot(run) == before  # the checkpoint is still the run's (old code: a NIR file, exit 0)


def test_issue_fit_over_its_own_sweep(hostile_env, tmp_path):
    s = shutil.copy(hostile_env["sweep"], tmp_path / "S.h5")
    before = Path(s).read_bytes()
    r = _sub("fit", "S.h5", "--model", "bisigmoid", "--out", "S.h5", cwd=tmp_path)
    _refused_sub(r, "--out")
    assert "input" in r.stderr and Path(s).read_bytes() == before  # old code: the sweep became rule JSON


def test_issue_nir_over_a_users_file(hostile_env, tmp_path):
    shutil.copytree(hostile_env["run"], tmp_path / "RUN")
    (tmp_path / "notes.txt").write_bytes(USER_BYTES)
    r = _sub("export", "nir", "RUN", "--out", "notes.txt", cwd=tmp_path)
    _refused_sub(r, "--out")
    assert "--overwrite" in r.stderr and (tmp_path / "notes.txt").read_bytes() == USER_BYTES


def test_issue_simulate_json_into_a_run(hostile_env, tmp_path):
    run = shutil.copytree(hostile_env["run"], tmp_path / "RUN")
    before = _snapshot(run)
    r = _sub("export", "simulate", hostile_env["chip"], "--n-test", "10", "--json", "RUN/metrics.json", cwd=tmp_path)
    _refused_sub(r, "--json")
    assert "run folder" in r.stderr and _snapshot(run) == before


# ------------------------------------------------------------------------------------------------ the matrix
@dataclass(frozen=True)
class Writer:
    """A file writer: the option naming its output, the format it writes, the output's file name, its command
    line for an output ``T`` (a folder for ``folder`` writers: the file is ``T/name``), and one of its inputs."""

    opt: str
    fmt: str
    name: str
    folder: bool = False
    real: bool = True  # accepted cases run the real work (else they stop at the first step)


WRITERS = {
    "device-sweep": Writer("--out", "spinsyn-sweep", "s.h5"),
    "device-plot": Writer("--out", FIGURE_FORMAT, "s.png"),
    "fit-out": Writer("--out", "spinsyn-rule", "r.json"),
    "fit-plot": Writer("--plot", FIGURE_FORMAT, "f.png"),
    "fit-calibrate": Writer("--out", "spinsyn-calibration", "cal.json", real=False),
    "export-nir": Writer("--out", NIR_FORMAT, "g.nir"),
    "simulate-json": Writer("--json", SIM_FORMAT, "sim.json", real=False),
    "simulate-plot": Writer("--plot", FIGURE_FORMAT, "accuracy_vs_time.png", folder=True, real=False),
}


def _argv(writer: str, a: Arena, t: str, tmp: Path) -> list[str]:
    sim = ["export", "simulate", str(a.chip), "--n-test", "10", "--run", str(a.run)]
    return {
        "device-sweep": ["device", "sweep", "--model", "stt-mtj", "--dt-ms", "0:20:5", "--trials", "2", "--engine",
                         "reference", "--jobs", "1", "--out", t],
        "device-plot": ["device", "plot", str(a.sweep), "--out", t],
        "fit-out": ["fit", str(a.sweep), "--model", "bisigmoid", "--out", t],
        "fit-plot": ["fit", str(a.sweep), "--model", "bisigmoid", "--out", str(tmp / "r.json"), "--plot", t],
        "fit-calibrate": ["fit", "calibrate", "--target", str(a.rule), "--out", t],
        "export-nir": ["export", "nir", str(a.run), "--out", t],
        "simulate-json": [*sim, "--json", t],
        "simulate-plot": [*sim, "--after", "0,1s", "--plot", t],
    }[writer]


def _input_target(writer: str, a: Arena) -> Path:
    """An input of the command (or a file inside one) to point the output at."""
    return {"device-plot": a.sweep, "fit-out": a.sweep, "fit-plot": a.sweep, "fit-calibrate": a.rule,
            "export-nir": a.run / "checkpoint.pt", "simulate-json": a.run / "metrics.json",
            "simulate-plot": a.run}[writer]


#: situation -> (refused?, words of the message)
SITUATIONS = {
    "input": (True, ("input",)),
    "in-run": (True, ("run folder",)),
    "in-chip": (True, ("chip folder",)),
    "in-study": (True, ("study folder",)),
    "in-pipeline": (True, ("pipeline folder",)),
    "user-file": (True, ("exists", "--overwrite")),
    "other-spinsyn-format": (True, ("spinsyn-chip-report", "--overwrite")),
    "user-file-overwrite": (False, ()),
    "same-format": (False, ()),
}
MATRIX = [(w, s) for w in WRITERS for s in SITUATIONS if not (w == "device-sweep" and s == "input")]


def _target(writer: str, situation: str, a: Arena, tmp: Path) -> tuple[Path, Path]:
    """(what the option names, the file the writer would write); creates the existing file of the situation."""
    w = WRITERS[writer]
    folder = {"in-run": a.run_t, "in-chip": a.chip_t / "sub", "in-study": a.study, "in-pipeline": a.pipe}.get(
        situation, tmp)
    if situation == "input":
        named = _input_target(writer, a)
        return named, (named / w.name if w.folder else named)
    named = folder if w.folder else folder / w.name
    path = folder / w.name
    if situation in ("user-file", "user-file-overwrite"):
        path.write_bytes(USER_BYTES)
    elif situation == "same-format":
        shutil.copy(a.samples[w.fmt], path)
    elif situation == "other-spinsyn-format":
        shutil.copy(a.samples["other"], path)
    return named, path


class _Reached(Exception):
    """The command got past every check to its first piece of work."""


def _stop_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import spinsyn.fitting.calibrate as cal
    import spinsyn.hw_export.simulate as sim

    def reached(*args, **kwargs):
        raise _Reached

    monkeypatch.setattr(sim, "simulate_chip", reached)
    monkeypatch.setattr(cal, "calibrate", lambda *args, **kwargs: {"best": {}, "n_evaluations": 0})


@pytest.mark.parametrize(("writer", "situation"), MATRIX, ids=[f"{w}-{s}" for w, s in MATRIX])
def test_output_policy_matrix(writer, situation, arena, tmp_path, capsys, monkeypatch):
    w = WRITERS[writer]
    refused, words = SITUATIONS[situation]
    named, path = _target(writer, situation, arena, tmp_path)
    argv = _argv(writer, arena, str(named), tmp_path) + (["--overwrite"] if situation == "user-file-overwrite" else [])
    before = path.read_bytes() if path.exists() else None
    watched = {f: _snapshot(f) for f in (arena.run, arena.run_t, arena.chip_t, arena.study, arena.pipe)}
    _stop_work(monkeypatch)
    if refused:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"spinsyn: error: {w.opt}: "), err
        assert all(word in err for word in words), err
    elif w.real:
        assert main(argv) == 0, capsys.readouterr().err
        assert spinsyn_format(path) == w.fmt and path.read_bytes() != before
        return
    elif writer == "fit-calibrate":
        assert main(argv) == 0
        assert spinsyn_format(path) == w.fmt and path.read_bytes() != before
        return
    else:
        with pytest.raises(_Reached):  # every check passed; the simulation would start here
            main(argv)
    assert (path.read_bytes() if path.exists() else None) == before
    assert {f: _snapshot(f) for f in watched} == watched


# ------------------------------------------------------------------------------------- more ways to collide
def test_plot_same_as_out_is_refused(arena, tmp_path, capsys):
    r = tmp_path / "r.png"
    assert main(["fit", str(arena.sweep), "--out", str(r), "--plot", str(r)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinsyn: error: --out: ") and "also --plot" in err and not r.exists()


@pytest.mark.parametrize("link", ["hard", "sym", "dotted"])
def test_an_input_under_another_name_is_refused(link, arena, tmp_path, capsys):
    s = shutil.copy(arena.sweep, tmp_path / "S.h5")
    alias = tmp_path / "alias.h5"
    if link == "hard":
        os.link(s, alias)
    elif link == "sym":
        alias.symlink_to(s)
    else:
        (tmp_path / "d").mkdir()
        alias = tmp_path / "d" / ".." / "S.h5"
    before = Path(s).read_bytes()
    assert main(["fit", str(s), "--out", str(alias), "--overwrite"]) == 2  # never, even with --overwrite
    assert "input of this command" in capsys.readouterr().err and Path(s).read_bytes() == before


@pytest.mark.parametrize("where", ["is-net", "is-labels", "holds-net", "in-run", "in-chip", "in-study"])
def test_import_out_folder_policy(where, arena, tmp_path, capsys):
    net = tmp_path / "net" / "NET.pt"
    net.parent.mkdir()
    net.write_bytes(b"not read: the --out check comes first")
    labels = tmp_path / "labels.pt"
    labels.write_bytes(b"x")
    out = {"is-net": net, "is-labels": labels, "holds-net": net.parent, "in-run": arena.run_t / "imported",
           "in-chip": arena.chip_t / "imported", "in-study": arena.study / "imported"}[where]
    assert main(["import", "bindsnet", str(net), "--labels", str(labels), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spinsyn: error: --out: "), err
    assert not (arena.run_t / "imported").exists() and not (arena.chip_t / "imported").exists()
    assert net.read_bytes().startswith(b"not read")


def test_python_api_has_the_same_policy(arena, tmp_path):
    from spinsyn.devices import plot_sweep
    from spinsyn.fitting import fit_file
    from spinsyn.snn import export_nir

    user = tmp_path / "mine.png"
    user.write_bytes(USER_BYTES)
    for call in (lambda: fit_file(arena.sweep, user, "bisigmoid"), lambda: plot_sweep(arena.sweep, user),
                 lambda: export_nir(arena.run, user)):
        with pytest.raises(ValueError, match="--out: .*mine.png exists .*--overwrite"):
            call()
    assert user.read_bytes() == USER_BYTES
    with pytest.raises(ValueError, match="run folder"):
        fit_file(arena.sweep, arena.run_t / "r.json", "bisigmoid", overwrite=True)


def test_a_folder_this_process_is_making_is_its_own(arena, tmp_path):
    """The pipeline writes into its own (locked) folder, a study into its staging folders: allowed there only."""
    from spinsyn.fitting import fit_file
    from spinsyn.locks import folder_lock

    pipe = tmp_path / "pipe"
    pipe.mkdir()
    write_json(pipe / PIPELINE_MARKER, {}, fmt="spinsyn-pipeline", version=1)
    with pytest.raises(ValueError, match="pipeline folder"):
        fit_file(arena.sweep, pipe / "rule.json", "bisigmoid")
    with folder_lock(pipe):
        fit_file(arena.sweep, pipe / "rule.json", "bisigmoid")
    stage = tmp_path / "study" / "cache" / "fit" / ".staging-x"
    stage.mkdir(parents=True)
    write_json(tmp_path / "study" / STUDY_MARKER, {"name": "s"}, fmt="spinsyn-study", version=1)
    with pytest.raises(ValueError, match="study folder"):
        fit_file(arena.sweep, stage.parent / "rule.json", "bisigmoid")
    (stage / STUDY_STAGING_MARKER).write_text("1\n")
    fit_file(arena.sweep, stage / "rule.json", "bisigmoid")
    assert spinsyn_format(pipe / "rule.json") == spinsyn_format(stage / "rule.json") == "spinsyn-rule"


def test_pipeline_marks_its_folder(tmp_path):
    from spinsyn.pipeline import _mark

    assert owned_folder(tmp_path) is None
    _mark(tmp_path)
    assert owned_folder(tmp_path) == "pipeline"


def test_folder_markers_agree_with_their_writers():
    from spinsyn import validation as v
    from spinsyn.hw_export import chipfile
    from spinsyn.snn import checkpoint, trainer
    from spinsyn.study import cache, runner

    assert (v.RUN_CHECKPOINT, v.CHECKPOINT_FORMAT) == (checkpoint.CHECKPOINT_NAME, checkpoint.CHECKPOINT_FORMAT)
    assert v.METRICS_FORMAT == trainer.METRICS_FORMAT
    assert (v.CHIP_MANIFEST, v.MANIFEST_FORMAT) == (chipfile.MANIFEST_NAME, chipfile.MANIFEST_FORMAT)
    assert (v.CHIP_H5, v.CHIP_FORMAT) == (chipfile.H5_NAME, chipfile.CHIP_FORMAT)
    assert (v.STUDY_MARKER, v.STUDY_STAGING_MARKER) == (runner.MARKER, cache.STAGING_MARKER)


def test_owned_folders_of_the_session(hostile_env):
    assert owned_folder(hostile_env["run"]) == "run" and owned_folder(hostile_env["chip"]) == "chip"
    assert owned_folder(hostile_env["root"]) is None
    assert owned_folder(Path(hostile_env["bad"]) / "notarun") is None  # somebody's checkpoint.pt: not a run


# ------------------------------------------------------------------------------------------ the format detector
def test_detector_knows_what_spinsyn_wrote(hostile_env, arena):
    assert spinsyn_format(hostile_env["sweep"]) == "spinsyn-sweep"
    assert spinsyn_format(hostile_env["rule"]) == "spinsyn-rule"
    assert spinsyn_format(Path(hostile_env["chip"]) / "chip.h5") == "spinsyn-chip"
    assert spinsyn_format(Path(hostile_env["run"]) / "metrics.json") == "spinsyn-metrics"
    assert spinsyn_format(Path(hostile_env["run"]) / "checkpoint.pt") == "spinsyn-checkpoint"
    assert spinsyn_format(Path(hostile_env["bad"]) / "pickled" / "checkpoint.pt") == "spinsyn-checkpoint"  # v2-like
    assert spinsyn_format(Path(hostile_env["bad"]) / "notarun" / "checkpoint.pt") is None
    assert spinsyn_format(Path(hostile_env["run"]) / "accuracy.png") == FIGURE_FORMAT  # snn/plots.py marks them


def test_detector_reads_a_real_nir_export(arena, tmp_path):
    from spinsyn.snn import export_nir

    out = tmp_path / "g.nir"
    export_nir(arena.run, out)
    assert spinsyn_format(out) == NIR_FORMAT
    import nir

    assert set(nir.read(out).nodes) >= {"input", "exc", "output"}  # still a NIR file to NIR's reader
    with h5py.File(out, "a") as f:  # a NIR file spinsyn wrote before the attribute: its graph metadata
        del f.attrs["format"]
    assert spinsyn_format(out) == NIR_FORMAT


@pytest.mark.parametrize("suffix", ["png", "pdf", "svg", "eps", "ps", "jpg", "tif", "webp"])
def test_detector_knows_marked_figures(suffix, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(tmp_path / f"marked.{suffix}", **figure_save_kwargs(suffix))
    fig.savefig(tmp_path / f"plain.{suffix}")
    plt.close(fig)
    assert spinsyn_format(tmp_path / f"marked.{suffix}") == FIGURE_FORMAT
    assert spinsyn_format(tmp_path / f"plain.{suffix}") is None  # a figure spinsyn did not mark is not its own


def _big_json(p: Path) -> None:
    write_json(p, {"aaa": list(range(300_000))}, fmt="spinsyn-chip-simulation", version=2)  # "format" after 1 MiB


NOT_SPINSYN = {
    "empty": b"",
    "garbage": b"\x00\x01garbage" * 100,
    "json-list": b'[{"format": "spinsyn-rule"}]',
    "json-other-format": b'{"format": "something-else"}',
    "json-nested-format": b'{"x": {"format": "spinsyn-rule"}}',
    "json-truncated": b'{"format": "spinsyn-rule", "params": {',
    "json-not-utf8": b'{"format": "spinsyn-\xff"}',
    "json-deep": b'{"a":' * 100_000,
    "hdf5-truncated": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64,
    "png-with-the-word-elsewhere": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40_000 + b"spinsyn" + b"\x00" * 40_000,
}


@pytest.mark.parametrize("kind", sorted(NOT_SPINSYN))
def test_detector_refuses_what_spinsyn_did_not_write(kind, tmp_path):
    p = tmp_path / "f"
    p.write_bytes(NOT_SPINSYN[kind])
    assert spinsyn_format(p) is None


def test_detector_edge_cases(tmp_path):
    assert spinsyn_format(tmp_path) is None and spinsyn_format(tmp_path / "missing") is None
    _big_json(tmp_path / "big.json")
    assert (tmp_path / "big.json").stat().st_size > (1 << 20)
    assert spinsyn_format(tmp_path / "big.json") == SIM_FORMAT
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.attrs["format"] = "not-spinsyn"
    assert spinsyn_format(tmp_path / "plain.h5") is None
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert spinsyn_format(tmp_path / "dangling") is None


TRAIN_SMALL = ["train", "--synapse", "compound:4", "--neurons", "5", "--n-train", "20", "--n-test", "10",
               "--n-assign", "20", "--device", "cpu", "--quiet"]


@pytest.mark.parametrize("where", ["in-run", "in-chip", "in-study", "in-pipeline"])
def test_train_out_inside_a_folder_of_another_command_is_refused(where, arena, capsys):
    """A new run is never written into another run, a chip, a study or a pipeline folder (rule 2 for folders)."""
    parent = {"in-run": arena.run_t, "in-chip": arena.chip_t, "in-study": arena.study, "in-pipeline": arena.pipe}[where]
    before = _snapshot(parent)
    assert main([*TRAIN_SMALL, "--out", str(parent / "newrun")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spinsyn: error: --out: "), err
    assert _snapshot(parent) == before


@pytest.mark.parametrize("kind", ["run", "chip", "study"])
def test_pipeline_out_that_is_another_commands_folder_is_refused(kind, arena, capsys):
    folder = {"run": arena.run_t, "chip": arena.chip_t, "study": arena.study}[kind]
    before = _snapshot(folder)
    assert main(["pipeline", "--engine", "reference", "--trials", "2", "--neurons", "5", "--n-train", "20",
                 "--n-test", "10", "--device", "cpu", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spinsyn: error: --out: ") and kind in err, err
    assert _snapshot(folder) == before
