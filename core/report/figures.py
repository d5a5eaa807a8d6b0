"""Report figures as PNG bytes (matplotlib ``Figure`` objects on the Agg canvas; no pyplot state).

Every function takes arrays already read by their owners' readers and returns the PNG file content.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DPI = 90


def png_bytes(fig: Any) -> bytes:
    """Render a matplotlib ``Figure`` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def new_figure(width_in: float, height_in: float, ncols: int = 1) -> tuple[Any, list[Any]]:
    """A ``Figure`` (size in inches) with ``ncols`` axes side by side."""
    from matplotlib.figure import Figure  # lazy: startup

    fig = Figure(figsize=(width_in, height_in))
    return fig, list(np.atleast_1d(fig.subplots(1, ncols)))


@dataclass(frozen=True)
class Points:
    """Trials as plot points: x (any unit), accuracy and its interval (fractions), label per point."""

    x: np.ndarray
    acc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    labels: list[str]


def pareto_mask(x: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Boolean mask of the points on the Pareto front (lower ``x`` and higher ``acc`` are better): a point is
    on it unless another has x <= its x and acc >= its acc with one of them strict."""
    n = len(x)
    on = np.ones(n, bool)
    for i in range(n):
        dominated = (x <= x[i]) & (acc >= acc[i]) & ((x < x[i]) | (acc > acc[i]))
        on[i] = not dominated.any()
    return on


def _yerr(p: Points) -> np.ndarray:
    """(2, n) error bar lengths from the interval (0 where the interval is missing)."""
    return np.nan_to_num(np.vstack([p.acc - p.lo, p.hi - p.acc]).clip(min=0) * 100)


def pareto_figure(p: Points, x_label: str, best: int | None = None) -> bytes:
    """Accuracy (%) against ``x`` for every trial with its interval; the Pareto front as a highlighted step line,
    the best trial (index into ``p``) ringed. Log x when the values span more than a factor 20."""
    fig, (ax,) = new_figure(6.4, 4.2)
    on = pareto_mask(p.x, p.acc)
    ax.errorbar(p.x[~on], 100 * p.acc[~on], yerr=_yerr(p)[:, ~on], fmt="o", color="0.55", ms=5, capsize=2,
                label="dominated trials")
    order = np.argsort(p.x[on])
    ax.errorbar(p.x[on], 100 * p.acc[on], yerr=_yerr(p)[:, on], fmt="o", color="C3", ms=7, capsize=3,
                label="Pareto front")
    ax.step(p.x[on][order], 100 * p.acc[on][order], where="post", color="C3", lw=1.5)
    for xi, ai, lab in zip(p.x, p.acc, p.labels):
        ax.annotate(lab, (xi, 100 * ai), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if best is not None:
        ax.plot(p.x[best], 100 * p.acc[best], "o", ms=14, mfc="none", mec="k", label="best trial")
    pos = p.x[p.x > 0]
    if pos.size and pos.max() / pos.min() > 20:
        ax.set_xscale("log")
    ax.set(xlabel=x_label, ylabel="accuracy (%)", title=f"accuracy vs {x_label}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png_bytes(fig)


def _positions(values: Sequence[str]) -> tuple[np.ndarray, list[str], bool]:
    """Distinct axis values in order and their x positions: numeric when every value parses as a number,
    else categories 0, 1, 2 ... Returns (x of each distinct value, its label, numeric?)."""
    distinct = list(dict.fromkeys(values))
    try:
        nums = [float(v) for v in distinct]
    except ValueError:
        return np.arange(len(distinct), dtype=float), distinct, False
    order = np.argsort(nums)
    return np.asarray(nums)[order], [distinct[i] for i in order], True


def effect_figure(axis: str, values: Sequence[str], p: Points) -> bytes:
    """Effect of one axis: single trials (grey, with their intervals) and, per axis value, the mean accuracy
    over the trials at that value with the mean of their interval bounds (other axes marginalised)."""
    xs, labels, numeric = _positions(values)
    at = {lab: x for lab, x in zip(labels, xs)}
    tx = np.array([at[v] for v in values])
    fig, (ax,) = new_figure(5.6, 3.8)
    ax.errorbar(tx, 100 * p.acc, yerr=_yerr(p), fmt="o", color="0.65", ms=4, capsize=2, label="trials")
    mean = np.array([np.nanmean(p.acc[tx == x]) for x in xs])
    lo = np.array([np.nanmean(p.lo[tx == x]) if np.isfinite(p.lo[tx == x]).any() else math.nan for x in xs])
    hi = np.array([np.nanmean(p.hi[tx == x]) if np.isfinite(p.hi[tx == x]).any() else math.nan for x in xs])
    err = np.nan_to_num(np.vstack([mean - lo, hi - mean]).clip(min=0) * 100)
    ax.errorbar(xs, 100 * mean, yerr=err, fmt="s-", color="C0", ms=7, capsize=4, lw=2,
                label="mean over other axes")
    if not numeric:
        ax.set_xticks(xs, labels)
    ax.set(xlabel=axis, ylabel="accuracy (%)", title=f"effect of {axis}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return png_bytes(fig)


def sweep_png(sweep_path: Path) -> bytes:
    """The devices stage's own sweep figure (``spinsyn.devices.plot_sweep``) as PNG bytes."""
    from spinsyn.devices import plot_sweep  # lazy: startup

    with tempfile.TemporaryDirectory(prefix="spinsyn-report-") as tmp:
        return plot_sweep(sweep_path, Path(tmp) / "sweep.png").read_bytes()


def axis_labels(fig: Any) -> list[str]:
    """Every non-empty x / y label of ``fig``'s axes (units included), for the page's ``data-axes``."""
    return [lab for ax in fig.axes for lab in (ax.get_xlabel(), ax.get_ylabel()) if lab]


def fit_figure(rule: Any, data: Any | None) -> bytes:
    """The rule curve over its valid Δt window (ms), over the sweep's mean ± std per Δt when ``data`` (a
    ``spinsyn.fitting.FitData``) is given, with its additive decomposition (``spinsyn.fitting.plot.draw_fit``:
    S shown in µS). ``rule``: a ``spinsyn.fitting.Rule``."""
    return fit_figure_axes(rule, data)[0]


def fit_figure_axes(rule: Any, data: Any | None) -> tuple[bytes, list[str]]:
    """:func:`fit_figure` and its axis labels."""
    from spinsyn.fitting.plot import draw_fit  # lazy: startup

    fig, (ax,) = new_figure(8.0, 4.0)
    lo, hi = rule.window_ms
    if data is not None:
        lo, hi = min(lo, float(data.dt_ms.min())), max(hi, float(data.dt_ms.max()))
    text = draw_fit(ax, data, rule, np.linspace(lo, hi, 400), rule.metrics.get("r2"))
    ax.set(xlabel="Δt (ms)", title=f"learning rule: {rule.model}" + (f"; {text}" if text else ""))
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return png_bytes(fig), axis_labels(fig)


def ageing_figure(result: dict[str, Any]) -> tuple[bytes, list[str]]:
    """Accuracy (%) and flipped MTJs (%) over the time after programming from a ``simulate_chip`` result with
    ``ageing`` (``spinsyn.hw_export.ageing.draw_ageing``); PNG bytes and axis labels."""
    from matplotlib.figure import Figure  # lazy: startup
    from spinsyn.hw_export.ageing import draw_ageing  # lazy: startup

    fig = Figure(figsize=(6.0, 4.6))
    draw_ageing(fig, result)
    return png_bytes(fig), axis_labels(fig)


def conditions_figure(names: Sequence[str], acc: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      title: str) -> tuple[bytes, list[str]]:
    """Accuracy (%, with 95 % CI) of each round-trip condition at t = 0, in pipeline order (trained network ->
    programmed chip); ``acc``, ``lo``, ``hi`` are fractions. PNG bytes and axis labels."""
    fig, (ax,) = new_figure(5.2, 3.8)
    y = 100 * np.asarray(acc, float)
    err = np.nan_to_num(np.vstack([y - 100 * np.asarray(lo, float), 100 * np.asarray(hi, float) - y]).clip(min=0))
    ax.bar(range(len(names)), y, color="C0", alpha=0.8)
    ax.errorbar(range(len(names)), y, yerr=err, fmt="none", ecolor="k", capsize=3)
    for i, v in enumerate(y):  # the value above its error bar
        ax.annotate(f"{v:.1f}", (i, v + err[1, i]), textcoords="offset points", xytext=(0, 3), ha="center",
                    fontsize=7)
    ax.axhline(10, ls="-.", c="r", lw=1)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], rotation=30, ha="right", fontsize=8)
    ax.set(ylim=(0, 100), xlabel="condition (t = 0, pipeline order)", ylabel="accuracy (%)", title=title)
    ax.title.set_fontsize(9)
    return png_bytes(fig), axis_labels(fig)


def receptive_fields_figure(w: np.ndarray, title: str) -> bytes:
    """Input weights ``w`` (784, N) in [0, 1] as a grid of 28×28 images, one per neuron."""
    n = w.shape[1]
    side = math.ceil(math.sqrt(n))
    grid = np.full((math.ceil(n / side) * 28, side * 28), np.nan)
    for j in range(n):
        r, c = divmod(j, side)
        grid[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = w[:, j].reshape(28, 28)
    fig, (ax,) = new_figure(6.0, 6.0)
    im = ax.imshow(grid, cmap="hot_r", vmin=0, vmax=max(float(np.nanmax(w)), 1e-9))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="w")
    return png_bytes(fig)


def conductance_figure(g_S: np.ndarray, levels_S: np.ndarray, title: str) -> bytes:
    """Crossbar conductance map ``g_S`` (device rows × device columns, S; NaN = no device) in µS, and the
    histogram of its values with the device's level conductances ``levels_S`` (S) marked."""
    fig, (ax, axh) = new_figure(11.0, 4.2, ncols=2)
    fig.subplots_adjust(wspace=0.45)  # room between the colour bar's "G (µS)" and the histogram's y label
    im = ax.imshow(g_S.T * 1e6, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set(xlabel="device row (input)", ylabel="device column (output)", title=title)
    fig.colorbar(im, ax=ax, label="G (µS)")
    vals = g_S[np.isfinite(g_S)] * 1e6
    axh.hist(vals, bins=80, color="C0")
    for g in np.asarray(levels_S).ravel() * 1e6:
        axh.axvline(g, color="C3", lw=0.6, alpha=0.7)
    axh.set(xlabel="G (µS)", ylabel="devices (count, log scale)", title="programmed conductances (red: levels)")
    axh.set_yscale("log")
    return png_bytes(fig)
