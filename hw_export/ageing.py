"""Retention: zero-bias thermal relaxation of a programmed chip over time.

Model (two-state telegraph process). At zero bias the barrier of a perpendicular STT-MTJ is symmetric: the
P and AP states are left at the same rate ``1/tau``, ``tau = retention_s`` of the device model (its zero-bias
switching time, Néel–Brown ``tau0 (e^Delta - 1)`` plus the transit term; ``spinsyn.devices`` ``STTMTJ``).
An MTJ that starts in either state is found in the *other* state after a time ``t`` with probability

    p(t) = (1 - exp(-2 t / tau)) / 2          (≈ t / tau for t << tau, -> 1/2 for t >> tau)

(the master equation dP/dt = (1 - 2P)/tau). The MTJs are independent, so the process is Markov: a chip is aged
from one time to the next with p(t_i - t_{i-1}), and every MTJ is tracked individually, so the fraction that
differs from its programmed state is measured (expected: p(t)). A compound:N synapse with k P-MTJs then holds
k + (flips up) − (flips down) of them: mean level change p (N − 2k) after t, and Binomial(N, 1/2) for t >> tau.

Domain-wall devices (``dw:L``, ``quantized:L``) do not age in the device model: the wall moves only under a
drive current (creep v = v_dep exp(−(U_c/kT)(j^−mu − 1)) needs j > 0 and has the direction of the current);
at zero bias there is neither a drive nor a preferred direction, so their ageing is reported as "none".

Refresh interval (written at export, where no accuracy can be measured): the time at which the expected
fraction of flipped MTJs reaches :data:`REFRESH_FLIP_FRACTION`, the fraction at which the published
compound:8 demo chip lost 1 accuracy point in ``spinsyn export simulate --after`` (docs/hw_export.md);
``simulate --after`` measures each chip's own 1-point time.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from spinsyn.devices import KIND_COMPOUND, SynapseDevice
from spinsyn.devices.synapse import KIND_GRADED

#: seconds per unit of a duration (``y`` = Julian year, 365.25 d)
UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "y": 365.25 * 86400.0}
YEAR_S = UNITS["y"]
DEFAULT_DEPLOYMENT_S = 10 * YEAR_S
#: expected flipped-MTJ fraction allowed between refreshes (≈ the 1-point loss of the demo chip, rounded down)
REFRESH_FLIP_FRACTION = 2e-3
FLIP_FORMULA = "p(t) = (1 - exp(-2 t / retention_s)) / 2  (two-state telegraph process, symmetric zero-bias barrier)"
NO_AGEING = ("none: the domain-wall model has no zero-bias wall motion (creep needs a drive current and takes its "
             "direction from it), so a programmed state does not relax")
NO_AGEING_GRADED = ("none: the graded (LTP/LTD) model has no retention loss (pulse-response data carry no "
                    "relaxation), so a programmed state does not relax")
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ms|s|min|h|d|y)?\s*$")


def parse_duration(text: str, option: str) -> float:
    """``"10y"``, ``"1h"``, ``"30min"``, ``"2.5s"``, ``"0"`` (a bare number is seconds) -> seconds (finite, >= 0).
    A bad value raises ValueError naming ``option``."""
    m = _DURATION.match(str(text))
    value = float(m.group(1)) * UNITS[m.group(2) or "s"] if m else math.nan
    if not math.isfinite(value):
        raise ValueError(f"{option}: got {text!r}, expected a duration >= 0 with a unit "
                         f"({', '.join(UNITS)}; e.g. 1h, 10y; a bare number is seconds)")
    return value


def parse_ages(text: str) -> list[tuple[str, float]]:
    """``"0,1s,1h,1d,10y"`` -> [(label, seconds)] sorted by time, duplicates refused (option ``--after``)."""
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(not t for t in items):
        raise ValueError(f"--after: got {text!r}, expected comma-separated durations such as 0,1s,1h,1d,10y")
    return check_ages([(t, parse_duration(t, "--after")) for t in items])


def check_ages(ages: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """[(label, seconds)] sorted by time; each time finite and >= 0, none twice, at most 64 (``--after``; the
    Python API's list goes through the same check)."""
    from spinsyn.validation import check_scalar  # lazy: startup

    ages = sorted(((str(label), float(check_scalar(t, f"--after {label}", float, min_val=0.0)))
                   for label, t in ages), key=lambda a: a[1])
    text = ",".join(label for label, _ in ages)
    times = [a[1] for a in ages]
    if len(set(times)) != len(times):
        raise ValueError(f"--after: got {text!r}: a time is given twice")
    if len(ages) > 64:
        raise ValueError(f"--after: {len(ages)} times; at most 64")
    return ages


def format_duration(seconds: float | None) -> str:
    """'6.45 s', '3.2 min', '36.4 y' (the largest unit the value reaches), 'never' for None/inf."""
    if seconds is None or not math.isfinite(seconds):
        return "never"
    for unit in ("y", "d", "h", "min", "s"):
        if seconds >= UNITS[unit] or unit == "s":
            return f"{seconds / UNITS[unit]:.3g} {unit}"
    return f"{seconds:.3g} s"  # pragma: no cover


def flip_probability(t_s: Any, retention_s: float | None) -> np.ndarray:
    """Probability that one MTJ is found in the other state after ``t_s`` (0 without ageing)."""
    t = np.asarray(t_s, dtype=np.float64)
    if retention_s is None:
        return np.zeros_like(t)
    return -0.5 * np.expm1(-2.0 * t / retention_s)


def time_for_flip(p: float, retention_s: float | None) -> float:
    """Inverse of :func:`flip_probability`: the time at which the flipped fraction reaches ``p`` (inf if never)."""
    if retention_s is None or p >= 0.5:
        return math.inf
    return float(-0.5 * retention_s * math.log1p(-2.0 * p))


def device_retention_s(dev: SynapseDevice) -> float | None:
    """Zero-bias relaxation time of one cell of ``dev`` (``SynapseDevice.retention_s``); None for devices that
    do not age (domain wall)."""
    return dev.retention_s


def no_ageing_model(dev: SynapseDevice) -> str:
    """Why a device without a retention time does not age (domain wall, graded)."""
    return NO_AGEING_GRADED if dev.spec.kind == KIND_GRADED else NO_AGEING


def retention_record(dev: SynapseDevice, deployment_s: float = DEFAULT_DEPLOYMENT_S) -> dict[str, Any]:
    """What the chip metadata says about time: retention, flips at the deployment time and the refresh interval."""
    tau = device_retention_s(dev)
    rec: dict[str, Any] = {"retention_s": tau, "deployment_s": float(deployment_s)}
    if tau is None:
        rec.update({"model": no_ageing_model(dev), "volatile": False, "refresh_interval_s": None,
                    "flip_probability_at_deployment": 0.0})
        return rec
    rec.update({
        "model": "zero-bias thermal relaxation of each MTJ; " + FLIP_FORMULA,
        "volatile": tau < deployment_s,
        "flip_probability_at_deployment": float(flip_probability(deployment_s, tau)),
        "refresh_interval_s": time_for_flip(REFRESH_FLIP_FRACTION, tau),
        "refresh_criterion": (f"the time at which the expected fraction of flipped MTJs reaches "
                              f"{REFRESH_FLIP_FRACTION:g} (about the 1-point loss measured on the compound:8 demo "
                              "chip; `spinsyn export simulate --after` measures the chip's own 1-point time)"),
    })
    return rec


def retention_warnings(rec: dict[str, Any]) -> list[str]:
    """Warning lines for a chip whose weights do not last the deployment (empty when they do)."""
    tau, dep = rec.get("retention_s"), rec["deployment_s"]
    if tau is None:
        return []
    refresh = format_duration(rec["refresh_interval_s"])
    if tau < dep:
        return [f"retention {format_duration(tau)} (zero-bias relaxation time of one MTJ) is shorter than the "
                f"deployment {format_duration(dep)} (--deployment): the weights decay; re-program every {refresh} "
                f"to keep the flipped MTJs under {REFRESH_FLIP_FRACTION:g}"]
    if rec["refresh_interval_s"] < dep:
        return [f"retention {format_duration(tau)} outlasts the deployment {format_duration(dep)}, but "
                f"{100 * rec['flip_probability_at_deployment']:.2g} % of the MTJs flip within it; re-program every "
                f"{refresh} to keep the flipped MTJs under {REFRESH_FLIP_FRACTION:g}"]
    return []


def age_bits(bits: np.ndarray, dt_s: float, retention_s: float | None, rng: np.random.Generator) -> np.ndarray:
    """Age per-MTJ states ``bits`` (D, N) bool (True = P) by ``dt_s``: each MTJ flips with p(dt)."""
    p = float(flip_probability(dt_s, retention_s))
    if p <= 0.0:
        return bits.copy()
    return bits ^ (rng.random(bits.shape) < p)


def mtj_bits(state: np.ndarray, n_mtj: int) -> np.ndarray:
    """(D,) MTJ counts -> (D, N) bool: the first k MTJs of a device in P."""
    return np.arange(n_mtj)[None, :] < np.asarray(state, np.int64).reshape(-1, 1)


def age_chip(state: np.ndarray, target_level: np.ndarray, dev: SynapseDevice, g_levels_S: np.ndarray,
             level_step_S: float, ages: list[tuple[str, float]], seed: int) -> list[dict[str, Any]]:
    """Age the programmed device states ``state`` (any shape) through ``ages`` (sorted [(label, s)]).

    Returns per age ``{"label", "t_s", "state", "g_S", "stats"}`` (state and conductance of the shape of
    ``state``); ``stats``: the flip probability p(t), the measured flipped fraction, the mean level change and
    its expectation p (N − 2 k0), the mean |G − target| in level steps and the fraction inside ±0.5 level."""
    tau = device_retention_s(dev)
    rng = np.random.default_rng([seed, 4242])
    shape = state.shape
    target_g = np.asarray(g_levels_S)[np.asarray(target_level).ravel()]
    compound = dev.spec.kind == KIND_COMPOUND
    k0 = np.asarray(state).ravel()
    bits0 = mtj_bits(k0, dev.n_cells) if compound else None
    bits, t_prev, out = bits0, 0.0, []
    for label, t in ages:
        if compound:
            assert bits is not None  # mtj_bits set it for a compound device
            bits = age_bits(bits, t - t_prev, tau, rng)
            s = bits.sum(axis=1)
            flipped = float(np.mean(bits != bits0))
            expected_change = float(np.mean(flip_probability(t, tau) * (dev.n_cells - 2.0 * k0)))
        else:
            s, flipped, expected_change = k0.copy(), 0.0, 0.0
        t_prev = t
        g = np.asarray(dev.conductance_S(s), np.float64)
        err = (g - target_g) / level_step_S
        out.append({"label": label, "t_s": float(t), "state": s.reshape(shape), "g_S": g.reshape(shape), "stats": {
            "label": label, "t_s": float(t), "flip_probability": float(flip_probability(t, tau)),
            "flipped_fraction": flipped, "mean_level_change": float(np.mean(s - k0)),
            "expected_mean_level_change": expected_change, "abs_error_levels_mean": float(np.abs(err).mean()),
            "inside_half_level": float(np.mean(np.abs(err) <= 0.5))}})
    return out


def one_point_time(ages: list[dict[str, Any]], retention_s: float | None, points: float = 1.0) -> dict[str, Any]:
    """The time at which the retention loss first reaches ``points``: linear interpolation of the measured loss
    (points) against the flip probability p between the two ages around the first crossing (from p = 0, loss 0),
    mapped back to time with p(t). ``ages``: stats with ``flip_probability`` and ``retention_points``."""
    prev_p, prev_l = 0.0, 0.0
    for a in ages:
        p, loss = a["flip_probability"], a["retention_points"]
        if loss >= points and p > 0:
            frac = (points - prev_l) / (loss - prev_l) if loss > prev_l else 1.0
            p1 = prev_p + frac * (p - prev_p)
            return {"points": points, "time_s": time_for_flip(p1, retention_s), "flip_probability": p1,
                    "method": "first crossing, linear in p(t) between the bracketing ages"}
        prev_p, prev_l = p, loss
    return {"points": points, "time_s": None, "flip_probability": None,
            "method": "not reached at the largest --after time"}


def _axis_units(ages: list[dict[str, Any]]) -> str:
    """The time units of the ``--after`` labels in time order (``1s,1h,10y`` -> ``"s, h, y"``); a bare number is
    seconds."""
    units: list[str] = []
    for a in sorted(ages, key=lambda a: a["t_s"]):
        m = _DURATION.match(str(a.get("label", "")))
        unit = (m.group(2) if m else None) or ("s" if a["t_s"] > 0 else None)
        if unit and unit not in units:
            units.append(unit)
    return ", ".join(units) or "s"


def draw_ageing(fig: Any, result: dict[str, Any]) -> dict[str, str]:
    """Draw accuracy (%, 95 % CI) and flipped MTJs (%, axis from 0) against the time after programming on the
    matplotlib ``Figure`` ``fig`` from a ``simulate_chip`` result with ``ageing``. The x axis is logarithmic,
    ticked at the ``--after`` times with their own labels (``1s``, ``1d``, ``10y``) and named with their units;
    the legend sits below the axes, outside the data. Returns the axis labels (``{"x", "y", "y2"}``, with units)."""
    ag = result["ageing"]
    ages = [a for a in ag["ages"] if a["t_s"] > 0]
    labels = {"x": f"time after programming ({_axis_units(ag['ages'])}; log scale)", "y": "accuracy (%)",
              "y2": "flipped MTJs (%)"}
    ax = fig.add_subplot(1, 1, 1)
    if ages and "accuracy" in ages[0]:
        t = np.array([a["t_s"] for a in ages])
        acc = np.array([100 * a["accuracy"] for a in ages])
        ci = np.array([[100 * (a["accuracy"] - a["accuracy_ci95"][0]), 100 * (a["accuracy_ci95"][1] - a["accuracy"])]
                       for a in ages]).T.clip(min=0)
        ax.errorbar(t, acc, yerr=ci, marker="o", capsize=3, label=f"accuracy ({result['n_test']} images, 95% CI)")
        ref = 100 * result["accuracy"][ag["from"]][ag["accuracy_key"]]
        ax.axhline(ref, ls="--", c="k", lw=1, label=f"t = 0 ({ag['from']}) {ref:.1f} %")
        ax.axhline(ref - 1, ls=":", c="k", lw=1, label="1 point lost")
        ax.axhline(10, ls="-.", c="r", lw=1, label="chance (10 %)")
        one = ag.get("one_point", {}).get("time_s")
        if one:
            ax.axvline(one, c="g", lw=1, label=f"1-point time {format_duration(one)}")
        ax.set_ylim(0, 100)
    ax.set_xscale("log")
    if ages:
        ax.set_xticks([a["t_s"] for a in ages], [str(a["label"]) for a in ages])
        ax.minorticks_off()
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax2 = ax.twinx()
    ax2.plot([a["t_s"] for a in ages], [100 * a["flipped_fraction"] for a in ages], "s--", c="tab:orange",
             alpha=0.7, label="flipped MTJs (%)")
    ax2.set_ylim(0, 55)  # a share: from 0; 50 % is the equilibrium of the telegraph process
    ax2.set_ylabel(labels["y2"])
    ax.set_title(f"{result.get('synapse', '')}: retention {format_duration(ag['retention_s'])} (one MTJ)")
    handles = [h for a in (ax, ax2) for h in a.get_legend_handles_labels()[0]]
    names = [n for a in (ax, ax2) for n in a.get_legend_handles_labels()[1]]
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7, frameon=False)
    return labels
