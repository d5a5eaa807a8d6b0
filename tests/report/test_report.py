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
#: figures of the study fixture: 2 Pareto plots (energy; devices per synapse: the programming time orders the trials
#: as the devices do and is not drawn), 2 effect plots (one per axis), 4 best-trial pieces
STUDY_FIGURES = {"pareto-energy-pj-per-synapse", "pareto-devices-per-synapse", "effect-device-n-mtj",
                 "effect-device-read-noise", "best-1-device-curve", "best-1-fit", "best-1-receptive-fields",
                 "best-1-conductance-map", "best-1-ageing"}


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
    compact, full = table.split("<details>")
    # a compact table that fits the page (axes with units, accuracy with its interval; no paths), and every column
    # of results.csv folded under <details>
    assert compact.count("<tr>") == 5 and "cache/" not in compact and "wall_s" not in compact
    assert "<th>MTJs per synapse</th><th>read noise (σ/G)</th><th>accuracy (%) [95 % CI]</th>" in compact
    assert "10.1 y" in compact  # retention 3.2e8 s as a duration
    assert full.count("<tr>") == 5 and "cache/export/" + KEY in full and "<th>wall_s</th>" in full
    # design and condition axes; one front per read-noise value; a cost ordering the trials as another is not redrawn
    assert "Design axes (choices): MTJs per synapse; condition axes (what the chip meets): read noise (σ/G)" in html
    assert "one per value of read noise (σ/G)" in html
    assert "Not drawn again: programming time (ns per synapse) orders the trials as devices per synapse" in html
    assert 'data-axes="programming energy (pJ per synapse) | accuracy (%)"' in html
    _assert_retention_box(study_dir, html)


def _assert_retention_box(study_dir: Path, html: str) -> None:
    """The best trial's retention is the chip's, with its unit; a warning box exactly when the chip forgets."""
    from spinsyn.hw_export import load_chip
    from spinsyn.hw_export.ageing import format_duration

    rec = load_chip(study_dir / "cache" / "export" / KEY / "chip", check=False).meta["retention"]
    assert f"Retention: {format_duration(rec['retention_s'])} (zero-bias relaxation" in html
    assert ('class="warning"' in html) == bool(rec["volatile"])
    assert "&quot;device.read_noise&quot; = [0.0, 0.05]" in html
    assert "other axes are marginalised" in html
    assert 'class="missing"' not in html  # the best trial (1) has every piece


def test_study_report_renders_in_headless_chromium(study_report, tmp_path):
    """Every <img> of the page decodes in a real browser (the page's own script counts them on load), and a
    screenshot of the page is not blank."""
    page = study_report
    n_img = len(IMG.findall(page.read_text(encoding="utf-8")))
    dom = chromium(page, tmp_path, "--window-size=1024,2400", "--dump-dom")  # a laptop-width window
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-images-total="{n_img}"' in body and f'data-images-loaded="{n_img}"' in body
    assert 'data-images-ok="true"' in body and n_img == len(STUDY_FIGURES)
    # no horizontal overflow of the page, no table that needs its own scroll bar (the page's script measures them)
    assert 'data-page-overflow-px="0"' in body and 'data-tables-overflowing="0"' in body
    # the best trial's accuracy over the deployment time, with units on both of its axes
    html = page.read_text(encoding="utf-8")
    ageing = re.search(r'<figure id="best-1-ageing"><img[^>]*data-axes="([^"]+)"', html)
    assert ageing and "time after programming" in ageing.group(1) and "accuracy (%)" in ageing.group(1)
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


PIPELINE_FIGURES = {"pipeline-accuracy-t0", "pipeline-ageing", "pipeline-device-curve", "pipeline-fit",
                    "pipeline-receptive-fields", "pipeline-conductance-map"}
UNIT = re.compile(r"\((%|ms|s|µS|count|[a-z]+(, [a-z]+)*; log scale|[^)]*normalised[^)]*|[^)]*log scale[^)]*)\)")


@pytest.fixture(scope="module")
def pipeline_dir(study_dir, tmp_path_factory) -> Path:
    """A pipeline --out layout (sweep.h5, rule.json, run/, chip/) from the study fixture's real stage outputs,
    with simulate.json written as the pipeline's simulate step does (ageing at 0, 1 s, 1 h, 1 d, 1 y)."""
    from spinsyn import hw_export
    from spinsyn.fileio import write_json
    from spinsyn.pipeline import PipelineConfig

    out = tmp_path_factory.mktemp("pipeline") / "demo"
    out.mkdir()
    c = study_dir / "cache"
    shutil.copy(c / "sweep" / KEY / "sweep.h5", out)
    shutil.copy(c / "fit" / KEY / "rule.json", out)
    shutil.copytree(c / "train" / KEY / "run", out / "run")
    shutil.copytree(c / "export" / KEY / "chip", out / "chip")
    sim = hw_export.simulate_chip(out / "chip", seed=1, n_test=100, after=PipelineConfig().after)
    write_json(out / "simulate.json", sim, fmt=hw_export.SIMULATION_FORMAT, version=hw_export.SIMULATION_VERSION,
               seed=1)
    return out


def _axes_of(html: str) -> dict[str, list[str]]:
    """Figure id -> its axis labels (``data-axes`` of its image)."""
    return {fid: axes.split(" | ") for fid, axes in re.findall(r'<figure id="([^"]+)"><img [^>]*data-axes="([^"]*)"',
                                                                 html)}


def test_pipeline_report_from_a_pipeline_folder(pipeline_dir):
    """Summary in pipeline order with device and rule provenance, the t = 0 accuracy next to the accuracy over the
    deployment time, a warning for the volatile compound device, units on every axis and column."""
    out = pipeline_dir
    html = write_pipeline_report(out).read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert _figure_ids(html) == PIPELINE_FIGURES
    summary = html[html.index("<h2>Summary"):html.index("<h2>Accuracy at programming")]
    stages = re.findall(r"<tr><td>(devices|fitting|snn|hw_export)</td>", summary)
    assert stages and stages == sorted(stages, key=["devices", "fitting", "snn", "hw_export"].index)
    assert "compound model (compound:4) as recorded in rule.json" in summary
    assert "rule file rule.json (sha256 " in summary and "sweep.h5 (sha256 " in summary
    assert "1 accuracy point lost after" in summary
    # compound MTJs relax within seconds (retention ~4 s): the page must say so next to the t = 0 accuracy
    assert 'class="warning"' in html and "Volatile device." in html and "after 1s:" in html
    section = html[html.index("<h2>Accuracy at programming"):html.index("<h2>Device, rule")]
    assert section.index('id="pipeline-accuracy-t0"') < section.index('id="pipeline-ageing"')
    for label in ("1s", "1h", "1d", "1y"):
        assert f"<td>{label}</td>" in section
    axes = _axes_of(html)
    assert {"pipeline-accuracy-t0", "pipeline-ageing", "pipeline-fit", "pipeline-conductance-map"} <= set(axes)
    for fid, labels in axes.items():
        for lab in labels:
            assert UNIT.search(lab) or lab.startswith(("condition", "device row", "device column")), (fid, lab)
    assert "time after programming (s, h, d, y; log scale)" in axes["pipeline-ageing"]
    assert "flipped MTJs (%)" in axes["pipeline-ageing"]
    for head in re.findall(r"<thead><tr>(.*?)</tr></thead>", section):
        cols = re.findall(r"<th>([^<]*)</th>", head)
        assert all("(" in c or c == "time after programming" for c in cols), cols


def test_pipeline_report_renders_without_overflow(pipeline_dir, tmp_path):
    """In headless Chromium at a laptop width: every image decodes, the page is no wider than the window and no
    table needs its own horizontal scroll bar."""
    page = write_pipeline_report(pipeline_dir)
    n_img = len(IMG.findall(page.read_text(encoding="utf-8")))
    body = re.search(r"<body([^>]*)>", chromium(page, tmp_path, "--dump-dom", "--window-size=1024,800")).group(1)
    assert f'data-images-total="{n_img}"' in body and 'data-images-ok="true"' in body
    assert 'data-page-overflow-px="0"' in body and 'data-tables-overflowing="0"' in body


def test_pipeline_report_of_an_empty_folder_says_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    html = write_pipeline_report(empty).read_text(encoding="utf-8")
    # simulate.json (summary + accuracy over time) and the four pieces
    assert html.count('class="missing"') == 6 and "<img" not in html and 'class="warning"' not in html


def test_pipeline_report_without_ageing_says_how_to_get_it(pipeline_dir, tmp_path):
    """A folder from before the pipeline aged its chip: the page keeps the t = 0 figure and says how to rerun."""
    from spinsyn import hw_export
    from spinsyn.fileio import read_json, write_json

    out = tmp_path / "old"
    shutil.copytree(pipeline_dir, out, ignore=shutil.ignore_patterns("report.html"))
    sim = read_json(out / "simulate.json", fmt=hw_export.SIMULATION_FORMAT)
    sim.pop("ageing")
    sim["accuracy"] = {k: v for k, v in sim["accuracy"].items() if not k.startswith("aged@")}
    write_json(out / "simulate.json", sim, fmt=hw_export.SIMULATION_FORMAT, version=hw_export.SIMULATION_VERSION,
               seed=1)
    html = write_pipeline_report(out).read_text(encoding="utf-8")
    assert "pipeline-accuracy-t0" in _figure_ids(html) and "pipeline-ageing" not in _figure_ids(html)
    assert "has no accuracy over time" in html and "Volatile device." in html  # retention from chip/report.json


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
