"""Inverse design: search testbench pulse parameters so the device's ΔG(Δt) matches a target rule.

Uses ``spinsyn.devices.sweep(..., engine="reference")`` with common random numbers (fixed seed) inside a
small differential-evolution search over the testbench's pre/post pulse fields (voltages ``*_V`` and
durations ``*_ms``/``*_ns`` whose names contain ``pre`` or ``post``), each within 0.5×–1.5× its default.
The objective is the RMS difference between the target rule and the device curve (ΔG/(g_max−g_min),
rescaled by its least-squares amplitude). The winner is confirmed by one small SPICE sweep; the remaining
mismatch is reported as the midpoints t0/t1 of a bisigmoid fitted to the device curve vs the target.

Calls the public API of ``spinsyn.devices`` (PulseTestbench, get_model, sweep) directly.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from spinsyn import devices
from spinsyn.validation import check_choice, check_output_file, check_scalar

from .rules import Rule, load_rule, published_rule

#: format of the ``fit calibrate --out`` report JSON
CALIBRATION_FORMAT = "spinsyn-calibration"


@dataclass(frozen=True)
class CalibrateConfig:
    """Search settings: Δt grid (ms), trials per Δt, optimiser budget, bounds factor."""

    dt_max_ms: float = 58.0
    dt_step_ms: float = 2.0
    trials: int = 16
    maxiter: int = 12  # 8 stopped 2.6 ms short after the switching-law change (transit term); 12: < 1 ms
    popsize: int = 6
    bound_factor: float = 0.5
    spice_trials: int = 4
    spice_dt_step_ms: float = 5.0


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


def _curve(model, tb, dt, trials, engine, seed) -> np.ndarray:
    """Mean ΔG/(g_max − g_min) per Δt of a ``spinsyn.devices.sweep``."""
    res = devices.sweep(model, tb, dt, trials, engine=engine, seed=seed)
    return np.mean(np.asarray(res.g_after_S) - np.asarray(res.g_before_S), axis=1) / (res.g_max_S - res.g_min_S)


def _mismatch(curve: np.ndarray, target: np.ndarray) -> float:
    a = float(curve @ target / max(target @ target, 1e-300))
    if a <= 0:
        return float(np.sqrt(np.mean(target**2))) + abs(a)
    return float(np.sqrt(np.mean((curve / a - target) ** 2)))


def _midpoints(curve: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """t0/t1 of a bisigmoid fitted to a device curve sampled at Δt ``x`` (ms)."""
    from .fit import fit_family  # lazy: startup
    from .inputs import FitData  # lazy: startup

    n = np.ones(x.size, int)
    d = FitData(x, curve, np.full_like(x, np.nan), n, None, "1", False, x, curve, "device", "", "sweep")
    r = fit_family(d, "bisigmoid").rule
    return {k: cast(float, r.params[k].value) for k in ("t0", "t1")}  # free bisigmoid parameters: fitted


def _search(model: Any, tb0: Any, names: list[str], dt: np.ndarray, tgt: np.ndarray, cfg: CalibrateConfig,
            seed: int) -> tuple[Any, float]:
    """Differential evolution over the fields ``names`` of ``tb0``. Returns (scipy result, default mismatch)."""
    from scipy.optimize import differential_evolution  # lazy: startup

    x0 = np.array([float(getattr(tb0, n)) for n in names])
    lo = np.minimum(x0 * (1 - cfg.bound_factor), x0 * (1 + cfg.bound_factor))
    hi = np.maximum(x0 * (1 - cfg.bound_factor), x0 * (1 + cfg.bound_factor))

    def obj(theta):
        try:
            return _mismatch(_curve(model, _with(tb0, names, theta), dt, cfg.trials, "reference", seed), tgt)
        except ValueError:
            return 1e3

    f0 = obj(x0)
    # list of (min, max) pairs: a documented form of ``bounds`` the scipy stubs leave out
    de = differential_evolution(obj, list(zip(lo, hi)),  # type: ignore[arg-type]
                                maxiter=cfg.maxiter, popsize=cfg.popsize, seed=seed,
                                polish=False, init="sobol", x0=x0, tol=1e-3)
    return de, f0


def _with(tb0: Any, names: list[str], theta: np.ndarray) -> Any:
    return dataclasses.replace(tb0, **{n: float(v) for n, v in zip(names, theta)})


def calibrate(target: Rule, model_name: str = "compound", cfg: CalibrateConfig = CalibrateConfig(),
              seed: int = 0) -> dict[str, Any]:
    """Run the search and the SPICE confirmation. Returns a JSON-ready report."""
    model = devices.get_model(model_name)
    tb0 = devices.PulseTestbench()
    names = search_fields(tb0)
    if not names:
        raise ValueError("fit calibrate: PulseTestbench has no pre/post voltage or duration fields to search")
    dt = np.arange(cfg.dt_step_ms, cfg.dt_max_ms + 1e-9, cfg.dt_step_ms)
    de, f0 = _search(model, tb0, names, dt, np.asarray(target(dt)), cfg, seed)
    best = _with(tb0, names, de.x)
    ref_curve = _curve(model, best, dt, cfg.trials, "reference", seed)
    dts = np.arange(cfg.spice_dt_step_ms, cfg.dt_max_ms + 1e-9, cfg.spice_dt_step_ms)
    spice_curve = _curve(model, best, dts, cfg.spice_trials, "spice", seed)
    tv: dict[str, Any] = target.values
    x0 = [float(getattr(tb0, n)) for n in names]
    out = {"model": model_name, "fields": names, "default": dict(zip(names, x0)),
           "best": dict(zip(names, de.x.tolist())), "rms_mismatch_default": f0, "rms_mismatch_best": float(de.fun),
           "n_evaluations": int(de.nfev), "target_t0_ms": tv["t0"], "target_t1_ms": tv["t1"]}
    for tag, c, x in (("reference", ref_curve, dt), ("spice", spice_curve, dts)):
        try:
            m = _midpoints(c, x)
            out[f"{tag}_t0_ms"], out[f"{tag}_t1_ms"] = m["t0"], m["t1"]
            out[f"{tag}_dt0_ms"], out[f"{tag}_dt1_ms"] = m["t0"] - tv["t0"], m["t1"] - tv["t1"]
        except ValueError as exc:
            out[f"{tag}_error"] = str(exc)
    return out


def run_calibrate_cli(args: argparse.Namespace) -> int:
    """``spinsyn fit calibrate``: options validated first, then the search; prints and writes the report."""
    from spinsyn.fileio import write_json  # lazy: startup

    target = load_rule(args.target) if args.target else published_rule()
    if target.model != "bisigmoid":
        raise ValueError(f"{args.target}: calibrate needs a bisigmoid target rule, got {target.model!r}")
    model = args.model if args.model != "auto" else "compound"
    check_choice(model, "--model", sorted(devices.PRESETS))
    check_scalar(args.seed, "--seed", int, min_val=0)
    if args.out:
        check_output_file(args.out, "--out", writes=CALIBRATION_FORMAT, inputs=(args.target,),
                          overwrite=getattr(args, "overwrite", False))
    rep = calibrate(target, model, seed=args.seed)
    for k, v in rep.items():
        print(f"  {k}: {v}")
    if args.out:
        write_json(args.out, rep, fmt=CALIBRATION_FORMAT, version=1, seed=args.seed)
        print(f"wrote {args.out}")
    return 0
