"""Pareto fronts of a study over its design axes, one front per value of its condition axes (docs/study.md).

An axis is a *design* axis (a choice: MTJs per synapse, the rule, the tile) or a *condition* axis (what the chip
meets: read noise, device spread); :func:`spinsyn.report.results.axis_roles` gives each axis its role. Trials are
grouped by their condition values, and each group gets its own front of accuracy (higher is better) against a
cost (lower is better): a noisy trial is compared only with trials under the same noise, never marked dominated
by a quieter one. Points are labelled by their design values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import figures
from .results import StudyResults, Trial, label, to_float

#: at most this many trials get a text label each (beyond it only the front points are labelled)
MAX_LABELS = 30


@dataclass(frozen=True)
class Front:
    """The trials of one condition value and which of them are on its front.

    ``condition``: the condition values as text (``"read noise (σ/G) = 0.02"``; ``""`` without condition axes);
    ``x``: the cost of each trial; ``acc``/``lo``/``hi``: accuracy and its 95 % interval (fractions);
    ``on``: bool mask of the front; ``labels``: each trial's design values (``"n_mtj=4"``)."""

    condition: str
    trials: list[Trial]
    x: np.ndarray
    acc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    on: np.ndarray
    labels: list[str]


def split_axes(results: StudyResults, roles: dict[str, str]) -> tuple[list[str], list[str]]:
    """(design axes, condition axes) of ``results`` in column order."""
    design = [a for a in results.axes if roles.get(a, "design") == "design"]
    return design, [a for a in results.axes if a not in design]


def _short(value: str) -> str:
    """A cell as a short label: a file path by its stem, a number as ``%g``."""
    if value.lower().endswith(".json"):
        return Path(value).stem
    v = to_float(value)
    return f"{v:g}" if math.isfinite(v) else value


def design_label(trial: Trial, design: list[str]) -> str:
    """``"n_mtj=4, source=fitted"``: the trial's design values by the last part of each axis key."""
    text = ", ".join(f"{a.rsplit('.', 1)[-1]}={_short(trial.cells[a])}" for a in design)
    return text or f"trial {trial.cells['trial']}"


def condition_label(key: tuple[str, ...], conditions: list[str]) -> str:
    """``"read noise (σ/G) = 0.02"`` (several conditions joined by ``;``)."""
    return "; ".join(f"{label(a)} = {_short(v)}" for a, v in zip(conditions, key))


def _order(keys: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Distinct condition keys, numerically sorted where every value is a number, else in first-seen order."""
    distinct = list(dict.fromkeys(keys))
    nums = [[to_float(v) for v in k] for k in distinct]
    if all(math.isfinite(v) for k in nums for v in k):
        return [distinct[i] for i in sorted(range(len(distinct)), key=lambda i: nums[i])]
    return distinct


def condition_fronts(trials: list[Trial], design: list[str], conditions: list[str], cost: str) -> list[Front]:
    """One :class:`Front` of accuracy against the column ``cost`` per condition value, over the ``trials`` (ok,
    with an accuracy) whose ``cost`` is finite; conditions in numeric order."""
    usable = [t for t in trials if math.isfinite(t.num(cost)) and math.isfinite(t.num("accuracy"))]
    keys = [tuple(t.cells[a] for a in conditions) for t in usable]
    fronts = []
    for key in _order(keys):
        group = [t for t, k in zip(usable, keys) if k == key]
        x = np.array([t.num(cost) for t in group])
        acc, lo, hi = (np.array([t.num(c) for t in group]) for c in ("accuracy", "accuracy_lo", "accuracy_hi"))
        fronts.append(Front(condition_label(key, conditions), group, x, acc, lo, hi, figures.pareto_mask(x, acc),
                            [design_label(t, design) for t in group]))
    return fronts


def same_order(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two cost columns order the trials the same way, ties included (then their fronts are the same)."""
    return bool(np.array_equal(np.unique(a, return_inverse=True)[1], np.unique(b, return_inverse=True)[1]))


def front_figure(fronts: list[Front], x_label: str) -> bytes:
    """Accuracy (%) against the cost, one colour per condition value: every trial with its 95 % interval (open
    markers: dominated within its condition), each front as a step line; points labelled by their design values;
    the legend outside the data. Log x when the costs span more than a factor 20."""
    fig, (ax,) = figures.new_figure(9.0, 4.6)
    many = sum(len(f.trials) for f in fronts) > MAX_LABELS
    labelled: set[tuple[float, str]] = set()  # a design point is named once, whatever its conditions
    for i, f in enumerate(fronts):
        colour = f"C{i % 10}"
        err = np.nan_to_num(np.vstack([f.acc - f.lo, f.hi - f.acc]).clip(min=0) * 100)
        name = f.condition or "Pareto front"
        ax.errorbar(f.x[f.on], 100 * f.acc[f.on], yerr=err[:, f.on], fmt="o", color=colour, ms=7, capsize=3,
                    label=name)
        ax.errorbar(f.x[~f.on], 100 * f.acc[~f.on], yerr=err[:, ~f.on], fmt="o", mfc="none", color=colour, ms=6,
                    capsize=2, alpha=0.7)
        order = np.argsort(f.x[f.on])
        ax.step(f.x[f.on][order], 100 * f.acc[f.on][order], where="post", color=colour, lw=1.5)
        for xi, ai, lab, on in zip(f.x, f.acc, f.labels, f.on):
            if (on or not many) and (float(xi), lab) not in labelled:
                labelled.add((float(xi), lab))
                ax.annotate(lab, (xi, 100 * ai), textcoords="offset points", xytext=(6, -3), fontsize=8,
                            color="0.2")
    xs = np.concatenate([f.x for f in fronts])
    pos = xs[xs > 0]
    if pos.size and pos.max() / pos.min() > 20:
        ax.set_xscale("log")
    ax.set(xlabel=x_label, ylabel="accuracy (%)", title=f"accuracy vs {x_label}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              title="front per condition" if any(f.condition for f in fronts) else None, title_fontsize=8)
    return figures.png_bytes(fig)
