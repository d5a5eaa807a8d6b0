"""The write physics: macrospin Fokker–Planck switching (devices/macrospin.py), checked against hand calculations
from constants, the deterministic limit, Brown's formula and the independent cmtj (stochastic LLG) figures."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from spinsyn.devices import PRESETS, get_model, write_switch_probability
from spinsyn.devices import macrospin as ms
from spinsyn.devices.physics import derive

KB, MU0 = 1.380649e-23, 4e-7 * math.pi


def _by_hand(mtj):
    """(Delta, tau_D in s) from the dataclass fields alone: Delta = mu0 Ms Hk V / (2 kB T), Hk in A/m from Oe;
    tau_D = (1 + alpha²) / (alpha gamma mu0 Hk), gamma from rad/(s Oe) to rad/(s T)."""
    vol = math.pi * (mtj.radius_nm * 1e-9) ** 2 * mtj.t_fl_nm * 1e-9
    hk = mtj.hk_Oe * 1000 / (4 * math.pi)
    delta = MU0 * mtj.ms_A_per_m * hk * vol / (2 * KB * mtj.temperature_K)
    tau_d = (1 + mtj.alpha ** 2) / (mtj.alpha * mtj.gamma_rad_per_s_Oe * 1e4 * MU0 * hk)
    return delta, tau_d


@pytest.mark.parametrize("name", [n for n in PRESETS if n.startswith(("stt", "compound"))])  # STT cells
def test_retention_of_every_preset_is_browns_formula(name):
    """retention_s within 25 % of Brown's tau_D sqrt(pi/Delta) e^Delta computed by hand from the fields."""
    model = get_model(name)
    delta, tau_d = _by_hand(model.cell)
    brown = tau_d * math.sqrt(math.pi / delta) * math.exp(delta)
    assert model.retention_s == pytest.approx(brown, rel=0.25)
    assert ms.tau_d_s(model.cell) == pytest.approx(tau_d, rel=1e-9)


@pytest.mark.parametrize("name", ["stt-mtj-macrospin", "stt-mtj-physical", "stt-mtj-retentive"])
def test_exact_escape_time_of_the_equation_approaches_brown(name):
    """The mean escape time of the Fokker–Planck equation (quadrature) and Brown's asymptote differ by O(1/Delta)."""
    mtj = get_model(name)
    delta = float(derive(mtj).delta)
    ratio = ms.escape_time_s(mtj) / ms.brown_escape_time_s(mtj)
    assert 1.0 < ratio < 1 + 2.0 / delta


def test_retentive_preset_keeps_flips_under_0_2_percent_for_10_years():
    from spinsyn.hw_export.ageing import YEAR_S, flip_probability

    mtj = get_model("stt-mtj-retentive")
    assert float(flip_probability(10 * YEAR_S, mtj.retention_s)) <= 2e-3
    need = ms.delta_needed(ms.tau_d_s(mtj), 10 * YEAR_S, 2e-3)
    assert 45 < need < float(derive(mtj).delta)
    # the physical preset (Delta 41) does not: its retention is years, not decades
    assert float(flip_probability(10 * YEAR_S, get_model("stt-mtj-physical").retention_s)) > 0.1


def _t50(delta, i_rel, tau_d):
    tab = ms._table(round(delta, 9), tau_d)
    w = np.geomspace(0.05, 500, 4000) * 1e-9
    p = tab.p(np.full(w.size, i_rel), w)
    return float(np.interp(0.5, p, w))


def test_precessional_limit_is_the_llg_transit_from_the_thermal_angle():
    """Large Delta, I = 2 and 3 Ic0, by hand: near the pole y = 1 - u obeys the linear Itô equation
    dy = (2(i - 1) y + 1/Delta) dtau + sqrt(2y/Delta) dW, which keeps the thermal start's exponential law with
    mean m(tau) = (i e^{2(i-1) tau} - 1) / (2 Delta (i - 1)): the noise during the pulse multiplies the initial
    angle's variance by i/(i - 1). t50 is then the deterministic transit of du/dtau = -(1 - u²)(i - u) from the
    median y = ln2 i / (2 Delta (i - 1)) to u = 0 (quadrature). Without the noise term (Sun / Butler's
    initial-angle form alone) t50 would be 16 % longer."""
    mtj = get_model("stt-mtj-retentive")
    delta = float(derive(mtj).delta)
    tau_d = ms.tau_d_s(mtj)
    for i in (2.0, 3.0):
        y50 = math.log(2) * i / (2 * delta * (i - 1))
        transit = quad(lambda u, i=i: 1 / ((1 - u * u) * (i - u)), 0.0, 1 - y50)[0] * tau_d
        assert _t50(delta, i, tau_d) == pytest.approx(transit, rel=0.03)


# cmtj 1.15 (stochastic LLG, Heun 1 ps) on the default geometry, 2,000-20,000 trials, Wilson 95 % intervals:
# (V across the MTJ, width ns, to P?, p, lo, hi) as measured in issue 20
CMTJ_POINTS = [(+0.30, 3, True, 0.0035, 0.0023, 0.0053), (-0.30, 3, False, 0.109, 0.096, 0.123),
               (+0.30, 5, True, 0.052, 0.043, 0.062), (-0.15, 3, False, 2.0e-4, 5.5e-5, 7.3e-4),
               (-0.15, 10, False, 0.0415, 0.034, 0.051), (+0.15, 30, True, 0.0065, 0.0038, 0.011)]


@pytest.mark.parametrize("name", ["stt-mtj", "stt-mtj-macrospin"])
@pytest.mark.parametrize("v, w, to_p, p, lo, hi", CMTJ_POINTS)
def test_write_probability_matches_stochastic_llg(name, v, w, to_p, p, lo, hi):
    """Within a factor 2 of cmtj's interval at the pulses of the issue: the published gated preset included
    (programming never uses its gates or drive law)."""
    got = float(write_switch_probability(get_model(name), v, w, to_p))
    assert lo / 2 <= got <= 2 * hi


def test_switching_time_quantiles_match_stochastic_llg():
    """First-crossing quantiles q10/q50/q90 of cmtj at 0.8 and 1.2 Ic0 (issue 20): 7.0/15.1/35.6 ns and
    3.45/5.71/9.9 ns; a memoryless law with the same median would give q10 = 2.3 / 0.86 ns."""
    mtj = get_model("stt-mtj-macrospin")
    tab = ms.switching_table(mtj)
    w = np.geomspace(0.1, 300, 6000) * 1e-9
    for i, want in ((0.8, (7.0, 15.1, 35.6)), (1.2, (3.45, 5.71, 9.9))):
        p = tab.p(np.full(w.size, i), w)
        got = [float(np.interp(q, p, w)) * 1e9 for q in (0.1, 0.5, 0.9)]
        assert got == pytest.approx(want, rel=0.12)


def test_gates_and_drive_law_play_no_part_in_programming():
    v = np.linspace(-1.0, 1.0, 41)
    gated, plain = get_model("stt-mtj"), get_model("stt-mtj-macrospin")
    for to_p in (True, False):
        a = write_switch_probability(gated, v, 3.0, to_p)
        assert np.array_equal(a, write_switch_probability(plain, v, 3.0, to_p))
    assert float(write_switch_probability(gated, 0.15, 30.0, True)) > 1e-3  # on the author's gate: switches


def test_both_directions_are_driven_by_their_own_polarity():
    mtj = get_model("stt-mtj-macrospin")
    assert float(write_switch_probability(mtj, -0.3, 10.0, False)) > 0.5  # P -> AP needs V < 0
    assert float(write_switch_probability(mtj, +0.3, 10.0, False)) < 1e-12
    assert float(write_switch_probability(mtj, +0.4, 10.0, True)) > 0.5
    assert float(write_switch_probability(mtj, -0.4, 10.0, True)) < 1e-12


def test_table_interpolation_and_grid_convergence():
    """Off-grid currents and widths against a direct solve on twice the cells and a finer time grid: log p
    (p < 1/2) or log(1 - p) within 25 % wherever the value is above 1e-9 (deeper tails keep their exponent
    to ~1 %, not their prefactor)."""
    mtj = get_model("stt-mtj-macrospin")
    tab = ms.switching_table(mtj)
    widths = np.array([1.3, 2.7, 7.1, 23.0, 77.0, 310.0]) * 1e-9
    for i in (0.337, 0.613, 0.887, 1.163, 1.71, 2.93):
        lp, lq = ms.solve(tab.delta, i, widths / tab.tau_d_s, n=2 * ms.N_CELLS, ratio=1.005)
        tp, tq = tab.log_p_q(np.full(widths.size, i), widths)
        use_p = lp < math.log(0.5)
        err = np.where(use_p, tp - lp, tq - lq)
        keep = np.where(use_p, lp, lq) > math.log(1e-9)
        assert np.all(np.abs(err[keep]) < math.log(1.25)), (i, err)


def test_tails_are_tiny_and_monotone_in_width_and_current():
    tab = ms.switching_table(get_model("stt-mtj-physical"))
    w = np.geomspace(1, 1000, 50) * 1e-9
    for i in (0.3, 0.5, 1.0, 2.0):
        p = tab.p(np.full(w.size, i), w)
        assert np.all(np.diff(p) >= -1e-15) and p[0] < 0.5
    lp, lq = tab.log_p_q(np.array([0.2, 3.0]), np.array([1e-9, 100e-9]))
    assert lp[0] < math.log(1e-12)  # a per-exposure disturb far below what Monte Carlo can reach
    assert lq[1] < math.log(1e-30)  # and 1 - p of a strong long pulse, from log space
    p = tab.p(np.linspace(0, 4, 81), np.full(81, 5e-9))
    assert np.all(np.diff(p) >= 0)


def test_table_cache_is_verified_and_a_damaged_file_is_rebuilt(tmp_path, monkeypatch):
    """The on-disk table (``$SPINSYN_CACHE_DIR/macrospin``) is used only when its stored sha256 of the arrays
    matches: a tampered file warns and is recomputed, never trusted."""
    monkeypatch.setenv("SPINSYN_CACHE_DIR", str(tmp_path))
    mtj = get_model("stt-mtj-macrospin")
    key = (round(float(derive(mtj).delta), 9), round(ms.tau_d_s(mtj), 18))
    built = ms._table.__wrapped__(*key)  # no in-memory cache: builds and stores
    (path,) = (tmp_path / "macrospin").glob("table-*.npz")
    again = ms._load_cached(path)
    assert again is not None and np.array_equal(again.lp, built.lp) and np.array_equal(again.lq, built.lq)
    with np.load(path) as z:
        parts = {k: z[k] for k in z.files}
    parts["lp"] = parts["lp"].copy()
    parts["lp"][10, 10] += 1.0  # a silently wrong probability
    np.savez(path, **parts)
    with pytest.warns(RuntimeWarning, match="damaged switching-table cache"):
        assert ms._load_cached(path) is None
    path.write_bytes(b"not a zip")
    with pytest.warns(RuntimeWarning):
        rebuilt = ms._table.__wrapped__(*key)
    assert np.array_equal(rebuilt.lp, built.lp) and ms._load_cached(path) is not None  # recomputed and re-stored
