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
