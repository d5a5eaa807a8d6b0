"""Column ADC at inference (spinsyn.snn.adc): exactness at high resolution, a hand-computed step, loss of accuracy at
low resolution, reproducible noise, calibration against a brute-force quantile, and validation."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from spinsyn.snn import kernels as K
from spinsyn.snn.adc import AdcModel, calibrate_full_scale
from spinsyn.snn.engine import NetState, make_engine
from spinsyn.snn.inference import image_seeds, spike_counts
from spinsyn.snn.params import NetworkParams


def _train(out, synapse: str):
    from spinsyn.cli import main

    rc = main(["train", "--synapse", synapse, "--neurons", "10", "--n-train", "100", "--n-test", "10",
               "--n-assign", "100", "--out", str(out), "--quiet"])
    assert rc == 0
    from spinsyn.snn import load_run

    return load_run(out)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """``nets(spec)`` -> a 10-neuron network trained on 100 images (a few seconds; one per spec per module)."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("adc_runs")

    def get(spec: str):
        if spec not in cache:
            cache[spec] = _train(root / spec.replace(":", "_"), spec)
        return cache[spec]

    return get


@pytest.fixture(scope="module")
def mnist():
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("test", None, n=200)
    Xc, _ = load_mnist("train", None, n=50)
    return X, y, Xc


def _counts(net, X, adc=None, w=None):
    ns = NetState(np.ascontiguousarray(net.w, np.float64), np.zeros((1, 1), np.int32), np.ones((1, 1)),
                  np.ones((1, 1)), np.asarray(net.theta, np.float64))
    eng = make_engine("numba", ns, net.params, net.compiled, net.synapse, 0.0, True, "cpu")
    return spike_counts(eng, X, net.params, 7, w, adc=adc)


# ------------------------------------------------------------------------------------------------ (1) exactness
def test_sixteen_bits_on_the_weight_lattice_give_the_exact_counts(nets, mnist):
    """quantized:9 weights are multiples of 1/8; with lsb = 1/1024 every partial sum is a code (no rounding, no
    clipping up to 64 rows), so the ADC's input equals the exact sum bit for bit and so do the spike counts."""
    net = nets("quantized:9")
    X = mnist[0][:100]
    assert np.array_equal(net.w * 8, np.round(net.w * 8))
    adc = AdcModel(rows=32, bits=16, full_scale=65535 / 1024)
    assert adc.lsb == 1 / 1024
    plain = _counts(net, X)
    assert plain.sum() > 0
    np.testing.assert_array_equal(_counts(net, X, adc), plain)
    # and through evaluate(): the same predictions
    from spinsyn.snn import evaluate

    a = evaluate(net, X, mnist[1][:100], device="cpu", per_image=True)
    b = evaluate(net, X, mnist[1][:100], device="cpu", per_image=True, adc=adc)
    np.testing.assert_array_equal(a["correct_all_activity"], b["correct_all_activity"])


def test_sixteen_bits_large_full_scale_keep_ideal_weights_counts(nets, mnist):
    """Continuous weights: a 16-bit ADC over the largest possible partial sum rounds each block by ≤ lsb/2
    (~1e-4 mV): the counts stay those of the exact sum (at most a rare threshold tie could differ)."""
    net = nets("ideal")
    X = mnist[0][:100]
    adc = AdcModel(rows=128, bits=16, full_scale=8.0)
    plain, q = _counts(net, X), _counts(net, X, adc)
    assert plain.sum() > 0
    assert np.abs(q - plain).sum() <= 0.01 * plain.sum()


# ------------------------------------------------------------------------------------------------ (2) by hand
def test_one_step_by_hand():
    """Inputs 0, 1 (block 0) and 5 (block 1) spike; rows 4, 3 bits, full scale 0.7 -> lsb 0.1, top code 7."""
    w = np.zeros((784, 3))
    w[0] = [0.30, 0.90, 0.02]
    w[1] = [0.26, 0.90, 0.02]
    w[5] = [0.50, 0.00, 0.00]
    w[9] = [9.00, 9.00, 9.00]  # does not spike: never read
    adc = AdcModel(rows=4, bits=3, full_scale=0.7)
    rows, lsb, top, noise, off, _ = adc.kernel_args(3, np.zeros(1, np.uint32))
    idx = np.array([0, 1, 5], np.int32)
    I_in = np.zeros(3)
    K.adc_input(idx, 0, 3, w, rows, lsb, top, noise, off, I_in, np.zeros(3), np.zeros(1, np.uint64))
    # neuron 0: block 0 p = 0.56 -> code round(5.6) = 6; block 1 p = 0.5 -> 5: (6 + 5)·0.1
    # neuron 1: block 0 p = 1.8 -> 18 clipped to 7; block 1 p = 0 -> 0: 0.7
    # neuron 2: block 0 p = 0.04 -> round(0.4) = 0: 0 (the exact sum is 0.04)
    np.testing.assert_allclose(I_in, [1.1, 0.7, 0.0], rtol=0, atol=1e-12)
    # a static offset of +0.6 LSB on (block 0, neuron 2) lifts its code to 1; same input otherwise
    off2 = off.copy()
    off2[0, 2] = 0.6
    I2 = np.zeros(3)
    K.adc_input(idx, 0, 3, w, rows, lsb, top, noise, off2, I2, np.zeros(3), np.zeros(1, np.uint64))
    np.testing.assert_allclose(I2, [1.1, 0.7, 0.1], rtol=0, atol=1e-12)


def test_clipped_input_misses_the_spike_the_exact_sum_fires():
    """One neuron, one input spike at t = 0 with w = (threshold − rest) + 0.4 mV: the exact input fires at t = 1;
    an ADC whose full scale is below it clips the input and the neuron stays silent."""
    params = NetworkParams(n_neurons=1)
    P = params.packed()
    gap = params.exc.v_thresh_mV - params.exc.v_rest_mV
    w = np.zeros((784, 1))
    w[3, 0] = gap + 0.4
    idx, ptr = np.array([3], np.int32), np.array([0, 1, 1, 1, 1], np.int32)

    def run(*adc):
        counts, sp = np.zeros(1, np.int64), np.zeros(1, np.int64)
        K.simulate_image(idx, ptr, 4, w, np.zeros(1), P, False, 0, np.zeros(1), 0.0, 0.0, 1.0, 0.0, 0.0,
                         np.zeros((1, 1)), counts, sp, *(adc or K.NO_ADC_IMAGE))
        return int(counts[0])

    assert run() == 1
    fine = (*AdcModel(rows=16, bits=8, full_scale=255 * 0.1).kernel_args(1, np.zeros(1, np.uint32))[:5], 0)
    assert run(*fine) == 1  # lsb 0.1 mV: gap + 0.4 is a code
    clipped = (*AdcModel(rows=16, bits=4, full_scale=gap - 1.0).kernel_args(1, np.zeros(1, np.uint32))[:5], 0)
    assert run(*clipped) == 0


# ------------------------------------------------------------------------------------------------ (3) bits
def test_fewer_bits_lose_accuracy(nets, mnist):
    from spinsyn.snn import evaluate

    net = nets("ideal")
    X, y, Xc = mnist
    plain = evaluate(net, X, y, device="cpu")["accuracy_all_activity"]
    acc, dev = {}, {}
    exact = _counts(net, X)
    for bits in (2, 12):
        adc = AdcModel.calibrated(net.w, Xc, net.params, rows=128, bits=bits)
        acc[bits] = evaluate(net, X, y, device="cpu", adc=adc)["accuracy_all_activity"]
        dev[bits] = np.abs(_counts(net, X, adc) - exact).mean()
    starved = evaluate(net, X, y, device="cpu", adc=AdcModel(rows=128, bits=1, full_scale=1e-3))
    assert plain > 0.3  # the network learned something
    assert abs(acc[12] - plain) <= 0.03
    assert starved["accuracy_all_activity"] < acc[12] - 0.1
    assert dev[2] > 2 * dev[12]  # counts move further from the exact ones with fewer bits


# ------------------------------------------------------------------------------------------------ (4) noise
def test_noise_and_offsets_are_reproducible(nets, mnist):
    net = nets("ideal")
    X = mnist[0][:60]
    adc = AdcModel(rows=64, bits=4, full_scale=1.5, offset_lsb_sigma=0.5, noise_lsb_sigma=1.0, seed=3)
    a, b = _counts(net, X, adc), _counts(net, X, adc)
    np.testing.assert_array_equal(a, b)
    other = _counts(net, X, AdcModel(rows=64, bits=4, full_scale=1.5, offset_lsb_sigma=0.5, noise_lsb_sigma=1.0,
                                     seed=4))
    assert not np.array_equal(a, other)
    quiet = AdcModel(rows=64, bits=4, full_scale=1.5)
    np.testing.assert_array_equal(_counts(net, X, quiet), _counts(net, X, quiet))
    assert not np.array_equal(a, _counts(net, X, quiet))
    np.testing.assert_array_equal(adc.offsets_lsb(10), adc.offsets_lsb(10))
    assert adc.offsets_lsb(10).shape == (13, 10) and np.all(quiet.offsets_lsb(10) == 0)
    s = image_seeds(1, 2, np.arange(5))
    assert len(set(adc.noise_seeds(s).tolist())) == 5 and not np.array_equal(adc.noise_seeds(s), s)


def test_adc_acts_on_read_noisy_weights(tmp_path, mnist):
    """With compound read noise the ADC digitises each chunk's noisy weights; still reproducible."""
    from spinsyn.snn import evaluate

    net = _train(tmp_path / "c", "compound:8")
    X, y, _ = mnist
    from spinsyn.snn import with_read_noise

    noisy = with_read_noise(net, 0.05)
    adc = AdcModel(rows=128, bits=3, full_scale=2.0, noise_lsb_sigma=0.5)
    r1 = evaluate(noisy, X[:50], y[:50], device="cpu", adc=adc, apply_read_noise=True, per_image=True)
    r2 = evaluate(noisy, X[:50], y[:50], device="cpu", adc=adc, apply_read_noise=True, per_image=True)
    np.testing.assert_array_equal(r1["correct_proportion"], r2["correct_proportion"])


@njit(cache=True)
def _normals(n, seed):
    st = np.full(1, np.uint64(seed))
    out = np.empty(n)
    for i in range(n):
        out[i] = K.rng_normal(st)
    return out


def test_conversion_noise_is_standard_normal():
    """The ziggurat draws of the conversion noise: N(0, 1) by moments, tails and a Kolmogorov-Smirnov test."""
    from scipy import stats

    x = _normals(400_000, 11)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1.0) < 0.01 and abs(stats.kurtosis(x)) < 0.05
    assert stats.kstest(x, "norm").pvalue > 1e-3
    assert 0.5 < (np.abs(x) > 3.0).mean() / (2 * stats.norm.sf(3.0)) < 1.5  # the tail beyond the ziggurat's r
    assert (np.abs(x) > 3.6).any()
    np.testing.assert_array_equal(_normals(100, 11), x[:100])


# ------------------------------------------------------------------------------------------------ calibration
@njit(cache=True)
def _trains(p, seed, T):
    np.random.seed(seed)
    return K.poisson_trains(p, T)


def test_calibration_matches_a_brute_force_quantile():
    rng = np.random.default_rng(5)
    w = rng.random((784, 4)) * 0.5
    p = rng.random((6, 784)) * 0.05
    T, rows = 40, 100
    sums = []
    for k, s in enumerate(image_seeds(0, 3 * 10**6, np.arange(6))):
        idx, ptr = _trains(p[k], s, T)
        for t in range(T - 1):
            act = idx[ptr[t]:ptr[t + 1]]
            for blk in np.unique(act // rows):
                sums.extend(w[act[act // rows == blk]].sum(0))
    sums = np.asarray(sums)
    p_max = max(w[b * rows:(b + 1) * rows].sum(0).max() for b in range(8))
    for q in (0.5, 0.9, 0.999):
        fs = calibrate_full_scale(w, p, T, rows, quantile=q)
        # the empirical quantile (smallest sum with CDF ≥ q) lies in the histogram bin the estimate interpolates in
        assert abs(fs - np.quantile(sums[sums > 0], q, method="inverted_cdf")) <= p_max / 65536 * (1 + 1e-9)
    assert calibrate_full_scale(w, p, T, rows, 0.5) < calibrate_full_scale(w, p, T, rows, 0.99)


# ------------------------------------------------------------------------------------------------ (5) validation
@pytest.mark.parametrize(("kw", "field"), [
    ({"rows": 0}, "AdcModel.rows"), ({"rows": 1.5}, "AdcModel.rows"), ({"bits": 0}, "AdcModel.bits"),
    ({"bits": 17}, "AdcModel.bits"), ({"full_scale": 0.0}, "AdcModel.full_scale"),
    ({"full_scale": float("inf")}, "AdcModel.full_scale"), ({"offset_lsb_sigma": -0.1}, "AdcModel.offset_lsb_sigma"),
    ({"noise_lsb_sigma": float("nan")}, "AdcModel.noise_lsb_sigma"), ({"seed": -1}, "AdcModel.seed"),
])
def test_validation_names_the_field(kw, field):
    args = {"rows": 128, "bits": 8, "full_scale": 1.0, **kw}
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        AdcModel(**args)


def test_adc_refused_off_the_cpu(nets, mnist):
    from spinsyn.snn import evaluate
    from spinsyn.snn.engine import TorchEngine

    net = nets("ideal")
    X, y, Xc = mnist
    adc = AdcModel(rows=128, bits=4, full_scale=1.0)
    with pytest.raises(ValueError, match="adc"):
        evaluate(net, X[:5], y[:5], device="cuda", adc=adc)
    with pytest.raises(ValueError, match="adc"):
        evaluate(net, X[:5], y[:5], device="cpu", adc="8 bits")
    ns = NetState(net.w.copy(), np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1)), net.theta.copy())
    eng = TorchEngine(ns, net.params, net.compiled, net.synapse, 0.0)
    with pytest.raises(ValueError, match="numba"):
        eng.eval_counts(np.zeros((1, 784)), np.zeros(1, np.uint32), adc=adc)
    with pytest.raises(ValueError, match="quantile"):
        AdcModel.calibrated(net.w, Xc, net.params, rows=128, bits=4, quantile=1.5)
    with pytest.raises(ValueError, match="AdcModel.bits"):
        AdcModel.calibrated(net.w, Xc, net.params, rows=128, bits=40)
