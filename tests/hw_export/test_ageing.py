"""Retention: ageing of programmed chips (zero-bias relaxation), export retention metadata and warnings."""

import json
import math

import numpy as np
import pytest
from spinsyn.devices import synapse_device
from spinsyn.hw_export.ageing import (
    DEFAULT_DEPLOYMENT_S,
    YEAR_S,
    age_chip,
    flip_probability,
    one_point_time,
    parse_ages,
    parse_duration,
    retention_record,
    retention_warnings,
    time_for_flip,
)


def test_parse_ages_units_and_order():
    ages = parse_ages("10y,0,1s,1h,1d,30min,5ms")
    assert [a[0] for a in ages] == ["0", "5ms", "1s", "30min", "1h", "1d", "10y"]
    assert [a[1] for a in ages] == [0.0, 5e-3, 1.0, 1800.0, 3600.0, 86400.0, 10 * 365.25 * 86400]
    assert parse_duration("2.5", "--after") == 2.5


@pytest.mark.parametrize("bad", ["", "1x", "-1s", "1s,,2s", "1s,1s", "nan", "inf", "1e999y", "h"])
def test_parse_ages_errors_name_the_option(bad):
    with pytest.raises(ValueError, match="^--after: "):
        parse_ages(bad)


def test_cli_after_error_is_one_line(tmp_path, capsys):
    from spinsyn.cli import main

    assert main(["export", "simulate", str(tmp_path), "--after", "1h,2fortnights"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spinsyn: error: --after: ")


def test_flip_probability_formula():
    tau = 6.45
    assert flip_probability(0.0, tau) == 0.0
    assert flip_probability(1e-6, tau) == pytest.approx(1e-6 / tau, rel=1e-5)  # t << tau: t / tau
    assert flip_probability(1e6, tau) == pytest.approx(0.5)
    assert flip_probability(3.0, tau) == pytest.approx((1 - math.exp(-6.0 / tau)) / 2)
    assert time_for_flip(float(flip_probability(3.0, tau)), tau) == pytest.approx(3.0)
    assert flip_probability(1e9, None) == 0.0 and time_for_flip(0.1, None) == math.inf


def _aged(preset, ages, n=20000, seed=0):
    dev = synapse_device("compound:8", preset)
    rng = np.random.default_rng(seed)
    k0 = rng.integers(0, 9, n)
    g = dev.level_conductances_S()
    return dev, k0, age_chip(k0, k0, dev, g, float(np.diff(g).mean()), ages, seed)


def _check_formula(a, k0, n_mtj=8):
    p = a["stats"]["flip_probability"]
    n = k0.size
    assert abs(a["stats"]["flipped_fraction"] - p) < 5 * math.sqrt(p * (1 - p) / (n * n_mtj)) + 1e-12
    expected = np.mean(p * (n_mtj - 2 * k0))
    assert a["stats"]["expected_mean_level_change"] == pytest.approx(expected)
    assert abs(a["stats"]["mean_level_change"] - expected) < 5 * math.sqrt(n_mtj * p * (1 - p) / n) + 1e-12


def test_physical_preset_after_10_years_flips_as_the_formula():
    dev, k0, aged = _aged("compound-physical", [("1y", YEAR_S), ("10y", 10 * YEAR_S)])
    tau = dev.model.mtj.retention_s
    assert 4 * YEAR_S < tau < 8 * YEAR_S  # Delta ~ 41: Brown's escape time 5.7 years
    for a in aged:
        assert a["stats"]["flip_probability"] == pytest.approx(float(flip_probability(a["t_s"], tau)))
        _check_formula(a, k0)
    assert 0.4 < aged[1]["stats"]["flip_probability"] < 0.5  # most of the way to random within 10 years


def test_retentive_preset_after_10_years_keeps_its_weights():
    dev, k0, aged = _aged("compound-retentive", [("10y", 10 * YEAR_S)])
    a = aged[0]
    assert a["stats"]["flip_probability"] < 2e-3 and np.array_equal(a["state"], k0)
    _check_formula(a, k0)


def test_published_preset_after_1h_is_random():
    dev, k0, aged = _aged("compound", [("0", 0.0), ("10ms", 0.01), ("1h", 3600.0)])
    assert aged[0]["stats"]["flipped_fraction"] == 0 and np.array_equal(aged[0]["state"], k0)
    for a in aged:
        _check_formula(a, k0)
    s = aged[2]["state"]
    assert aged[2]["stats"]["flip_probability"] == pytest.approx(0.5)
    assert s.mean() == pytest.approx(4.0, abs=0.05) and s.var() == pytest.approx(2.0, rel=0.05)  # Binomial(8, 1/2)


def test_domain_wall_does_not_age():
    dev = synapse_device("dw:16")
    g = dev.level_conductances_S()
    x0 = dev.level_states()[np.arange(50) % 16]
    aged = age_chip(x0, np.arange(50) % 16, dev, g, float(np.diff(g).mean()), [("10y", 10 * YEAR_S)], 0)
    assert np.array_equal(aged[0]["state"], x0) and aged[0]["stats"]["abs_error_levels_mean"] == 0
    rec = retention_record(dev)
    assert rec["retention_s"] is None and rec["model"].startswith("none") and not retention_warnings(rec)


def test_retention_record_and_warnings():
    pub = retention_record(synapse_device("compound:8"))
    assert pub["retention_s"] == pytest.approx(4.05, rel=0.01) and pub["volatile"]  # Brown, Delta 22.7
    assert pub["refresh_interval_s"] == pytest.approx(time_for_flip(2e-3, pub["retention_s"]))
    assert "shorter than the deployment" in retention_warnings(pub)[0]
    century = synapse_device("compound:8", "compound-physical", hk_Oe=2800.0)  # Brown: ~120 years
    rec = retention_record(century, DEFAULT_DEPLOYMENT_S)
    assert rec["retention_s"] > 99 * YEAR_S and not rec["volatile"]
    assert not any("shorter than the deployment" in w for w in retention_warnings(rec))
    assert not retention_warnings(retention_record(century, 1 * 86400))  # a day: nothing to warn about


def test_one_point_time_interpolates_in_p():
    tau = 10.0
    ages = [{"flip_probability": 0.0, "retention_points": 0.0}, {"flip_probability": 0.01, "retention_points": 0.5},
            {"flip_probability": 0.03, "retention_points": 2.5}]
    one = one_point_time(ages, tau)
    assert one["flip_probability"] == pytest.approx(0.015) and one["time_s"] == pytest.approx(time_for_flip(0.015, tau))
    assert one_point_time(ages[:2], tau)["time_s"] is None


def _export(tmp_path, w, *extra):
    from spinsyn.cli import main

    np.save(tmp_path / "w.npy", w)
    return main(["export", str(tmp_path / "w.npy"), "--synapse", "compound:8", "--tile", "16x16",
                 "--out", str(tmp_path / "chip"), *extra])


def test_export_writes_retention_and_warns(tmp_path, capsys):
    from spinsyn.hw_export import load_chip

    w = np.random.default_rng(0).random((20, 10))
    assert _export(tmp_path, w) == 0
    err = capsys.readouterr().err
    assert err.startswith("spinsyn: warning: retention 4.05 s") and "shorter than the deployment 10 y" in err
    chip = load_chip(tmp_path / "chip")
    assert chip.meta["retention_s"] == pytest.approx(4.05, rel=0.01)
    rep = json.loads((tmp_path / "chip" / "report.json").read_text())
    assert rep["retention"]["refresh_interval_s"] < 1 and rep["warnings"]
    assert rep["summary"]["energy_per_synapse_J"] > 0 and rep["summary"]["time_per_synapse_serial_s"] > 0


def test_export_no_retention_warning_for_century_device(tmp_path, capsys):
    """Hk 2800 Oe (Delta 44.4, ~120 y) outlasts the default 10-year deployment: no retention warning (the refresh note
    remains: ~8 % of its MTJs still flip within 10 years); a one-day deployment: no warning at all."""
    w = np.random.default_rng(0).random((20, 10))
    century = ("--device", "compound-physical", "--device-param", "hk_Oe=2800")
    assert _export(tmp_path, w, *century) == 0
    err = capsys.readouterr().err
    assert "shorter than the deployment" not in err and "re-program every" in err
    assert _export(tmp_path, w, *century, "--deployment", "1d", "--overwrite") == 0
    assert "spinsyn: warning" not in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["soon", "0", "-1y"])
def test_deployment_errors(tmp_path, capsys, bad):
    assert _export(tmp_path, np.ones((4, 4)), f"--deployment={bad}") == 2
    assert capsys.readouterr().err.startswith("spinsyn: error: --deployment: ")


def test_simulate_after_on_a_published_run(train, tmp_path, capsys):
    """A published compound:8 run aged 1 h: every MTJ is random (p = 1/2), the accuracy falls to chance."""
    from spinsyn.cli import main

    run = train(tmp_path / "run", "compound:8", "--neurons", "30", "--n-train", "300", "--n-test", "300",
                "--n-assign", "300")
    assert main(["export", str(run), "--out", str(tmp_path / "chip")]) == 0
    capsys.readouterr()
    out = tmp_path / "res"
    assert main(["export", "simulate", str(tmp_path / "chip"), "--n-test", "300", "--no-disturb",
                 "--after", "0,1h", "--json", str(out / "sim.json")]) == 0
    text = capsys.readouterr().out
    assert "1 point lost after" in text and (out / "accuracy_vs_time.png").stat().st_size > 1000
    r = json.loads((out / "sim.json").read_text())
    a0, a1 = r["ageing"]["ages"]
    acc0 = r["accuracy"]["programmed"]["accuracy_all_activity"]
    assert acc0 >= 0.3  # a chip that knows something (chance 0.10), so the collapse below can fail
    assert a0["accuracy"] == acc0 and a0["retention_points"] == 0
    assert a1["flip_probability"] == pytest.approx(0.5) and abs(a1["flipped_fraction"] - 0.5) < 0.02
    assert abs(a1["accuracy"] - 0.1) <= 0.5 * abs(acc0 - 0.1) + 0.05  # the gap to chance collapses
    assert any(t["term"] == "retention" and t["to"] == "aged@1h" for t in r["loss_terms"])
    assert main(["export", "verify", str(tmp_path / "chip")]) == 0  # the plot is not inside the chip


def test_simulate_plot_never_inside_the_chip(tmp_path, capsys):
    from spinsyn.cli import main

    w = np.random.default_rng(0).random((20, 10))
    assert _export(tmp_path, w) == 0
    capsys.readouterr()
    chip = tmp_path / "chip"
    assert main(["export", "simulate", str(chip), "--after", "1s", "--plot", str(chip / "plots")]) == 2
    assert "--plot: " in capsys.readouterr().err
    assert main(["export", "simulate", str(chip), "--after", "0,1s", "--json", str(tmp_path / "s.json")]) == 0
    r = json.loads((tmp_path / "s.json").read_text())
    assert r["accuracy"] is None and len(r["ageing"]["ages"]) == 2
    assert r["ageing"]["ages"][1]["flipped_fraction"] > 0.05
