"""benchmarks/conv_accuracy.py --from-stage: R-STDP variants from one conv 1-2 stage (issue 27)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from spinsyn.snn.conv import load_conv

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "conv_accuracy.py"
SMALL = {"f1": 4, "f2": 12, "f3": 20, "kwta2": 4, "lr_double_every": 50, "adapt_every": 30}
COMMON = ["--n-train", "60", "--n-test", "30", "--test-every", "1", "--seed", "2"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("conv_accuracy", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _passes(out: Path) -> list[tuple[int, float]]:
    curve = json.loads((out / "curve.json").read_text())["curve"]
    return [(r["pass"], r["test_accuracy"]) for r in curve if "test_accuracy" in r]


def test_from_stage_equals_a_run_made_with_the_variant(bench, tmp_path, capsys):
    variant = json.dumps({**SMALL, "rstdp_dropout": 0.5, "rstdp_dropout_every": 7})
    stage, forked, direct = tmp_path / "stage", tmp_path / "forked", tmp_path / "direct"
    assert bench.main([*COMMON, "--conv-epochs", "1,1,0", "--conv-config", json.dumps(SMALL),
                       "--out", str(stage)]) == 0
    assert bench.main([*COMMON, "--conv-epochs", "1,1,2", "--conv-config", variant, "--from-stage", str(stage),
                       "--out", str(forked)]) == 0
    assert bench.main([*COMMON, "--conv-epochs", "1,1,2", "--conv-config", variant, "--out", str(direct)]) == 0
    assert [p for p, _ in _passes(forked)] == [0, 1, 2] and _passes(forked)[1:] == _passes(direct)
    a, b = load_conv(forked / "run" / "conv.npz"), load_conv(direct / "run" / "conv.npz")
    assert a.config.rstdp_dropout == 0.5 and a.config == b.config
    for wa, wb in zip(a.w, b.w):
        np.testing.assert_array_equal(wa, wb)
    assert load_conv(stage / "run" / "conv.npz").config.rstdp_dropout == 0.0  # the stage is read, not changed
    capsys.readouterr()
    # refused before any work (exit 2): a non-R-STDP field, an existing --out, a stage with R-STDP passes
    for argv, msg in ((["--conv-config", json.dumps({**SMALL, "f3": 30}), "--out", str(tmp_path / "x")], "f3"),
                      (["--conv-config", variant, "--out", str(forked)], "exists"),
                      (["--conv-config", variant, "--from-stage", str(forked), "--out", str(tmp_path / "y")],
                       "R-STDP passes")):
        src = [] if "--from-stage" in argv else ["--from-stage", str(stage)]
        with pytest.raises(SystemExit) as e:
            bench.main([*COMMON, "--conv-epochs", "1,1,2", *src, *argv])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


WIDE = Path(__file__).resolve().parents[2] / "benchmarks" / "conv_wide_decision.py"


def test_wide_decision_stage_resumes_with_its_printed_config(bench, tmp_path, capsys):
    """benchmarks/conv_wide_decision.py: a pass-0 stage with the decision layer redrawn wider; conv 1-2 kept, the
    R-STDP random stream kept, and conv_accuracy.py --resume continues it; bad arguments exit 2 before any work."""
    spec = importlib.util.spec_from_file_location("conv_wide_decision", WIDE)
    wide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wide)
    stage, out = tmp_path / "stage", tmp_path / "wide"
    assert bench.main([*COMMON, "--conv-epochs", "1,1,0", "--conv-config", json.dumps(SMALL),
                       "--out", str(stage)]) == 0
    for args, what in ([str(stage), "--f3", "25", "--out", str(out)], "--f3"),\
                      ([str(stage), "--f3", "40", "--out", str(stage)], "--out"),\
                      ([str(stage), "--f3", "40", "--init-seed", "-1", "--out", str(out)], "--init-seed"),\
                      ([str(tmp_path), "--f3", "40", "--out", str(out)], str(tmp_path)):
        with pytest.raises(SystemExit) as e:
            wide.main(args)
        assert e.value.code == 2 and f"spinsyn: error: {what}:" in capsys.readouterr().err
    assert not out.exists()
    assert wide.main([str(stage), "--f3", "40", "--out", str(out)]) == 0
    cc = json.dumps({**SMALL, "f3": 40})
    assert cc in capsys.readouterr().out
    a, b = load_conv(stage / "run" / "conv.npz"), load_conv(out / "run" / "conv.npz")
    assert b.layers[2].w.shape[0] == 40 and b.config.f3 == 40
    for li in (0, 1):
        np.testing.assert_array_equal(a.layers[li].w, b.layers[li].w)
    assert b.history["rstdp_state"] == a.history["rstdp_state"]
    assert bench.main([*COMMON, "--conv-epochs", "1,1,2", "--conv-config", cc, "--resume", "--out", str(out)]) == 0
    assert [p for p, _ in _passes(out)] == [1, 2] and load_conv(out / "run" / "conv.npz").config.f3 == 40
