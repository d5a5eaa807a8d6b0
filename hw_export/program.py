"""Write-verify programming, simulated on the device model.

Every device starts from a global reset (all MTJs AP / wall at 0, the lowest conductance) and is driven
to its target by write-verify: read, compare with the tolerance band ``[g_lo, g_hi]``, and if outside
apply one rectangular pulse (amplitude V, width ns, polarity +1 = towards higher conductance) chosen from
a *calibration* of the device model, raised by ``v_step_V`` (ISPP) after every pulse that changed nothing,
up to ``max_pulses``. Pulses act through ``spinsyn.devices.apply_write_pulse`` (stochastic), vectorised over
all devices still being programmed in each verify iteration; the loop runs
over verify iterations only.

Pulses and half-select disturb use the programming physics (:class:`WritePhysics`: for MTJs the ungated
macrospin Fokker–Planck model of the device's geometry, ``spinsyn.devices.write_switch_probability``), the
disturb at V/2 or V/3 in the polarity of each pulse for every pulse a half-selected cell sees after it
was verified (cells are programmed in row-major order inside a tile; tiles in parallel).

The device is a ``spinsyn.devices.SynapseDevice``: reads use its ``conductance_S`` (at its ``v_read_V``), the
levels are its ``level_states()`` / ``level_conductances_S()``, pulses act on its ``model``, and the half-select
probabilities use the binary cell of a compound synapse (``SynapseDevice.cell``; none for domain-wall devices).
Functions taking ``backend`` accept another module with ``apply_pulse``/``switch_probability`` (tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from spinsyn.devices import (
    KIND_COMPOUND,
    KIND_IDEAL,
    SynapseDevice,
    apply_write_pulse,
    write_switch_probability,
)
from spinsyn.devices.synapse import KIND_GRADED

from . import wvkernels

HalfSelect = Literal["V/2", "V/3"]


@dataclass(frozen=True)
class WriteVerifyConfig:
    """Write-verify and crossbar timing knobs (units in the names).

    ``tolerance_levels``: half-width of the verify band in units of the mean level spacing (compound
    devices have discrete levels, so any value < 1 means "exactly the target level"). ``v_step_V``: ISPP
    increment after a pulse that changed nothing; None = 1/8 of the calibrated 10 %..90 % transition width.
    ``tolerance_S``: absolute band half-width in siemens; when set it replaces ``tolerance_levels`` (the
    export stores the equivalent ``tolerance_levels``).
    """

    width_ns: float = 10.0
    v_min_V: float = 0.05
    v_max_V: float = 1.5
    v_step_V: float | None = None
    v_resolution_V: float = 0.001
    max_pulses: int = 32
    tolerance_levels: float = 0.4
    tolerance_S: float | None = None
    aim: float = 1.0
    half_select: HalfSelect = "V/2"
    v_read_V: float = 0.1
    t_read_ns: float = 20.0
    t_settle_ns: float = 10.0
    n_calibration: int = 2048

    def __post_init__(self) -> None:
        checks = [
            ("width_ns", self.width_ns > 0), ("v_min_V", self.v_min_V >= 0),
            ("v_max_V", self.v_max_V > self.v_min_V), ("v_step_V", self.v_step_V is None or self.v_step_V >= 0),
            ("v_resolution_V", self.v_resolution_V > 0), ("max_pulses", 1 <= self.max_pulses <= 65535),
            ("tolerance_levels", 0 < self.tolerance_levels <= 10), ("aim", 0 < self.aim <= 2),
            ("tolerance_S", self.tolerance_S is None or self.tolerance_S > 0),
            ("half_select", self.half_select in ("V/2", "V/3")), ("v_read_V", self.v_read_V > 0),
            ("t_read_ns", self.t_read_ns >= 0), ("t_settle_ns", self.t_settle_ns >= 0),
            ("n_calibration", self.n_calibration >= 16),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"write-verify config: invalid {name}={getattr(self, name)!r}")

    @property
    def half_select_divisor(self) -> float:
        return 2.0 if self.half_select == "V/2" else 3.0


class WritePhysics:
    """The programming physics of ``spinsyn.devices``: ``apply_pulse`` = ``devices.apply_write_pulse`` and
    ``switch_probability`` = ``devices.write_switch_probability`` (MTJs: the ungated macrospin Fokker–Planck
    model of the device's own geometry, never the author's voltage gates or drive law; domain walls: their
    creep/flow physics)."""

    name = "macrospin Fokker-Planck (devices/macrospin.py), ungated, the device's own geometry and materials"

    @staticmethod
    def apply_pulse(model: Any, state: np.ndarray, v_V: np.ndarray, width_ns: float,
                    rng: np.random.Generator) -> np.ndarray:
        return apply_write_pulse(model, state, v_V, width_ns, rng)

    @staticmethod
    def switch_probability(mtj: Any, v_V: Any, width_ns: Any, to_parallel: bool) -> np.ndarray:
        return write_switch_probability(mtj, v_V, width_ns, to_parallel)


def physics(backend: Any = None) -> Any:
    """The pulse physics (``apply_pulse``, ``switch_probability``): :class:`WritePhysics` unless a test passes
    another module with the same two functions."""
    return WritePhysics if backend is None else backend


def declared_write_pulse(dev: SynapseDevice) -> tuple[float, float] | None:
    """(width_ns, amplitude_V) of the write pulse a device declares as its own, None for devices whose pulse is
    searched: a graded (LTP/LTD) device moves one step per identical pulse of |v| >= its threshold, so it is
    programmed with its own (``w_write_ns``, ``v_write_V``) at a fixed amplitude (:func:`write_verify`)."""
    if dev.spec.kind != KIND_GRADED:
        return None
    return float(dev.model.w_write_ns), float(dev.model.v_write_V)


def component_mtj(dev: SynapseDevice) -> Any | None:
    """The binary cell whose switching probability gives the half-select disturb (``SynapseDevice.cell``: the
    cell of a compound synapse, STT- or SOT-MTJ), None for domain-wall devices."""
    return dev.cell


# ----------------------------------------------------------------------------- levels


@dataclass(frozen=True)
class LevelTable:
    """Level index -> target device state and nominal conductance.

    ``state`` (L,): compound MTJ counts (int) or wall positions in [0, 1]; ``g_S`` (L,) ascending;
    ``n_max``: state of the highest level (N for compound, 1.0 analog); ``reset_state`` lowest-G state.
    """

    state: np.ndarray
    g_S: np.ndarray
    discrete: bool
    n_max: float


def level_table(dev: SynapseDevice) -> LevelTable:
    """Target states and conductances of the levels of ``dev`` (``SynapseDevice.level_states`` and
    ``level_conductances_S``): the levels a network trained on ``dev`` used."""
    if dev.spec.kind == KIND_IDEAL:
        raise ValueError("--synapse: ideal synapses have no levels to program; choose quantized:L, dw:L or "
                         "compound:N")
    n_max = float(dev.n_cells) if dev.spec.kind == KIND_COMPOUND else 1.0
    return LevelTable(state=dev.level_states(), g_S=dev.level_conductances_S(), discrete=dev.spec.discrete,
                      n_max=n_max)


# ----------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """Mean response of the device model to one pulse, measured with ``apply_pulse``.

    ``v_V`` (K,) pulse magnitudes; ``r_set``/``r_reset`` (K,) mean fraction of the range moved per
    pulse (compound: fraction of the available MTJs switched; analog: wall displacement), starting from
    the bottom / top state. ``set_sign``: sign of the voltage that raises the conductance.
    ``p_hs_P``/``p_hs_AP`` (J,) per-MTJ switching probability at the half-select voltages
    ``v_hs_V`` = k * v_resolution_V (None for devices without an STT-MTJ). ``hs_drift``: the half-select response
    of devices without one (:class:`HalfSelectDrift`; None: not measured, :meth:`drift` is used instead).
    """

    v_V: np.ndarray
    r_set: np.ndarray
    r_reset: np.ndarray
    set_sign: int
    width_ns: float
    v_step_V: float
    v_hs_V: np.ndarray
    p_hs_P: np.ndarray | None
    p_hs_AP: np.ndarray | None
    hs_drift: HalfSelectDrift | None = None

    def v_for(self, frac: np.ndarray, up: np.ndarray) -> np.ndarray:
        """Pulse magnitude (V) whose mean response equals ``frac`` (set where ``up``, else reset)."""
        rs = np.maximum.accumulate(self.r_set) + np.arange(self.v_V.size) * 1e-12
        rr = np.maximum.accumulate(self.r_reset) + np.arange(self.v_V.size) * 1e-12
        frac, up = np.broadcast_arrays(np.asarray(frac, dtype=np.float64), np.asarray(up, dtype=bool))
        out = np.empty(frac.shape)
        out[up] = np.interp(frac[up], rs, self.v_V)  # each direction interpolated only where it applies
        out[~up] = np.interp(frac[~up], rr, self.v_V)
        return out

    def drift(self, v_V: np.ndarray, up: bool) -> np.ndarray:
        """Mean response per pulse at magnitudes ``v_V`` (interpolated; 0 at 0 V, linear up to the first
        calibrated amplitude ``v_min_V``: below it a pulse is weaker than any calibrated one, not equal to it)."""
        r = self.r_set if up else self.r_reset
        if self.v_V[0] > 0:
            return np.interp(v_V, np.r_[0.0, self.v_V], np.r_[0.0, r])
        return np.interp(v_V, self.v_V, r)


@dataclass(frozen=True)
class HalfSelectDrift:
    """Half-select response of a device without a binary cell (domain wall, graded), measured on the device model
    (:func:`half_select_drift`): mean displacement (fraction of the state range, >= 0) of walls starting at the
    level states after N identical exposures of magnitude ``v_V`` (J,) (ascending from 0 V), N = ``n_exposures``
    (I,) = 1, 2, 4, ..., towards higher G under set exposures (``train_set`` (J, I)) and towards lower G under reset
    exposures (``train_reset``), non-decreasing in N, as if the strip had no end (a wall stopped by it is taken
    on at its rate; the callers clip at the end); the mean over the level states, and per level state
    ``level_state`` (L,) in ``level_set``/``level_reset`` (L, J, I): every device of a domain-wall model has the same
    quenched pinning landscape, so a level's wall meets the same sites on every device. A wall in a pinning
    landscape relaxes to the next site it cannot pass and then only creeps until it meets a site strong enough to
    stop it, so the displacement saturates in N below depinning and grows ~N above it
    (:meth:`displacement`, :func:`half_select_exposure`)."""

    v_V: np.ndarray
    n_exposures: np.ndarray
    train_set: np.ndarray
    train_reset: np.ndarray
    level_state: np.ndarray | None = None
    level_set: np.ndarray | None = None
    level_reset: np.ndarray | None = None

    def level_of(self, state: np.ndarray) -> np.ndarray:
        """Index of the level state nearest to each ``state`` (for :meth:`displacement`'s ``level``)."""
        assert self.level_state is not None
        mid = (self.level_state[1:] + self.level_state[:-1]) / 2
        return np.searchsorted(mid, np.asarray(state, dtype=np.float64))

    def displacement(self, v_V: np.ndarray, n: np.ndarray, up: bool, level: np.ndarray | None = None) -> np.ndarray:
        """Mean displacement after ``n`` exposures (>= 0, may be fractional) of magnitude ``v_V`` (V; arrays of
        one shape): linear in V between the measured amplitudes, linear in log2 N between the measured counts,
        n x the first exposure's below one exposure, and beyond the last count the last doubling's displacement
        per exposure times the extra exposures; at most the whole range (1)."""
        v, n = np.broadcast_arrays(np.asarray(v_V, dtype=np.float64), np.asarray(n, dtype=np.float64))
        j = np.clip(np.searchsorted(self.v_V, v, side="right") - 1, 0, self.v_V.size - 2)
        w = np.clip((v - self.v_V[j]) / (self.v_V[j + 1] - self.v_V[j]), 0.0, 1.0)
        x = np.log2(np.maximum(n, 1.0))
        i = np.minimum(np.floor(x).astype(np.int64), self.n_exposures.size - 2)
        if level is not None and self.level_set is not None and self.level_reset is not None:
            t3, lv = (self.level_set if up else self.level_reset), np.broadcast_to(level, v.shape)

            def at(jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
                return np.asarray(t3[lv, jj, ii])
        else:
            t = self.train_set if up else self.train_reset

            def at(jj: np.ndarray, ii: np.ndarray) -> np.ndarray:
                return np.asarray(t[jj, ii])
        lo = at(j, i) + (at(j + 1, i) - at(j, i)) * w
        hi = at(j, i + 1) + (at(j + 1, i + 1) - at(j, i + 1)) * w
        return self._log_count(lo, hi, x - i, n)

    def _log_count(self, lo: np.ndarray, hi: np.ndarray, u: np.ndarray, n: np.ndarray) -> np.ndarray:
        nn = self.n_exposures
        d = np.where(u <= 1.0, lo + (hi - lo) * u, hi + (hi - lo) / nn[-2] * (n - nn[-1]))
        d = np.where(n < 1.0, np.maximum(n, 0.0) * lo, d)  # lo = one exposure where n < 1
        return np.minimum(d, 1.0)


def pulse(dev: SynapseDevice, state: np.ndarray, v_signed_V: np.ndarray, width_ns: float,
          rng: np.random.Generator, backend: Any = None) -> np.ndarray:
    """One pulse per device (per-device amplitudes) through ``apply_pulse`` on ``dev.model``."""
    if state.size == 0:
        return state.copy()
    v = np.asarray(v_signed_V, dtype=np.float64)
    return np.asarray(physics(backend).apply_pulse(dev.model, state, v, width_ns, rng))


def _rising(r: np.ndarray) -> np.ndarray:
    """A strictly increasing version of a measured response (for interpolation)."""
    return np.maximum.accumulate(r) + np.arange(r.size) * 1e-12


def _refine_grid(v: np.ndarray, curves: tuple[np.ndarray, ...], q: float) -> np.ndarray:
    """Extra amplitudes (on the DAC grid, not already in ``v``) where the responses rise."""
    edges = []
    for r in curves:
        a = int(np.searchsorted(np.maximum.accumulate(r), 1e-3))
        b = int(np.searchsorted(np.maximum.accumulate(r), 0.999))
        edges.append((v[max(a - 1, 0)], v[min(b, v.size - 1)]))
    fine = np.unique(np.concatenate([np.round(np.linspace(lo, hi, 65) / q) * q for lo, hi in edges]))
    return np.setdiff1d(fine, v)


def half_select_probabilities(mtj: Any, v_hs_V: np.ndarray, width_ns: float, set_sign: int,
                              backend: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-MTJ switching probability of one half-select exposure of magnitude ``v_hs_V`` (V/2 or V/3): towards P
    under a set pulse (V_mtj = +set_sign·v) and towards AP under a reset pulse (V_mtj = -set_sign·v). Each
    direction is evaluated at the polarity that drives it: P -> AP needs V_mtj < 0."""
    return (half_select_probability(mtj, v_hs_V, width_ns, set_sign, True, backend),
            half_select_probability(mtj, v_hs_V, width_ns, set_sign, False, backend))


def half_select_probability(mtj: Any, v_hs_V: np.ndarray, width_ns: float, set_sign: int, to_parallel: bool,
                            backend: Any = None) -> np.ndarray:
    """One direction of :func:`half_select_probabilities`: towards P (``to_parallel``, under set pulses) or towards
    AP (under reset pulses)."""
    v = np.asarray(v_hs_V, dtype=float)
    sign = set_sign if to_parallel else -set_sign
    return np.clip(np.asarray(physics(backend).switch_probability(mtj, sign * v, width_ns, to_parallel), float), 0, 1)


#: seed of the half-select drift measurement (its own stream: the caller's generator is not advanced, so the
#: replay and write-verify draws of a simulation are those of a calibration without it)
HS_DRIFT_SEED = 0x485344
#: longest pulse train of :func:`half_select_drift` (exposures): a V/3 cell of a full 128 x 128 tile sees up to
#: (R C - 1) x pulses per device, ~16,000 x 7; beyond it :meth:`HalfSelectDrift.displacement` extrapolates
HS_TRAIN_MAX = 2**17
#: trains up to this length are pulsed one exposure at a time
HS_TRAIN_SEQUENTIAL = 16
#: the longest train pulsed one exposure at a time on a device model whose pulses do not compose (below)
HS_TRAIN_SEQUENTIAL_MAX = 256


def half_select_drift(dev: SynapseDevice, levels: LevelTable, cfg: WriteVerifyConfig, set_sign: int,
                      v_cal_V: np.ndarray, backend: Any = None, n_max: int = HS_TRAIN_MAX) -> HalfSelectDrift:
    """Measure :class:`HalfSelectDrift` of ``dev``: trains of identical pulses of width ``cfg.width_ns`` through
    :func:`pulse` on ``cfg.n_calibration`` devices spread over the level states, at 0 V, at the half-select
    amplitudes of the calibration grid ``v_cal_V`` (divided by 2 and 3) and on 25 points up to ``cfg.v_max_V``
    (circuit shares), recorded after 1, 2, 4, ... ``n_max`` pulses.

    The first two pulses are applied one at a time (the first: the single-exposure response). Where the device
    model's pulses compose (the states after them equal, on every device, those after one pulse of twice the width
    from the start: a memoryless wall in a quenched landscape without per-pulse draws, as ``dw-mtj``), each distinct
    (amplitude, state) wall goes on alone, one pulse at a time up to ``HS_TRAIN_SEQUENTIAL`` pulses, then doubled
    with one pulse of width N w (exact for such a model: 1 + log2 n_max calls instead of n_max); else (per-pulse
    draws, step models) all go on one pulse at a time up to ``HS_TRAIN_SEQUENTIAL_MAX`` and
    :meth:`HalfSelectDrift.displacement` extrapolates beyond."""
    if n_max < 2 or n_max & (n_max - 1):
        raise ValueError(f"n_max must be a power of two >= 2, got {n_max}")
    q = cfg.v_resolution_V
    v = np.unique(np.round(np.concatenate([[0.0], v_cal_V / 2, v_cal_V / 3,
                                           np.linspace(0, cfg.v_max_V, 25)]) / q) * q)
    n = cfg.n_calibration
    rng = np.random.default_rng(HS_DRIFT_SEED)
    s0 = np.tile(np.resize(levels.state, n).astype(levels.state.dtype), v.size)
    lo, hi = float(levels.state[0]), float(levels.state[-1])
    span = hi - lo
    n_lv = levels.state.size
    by_level = np.eye(n_lv)[np.arange(n) % n_lv]  # wall i starts at level i % L (np.resize)
    share = by_level.sum(axis=0) / n
    by_level = by_level / np.maximum(by_level.sum(axis=0), 1)
    trains = []
    for sign in (1.0, -1.0):  # set (towards higher G), reset
        vv = np.repeat(v, n) * sign * set_sign

        last = np.zeros((2, s0.size))  # per wall: displacement and count when last seen off the end

        def moved(s: np.ndarray, count: int, sign: float = sign, last: np.ndarray = last) -> np.ndarray:
            """Mean displacement per amplitude that the walls would have without the end of the strip: a wall
            that reached the end on the way is taken on at its rate until it was last seen off it (count x its
            displacement where it reached it on the first pulse); the caller clips at the end."""
            x, x0 = s.astype(np.float64), s0.astype(np.float64)
            d = np.clip(sign * (x - x0) / span, 0.0, None)
            at_end = (np.abs(x - (hi if sign > 0 else lo)) <= 1e-9 * span) & (x0 != x)
            est = np.where(last[1] > 0, last[0] * count / np.maximum(last[1], 1), d * count)
            d = np.where(at_end, np.maximum(d, est), d)
            last[0, ~at_end], last[1, ~at_end] = d[~at_end], count
            return d.reshape(v.size, n) @ by_level  # (J, L) per-level means

        s1 = pulse(dev, s0, vv, cfg.width_ns, rng, backend)
        rec = [moved(s1, 1)]
        s = pulse(dev, s1, vv, cfg.width_ns, rng, backend)
        rec, k = [*rec, moved(s, 2)], 2
        joined = pulse(dev, s0, vv, 2 * cfg.width_ns, rng, backend)
        if np.allclose(joined.astype(np.float64), s.astype(np.float64), rtol=0.0, atol=1e-9 * span):
            # the pulses compose, and a second draw gave the same states: pulse each distinct wall once
            key, inv = np.unique(np.stack([vv, s.astype(np.float64)]), axis=1, return_inverse=True)
            inv = inv.ravel()
            s_u = s[np.unique(inv, return_index=True)[1]]
            while k < n_max:
                for _ in range(k if k < HS_TRAIN_SEQUENTIAL else 1):  # k more pulses, or one of width k w
                    s_u = pulse(dev, s_u, key[0], cfg.width_ns * (1 if k < HS_TRAIN_SEQUENTIAL else k), rng, backend)
                k *= 2
                rec.append(moved(s_u[inv], k))
        else:
            while k < min(n_max, HS_TRAIN_SEQUENTIAL_MAX):
                s = pulse(dev, s, vv, cfg.width_ns, rng, backend)
                k += 1
                if k & (k - 1) == 0:
                    rec.append(moved(s, k))
        trains.append(np.maximum.accumulate(np.stack(rec, axis=2), axis=2).transpose(1, 0, 2))  # (L, J, I)
    mean = [np.tensordot(share, t, axes=1) for t in trains]
    return HalfSelectDrift(v, 2 ** np.arange(trains[0].shape[2]), mean[0], mean[1],
                           levels.state.astype(np.float64), trains[0], trains[1])


def _half_select_table(dev: SynapseDevice, cfg: WriteVerifyConfig, set_sign: int,
                       backend: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(v_hs_V, p_P, p_AP): per-MTJ switching probability on the DAC grid (None without an STT-MTJ)."""
    mtj = component_mtj(dev)
    v_hs = np.arange(0, round(cfg.v_max_V / cfg.v_resolution_V) + 2) * cfg.v_resolution_V
    if mtj is None:
        return v_hs, None, None
    return (v_hs, *half_select_probabilities(mtj, v_hs, cfg.width_ns, set_sign, backend))


def calibrate(dev: SynapseDevice, levels: LevelTable, cfg: WriteVerifyConfig, rng: np.random.Generator,
              backend: Any = None, half_select: bool = True) -> Calibration:
    """Measure the mean pulse response of ``dev`` on ``cfg.n_calibration`` devices per amplitude. ``half_select``
    False leaves out the half-select table (``v_hs_V`` empty, ``p_hs_*`` None; it draws no random numbers): the
    write-pulse search, which evaluates disturb at its own pulses, does not read it. Devices without a binary cell
    get ``hs_drift`` (:func:`half_select_drift`, its own seeded stream) where ``half_select``."""
    q = cfg.v_resolution_V
    v = np.unique(np.round(np.linspace(cfg.v_min_V, cfg.v_max_V, 49) / q) * q)
    n = cfg.n_calibration
    bottom, top = levels.state[0], levels.state[-1]
    dtype = np.int64 if levels.discrete else np.float64
    span = float(top - bottom)

    def response(sign: float, start: Any, v: np.ndarray = v) -> np.ndarray:
        vv = np.repeat(v, n) * sign
        s0 = np.full(vv.size, start, dtype=dtype)
        s1 = pulse(dev, s0, vv, cfg.width_ns, rng, backend).astype(np.float64)
        return ((s1 - float(start)) / span).reshape(v.size, n).mean(axis=1)

    up_pos = response(+1.0, bottom)
    up_neg = response(-1.0, bottom)
    set_sign = 1 if up_pos.max() >= up_neg.max() else -1
    r_set = np.clip(up_pos if set_sign > 0 else up_neg, 0.0, 1.0)
    r_reset = np.clip(-response(-float(set_sign), top), 0.0, 1.0)
    fine = _refine_grid(v, (r_set, r_reset), q)  # steep for thermally activated switching
    if fine.size:
        f_set = np.clip(response(float(set_sign), bottom, fine), 0.0, 1.0)
        f_reset = np.clip(-response(-float(set_sign), top, fine), 0.0, 1.0)
        order = np.argsort(np.concatenate([v, fine]))
        v = np.concatenate([v, fine])[order]
        r_set = np.concatenate([r_set, f_set])[order]
        r_reset = np.concatenate([r_reset, f_reset])[order]
    need = min(0.5, 2.0 / cfg.max_pulses)  # the whole range within half the pulse budget
    for name, r in (("set", r_set), ("reset", r_reset)):
        if r.max() < need:
            raise ValueError(
                f"device model cannot be programmed: the strongest {name} pulse ({cfg.v_max_V} V, "
                f"{cfg.width_ns} ns) moves only {r.max():.3f} of the range on average (needs {need:.3f} to cross "
                f"it within {cfg.max_pulses} pulses); raise --v-max, the width or --max-pulses"
            )
    v_hs, p_P, p_AP = _half_select_table(dev, cfg, set_sign, backend) if half_select else (np.zeros(0), None, None)
    hs_drift = None
    if half_select and p_P is None:
        hs_drift = half_select_drift(dev, levels, cfg, set_sign, v, backend)
    step = cfg.v_step_V
    if step is None:
        widths = [np.interp(0.9, _rising(r), v) - np.interp(0.1, _rising(r), v) for r in (r_set, r_reset)]
        step = max(q, round(min(widths) / 8 / q) * q)
    return Calibration(v, r_set, r_reset, set_sign, cfg.width_ns, float(step), v_hs, p_P, p_AP, hs_drift)


# ----------------------------------------------------------------------------- write-verify engine


@dataclass
class ProgramResult:
    """Outcome of write-verify on a batch of D devices.

    ``state`` (D,) final device states; ``g_S`` (D,) final read conductance; ``n_pulses`` (D,);
    ``failed`` (D,) bool: outside the band after ``max_pulses``. Pulse log (P,) in iteration-major order:
    ``dev`` device index, ``step`` (0-based per device), ``v_V`` magnitude applied by the driver, ``polarity`` (+1
    raises G), ``g_before_S`` read conductance before the pulse. ``unreachable`` (D,) bool (with a circuit and
    compensation, :class:`CircuitDrive`): a pulse wanted more than the driver's maximum at the cell.
    """

    state: np.ndarray
    g_S: np.ndarray
    n_pulses: np.ndarray
    failed: np.ndarray
    dev: np.ndarray
    step: np.ndarray
    v_V: np.ndarray
    polarity: np.ndarray
    g_before_S: np.ndarray
    unreachable: np.ndarray | None = None


@dataclass(frozen=True)
class CircuitDrive:
    """The voltage that reaches each device through its tile's circuit (:mod:`spinsyn.hw_export.circuit.bias`).

    ``eta`` (D,): the selected cell's share of the driver's voltage; a pulse of amplitude V at the driver puts
    eta·V on the cell. ``v_driver_max_V``: compensate, applying V/eta for a wanted cell voltage V, capped at this
    driver maximum (a pulse capped there makes its device *unreachable*); None: no compensation (the driver applies
    the amplitude meant for the cell, as a controller unaware of the circuit would). ``kappa_row`` / ``kappa_col``
    (T, R) / (T, C): per tile, the share of a pulse's amplitude its half-selected neighbours see
    (:func:`half_select_exposure`)."""

    eta: np.ndarray
    v_driver_max_V: float | None = None
    kappa_row: np.ndarray | None = None
    kappa_col: np.ndarray | None = None

    def kappa(self, tile: np.ndarray, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per pulse (P,) of tiles ``tile``, rows ``row``, columns ``col``: the share of its amplitude that the
        half-selected cells of its word line / bit line see (``kappa_row`` (T, R), ``kappa_col`` (T, C));
        None without them (nominal V/k)."""
        if self.kappa_row is None or self.kappa_col is None:
            return None
        return self.kappa_row[tile, row], self.kappa_col[tile, col]

    def applied(self, v_cell_V: np.ndarray, active: np.ndarray, q_V: float) -> tuple[np.ndarray, np.ndarray]:
        """(driver amplitude on the DAC grid q_V, whether it was capped) for wanted cell amplitudes of ``active``."""
        if self.v_driver_max_V is None:
            return v_cell_V, np.zeros(v_cell_V.shape, bool)
        want = v_cell_V / self.eta[active]
        capped = want > self.v_driver_max_V
        return np.round(np.minimum(want, self.v_driver_max_V) / q_V) * q_V, capped


def _state_conductances(dev: SynapseDevice, levels: LevelTable, state: np.ndarray) -> np.ndarray | None:
    """(N + 1,) read conductance of each MTJ count of a compound synapse with integer states (its reads become a
    table lookup in :mod:`wvkernels`), else None (the numpy path)."""
    if dev.spec.kind != KIND_COMPOUND or not levels.discrete or state.dtype.kind not in "iu":
        return None
    return np.asarray(dev.conductance_S(np.arange(int(levels.n_max) + 1, dtype=state.dtype)), dtype=np.float64)


def _select(dev: SynapseDevice, levels: LevelTable, active: np.ndarray, state: np.ndarray, g_lo_S: np.ndarray,
            g_hi_S: np.ndarray, n_p: np.ndarray, max_pulses: int, failed: np.ndarray, g_all: np.ndarray,
            target_state: np.ndarray, span: float, aim: float, last_pol: np.ndarray, nochange: np.ndarray,
            v_step: float) -> tuple[np.ndarray, ...]:
    """numpy form of :func:`wvkernels.select` (any device): read, mark failures, and the devices to pulse."""
    s = state[active]
    g = dev.conductance_S(s)
    g_all[active] = g
    out = (g < g_lo_S[active]) | (g > g_hi_S[active])
    capped = out & (n_p[active] >= max_pulses)
    failed[active[capped]] = True
    keep = out & ~capped
    active, s, g = active[keep], s[keep], g[keep]
    up = g < g_lo_S[active]
    tgt = target_state[active]
    if levels.discrete:
        need = np.abs(tgt - s).astype(np.float64)
        avail = np.where(up, span - s, s).astype(np.float64)
        frac = aim * need / np.maximum(avail, 1.0)
    else:
        frac = aim * np.abs(tgt - s)
    pol = np.where(up, 1, -1).astype(np.int8)
    flipped = pol != last_pol[active]
    boost = np.where(flipped, 0, nochange[active]) * v_step
    return active, s, g, up, frac, pol, flipped, boost


def _update(active: np.ndarray, s: np.ndarray, new: np.ndarray, pol: np.ndarray, flipped: np.ndarray,
            nochange: np.ndarray, last_pol: np.ndarray, state: np.ndarray, n_p: np.ndarray) -> np.ndarray:
    """numpy form of :func:`wvkernels.update`."""
    changed = new != s
    nochange[active] = np.where(changed, 0, np.where(flipped, 1, nochange[active] + 1))
    last_pol[active] = pol
    step = n_p[active].copy()
    state[active] = new
    n_p[active] += 1
    return step


def write_verify(dev: SynapseDevice, levels: LevelTable, cal: Calibration, cfg: WriteVerifyConfig,
                 state0: np.ndarray, target_state: np.ndarray, g_lo_S: np.ndarray, g_hi_S: np.ndarray,
                 rng: np.random.Generator, n_pulses0: np.ndarray | None = None, backend: Any = None,
                 drive: CircuitDrive | None = None) -> ProgramResult:
    """Closed-loop write-verify of D devices from ``state0`` towards ``target_state`` (all (D,)).

    Each iteration reads every unfinished device, stops those inside ``[g_lo_S, g_hi_S]``, and pulses
    the rest once (one vectorised ``apply_pulse`` call). ``n_pulses0`` counts pulses already spent (so
    the cap ``cfg.max_pulses`` is per device in total). Devices with a :func:`declared_write_pulse` get
    identical pulses of ``cfg.v_max_V`` (one step each, no amplitude choice, no ISPP). ``drive``: the devices sit in
    circuits (:class:`CircuitDrive`): the log holds the driver's amplitudes, the devices get eta times them.
    """
    identical = declared_write_pulse(dev) is not None
    D = state0.size
    state = state0.copy()
    n_p = np.zeros(D, np.int64) if n_pulses0 is None else n_pulses0.astype(np.int64).copy()
    nochange = np.zeros(D, np.int32)
    last_pol = np.zeros(D, np.int8)
    active = np.arange(D)
    logs: list[tuple[np.ndarray, ...]] = []
    g_all = np.empty(D, np.float64)
    failed = np.zeros(D, bool)
    g_tab = _state_conductances(dev, levels, state)
    unreachable = np.zeros(D, bool) if drive is not None else None
    book = (g_lo_S, g_hi_S, n_p, cfg.max_pulses, failed, g_all, target_state, float(levels.n_max), float(cfg.aim),
            last_pol, nochange, float(cal.v_step_V))
    while active.size:
        if g_tab is not None:
            active, s, g, up, frac, pol, flipped, boost = wvkernels.select(active, state, g_tab, *book)
        else:
            active, s, g, up, frac, pol, flipped, boost = _select(dev, levels, active, state, *book)
        if not active.size:
            break
        v = np.full(active.size, cfg.v_max_V) if identical else \
            np.clip(cal.v_for(frac, up) + boost, cfg.v_min_V, cfg.v_max_V)
        v = np.round(v / cfg.v_resolution_V) * cfg.v_resolution_V
        v_cell = v
        if drive is not None:
            v, capped = drive.applied(v, active, cfg.v_resolution_V)
            unreachable[active[capped]] = True  # type: ignore[index]  # set with drive
            v_cell = v * drive.eta[active]
        new = pulse(dev, s, v_cell * pol * cal.set_sign, cfg.width_ns, rng, backend)
        step = wvkernels.update(active, s, new, pol, flipped, nochange, last_pol, state, n_p) if g_tab is not None \
            else _update(active, s, new, pol, flipped, nochange, last_pol, state, n_p)
        logs.append((active, step, v, pol, g))
    if logs:
        dev_idx, step, v, pol, gb = (np.concatenate(x) for x in zip(*logs))
    else:
        dev_idx = step = np.zeros(0, np.int64)
        v = gb = np.zeros(0)
        pol = np.zeros(0, np.int8)
    return ProgramResult(state, g_all, n_p, failed, dev_idx, step, v, pol, gb, unreachable)


def replay(dev: SynapseDevice, cal: Calibration, state0: np.ndarray, g_lo_S: np.ndarray, g_hi_S: np.ndarray,
           start: np.ndarray, count: np.ndarray, v_V: np.ndarray, polarity: np.ndarray, width_ns: np.ndarray,
           rng: np.random.Generator, backend: Any = None,
           eta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Execute stored pulse schedules with verify on D devices.

    Device ``d`` owns schedule rows ``start[d] .. start[d] + count[d]`` (in step order). Before each
    step it is read and stops once inside its band (as a chip controller would). ``eta`` (D,): the share of the
    scheduled (driver) amplitude that reaches each device through its circuit (None: all of it). Returns (state,
    pulses applied) per device.
    """
    state = state0.copy()
    used = np.zeros(state.size, np.int64)
    active = np.flatnonzero(count > 0)
    t = 0
    while active.size:
        s = state[active]
        g = dev.conductance_S(s)
        out = (g < g_lo_S[active]) | (g > g_hi_S[active])
        active = active[out & (count[active] > t)]
        if not active.size:
            break
        row = start[active] + t
        widths = width_ns[row]
        for w in np.unique(widths):  # schedules normally use one width
            sel = widths == w
            idx = active[sel]
            v = v_V[row[sel]] if eta is None else v_V[row[sel]] * eta[idx]
            state[idx] = pulse(dev, state[idx], v * polarity[row[sel]] * cal.set_sign, float(w), rng, backend)
        used[active] += 1
        t += 1
    return state, used


# ----------------------------------------------------------------------------- disturb, energy, time


def _suffix_row(m: np.ndarray) -> np.ndarray:
    """Exclusive suffix sum along the last axis (cells later in the same row)."""
    c = np.cumsum(m[..., ::-1], axis=-1)[..., ::-1]
    return c - m


def _suffix_col(m: np.ndarray) -> np.ndarray:
    c = np.cumsum(m[..., ::-1, :], axis=-2)[..., ::-1, :]
    return c - m


def _suffix_flat(m: np.ndarray) -> np.ndarray:
    sh = m.shape
    f = m.reshape(sh[:-2] + (-1,))
    c = np.cumsum(f[..., ::-1], axis=-1)[..., ::-1] - f
    return c.reshape(sh)


def _hazards(cal: Calibration, cfg: WriteVerifyConfig, vh: np.ndarray,
             discrete: bool) -> tuple[np.ndarray, np.ndarray]:
    """(towards P, towards AP) hazard (MTJs) or mean drift (analog) of half-select exposures at ``vh`` (V)."""
    if discrete and cal.p_hs_P is not None:
        idx = np.clip(np.round(vh / cfg.v_resolution_V).astype(np.int64), 0, cal.v_hs_V.size - 1)
        assert cal.p_hs_AP is not None  # the calibration sets both directions together
        hz_P = -np.log1p(-np.minimum(cal.p_hs_P, 1 - 1e-15))[idx]
        hz_AP = -np.log1p(-np.minimum(cal.p_hs_AP, 1 - 1e-15))[idx]
    else:
        hz_P = cal.drift(vh, True)
        hz_AP = cal.drift(vh, False)
    return np.asarray(hz_P, dtype=np.float64), np.asarray(hz_AP, dtype=np.float64)


#: amplitude bins of :func:`_train_exposure` (equal widths between the smallest and largest half-select amplitude)
HS_AMPLITUDE_BINS = 24


def _off_line(m: np.ndarray) -> np.ndarray:
    """Per cell: the sum of ``m`` over the cells after it in its tile that share neither its row nor its column."""
    return _suffix_flat(m) - _suffix_row(m) - _suffix_col(m)


def _train_exposure(hs: HalfSelectDrift, shape: tuple[int, ...], cell: np.ndarray, up: np.ndarray,
                    v_row: np.ndarray, v_col: np.ndarray, v3: np.ndarray | None,
                    level: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean displacement (towards higher G, towards lower G) of every cell of an analog device from the pulses after
    it (``half_select_exposure``): on its row at ``v_row`` and column at ``v_col`` (P,) in the pulse's direction,
    V/3 (``v3``): elsewhere in the tile in the opposite one. Per direction the exposures are put in
    ``HS_AMPLITUDE_BINS`` amplitude bins (a cell's exposures in a bin at their mean amplitude); from the largest bin
    down, each bin adds what its n_b exposures add to a wall that already saw the C exposures of the larger bins,
    ``D(a_b, C + n_b) - D(a_b, C)`` (:meth:`HalfSelectDrift.displacement`; the first bin of a cell: its displacement
    from rest), and the sum is capped at all of the cell's exposures at its largest bin's amplitude. Below
    depinning the weaker exposures then add little to a wall the stronger ones pinned, above it they add their own
    flow (the order of a cell's exposures is not modelled). ``level`` (``shape``): each cell's level index, for the
    per-level trains (None: the mean over the levels)."""
    n_cells = int(np.prod(shape))
    out, n_dir, first = [], [], []
    for d in (True, False):
        same = up == d  # pulses that push the cells on their lines in direction d
        sources = [(same, v_row, _suffix_row), (same, v_col, _suffix_col)]
        if v3 is not None:
            sources.append((~same, v3, _off_line))
        amps = np.concatenate([a[s] for s, a, _ in sources])
        total = np.zeros(shape)
        if not amps.size:
            out.append(total)
            n_dir.append(total)
            first.append(total)
            continue
        edges = np.linspace(amps.min(), amps.max(), HS_AMPLITUDE_BINS + 1)
        bins = [np.clip(np.searchsorted(edges, a, side="right") - 1, 0, HS_AMPLITUDE_BINS - 1) for _, a, _ in sources]
        count, a_top = np.zeros(shape), np.zeros(shape)
        for b in range(HS_AMPLITUDE_BINS - 1, -1, -1):
            n_b, s_b = np.zeros(shape), np.zeros(shape)
            for (sel, a, op), bi in zip(sources, bins):
                k = sel & (bi == b)
                if k.any():
                    n_b += op(np.bincount(cell[k], minlength=n_cells).astype(np.float64).reshape(shape))
                    s_b += op(np.bincount(cell[k], a[k], minlength=n_cells).reshape(shape))
            has = n_b > 0.5
            if not has.any():
                continue
            a_b = np.divide(s_b, n_b, out=np.zeros(shape), where=has)
            inc = hs.displacement(a_b, count + n_b, d, level) - hs.displacement(a_b, count, d, level)
            total += np.where(has, inc, 0.0)
            a_top = np.where((count == 0) & has, a_b, a_top)
            count += n_b
        out.append(np.minimum(total, hs.displacement(a_top, count, d, level)))
        n_dir.append(count)
        first.append(hs.displacement(a_top, np.minimum(count, 1.0), d, level))
    # a wall pushed both ways: its first-exposure relaxation (into the next site) is undone by a push the other way,
    # so only the direction of its last exposures keeps it: p (up) = the share of exposures pushing up
    p_up = np.divide(n_dir[0], n_dir[0] + n_dir[1], out=np.zeros(shape), where=(n_dir[0] + n_dir[1]) > 0)
    return out[0] - (1.0 - p_up) * first[0], out[1] - p_up * first[1]


def half_select_exposure(cal: Calibration, cfg: WriteVerifyConfig, tile_shape: tuple[int, ...],
                         cell: np.ndarray, v_V: np.ndarray, polarity: np.ndarray,
                         discrete: bool, kappa: tuple[np.ndarray, np.ndarray] | None = None,
                         state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Disturb exposure of every cell from pulses applied *after* it was programmed (tiles in parallel,
    cells row-major inside a tile).

    ``tile_shape`` (R, C) for one tile or (T, R, C) for T tiles; ``cell`` (P,) flat cell index
    ((t * R + row) * C + col) of each pulse, ``v_V`` (P,) magnitude, ``polarity`` (P,).
    Returns (towards higher G, towards lower G), each of ``tile_shape``: for MTJ devices the summed per-MTJ
    hazard ``-log(1 - p_switch(V/k))``; for analog devices the mean displacement (state units): with the
    calibration's :class:`HalfSelectDrift`, the measured displacement of a wall after as many identical exposures as
    the cell sees, combined over amplitudes by :func:`_train_exposure`, else the summed first-pulse drift.
    ``kappa`` (row, column), each (P,): the share of each pulse's amplitude that the half-selected cells on its
    row / column see through the tile's circuit (:mod:`spinsyn.hw_export.circuit`), instead of 1/k; the cells on
    neither line (V/3) keep V/3. ``state`` (``tile_shape``): the cells' states before disturb, for an analog device's
    per-level response (its wall sits in the same pinning landscape on every device); None: the mean over levels.
    """
    shape = tuple(tile_shape)
    n_cells = int(np.prod(shape))
    k = cfg.half_select_divisor
    up = polarity > 0
    cell = np.asarray(cell, dtype=np.int64)
    v = np.abs(v_V)
    if not discrete and cal.hs_drift is not None:
        v_row, v_col = (v / k, v / k) if kappa is None else (v * kappa[0], v * kappa[1])
        hs = cal.hs_drift
        level = None if state is None or hs.level_state is None else hs.level_of(np.asarray(state).reshape(shape))
        return _train_exposure(hs, shape, cell, up, v_row, v_col, v / k if cfg.half_select == "V/3" else None, level)
    hz_P, hz_AP = _hazards(cal, cfg, v / k, discrete)
    # per cell: the hazards of set pulses towards P, of reset pulses towards AP (np.bincount's sums, one pass)
    if kappa is None:
        m_P, m_AP = (m.reshape(shape) for m in wvkernels.split_bincount(cell, up, hz_P, hz_AP, n_cells, False))
        e_P, e_AP = _suffix_row(m_P) + _suffix_col(m_P), _suffix_row(m_AP) + _suffix_col(m_AP)
    else:
        (rP, rAP), (cP, cAP) = _hazards(cal, cfg, v * kappa[0], discrete), _hazards(cal, cfg, v * kappa[1], discrete)
        r_P, r_AP = (m.reshape(shape) for m in wvkernels.split_bincount(cell, up, rP, rAP, n_cells, False))
        c_P, c_AP = (m.reshape(shape) for m in wvkernels.split_bincount(cell, up, cP, cAP, n_cells, False))
        e_P, e_AP = _suffix_row(r_P) + _suffix_col(c_P), _suffix_row(r_AP) + _suffix_col(c_AP)
    if cfg.half_select == "V/3":  # cells on neither line see -V/3: the opposite polarity
        m_P, m_AP = (m.reshape(shape) for m in wvkernels.split_bincount(cell, up, hz_P, hz_AP, n_cells, True))
        e_P += _suffix_flat(m_P) - (_suffix_row(m_P) + _suffix_col(m_P))
        e_AP += _suffix_flat(m_AP) - (_suffix_row(m_AP) + _suffix_col(m_AP))
    return e_P, e_AP


def half_select_counts(tile_shape: tuple[int, ...], cell: np.ndarray, half_select: HalfSelect) -> np.ndarray:
    """Half-select exposures of every cell (``tile_shape``) from pulses applied after it was programmed: pulses
    on its row or column (V/2; V/3 adds the pulses elsewhere in the tile, which it sees at -V/3)."""
    shape = tuple(tile_shape)
    m = np.bincount(cell, minlength=int(np.prod(shape))).astype(np.float64).reshape(shape)
    line = _suffix_row(m) + _suffix_col(m)
    return _suffix_flat(m) if half_select == "V/3" else line


def disturb_probability(e_P: np.ndarray, e_AP: np.ndarray, state: np.ndarray, n_max: float) -> np.ndarray:
    """Probability that a compound cell with ``state`` P-MTJs (of ``n_max``) loses its level."""
    return -np.expm1(-((n_max - state) * e_P + state * e_AP))


def pulse_energy_J(v_V: np.ndarray, g_S: np.ndarray, width_ns: float) -> np.ndarray:
    """Energy of a rectangular pulse into conductance ``g_S``: V^2 G t (J)."""
    return v_V**2 * g_S * width_ns * 1e-9


