"""Design and condition axes: roles in the study file, Pareto fronts over the design axes one per condition value,
and the progress bar's ETA from finished trials only."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from spinsyn.report.figures import pareto_mask
from spinsyn.report.fronts import condition_fronts, front_figure, same_order, split_axes
from spinsyn.report.results import StudyResults, Trial, read_results
from spinsyn.report.study import FRONTS, front_columns, roles_of, study_document
from spinsyn.study import load_spec, run_study
from spinsyn.study.progress import WAITING, StudyBar, eta_s
from spinsyn.study.runner import same_study

from .conftest import quick_toml, spinsyn_cmd

NOISE_BY_MTJ = 'device.n_mtj = [1, 2]\ndevice.read_noise = [0.0, 0.02, 0.05]'


def test_read_noise_is_a_condition_by_default_and_roles_override_it(tmp_path):
    spec = load_spec(quick_toml(tmp_path, NOISE_BY_MTJ))
    assert spec.roles == {"device.n_mtj": "design", "device.read_noise": "condition"}
    p = quick_toml(tmp_path, NOISE_BY_MTJ + '\n\n[roles]\n"device.read_noise" = "design"\n', name="b.toml")
    assert load_spec(p).roles == {"device.n_mtj": "design", "device.read_noise": "design"}
    p = quick_toml(tmp_path, NOISE_BY_MTJ + '\n\n[roles]\ndevice.n_mtj = "condition"\n', name="c.toml")
    assert load_spec(p).roles == {"device.n_mtj": "condition", "device.read_noise": "condition"}


@pytest.mark.parametrize("roles,message", [
    ('"device.read_noise" = "choice"', "roles.device.read_noise: got 'choice', expected one of design, condition"),
    ('"device.g_spread" = "design"', "roles.device.g_spread: not an axis of this study"),
    ('"device.n_mtj" = "design"\ndevice.n_mtj = "condition"', "roles.device.n_mtj: given twice"),
])
def test_bad_roles_are_refused_naming_the_key(tmp_path, roles, message):
    p = quick_toml(tmp_path, NOISE_BY_MTJ + f"\n\n[roles]\n{roles}\n")
    with pytest.raises(ValueError) as err:
        run_study(p, tmp_path / "out", "none", progress=False)
    assert str(err.value).startswith(str(p)) and message in str(err.value)
    assert not (tmp_path / "out").exists()


def test_roles_do_not_make_another_study():
    a = '[axes]\n"device.read_noise" = [0.0, 0.05]\n'
    assert same_study(a, a + '[roles]\n"device.read_noise" = "design"\n')
    assert not same_study(a, a.replace("0.05", "0.02"))


def _synthetic(n_mtjs=(1, 2, 4), noises=(0.0, 0.02, 0.05)) -> StudyResults:
    """A grid over n_mtj x read noise: energy grows with n_mtj, accuracy grows with n_mtj and falls with noise."""
    trials = []
    for i, (n, r) in enumerate((n, r) for n in n_mtjs for r in noises):
        acc = float(0.5 + 0.1 * np.log2(n) - 2 * r)
        trials.append(Trial({"trial": str(i), "status": "ok", "error": "", "device.n_mtj": str(n),
                             "device.read_noise": repr(r), "accuracy": repr(acc), "accuracy_lo": repr(acc - 0.02),
                             "accuracy_hi": repr(acc + 0.02), "energy_pJ_per_synapse": repr(0.6 * n),
                             "devices_per_synapse": str(n)}))
    return StudyResults(None, [], ["device.n_mtj", "device.read_noise"], trials)


def test_fronts_are_over_design_axes_one_per_condition_value():
    results = _synthetic()
    design, conditions = split_axes(results, {"device.n_mtj": "design", "device.read_noise": "condition"})
    assert (design, conditions) == (["device.n_mtj"], ["device.read_noise"])
    fronts = condition_fronts(results.trials, design, conditions, "energy_pJ_per_synapse")
    assert [f.condition for f in fronts] == [f"read noise (σ/G) = {r}" for r in ("0", "0.02", "0.05")]
    for f, r in zip(fronts, ("0.0", "0.02", "0.05")):
        assert {t.cells["device.read_noise"] for t in f.trials} == {r}
        assert f.labels == ["n_mtj=1", "n_mtj=2", "n_mtj=4"]  # design values, no trial numbers, no read noise
        assert f.on.tolist() == pareto_mask(f.x, f.acc).tolist() == [True, True, True]
    # one front over every trial would call the noisy trials dominated: the per-condition fronts do not
    x = np.array([t.num("energy_pJ_per_synapse") for t in results.trials])
    acc = np.array([t.num("accuracy") for t in results.trials])
    assert not pareto_mask(x, acc).all()
    # read noise as a design axis: one front, labelled by both values
    (one,) = condition_fronts(results.trials, results.axes, [], "energy_pJ_per_synapse")
    assert one.condition == "" and "n_mtj=2, read_noise=0.02" in one.labels and not one.on.all()
    assert front_figure(fronts, "programming energy (pJ per synapse)").startswith(b"\x89PNG")


def test_a_cost_ordering_trials_as_another_is_the_same_front():
    x = np.array([1.0, 2.0, 2.0, 4.0])
    assert same_order(x, 3 * x + 1) and not same_order(x, np.array([1.0, 2.0, 3.0, 4.0]))


def test_an_optuna_study_plots_its_own_cost_objectives():
    doc = {"study": {"mode": "optuna", "objectives": ["accuracy:max", "devices:min", "retention_s:max"]}}
    assert front_columns(doc) == ("devices",)  # a cost is lower-is-better: retention (max) is not one
    assert front_columns({"study": {"mode": "grid"}}) == FRONTS == front_columns({})


def test_eta_only_from_finished_trials():
    assert eta_s(50.0, 0, 6) is None and eta_s(30.0, 2, 4) == 60.0
    with StudyBar(6, disable=True) as bar:
        bar.skip(2)  # done by an earlier run: not a pace
        assert bar.postfix == WAITING and bar.finished == 0
        bar.done(1)
        assert bar.n == 3 and bar.postfix.startswith("ETA ") and bar.postfix.endswith("workers=1")


@pytest.mark.slow
def test_study_over_read_noise_has_fronts_per_read_noise_over_n_mtj(tmp_path):
    """A 6-trial quick study (n_mtj 1, 2 x read noise 0, 0.02, 0.05; ~30 s) through the CLI: the bar waits for a
    finished trial before an ETA, the report is announced, and its fronts are over n_mtj per read-noise value."""
    toml = quick_toml(tmp_path, NOISE_BY_MTJ)
    out = tmp_path / "out"
    r = subprocess.run(spinsyn_cmd("study", str(toml), "--out", str(out), "--scheduler", "none"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert WAITING in r.stderr and "ETA 0" in r.stderr
    assert f"study: writing the report {out / 'report.html'}" in r.stdout and f"wrote {out / 'report.html'}" in r.stdout
    results = read_results(out / "results.csv")
    roles = roles_of(study_document(out), results.axes)
    design, conditions = split_axes(results, roles)
    assert (design, conditions) == (["device.n_mtj"], ["device.read_noise"])
    fronts = condition_fronts(results.ok, design, conditions, "energy_pJ_per_synapse")
    assert [f.condition for f in fronts] == [f"read noise (σ/G) = {r}" for r in ("0", "0.02", "0.05")]
    assert all(sorted(f.labels) == ["n_mtj=1", "n_mtj=2"] and f.on.any() for f in fronts)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "one per value of read noise (σ/G)" in html and html.count('<figure id="pareto-') >= 1
