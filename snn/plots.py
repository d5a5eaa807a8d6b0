"""Figures of a run: receptive fields (28×28 grid), running accuracy, confusion matrix (PNG, atomic, marked as
spinsyn's: :func:`spinsyn.validation.figure_save_kwargs`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from spinsyn.fileio import atomic_path


def write_plots(run_dir: str | Path, w: np.ndarray, history: list, confusion: np.ndarray,
                assignments: np.ndarray | None = None, final: dict | None = None) -> list[Path]:
    """Write ``receptive_fields.png``, ``accuracy.png``, ``confusion.png`` into ``run_dir``. ``final``: the test
    result (``accuracy_all_activity``, ``accuracy_proportion`` as fractions, ``n_test``), marked on accuracy.png."""
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup

    run_dir = Path(run_dir)
    out = []
    N = w.shape[1]
    side = math.ceil(math.sqrt(N))
    grid = np.zeros((side * 28, side * 28))
    for j in range(N):
        r, c = divmod(j, side)
        grid[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = w[:, j].reshape(28, 28)
    fig, ax = plt.subplots(figsize=(8, 8))
    im = ax.imshow(grid, cmap="hot_r", vmin=0, vmax=max(float(w.max()), 1e-9))
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(f"input weights of {N} neurons (w in [0, 1])")
    fig.colorbar(im, ax=ax, fraction=0.046)
    out.append(_save(fig, run_dir / "receptive_fields.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    _accuracy_axes(ax, history, final)
    out.append(_save(fig, run_dir / "accuracy.png"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted"), ax.set_ylabel("true"), ax.set_title("confusion (test, all activity)")
    ax.set_xticks(range(10)), ax.set_yticks(range(10))
    out.append(_save(fig, run_dir / "confusion.png"))
    return out


def _accuracy_axes(ax, history: list, final: dict | None) -> None:
    """Running training accuracy (%, y from 0) and the final test accuracy as a labelled line and end marker."""
    x = [h["samples"] for h in history]
    if history:
        ax.plot(x, [100 * h["running_accuracy"] for h in history], label="running accuracy (last 250 images)")
    acc = (final or {}).get("accuracy_all_activity")
    if acc is not None:
        n = final.get("n_test", "?") if final else "?"
        ax.axhline(100 * acc, color="C3", ls="--", lw=1.2)
        ax.plot([x[-1] if x else 0], [100 * acc], "o", color="C3",
                label=f"final test accuracy {100 * acc:.2f} % ({n} images, all activity)")
        ax.annotate(f"test {100 * acc:.1f} %", (x[-1] if x else 0, 100 * acc), textcoords="offset points",
                    xytext=(-4, 6), ha="right", color="C3", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_xlabel("training images (count)"), ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy during training and on the test set")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt  # lazy: startup
    from spinsyn.validation import figure_save_kwargs  # lazy: startup

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png", **figure_save_kwargs("png"))
    plt.close(fig)
    return path
