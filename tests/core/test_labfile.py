"""spinsyn.labfile: the tolerant lab-table reader (units from headers, delimiters, comments, dropped rows,
column mapping, extra columns, %, errors naming the file)."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.labfile import Column, parse_mapping, parse_unit, read_table

DT = Column("dt_ms", "ms", ("dt", "delay"))
DG = Column("dg_S", "S", ("dG", "delta_g"))
V = Column("v_V", "V", ("V_pulse", "v"), required=False)
R = Column("r_ohm", "ohm", ("R",), required=False)
DIR = Column("direction", None, ("dir",), required=False)


def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("unit,dim,factor", [
    ("us", "s", 1e-6), ("µs", "s", 1e-6), ("ms", "s", 1e-3), ("uS", "S", 1e-6), ("mS", "S", 1e-3),
    ("kOhm", "ohm", 1e3), ("kΩ", "ohm", 1e3), ("MΩ", "ohm", 1e6), ("mV", "V", 1e-3), ("h", "s", 3600.0),
    ("min", "s", 60.0), ("nA", "A", 1e-9), ("%", "%", 1.0),
])
def test_units(unit, dim, factor):
    got = parse_unit(unit)
    assert got is not None and got[0] == dim and got[1] == pytest.approx(factor)


def test_unknown_unit_is_none():
    assert parse_unit("furlong") is None and parse_unit("xs") is None


@pytest.mark.parametrize("header", ["dt (us),dG (uS)", "dt [us],dG [uS]", "dt_us,dG_uS", "Delay (µs),delta_g (uS)"])
def test_header_unit_forms_convert(tmp_path, header):
    p = _write(tmp_path, f"{header}\n1000,2\n2000,4\n")
    t = read_table(p, [DT, DG])
    np.testing.assert_allclose(t.columns["dt_ms"], [1.0, 2.0])
    np.testing.assert_allclose(t.columns["dg_S"], [2e-6, 4e-6])
    assert t.n_rows == 2 and t.n_dropped == 0 and len(t.sha256) == 64


@pytest.mark.parametrize("sep", [",", ";", "\t", "   "])
def test_delimiters_sniffed(tmp_path, sep):
    p = _write(tmp_path, sep.join(["dt_ms", "dG_uS"]) + "\n" + "\n".join(sep.join([str(i), str(2 * i)])
                                                                           for i in range(4)) + "\n")
    t = read_table(p, [DT, DG])
    np.testing.assert_allclose(t.columns["dt_ms"], [0, 1, 2, 3])
    np.testing.assert_allclose(t.columns["dg_S"], [0, 2e-6, 4e-6, 6e-6])


def test_semicolon_with_decimal_comma(tmp_path):
    p = _write(tmp_path, "dt (ms);dG (uS)\n1,5;2,25\n3;4\n")
    t = read_table(p, [DT, DG])
    np.testing.assert_allclose(t.columns["dt_ms"], [1.5, 3.0])
    np.testing.assert_allclose(t.columns["dg_S"], [2.25e-6, 4e-6])


def test_comments_nan_rows_counted_and_strict(tmp_path):
    p = _write(tmp_path, "# set-up B\n# operator: X\ndt (ms),dG (uS)  # header comment\n0,1\n1,NaN\n2,\n"
                         "3,abc\n4,5 # trailing comment\n,\n5,6\n")
    t = read_table(p, [DT, DG])
    np.testing.assert_allclose(t.columns["dt_ms"], [0, 4, 5])
    assert t.n_dropped == 4 and t.n_rows == 3
    dropped = [n for n in t.notes if n.startswith("dropped 4 row")]
    assert dropped and "5, 6, 7, 9" in dropped[0] and "NaN" in dropped[0]
    with pytest.raises(ValueError, match=r"^.*t\.csv: 4 row\(s\).*--strict-rows") as ei:
        read_table(p, [DT, DG], strict_rows=True)
    assert str(ei.value).startswith(str(p))


def test_extra_columns_one_note_naming_them(tmp_path):
    p = _write(tmp_path, "dt (ms),operator,dG (uS),temp (K)\n0,AB,1,300\n1,CD,2,301\n")
    t = read_table(p, [DT, DG])
    extra = [n for n in t.notes if "ignored" in n]
    assert len(extra) == 1 and "'operator'" in extra[0] and "'temp (K)'" in extra[0]


def test_no_unit_takes_canonical_with_note(tmp_path):
    p = _write(tmp_path, "delay,dG (uS)\n0,1\n1,2\n")
    t = read_table(p, [DT, DG])
    np.testing.assert_allclose(t.columns["dt_ms"], [0, 1])
    assert any("'delay' has no unit; taken as ms" in n for n in t.notes)


def test_percent_kept_and_reported(tmp_path):
    p = _write(tmp_path, "dt (ms),dG (%)\n0,10\n1,-5\n")
    t = read_table(p, [DT, DG])
    assert t.units["dg_S"] == "%"
    np.testing.assert_allclose(t.columns["dg_S"], [10, -5])


def test_mapping_and_parse_mapping(tmp_path):
    assert parse_mapping("dt_ms='delay (us)',dg_S=dG") == {"dt_ms": "delay (us)", "dg_S": "dG"}
    assert parse_mapping('dt_ms="a, b (ms)"') == {"dt_ms": "a, b (ms)"}
    for bad in ("dt_ms", "=x", "dt_ms='x", "a=1,a=2", ""):
        with pytest.raises(ValueError, match="--columns"):
            parse_mapping(bad)
    p = _write(tmp_path, "t1 (us);t2 (ms);cond (mS)\n1000;5;1\n2000;6;2\n")
    t = read_table(p, [DT, DG], mapping={"dt_ms": "t1 (us)", "dg_S": "cond"})
    np.testing.assert_allclose(t.columns["dt_ms"], [1.0, 2.0])
    np.testing.assert_allclose(t.columns["dg_S"], [1e-3, 2e-3])
    with pytest.raises(ValueError, match="t.csv: --columns dt_ms='nope': no header matches"):
        read_table(p, [DT, DG], mapping={"dt_ms": "nope"})
    with pytest.raises(ValueError, match="--columns names \\['bogus'\\]"):
        read_table(p, [DT, DG], mapping={"bogus": "t1"})


def test_text_columns_and_other_units(tmp_path):
    p = _write(tmp_path, "dir\tV_pulse (mV)\tR (kΩ)\tdt (s)\tdG (nS)\n AP->P \t500\t2.5\t0.001\t3\n")
    t = read_table(p, [DT, DG, V, R, DIR])
    assert t.columns["direction"].tolist() == ["AP->P"]
    assert t.columns["v_V"][0] == pytest.approx(0.5) and t.columns["r_ohm"][0] == pytest.approx(2500.0)
    assert t.columns["dt_ms"][0] == pytest.approx(1.0) and t.columns["dg_S"][0] == pytest.approx(3e-9)


@pytest.mark.parametrize("text,match", [
    ("dt (ms),dG (uS),dt_us\n0,1,0\n", "both match dt_ms"),
    ("time (ms),dG (uS)\n0,1\n", "no column for dt_ms"),
    ("dt (ms),dG (s)\n0,1\n", "'dG \\(s\\)' is in 's' \\(a time\\), but dg_S needs a conductance"),
    ("dt (V),dG (uS)\n0,1\n", "needs a time"),
    ("dt (furlong),dG (uS)\n0,1\n", "unknown unit 'furlong'"),
    ("dt (ms),dG (uS)\n", "header only"),
    ("# only comments\n", "no header"),
    ("dt (ms),dG (uS)\nx,y\n", "no usable data rows"),
])
def test_errors_name_the_file(tmp_path, text, match):
    p = _write(tmp_path, text, "lab file.csv")
    with pytest.raises(ValueError, match=match) as ei:
        read_table(p, [DT, DG])
    assert str(ei.value).startswith(f"{p}: ")


def test_missing_file_binary_and_budget(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="nope.csv: file not found"):
        read_table(tmp_path / "nope.csv", [DT])
    b = tmp_path / "b.csv"
    b.write_bytes(b"\xff\xfe\x00d\x00t")
    with pytest.raises(ValueError, match="b.csv: not a UTF-8 text table"):
        read_table(b, [DT])
    big = _write(tmp_path, "dt (ms)\n" + "1\n" * 200_000, "big.csv")
    monkeypatch.setenv("SPINSYN_READ_LIMIT_MB", "1")
    with pytest.raises(ValueError, match="big.csv: .*read budget"):
        read_table(big, [DT])


def test_windows_1252_fallback(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes("dt (µs);dG (uS)\n1000;1\n".encode("cp1252"))
    t = read_table(p, [DT, DG])
    assert t.columns["dt_ms"][0] == pytest.approx(1.0) and any("Windows-1252" in n for n in t.notes)
