"""Hostile studies (issue #21): a verified stage cache, studies checked before any work, honest exit codes.

* cache: every entry carries the sha256 of its files (``entry.json``); an edited, truncated, deleted, added or
  linked file, a missing, edited or old manifest, or something else at the entry's path is recomputed with one
  warning line and replaced: never trusted, never a permanent failure;
* the study file: an axis given twice under any spelling, and a file that sets nothing, are refused;
* data: ``network.n_train`` / ``network.n_test`` beyond the images of the MNIST source are refused up front;
* ``--scheduler local:N`` is capped by the machine's cores and memory; the LocalCluster takes no fixed port;
* ``spinsyn study`` exits 1 when trials failed (2 stays bad input).

The studies are tiny (10 neurons, 100 images, a 4-instance reference sweep); the one real study runs once per
module and every cache test works on a copy of it.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from spinsyn import mnist, parallel
from spinsyn.fileio import sha256_file, write_json
from spinsyn.study import execute, load_spec, parse_scheduler, run_study
from spinsyn.study.cache import ENTRY_FILE, compute_entry, entry_info, verify_entry

QUICK = """\
[study]
name = "hostile"
{study}
[device]
preset = "compound"
engine = "reference"
trials = 4
dt_ms = [0.0, 60.0, 6.0]

[network]
neurons = 10
{network}
[export]
write_pulse = "fixed"

[axes]
{axes}
"""
SMALL = "n_train = 100\nn_test = 100\n"
TWO_TRIALS = "device.n_mtj = [2]\ndevice.read_noise = [0.0, 0.05]"


def study_file(folder: Path, axes: str = TWO_TRIALS, study: str = "", network: str = SMALL,
               name: str = "study.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(QUICK.format(axes=axes, study=study, network=network))
    return p


def rows(out: Path, wall: bool = False) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as fh:
        return [{k: v for k, v in r.items() if wall or k != "wall_s"} for r in csv.DictReader(fh)]


def spinsyn_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "spinsyn.cli", *args]


def staging_left(out: Path) -> list[Path]:
    return sorted((out / "cache").glob("*/.staging-*"))


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """(study file, study folder) of the two-trial quick study, run once in process (they share sweep and fit)."""
    base = tmp_path_factory.mktemp("done")
    toml = study_file(base)
    out = base / "out"
    r = run_study(toml, out, "none", progress=False)
    assert (r.ok, r.failed) == (2, 0)
    return toml, out


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """An MNIST folder of 30 training and 20 test images (the first of the embedded subset)."""
    folder = tmp_path_factory.mktemp("tiny_mnist")
    for split, n in (("train", 30), ("test", 20)):
        images, labels = mnist.load_mnist(split, mnist.EMBEDDED_DIR, n=n)
        img_name, lab_name = mnist.FILES[split]
        mnist.write_idx_gz(folder / f"{img_name}.gz", images)
        mnist.write_idx_gz(folder / f"{lab_name}.gz", labels)
    return folder


# ------------------------------------------------------------------------------- cache entries, unit level
KEY = "c" * 64


def _action(calls: list[int]):
    def make(folder: Path) -> None:
        calls.append(1)
        (folder / "a.txt").write_text("alpha\n")
        (folder / "sub").mkdir()
        (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4)

    return make


def _compute(root: Path, calls: list[int], key: str = KEY) -> Path:
    return compute_entry(root, "fit", key, {"v": 1}, _action(calls))


def test_an_intact_entry_is_reused_and_its_manifest_hashes_every_file(tmp_path):
    calls: list[int] = []
    e = _compute(tmp_path, calls)
    assert _compute(tmp_path, calls) == e and calls == [1]  # verified, not recomputed
    files = entry_info(e)["files"]
    assert files == {"a.txt": sha256_file(e / "a.txt"), "sub/b.bin": sha256_file(e / "sub" / "b.bin")}
    assert verify_entry(e, "fit", KEY) is None


def _edit(e: Path, _: Path) -> None:
    (e / "a.txt").write_text("omega\n")


def _truncate(e: Path, _: Path) -> None:
    with open(e / "sub" / "b.bin", "r+b") as fh:
        fh.truncate(10)


def _delete(e: Path, _: Path) -> None:
    (e / "sub" / "b.bin").unlink()


def _add(e: Path, _: Path) -> None:
    (e / "extra.txt").write_text("planted\n")


def _no_manifest(e: Path, _: Path) -> None:
    (e / ENTRY_FILE).unlink()


def _old_manifest(e: Path, _: Path) -> None:
    """What the previous spinsyn wrote: no hashes."""
    write_json(e / ENTRY_FILE, {"stage": "fit", "key": KEY, "inputs": {"v": 1}, "wall_s": 0.1},
               fmt="spinsyn-study-entry", version=1)


def _manifest_field(e: Path, _: Path) -> None:
    doc = json.loads((e / ENTRY_FILE).read_text())
    doc["wall_s"] = 0.0
    (e / ENTRY_FILE).write_text(json.dumps(doc))


def _file_and_hash(e: Path, _: Path) -> None:
    """The file edited and its listed hash updated to match: the manifest's own seal no longer does."""
    (e / "a.txt").write_text("omega\n")
    doc = json.loads((e / ENTRY_FILE).read_text())
    doc["files"]["a.txt"] = sha256_file(e / "a.txt")
    (e / ENTRY_FILE).write_text(json.dumps(doc))


def _manifest_garbage(e: Path, _: Path) -> None:
    (e / ENTRY_FILE).write_text("{not json")


def _other_entry(e: Path, tmp: Path) -> None:
    """A valid entry of another key copied onto this one."""
    other = _compute(tmp / "other", [], key="d" * 64)
    shutil.rmtree(e)
    shutil.copytree(other, e)


def _file_link(e: Path, tmp: Path) -> None:
    (tmp / "same.txt").write_text("alpha\n")
    (e / "a.txt").unlink()
    (e / "a.txt").symlink_to(tmp / "same.txt")


def _folder_link(e: Path, tmp: Path) -> None:
    shutil.copytree(e / "sub", tmp / "sub_copy")
    shutil.rmtree(e / "sub")
    (e / "sub").symlink_to(tmp / "sub_copy")


def _entry_is_a_file(e: Path, _: Path) -> None:
    shutil.rmtree(e)
    e.write_text("not a folder")


def _entry_is_a_link(e: Path, tmp: Path) -> None:
    elsewhere = _compute(tmp / "elsewhere", [])
    shutil.rmtree(e)
    e.symlink_to(elsewhere)


TAMPER = [
    (_edit, "a.txt: sha256 differs"),
    (_truncate, "sub/b.bin: sha256 differs"),
    (_delete, "sub/b.bin: missing"),
    (_add, "extra.txt: not in the manifest"),
    (_no_manifest, "entry.json: missing"),
    (_old_manifest, "entry.json: format_version 1"),
    (_manifest_field, "entry.json: its content does not match its own sha256"),
    (_file_and_hash, "entry.json: its content does not match its own sha256"),
    (_manifest_garbage, "entry.json: unreadable"),
    (_other_entry, f"entry.json: not the manifest of fit entry {KEY[:12]}"),
    (_file_link, "a.txt: a link"),
    (_folder_link, "sub: a link"),
    (_entry_is_a_file, f"{KEY}: not a folder"),
    (_entry_is_a_link, f"{KEY}: not a folder"),
]


@pytest.mark.parametrize("tamper,problem", TAMPER, ids=[t.__name__.strip("_") for t, _ in TAMPER])
def test_a_bad_entry_is_recomputed_with_a_warning(tmp_path, capsys, tamper, problem):
    root = tmp_path / "study"
    calls: list[int] = []
    e = _compute(root, calls)
    tamper(e, tmp_path)
    capsys.readouterr()
    assert _compute(root, calls) == e and calls == [1, 1]  # the old code reused it as it was
    err = capsys.readouterr().err
    assert err.startswith(f"spinsyn: warning: cache entry {e} failed verification ({problem}")
    assert err.rstrip().endswith("; recomputing") and len(err.strip().splitlines()) == 1
    assert e.is_dir() and not e.is_symlink() and (e / "a.txt").read_text() == "alpha\n"
    assert verify_entry(e, "fit", KEY) is None and not (e / "extra.txt").exists()
    assert [p.name for p in e.parent.iterdir()] == [KEY]  # no staging or discarded folder left
    for other in (tmp_path / "elsewhere", tmp_path / "other"):  # what a link pointed to is untouched
        if other.exists():
            (entry,) = (other / "cache" / "fit").iterdir()
            assert verify_entry(entry, "fit", entry.name) is None


# ------------------------------------------------------------------------------- cache entries in a study
def _entry_of(out: Path, stage: str) -> Path:
    col = {"sweep": "sweep_dir", "fit": "fit_dir", "train": "run_dir", "export": "chip_dir"}.get(stage)
    if col is not None:
        return out / rows(out)[0][col]
    return sorted((out / "cache" / stage).iterdir())[0]


def _edit_accuracy(e: Path) -> None:
    doc = json.loads((e / "simulate.json").read_text())
    for cond in doc["accuracy"].values():
        for k in cond:
            cond[k] = 0.97
    (e / "simulate.json").write_text(json.dumps(doc, indent=2))


def _truncate_h5(e: Path) -> None:
    with open(e / "sweep.h5", "r+b") as fh:
        fh.truncate((e / "sweep.h5").stat().st_size // 2)


def _study_old_manifest(e: Path) -> None:
    doc = json.loads((e / ENTRY_FILE).read_text())
    write_json(e / ENTRY_FILE, {k: doc[k] for k in ("stage", "key", "inputs", "wall_s")},
               fmt="spinsyn-study-entry", version=1)


STUDY_TAMPER = [
    ("simulate", _edit_accuracy, "simulate.json: sha256 differs"),
    ("sweep", _truncate_h5, "sweep.h5: sha256 differs"),
    ("fit", lambda e: (e / "rule.json").unlink(), "rule.json: missing"),
    ("export", lambda e: (e / ENTRY_FILE).unlink(), "entry.json: missing"),
    ("train", _study_old_manifest, "entry.json: format_version 1"),
]


@pytest.mark.parametrize("stage,tamper,problem", STUDY_TAMPER, ids=[f"{s}-{p.split(':')[0]}" for s, _, p in
                                                                     STUDY_TAMPER])
def test_a_tampered_study_entry_is_recomputed_not_trusted(tmp_path, capsys, done, stage, tamper, problem):
    toml, base = done
    out = tmp_path / "out"
    shutil.copytree(base, out, symlinks=True)
    e = _entry_of(out, stage)
    before = json.loads((e / "simulate.json").read_text())["accuracy"] if stage == "simulate" else None
    tamper(e)
    for name in ("results.csv", "results.parquet"):
        (out / name).unlink()
    capsys.readouterr()
    r = run_study(toml, out, "none", progress=False)
    err = capsys.readouterr().err
    assert (r.ok, r.failed) == (2, 0)  # the old code: a truncated sweep.h5 failed both trials, every rerun
    assert rows(out) == rows(base)  # the values of the untampered entries (not 0.97)
    warned = [ln for ln in err.splitlines() if ln.startswith("spinsyn: warning: cache entry")]
    assert warned == [ln for ln in warned if f"cache entry {e.resolve()} failed verification ({problem}" in ln]
    assert len(warned) == 1 and warned[0].endswith("; recomputing")
    assert verify_entry(e, stage, e.name) is None and not staging_left(out)
    if before is not None:
        assert json.loads((e / "simulate.json").read_text())["accuracy"] == before


# ------------------------------------------------------------------------------- exit codes
def _fail_simulate_of(monkeypatch, noise: set[float]) -> None:
    """The simulate stage (which applies the read noise; the trials share their training) fails for ``noise``."""
    from spinsyn.study import stages

    real = stages.ACTIONS["simulate"]

    def simulate_or_fail(task, folder, upstream, root, jobs):
        if task.inputs["read_noise"] in noise:
            raise RuntimeError("device on fire")
        real(task, folder, upstream, root, jobs)

    monkeypatch.setitem(stages.ACTIONS, "simulate", simulate_or_fail)


@pytest.mark.parametrize("noise,failed", [({0.05}, [1]), ({0.0, 0.05}, [0, 1])], ids=["one-of-two", "all"])
def test_failed_trials_exit_1_saying_how_many_and_where(tmp_path, capsys, monkeypatch, done, noise, failed):
    from spinsyn.cli import main

    toml, base = done
    out = tmp_path / "out"
    shutil.copytree(base, out, symlinks=True)
    shutil.rmtree(out / "cache" / "simulate")  # the simulations (one per trial) run again; some fail
    for name in ("results.csv", "results.parquet"):
        (out / name).unlink()
    _fail_simulate_of(monkeypatch, noise)
    capsys.readouterr()
    rc = main(["study", str(toml), "--out", str(out), "--scheduler", "none", "--quiet"])
    cap = capsys.readouterr()
    assert rc == 1  # the old code exited 0
    shown = ", ".join(str(i) for i in failed)
    assert cap.err.strip().splitlines()[-1] == (
        f"spinsyn: study: {len(failed)} of 2 trials failed (trial {shown}); their errors are in the error column "
        f"of {out / 'results.csv'} (exit status 1)")
    assert f"{2 - len(failed)} ok, {len(failed)} failed" in cap.out
    got = rows(out)
    assert [got[i]["status"] for i in failed] == ["failed"] * len(failed)
    assert all("device on fire" in got[i]["error"] for i in failed)


def test_help_documents_the_exit_codes(capsys):
    from spinsyn.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["study", "--help"])
    assert ex.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 every trial ok; 1 the study ran but some trials failed" in text
    assert "2 bad input" in text


# ------------------------------------------------------------------------------- duplicate axes
DUPLICATES = {
    "quoted-then-dotted": '"device.n_mtj" = [1, 2]\ndevice.n_mtj = [4, 8]',
    "dotted-then-quoted": 'device.n_mtj = [4, 8]\n"device.n_mtj" = [1, 2]',
    "quoted-and-table": '"device.n_mtj" = [1, 2]\n[axes.device]\nn_mtj = [4, 8]',
    "inline-table-and-quoted": 'device = { n_mtj = [4] }\n"device.n_mtj" = [2]',
    "escaped-dot-and-dotted": '"device\\u002en_mtj" = [1]\ndevice.n_mtj = [2]',
    "read-noise-quoted-and-dotted": '"device.read_noise" = [0.0]\ndevice.read_noise = [0.05]\ndevice.n_mtj = [2]',
    "network-key-and-table": '"network.seed" = [1]\n[axes.network]\nseed = [2]',
    "list-table-and-range-table": '[axes.device]\nn_mtj = [2, 4]\n[axes."device.n_mtj"]\nlow = 1\nhigh = 8',
}


@pytest.mark.parametrize("axes", list(DUPLICATES.values()), ids=list(DUPLICATES))
def test_an_axis_given_twice_under_any_spelling_is_refused(tmp_path, axes):
    study = 'mode = "random"\nsamples = 2\n' if "low" in axes else ""
    p = study_file(tmp_path, axes=axes, study=study)
    with pytest.raises(ValueError) as err:
        load_spec(p)  # the old code merged them, keeping the last
    msg = str(err.value)
    assert msg.startswith(f"{p}: axes.") and "given twice (as axes." in msg and "give each axis once" in msg


# ------------------------------------------------------------------------------- empty study files
EMPTY = {
    "empty": "",
    "whitespace": "\n   \n\t\n",
    "comment": "# nothing here\n",
    "comments-and-blanks": "# one\n\n   # two\n\n",
    "study-name-only": '[study]\nname = "x"\n',
    "empty-axes": "[axes]\n",
    "empty-tables": "[study]\n[axes]\n[device]\n[network]\n",
    "empty-nested-axes": "[axes.device]\n",
}


@pytest.mark.parametrize("text", list(EMPTY.values()), ids=list(EMPTY))
def test_a_study_file_that_sets_nothing_is_refused(tmp_path, text):
    p = tmp_path / "STUDY.toml"
    p.write_text(text)
    with pytest.raises(ValueError) as err:
        load_spec(p)  # the old code ran a full default study
    assert str(err.value).startswith(f"{p}: no axes and no parameters")


# ------------------------------------------------------------------------------- image counts, up front
def _garbage_mnist(tmp_path: Path, tiny: Path) -> Path:
    bad = tmp_path / "bad_mnist"
    shutil.copytree(tiny, bad)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    return bad


DATA = [  # (study lines, network lines, axes, expected message after the study file's name; {tiny} = folder)
    ("", "n_train = 100000\nn_test = 100\n", "device.n_mtj = [2]", "network.n_train: got 100000, but the MNIST "
     "training set at "),
    ("", "n_train = 100\nn_test = 20000\n", "device.n_mtj = [2]", "network.n_test: got 20000, but the MNIST test "
     "set at "),
    ('data_dir = "{tiny}"\n', SMALL, "device.n_mtj = [2]", "network.n_train: got 100, but the MNIST training set at "
     "{tiny} (data-dir) holds only 30 images"),
    ('data_dir = "{tiny}"\n', "n_test = 20\n", "network.n_train = [10, 31]", "axes.network.n_train: got 31, but "
     "the MNIST training set at {tiny} (data-dir) holds only 30 images"),
    ('data_dir = "{tiny}"\nmode = "random"\nsamples = 2\n', "n_train = 30\n",
     "network.n_test = { low = 5, high = 21 }", "axes.network.n_test: got 21, but the MNIST test set at {tiny} "
     "(data-dir) holds only 20 images"),
    ('data_dir = "{tiny}"\nmode = "optuna"\nsamples = 2\n', "n_test = 20\n",
     "network.n_train = { low = 10, high = 50 }", "axes.network.n_train: got 50"),
    ('data_dir = "{tiny}"\n', "", "device.n_mtj = [2]", "network.n_train (default): got 2000, but the MNIST "
     "training set at {tiny} (data-dir) holds only 30 images"),
    ('data_dir = "{bad}"\n', "n_train = 10\nn_test = 10\n", "device.n_mtj = [2]", ""),
]


@pytest.mark.parametrize("study,network,axes,message", DATA,
                         ids=["n_train-100000", "n_test-20000", "n_train-over-data-dir", "axis-value",
                              "random-range-end", "optuna-range-end", "default-n_train", "corrupt-idx-header"])
def test_image_counts_are_checked_before_any_work(tmp_path, tiny_mnist, study, network, axes, message):
    bad = _garbage_mnist(tmp_path, tiny_mnist)
    p = study_file(tmp_path / "spec", axes=axes, study=study.format(tiny=tiny_mnist, bad=bad), network=network)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        run_study(p, out, "none", progress=False)  # the old code ran sweep and fit, then failed every training
    msg = str(err.value)
    if message:
        assert msg.startswith(f"{p}: {message.format(tiny=tiny_mnist)}"), msg
    else:
        assert msg.startswith(f"{bad / 'train-images-idx3-ubyte.gz'}: cannot read"), msg
    assert not out.exists()  # no folder, no cache


def test_image_counts_at_the_limit_are_accepted(tmp_path, tiny_mnist):
    from spinsyn.study.trials import check_image_counts, image_counts

    p = study_file(tmp_path, axes="network.n_train = [10, 30]", study=f'data_dir = "{tiny_mnist}"\n',
                   network="n_test = 20\n")
    check_image_counts(load_spec(p), str(tiny_mnist))
    assert image_counts(str(tiny_mnist)) == {"train": (30, f"{tiny_mnist} (data-dir)"),
                                             "test": (20, f"{tiny_mnist} (data-dir)")}


# ------------------------------------------------------------------------------- schedulers
def test_local_1000_is_refused_stating_the_cap():
    cap, _ = execute.local_cap()
    with pytest.raises(ValueError) as err:
        parse_scheduler("local:1000")  # the old code started 1000 workers
    assert str(err.value).startswith("--scheduler: got 'local:1000', expected local:N with 1 <= N <= ")
    assert f"this machine allows at most local:{cap} (" in str(err.value)


@pytest.mark.parametrize("text", ["local:0", "local:-1", "local:²", "local: 2", "local:99999999999"])
def test_bad_local_counts_are_refused_naming_the_option_and_the_cap(monkeypatch, text):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)  # fixed, so the message can be compared whole
    monkeypatch.setattr(parallel, "available_memory", lambda: 8 * 2**30)
    cap, why = execute.local_cap()
    assert (cap, why) == (2, "2 cores, 8.0 GiB memory available at 1 GiB per worker")
    with pytest.raises(ValueError) as err:
        parse_scheduler(text)  # the old code: no cap stated ("local:²": int() failed, naming no option)
    assert str(err.value) == (f"--scheduler: got {text!r}, expected local:N with 1 <= N <= {cap}: this machine "
                              f"allows at most local:{cap} ({why})")


def test_a_non_ascii_port_is_refused_naming_the_option():
    with pytest.raises(ValueError, match=r"^--scheduler: got 'tcp://h:①', expected tcp://HOST:PORT"):
        parse_scheduler("tcp://h:①")  # the old code: int() failed, naming no option


def test_local_is_capped_by_cores(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 4)
    monkeypatch.setattr(parallel, "available_memory", lambda: 64 * 2**30)
    assert parse_scheduler("local:4") == ("local", 4) and parse_scheduler("local") == ("local", 4)
    assert execute.default_scheduler() == "local:4"
    with pytest.raises(ValueError, match=r"at most local:4 \(4 cores, 64\.0 GiB memory available"):
        parse_scheduler("local:5")


def test_local_is_capped_by_memory(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 16)
    monkeypatch.setattr(parallel, "available_memory", lambda: int(2.5 * 2**30))
    assert execute.local_cap()[0] == 2 and execute.default_scheduler() == "local:2"
    with pytest.raises(ValueError, match=r"at most local:2 \(16 cores, 2\.5 GiB memory available at 1 GiB per"):
        parse_scheduler("local:3")
    monkeypatch.setattr(parallel, "available_memory", lambda: 100 * 2**20)  # less than one worker: still one
    assert parse_scheduler("local") == ("local", 1)


def test_the_local_cluster_takes_no_fixed_dashboard_port(capfd):
    """With port 8787 taken (as by another study), no "Port 8787 is already in use" warning."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # taken already: just as good
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with execute.open_client("local:1") as client:
                link = client.dashboard_link
        text = " ".join(str(w.message) for w in caught) + capfd.readouterr().err
    finally:
        holder.close()
    assert "8787" not in text and ":8787/" not in link and "127.0.0.1" in link


# ------------------------------------------------------------------------------- the command line
def _empty(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.toml").write_text("\n# nothing\n")
    return folder / "empty.toml"


def _cap_plus_one() -> str:
    return f"local:{execute.local_cap()[0] + 1}"


CLI = {
    "duplicate-axes": (lambda d: ["study", str(study_file(d, axes=DUPLICATES["quoted-then-dotted"]))],
                       "axes.device.n_mtj: given twice"),
    "empty-file": (lambda d: ["study", str(_empty(d))], "no axes and no parameters"),
    "n_train": (lambda d: ["study", str(study_file(d, network="n_train = 100000\nn_test = 100\n"))],
                "network.n_train: got 100000"),
    "scheduler-cap": (lambda d: ["study", str(study_file(d)), "--scheduler", _cap_plus_one()],
                      "--scheduler: got 'local:"),
    "device-sweep-cap": (lambda d: ["device", "sweep", "--model", "compound", "--dt-ms", "0:10:5", "--trials", "2",
                                    "--engine", "reference", "--scheduler", _cap_plus_one()],
                         "--scheduler: got 'local:"),
}


@pytest.mark.parametrize("name", list(CLI))
def test_cli_refuses_with_one_line_and_exit_2_before_any_work(tmp_path, name):
    argv, message = CLI[name]
    args = argv(tmp_path / "spec")
    out = tmp_path / ("out.h5" if args[0] == "device" else "out")
    if args[0] == "study":
        args += ["--scheduler", "none"] if "--scheduler" not in args else []
    r = subprocess.run(spinsyn_cmd(*args, "--out", str(out), "--quiet") if args[0] == "study" else
                       spinsyn_cmd(*args, "--out", str(out)), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinsyn: error: ") and message in lines[0], r.stderr
    assert not out.exists()
