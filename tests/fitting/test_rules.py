"""Rule object, families and the spinsyn-rule JSON round trip."""

import json

import numpy as np
import pytest
import torch
from spinsyn.fileio import SpinsynFileError
from spinsyn.fitting import FAMILIES, load_rule, published_rule, save_rule


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_published_rule_matches_formula_and_window():
    r = published_rule()
    x = np.linspace(0, 60, 121)
    p = {k: v.value for k, v in r.params.items()}
    a = p["A"]
    want = (a - a * _logistic(p["k0"] * (x - p["t0"])) - a * _logistic(p["k1"] * (x - p["t1"]))) / a
    np.testing.assert_allclose(r(x), want, rtol=1e-12, atol=1e-12)
    assert r.window_ms == (0.0, 60.0)
    assert abs(r(p["t0"]) - 0.5) < 2e-3 and abs(r(p["t1"]) + 0.5) < 2e-3
    assert r.params["A"].identifiable is False


def test_rule_torch_same_type_dtype_and_values():
    r = published_rule()
    x = np.linspace(-5, 70, 31)
    for dtype in (torch.float32, torch.float64):
        t = torch.tensor(x, dtype=dtype)
        out = r(t)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == t.device
        np.testing.assert_allclose(out.numpy(), r(x), rtol=1e-5, atol=1e-6)
    assert isinstance(r(torch.arange(4)), torch.Tensor)  # integer tensors promoted to float
    if torch.cuda.is_available():  # pragma: no cover - no GPU on CI
        assert r(torch.tensor(x, device="cuda")).device.type == "cuda"


def test_rule_file_round_trip_and_validation(tmp_path):
    r = published_rule()
    path = save_rule(tmp_path / "rule.json", r, seed=3)
    doc = json.loads(path.read_text())
    assert doc["format"] == "spinsyn-rule" and doc["format_version"] == 1 and doc["provenance"]["seed"] == 3
    assert doc["params"]["t0"]["unit"] == "ms" and doc["valid_dt_ms"] == [0.0, 60.0]
    r2 = load_rule(path)
    x = np.linspace(0, 60, 61)
    np.testing.assert_array_equal(r2(x), r(x))
    # tampering is caught with the file named
    doc["params"]["k0"]["value"] = "fast"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SpinsynFileError, match="bad.json.*k0"):
        load_rule(bad)
    doc["params"]["k0"]["value"] = 0.5
    doc["model"] = "banana"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SpinsynFileError, match="banana"):
        load_rule(bad)
    doc["model"] = "bisigmoid"
    doc["format_version"] = 2
    bad.write_text(json.dumps(doc))
    with pytest.raises(SpinsynFileError, match="format_version 2"):
        load_rule(bad)


def test_registry_has_the_families():
    assert {"bisigmoid", "exp-stdp", "sigmoid"} <= set(FAMILIES)
    f = FAMILIES["exp-stdp"].f
    x = np.array([-10.0, 0.0, 10.0])
    y = f(x, {"a_plus": 1.0, "tau_plus_ms": 10.0, "a_minus": 0.5, "tau_minus_ms": 20.0})
    np.testing.assert_allclose(y, [-0.5 * np.exp(-0.5), 1.0, np.exp(-1.0)])


def test_numpy_logistic_equals_scipy_expit_to_the_last_bit():
    """The rule's logistic avoids importing scipy.special (start-up time) without changing a rule beyond the last
    bit: numpy's exp and the one inside expit agree exactly on some builds and CPUs and differ by a few ulp on
    others (numpy 2.4.6 / scipy 1.17.1 here: 2,640 of 140,001 points, 3 ulp at most)."""
    from scipy.special import expit
    from spinsyn.fitting import rules

    z = np.linspace(-700.0, 700.0, 140001)
    a, b = rules._sigmoid(z), expit(z)
    assert np.all(np.abs(a - b) <= 4 * np.spacing(b))  # a few ulp (3 measured)
    deep = np.linspace(-800.0, -700.0, 10001)  # subnormal below -707: absolute, not relative, last bits
    np.testing.assert_allclose(rules._sigmoid(deep), expit(deep), rtol=1e-15, atol=1e-320)
