"""Fault injection (issue #21, "crash on write errors"): every writer under a file-size limit (``ulimit -f``: the
system refuses the write with EFBIG, Python ignoring SIGXFSZ) and under a read-only target; SIGTERM during export
staging; lock files on every exit path; chip folders whose manifest points outside them.

A refused write is exit 2 with one stderr line ``spinsyn: error: <file>: File too large`` naming the file, never
a segfault or a traceback, and leaves no partial output, temporary file, probe, lock file or empty folder. The
command lines run as subprocesses (the limit is set in the child only); the helpers run in process.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .conftest import spinsyn_cmd

KB = 1024
LEFTOVER_MARKS = (".tmp", ".spinsyn-probe-", ".spinsyn-lock", ".spinsyn-export-", "spinsyn-failed-")
TRAIN = "train --synapse compound:4 --neurons 5 --n-train 20 --n-test 10 --n-assign 20 --device cpu --quiet"
SWEEP = "device sweep --model stt-mtj --dt-ms 0:60:5 --trials 3 --engine reference --jobs 1"
EXPORT_W = "export {w} --synapse compound:4 --tile 64x64 --width-ns 1"
SIMULATE = "export simulate {chip} --n-test 10 --run {run}"
PIPE = "pipeline --engine reference --trials 2 --neurons 5 --n-train 20 --n-test 10 --device cpu"
#: the environment of every child: no bytecode written (a .pyc is a file write too), wide terminal
CHILD_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
STANDIN = Path(__file__).resolve().parents[1] / "snn" / "bindsnet_standin"


@dataclass(frozen=True)
class Fault:
    """A writer command line (placeholders as in ``cases.py``, plus ``{net}``: a tiny BindsNET file), the
    RLIMIT_FSIZE of its process in bytes (None: no limit, the target is read-only), the path or option its one
    error line must name, and paths that must not exist afterwards."""

    id: str
    args: str
    names: str
    limit: int | None = 1 * KB
    absent: tuple[str, ...] = ()
    slow: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        return (self.names, "File too large") if self.limit else (self.names,)


LIMITED = [
    Fault("sweep", SWEEP + " --out {t}/s.h5", "{t}/s.h5", absent=("{t}/s.h5",), slow=True),
    Fault("sweep-new-folders", SWEEP + " --out {t}/new/sub/s.h5", "{t}/new/sub/s.h5", absent=("{t}/new",)),
    Fault("device-plot", "device plot {sweep} --out {t}/s.png", "{t}/s.png", absent=("{t}/s.png",)),
    Fault("fit-out", "fit {sweep} --model bisigmoid --out {t}/r.json", "{t}/r.json", absent=("{t}/r.json",), slow=True),
    Fault("fit-out-new-folder", "fit {sweep} --model bisigmoid --out {t}/new/r.json", "{t}/new/r.json",
          absent=("{t}/new",)),
    Fault("fit-plot", "fit {sweep} --model bisigmoid --out {t}/r.json --plot {t}/f.png", "{t}/f.png", 4 * KB,
          absent=("{t}/r.json", "{t}/f.png")),
    Fault("train", TRAIN + " --out {t}/run", "{t}/run/checkpoint.pt", absent=("{t}/run",), slow=True),
    Fault("train-new-folders", TRAIN + " --out {t}/new/run", "{t}/new/run/checkpoint.pt", absent=("{t}/new",)),
    # the reproduction: ulimit -f 300; spinsyn export RUN --out C (chip.h5 ~600 KB, the other files pass)
    Fault("export-run-300k", "export {run} --tile 64x64 --no-csv --out {t}/C", "{t}/C/chip.h5", 300 * KB,
          absent=("{t}/C",)),
    Fault("export-w", EXPORT_W + " --out {t}/C", "{t}/C/", absent=("{t}/C",), slow=True),
    Fault("export-new-folder", EXPORT_W + " --no-csv --out {t}/new/C", "{t}/new/C/", absent=("{t}/new",)),
    Fault("export-nir", "export nir {run} --out {t}/g.nir", "{t}/g.nir", absent=("{t}/g.nir",)),
    Fault("simulate-json", SIMULATE + " --json {t}/sim.json", "{t}/sim.json", absent=("{t}/sim.json",)),
    Fault("import-bindsnet", "import bindsnet {net} --out {t}/run", "{t}/run/checkpoint.pt", absent=("{t}/run",)),
    Fault("pipeline", PIPE + " --out {t}/p", "{t}/p/sweep.h5", absent=("{t}/p/sweep.h5",)),
    Fault("export-run-csv-300k", "export {run} --tile 64x64 --out {t}/C", "{t}/C/chip.h5", 300 * KB,
          absent=("{t}/C",), slow=True),
    Fault("simulate-plot", SIMULATE + " --after 0,1s --json {t}/sim.json", "accuracy_vs_time.png",
          absent=("{t}/sim.json", "{t}/accuracy_vs_time.png"), slow=True),
    Fault("pipeline-300k", PIPE + " --out {t}/p", "{t}/p/chip/chip.h5", 300 * KB, absent=("{t}/p/chip",),
          slow=True),
]

READ_ONLY = [
    Fault("ro-sweep", SWEEP + " --out {ro}/s.h5", "--out", None),
    Fault("ro-sweep-new-folders", SWEEP + " --out {ro}/new/sub/s.h5", "--out", None),
    Fault("ro-device-plot", "device plot {sweep} --out {ro}/s.png", "--out", None),
    Fault("ro-fit-out", "fit {sweep} --model bisigmoid --out {ro}/r.json", "--out", None),
    Fault("ro-fit-plot", "fit {sweep} --model bisigmoid --out {t}/r.json --plot {ro}/f.png", "--plot", None,
          absent=("{t}/r.json",)),
    Fault("ro-calibrate", "fit calibrate --target {rule} --out {ro}/cal.json", "--out", None),
    Fault("ro-train", TRAIN + " --out {ro}/run", "--out", None),
    Fault("ro-export-w", EXPORT_W + " --out {ro}/C", "--out", None),
    Fault("ro-export-nir", "export nir {run} --out {ro}/g.nir", "--out", None),
    Fault("ro-simulate-json", SIMULATE + " --json {ro}/sim.json", "--json", None),
    Fault("ro-import-bindsnet", "import bindsnet {net} --out {ro}/run", "--out", None),
    Fault("ro-pipeline", PIPE + " --out {ro}/p", "--out", None),
    Fault("ro-study", "study {study} --out {ro}/st", "--out", None),
]


@dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    folder: Path
    seconds: float


def _fill(text: str, env: dict[str, str], t: Path) -> str:
    return text.format(t=t, **env)


def _limit(n: int | None):
    if n is None:
        return None

    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))

    return set_limit


def _run(f: Fault, env: dict[str, str], base: Path) -> Outcome:
    t = base / f.id
    t.mkdir()
    t0 = time.perf_counter()
    r = subprocess.run(spinsyn_cmd(*[_fill(a, env, t) for a in f.args.split()]), capture_output=True, text=True,
                       cwd=t, timeout=600, env={**os.environ, **CHILD_ENV}, preexec_fn=_limit(f.limit))
    return Outcome(r.returncode, r.stdout, r.stderr, t, time.perf_counter() - t0)


_BUILD_NET = textwrap.dedent("""
    import sys, torch
    from bindsnet.models import DiehlAndCook2015
    g = torch.Generator().manual_seed(7)
    DiehlAndCook2015(torch.rand(784, 5, generator=g), torch.rand(5, generator=g) * 20, nu=(2e-4, 3e-2)).save(
        sys.argv[1])
""")


@pytest.fixture(scope="module")
def fault_env(hostile_env, tmp_path_factory) -> dict[str, str]:
    """The session's inputs, a tiny BindsNET network file (the stand-in package of tests/snn) and a study file."""
    d = tmp_path_factory.mktemp("fault_inputs")
    net = d / "net.pt"
    subprocess.run([sys.executable, "-c", _BUILD_NET, str(net)], check=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(STANDIN)})
    study = Path(__file__).resolve().parents[2] / "examples" / "study_n_mtj.toml"  # refused before any work
    return {**hostile_env, "net": str(net), "study": str(study)}


@pytest.fixture(scope="module")
def outcomes(fault_env, tmp_path_factory) -> dict[str, Outcome]:
    """Every fast row of LIMITED, two at a time."""
    base = tmp_path_factory.mktemp("faults")
    rows = [f for f in LIMITED if not f.slow]
    with ThreadPoolExecutor(max_workers=2) as ex:
        futs = {f.id: ex.submit(_run, f, fault_env, base) for f in rows}
        return {fid: fut.result() for fid, fut in futs.items()}


def _empty_folders(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_dir() and not p.is_symlink() and not any(p.iterdir())]


def _leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if any(m in p.name for m in LEFTOVER_MARKS)]


def _check(f: Fault, o: Outcome, env: dict[str, str]) -> None:
    detail = f"rc {o.rc} after {o.seconds:.1f} s\nstdout: {o.stdout[-1500:]}\nstderr: {o.stderr[-3000:]}"
    assert o.rc == 2, detail  # not 139 (segfault), not 1 (traceback)
    lines = [ln for ln in o.stderr.splitlines() if ln.strip() and "%|" not in ln]  # pipeline: tqdm bars of train
    assert len(lines) == 1, f"expected one stderr line\n{detail}"
    assert lines[0].startswith("spinsyn: error: "), detail
    for w in f.words:
        assert _fill(w, env, o.folder) in lines[0], f"{w!r} not in the message\n{detail}"
    assert "Traceback" not in o.stdout + o.stderr and "Exception ignored" not in o.stderr, detail
    for p in f.absent:
        assert not Path(_fill(p, env, o.folder)).exists(), f"{_fill(p, env, o.folder)} was left behind\n{detail}"
    assert not _leftovers(o.folder), f"left behind: {_leftovers(o.folder)}\n{detail}"
    assert not _empty_folders(o.folder), f"empty folders left: {_empty_folders(o.folder)}\n{detail}"


@pytest.mark.parametrize("f", [f for f in LIMITED if not f.slow], ids=lambda f: f.id)
def test_writer_under_file_size_limit(f: Fault, outcomes, fault_env):
    _check(f, outcomes[f.id], fault_env)


@pytest.mark.slow
@pytest.mark.parametrize("f", [f for f in LIMITED if f.slow], ids=lambda f: f.id)
def test_writer_under_file_size_limit_slow(f: Fault, fault_env, tmp_path):
    _check(f, _run(f, fault_env, tmp_path), fault_env)


@pytest.mark.parametrize("f", READ_ONLY, ids=lambda f: f.id)
def test_writer_into_read_only_folder(f: Fault, fault_env, tmp_path, capsys, monkeypatch):
    """In process (the checks come before any work; no limit to set): refused naming the option."""
    from spinsyn.cli import main

    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    rc = main([_fill(a, fault_env, tmp_path) for a in f.args.split()])
    out = capsys.readouterr()
    o = Outcome(rc, out.out, out.err, tmp_path, time.perf_counter() - t0)
    _check(f, o, fault_env)
    assert o.stderr.startswith(f"spinsyn: error: {f.names}"), o.stderr
    assert sorted(p.name for p in o.folder.iterdir()) == [], "nothing is written before the checks"


def test_file_size_limit_table_is_broad():
    """Every writer command of the issue is here, under a limit and into a read-only folder."""
    ids = {f.id for f in LIMITED + READ_ONLY}
    for writer in ("sweep", "device-plot", "fit-out", "fit-plot", "train", "export-w", "export-nir", "simulate-json",
                   "import-bindsnet", "pipeline"):
        assert writer in ids and f"ro-{writer}" in ids
    assert len(LIMITED) + len(READ_ONLY) >= 30


# ----------------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _fsize_limit(n: int):
    """RLIMIT_FSIZE soft limit ``n`` bytes in this process for the body (SIGXFSZ is ignored by Python: a write
    past the limit fails with EFBIG)."""
    if signal.getsignal(signal.SIGXFSZ) != signal.SIG_IGN:
        pytest.skip("SIGXFSZ is not ignored in this process")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_atomic_write_names_the_file_and_removes_the_folders_it_made(tmp_path):
    from spinsyn.fileio import atomic_write_bytes

    out = tmp_path / "a" / "b" / "x.bin"
    with _fsize_limit(4 * KB), pytest.raises(OSError) as ei:
        atomic_write_bytes(out, b"\0" * (64 * KB))
    assert ei.value.filename == str(out) and ei.value.strerror == "File too large"
    assert os.listdir(tmp_path) == []  # no temporary file, no a/, no a/b/


def test_atomic_path_keeps_the_old_file_and_folders_it_did_not_make(tmp_path):
    from spinsyn.fileio import atomic_path

    out = tmp_path / "x.bin"
    out.write_bytes(b"old")
    with _fsize_limit(4 * KB), pytest.raises(OSError) as ei, atomic_path(out) as tmp:
        tmp.write_bytes(b"\1" * (64 * KB))
    assert ei.value.filename == str(out)
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_atomic_write_into_read_only_folder_names_the_file(hostile_env):
    """The temporary file cannot be made: the error names the target, not the random temporary name."""
    from spinsyn.fileio import atomic_write_bytes

    out = Path(hostile_env["ro"]) / "x.bin"
    with pytest.raises(OSError) as ei:
        atomic_write_bytes(out, b"x")
    assert ei.value.filename == str(out) and not out.exists()


def test_atomic_path_error_naming_another_file_is_kept(tmp_path):
    from spinsyn.fileio import atomic_path

    with pytest.raises(FileNotFoundError) as ei, atomic_path(tmp_path / "x.bin"):
        open(tmp_path / "missing-input")  # noqa: SIM115 - an error of the body about another file
    assert ei.value.filename == str(tmp_path / "missing-input") and os.listdir(tmp_path) == []


def test_atomic_h5_refused_write_is_one_os_error(tmp_path):
    from spinsyn.fileio import atomic_h5

    out = tmp_path / "new" / "x.h5"
    with _fsize_limit(16 * KB), pytest.raises(OSError) as ei, atomic_h5(out) as f:
        f.create_dataset("a_S", data=np.arange(100_000.0))
    assert ei.value.filename == str(out) and ei.value.strerror == "File too large"
    assert os.listdir(tmp_path) == []


def test_atomic_h5_writes_a_readable_file(tmp_path):
    import h5py
    from spinsyn.fileio import atomic_h5

    with atomic_h5(tmp_path / "x.h5") as f:
        f.create_dataset("a", data=np.arange(10.0))
        f.attrs["k"] = "v"
    with h5py.File(tmp_path / "x.h5", "r") as g:
        assert g["a"][()].tolist() == list(np.arange(10.0)) and g.attrs["k"] == "v"
    assert os.listdir(tmp_path) == ["x.h5"]


def test_sweep_writer_under_limit_in_process(hostile_env, tmp_path):
    from spinsyn.devices.sweep import read_sweep, write_sweep

    r = read_sweep(hostile_env["sweep"])
    with _fsize_limit(2 * KB), pytest.raises(OSError) as ei:
        write_sweep(tmp_path / "s.h5", r)
    assert ei.value.filename == str(tmp_path / "s.h5") and os.listdir(tmp_path) == []


def test_pipeline_report_writer_under_limit(tmp_path):
    from spinsyn.report import write_pipeline_report

    (tmp_path / "p").mkdir()
    with _fsize_limit(1 * KB), pytest.raises(OSError) as ei:
        write_pipeline_report(tmp_path / "p")
    assert ei.value.filename == str(tmp_path / "p" / "report.html") and ei.value.strerror == "File too large"
    assert os.listdir(tmp_path / "p") == []


# ------------------------------------------------------------------------------------ train: failure cleanup
def _failing_body(run: Path, files: tuple[str, ...], exc: BaseException) -> None:
    from spinsyn.snn.trainer import _removed_on_error

    with pytest.raises(type(exc)), _removed_on_error(run, enabled=True):
        run.mkdir(exist_ok=True)
        for name in files:
            (run / name).write_bytes(b"x")
        raise exc


def test_failed_new_run_removes_its_files_and_folder(tmp_path):
    _failing_body(tmp_path / "run", ("checkpoint.pt", "metrics.json"), OSError(27, "File too large"))
    assert os.listdir(tmp_path) == []


def test_failed_run_keeps_a_folder_it_did_not_make_and_files_it_found(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".checkpoint.pt.abc.tmp.pt").write_bytes(b"left by an interrupted write")
    _failing_body(run, ("checkpoint.pt",), ValueError("training diverged"))
    assert os.listdir(run) == [".checkpoint.pt.abc.tmp.pt"]


def test_interrupted_run_keeps_its_checkpoint_for_resume(tmp_path):
    _failing_body(tmp_path / "run", ("checkpoint.pt",), KeyboardInterrupt())
    assert os.listdir(tmp_path / "run") == ["checkpoint.pt"]


def test_failed_resume_removes_nothing(tmp_path):
    from spinsyn.snn.trainer import _removed_on_error

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(OSError), _removed_on_error(run, enabled=False):
        (run / "metrics.json").write_bytes(b"x")
        raise OSError(28, "No space left on device")
    assert os.listdir(run) == ["metrics.json"]


# ------------------------------------------------------------------------------------------------ lock files
def test_lock_file_removed_after_normal_exit_error_and_interrupt(tmp_path):
    from spinsyn.locks import folder_lock, lock_path

    out = tmp_path / "new" / "run"
    with folder_lock(out):
        assert lock_path(out).exists()
    for exc in (ValueError("bad"), KeyboardInterrupt(), SystemExit(143)):
        with pytest.raises(type(exc)), folder_lock(out):
            raise exc
    assert not lock_path(out).exists()
    assert os.listdir(tmp_path) == []  # the parent folder the lock made is gone too


def test_stale_lock_file_of_kill9_is_removed_by_the_next_check(tmp_path):
    from spinsyn.locks import check_unlocked, lock_path

    out = tmp_path / "run"
    lock_path(out).write_bytes(b"")  # what kill -9 leaves: a 0-byte file nobody holds
    check_unlocked(out)
    assert os.listdir(tmp_path) == []


def test_stale_lock_file_is_reused_and_removed_by_the_next_writer(tmp_path):
    from spinsyn.locks import folder_lock, lock_path

    out = tmp_path / "run"
    lock_path(out).write_text("999999999\n")
    with folder_lock(out):
        assert lock_path(out).read_text() == f"{os.getpid()}\n"
    assert os.listdir(tmp_path) == []


def test_held_lock_is_refused_and_kept(tmp_path):
    import fcntl

    from spinsyn.locks import FolderLockedError, check_unlocked, folder_lock, lock_path

    out = tmp_path / "run"
    fd = os.open(lock_path(out), os.O_RDWR | os.O_CREAT)  # another holder (another open file description)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FolderLockedError):
            check_unlocked(out)
        with pytest.raises(FolderLockedError), folder_lock(out):
            pass
        assert lock_path(out).exists()
    finally:
        os.close(fd)


def _wait(pred, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


LONG_TRAIN = ("train", "--synapse", "compound:4", "--neurons", "10", "--n-train", "2000", "--epochs", "5",
              "--n-test", "10", "--n-assign", "20", "--device", "cpu", "--quiet", "--checkpoint-every", "100000")


def _start_train(out: Path) -> subprocess.Popen:
    from spinsyn.locks import lock_path

    p = subprocess.Popen(spinsyn_cmd(*LONG_TRAIN, "--out", str(out)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, **CHILD_ENV})
    assert _wait(lambda: lock_path(out).exists() or p.poll() is not None), "no lock file"
    assert p.poll() is None, p.stderr.read()
    return p


def test_sigterm_of_train_removes_its_lock_file(tmp_path):
    from spinsyn.locks import lock_path

    out = tmp_path / "run"
    p = _start_train(out)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "Traceback" not in err, err
    assert not lock_path(out).exists()


def test_lock_file_of_kill9_is_cleared_by_the_next_command(tmp_path):
    from spinsyn.locks import lock_path

    out = tmp_path / "run"
    p = _start_train(out)
    p.kill()
    p.communicate(timeout=60)
    assert lock_path(out).exists()  # kill -9 runs no cleanup: the file stays, unlocked
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("not a run\n")
    r = subprocess.run(spinsyn_cmd(*TRAIN.split(), "--out", str(out)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "not empty" in r.stderr, r.stderr  # refused, yet the stale lock file is gone
    assert not lock_path(out).exists()
    (out / "notes.txt").unlink()
    r = subprocess.run(spinsyn_cmd(*TRAIN.split(), "--out", str(out)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not lock_path(out).exists() and not _leftovers(tmp_path)


# ------------------------------------------------------------------------------------- signals while exporting
_GUARD_SCRIPT = textwrap.dedent("""
    import os, signal, sys, weakref
    from spinsyn.hw_export.staging import check_interrupted, interrupt_guard

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIG{sig})
            sum(range(10000))  # the handler runs here, inside the finaliser

    def callback(ref):
        os.kill(os.getpid(), signal.SIG{sig})
        sum(range(10000))

    class Obj:
        pass

    try:
        with interrupt_guard():
            if "{where}" == "__del__":
                x = Finalised()
            else:
                x = Obj()
                r = weakref.ref(x, callback)
            del x
            print("the export goes on to its next safe point", flush=True)
            check_interrupted()
            print("not interrupted")
    except KeyboardInterrupt:
        sys.exit(130)  # as the CLI does
""")


@pytest.mark.parametrize("where", ["__del__", "weakref-callback"])
@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_signal_inside_a_finaliser_is_quiet_and_still_stops(where, sig):
    """The issue's "Exception ignored ... SystemExit: 143": the guard's handler raised inside a finaliser (h5py's
    weakref registry, a thread pool); now it is recorded silently and raised at the next safe point."""
    r = subprocess.run([sys.executable, "-c", _GUARD_SCRIPT.format(sig=sig, where=where)], capture_output=True,
                       text=True, timeout=60)
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "safe point" in r.stdout and "not interrupted" not in r.stdout
    assert r.returncode == (143 if sig == "TERM" else 130)


def test_guard_restores_the_unraisable_hook():
    from spinsyn.hw_export.staging import interrupt_guard

    before = sys.unraisablehook
    with interrupt_guard():
        assert sys.unraisablehook is not before
    assert sys.unraisablehook is before


SIGTERM_TRIES = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]  # seconds after the staging folder appears
#: 200 x 50 weights onto 175 tiles (staging ~0.5 s), a fixed write pulse (no pulse search: ~1 s of work)
EXPORT_ARGS = ("--synapse", "compound:4", "--tile", "8x8", "--width-ns", "1")


def _staging(folder: Path) -> bool:
    return any(n.startswith(".spinsyn-export-") for n in os.listdir(folder))


#: the tries in one process (one interpreter start for all): ``spinsyn.cli.main`` exports while a thread sends
#: SIGTERM once the staging folder exists; stderr of each try is framed by markers
_TRIES_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from pathlib import Path
    from spinsyn.cli import main

    def sigterm(signum, frame):  # as the console script's own handler (spinsyn.cli._sigterm)
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, sigterm)
    base, w, args, delays = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])

    def fire(folder, delay, stop):
        while not stop.is_set() and not any(n.startswith(".spinsyn-export-") for n in os.listdir(folder)):
            time.sleep(0.002)
        if not stop.is_set():
            time.sleep(delay)
            os.kill(os.getpid(), signal.SIGTERM)

    for k, delay in enumerate(delays):
        folder = base / f"try{k}"
        folder.mkdir()
        stop = threading.Event()
        th = threading.Thread(target=fire, args=(folder, delay, stop), daemon=True)
        print(f"@@ try {k}", file=sys.stderr, flush=True)
        rc = None
        try:
            th.start()
            rc = main(["export", w, *args, "--out", str(folder / "chip")])
            stop.set()
            th.join()
        except SystemExit as exc:
            rc = rc if rc is not None else exc.code
        stop.set()
        print(json.dumps({"k": k, "rc": rc, "folder": str(folder)}), flush=True)
""")


def _export_sigterm_cli(w: Path, folder: Path, delay: float) -> tuple[int, str, Path]:
    folder.mkdir()
    chip = folder / "chip"
    p = subprocess.Popen(spinsyn_cmd("export", str(w), *EXPORT_ARGS, "--out", str(chip)), cwd=folder,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **CHILD_ENV})
    assert _wait(lambda: _staging(folder) or p.poll() is not None)
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    return p.returncode, err, chip


def _export_sigterm_loop(w: Path, base: Path) -> list[tuple[int, str, Path]]:
    r = subprocess.run([sys.executable, "-c", _TRIES_SCRIPT, str(base), str(w), json.dumps(EXPORT_ARGS),
                        json.dumps(SIGTERM_TRIES)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **CHILD_ENV})
    assert r.returncode == 0, r.stderr[-3000:]
    errs = r.stderr.split("@@ try ")[1:]
    rows = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    assert len(rows) == len(errs) == len(SIGTERM_TRIES), r.stdout + r.stderr
    return [(row["rc"], err.partition("\n")[2], Path(row["folder"]) / "chip") for row, err in zip(rows, errs)]


@pytest.fixture(scope="module")
def sigterm_outcomes(tmp_path_factory) -> list[tuple[int, str, Path]]:
    """SIGTERM during export staging, 8 tries in one process and 2 through the console script."""
    base = tmp_path_factory.mktemp("sigterm")
    w = base / "w.npy"
    np.save(w, np.random.default_rng(0).random((200, 50)))
    (base / "loop").mkdir()
    with ThreadPoolExecutor(max_workers=2) as ex:
        loop = ex.submit(_export_sigterm_loop, w, base / "loop")
        cli = [ex.submit(_export_sigterm_cli, w, base / f"cli{k}", d) for k, d in enumerate((0.05, 0.15))]
        return loop.result() + [c.result() for c in cli]


@pytest.mark.parametrize("k", range(len(SIGTERM_TRIES) + 2))
def test_sigterm_during_export_staging(k, sigterm_outcomes):
    """Exit 143, at most one stderr line, no "Exception ignored", no chip, no temporary folder, no lock file (or,
    after the commit, a complete chip)."""
    from spinsyn.hw_export import verify_chip

    rc, err, chip = sigterm_outcomes[k]
    assert "Exception ignored" not in err and "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.strip() and "warning" not in ln]) <= 1, err
    if rc == 0:  # the signal came after the commit: the chip is complete
        verify_chip(chip)
    else:
        assert rc == 143, err
        assert not chip.exists()
    assert not _leftovers(chip.parent), _leftovers(chip.parent)


def test_sigterm_tries_mostly_hit_staging(sigterm_outcomes):
    assert sum(rc == 143 for rc, _, _ in sigterm_outcomes) >= len(sigterm_outcomes) // 2


# ------------------------------------------------------------------------- chip folders pointing outside them
def _chip_copy(hostile_env, tmp_path: Path) -> Path:
    chip = tmp_path / "chip"
    shutil.copytree(hostile_env["chip"], chip)
    return chip


def _relist(chip: Path, files: list[str]) -> None:
    """Rewrite the manifest to list ``files`` (sizes and hashes as they read now, content hash recomputed)."""
    from spinsyn.fileio import to_json
    from spinsyn.hw_export.chipfile import MANIFEST_NAME, manifest_doc

    (chip / MANIFEST_NAME).write_text(to_json(manifest_doc(chip, files, 0)) + "\n")


def _listed(chip: Path) -> list[str]:
    return [e["path"] for e in json.loads((chip / "manifest.json").read_text())["files"]]


def _link_outside(chip: Path, name: str, tmp_path: Path) -> Path:
    """Move ``chip/name`` outside the chip and leave a symlink to it (same bytes: sizes and hashes match)."""
    outside = tmp_path / f"outside-{name}"
    shutil.move(chip / name, outside)
    (chip / name).symlink_to(outside)
    return outside


@pytest.mark.parametrize("name", ["layer_targets_uS.csv", "report.json", "chip.h5"])
def test_verify_refuses_a_listed_symlink(name, hostile_env, tmp_path, capsys):
    from spinsyn.cli import main

    chip = _chip_copy(hostile_env, tmp_path)
    _link_outside(chip, name, tmp_path)
    assert main(["export", "verify", str(chip)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and "symbolic link" in err, err


def test_verify_refuses_a_listed_folder_symlink(hostile_env, tmp_path, capsys):
    from spinsyn.cli import main

    chip = _chip_copy(hostile_env, tmp_path)
    (tmp_path / "elsewhere").mkdir()
    shutil.move(chip / "report.json", tmp_path / "elsewhere" / "report.json")
    (chip / "sub").symlink_to(tmp_path / "elsewhere")
    _relist(chip, [p if p != "report.json" else "sub/report.json" for p in _listed(chip)])
    assert main(["export", "verify", str(chip)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sub/report.json" in err and "symbolic link" in err, err


@pytest.mark.parametrize("entry", ["../x.csv", "/tmp/x.csv", "a/../../x.csv"])
def test_verify_refuses_entries_outside_the_chip(entry, hostile_env, tmp_path, capsys):
    from spinsyn.cli import main

    chip = _chip_copy(hostile_env, tmp_path)
    doc = json.loads((chip / "manifest.json").read_text())
    doc["files"].append({"path": entry, "bytes": 1, "sha256": "0" * 64})
    from spinsyn.fileio import to_json
    from spinsyn.hw_export.chipfile import _content_hash

    doc["content_sha256"] = _content_hash(doc)
    (chip / "manifest.json").write_text(to_json(doc) + "\n")
    assert main(["export", "verify", str(chip)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and entry in err, err


def test_verify_refuses_a_manifest_symlink(hostile_env, tmp_path, capsys):
    from spinsyn.cli import main

    chip = _chip_copy(hostile_env, tmp_path)
    _link_outside(chip, "manifest.json", tmp_path)
    assert main(["export", "verify", str(chip)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "manifest.json" in err and "symbolic link" in err, err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def _overwrite(hostile_env, chip: Path) -> int:
    from spinsyn.cli import main

    return main(["export", hostile_env["w"], "--synapse", "compound:4", "--tile", "64x64", "--no-csv",
                 "--out", str(chip), "--overwrite"])


@pytest.mark.parametrize("entry", ["../x", "/tmp/spinsyn-never-x", "a/../../x", "link.csv", "linkdir/f"])
def test_overwrite_refuses_a_manifest_pointing_outside(entry, hostile_env, tmp_path, capsys):
    """``--overwrite`` replaces only a chip folder whose manifest lists plain files inside it."""
    chip = _chip_copy(hostile_env, tmp_path)
    outside = tmp_path / "x"
    outside.write_text("somebody's file\n")
    if entry == "link.csv":
        (chip / "link.csv").symlink_to(outside)
    if entry == "linkdir/f":
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "f").write_text("f\n")
        (chip / "linkdir").symlink_to(tmp_path / "d")
    doc = json.loads((chip / "manifest.json").read_text())
    doc["files"].append({"path": entry, "bytes": 1, "sha256": "0" * 64})
    (chip / "manifest.json").write_text(json.dumps(doc))
    before = _snapshot(tmp_path)
    assert _overwrite(hostile_env, chip) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spinsyn: error: --overwrite: ") and entry in err, err
    assert _snapshot(tmp_path) == before


def test_overwrite_still_replaces_a_plain_chip(hostile_env, tmp_path, capsys):
    chip = _chip_copy(hostile_env, tmp_path)
    from spinsyn.hw_export import verify_chip

    assert _overwrite(hostile_env, chip) == 0, capsys.readouterr().err
    assert verify_chip(chip)["files_checked"] >= 3 and not _leftovers(tmp_path)


def test_export_refused_write_leaves_old_chip_in_place(hostile_env, tmp_path):
    """--overwrite under a file-size limit: the write fails before the commit, the old chip stays as it was."""
    chip = _chip_copy(hostile_env, tmp_path)
    before = _snapshot(chip)
    f = Fault("x", EXPORT_W + " --no-csv --overwrite --out {t}/chip", "{t}/chip/", 1 * KB)
    r = subprocess.run(spinsyn_cmd(*[_fill(a, hostile_env, tmp_path) for a in f.args.split()]), capture_output=True,
                       text=True, cwd=tmp_path, timeout=300, env={**os.environ, **CHILD_ENV},
                       preexec_fn=_limit(f.limit))
    assert r.returncode == 2 and r.stderr.startswith(f"spinsyn: error: {chip}/") and "File too large" in r.stderr
    assert _snapshot(chip) == before and not _leftovers(tmp_path)


# ------------------------------------------------------------------------- a signalled export that does not unwind
_HANG_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from spinsyn.hw_export import interrupts
    from spinsyn.hw_export.staging import Staging, interrupt_guard

    interrupts.FORCED_EXIT_S = 1.0
    out = Path(sys.argv[1])
    with interrupt_guard(), Staging(out) as st:
        (st.payload / "part.h5").write_bytes(b"x" * 1000)
        print("staged", flush=True)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except SystemExit:
            pass  # as a thread stuck on a lock the interruption left held: the unwinding never gets past here
        while True:
            time.sleep(0.05)
""")


def test_an_export_that_does_not_unwind_after_sigterm_still_ends_and_leaves_nothing(tmp_path):
    """The watchdog of hw_export.interrupts: FORCED_EXIT_S after the signal the process removes its staging folder
    and lock file, prints one line and exits 143, even though its main thread never unwinds."""
    out = tmp_path / "chip"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", _HANG_SCRIPT, str(out)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **CHILD_ENV})
    assert r.returncode == 143, r.stderr
    assert r.stdout.strip() == "staged" and time.monotonic() - t0 < 30
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("spinsyn: error: interrupted: the export did not stop"), r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []
