"""Scale work (issue #16): compact v3 checkpoints (exact levels, v2 still read), thread-count invariance of the
numba engine, a torch-free short CPU run, and the benchmarks' spinsyn-only paths."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from spinsyn.snn import TrainConfig, Trainer, load_run, read_checkpoint, train
from spinsyn.snn.params import NetworkParams

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**kw):
    base = dict(synapse="ideal", network=NetworkParams(n_neurons=12).to_dict(), n_train=40, n_test=20,
                n_assign=20, epochs=1, batch=2, seed=4, checkpoint_every=1000, engine="numba", device="cpu",
                plots=False)
    base.update(kw)
    return TrainConfig(**base)


def _trained(cfg, run_dir) -> Trainer:
    tr = Trainer(cfg, run_dir, progress=False)
    tr.compile_rule()
    tr.load_data()
    tr.start()
    tr.run(stop_after=6)  # some neurons updated, others still at their initial weights
    return tr


def _raw(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("spec,dtype", [("quantized:9", np.uint8), ("dw:16", np.uint8), ("compound:4", np.uint8),
                                        ("quantized:300", np.uint16)])
def test_v3_stores_level_indices_and_reads_back_exactly(tmp_path, spec, dtype):
    tr = _trained(_cfg(synapse=spec), tmp_path)
    raw = _raw(tmp_path / "checkpoint.pt")
    assert raw["state"].dtype == dtype and "w" not in raw and "g_S" not in raw
    assert raw["recent_counts"].dtype == np.uint8 and int(raw["format_version"]) == 3
    ck = read_checkpoint(tmp_path)
    assert ck["format_version"] == 3 and ck["state"].dtype == torch.int32
    np.testing.assert_array_equal(ck["w"].numpy(), tr.ns.w)  # bit-identical to the engine's weights
    np.testing.assert_array_equal(ck["state"].numpy(), tr.ns.state)
    np.testing.assert_array_equal(ck["g_S"].numpy(), tr.syn.g_S(tr.ns.w, tr.ns.state, tr.ns.gp_S, tr.ns.gap_S))


def test_v3_ideal_float16_final_and_exact_working_checkpoint(tmp_path):
    tr = _trained(_cfg(), tmp_path / "a")
    assert _raw(tmp_path / "a" / "checkpoint.pt")["w"].dtype == np.float64  # the working checkpoint is exact
    np.testing.assert_array_equal(read_checkpoint(tmp_path / "a")["w"].numpy(), tr.ns.w)
    m64 = train(_cfg(), tmp_path / "b", progress=False)
    m16 = train(_cfg(checkpoint_weights="float16"), tmp_path / "c", progress=False)
    assert m64["accuracy_all_activity"] == m16["accuracy_all_activity"]  # evaluated before the lossy save
    w64, w16 = read_checkpoint(tmp_path / "b")["w"].numpy(), read_checkpoint(tmp_path / "c")["w"].numpy()
    assert _raw(tmp_path / "c" / "checkpoint.pt")["w"].dtype == np.float16 and w16.dtype == np.float64
    assert np.all(np.abs(w16 - w64) <= 2.0 ** -11 * np.abs(w64) + 2.0 ** -25) and not np.array_equal(w16, w64)
    assert (tmp_path / "c" / "checkpoint.pt").stat().st_size < 0.5 * (tmp_path / "b" / "checkpoint.pt").stat().st_size
    assert load_run(tmp_path / "c").w.shape == (784, 12)


def test_v2_checkpoints_are_still_read(tmp_path):
    train(_cfg(synapse="compound:4"), tmp_path / "r", progress=False)
    v3 = read_checkpoint(tmp_path / "r")
    v2 = {k: v for k, v in v3.items()}
    v2["format_version"] = 2
    torch.save(v2, tmp_path / "checkpoint.pt")  # the v2 layout: a torch.save dict of tensors and strings
    back = read_checkpoint(tmp_path)
    assert back["format_version"] == 2 and torch.equal(back["w"], v3["w"]) and torch.equal(back["state"], v3["state"])
    assert any(n.endswith("data.pkl") for n in zipfile.ZipFile(tmp_path / "checkpoint.pt").namelist())


def test_eval_and_batch_training_identical_at_1_and_2_threads(tmp_path):
    """Images of a batch and of evaluation run in parallel threads; the thread count never changes a result."""
    a = train(_cfg(threads=1, batch=4), tmp_path / "t1", progress=False)
    b = train(_cfg(threads=2, batch=4), tmp_path / "t2", progress=False)
    assert a["confusion"] == b["confusion"] and a["accuracy_proportion"] == b["accuracy_proportion"]
    assert torch.equal(read_checkpoint(tmp_path / "t1")["w"], read_checkpoint(tmp_path / "t2")["w"])
    net = load_run(tmp_path / "t1")
    from spinsyn.mnist import load_mnist
    from spinsyn.snn.engine import make_engine
    from spinsyn.snn.network import image_seeds, spike_prob

    X, _ = load_mnist("test", None, n=64)
    p = spike_prob(X, net.params)
    counts = []
    for threads in (1, 2):
        ns = net_state_of(net)
        eng = make_engine("numba", ns, net.params, net.compiled, net.synapse, 0.0, True, "cpu", threads=threads)
        counts.append(eng.eval_counts(p, image_seeds(3, 0, np.arange(64))))
    assert counts[0].sum() > 0
    np.testing.assert_array_equal(counts[0], counts[1])


def net_state_of(net):
    from spinsyn.snn.engine import NetState

    return NetState(net.w.copy(), np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1)), net.theta.copy())


def test_threads_option_is_checked():
    from spinsyn.snn import make_config

    with pytest.raises(ValueError, match="--threads"):
        make_config(threads=-1)
    with pytest.raises(ValueError, match="--checkpoint-weights"):
        make_config(checkpoint_weights="int8")


def test_short_cpu_run_imports_neither_torch_nor_matplotlib(tmp_path):
    code = ("import sys; from spinsyn.cli import main; "
            f"rc = main(['train', '--n-train', '10', '--n-test', '10', '--n-assign', '10', '--neurons', '10', "
            f"'--device', 'cpu', '--no-plots', '--quiet', '--out', {str(tmp_path / 'r')!r}]); "
            "print(rc, sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"
    assert read_checkpoint(tmp_path / "r")["w"].shape == (784, 10)
    assert not list((tmp_path / "r").glob("*.png"))


def test_bindsnet_benchmark_spinsyn_only_quick(tmp_path):
    out = tmp_path / "bench.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_snn_vs_bindsnet.py"), "--quick", "--n-train",
                    "20", "--n-test", "20", "--batch", "4", "--bindsnet", "none", "--data-dir",
                    str(ROOT / "core" / "data" / "mnist"), "--json-out", str(out)], check=True, capture_output=True)
    doc = json.loads(out.read_text())
    assert doc["bindsnet"] is None and doc["n_train"] == 20 and doc["threads"]["NUMBA_NUM_THREADS"] == 1
    lfl, dflt = doc["spinsyn"]["like_for_like"], doc["spinsyn"]["defaults"]
    assert lfl["learning_rule"] == "postpre" and lfl["shuffle"] is False and dflt["learning_rule"] == "trace"
    for r in (lfl, dflt):
        assert r["train_loop_samples_per_s"] > 0 and r["test_samples_per_s"] > 0 and r["process_wall_s"] > 0
    grid = {(s["threads"], s["batch"]) for s in doc["spinsyn"]["thread_scaling"]}
    assert grid == {(1, 1), (1, 4), (2, 1), (2, 4)}
    assert doc["ratios"]["like_for_like"]["train"] is None and set(doc["ratios"]) == {"like_for_like", "defaults"}


def test_batch_ramp_schedule_and_resume(tmp_path):
    from spinsyn.snn.trainer import batch_size_at

    assert [batch_size_at(g, 8, 10) for g in (0, 9, 10, 19, 10**6)] == [1, 1, 8, 8, 8]
    assert batch_size_at(0, 16, 0) == 16
    cfg = _cfg(synapse="compound:4", batch=8, batch_ramp=6, epochs=2, n_train=30)
    tr = Trainer(cfg, tmp_path / "x", progress=False)
    tr.epoch0 = tr.done0 = 0
    assert [b for _, b in tr._positions(0)] == [1] * 6 + [8, 8, 8]  # sizes from images seen
    tr.epoch0, tr.done0 = 1, 0
    assert [b for _, b in tr._positions(1)] == [8, 8, 8, 8]
    full = train(cfg, tmp_path / "full", progress=False)
    assert train(cfg, tmp_path / "part", progress=False, stop_after=7) == {"stopped": True}  # inside the ramp
    res = train(cfg, tmp_path / "part", resume=True, progress=False)
    a, b = read_checkpoint(tmp_path / "full"), read_checkpoint(tmp_path / "part")
    for key in ("w", "state", "theta", "assignments"):
        assert torch.equal(a[key], b[key]), key
    assert res["accuracy_all_activity"] == full["accuracy_all_activity"]


def _sim_inputs(B=3, N=10, seed=0):
    par = NetworkParams(n_neurons=N, time_ms=60.0)
    g = torch.Generator().manual_seed(seed)
    X = (torch.rand((B, par.steps, 784), generator=g, dtype=torch.float64) < 0.05).to(torch.float64)
    w = 0.3 * torch.rand((784, N), generator=g, dtype=torch.float64)
    return par, X, w


def test_static_simulation_reads_state_by_reference_and_matches_simulate():
    """The buffers-and-replay logic of the CUDA-graph path, run eagerly on the CPU: inputs copied in, w and θ
    read by reference at each call (the engine updates them in place), outputs equal to simulate()."""
    from spinsyn.snn import torch_engine as TE

    par, X, w = _sim_inputs()
    P = [float(x) for x in par.packed()]
    theta = torch.zeros(10, dtype=torch.float64)
    sim = TE.StaticSimulation(3, par.steps, w, theta, P, True, capture=False)
    for k in range(3):
        Xk = X.roll(k, dims=1)
        S, th = sim(Xk)
        S0, th0 = TE.simulate(Xk, w, theta, P, True)
        assert torch.equal(S, S0) and torch.equal(th, th0) and S.sum() > 0
        w.mul_(1.1)  # in-place update: the next call must see it
        theta.add_(0.5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replay_equals_eager():
    from spinsyn.snn import torch_engine as TE

    par, X, w = _sim_inputs()
    P = [float(x) for x in par.packed()]
    X, w = X.cuda(), w.cuda()
    theta = torch.zeros(10, dtype=torch.float64, device="cuda")
    sim = TE.StaticSimulation(3, par.steps, w, theta, P, True)
    assert sim.graph is not None
    for k in range(3):
        S, th = sim(X.roll(k, dims=1))
        S0, th0 = TE.simulate(X.roll(k, dims=1), w, theta, P, True)
        assert torch.equal(S, S0) and torch.equal(th, th0)
        w.mul_(1.1)
        theta.add_(0.5)


def test_gpu_epoch_benchmark_runs_on_the_cpu_torch_engine(tmp_path):
    out = tmp_path / "gpu.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu_epoch.py"), "--quick", "--device", "cpu",
                    "--neurons", "8", "--batch", "4", "--n-train", "8", "--json-out", str(out)], check=True,
                   capture_output=True)
    (row,) = json.loads(out.read_text())["rows"]
    assert row["device"] == "cpu" and row["cuda_graphs"] is False and row["n_train"] == 8
    assert row["samples_per_s"] > 0 and row["epoch_s_60k"] == pytest.approx(60000 / row["samples_per_s"])


def test_winner_scaled_merge_same_in_both_engines():
    """``--merge winner-scaled``: the winner's change × max(1, images the neuron won); numba and torch agree, and
    with one image per batch it is the plain winner merge."""
    from spinsyn.snn.engine import NetState, NumbaEngine, TorchEngine
    from spinsyn.snn.rules import BiSigmoidTrace
    from spinsyn.snn.synapses import make_synapse

    N, n_img = 6, 6
    par = NetworkParams(n_neurons=N, time_ms=120.0)
    rng = np.random.default_rng(5)
    trains = rng.random((n_img, par.steps, 784)) < 0.03
    syn, c = make_synapse("ideal"), BiSigmoidTrace(nu_post=0.05).compile(1.0)
    w0 = 0.3 * np.random.default_rng(0).random((784, N))
    one = np.ones((1, 1))

    def engines(scale):
        st = [NetState(w0.copy(), np.zeros((1, 1), np.int32), one, one, np.zeros(N)) for _ in range(2)]
        return (NumbaEngine(st[0], par, c, syn, 78.4, True, 1, scale),
                TorchEngine(st[1], par, c, syn, 78.4, True, device="cpu", dtype=torch.float64, scale_wins=scale))

    a, b = engines(True)
    for k in (0, 3):
        np.testing.assert_array_equal(a.train_trains(trains[k:k + 3], 7), b.train_trains(trains[k:k + 3], 7))
    np.testing.assert_allclose(a.ns.w, b.sync().w, rtol=0, atol=1e-12)
    plain, _ = engines(False)
    for k in (0, 3):
        plain.train_trains(trains[k:k + 3], 7)
    assert not np.allclose(plain.ns.w, a.ns.w)  # the scaling changed something at batch 3
    s1, _ = engines(True)
    p1, _ = engines(False)
    for k in range(n_img):
        s1.train_trains(trains[k:k + 1], 7)
        p1.train_trains(trains[k:k + 1], 7)
    np.testing.assert_array_equal(s1.ns.w, p1.ns.w)
