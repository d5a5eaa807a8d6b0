"""Fit figure: data mean ± std per Δt (trials faint), the fit, each component, residuals beneath.

Conductance data (``y_unit`` "S") are drawn in µS (the unit lab files give) without an offset; the title states
the fit's additive decomposition (bi-sigmoid: fit = A + component0 + component1) and each component is drawn
dashed above the fit so none hides under it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import save_with
from spinsyn.validation import figure_save_kwargs

from .inputs import FitData
from .result import FitResult


def y_scale(data: FitData | None) -> tuple[float, str]:
    """(factor, axis label) for the fitted quantity: S values are shown in µS (factor 1e6), others as they are."""
    if data is None:
        return 1.0, "Δw (normalised)"
    if data.y_unit == "S":
        return 1e6, "ΔG (µS)"
    label = data.y_label
    return 1.0, label if "normalised" in label else f"{label} (normalised, 1)"


def decomposition(rule: Any, xs: np.ndarray) -> tuple[dict[str, np.ndarray], float | None, str]:
    """The rule's named components on ``xs`` (ms), the constant that completes them (fit − Σ components, None
    when not constant) and the statement, e.g. ``fit = A + component0 + component1`` with A's value."""
    comps = rule.family.components(xs, rule._eval_values())
    if not comps:
        return {}, None, ""
    rest = rule(xs) - np.sum(list(comps.values()), axis=0)
    const = float(np.mean(rest)) if np.allclose(rest, rest.mean(), rtol=1e-6, atol=1e-12 * max(1.0, abs(rest).max())) \
        else None
    names = " + ".join(f"component{i}" for i in range(len(comps)))
    head = "fit = A + " if const is not None else "fit ≈ "
    return comps, const, head + names


def draw_fit(ax: Any, data: FitData | None, rule: Any, xs: np.ndarray, r2: float | None) -> str:
    """Data (if any), the fit, the constant and each component on ``ax`` (y in the unit of :func:`y_scale`);
    returns the decomposition statement."""
    k, ylabel = y_scale(data)
    if data is not None:
        if data.raw_dt_ms.size > data.n:
            ax.plot(data.raw_dt_ms, k * data.raw_y, ".", color="0.75", ms=2, label="trials", zorder=1)
        err = np.nan_to_num(data.y_std) if data.sigma is None else data.sigma
        ax.errorbar(data.dt_ms, k * data.y_mean, yerr=k * err, fmt="o", ms=3, color="k", capsize=2,
                    label="mean ± std" if data.sigma is None else "mean ± sigma", zorder=3)
    ax.plot(xs, k * rule(xs), "C3-", lw=2.5, alpha=0.8,
            label=f"{rule.model} fit" + (f" (R² = {r2:.4f})" if r2 is not None else ""), zorder=4)
    comps, const, text = decomposition(rule, xs)
    if const is not None:
        ax.axhline(k * const, color="C2", ls=":", lw=1.2, label=f"A = {k * const:.4g}", zorder=5)
    for i, (lab, comp) in enumerate(comps.items()):
        ax.plot(xs, k * comp, ls="--", color=("C0", "C1", "C4", "C5")[i % 4], lw=1.5,
                label=f"component{i}: {lab}", zorder=6)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_ylabel(ylabel)
    return text


def plot_fit(path: str | Path, data: FitData, result: FitResult) -> Path:
    """Save the fit figure to ``path`` (png/pdf/svg by suffix) atomically via matplotlib Agg, marked as spinsyn's
    (:func:`spinsyn.validation.figure_save_kwargs`)."""
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup

    rule = result.rule
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    xs = np.linspace(data.dt_ms.min(), data.dt_ms.max(), 600)
    text = draw_fit(ax, data, rule, xs, rule.metrics.get("r2"))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_title(f"{Path(data.source_path).name}: {rule.model}" + (f"; {text}" if text else ""), fontsize=9)
    k, ylabel = y_scale(data)
    axr.axhline(0, color="0.5", lw=0.5)
    axr.plot(data.dt_ms, k * np.asarray(result.residuals), "o", ms=3, color="C3")
    axr.ticklabel_format(axis="y", useOffset=False)
    axr.set_xlabel("Δt (ms)")
    axr.set_ylabel("residual" + (f" ({ylabel.split('(')[-1]}" if "(" in ylabel else ""))
    fig.tight_layout()
    fmt = Path(path).suffix.lstrip(".") or "png"
    try:
        return save_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight",
                                                       **figure_save_kwargs(fmt)))
    finally:
        plt.close(fig)
