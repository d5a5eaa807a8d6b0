"""report.html of a study and of a pipeline run: content, self-containment, missing pieces, and rendering in
headless Chromium with every image decoded."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from spinsyn.report import write_pipeline_report, write_study_report

from .conftest import HEADER, KEY, chromium, study_rows, write_results

IMG = re.compile(r"<img ([^>]*)>")
#: figures of the study fixture: 2 Pareto fronts, 2 effect plots (one per axis), 4 best-trial pieces
STUDY_FIGURES = {"pareto-energy-pj-per-synapse", "pareto-devices-per-synapse", "effect-device-n-mtj",
                 "effect-device-read-noise", "best-1-device-curve", "best-1-fit", "best-1-receptive-fields",
                 "best-1-conductance-map"}


def _figure_ids(html: str) -> set[str]:
    return set(re.findall(r'<figure id="([^"]+)"><img', html))


def _assert_self_contained(html: str) -> None:
    imgs = IMG.findall(html)
    assert imgs and all('src="data:image/png;base64,' in i and re.search(r'alt="[^"]{10,}"', i) for i in imgs)
    assert not re.search(r"<(link|iframe|object|embed)\b", html)
    assert not re.search(r'\b(src|href)="(?!data:)', html)  # nothing to fetch: no file, no network
    assert "<script src" not in html and "url(" not in html


@pytest.fixture(scope="module")
def study_report(study_dir) -> Path:
    return write_study_report(study_dir)


def test_study_report_content(study_dir, study_report):
    assert study_report == study_dir / "report.html"
    html = study_report.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert _figure_ids(html) == STUDY_FIGURES
    assert "4 trials, 3 ok, 1 failed; axes: device.n_mtj, device.read_noise" in html
    # the failed trial and its error (escaped), the results table with every trial, study.toml verbatim
    assert "ValueError: --synapse: got &#x27;compound:0&#x27; &lt;expected 1..256&gt;" in html
    table = html[html.index("<h2>Results</h2>"):html.index("<h3>Failed trials</h3>")]
    assert table.count("<tr>") == 5 and "cache/export/" + KEY in table
    assert "&quot;device.read_noise&quot; = [0.0, 0.05]" in html
    assert "other axes are marginalised" in html
    assert 'class="missing"' not in html  # the best trial (1) has every piece


def test_study_report_renders_in_headless_chromium(study_report, tmp_path):
    """Every <img> of the page decodes in a real browser (the page's own script counts them on load), and a
    screenshot of the page is not blank."""
    page = study_report
    n_img = len(IMG.findall(page.read_text(encoding="utf-8")))
    dom = chromium(page, tmp_path, "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-images-total="{n_img}"' in body and f'data-images-loaded="{n_img}"' in body
    assert 'data-images-ok="true"' in body and n_img == len(STUDY_FIGURES)
    shot = tmp_path / "report.png"
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    import matplotlib.image

    px = matplotlib.image.imread(shot)[..., :3]  # (H, W, 3) floats in [0, 1]
    assert px.shape[:2] == (2400, 1280)
    assert (px.min(axis=2) < 0.9).mean() > 0.02  # text and figures cover part of the page (blank: 0)
    rgb = (px * 255).astype(np.uint32)
    assert np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]).size > 100  # figures, not flat colour


def test_a_broken_image_is_reported_by_the_page(tmp_path):
    """The page's script really checks decoding: a PNG signature followed by garbage is counted as not loaded."""
    from spinsyn.report.html import PNG_SIGNATURE, Page

    page = Page("broken")
    page.figure("good", _tiny_png(), alt="a small red square")
    page.figure("bad", PNG_SIGNATURE + b"not an image", alt="a broken image")
    path = tmp_path / "broken.html"
    path.write_text(page.render(), encoding="utf-8")
    body = re.search(r"<body([^>]*)>", chromium(path, tmp_path, "--dump-dom")).group(1)
    assert 'data-images-total="2"' in body and 'data-images-loaded="1"' in body and 'data-images-ok="false"' in body


def _tiny_png() -> bytes:
    from matplotlib.figure import Figure
    from spinsyn.report.figures import png_bytes

    fig = Figure(figsize=(1, 1))
    fig.patch.set_facecolor("red")
    return png_bytes(fig)


def test_missing_pieces_are_stated_not_crashed_on(study_dir, tmp_path):
    """Best trial without a sweep (published rule) and with a chip folder that is gone: the page says so."""
    d = tmp_path / "study"
    shutil.copytree(study_dir, d, ignore=shutil.ignore_patterns("report.html"))
    rows = study_rows(0.5)
    rows[1].update(sweep_dir="", chip_dir="cache/export/gone")
    write_results(d / "results.csv", rows)
    html = write_study_report(d).read_text(encoding="utf-8")
    assert "device curve: no sweep for this run" in html
    assert "conductance map: " + str(d / "cache/export/gone") + " not found" in html
    assert "no sweep to compare with" in html  # the fit is still drawn, alone
    assert {"best-1-fit", "best-1-receptive-fields"} <= _figure_ids(html)
    assert not {"best-1-device-curve", "best-1-conductance-map"} & _figure_ids(html)


def test_study_with_no_ok_trial_still_gets_a_page(tmp_path):
    d = tmp_path / "study"
    d.mkdir()
    write_results(d / "results.csv", [study_rows(0.5)[3]])
    html = write_study_report(d).read_text(encoding="utf-8")
    assert "no ok trial with an accuracy" in html and "no ok trial has both values" in html
    assert "<img" not in html


@pytest.mark.parametrize("edit,match", [
    (lambda h, rows: (h[:2] + h[3:], rows), "header must start with trial,status,error"),
    (lambda h, rows: ([c for c in h if c != "chip_dir"], rows), "missing column(s) chip_dir"),
    (lambda h, rows: (h, [r[:-1] for r in rows]), f"line 2 has {len(HEADER) - 1} cells, the header {len(HEADER)}"),
    (lambda h, rows: (h, [["0", "done", *r[2:]] for r in rows]), "line 2: status 'done' is not one of"),
])
def test_malformed_results_csv_is_refused_naming_the_file(tmp_path, edit, match):
    d = tmp_path / "study"
    d.mkdir()
    header, rows = edit(list(HEADER), [["0", "ok", *[""] * (len(HEADER) - 2)]])
    (d / "results.csv").write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    with pytest.raises(ValueError, match=re.escape(match)) as info:
        write_study_report(d)
    assert str(d / "results.csv") in str(info.value) and not (d / "report.html").exists()


def test_not_a_study_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^study_dir: .*directory not found"):
        write_study_report(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"^results.csv: .*file not found"):
        write_study_report(tmp_path)


def test_pipeline_report_from_a_pipeline_folder(study_dir, tmp_path):
    """A pipeline --out layout (sweep.h5, rule.json, run/, chip/, simulate.json) gives the four pieces and the
    accuracy summary, and renders in Chromium; an empty folder gives a page that says what is missing."""
    out = tmp_path / "demo"
    out.mkdir()
    c = study_dir / "cache"
    shutil.copy(c / "sweep" / KEY / "sweep.h5", out)
    shutil.copy(c / "fit" / KEY / "rule.json", out)
    shutil.copy(c / "simulate" / KEY / "simulate.json", out)
    shutil.copytree(c / "train" / KEY / "run", out / "run")
    shutil.copytree(c / "export" / KEY / "chip", out / "chip")
    html = write_pipeline_report(out).read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert _figure_ids(html) == {"pipeline-device-curve", "pipeline-fit", "pipeline-receptive-fields",
                                 "pipeline-conductance-map"}
    assert "programmed" in html and "compound:4 synapses, 100 test images" in html
    body = re.search(r"<body([^>]*)>", chromium(out / "report.html", tmp_path, "--dump-dom")).group(1)
    assert 'data-images-total="4"' in body and 'data-images-ok="true"' in body
    empty = tmp_path / "empty"
    empty.mkdir()
    html = write_pipeline_report(empty).read_text(encoding="utf-8")
    assert html.count('class="missing"') == 5 and "<img" not in html


def test_pareto_mask():
    from spinsyn.report.figures import pareto_mask

    x = np.array([1.0, 2.0, 2.0, 3.0, 0.5, 1.0])
    acc = np.array([0.5, 0.7, 0.6, 0.7, 0.3, 0.5])
    # (2, 0.6) is beaten by (2, 0.7); (3, 0.7) by (2, 0.7); equal points (1, 0.5) both stay on the front
    assert pareto_mask(x, acc).tolist() == [True, True, False, False, True, True]


def test_effect_plot_of_a_categorical_axis():
    from spinsyn.report.figures import Points, effect_figure

    acc = np.array([0.5, 0.6, 0.7])
    png = effect_figure("synapse", ["dw:16", "compound:8", "dw:16"], Points(np.zeros(3), acc, acc - 0.1, acc + 0.1,
                                                                            ["0", "1", "2"]))
    assert png.startswith(b"\x89PNG") and len(png) > 2000
