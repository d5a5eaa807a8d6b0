"""Inverse design: search testbench pulse parameters so the device's ΔG(Δt) matches a target rule.

Uses ``spinsyn.devices.sweep(..., engine="reference")`` with common random numbers (fixed seed) inside a
small differential-evolution search over the testbench's pre/post pulse fields (voltages ``*_V`` and
durations ``*_ms``/``*_ns`` whose names contain ``pre`` or ``post``), each within 0.5×–1.5× its default.
The objective is the RMS difference between the target rule and the device curve (ΔG/(g_max−g_min),
rescaled by its least-squares amplitude). The winner is confirmed by one small SPICE sweep; the remaining
mismatch is reported as the midpoints t0/t1 of a bisigmoid fitted to the device curve vs the target.

NOTE: written against the contract names of ``spinsyn.devices`` (PulseTestbench, get_model, sweep); it
needs that stage and is not exercised by the default tests until it lands.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .rules import Rule, load_rule, published_rule


@dataclass(frozen=True)
class CalibrateConfig:
    """Search settings: Δt grid (ms), trials per Δt, optimiser budget, bounds factor."""

    dt_max_ms: float = 58.0
    dt_step_ms: float = 2.0
    trials: int = 16
    maxiter: int = 8
    popsize: int = 6
    bound_factor: float = 0.5
    spice_trials: int = 4
    spice_dt_step_ms: float = 5.0


def _devices():
    try:
        from spinsyn import devices
    except ImportError as exc:  # pragma: no cover
        raise ValueError(f"fit calibrate needs spinsyn.devices ({exc})") from None
    for name in ("PulseTestbench", "get_model", "sweep"):
        if not hasattr(devices, name):
            raise ValueError(f"fit calibrate needs spinsyn.devices.{name}, which this install does not have yet")
    return devices


def search_fields(tb: Any) -> list[str]:
    """Testbench fields the search varies: numeric pre/post pulse voltages and durations."""
    out = []
    for f in dataclasses.fields(tb):
        v = getattr(tb, f.name)
        n = f.name.lower()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0 and \
                ("pre" in n or "post" in n) and n.endswith(("_v", "_ms", "_ns", "_us")):
            out.append(f.name)
    return out


def _curve(devices, model, tb, dt, trials, engine, seed) -> np.ndarray:
    res = devices.sweep(model, tb, dt, trials, engine=engine, seed=seed)
    g_min = float(getattr(res, "g_min_S", None) or res.attrs["g_min_S"])
    g_max = float(getattr(res, "g_max_S", None) or res.attrs["g_max_S"])
    return np.mean(np.asarray(res.g_after_S) - np.asarray(res.g_before_S), axis=1) / (g_max - g_min)


def _mismatch(curve: np.ndarray, target: np.ndarray) -> float:
    a = float(curve @ target / max(target @ target, 1e-300))
    if a <= 0:
        return float(np.sqrt(np.mean(target**2))) + abs(a)
    return float(np.sqrt(np.mean((curve / a - target) ** 2)))


def calibrate(target: Rule, model_name: str = "compound", cfg: CalibrateConfig = CalibrateConfig(),
              seed: int = 0) -> dict[str, Any]:
    """Run the search and the SPICE confirmation. Returns a JSON-ready report."""
    from scipy.optimize import differential_evolution

    from .fit import fit_family
    from .inputs import FitData

    devices = _devices()
    model = devices.get_model(model_name)
    tb0 = devices.PulseTestbench()
    names = search_fields(tb0)
    if not names:
        raise ValueError("fit calibrate: PulseTestbench has no pre/post voltage or duration fields to search")
    x0 = np.array([float(getattr(tb0, n)) for n in names])
    lo = np.minimum(x0 * (1 - cfg.bound_factor), x0 * (1 + cfg.bound_factor))
    hi = np.maximum(x0 * (1 - cfg.bound_factor), x0 * (1 + cfg.bound_factor))
    dt = np.arange(cfg.dt_step_ms, cfg.dt_max_ms + 1e-9, cfg.dt_step_ms)
    tgt = np.asarray(target(dt))

    def make(theta):
        return dataclasses.replace(tb0, **{n: float(v) for n, v in zip(names, theta)})

    def obj(theta):
        try:
            return _mismatch(_curve(devices, model, make(theta), dt, cfg.trials, "reference", seed), tgt)
        except ValueError:
            return 1e3

    f0 = obj(x0)
    de = differential_evolution(obj, list(zip(lo, hi)), maxiter=cfg.maxiter, popsize=cfg.popsize, seed=seed,
                                polish=False, init="sobol", x0=x0, tol=1e-3)
    best = make(de.x)

    def midpoints(curve, x):
        n = np.ones(x.size, int)
        d = FitData(x, curve, np.full_like(x, np.nan), n, None, "1", False, x, curve, "device", "", "sweep")
        r = fit_family(d, "bisigmoid").rule
        return {k: r.params[k].value for k in ("t0", "t1")}

    ref_curve = _curve(devices, model, best, dt, cfg.trials, "reference", seed)
    dts = np.arange(cfg.spice_dt_step_ms, cfg.dt_max_ms + 1e-9, cfg.spice_dt_step_ms)
    spice_curve = _curve(devices, model, best, dts, cfg.spice_trials, "spice", seed)
    tv = target.values
    out = {"model": model_name, "fields": names, "default": dict(zip(names, x0.tolist())),
           "best": dict(zip(names, de.x.tolist())), "rms_mismatch_default": f0, "rms_mismatch_best": float(de.fun),
           "n_evaluations": int(de.nfev), "target_t0_ms": tv["t0"], "target_t1_ms": tv["t1"]}
    for tag, c, x in (("reference", ref_curve, dt), ("spice", spice_curve, dts)):
        try:
            m = midpoints(c, x)
            out[f"{tag}_t0_ms"], out[f"{tag}_t1_ms"] = m["t0"], m["t1"]
            out[f"{tag}_dt0_ms"], out[f"{tag}_dt1_ms"] = m["t0"] - tv["t0"], m["t1"] - tv["t1"]
        except ValueError as exc:
            out[f"{tag}_error"] = str(exc)
    return out


def run_calibrate_cli(args: argparse.Namespace) -> int:
    from spinsyn.fileio import write_json

    target = load_rule(args.target) if args.target else published_rule()
    if target.model != "bisigmoid":
        raise ValueError(f"{args.target}: calibrate needs a bisigmoid target rule, got {target.model!r}")
    model = args.model if args.model != "auto" else "compound"
    rep = calibrate(target, model, seed=args.seed)
    for k, v in rep.items():
        print(f"  {k}: {v}")
    if args.out:
        write_json(args.out, rep, fmt="spinsyn-calibration", version=1, seed=args.seed)
        print(f"wrote {args.out}")
    return 0
