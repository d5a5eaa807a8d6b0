"""Least-squares fits of a rule family to :class:`~spinsyn.fitting.inputs.FitData`.

``scipy.optimize.least_squares`` with box bounds, optional robust loss, multi-start from data-driven
guesses, weights from the per-Δt spread; standard errors from the Jacobian (scaled by the reduced χ² as
curve_fit does), t-based 95 % intervals, optional bootstrap percentile intervals; R², RMSE, AIC, BIC.
Parameters the data cannot determine are flagged (identifiable=False) with the reason, and get no
standard error or interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from spinsyn.validation import FIGURE_SUFFIXES

from .inputs import FitData
from .result import LOSSES, FitResult
from .rules import FAMILIES, ParamInfo, Rule, get_family

AUTO_CANDIDATES = ("bisigmoid", "exp-stdp", "sigmoid")
#: least-squares losses of scipy.optimize.least_squares (robust ones down-weight outliers)


def _t975(dof: int) -> float:
    from scipy.stats import t  # lazy: startup

    return float(t.ppf(0.975, max(dof, 1)))


def _solve(fam, x, y, s, free, fixed_vals, lo, hi, starts, loss):
    from scipy.optimize import least_squares  # lazy: startup

    def resid(theta):
        p = dict(fixed_vals)
        p.update(zip(free, theta))
        return (fam.f(x, p) - y) / s

    best = None
    for g in starts:
        th0 = np.clip(np.array([g[k] for k in free], dtype=float), lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
        try:
            r = least_squares(resid, th0, bounds=(lo, hi), loss=loss, x_scale="jac", max_nfev=4000)
        except ValueError:
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None:
        raise ValueError("no start converged")
    return best


def _swap_bisigmoid(model: str, free: tuple[str, ...], theta: np.ndarray, J: np.ndarray):
    """The two sigmoids of a bisigmoid are interchangeable: label the earlier one t0 (permutes theta and J)."""
    if model != "bisigmoid" or not {"t0", "t1", "k0", "k1"} <= set(free):
        return theta, J
    if theta[free.index("t0")] <= theta[free.index("t1")]:
        return theta, J
    perm = list(range(len(free)))
    for a, b in (("t0", "t1"), ("k0", "k1")):
        ia, ib = free.index(a), free.index(b)
        perm[ia], perm[ib] = ib, ia
    return theta[perm], J[:, perm]


def _covariance(J: np.ndarray, wrss: float, dof: int):
    """Covariance of the free parameters from the Jacobian (pseudo-inverse, scaled by the reduced χ²).

    The SVD is taken of J with unit-norm columns (and the scale put back into cov), so the rank test does not depend
    on the units of Δt or of the data: the same window in µs or in ms flags the same parameters.
    Returns (cov, stderr, singular values and right singular vectors of the scaled J, rank tolerance)."""
    scale = np.linalg.norm(J, axis=0)
    scale[~(scale > 0)] = 1.0
    _, sv, vt = np.linalg.svd(J / scale, full_matrices=False)
    tol = sv[0] * 1e-8 if sv.size else 0.0
    inv_sv2 = np.zeros_like(sv)
    inv_sv2[sv > tol] = 1.0 / sv[sv > tol] ** 2
    cov = (vt.T * inv_sv2) @ vt * (wrss / dof) / np.outer(scale, scale)
    return cov, np.sqrt(np.clip(np.diag(cov), 0, None)), sv, vt, tol


def _transition_reasons(x: np.ndarray, p: dict[str, float], free: tuple[str, ...], reasons: dict[str, str]) -> None:
    """Flag transitions whose midpoint lies outside the data or whose slope the Δt spacing cannot resolve."""
    xlo, xhi = float(x.min()), float(x.max())
    step = float(np.min(np.diff(x))) if x.size > 1 else 1.0
    for tn, kn in (("t0", "k0"), ("t1", "k1"), ("t0", "k")):
        if tn not in p or kn not in p or tn not in free:
            continue
        if not xlo <= p[tn] <= xhi:
            why = f"transition midpoint {p[tn]:.3g} ms lies outside the sampled Δt range [{xlo:g}, {xhi:g}] ms"
            reasons.setdefault(tn, why)
            reasons.setdefault(kn, why)
        elif p[kn] * step > 8.0:
            reasons.setdefault(kn, f"transition sharper than the Δt spacing {step:g} ms: slope only bounded below")


def _unidentifiable(x, p, free, theta, se, sv, vt, tol, lo, hi, fixed) -> dict[str, str]:
    """Parameter name -> why the data do not determine it (fixed, rank deficiency, bounds, huge stderr)."""
    reasons: dict[str, str] = {name: why for name, (_, why) in fixed.items()}
    for r in np.nonzero(sv <= tol)[0]:
        j = int(np.argmax(np.abs(vt[r])))
        reasons.setdefault(free[j], "Jacobian is rank deficient in this direction")
    _transition_reasons(x, p, free, reasons)
    for i, name in enumerate(free):
        if np.isclose(theta[i], lo[i], rtol=1e-6, atol=0) or np.isclose(theta[i], hi[i], rtol=1e-6, atol=0):
            reasons.setdefault(name, f"at its bound {theta[i]:.4g}: the data do not constrain it")
        elif not np.isfinite(se[i]) or se[i] > 10 * max(abs(theta[i]), 1e-300):
            reasons.setdefault(name, f"standard error {se[i]:.3g} exceeds 10× the value")
    return reasons


def _param_infos(fam, y_unit, free, fixed_vals, theta, se, reasons, tq, boot) -> dict[str, ParamInfo]:
    """One ParamInfo per family parameter: value, unit, and (when identifiable) stderr and intervals."""
    params: dict[str, ParamInfo] = {}
    for name in fam.params:
        unit = fam.unit(name, y_unit)
        if name not in free:
            v = fixed_vals[name]
            params[name] = ParamInfo(None if v is None else float(v), unit, identifiable=False, note=reasons[name])
            continue
        i = free.index(name)
        v = float(theta[i])
        if name in reasons:
            params[name] = ParamInfo(v, unit, identifiable=False, note=reasons[name])
            continue
        ci = (v - tq * float(se[i]), v + tq * float(se[i]))
        bci = None if boot is None else (float(boot[0, i]), float(boot[1, i]))
        params[name] = ParamInfo(v, unit, float(se[i]), ci, True, ci95_bootstrap=bci)
    return params


def _metrics(x, y, s, res, k, weighted, loss, n_starts, bootstrap) -> dict[str, Any]:
    """Goodness of fit: R² (weighted), RMSE, χ², AIC, BIC, plus the residuals for the plot."""
    n = x.size
    dof = n - k
    wrss = float(np.sum((res / s) ** 2))
    rss = float(np.sum(res**2))
    ss_tot = float(np.sum(((y - np.average(y, weights=1 / s**2)) / s) ** 2))
    return {
        "n_points": n, "n_free_params": k, "dof": dof, "weighted": weighted, "loss": loss,
        "r2": 1.0 - wrss / ss_tot if ss_tot > 0 else float("nan"),
        "rmse": float(np.sqrt(rss / n)), "rss": rss, "chi2": wrss, "chi2_reduced": wrss / dof,
        "aic": float(n * np.log(wrss / n) + 2 * k), "bic": float(n * np.log(wrss / n) + k * np.log(n)),
        "n_starts": n_starts, "bootstrap": int(bootstrap),
        "residuals": res.tolist(), "dt_ms": x.tolist(),
    }


def fit_family(data: FitData, model: str, loss: str = "linear", bootstrap: int = 0, seed: int = 0) -> FitResult:
    """Fit family ``model`` to ``data``. ValueError if there are fewer points than free parameters."""
    fam = get_family(model)
    x, y = data.dt_ms, data.y_mean
    sig = data.weights_sigma()
    s = sig if sig is not None else np.ones_like(y)
    fixed = fam.fixed(x, data.normalised)
    fixed_vals = {k: v for k, (v, _) in fixed.items()}
    free = tuple(k for k in fam.params if k not in fixed)
    n, k = x.size, len(free)
    if n <= k:
        raise ValueError(f"{data.source_path}: {n} distinct Δt points but model {model!r} has {k} free "
                         f"parameters {list(free)}; need more points than parameters")
    bnd = fam.bounds(x, y)
    lo = np.array([bnd[p][0] for p in free])
    hi = np.array([bnd[p][1] for p in free])
    starts = fam.guesses(x, y)
    best = _solve(fam, x, y, s, free, fixed_vals, lo, hi, starts, loss)
    theta, J = _swap_bisigmoid(model, free, best.x, best.jac)
    p: dict[str, Any] = dict(fixed_vals)  # None where a parameter cancels (the families accept it)
    p.update(zip(free, theta))
    res = y - fam.f(x, p)
    metrics = _metrics(x, y, s, res, k, sig is not None, loss, len(starts), bootstrap)
    cov, se, sv, vt, tol = _covariance(J, metrics["chi2"], n - k)
    reasons = _unidentifiable(x, p, free, theta, se, sv, vt, tol, lo, hi, fixed)
    boot = _bootstrap(data, fam, free, fixed_vals, lo, hi, theta, loss, bootstrap, seed) if bootstrap else None
    params = _param_infos(fam, data.y_unit, free, fixed_vals, theta, se, reasons, _t975(n - k), boot)
    rule = Rule(model, params, normalised=data.normalised, window_ms=(float(x.min()), float(x.max())),
                y_unit=data.y_unit, metrics=metrics,
                source={"path": data.source_path, "sha256": data.source_sha256, "kind": data.kind,
                        **({"device": data.device} if data.device else {})})
    return FitResult(rule, res, free, cov)


def _bootstrap(data, fam, free, fixed_vals, lo, hi, theta, loss, n_boot, seed) -> np.ndarray:
    """Percentile 95 % intervals (2, k): trials resampled within each Δt when there are ≥ 2, else residuals."""
    rng = np.random.default_rng(seed)
    x = data.dt_ms
    p = dict(fixed_vals)
    p.update(zip(free, theta))
    fit = fam.f(x, p)
    res = data.y_mean - fit
    by_trials = bool(np.all(data.n_trials >= 2))
    groups = np.searchsorted(x, data.raw_dt_ms) if by_trials else None
    sig = data.weights_sigma()
    s = sig if sig is not None else np.ones_like(fit)
    start = [dict(zip(free, theta))]
    out = []
    for _ in range(int(n_boot)):
        if by_trials:
            yb = np.empty_like(fit)
            for g in range(x.size):
                vals = data.raw_y[groups == g]
                yb[g] = rng.choice(vals, vals.size).mean()
        else:
            yb = fit + rng.choice(res, res.size)
        try:
            r = _solve(fam, x, yb, s, free, fixed_vals, lo, hi, start, loss)
            out.append(r.x)
        except ValueError:
            continue
    arr = np.asarray(out)
    return np.percentile(arr, [2.5, 97.5], axis=0)


def fit_auto(data: FitData, loss: str = "linear", candidates: tuple[str, ...] = AUTO_CANDIDATES,
             bootstrap: int = 0, seed: int = 0) -> tuple[FitResult, str, dict[str, FitResult]]:
    """Fit every candidate family and keep the lowest BIC. Returns (best, reason, all fits)."""
    fits: dict[str, FitResult] = {}
    for name in candidates:
        try:
            fits[name] = fit_family(data, name, loss=loss)
        except ValueError:
            continue
    if not fits:
        raise ValueError(f"{data.source_path}: no rule family could be fitted (too few points?)")
    order = sorted(fits, key=lambda m: fits[m].rule.metrics["bic"])
    best = order[0]
    table = ", ".join(f"{m}: BIC {fits[m].rule.metrics['bic']:.1f} / AIC {fits[m].rule.metrics['aic']:.1f} "
                      f"(k={fits[m].rule.metrics['n_free_params']})" for m in order)
    reason = f"auto chose {best!r} (lowest BIC; {table})"
    if len(order) > 1:
        d = fits[order[1]].rule.metrics["bic"] - fits[best].rule.metrics["bic"]
        strength = "very strong" if d > 10 else "strong" if d > 6 else "positive" if d > 2 else "weak"
        reason += f"; ΔBIC to {order[1]!r} = {d:.1f} ({strength} evidence)"
        aic_best = min(fits, key=lambda m: fits[m].rule.metrics["aic"])
        if aic_best != best:
            reason += f"; note: AIC would prefer {aic_best!r}"
    if bootstrap:
        fits[best] = fit_family(data, best, loss=loss, bootstrap=bootstrap, seed=seed)
    chosen = fits[best]
    rule = replace(chosen.rule, metrics={**chosen.rule.metrics, "auto_reason": reason})
    return replace(chosen, rule=rule), reason, fits


def fit(data: FitData, model: str = "auto", loss: str = "linear", bootstrap: int = 0,
        seed: int = 0) -> tuple[FitResult, str]:
    """Fit ``model`` (a family name or ``"auto"``). Returns (result, a one-line summary of the choice)."""
    if model == "auto":
        res, reason, _ = fit_auto(data, loss=loss, bootstrap=bootstrap, seed=seed)
        return res, reason
    if model not in FAMILIES:
        raise ValueError(f"--model {model!r} is unknown; expected 'auto' or one of {sorted(FAMILIES)}")
    return fit_family(data, model, loss=loss, bootstrap=bootstrap, seed=seed), f"model {model!r} as requested"


def fit_file(input_path: str | Path, out_path: str | Path, model: str = "auto", *,
             plot_path: str | Path | None = None, loss: str = "linear", bootstrap: int = 0,
             seed: int = 0, overwrite: bool = False, columns: Mapping[str, str] | None = None,
             strict_rows: bool = False, notes: Callable[[str], None] | None = None) -> tuple[FitResult, str]:
    """What ``spinsyn fit`` does: read a ``spinsyn-sweep`` HDF5 or a CSV, fit ``model`` (a family or ``"auto"``),
    save the figure to ``plot_path`` (when given) and the rule to ``out_path`` (``spinsyn-rule`` JSON).

    ``columns`` (canonical name -> header, ``--columns``) and ``strict_rows`` go to the CSV reader
    (:func:`spinsyn.fitting.inputs.read_csv`); ``notes`` receives each of its notes (ignored columns, dropped rows,
    units). Returns (result, one-line summary of the model choice). Options and both outputs are checked before the file
    is read (output policy, :func:`spinsyn.validation.check_output_file`: never the input, never inside a run,
    chip, study or pipeline; an existing file other than a spinsyn rule / figure needs ``overwrite``).
    """
    from spinsyn.validation import FIGURE_FORMAT, check_output_file  # lazy: startup

    from .inputs import read_input  # lazy: startup
    from .plot import plot_fit  # lazy: startup
    from .rules import RULE_FORMAT, save_rule  # lazy: startup

    check_fit_options(model, loss, bootstrap, seed)
    check_output_file(out_path, "--out", writes=RULE_FORMAT, inputs=(input_path,), also={"--plot": plot_path},
                      overwrite=overwrite)
    if plot_path is not None:
        check_output_file(plot_path, "--plot", writes=FIGURE_FORMAT, inputs=(input_path,), overwrite=overwrite,
                          suffixes=PLOT_SUFFIXES)
    data = read_input(input_path, mapping=columns, strict_rows=strict_rows)
    for line in data.notes:
        if notes is not None:
            notes(line)
    result, reason = fit(data, model, loss=loss, bootstrap=bootstrap, seed=seed)
    _check_finite(input_path, result)
    if plot_path is not None:
        plot_fit(plot_path, data, result)
    save_rule(out_path, result.rule, seed=seed)
    return result, reason


#: figure types matplotlib's Agg backend writes
PLOT_SUFFIXES = FIGURE_SUFFIXES  # one list, in spinsyn.validation


def _check_finite(input_path: str | Path, result: FitResult) -> None:
    """A fit whose parameters or metrics are not finite numbers writes nothing: SpinsynFileError naming the input."""
    from spinsyn.fileio import SpinsynFileError  # lazy: startup

    rule = result.rule
    values = [pi.value for pi in rule.params.values() if pi.value is not None]
    values += [v for v in rule.metrics.values() if isinstance(v, float)]
    if not np.all(np.isfinite(np.asarray(values, dtype=float))):
        raise SpinsynFileError(f"{input_path}: the fit gave non-finite parameters or metrics (values out of "
                               "range for a least-squares fit?); nothing written")


def check_fit_options(model: str, loss: str, bootstrap: int, seed: int, prefix: str = "") -> None:
    """Validate fit options (``prefix="--"`` names them as CLI options in the message)."""
    from spinsyn.validation import check_choice, check_scalar  # lazy: startup

    check_choice(model, f"{prefix}model", ("auto", *sorted(FAMILIES)))
    check_choice(loss, f"{prefix}loss", LOSSES)
    check_scalar(bootstrap, f"{prefix}bootstrap", int, min_val=0)
    check_scalar(seed, f"{prefix}seed", int, min_val=0)


def describe_fit(rule: Rule) -> list[str]:
    """Human-readable summary of a fitted rule: metrics, then each parameter with its interval or why not."""
    m = rule.metrics
    lines = [f"{rule.model} on {m['n_points']} Δt points ({'weighted' if m['weighted'] else 'unweighted'}): "
             f"R²={m['r2']:.5f} RMSE={m['rmse']:.4g} AIC={m['aic']:.1f} BIC={m['bic']:.1f}"]
    for name, pi in rule.params.items():
        if pi.identifiable:
            boot = pi.ci95_bootstrap
            ci = cast(tuple[float, float], pi.ci95)  # set on an identifiable fitted parameter
            lines.append(f"  {name:>13} = {pi.value:.6g} {pi.unit}  ± {pi.stderr:.3g}  "
                         f"95% [{ci[0]:.6g}, {ci[1]:.6g}]"
                         + (f"  boot [{boot[0]:.6g}, {boot[1]:.6g}]" if boot else ""))
        else:
            val = "—" if pi.value is None else f"{pi.value:.6g} {pi.unit}"
            lines.append(f"  {name:>13} = {val}  NOT IDENTIFIABLE: {pi.note}")
    return lines
