"""Figure of a sweep file: mean normalised ΔG(Δt), switching probabilities, and one waveform if stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_sweep(sweep_path: str | Path, out_path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the figure of ``sweep_path`` (a ``spinsyn-sweep`` HDF5) to ``out_path`` (format from its suffix,
    written atomically, marked as spinsyn's). ``out_path`` is checked first under the output policy
    (:func:`spinsyn.validation.check_output_file`: an existing file that is not a spinsyn figure needs
    ``overwrite``). Returns ``out_path``."""
    from spinsyn.validation import FIGURE_FORMAT, FIGURE_SUFFIXES, check_output_file  # lazy: startup

    check_output_file(out_path, "--out", writes=FIGURE_FORMAT, inputs=(sweep_path,), overwrite=overwrite,
                      suffixes=FIGURE_SUFFIXES)
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup
    from spinsyn.fileio import atomic_path  # lazy: startup
    from spinsyn.validation import figure_save_kwargs  # lazy: startup

    from .sweep import read_sweep  # lazy: startup

    r = read_sweep(sweep_path)
    dg = r.dg_norm
    fig, ax = plt.subplots(1, 3 if r.waveforms else 2, figsize=(14 if r.waveforms else 10, 4))
    ax[0].errorbar(r.dt_ms, dg.mean(1), yerr=dg.std(1), fmt="o-", ms=3, capsize=2)
    ax[0].axhline(0, color="k", lw=0.5)
    ax[0].set(xlabel="Δt (ms)", ylabel="normalised ΔG (mean ± std)", title=f"{r.model['name']} ({r.engine})")
    n = max(r.n_mtj, 1)
    ax[1].plot(r.dt_ms, r.switched_up.sum(1) / (n * dg.shape[1]), "g-", label="AP→P")
    ax[1].plot(r.dt_ms, r.switched_down.sum(1) / (n * dg.shape[1]), "r-", label="P→AP")
    ax[1].set(xlabel="Δt (ms)", ylabel="switching fraction", title="switching probability")
    ax[1].legend()
    if r.waveforms:
        w = r.waveforms[0]
        t = np.asarray(w["time_s"]) * 1e3
        ax[2].plot(t, w["v_mtj_V"], label="V_mtj (V)")
        ax2 = ax[2].twinx()
        ax2.plot(t, np.asarray(w["g_S"]) * 1e6, "k", lw=0.8)
        ax2.set_ylabel("G (µS)")
        ax[2].set(xlabel="t (ms)", title=f"instance dt#{w.get('dt_index', 0)} trial {w.get('trial', 0)}")
    fig.tight_layout()
    out = Path(out_path)
    fmt = out.suffix[1:] if out.suffix else "png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format=fmt, **figure_save_kwargs(fmt))
    plt.close(fig)
    return out
