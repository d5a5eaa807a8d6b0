"""The figure of ``spinsyn device fit --plot``: measured data against the fitted device, one panel per data kind
(switching probability per direction and width with binomial 95 % bars, resistance vs bias, retention), the
held-out error in each title."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.labfile import merge_columns


def plot_fits(tables: dict[str, list], model: Any, sections: dict[str, Any], path: str) -> None:
    """Write the figure to ``path`` (marked as spinsyn's: ``validation.figure_save_kwargs``)."""
    if tables.get("pulses"):
        from .fit_graded import plot_pulse_fit  # lazy: startup

        plot_pulse_fit(tables["pulses"][0], model, path)
        return
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup
    from spinsyn.fileio import atomic_path  # lazy: startup
    from spinsyn.validation import figure_save_kwargs  # lazy: startup

    cell = getattr(model, "cell", model)
    panels = [k for k in ("switching", "resistance", "retention") if tables.get(k)]
    fig, axes = plt.subplots(1, len(panels) + (1 if "switching" in panels else 0),
                             figsize=(4.6 * (len(panels) + 1), 3.8), squeeze=False)
    col = 0
    for kind in panels:
        if kind == "switching":
            for to_p in (True, False):
                _switching(axes[0, col], tables["switching"], cell, to_p, sections["fits"].get("switching", {}))
                col += 1
        elif kind == "resistance":
            _resistance(axes[0, col], tables["resistance"], cell)
            col += 1
        else:
            _retention(axes[0, col], tables["retention"], sections["fits"].get("retention", {}))
            col += 1
    fig.tight_layout()
    suffix = Path(path).suffix or ".png"
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format=suffix.lstrip("."), **figure_save_kwargs(suffix))
    plt.close(fig)


def _switching(ax: Any, tables: list, cell: Any, to_p: bool, rep: dict[str, Any]) -> None:
    from .fit_switching import _direction  # lazy: startup

    c = merge_columns(tables)
    d = np.array([_direction(x) for x in c["direction"]])
    m = d == to_p
    widths = np.unique(c["width_ns"][m])
    colors = iter(__import__("matplotlib").colormaps["viridis"](np.linspace(0, 0.9, max(widths.size, 1))))
    for w in widths:
        color = next(colors)
        sel = m & (c["width_ns"] == w)
        v, n, k = c["v_V"][sel], c["n_attempts"][sel], c["n_switched"][sel]
        order = np.argsort(np.abs(v))
        p = k / n
        err = 1.96 * np.sqrt(np.maximum(p * (1 - p), 0.25 / n) / n)
        ax.errorbar(np.abs(v[order]), p[order], yerr=err[order], fmt="o", ms=3, color=color, label=f"{w:g} ns")
        vv = np.linspace(np.abs(v).min(), np.abs(v).max(), 120) * (1 if to_p else -1)
        pu, pd = cell.cell_write_probabilities(vv, w * 1e-9)
        ax.plot(np.abs(vv), pu if to_p else pd, "-", color=color, lw=1)
    kf = rep.get("kfold") or {}
    held = f"; held-out RMS {kf['rms_p']:.3f}" if kf else ""
    ax.set_title(("AP→P" if to_p else "P→AP") + f" switching{held}", fontsize=9)
    ax.set_xlabel("|V| (V)")
    ax.set_ylabel("P(switch)")
    ax.legend(fontsize=7)


def _resistance(ax: Any, tables: list, cell: Any) -> None:
    from .fit_resistance import _states  # lazy: startup
    from .physics import r_ap_formula  # lazy: startup

    c = merge_columns(tables)
    s = _states(c["state"])
    for state, label in ((1, "P"), (0, "AP")):
        ax.plot(c["v_V"][s == state], c["r_ohm"][s == state], "o", ms=3, label=f"{label} data")
    vv = np.linspace(c["v_V"].min(), c["v_V"].max(), 200)
    ax.plot(vv, np.full_like(vv, cell.r_p_ohm), "-", lw=1, label="R_P fit")
    ax.plot(vv, r_ap_formula(cell.r_p_ohm, cell.tmr0, cell.vh_V, vv), "-", lw=1, label="R_AP(V) fit")
    ax.set_xlabel("V (V)")
    ax.set_ylabel("R (ohm)")
    ax.set_title("resistance vs bias", fontsize=9)
    ax.legend(fontsize=7)


def _retention(ax: Any, tables: list, rep: dict[str, Any]) -> None:
    from .fit_retention import flipped_fraction  # lazy: startup

    c = merge_columns(tables)
    ax.plot(c["t_s"], c["n_flipped"] / c["n_cells"], "o", ms=3, label="data")
    if "delta" in rep:
        tt = np.geomspace(c["t_s"].min(), c["t_s"].max(), 100)
        ax.plot(tt, flipped_fraction(tt, rep["delta"][0], rep["tau_d_s"]), "-", lw=1,
                label=f"Delta {rep['delta'][0]:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("t (s)")
    ax.set_ylabel("fraction flipped")
    ax.set_title("retention", fontsize=9)
    ax.legend(fontsize=7)
