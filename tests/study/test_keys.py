"""Cache keys follow what each stage reads: every setting's declared stage (``Param.stage``) is the first stage
whose key changes with it, and evaluation-only settings (read noise, test images) leave the training shared.

No training here: keys are computed from the study specs; the one behaviour test runs a 2-trial quick study.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spinsyn.study import PARAMS, load_spec, run_study
from spinsyn.study.cache import STAGES, entry_dir
from spinsyn.study.trials import expand, plan

from .conftest import quick_toml, read_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "study_n_mtj.toml"

#: a second valid value of every setting (and, where the default does not read it, the base settings it needs)
OTHER = {
    "device.preset": "compound-physical", "device.n_mtj": 4, "device.levels": (8, {"device.preset": "dw-mtj"}),
    "device.sigma_pct": 5.0, "device.testbench": "physical", "device.engine": "spice", "device.trials": 7,
    "device.dt_ms": (0.0, 30.0, 3.0), "device.seed": 5, "device.read_noise": 0.05, "device.g_spread": 0.1,
    "rule.source": "sweep", "network.neurons": 20, "network.n_train": 50, "network.n_test": 30,
    "network.epochs": 2, "network.input": "diehl-cook", "network.seed": 9, "network.device": "cuda",
    "export.tile": (64, 64), "export.tolerance": 0.3, "export.write_pulse": "fixed", "export.half_select": "V/3",
    "export.seed": 4, "simulate.seed": 2, "export.circuit": "0T1R",
    "export.tech_node": ("65nm", {"export.circuit": "0T1R"}), "export.wire_ohm": (2.0, {"export.circuit": "1T1R"}),
    "export.driver_ohm": (5.0, {"export.circuit": "0T1R"}), "simulate.adc_bits": 4,
}


def _keys(settings: dict) -> dict[str, str]:
    return {t.stage: t.key for t in plan(settings, None)}


def test_every_setting_is_declared_and_changes_exactly_its_stage_and_later():
    assert set(OTHER) == set(PARAMS), "give every new setting a second value here"
    for key, p in PARAMS.items():
        o = OTHER[key]
        other, base_over = o if isinstance(o, tuple) and len(o) == 2 and isinstance(o[1], dict) else (o, {})
        base = {**{k: q.default for k, q in PARAMS.items()}, **base_over}
        a, b = _keys(base), _keys({**base, key: other})
        both = [s for s in STAGES if s in a and s in b]
        changed = [s for s in both if a[s] != b[s]]
        assert changed and changed[0] == p.stage, f"{key}: declared for {p.stage}, keys that change: {changed}"
        assert changed == both[both.index(p.stage):], f"{key}: a later stage keeps its key ({changed})"


def test_example_study_trains_five_networks_not_fifteen():
    trials = expand(load_spec(EXAMPLE))
    keys = [_keys(t.settings) for t in trials]
    assert len(trials) == 15
    assert len({k["train"] for k in keys}) == len({t.axes["device.n_mtj"] for t in trials}) == 5
    assert len({k["export"] for k in keys}) == 5  # the chip does not read read noise either
    assert len({k["simulate"] for k in keys}) == 15  # each trial evaluates its own read noise
    rn = {t.axes["device.read_noise"] for t in trials}
    assert {plan(t.settings, None)[-1].inputs["read_noise"] for t in trials} == rn


def test_with_read_noise_sets_only_the_evaluation_noise(quick_run):
    from spinsyn import snn

    _, out, _ = quick_run
    run = out / read_rows(out)[0]["run_dir"] / "run"
    net = snn.load_run(run)
    noisy = snn.with_read_noise(net, 0.05)
    assert noisy.synapse.options()["read_noise"] == 0.05 and noisy.config.synapse_options["read_noise"] == 0.05
    assert net.synapse.options()["read_noise"] != 0.05  # the loaded network is left as it was
    assert noisy.w is net.w and noisy.compiled is net.compiled
    with pytest.raises(ValueError, match="--read-noise"):
        snn.with_read_noise(net, 1.5)


def test_read_noise_on_a_domain_wall_synapse_is_still_refused_before_any_work(tmp_path):
    toml = tmp_path / "dw.toml"
    toml.write_text(quick_toml(tmp_path, 'device.read_noise = [0.05]').read_text().replace(
        'preset = "compound"', 'preset = "dw-mtj"'))
    with pytest.raises(ValueError, match="read-noise applies to compound synapses only"):
        run_study(toml, tmp_path / "out", "none", progress=False)
    assert not (tmp_path / "out").exists()


def test_two_read_noises_share_one_training_and_evaluate_their_own_noise(quick_run):
    """The session's quick study: one N, read noise 0 and 0.05 -> one sweep, fit, training and chip, two
    simulations, each with its own σ (recorded in its noise model; σ = 0 has no read-noise loss)."""
    from spinsyn.fileio import read_json
    from spinsyn.study.cache import entry_info

    toml, out, outcome = quick_run
    assert outcome.ok == 2
    for stage, n in (("sweep", 1), ("fit", 1), ("train", 1), ("export", 1), ("simulate", 2)):
        assert len([p for p in (out / "cache" / stage).iterdir() if not p.name.startswith(".")]) == n, stage
    rows = read_rows(out)
    assert len({r["run_dir"] for r in rows}) == 1
    trials = expand(load_spec(toml))
    for t in trials:
        sim = plan(t.settings, None)[-1]
        r = read_json(entry_dir(out, "simulate", sim.key) / "simulate.json")
        sigma = t.axes["device.read_noise"]
        assert r["noise_model"]["read_noise_sigma"] == sigma
        assert entry_info(entry_dir(out, "simulate", sim.key))["inputs"]["read_noise"] == sigma
        same = r["accuracy"]["trained"] == r["accuracy"]["trained_no_read_noise"]
        assert same if sigma == 0 else not np.isnan(r["accuracy"]["trained"]["accuracy_all_activity"])


def test_shared_training_gives_the_accuracy_of_a_training_with_that_read_noise(quick_run, tmp_path):
    """What the study used to do (train with σ, whose own test pass applies σ) and what it does now (train once,
    evaluate with σ in the simulate stage) give the same accuracy on the same test images."""
    from spinsyn import snn
    from spinsyn.fileio import read_json

    toml, out, _ = quick_run
    trial = next(t for t in expand(load_spec(toml)) if t.axes["device.read_noise"] > 0)
    tasks = {t.stage: t for t in plan(trial.settings, None)}
    opts = {**tasks["train"].inputs["make_config"], "n_test": trial.settings["network.n_test"],
            "read_noise_sigma": trial.axes["device.read_noise"],
            "rule": entry_dir(out, "fit", tasks["fit"].key) / "rule.json"}
    m = snn.train(snn.make_config(**opts), tmp_path / "run", progress=False)
    sim = read_json(entry_dir(out, "simulate", tasks["simulate"].key) / "simulate.json")
    assert sim["accuracy"]["trained"]["accuracy_all_activity"] == m["accuracy_all_activity"]
    assert np.array_equal(snn.load_run(tmp_path / "run").w, snn.load_run(entry_dir(out, "train", tasks["train"].key)
                                                                         / "run").w)



def test_dask_dispatch_runs_each_key_once_upstream_first_and_fails_what_depends_on_a_failure(monkeypatch, tmp_path):
    """The dask path's dispatcher on one worker (fake stages): each distinct key runs once, a task only after its
    upstream, the first trainings before any simulation; a failed training fails its trials (and only those) with
    its error, and nothing downstream of it runs."""
    from spinsyn.study import execute

    trials = expand(load_spec(EXAMPLE))
    plans = {t.index: plan(t.settings, None) for t in trials}
    bad = plans[3][2]  # the training of N = 2 (trials 3, 4, 5)
    assert bad.stage == "train"
    log = tmp_path / "log.txt"

    def fake(root, task, upstream=None, jobs=1):
        with open(log, "a") as fh:
            fh.write(f"{task.stage} {task.key}\n")
        if task.key == bad.key:
            raise RuntimeError("device on fire")
        return task.key

    monkeypatch.setattr(execute, "run_task", fake)
    done: dict[int, str | None] = {}
    with execute.open_client("local:1") as client:
        execute._run_on_dask("", trials, plans, client, lambda t, e: done.__setitem__(t.index, e))
    assert sorted(done) == list(range(15))
    assert {i for i, e in done.items() if e is not None} == {3, 4, 5}
    assert all("device on fire" in str(done[i]) for i in (3, 4, 5))
    ran = [ln.split() for ln in log.read_text().splitlines()]
    keys = [k for _, k in ran]
    assert len(keys) == len(set(keys))  # each distinct key once
    every = {t.key: t for tasks in plans.values() for t in tasks}
    skipped = {t.key for i in (3, 4, 5) for t in plans[i][3:]}  # the export and simulations after the failure
    assert set(keys) == set(every) - skipped
    for tasks in plans.values():
        for up, task in zip(tasks, tasks[1:]):
            if task.key in keys:
                assert keys.index(up.key) < keys.index(task.key)
    stages = [s for s, _ in ran]
    assert stages.index("simulate") > max(i for i, s in enumerate(stages) if s == "train")  # trainings first
