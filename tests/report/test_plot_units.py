"""The stage figures speak the user's units: the fit in µS for conductance data with its additive decomposition,
the ageing plot ticked at the --after times with flipped MTJs from 0, accuracy.png marking the final test accuracy.
Each check reads the matplotlib objects (labels, limits, offset text), not pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

DATA = Path(__file__).resolve().parents[1] / "data" / "byod"


@pytest.fixture(scope="module")
def lab_fit(tmp_path_factory):
    from spinsyn.fitting import fit_file, read_input

    out = tmp_path_factory.mktemp("fit") / "rule.json"
    return read_input(DATA / "lab_window.csv"), fit_file(DATA / "lab_window.csv", out, "bisigmoid", seed=0)[0]


def test_fit_of_conductance_data_is_drawn_in_microsiemens_with_its_decomposition(lab_fit):
    from spinsyn.fitting.plot import draw_fit

    data, result = lab_fit
    assert data.y_unit == "S" and np.abs(data.y_mean).max() < 1e-3  # the reader converted the file's µS to S
    fig = Figure()
    ax = fig.add_subplot()
    text = draw_fit(ax, data, result.rule, np.linspace(0, 60, 200), result.rule.metrics["r2"])
    fig.canvas.draw()
    assert ax.get_ylabel() == "ΔG (µS)" and ax.yaxis.get_offset_text().get_text() == ""
    lo, hi = ax.get_ylim()
    assert 20 < hi < 100 and -100 < lo < -20  # the file's ±36 µS window, in µS
    assert text == "fit = A + component0 + component1"
    labels = ax.get_legend_handles_labels()[1]
    assert any(lab.startswith("component1:") and "t1=" in lab for lab in labels)
    comp1 = next(line for line in ax.get_lines() if line.get_label().startswith("component1"))
    fit = next(line for line in ax.get_lines() if "fit" in line.get_label())
    assert comp1.get_zorder() > fit.get_zorder()  # drawn above the fit, not hidden under it
    # fit = A + component0 + component1 holds numerically on the drawn curves
    a_line = next(line for line in ax.get_lines() if line.get_label().startswith("A = "))
    comps = [line.get_ydata() for line in ax.get_lines() if line.get_label().startswith("component")]
    assert np.allclose(a_line.get_ydata()[0] + comps[0] + comps[1], fit.get_ydata(), atol=1e-9)


def _ageing_result(labels: list[str], times: list[float], flipped: list[float]) -> dict:
    ages = [{"label": lab, "t_s": t, "flipped_fraction": f, "accuracy": 0.6 - f, "accuracy_ci95": [0.55 - f, 0.65 - f]}
            for lab, t, f in zip(labels, times, flipped)]
    return {"synapse": "compound:8", "n_test": 100, "accuracy": {"disturbed": {"k": 0.6}},
            "ageing": {"ages": ages, "retention_s": 4.05, "from": "disturbed", "accuracy_key": "k",
                       "one_point": {"time_s": 0.02}}}


def test_ageing_plot_uses_the_after_units_and_a_share_axis_from_zero():
    from spinsyn.hw_export.ageing import draw_ageing

    fig = Figure()
    r = _ageing_result(["0", "1s", "1d", "10y"], [0.0, 1.0, 86400.0, 3.15576e8], [0.0, 0.13, 0.45, 0.5])
    labels = draw_ageing(fig, r)
    ax, ax2 = fig.axes
    assert labels["x"] == "time after programming (s, d, y; log scale)" == ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1s", "1d", "10y"]
    assert ax2.get_ylim()[0] == 0 and ax2.get_ylabel() == "flipped MTJs (%)"
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0  # below the axes: it covers no point
    assert len(ax.get_legend().get_texts()) == 6  # both axes' entries in the one legend


def test_accuracy_png_marks_the_final_test_accuracy():
    from spinsyn.snn.plots import _accuracy_axes

    fig = Figure()
    ax = fig.add_subplot()
    history = [{"samples": 250 * i, "running_accuracy": 0.1 * i} for i in range(1, 6)]
    _accuracy_axes(ax, history, {"accuracy_all_activity": 0.4321, "n_test": 1000})
    labels = ax.get_legend_handles_labels()[1]
    assert "final test accuracy 43.21 % (1000 images, all activity)" in labels
    marker = next(line for line in ax.get_lines() if line.get_label().startswith("final test"))
    assert marker.get_xdata()[0] == 1250 and marker.get_ydata()[0] == pytest.approx(43.21)
    assert ax.get_ylim() == (0, 100) and ax.get_ylabel() == "accuracy (%)"
