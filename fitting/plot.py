"""Fit figure: data mean ± std per Δt (trials faint), the fit, each component, residuals beneath."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from spinsyn.fileio import save_with
from spinsyn.validation import figure_save_kwargs

from .inputs import FitData
from .result import FitResult


def plot_fit(path: str | Path, data: FitData, result: FitResult) -> Path:
    """Save the fit figure to ``path`` (png/pdf/svg by suffix) atomically via matplotlib Agg, marked as spinsyn's
    (:func:`spinsyn.validation.figure_save_kwargs`)."""
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup

    rule = result.rule
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    if data.raw_dt_ms.size > data.n:
        ax.plot(data.raw_dt_ms, data.raw_y, ".", color="0.75", ms=2, label="trials", zorder=1)
    err = np.nan_to_num(data.y_std) if data.sigma is None else data.sigma
    ax.errorbar(data.dt_ms, data.y_mean, yerr=err, fmt="o", ms=3, color="k", capsize=2,
                label="mean ± std" if data.sigma is None else "mean ± sigma", zorder=3)
    xs = np.linspace(data.dt_ms.min(), data.dt_ms.max(), 600)
    ax.plot(xs, rule(xs), "C3-", lw=2, label=f"{rule.model} fit (R²={rule.metrics['r2']:.4f})", zorder=4)
    vals = rule._eval_values()
    for i, (lab, comp) in enumerate(rule.family.components(xs, vals).items()):
        ax.plot(xs, comp, f"C{i}--", lw=1, label=lab)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_ylabel(data.y_label)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{Path(data.source_path).name}: {rule.model}", fontsize=9)
    axr.axhline(0, color="0.5", lw=0.5)
    axr.plot(data.dt_ms, result.residuals, "o", ms=3, color="C3")
    axr.set_xlabel("Δt (ms)")
    axr.set_ylabel("residual")
    fig.tight_layout()
    fmt = Path(path).suffix.lstrip(".") or "png"
    try:
        return save_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120, **figure_save_kwargs(fmt)))
    finally:
        plt.close(fig)
