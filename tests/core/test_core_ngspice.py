"""The ngspice wrapper runs real transients, tells information from errors, and does not leak."""

import resource

import numpy as np
import pytest
from spinsyn import ngspice

RC = """* RC step response
V1 in 0 PWL(0 0 1n 1)
R1 in out 1k
C1 out 0 1u
.options reltol=1e-6
.tran 2u 5m 0 2u
.end
"""


def test_library_found_and_version():
    path, ver = ngspice.library_version()
    assert path is not None and path.name.startswith("libngspice")
    assert ver is not None and ver >= 30


def test_rc_transient_matches_analytic_exponential():
    res = ngspice.session().run(RC, ["v(out)"])
    t, v = res.time_s, res["v(out)"]
    assert len(t) > 100
    tau = 1e3 * 1e-6
    expected = 1.0 - np.exp(-(t - 1e-9) / tau)
    mask = t > 0.05e-3  # away from the 1 ns source edge
    rel = np.abs(v[mask] - expected[mask]) / expected[mask]
    assert rel.max() < 0.005


def test_branch_current_and_key_lookup():
    res = ngspice.session().run(RC, ["v(out)", "v1#branch"])
    i = res["v1#branch"]
    assert np.all(res["out"] == res["v(out)"])
    # current into the capacitor: (1 - v)/R, delivered by V1 (negative by SPICE convention)
    m = res.time_s > 1e-6  # after the 1 ns source edge
    np.testing.assert_allclose(-i[m], (1 - res["out"][m]) / 1e3, rtol=1e-3, atol=1e-9)


def test_syntax_error_raises_with_netlist_and_then_recovers():
    bad = "* bad\nV1 in 0 1\nR1 in out 1k\nB1 out 0 V=nosuchfunc(1)\n.tran 1u 1m\n.end\n"
    with pytest.raises(ngspice.NgspiceSimulationError) as info:
        ngspice.session().run(bad)
    assert "nosuchfunc" in info.value.netlist
    assert "not parsed" in str(info.value)
    res = ngspice.session().run(RC, ["v(out)"])  # the session is still usable
    assert res["out"][-1] == pytest.approx(1 - np.exp(-5), rel=5e-3)


@pytest.mark.parametrize(
    "line, is_error",
    [
        ("Using SPARSE 1.3 as Direct Linear Solver", False),
        ("Note: Starting dynamic gmin stepping", False),
        ("Trying gmin =   1.0000E-03 Note: One successful gmin step", False),
        ("Warning: singular matrix:  check node out", False),
        ("Error: circuit not parsed.", True),
        ("doAnalyses: TRAN:  Timestep too small; time = 1e-9", True),
        ("Error on line 3 :", True),
    ],
)
def test_error_line_classification(line, is_error):
    assert ngspice.is_error_line(line) is is_error


def _rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_200_runs_do_not_grow_memory():
    s = ngspice.session()
    net = RC.replace(".tran 2u 5m 0 2u", ".tran 10u 1m")
    for _ in range(20):  # warm up allocator pools
        s.run(net, ["v(out)"])
    before = _rss_kb()
    for _ in range(200):
        s.run(net, ["v(out)"])
    grown_mb = (_rss_kb() - before) / 1024
    assert grown_mb < 5, f"memory grew {grown_mb:.1f} MB over 200 runs"


def test_missing_library_message(monkeypatch):
    monkeypatch.setattr(ngspice, "find_library", lambda: None)
    with pytest.raises(ngspice.NgspiceMissingError, match="apt-get install -y libngspice0"):
        ngspice.ensure_library()
