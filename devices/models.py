"""Device classes (each owns its conductance, draws, reference integration, SPICE elements and pulse physics:
the :class:`Device` protocol), the pulse testbench and named presets. The equations themselves are written
once in :mod:`devices.physics`.

Sign convention: ``V_mtj = V_pre - V_post``; positive V_mtj drives current pre -> post, which favours
AP -> P (potentiation), negative V_mtj favours P -> AP (depression).

STT-MTJ equations (Beihang/Zhao compact model, Zhang et al., IEEE TED 59, 819 (2012); Sun, PRB 62, 570
(2000); Néel–Brown):

* area = pi r^2; R_P = RA/area * f(t_ox)/f(t_ox0) with f(t) = t exp(1.025 t sqrt(phi)) (t in Å, phi in eV)
* TMR(V) = TMR0 / (1 + V^2/Vh^2); R_AP(V) = R_P (1 + TMR(V))
* Vol = area * t_fl; Delta = mu0 Ms Hk Vol / (2 kB T)  (Hk in A/m)
* Ic0 = alpha gamma e mu0Ms Hk Vol (1 + P^2) / (muB P)
* switching time at aiding current I (signed, positive = aiding the switch), i = I/Ic0: thermal wait plus
  precessional transit, tau = tau0 (exp(Delta max(1 - i, 0)^beta) - 1) + 1/(k_prec (max(I - Ic0, 0) + eps Ic0)),
  k_prec = 2/(C + ln(pi^2 Delta/4)) * muB P/(e m (1+P^2)), m = Ms Vol (Sun); beta = 1 is the Beihang model,
  beta = 2 the macrospin (Brown) limit; eps makes the crossover at Ic0 continuous (``switching_time_formula``)
* hazard rate = 1/tau; switch when the integral of the rate reaches -ln(u); retention = tau at I = 0.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from spinsyn.options import SWEEP_OPTIONS

from . import macrospin
from . import netlist as nl
from . import reference as ref
from .binomial import compound_write
from .cell import Cell
from .distinct import distinct
from .physics import (  # noqa: F401  (re-exported: the public home of the model equations)
    E_C,
    EULER_C,
    EXP_CLIP,
    IC0_MODELS,
    KB_J_PER_K,
    MU0,
    MU_B_J_PER_T,
    OE_TO_A_PER_M,
    TRANSIT_EPS_BROWN,
    MTJParams,
    conductance_formula,
    derive,
    dw_conductance_formula,
    hazard_rate_per_s,
    mtj_current_A,
    mtj_current_formula,
    r_ap_formula,
    r_ap_ohm,
    state_rate_formula,
    switching_time_formula,
)

#: the thermal wait's attempt form (``STTMTJ.attempt``, ``physics.switching_time_formula``)
ATTEMPT_MODELS = ("tau0", "brown")


class Device:
    """What every device class implements (the device protocol). Adding a device = one frozen dataclass
    subclassing this, its tests and a preset in ``PRESETS``; the engines, sweeps, records and the CLI only
    call these methods.

    * ``name`` (class attribute): short family name (``model_record``, ``--model``).
    * ``n_mtj``: stochastic MTJs per instance (0 for a device without MTJ draws); the draws carry
      ``max(n_mtj, 1)`` per instance.
    * ``state_top``: state of the highest conductance (state 0 is the lowest).
    * ``conductance_S(state, v_read_V)``: read conductance of states of any shape.
    * ``draw(n_dt, trials, seed)`` -> ``reference.Draws``: every random number of a sweep, in a fixed order.
    * ``run_reference(tb, dt_ms, draws)`` -> final-state dict (``s1`` or ``x1``) from the reference engine.
    * ``netlist_elements(draws, ip, it)`` -> SPICE element lines of instance (Δt index, trial), built with
      ``devices.netlist`` (V_mtj across nodes ``pre``/``post``).
    * ``spice_final(res)`` -> final node values of an ngspice result; ``final_states(draws, final)`` turns
      them (P, T, N) into the same dict as ``run_reference``; ``spice_conductance_S(res, v_read_V)`` -> G(t).
    * ``sweep_states(draws, out)`` -> (state before, state after, #switched up, #switched down), each (P, T).
    * ``apply_pulse(state, v_V, width_ns, rng, params=None)`` -> new states after one rectangular pulse.
    * ``apply_write_pulse(state, v_V, width_ns, rng)`` -> new states after one write pulse of programming (the
      physics a chip is programmed with: for MTJs the ungated macrospin Fokker–Planck model, ``devices.macrospin``).
    * ``spread_overrides(sigma_pct)`` -> field overrides for a device-to-device spread; ``info_lines()``.
    """

    name: ClassVar[str] = ""
    #: the ``--synapse`` family the device realises on its own (``"compound"``, ``"dw"``; None = one cell)
    synapse_family: ClassVar[str | None] = None

    @property
    def state_top(self):
        return 1

    def g_bounds_S(self, v_read_V: float = 0.1) -> tuple[float, float]:
        """(g_min, g_max): conductance of state 0 and of ``state_top``."""
        g = self.conductance_S(np.array([0, self.state_top]), v_read_V)
        return float(g[0]), float(g[1])

    def _missing(self, what: str):
        return NotImplementedError(f"device {type(self).__name__} does not implement {what} (see models.Device)")

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        raise self._missing("conductance_S")

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        raise self._missing("draw")

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        raise self._missing("run_reference (the reference engine)")

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        raise self._missing("netlist_elements (the ngspice engine)")

    def spice_final(self, res) -> np.ndarray:
        raise self._missing("spice_final (the ngspice engine)")

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        raise self._missing("spice_conductance_S (ngspice waveforms)")

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        raise self._missing("final_states (the ngspice engine)")

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        raise self._missing("sweep_states")

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        raise self._missing("apply_pulse")

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        raise self._missing("spread_overrides (--sigma-pct)")

    def apply_write_pulse(self, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
        raise self._missing("apply_write_pulse (programming)")

    def info_lines(self) -> list[str]:
        return []


#: per (cell, width): the write probabilities already evaluated (``per_distinct_voltage``'s ``key``): sorted
#: voltages (V,) and the two probabilities at them; at most :data:`_CACHE_KEYS` entries of :data:`_CACHE_VOLTAGES`
#: voltages (the write-pulse search evaluates ~3,300 batches on a few hundred DAC voltages per width)
_WRITE_P_CACHE: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_CACHE_KEYS = 64
_CACHE_VOLTAGES = 1 << 14
_CACHE_LOCK = threading.Lock()


def _cached(fn: Any, vals: np.ndarray, width: float, key: Any) -> tuple[np.ndarray, np.ndarray]:
    """``fn(vals, width)`` (``vals`` (m,) distinct voltages) with the values of voltages seen before under ``key``
    taken from :data:`_WRITE_P_CACHE` (fn is elementwise: the same value whichever batch computed it) and the new
    ones computed and stored."""
    ck = (key, width)
    known = _WRITE_P_CACHE.get(ck)
    if known is None:
        pu, pd = fn(vals, width)
        hit = np.zeros(vals.size, bool)
    else:
        kv, ku, kd = known
        pos = np.minimum(np.searchsorted(kv, vals), kv.size - 1)
        hit = kv[pos] == vals  # NaN never hits
        pu, pd = np.empty(vals.size), np.empty(vals.size)
        pu[hit], pd[hit] = ku[pos[hit]], kd[pos[hit]]
        if hit.all():
            return pu, pd
        miss = ~hit
        pu[miss], pd[miss] = fn(vals[miss], width)
    new = ~hit & np.isfinite(vals)
    if new.any():
        v_new, u_new, d_new = vals[new], pu[new], pd[new]
        if known is not None:
            v_new, u_new, d_new = (np.concatenate([a, b]) for a, b in zip(known, (v_new, u_new, d_new)))
        if v_new.size <= _CACHE_VOLTAGES:
            order = np.argsort(v_new, kind="stable")
            with _CACHE_LOCK:  # the write-pulse search evaluates widths in two threads
                if ck not in _WRITE_P_CACHE and len(_WRITE_P_CACHE) >= _CACHE_KEYS:
                    _WRITE_P_CACHE.pop(next(iter(_WRITE_P_CACHE)))  # the oldest key
                _WRITE_P_CACHE[ck] = (v_new[order], u_new[order], d_new[order])
    return pu, pd


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:  # a cell with array fields: no cache
        return False
    return True


def per_distinct_voltage(fn: Any, v_V, width_s, key: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``fn(v, w) -> (p_up, p_dn)`` on broadcast arrays, evaluated once per distinct voltage when there is one width
    and many voltages (a write-verify batch on the DAC grid: the write tables' interpolation is the hot part).
    ``key`` (hashable, e.g. the frozen cell): fn is a pure elementwise function of (v, w) for this key, so the
    values of voltages evaluated before at the same width are reused (bit-identical: the same computation)."""
    v, w = np.broadcast_arrays(np.asarray(v_V, dtype=float), np.asarray(width_s, dtype=float))
    if v.size > 64 and np.all(w.flat[0] == w):
        flat = v.ravel()
        first, inv = distinct(flat)  # fn is elementwise: any order of the distinct voltages gives the same values
        vals, width = flat[first], float(w.flat[0])
        pu, pd = fn(vals, width) if key is None or not _hashable(key) else _cached(fn, vals, width, key)
        return pu[inv].reshape(v.shape), pd[inv].reshape(v.shape)
    return fn(v, w)


def format_duration(seconds: float) -> str:
    """Seconds, with a larger unit when long: '6.45 s', '7.1e+08 s (22.4 years)'."""
    units = (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60))
    big = next(((n, u) for n, u in units if seconds >= 2 * u), None)
    return f"{seconds:.3g} s" + (f" ({seconds / big[1]:.3g} {big[0]})" if big else "")


class _MTJArray(Device):
    """Devices made of ``n_mtj`` binary cells ``cell`` in parallel; state = number of cells in P. The per-cell
    physics (parameters, switching probabilities, SPICE elements, retention) is the cell's: any
    :class:`devices.cell.Cell` (:class:`STTMTJ`, ``devices.sot.SOTMTJ``)."""

    if TYPE_CHECKING:  # each subclass provides them (a class constant or a field; a property)
        @property
        def n_mtj(self) -> int: ...

        @property
        def cell(self) -> Any: ...

    @property
    def state_top(self):
        return self.n_mtj

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        s = np.asarray(state, dtype=float)
        return self.cell.cell_conductance_S(s, self.n_mtj - s, v_read_V)

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        return ref.draw_base(n_dt, trials, self.n_mtj, seed)[1]

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        edges_s, v_mid = ref.step_voltages(tb, dt_ms)
        s1, h, nsw = self.cell.cell_integrate(d, edges_s, v_mid)
        return {"s1": s1.astype(np.int8), "h": h, "nsw": nsw}

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        return self.cell.cell_elements(d, ip, it, self.n_mtj)

    def spice_final(self, res) -> np.ndarray:
        return np.array([res[f"h{i}"][-1] for i in range(self.n_mtj)])

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        return self.conductance_S(sum(res[f"s{i}"] for i in range(self.n_mtj)), v_read_V)

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        """Hazard H (P, T, N) -> state = s0 XOR parity of the thresholds crossed."""
        n_cross = (final[..., None] >= d.theta).sum(-1)
        return {"s1": ((d.s0 + n_cross) % 2).astype(np.int8), "h": final}

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        s0, s1 = d.s0.astype(np.int64), out["s1"].astype(np.int64)
        up = ((s0 == 0) & (s1 == 1)).sum(-1)
        down = ((s0 == 1) & (s1 == 0)).sum(-1)
        return s0.sum(-1), s1.sum(-1), up, down

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return self.cell.cell_spread_overrides(sigma_pct)

    @property
    def retention_s(self) -> float:
        """Zero-bias escape time (s) of one cell from either state (``Cell.cell_retention_s``)."""
        return self.cell.cell_retention_s

    def write_probabilities(self, v_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """(P(AP->P), P(P->AP)) of one cell for a rectangular write pulse of v_V (V across the device's write
        terminals) and width_s seconds: the cell's programming physics (``Cell.cell_write_probabilities``)."""
        return self.cell.cell_write_probabilities(v_V, width_s)

    def half_select_probabilities(self, v_hs_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """(P(AP->P), P(P->AP)) of one half-selected cell that sees v_hs_V on its write path for width_s
        (``Cell.half_select_probabilities``)."""
        return self.cell.half_select_probabilities(v_hs_V, width_s)

    def apply_write_pulse(self, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
        """One write pulse per device with :meth:`write_probabilities` (binomial over the cells the pulse can
        switch; a single cell is a compound of one)."""
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        p_up, p_dn = self.write_probabilities(v, w)
        return compound_write(rng, self.n_mtj, state.astype(np.int64), p_up, p_dn)  # numpy's draws, compiled

    def info_lines(self) -> list[str]:
        return self.cell.cell_info_lines()


@dataclass(frozen=True)
class STTMTJ(_MTJArray):
    """Perpendicular STT-MTJ, two states (1 = P, 0 = AP). Defaults: Beihang/Zhao model (Zhang et al. 2012)
    as used by the published bi-sigmoid compound synapse; Ms chosen so that Delta = 22.8 at 300 K.

    ``gate_to_p_V`` / ``gate_to_ap_V``: voltage gates of the published author's modified Beihang model
    (switch toward P only when V_mtj > gate_to_p_V, toward AP only when V_mtj < gate_to_ap_V); ``None`` =
    purely physical (no gate). ``sigma_*_pct``: device-to-device Gaussian spreads in percent.
    ``ic0_model``: spin-polarisation factor of Ic0 (``physics.ic0_polarisation_factor``): ``"slonczewski"``
    (1+P²)/P with P = ``polarisation`` (37.76 uA), ``"julliere"`` the same with P from TMR0 by Julliere, as the
    Beihang Verilog-A computes it (38.22 uA; 38.21 uA with that file's rounded constants).

    Switching time (``physics.switching_time_formula``): ``tau0_ns`` attempt time and ``barrier_exponent``
    (beta) of the thermal wait tau0 (exp(Delta (1 - I/Ic0)^beta) - 1) below Ic0 (1 = Beihang, 2 = macrospin),
    plus the precessional transit 1/(k_prec (max(I - Ic0, 0) + ``transit_eps`` Ic0)). Defaults: the published
    beta = 1 and tau0 = 0.87 ns, eps = 0.32 (transit at Ic0 as in stochastic LLG, see docs/devices.md).
    ``retention_s``: the zero-bias switching time (thermal relaxation).
    """

    radius_nm: float = 16.0
    t_fl_nm: float = 1.3
    t_ox_nm: float = 0.85
    ra_ohm_um2: float = 5.0
    tmr0: float = 0.7
    vh_V: float = 0.5
    alpha: float = 0.027
    gamma_rad_per_s_Oe: float = 1.76e7
    polarisation: float = 0.52
    ic0_model: str = "slonczewski"
    hk_Oe: float = 1433.0
    ms_A_per_m: float = 1.2566e6
    tau0_ns: float = 0.87
    attempt: str = "tau0"
    barrier_exponent: float = 1.0
    transit_eps: float = 0.32
    temperature_K: float = 300.0
    barrier_height_eV: float = 0.4
    gate_to_p_V: float | None = None
    gate_to_ap_V: float | None = None
    sigma_t_ox_pct: float = 0.0
    sigma_t_fl_pct: float = 0.0
    sigma_tmr0_pct: float = 0.0
    sigma_area_pct: float = 0.0

    name: ClassVar[str] = "stt-mtj"
    n_mtj: ClassVar[int] = 1
    read_disturb: ClassVar[bool] = True  # the read current crosses the barrier it switches through

    @property
    def cell(self) -> STTMTJ:
        return self

    # ---- the Cell protocol (devices/cell.py): what a compound synapse asks of its cell
    def cell_conductance_S(self, n_p, n_ap, v_read_V: float = 0.1) -> np.ndarray:
        """Conductance (S) of n_p cells in P and n_ap in AP in parallel, read at v_read_V (R_AP(V) of TMR(V))."""
        p = derive(self)
        return conductance_formula(p.r_p_ohm, r_ap_ohm(p, v_read_V), n_p, n_ap)

    def cell_integrate(self, d: ref.Draws, edges_s: np.ndarray, v_mid: np.ndarray):
        """Reference engine over the draws' cells (P, T, N): (state, hazard, switches) at the end."""
        return ref.integrate_mtj(ref.device_params(self, d.z), d.s0, d.theta, edges_s, v_mid)

    def cell_elements(self, d: ref.Draws, ip: int, it: int, n: int) -> list[str]:
        """SPICE elements of the n MTJs of instance (ip, it) (:meth:`mtj_elements`)."""
        p = ref.device_params(self, d.z[ip, it])
        return [line for i in range(n) for line in self.mtj_elements(i, p, int(d.s0[ip, it, i]), d.theta[ip, it, i])]

    def cell_spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {k: sigma_pct for k in ("sigma_t_ox_pct", "sigma_t_fl_pct", "sigma_tmr0_pct", "sigma_area_pct")}

    @property
    def cell_retention_s(self) -> float:
        """Zero-bias escape time of one MTJ from either state (s): Brown's tau_D sqrt(pi/Delta) e^Delta of the
        cell's geometry and materials (``macrospin.brown_escape_time_s``), for every preset: the published
        gates and drive law shape the switching under bias, not the thermal stability at rest."""
        return macrospin.brown_escape_time_s(self)

    def cell_write_probabilities(self, v_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """(P(AP->P), P(P->AP)) of one MTJ for a rectangular write pulse of v_V (V_mtj) and width_s seconds, from
        the macrospin Fokker–Planck model of the cell's own geometry and materials, ungated
        (``macrospin.switching_table``): the write physics of programming, for every preset."""
        return per_distinct_voltage(lambda v, w: self._write_p(derive(self), macrospin.switching_table(self), v, w),
                                    v_V, width_s, key=self)

    @staticmethod
    def _write_p(p: MTJParams, tab, v: np.ndarray, w) -> tuple[np.ndarray, np.ndarray]:
        i_up = v / r_ap_ohm(p, v) / p.ic0_A  # aiding AP -> P: positive V through R_AP(V)
        i_dn = -v / p.r_p_ohm / p.ic0_A  # aiding P -> AP: negative V through R_P
        return tab.p(i_up, w), tab.p(i_dn, w)

    def half_select_probabilities(self, v_hs_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """A half-selected STT-MTJ sees v_hs_V across its barrier: the write physics at that bias."""
        return self.cell_write_probabilities(v_hs_V, width_s)

    def switching_time_s(self, i_rel) -> np.ndarray:
        """Mean switching time (s) of one MTJ at a constant aiding current i_rel x Ic0 (ungated); t50 = ln2 x this."""
        p = derive(self)
        return switching_time_formula(np.asarray(i_rel, dtype=float) * p.ic0_A, p.ic0_A, p.delta, p.tau0_s,
                                      p.k_prec_per_A_s, p.barrier_exponent, p.transit_eps, p.brown)

    def cell_info_lines(self) -> list[str]:
        mtj, p = self, derive(self)
        t50 = np.log(2) * self.switching_time_s([0.5, 1.0, 2.0]) * 1e9
        return [f"R_P = {float(p.r_p_ohm):.1f} ohm; R_AP(0) = {float(r_ap_ohm(p, 0.0)):.1f} ohm; "
                f"R_AP(0.1 V) = {float(r_ap_ohm(p, 0.1)):.1f} ohm; R_AP(0.25 V) = {float(r_ap_ohm(p, 0.25)):.1f} ohm",
                f"Ic0 = {float(p.ic0_A) * 1e6:.2f} uA; Delta = {float(p.delta):.2f}; "
                + (f"attempt: Brown, tau_D = {p.tau0_s * 1e9:.2f} ns; " if p.brown else
                   f"attempt: tau0 = {p.tau0_s * 1e9:.2f} ns; ") +
                f"gates: to P V>{mtj.gate_to_p_V}, to AP V<{mtj.gate_to_ap_V}",
                f"sweep hazard: barrier exponent {mtj.barrier_exponent:g}, transit eps {mtj.transit_eps:g}, "
                f"k_prec*Ic0 = {float(p.k_prec_per_A_s * p.ic0_A) * 1e-9:.3f}/ns; t50 at 0.5/1/2 Ic0 = "
                + " / ".join(f"{t:.3g}" for t in t50) + " ns",
                f"retention (Brown's zero-bias escape time, tau_D sqrt(pi/Delta) e^Delta, tau_D = "
                f"{macrospin.tau_d_s(mtj) * 1e9:.3g} ns) = {format_duration(self.cell_retention_s)}",
                "programming (write-verify, half-select): macrospin Fokker-Planck of this geometry, ungated"]

    def switch_probabilities(self, v_V, width_s, params: MTJParams | None = None):
        """(P(AP->P), P(P->AP)) of a rectangular pulse v_V of width_s seconds (arrays broadcast)."""
        p = derive(self) if params is None else params
        p_up = -np.expm1(-hazard_rate_per_s(p, 0.0, v_V) * width_s)
        p_dn = -np.expm1(-hazard_rate_per_s(p, 1.0, v_V) * width_s)
        return p_up, p_dn

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        p_up, p_dn = self.switch_probabilities(v, w, params)
        s = state.astype(np.int64)
        u = rng.random(state.shape)
        return np.where(s == 1, np.where(u < p_dn, 0, 1), np.where(u < p_up, 1, 0))

    def mtj_elements(self, i: int, p: MTJParams, s0: int, thresholds: np.ndarray) -> list[str]:
        """SPICE elements of MTJ ``i`` (parameters ``p[i]``): hazard node ``h<i>`` = ∫ rate dt, state node
        ``s<i>`` = s0 XOR parity of the thresholds H has reached (a hard test, ``netlist.threshold_state``), the
        step-control guard ``g<i>`` (``netlist.crossing_guard``) and the MTJ current pre -> post. The rate is
        the current state's, selected by a ternary ``s > 0.5 ? rate_from_P(V) : rate_from_AP(V)`` (s is exactly
        0 or 1), so it changes direction exactly where H reaches a threshold and an evaluation computes only
        one direction's rate."""
        v, s = nl.V_MTJ, nl.node_v(f"s{i}")
        args = (p.r_p_ohm[i], p.tmr0[i], p.vh_V, p.ic0_A[i], p.delta[i], p.tau0_s, p.k_prec_per_A_s[i],
                p.barrier_exponent, p.transit_eps, p.brown)
        from_p = state_rate_formula(1, v, *args)
        if p.gate_to_ap_V is not None:
            from_p = nl.where(v < p.gate_to_ap_V, from_p, 0)
        from_ap = state_rate_formula(0, v, *args)
        if p.gate_to_p_V is not None:
            from_ap = nl.where(v > p.gate_to_p_V, from_ap, 0)
        r_ap = r_ap_formula(p.r_p_ohm[i], p.tmr0[i], p.vh_V, v)
        return [nl.threshold_state(f"s{i}", f"h{i}", s0, thresholds),
                *nl.crossing_guard(f"g{i}", f"h{i}", thresholds),
                *nl.integrator(f"h{i}", nl.where(s > 0.5, from_p, from_ap), 0.0),
                nl.b_current(f"m{i}", nl.PRE, nl.POST, mtj_current_formula(p.r_p_ohm[i], r_ap, s, v))]

    def __post_init__(self) -> None:
        positive = ("radius_nm", "t_fl_nm", "t_ox_nm", "ra_ohm_um2", "vh_V", "alpha", "gamma_rad_per_s_Oe",
                    "hk_Oe", "ms_A_per_m", "tau0_ns", "transit_eps", "temperature_K", "barrier_height_eV")
        for name in positive:
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"STTMTJ: {name}={v!r} is non-physical; expected a finite value > 0")
        if not 0 < self.polarisation < 1:
            raise ValueError(f"STTMTJ: polarisation={self.polarisation!r}; expected 0 < P < 1")
        if self.attempt not in ATTEMPT_MODELS:
            raise ValueError(f"STTMTJ: attempt={self.attempt!r}; expected one of {ATTEMPT_MODELS}")
        if self.ic0_model not in IC0_MODELS:
            raise ValueError(f"STTMTJ: ic0_model={self.ic0_model!r}; expected one of {IC0_MODELS}")
        if not self.tmr0 > 0:
            raise ValueError(f"STTMTJ: tmr0={self.tmr0!r}; expected > 0")
        if not 0.5 <= self.barrier_exponent <= 4:
            raise ValueError(f"STTMTJ: barrier_exponent={self.barrier_exponent!r}; expected 0.5..4 "
                             "(1 = Beihang, 2 = macrospin)")
        for name in ("sigma_t_ox_pct", "sigma_t_fl_pct", "sigma_tmr0_pct", "sigma_area_pct"):
            v = getattr(self, name)
            if not 0 <= v < 30:
                raise ValueError(f"STTMTJ: {name}={v!r}; expected 0 <= sigma < 30 (%)")


@dataclass(frozen=True)
class CompoundSynapse(_MTJArray):
    """N binary cells in parallel between pre and post (Vincent et al., IEEE TBioCAS 9, 166 (2015) style
    compound synapse used by the published bi-sigmoid work); N+1 conductance levels. State = count of P.
    ``mtj``: the cell, any :class:`devices.cell.Cell` (default an STT-MTJ; ``devices.sot.SOTMTJ`` too).
    Nothing outside devices/ reads it: ask the device (``cell``, ``retention_s``, ``write_probabilities``)."""

    n_mtj: int = 8
    mtj: Cell = field(default_factory=STTMTJ)

    name: ClassVar[str] = "compound"
    synapse_family: ClassVar[str | None] = "compound"

    @property
    def cell(self) -> Cell:
        return self.mtj

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        """Binomial over the MTJs in the state the pulse can switch."""
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        p_up, p_dn = self.mtj.switch_probabilities(v, w, params)
        k = state.astype(np.int64)
        return k + rng.binomial(self.n_mtj - k, p_up) - rng.binomial(k, p_dn)

    def info_lines(self) -> list[str]:
        g = self.conductance_S(np.arange(self.n_mtj + 1))
        return [*super().info_lines(),
                f"levels ({self.n_mtj + 1}) at 0.1 V, uS: " + " ".join(f"{x * 1e6:.2f}" for x in g)]

    def __post_init__(self) -> None:
        if isinstance(self.mtj, dict):
            object.__setattr__(self, "mtj", cell_from_fields(self.mtj))
        lo, hi = cast(int, SWEEP_OPTIONS["n_mtj"].min), cast(int, SWEEP_OPTIONS["n_mtj"].max)  # declared once
        if not (isinstance(self.n_mtj, (int, np.integer)) and lo <= self.n_mtj <= hi):
            raise ValueError(f"CompoundSynapse: n_mtj={self.n_mtj!r}; expected an integer in {lo}..{hi}")


@dataclass(frozen=True)
class DomainWallMTJ(Device):
    """Three-terminal domain-wall MTJ: read conductance G = G_AP + x (G_P - G_AP), wall position x in [0, 1].

    The write current I = V_mtj/R_HM flows through a heavy-metal strip (``r_hm_ohm``, cross-section
    ``hm_width_nm`` x ``hm_thickness_nm``, J = I/(w t)) in parallel with the MTJ; positive current pushes x up
    (toward P). The wall speed at drive ratio j = |J|/J_th(x) of the local depinning threshold is
    (``physics.dw_creep_flow_formula``)

    * creep, j < 1: v = v_dep exp(-(U_c/kT)(j^-mu - 1)), mu = 1/4 (Lemerle et al., PRL 80, 849 (1998);
      current-driven creep: Yamanouchi et al., Science 317, 1726 (2007); the form continuous at depinning,
      v(J_th) = v_dep, as in Jeudy et al., PRL 117, 057201 (2016));
    * flow, j >= 1: v = v_dep + v_coeff (j - 1) (linear SOT flow regime of HM/FM strips, Miron et al.,
      Nat. Mater. 10, 419 (2011); Emori et al., Nat. Mater. 12, 611 (2013)).

    Pinning landscape (per device = per Monte-Carlo instance, ``reference.dw_landscape``): sites along the free
    layer, a hard-core Poisson process with mean spacing ``site_spacing_nm`` (the grain size) and width
    ``site_width_nm`` (about the wall width); site k pins with J_th = f_k J_dep, f_k = 1 + sigma_pin z_k
    (Gaussian, floored at the background); between sites the weak background J_th = ``j_background_frac``
    J_dep. The wall flows between sites and creeps through the sites its drive does not overcome, so its
    displacement is graded in the drive's amplitude and duration. ``sigma_depin_pct``: a further Gaussian
    scale of all thresholds, per instance in a sweep and per pulse in ``apply_pulse`` (device-to-device /
    cycle-to-cycle). ``n_notches`` > 0: fabricated notches on top of the grain sites: after the transient the
    wall is pinned at the last notch passed (as before; both engines). ``apply_pulse`` uses one quenched
    landscape drawn from ``landscape_seed`` (the same for every device of the model, so a pulse is
    deterministic when ``sigma_depin_pct`` = 0). Scaling to the published testbench: docs/devices.md.
    """

    length_nm: float = 1000.0
    r_p_ohm: float = 4.0e3
    r_ap_ohm: float = 8.0e3
    r_hm_ohm: float = 1.0e3
    hm_width_nm: float = 50.0
    hm_thickness_nm: float = 4.0
    j_depin_A_per_m2: float = 0.85e12
    j_background_frac: float = 0.3
    v_depin_m_per_s: float = 1.0
    v_coeff_m_per_s: float = 10.0
    creep_u_kt: float = 250.0
    creep_mu: float = 0.25
    site_spacing_nm: float = 20.0
    site_width_nm: float = 5.0
    sigma_pin_pct: float = 12.0
    n_notches: int = 0
    sigma_depin_pct: float = 0.0
    landscape_seed: int = 0

    name: ClassVar[str] = "dw-mtj"
    synapse_family: ClassVar[str | None] = "dw"
    n_mtj: ClassVar[int] = 0

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        return dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, np.clip(np.asarray(state, dtype=float), 0, 1))

    def _depin_scale(self, rng: np.random.Generator, shape) -> np.ndarray:
        return np.maximum(1 + self.sigma_depin_pct / 100 * rng.standard_normal(shape), 0.05)

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        """The MTJ draws (unused, kept so every device consumes the stream alike), the per-instance
        threshold scale, then each instance's pinning landscape; the wall starts at rest on the site nearest
        to the uniform draw x0 (on the nearest notch when ``n_notches`` > 0)."""
        rng, d = ref.draw_base(n_dt, trials, 1, seed)
        depin = self._depin_scale(rng, (n_dt, trials))
        edges, pin = ref.dw_landscape(self, rng, (n_dt, trials))
        if self.n_notches:
            x0 = np.round(d.x0 * self.n_notches) / self.n_notches
        else:
            c = ref.dw_site_centres(edges)
            x0 = np.take_along_axis(c, np.argmin(np.abs(c - d.x0[..., None]), -1)[..., None], -1)[..., 0]
        return dataclasses.replace(d, x0=x0, depin=depin, dw_edges=edges, dw_pin=pin)

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        edges_s, v_mid = ref.step_voltages(tb, dt_ms)
        assert d.dw_edges is not None and d.dw_pin is not None  # set by draw()
        return {"x1": ref.integrate_dw(self, d.x0, d.depin, edges_s, v_mid, d.dw_edges, d.dw_pin)}

    @staticmethod
    def _sites(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sites of one landscape that have a width (those past the strip's end have none): cell index
        (into ``pin``), lower and upper edge, and the background gap below and above each."""
        cell = np.arange(1, edges.size - 1, 2)
        lo, hi = edges[cell], edges[cell + 1]
        real = hi > lo
        cell, lo, hi = cell[real], lo[real], hi[real]
        below = lo - np.concatenate([[0.0], hi[:-1]])
        above = np.concatenate([lo[1:], [1.0]]) - hi
        return cell, lo, hi, below, above

    def landscape_expr(self, edges: np.ndarray, pin: np.ndarray, x, up: bool) -> nl.Expr:
        """J_th(x)/J_dep of one landscape for a wall moving up (``up``) or down, as a ``netlist.piecewise``
        function of the wall node: each site's ratio over the site, the background between sites. Each site
        gets a linear ramp just outside each edge (``SITE_RAMP`` of the site width, at most a tenth of the
        background gap). Where the wall *enters* a site the threshold rises along that ramp, so the speed
        falls smoothly and the implicit step into the site has one solution. Where it *leaves* a site the
        threshold drops exactly (a ternary) at the far end of the other side's ramp: a ramp there (speed
        rising steeply with x) made Newton's steps vanishingly small and ngspice accepted unconverged points,
        stalling the wall at the exit; and a wall that stopped on an entry ramp (just short of the site) is
        held there like a wall just inside the site in the reference engine when the drive reverses."""
        bg = float(pin[0])
        r0 = self.SITE_RAMP * self.site_width_nm / self.length_nm
        bounds: list[float] = []
        leaves: list = [bg]
        for c, lo, hi, below, above in zip(*self._sites(edges)):
            f = float(pin[c])
            r_lo, r_hi = min(r0, below / 10), min(r0, above / 10)
            a, b = (lo - r_lo if lo > 0 else -1.0), (hi + r_hi if hi < 1 else 2.0)  # sites at an end hold the wall
            if up:  # bg | ramp [a, lo] up to f | f on [lo, b) | bg
                ramp = 0 < lo - a < 1
                bounds += [a, lo, b] if ramp else [a, b]
                leaves += [bg + (f - bg) * (x - a) / (lo - a), f, bg] if ramp else [f, bg]
            else:  # bg | f on [a, hi) | ramp [hi, b] down to bg | bg
                bounds += [a, hi, b] if b > hi and b < 2 else [a, b]
                leaves += [f, bg + (f - bg) * (b - x) / (b - hi), bg] if b > hi and b < 2 else [f, bg]
        return nl.piecewise(x, bounds, leaves)

    SITE_RAMP: ClassVar[float] = 0.005
    #: SPICE only: the wall is held for the first SPICE_HOLD_S (a breakpoint, so ngspice's first step, whose
    #: truncation error is never checked, cannot move it) and its speed then rises linearly over
    #: SPICE_SOFT_START_S (the guard's step control takes over); the start of the 60 ms waveform is delayed by
    #: about 50 ns.
    SPICE_HOLD_S: ClassVar[float] = 1e-9
    #: SPICE only: node ``x`` holds 1 + the wall position, so the relative tolerances (reltol x |v(x)|) stay finite
    #: for a wall at x = 0 (from exactly 0 the step collapsed: "timestep too small").
    SPICE_X_OFFSET: ClassVar[float] = 1.0
    SPICE_SOFT_START_S: ClassVar[float] = 1e-7
    #: ngspice options of a DW netlist: reltol 1e-6 (Newton's node tolerance reltol·|x| must stay far below the
    #: SITE_RAMP of a site edge, 5e-4 of the strip: with the default 1e-4 the wall stalled at a site's exit).
    SPICE_OPTIONS: ClassVar[str] = ".options reltol=1e-6 abstol=1e-12 vntol=1e-9 method=gear maxord=2 itl4=50 trtol=1"

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        """Heavy-metal strip and MTJ pre -> post; node ``x`` (1 + the wall position, ``SPICE_X_OFFSET``)
        integrates the wall velocity: creep/flow at the local threshold of the instance's landscape for the
        direction of the drive (``landscape_expr``), fading out over the last 1e-3 of the range at either end
        (continuous clamp); the step-control guard nodes ``gx<j>`` (``netlist.position_guard``, ramps in the
        sites: ``guard_ramps``); the start-up hold and ramp ``ss`` (a PWL source, so its corner is a
        breakpoint)."""
        v, x, ss = nl.V_MTJ, nl.node_v("x") - self.SPICE_X_OFFSET, nl.node_v("ss")
        assert d.dw_edges is not None and d.dw_pin is not None  # set by draw()
        edges, pin, scale = d.dw_edges[ip, it], d.dw_pin[ip, it], d.depin[ip, it]
        up = ref.dw_speed(self, v, scale * self.landscape_expr(edges, pin, x, up=True)) * ss
        down = ref.dw_speed(self, v, scale * self.landscape_expr(edges, pin, x, up=False)) * ss
        up = up * np.maximum(np.minimum((1 - x) / 1e-3, 1), 0)
        down = -down * np.maximum(np.minimum(x / 1e-3, 1), 0)
        t0, t1 = self.SPICE_HOLD_S, self.SPICE_HOLD_S + self.SPICE_SOFT_START_S
        return [nl.resistor("hm", nl.PRE, nl.POST, self.r_hm_ohm),
                nl.b_current("mtj", nl.PRE, nl.POST, v * dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, x)),
                nl.pwl_voltage("ss", "ss", "0", [(0, 0), (t0, 0), (t1, 1)]),
                *nl.integrator("x", nl.where(v > 0, up, down), d.x0[ip, it] + self.SPICE_X_OFFSET),
                *nl.position_guard("gx", x, *self.guard_ramps(d.dw_edges[ip, it]), float(d.x0[ip, it]))]

    #: SPICE step-control guard of the wall (``netlist.position_guard``): one C¹ ramp across the middle of each
    #: site, GUARD_WIDTH x its width wide.
    GUARD_WIDTH: ClassVar[float] = 0.2

    def guard_ramps(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and width of the guard ramps of one landscape: one across the middle of each site (width
        GUARD_WIDTH x the site's width), so no implicit step can carry the wall over a whole site unnoticed. Not
        in the background gaps: those can be arbitrarily narrow (a ramp there, crossed at flow speed, forced
        femtosecond steps: "timestep too small"), sites cannot (width ``site_width_nm`` unless cut by an end)."""
        _, lo, hi, _, _ = self._sites(edges)
        w = self.GUARD_WIDTH * (hi - lo)
        keep = w > 1e-7
        return (0.5 * (lo + hi) - 0.5 * w)[keep], w[keep]

    def spice_final(self, res) -> np.ndarray:
        return np.array([res["x"][-1] - self.SPICE_X_OFFSET])

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        return dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, res["x"] - self.SPICE_X_OFFSET)

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        return {"x1": ref.snap_notches(self, d.x0, np.clip(final[..., 0], 0, 1))}

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        x0, x1 = d.x0, out["x1"]
        return x0, x1, (x1 > x0).astype(np.int64), (x1 < x0).astype(np.int64)

    def pulse_landscape(self) -> tuple[np.ndarray, np.ndarray]:
        """The quenched landscape (1, E), (1, E-1) ``apply_pulse`` uses: drawn from ``landscape_seed``."""
        return ref.dw_landscape(self, np.random.default_rng(self.landscape_seed), (1,))

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        """The same creep/flow physics for one rectangular pulse, event-located through the model's quenched
        landscape (``pulse_landscape``) with a threshold scale drawn per pulse (``sigma_depin_pct``), then
        notch snapping."""
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        scale = self._depin_scale(rng, state.shape)
        x0 = state.astype(float)
        edges, pin = self.pulse_landscape()
        x = ref.integrate_dw_landscape(self, x0.ravel(), scale.ravel(), edges, pin, w.reshape(-1, 1),
                                       v.reshape(-1, 1)).reshape(state.shape)
        return ref.snap_notches(self, x0, x)

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {"sigma_depin_pct": sigma_pct}

    def apply_write_pulse(self, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
        """A write pulse moves the wall by the model's own creep/flow physics (:meth:`apply_pulse`)."""
        return self.apply_pulse(state, v_V, width_ns, rng)

    def info_lines(self) -> list[str]:
        i_dep = self.i_depin_A
        return [f"R_P = {self.r_p_ohm:.1f} ohm, R_AP = {self.r_ap_ohm:.1f} ohm, R_HM = {self.r_hm_ohm:.1f} ohm, "
                f"I_dep = {i_dep * 1e6:.1f} uA (V_dep = {i_dep * self.r_hm_ohm:.3f} V), levels = "
                f"{'analog' if self.n_notches == 0 else self.n_notches + 1}",
                f"creep U_c/kT = {self.creep_u_kt:g}, mu = {self.creep_mu:g}; v_dep = {self.v_depin_m_per_s:g} m/s, "
                f"flow {self.v_coeff_m_per_s:g} m/s per unit overdrive; sites every {self.site_spacing_nm:g} nm "
                f"(~{self.length_nm / self.site_spacing_nm:.0f} per device), spread {self.sigma_pin_pct:g} %, "
                f"background {self.j_background_frac:g} J_dep"]

    def __post_init__(self) -> None:
        for name in ("length_nm", "r_p_ohm", "r_ap_ohm", "r_hm_ohm", "hm_width_nm", "hm_thickness_nm",
                     "j_depin_A_per_m2", "v_depin_m_per_s", "v_coeff_m_per_s", "creep_u_kt", "site_width_nm"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"DomainWallMTJ: {name}={v!r} is non-physical; expected > 0")
        if self.r_ap_ohm <= self.r_p_ohm:
            raise ValueError(f"DomainWallMTJ: r_ap_ohm={self.r_ap_ohm} must exceed r_p_ohm={self.r_p_ohm}")
        checks = [("creep_mu", 0 < self.creep_mu <= 1, "0 < mu <= 1"),
                  ("j_background_frac", 0 < self.j_background_frac <= 1, "0 < frac <= 1"),
                  ("site_spacing_nm", self.site_width_nm < self.site_spacing_nm <= self.length_nm,
                   "site_width_nm < spacing <= length_nm"),
                  ("sigma_pin_pct", 0 <= self.sigma_pin_pct <= 100, "0..100 (%)"),
                  ("n_notches", 0 <= self.n_notches <= 1024, "0..1024"),
                  ("sigma_depin_pct", 0 <= self.sigma_depin_pct < 50, "0..50 (%)")]
        for name, ok, want in checks:
            if not ok:
                raise ValueError(f"DomainWallMTJ: {name}={getattr(self, name)!r}; expected {want}")

    @property
    def i_depin_A(self) -> float:
        return self.j_depin_A_per_m2 * self.hm_width_nm * 1e-9 * self.hm_thickness_nm * 1e-9


@dataclass(frozen=True)
class PulseTestbench:
    """Pre/post waveforms (published defaults). V_pre jumps to ``pre_start_V`` at t=0, ramps linearly to
    ``pre_end_V`` over ``pre_ramp_ms``, then 0. Post pulse starts at t = dt: ``post_pot_V`` for
    ``post_pot_us``, then ``post_dep_V`` for ``post_dep_us``. V_mtj = V_pre - V_post."""

    pre_start_V: float = 0.15
    pre_end_V: float = -0.09
    pre_ramp_ms: float = 60.0
    post_pot_V: float = -0.10
    post_pot_us: float = 7.0
    post_dep_V: float = 0.10
    post_dep_us: float = 1.0
    v_read_V: float = 0.1

    def __post_init__(self) -> None:
        for name in ("pre_ramp_ms", "post_pot_us", "post_dep_us", "v_read_V"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"PulseTestbench: {name}={v!r}; expected > 0")
        for name in ("pre_start_V", "pre_end_V", "post_pot_V", "post_dep_V"):
            if abs(getattr(self, name)) > 5:
                raise ValueError(f"PulseTestbench: {name}={getattr(self, name)!r}; expected |V| <= 5")

    def v_pre_V(self, t_ms: np.ndarray) -> np.ndarray:
        t = np.asarray(t_ms, dtype=float)
        ramp = self.pre_start_V + (self.pre_end_V - self.pre_start_V) * t / self.pre_ramp_ms
        return np.where((t >= 0) & (t < self.pre_ramp_ms), ramp, 0.0)

    @property
    def post_us(self) -> float:
        return self.post_pot_us + self.post_dep_us


def write_switch_probability(mtj: Any, v_V, width_ns, to_parallel: bool) -> np.ndarray:
    """P(switch) of one binary cell (``devices.cell.Cell``) for a rectangular write pulse of v_V (signed, across
    its write terminals) and width_ns, with its programming physics (``write_probabilities``: for STT the ungated
    macrospin Fokker–Planck model of its geometry, for SOT its HM-current compact model): programming and disturb."""
    p_up, p_dn = mtj.write_probabilities(v_V, np.asarray(width_ns, dtype=float) * 1e-9)
    return p_up if to_parallel else p_dn


def apply_write_pulse(model: Device, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
    """One write pulse per device of a batch with the programming physics (``Device.apply_write_pulse``)."""
    return model.apply_write_pulse(state, v_V, width_ns, rng)


def switch_probability(mtj: Any, v_V, width_ns, to_parallel: bool) -> np.ndarray:
    """P(switch) of one binary cell (a preset's, a device file's, or a compound's cell) for a rectangular pulse of
    v_V (V_mtj) and width_ns with the cell's own sweep drive law (gates included; the sweep engines' hazard):
    1 - exp(-width/tau) (``Cell.switch_probabilities``)."""
    cell = getattr(mtj, "cell", mtj)
    p_up, p_dn = cell.switch_probabilities(v_V, np.asarray(width_ns, dtype=float) * 1e-9)
    return p_up if to_parallel else p_dn


# ------------------------------------------------------------------------------------------ presets

PUBLISHED_GATES: dict[str, Any] = {"gate_to_p_V": 0.15, "gate_to_ap_V": -0.10}

#: The macrospin's own switching law for the sweep engines (``physics.switching_time_formula`` with
#: ``attempt="brown"``): barrier exponent 2, Brown's prefactor with current, attempt time the damping time tau_D,
#: transit eps fitted with BROWN_C to the exact mean escape time of the Fokker–Planck equation (nothing fitted to
#: cmtj; checked against it in docs/devices.md). Default geometry (Delta 22.7):
MACROSPIN_SWITCHING: dict[str, Any] = {"barrier_exponent": 2.0, "attempt": "brown", "transit_eps": TRANSIT_EPS_BROWN}
#: the same for the physical preset's own MTJ (Hk 2600 Oe, Delta 41.2, Ic0 68.5 uA):
PHYSICAL_SWITCHING: dict[str, Any] = {"hk_Oe": 2600.0, **MACROSPIN_SWITCHING}
#: A 10-year device: the physical preset's materials (Hk 2600 Oe, mu0 Ms 1.58 T) on a 40 nm diameter, 1.3 nm
#: CoFeB free layer, the junction size and thickness of Ikeda et al., Nat. Mater. 9, 721 (2010) (mu0 Ms 1.58 T
#: there too): macrospin Delta 64.4 (>= 48.2 keeps <= 0.2 % of the MTJs flipped after 10 years at 300 K;
#: ``retentive_delta_needed``), Ic0 107 uA (Ikeda measured 49 uA: real junctions reverse by nucleation, so the
#: macrospin overrates Ic0 and Delta alike). Drive law for sweeps: the physical preset's (not re-fitted).
RETENTIVE: dict[str, Any] = {**PHYSICAL_SWITCHING, "radius_nm": 20.0}

#: name -> (constructor, source). ``stt-mtj``/``compound`` = the published device (gated Beihang model).
PRESETS: dict[str, tuple[Any, str]] = {
    "stt-mtj": (lambda: STTMTJ(**PUBLISHED_GATES),
                "Beihang/Zhao STT-MTJ (Zhang et al., IEEE TED 2012) with the published author's voltage gates "
                "(to P only for V>0.15 V, to AP only for V<-0.1 V)"),
    "compound": (lambda: CompoundSynapse(8, STTMTJ(**PUBLISHED_GATES)),
                 "published compound synapse: 8 gated Beihang STT-MTJs in parallel"),
    "stt-mtj-macrospin": (lambda: STTMTJ(**MACROSPIN_SWITCHING),
                          "the default STT-MTJ (geometry, materials), ungated, with the macrospin's own switching law "
                          "(Brown's escape time with current, Sun's transit; devices/macrospin.py)"),
    "compound-macrospin": (lambda: CompoundSynapse(8, STTMTJ(**MACROSPIN_SWITCHING)),
                           "8 stt-mtj-macrospin MTJs in parallel"),
    "stt-mtj-physical": (lambda: STTMTJ(**PHYSICAL_SWITCHING),
                         "ungated STT-MTJ with Hk raised to 2600 Oe (Delta ~41, Ic0 ~69 uA) so that the pre ramp "
                         "alone is harmless, the macrospin's own switching law (Brown with current, Sun); needs the "
                         "'physical' testbench amplitudes"),
    "compound-physical": (lambda: CompoundSynapse(8, STTMTJ(**PHYSICAL_SWITCHING)),
                          "8 ungated stt-mtj-physical MTJs (Hk 2600 Oe) in parallel"),
    "stt-mtj-retentive": (lambda: STTMTJ(**RETENTIVE),
                          "10-year STT-MTJ: 40 nm diameter, 1.3 nm CoFeB (Ikeda et al., Nat. Mater. 9, 721 (2010)), "
                          "Hk 2600 Oe: Delta 64, retention ~5e10 years (Brown), ungated"),
    "compound-retentive": (lambda: CompoundSynapse(8, STTMTJ(**RETENTIVE)),
                           "8 ungated stt-mtj-retentive MTJs in parallel (keeps < 0.2 % flips for 10 years)"),
    "dw-mtj": (DomainWallMTJ, "DW-MTJ with creep below depinning, flow above and stochastic grain pinning sites "
                              "(graded; creep Lemerle 1998 / Jeudy 2016, flow Miron 2011 / Emori 2013, scaled)"),
    "dw-mtj-notched": (lambda: DomainWallMTJ(n_notches=8, sigma_depin_pct=5.0),
                       "DW-MTJ with 8 notches (9 levels) and 5 % depinning spread"),
}

TESTBENCHES: dict[str, tuple[Any, str]] = {
    "published": (PulseTestbench, "published pulses: pre +150 -> -90 mV over 60 ms, post -100 mV 7 us, "
                                  "+100 mV 1 us"),
    "physical": (lambda: PulseTestbench(post_pot_V=-0.258, post_dep_V=0.198),
                 "published pre ramp with -258 mV / +198 mV post pulses: with the ungated physical preset "
                 "(compound-physical, the macrospin's own switching law) the sweep fits t0 20.5 ms, t1 48.9 ms "
                 "(reference engine, 0:60:1 x 50, seed 0; docs/devices.md)"),
}

def cell_classes() -> dict[str, type[Device]]:
    """Every binary cell class a compound synapse can hold (a one-cell ``_MTJArray``), by class name."""
    return {k: c for k, c in device_classes().items() if issubclass(c, _MTJArray) and c.synapse_family is None}


def cell_from_fields(fields: dict[str, Any]) -> Any:
    """The cell a compound record's ``mtj`` field describes: STTMTJ when its fields fit (older records),
    else the one cell class whose fields they are. Raises ValueError when none fits."""
    names = {c: {f.name for f in dataclasses.fields(cast(Any, c))} for c in cell_classes().values()}
    fits = sorted((c for c, n in names.items() if set(fields) <= n), key=lambda c: c is not STTMTJ)
    if not fits:
        raise ValueError(f"CompoundSynapse: no cell class has the fields {sorted(fields)}")
    return fits[0](**fields)


def device_classes() -> dict[str, type[Device]]:
    """Every concrete device class (a :class:`Device` subclass with a ``name``), by class name."""
    found: dict[str, type[Device]] = {}
    todo = list(Device.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.name:
            found[cls.__name__] = cls
    return found


def model_names() -> tuple[str, ...]:
    """Family names of the device classes (``spinsyn device sweep --model``), sorted."""
    return tuple(sorted(c.name for c in device_classes().values()))


def get_model(name: str, **overrides: Any):
    """Model preset by name (see ``PRESETS``) with dataclass field overrides.

    For ``compound`` presets, overrides that are STT-MTJ fields go to the component MTJ.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown device model {name!r}; expected one of {sorted(PRESETS)}")
    return apply_overrides(PRESETS[name][0](), overrides, name)


def apply_overrides(model: Any, overrides: dict[str, Any], name: str) -> Any:
    """``dataclasses.replace`` with ``overrides``; for a device made of a component (compound: its cell), the
    overrides that are the component's fields go to it. ValueError naming device ``name`` for unknown ones."""
    fields = {f.name for f in dataclasses.fields(model)}
    own = {k: v for k, v in overrides.items() if k in fields}
    rest = {k: v for k, v in overrides.items() if k not in fields}
    parts = [f.name for f in dataclasses.fields(model) if dataclasses.is_dataclass(getattr(model, f.name))]
    if rest and parts:  # a device made of a component (compound: its MTJ) takes the component's fields
        part = parts[0]
        part_fields = {f.name for f in dataclasses.fields(getattr(model, part))}
        bad = sorted(set(rest) - part_fields)
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} for device {name!r}")
        own[part] = dataclasses.replace(own.get(part, getattr(model, part)), **rest)
    elif rest:
        raise ValueError(f"unknown parameter(s) {sorted(rest)} for device {name!r}; "
                         f"expected some of {sorted(fields)}")
    return dataclasses.replace(model, **own)


def get_testbench(name: str = "published", **overrides: Any) -> PulseTestbench:
    if name not in TESTBENCHES:
        raise ValueError(f"unknown testbench {name!r}; expected one of {sorted(TESTBENCHES)}")
    return dataclasses.replace(TESTBENCHES[name][0](), **overrides)


def conductance_S(model, state, v_read_V: float = 0.1) -> np.ndarray:
    """Read conductance of device states (STT: 1=P/0=AP; compound: #P in 0..N; dw: x in [0,1])."""
    if not isinstance(model, Device):
        raise ValueError(f"unknown device model type {type(model).__name__}")
    return model.conductance_S(state, v_read_V)


def g_bounds_S(model, v_read_V: float = 0.1) -> tuple[float, float]:
    """(g_min, g_max): all AP / all P."""
    return model.g_bounds_S(v_read_V)


def model_name(model) -> str:
    return model.name

