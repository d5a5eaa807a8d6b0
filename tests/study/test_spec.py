"""The study file is checked before any work: unknown keys and bad values name the file and the key."""

from __future__ import annotations

import subprocess

import pytest
from spinsyn.study import load_spec, run_study
from spinsyn.study.trials import expand, plan

from .conftest import quick_toml, spinsyn_cmd


def test_quick_study_expands_to_a_grid(tmp_path):
    spec = load_spec(quick_toml(tmp_path, 'device.n_mtj = [2, 4]\n"device.read_noise" = [0.0, 0.02, 0.05]'))
    trials = expand(spec)
    assert spec.axis_keys == ["device.n_mtj", "device.read_noise"]
    assert [t.axes for t in trials[:4]] == [{"device.n_mtj": 2, "device.read_noise": r} for r in (0.0, 0.02, 0.05)] \
        + [{"device.n_mtj": 4, "device.read_noise": 0.0}]
    assert trials[5].settings["network.neurons"] == 10 and trials[5].settings["export.write_pulse"] == "fixed"
    keys = [{t.stage: t.key for t in plan(tr.settings, None)} for tr in trials]
    assert len({k["sweep"] for k in keys}) == 2 and len({k["fit"] for k in keys}) == 2  # shared by read noise
    assert len({k["train"] for k in keys}) == 2 and len({k["simulate"] for k in keys}) == 6  # noise: evaluation


def test_random_sample_is_seeded_and_inside_the_ranges(tmp_path):
    axes = 'device.n_mtj = {low = 1, high = 16}\ndevice.read_noise = {low = 0.001, high = 0.1, log = true}'
    p = quick_toml(tmp_path, axes, rule='[rule]\nsource = "published"\n')
    p.write_text(p.read_text().replace('name = "quick"', 'name = "quick"\nmode = "random"\nsamples = 6\nseed = 3'))
    a, b = expand(load_spec(p)), expand(load_spec(p))
    assert [t.axes for t in a] == [t.axes for t in b]
    assert all(1 <= t.axes["device.n_mtj"] <= 16 and isinstance(t.axes["device.n_mtj"], int) for t in a)
    assert all(0.001 <= t.axes["device.read_noise"] <= 0.1 for t in a)
    assert len({t.axes["device.n_mtj"] for t in a}) > 1
    assert "sweep" not in {t.stage for t in plan(a[0].settings, None)}  # the published rule needs no sweep


@pytest.mark.parametrize("edit,message", [
    (("[network]", "[network]\nneuron = 3"), "network.neuron: unknown key"),
    (("[network]", "[networks]"), "networks: unknown section"),
    (("neurons = 10", "neurons = 0"), "network.neurons: got 0"),
    (("neurons = 10", "neurons = 2.5"), "network.neurons: expected int"),
    (('preset = "compound"', 'preset = "nope"'), "device.preset: got 'nope'"),
    (('preset = "compound"', 'preset = "graded"'), "is a graded device"),
    (("dt_ms = [0.0, 60.0, 6.0]", "dt_ms = [60.0, 0.0, 6.0]"), "device.dt_ms: got [60.0, 0.0, 6.0]"),
    (("device.n_mtj = [2]", "device.n_mtj = [2, 300]"), "device.n_mtj: got 300"),
    (("device.n_mtj = [2]", "device.n_mtj = []"), "axes.device.n_mtj: expected at least one value"),
    (("device.n_mtj = [2]", "device.nmtj = [2]"), "axes.device.nmtj: unknown key"),
    (("device.n_mtj = [2]", "device.n_mtj = {low = 1, high = 4}"), "a grid needs a list of values"),
    (('name = "quick"', 'mode = "bayes"'), "study.mode: got 'bayes'"),
    (('name = "quick"', 'objectives = ["accuracy:max"]'), "only an optuna study has objectives"),
    (('name = "quick"', 'mode = "optuna"\nsamples = 2\nobjectives = ["speed:max"]'), "study.objectives: got 'speed'"),
    (('name = "quick"', 'mode = "random"'), "study.samples: a random study needs the number of trials"),
    (('engine = "reference"', 'engine = "reference"\nread_noise = 0.1'), "axes.device.read_noise: also fixed"),
    (('preset = "compound"', 'preset = "dw-mtj"'), "--read-noise applies to compound synapses only"),
    (("[network]", "[network"), "not valid TOML"),
])
def test_bad_study_files_are_refused_naming_the_key(tmp_path, edit, message):
    p = quick_toml(tmp_path)
    text = p.read_text()
    assert edit[0] in text
    p.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ValueError) as err:
        run_study(p, tmp_path / "out", "none", progress=False)
    assert str(err.value).startswith(str(p)) and message in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing done


def test_cli_prints_one_error_line_and_exits_2_before_any_work(tmp_path):
    p = quick_toml(tmp_path)
    p.write_text(p.read_text().replace("neurons = 10", "neurons = -1"))
    r = subprocess.run(spinsyn_cmd("study", str(p), "--out", str(tmp_path / "o"), "--scheduler", "none"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"spinsyn: error: {p}: network.neurons: got -1, expected a value in "
                                             "[1, 100000]"]
    assert not (tmp_path / "o").exists()
    r = subprocess.run(spinsyn_cmd("study", str(quick_toml(tmp_path, name="ok.toml")), "--out", str(tmp_path / "o"),
                                   "--scheduler", "local:0"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "spinsyn: error: --scheduler: got 'local:0'" in r.stderr


def test_a_folder_of_other_files_or_another_study_is_refused(tmp_path, quick_run):
    toml, out, _ = quick_run
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a spinsyn study folder"):
        run_study(toml, other, "none", progress=False)
    changed = quick_toml(tmp_path, 'device.n_mtj = [2]\ndevice.read_noise = [0.0]')
    with pytest.raises(ValueError, match="holds another study"):
        run_study(changed, out, "none", progress=False)
    commented = tmp_path / "commented.toml"  # comments and layout aside, the same study: every trial is done
    commented.write_text("# the quick study\n" + toml.read_text().replace(" = ", "="))
    assert run_study(commented, out, "none", progress=False).skipped == 2


def test_an_unreachable_scheduler_leaves_no_study_folder(tmp_path, monkeypatch):
    """The scheduler is reached before the study folder is made (a tcp:// nobody listens on: exit 2, nothing)."""
    import contextlib

    from spinsyn.study import runner

    @contextlib.contextmanager
    def unreachable(scheduler):
        raise ValueError(f"--scheduler: cannot reach {scheduler}")
        yield

    monkeypatch.setattr(runner, "open_client", unreachable)
    with pytest.raises(ValueError, match="cannot reach"):
        run_study(quick_toml(tmp_path / "spec"), tmp_path / "out", scheduler="tcp://127.0.0.1:1", progress=False)
    assert not (tmp_path / "out").exists()
