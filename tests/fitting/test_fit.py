"""Fits: recovery of the published rule, interval coverage, identifiability flags, auto model choice."""

import numpy as np
import pytest
from spinsyn.fitting import PUBLISHED_PARAMS as P
from spinsyn.fitting import published_rule
from spinsyn.fitting.fit import fit, fit_auto, fit_family
from spinsyn.fitting.inputs import FitData


def _data(x, y, normalised=True, sigma=None):
    n = np.ones(x.size, int)
    return FitData(x, y, np.full_like(x, np.nan), n, sigma, "1", normalised, x, y, "synthetic.csv", "", "csv")


def _published_noisy(seed, sigma=0.02):
    x = np.arange(0.0, 61.0)
    return _data(x, published_rule()(x) + np.random.default_rng(seed).normal(0, sigma, x.size))


@pytest.mark.parametrize("seed", range(6))
def test_recovers_published_parameters(seed):
    rule = fit_family(_published_noisy(seed), "bisigmoid").rule
    for k, tol in (("t0", 0.01), ("t1", 0.01), ("k0", 0.10), ("k1", 0.10)):
        pi = rule.params[k]
        assert pi.identifiable
        assert abs(pi.value / P[k] - 1) < tol, (k, pi.value)
        assert 0.0003 < pi.stderr / P[k] < 0.06  # ~3-4 % for k, well below 1 % for t
    assert rule.params["A"].identifiable is False and rule.params["A"].value is None
    assert "cancels" in rule.params["A"].note
    assert rule.metrics["r2"] > 0.99 and abs(rule.metrics["rmse"] - 0.02) < 0.006


def test_t_intervals_cover_true_values():
    hits = {k: 0 for k in ("k0", "t0", "k1", "t1")}
    n = 40
    for seed in range(100, 100 + n):
        rule = fit_family(_published_noisy(seed), "bisigmoid").rule
        for k in hits:
            lo, hi = rule.params[k].ci95
            hits[k] += lo <= P[k] <= hi
    cover = {k: v / n for k, v in hits.items()}
    assert all(c >= 0.85 for c in cover.values()), cover  # nominal 0.95, binomial sd ~0.035


def test_bootstrap_interval_brackets_estimate():
    rule = fit_family(_published_noisy(7), "bisigmoid", bootstrap=40, seed=1).rule
    for k in ("t0", "t1"):
        lo, hi = rule.params[k].ci95_bootstrap
        assert lo < rule.params[k].value < hi and hi - lo < 1.0


def test_transition_outside_range_is_flagged():
    x = np.arange(0.0, 36.0)  # second transition (t1 ≈ 49 ms) never sampled
    d = _data(x, published_rule()(x) + np.random.default_rng(0).normal(0, 0.01, x.size))
    rule = fit_family(d, "bisigmoid").rule
    assert rule.params["t0"].identifiable and abs(rule.params["t0"].value - P["t0"]) < 0.5
    assert not rule.params["t1"].identifiable and not rule.params["k1"].identifiable
    assert rule.params["t1"].stderr is None and rule.params["t1"].ci95 is None


def test_raw_amplitude_is_fitted_in_siemens():
    x = np.arange(0.0, 61.0)
    y = 3e-6 * published_rule()(x) + np.random.default_rng(2).normal(0, 3e-8, x.size)
    d = FitData(x, y, np.full_like(x, np.nan), np.ones(x.size, int), None, "S", False, x, y, "raw.csv", "", "csv")
    rule = fit_family(d, "bisigmoid").rule
    assert rule.params["A"].identifiable and rule.params["A"].unit == "S"
    assert abs(rule.params["A"].value / 3e-6 - 1) < 0.02


def test_auto_prefers_bisigmoid_on_bisigmoid_data():
    for seed in range(3):
        res, reason = fit(_published_noisy(seed), "auto")
        assert res.rule.model == "bisigmoid" and "BIC" in reason


@pytest.mark.parametrize("two_sided", [pytest.param(True, marks=pytest.mark.slow), False])  # two-sided: 30 s
def test_auto_prefers_exp_stdp_on_exponential_window(two_sided):
    x = np.arange(-60.0, 61.0) if two_sided else np.arange(0.0, 61.0)
    for seed in range(2):
        y = np.where(x >= 0, np.exp(-x / 15.0), -0.6 * np.exp(x / 25.0))
        y = y + np.random.default_rng(seed).normal(0, 0.02, x.size)
        best, reason, fits = fit_auto(_data(x, y))
        assert best.rule.model == "exp-stdp", reason
        assert abs(best.rule.params["tau_plus_ms"].value / 15.0 - 1) < 0.1
        if not two_sided:
            assert not best.rule.params["a_minus"].identifiable


def test_too_few_points_rejected():
    x = np.array([0.0, 20.0, 40.0, 60.0])
    with pytest.raises(ValueError, match="need more points than parameters"):
        fit_family(_data(x, published_rule()(x)), "bisigmoid")


def test_sigmoid_labels_ordered_t0_before_t1():
    from spinsyn.fitting.rules import BiSigmoid

    d = _published_noisy(0)
    swapped = [{**g, "t0": g["t1"], "t1": g["t0"], "k0": g["k1"], "k1": g["k0"]}
               for g in BiSigmoid.guesses(d.dt_ms, d.y_mean)]
    from unittest import mock

    with mock.patch.object(BiSigmoid, "guesses", classmethod(lambda cls, x, y: swapped)):
        r = fit_family(d, "bisigmoid").rule
    assert r.params["t0"].value < r.params["t1"].value
    assert abs(r.params["t0"].value - P["t0"]) < 0.3
