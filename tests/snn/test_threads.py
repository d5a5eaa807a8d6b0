"""``--threads auto`` (issue #25): the decision from /proc/stat samples, the option's check at the boundary,
and weights that do not depend on the thread count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from spinsyn.snn import TrainConfig, make_config, read_checkpoint, train
from spinsyn.snn import threads as T
from spinsyn.snn.params import NetworkParams


def _stat(idle: list[int], busy: list[int]) -> str:
    """/proc/stat text: an aggregate line, one ``cpuN`` line per core (user nice system idle iowait irq softirq
    steal guest guest_nice) and a line that is not a core."""
    lines = [f"cpu  {sum(busy)} 0 0 {sum(idle)} 0 0 0 0 0 0"]
    lines += [f"cpu{i} {b} 0 0 {d} 0 0 0 0 0 0" for i, (d, b) in enumerate(zip(idle, busy))]
    return "\n".join([*lines, "intr 12345 1 2", "ctxt 999"])


def _samples(d_idle: list[int], d_busy: list[int]) -> list[dict]:
    """Two parsed samples 20 jiffies apart with the given per-core idle and busy jiffies in between."""
    before = T.parse_proc_stat(_stat([1000, 2000], [500, 700]))
    after = T.parse_proc_stat(_stat([1000 + d_idle[0], 2000 + d_idle[1]], [500 + d_busy[0], 700 + d_busy[1]]))
    return [before, after]


def test_decision_from_proc_stat_samples():
    quiet, busy, half = _samples([20, 20], [0, 0]), _samples([20, 0], [0, 20]), _samples([20, 10], [0, 10])
    assert set(quiet[0]) == {"cpu0", "cpu1"}  # the aggregate and non-core lines are skipped
    assert T.idle_cores(*quiet) == pytest.approx(2.0) and T.idle_cores(*busy) == pytest.approx(1.0)
    assert T.decide_threads(T.idle_cores(*quiet), 2, "test")[0] == 2
    assert T.decide_threads(T.idle_cores(*busy), 2, "test")[0] == 1
    assert T.decide_threads(T.idle_cores(*half), 2, "test")[0] == 1  # a half-busy core is not free
    assert T.decide_threads(1.85, 2, "test")[0] == 2 and T.decide_threads(1.75, 2, "test")[0] == 1
    assert T.decide_threads(2.0, 1, "test")[0] == 1  # never beyond NUMBA_NUM_THREADS
    assert T.decide_threads(3.7, 8, "test")[0] == 3 and T.decide_threads(3.9, 8, "test")[0] == 4
    assert T.parse_proc_stat(_stat([1, 2], [3, 4]), cpus={1}) == {"cpu1": (2, 6)}


def test_resolve_threads_samples_the_cores_and_falls_back(monkeypatch):
    slept = []
    for d_idle, d_busy, own_s, want in (([20, 20], [0, 0], 0.0, 2), ([20, 0], [0, 20], 0.0, 1),
                                        ([0, 20], [20, 0], 0.2, 2), ([0, 0], [20, 20], 0.2, 1)):
        samples, clock = iter(_samples(d_idle, d_busy)), iter([10.0, 10.05, 10.2])  # 0.2 s window, 0.05 s set-up
        cpu = iter([1.0, 1.0 + own_s])  # this process's CPU time over the window: the run itself, counted free
        watch = T.CoreWatch(sample=lambda s=samples: next(s), clock=lambda c=clock: next(c),
                            cpu_clock=lambda c=cpu: next(c))
        n, why = T.resolve_threads("auto", 2, watch=watch, sleep=slept.append)
        assert n == want and why.startswith("auto: ") and "/proc/stat" in why, why
    assert slept == [pytest.approx(T.SAMPLE_S - 0.05)] * 4  # only what the set-up did not already take
    assert T.resolve_threads(1, 2) == (1, "--threads 1") and T.resolve_threads(0, 2)[0] == 2
    monkeypatch.setattr(T.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    monkeypatch.setattr(T, "_allowed_cpus", lambda: {0, 1})
    n, why = T.resolve_threads("auto", 2, watch=T.CoreWatch(sample=lambda: None))
    assert n == 2 and "load average 0.10" in why
    monkeypatch.setattr(T.os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert T.resolve_threads("auto", 2, watch=T.CoreWatch(sample=lambda: None))[0] == 1
    assert T.cpu_times("/nonexistent/stat") is None


def test_threads_option_at_the_boundary(tmp_path, capsys):
    from spinsyn.cli import main

    assert make_config(threads="auto").threads == "auto" and make_config(threads="1").threads == 1
    for bad in ("-1", "x", "1.5"):
        rc = main(["train", "--threads", bad, "--n-train", "5", "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("spinsyn: error: --threads: got "), err
    assert not (tmp_path / "r").exists()
    cfg = TrainConfig.from_json(json.dumps({**json.loads(make_config().to_json()), "threads": "2"}))
    with pytest.raises(ValueError, match="--threads"):  # a stored config holds a number, never its text
        from spinsyn.snn.config import check_stored_config

        check_stored_config(cfg)


def test_weights_do_not_depend_on_the_thread_count(tmp_path, monkeypatch):
    """Batch training at 1 thread and at auto (forced to decide 2) ends with bit-identical weights; the run
    records what auto chose and why."""
    cfg = dict(synapse="ideal", network=NetworkParams(n_neurons=10).to_dict(), n_train=24, n_test=8, n_assign=8,
               batch=4, seed=3, engine="numba", device="cpu", plots=False)
    a = train(TrainConfig(**cfg, threads=1), tmp_path / "t1", progress=False)
    monkeypatch.setattr("spinsyn.snn.trainer.resolve_threads", lambda t, m, **kw: (2, "auto: test"))
    b = train(TrainConfig(**cfg, threads="auto"), tmp_path / "ta", progress=False)
    assert a["threads"] == {"requested": 1, "used": 1, "reason": "--threads 1"}
    assert b["threads"] == {"requested": "auto", "used": 2, "reason": "auto: test"}
    assert b["config"]["threads"] == "auto"
    wa, wb = read_checkpoint(tmp_path / "t1")["w"].numpy(), read_checkpoint(tmp_path / "ta")["w"].numpy()
    np.testing.assert_array_equal(wa, wb)
    assert a["confusion"] == b["confusion"]
