"""``spinsyn export nir RUN --out net.nir``: a trained run as a NIR graph (Neuromorphic Intermediate Representation,
read and written by Norse, snnTorch, Sinabs, Rockpool, Lava-DL, Nengo, Spyx, SpikingJelly).

Graph (N excitatory, N inhibitory neurons)::

    input (784) -> w_in (Affine) -> exc (LIF) -> w_ei (Affine) -> inh (LIF) -> w_ie (Affine) -> exc ;  exc -> output

``w_ie`` closes the loop: lateral inhibition is a recurrent Affine onto ``exc``. Conventions (docs/snn.md "NIR
export"): time constants in seconds; spikes are 1 for one step of ``dt`` (``metadata["dt_s"]``); ``r = 1``, so a
LIF integrates ``dv = dt/τ·(v_leak − v + I)`` and an Affine weight ``W`` into a layer with time constant τ makes
a jump of ``W·dt/τ`` mV per spike: the stored weights are the jumps (mV) × τ/dt. Voltages of each layer are
measured from its reset potential (``v_reset = 0``, which consumers that ignore ``v_reset`` then honour). θ is
frozen into the excitatory thresholds (``v_threshold = thresh − reset + θ``). The input Affine's metadata
carries the synapse: spec, device record, ``g_min_S``/``g_max_S``, the level conductances (hardware synapses)
and ``w = (G − G_min)/(G_max − G_min)``; the graph's metadata carries the input coding, label assignments and
what NIR cannot express (adaptive θ, plasticity, refractory periods, one spike per step).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.lazyimport import import_uninterrupted

from .network import TrainedNetwork

#: ``format_version`` of the root attributes spinsyn adds to its NIR files (``format = "spinsyn-nir"``)
NIR_FILE_VERSION = 1

NIR_NOT_EXPRESSED = {
    "adaptive_threshold": "θ grows by theta_plus per spike and decays with tau_theta while learning; exported "
                          "frozen: v_threshold of 'exc' = thresh − reset + θ per neuron",
    "plasticity": "the input weights are learned (STDP / bi-sigmoid trace rule, device updates); exported fixed",
    "refractory": "exc 5 ms and inh 2 ms refractory periods (no input integration after a spike) have no NIR "
                  "LIF field; a consumer integrates from v_reset at once",
    "one_spike": "spinsyn lets one excitatory neuron (largest overshoot) spike per step; NIR layers spike in "
                 "parallel",
    "input_coding": "inputs are Poisson spike trains, p = pixel/255 · intensity_Hz · dt per step, for time_ms; "
                    "NIR has no encoder node: feed the 784 spike trains to 'input'",
    "delays": "spinsyn: every layer's input at step t comes from spikes at t−1; a graph executor evaluates "
              "input -> exc -> inh in the same step and closes the loop one step later",
}


def _synapse_metadata(net: TrainedNetwork) -> dict[str, Any]:
    dev = net.synapse_device
    gmin, gmax = dev.g_bounds_S()
    meta: dict[str, Any] = {"synapse": str(net.spec), "g_min_S": float(gmin), "g_max_S": float(gmax),
                            "synapse_device_json": json.dumps(dev.record(), sort_keys=True),
                            "w_from_g": "w = (G - g_min_S)/(g_max_S - g_min_S), clipped to [0, 1]",
                            "weight_is": "w (mV per spike) * tau_exc/dt"}
    if net.spec.n_levels:
        meta["levels_S"] = np.asarray(dev.level_conductances_S(), np.float64)
    return meta


def _lif(n: int, tau_ms: float, rest: float, reset: float, thresh: np.ndarray, meta: dict) -> Any:
    import nir  # lazy: optional

    return nir.LIF(tau=np.full(n, tau_ms * 1e-3), r=np.ones(n), v_leak=np.full(n, rest - reset),
                   v_threshold=np.asarray(thresh, np.float64) - reset, v_reset=np.zeros(n), metadata=meta)


def nir_graph(net: TrainedNetwork) -> Any:
    """The run as a ``nir.NIRGraph`` (float64 arrays; see the module docstring for the conventions)."""
    import nir  # lazy: optional

    p, e, i = net.params, net.params.exc, net.params.inh
    n, dt = net.n_neurons, p.dt_ms
    ke, ki = e.tau_ms / dt, i.tau_ms / dt  # weight per mV of jump
    eye = np.eye(n)
    w = np.asarray(net.w, np.float64)
    geo = getattr(net.params, "lc", None)
    # lateral inhibition: every other neuron (Diehl & Cook), or every other neuron of the same location (--network lc)
    others = 1.0 - eye
    if geo is not None:
        from .lc import location_groups  # lazy: startup

        g = location_groups(geo)
        others *= g[:, None] == g[None, :]
    nodes = {
        "input": nir.Input(input_type=np.array([w.shape[0]])),
        "w_in": nir.Affine(weight=w.T * ke, bias=np.zeros(n), metadata=_synapse_metadata(net)),
        "exc": _lif(n, e.tau_ms, e.v_rest_mV, e.v_reset_mV, e.v_thresh_mV + np.asarray(net.theta, np.float64),
                    {"theta_mV": np.asarray(net.theta, np.float64), "refrac_ms": e.refrac_ms,
                     "v_offset_mV": e.v_reset_mV}),
        "w_ei": nir.Affine(weight=p.w_exc_inh_mV * eye * ki, bias=np.zeros(n)),
        "inh": _lif(n, i.tau_ms, i.v_rest_mV, i.v_reset_mV, np.full(n, i.v_thresh_mV),
                    {"refrac_ms": i.refrac_ms, "v_offset_mV": i.v_reset_mV}),
        "w_ie": nir.Affine(weight=-p.w_inh_exc_mV * others * ke, bias=np.zeros(n)),
        "output": nir.Output(output_type=np.array([n])),
    }
    edges = [("input", "w_in"), ("w_in", "exc"), ("exc", "w_ei"), ("w_ei", "inh"), ("inh", "w_ie"),
             ("w_ie", "exc"), ("exc", "output")]
    meta = {"producer": "spinsyn", "dt_s": dt * 1e-3, "time_ms": p.time_ms, "intensity_Hz": p.intensity_Hz,
            "assignments": np.asarray(net.assignments, np.int64), "not_expressed": json.dumps(NIR_NOT_EXPRESSED),
            "origin": json.dumps(net.config.origin or {"kind": "spinsyn-train"})}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(run_dir: str | Path, out_file: str | Path, *, overwrite: bool = False) -> dict:
    """Write the run in ``run_dir`` (a Diehl & Cook run, or a conv run: :func:`spinsyn.snn.conv.nir_graph.
    conv_nir_graph`) as a NIR file ``out_file`` (atomically; checked first under the output policy
    of :func:`spinsyn.validation.check_output_file`: never inside the run, never over a file other than a NIR file
    spinsyn wrote unless ``overwrite``). The file's root carries ``format = "spinsyn-nir"``, ``format_version``
    and ``provenance`` next to NIR's own content. Returns a summary."""
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal
    import nir  # lazy: optional
    from spinsyn.fileio import atomic_write_bytes, h5_write_meta  # lazy: startup
    from spinsyn.validation import NIR_FORMAT, check_output_file  # lazy: startup

    from .checkpoint import CHECKPOINT_NAME, read_checkpoint  # lazy: startup
    from .conv.run import CONV_NET_NAME, is_conv_run  # lazy: startup
    from .network import load_run  # lazy: startup

    out_file = check_output_file(out_file, "--out", writes=NIR_FORMAT, inputs=(run_dir,), overwrite=overwrite)
    # a conv run folder (spinsyn train --network conv; with a checkpoint it is a Diehl & Cook run, as for eval)
    if is_conv_run(run_dir) and not (Path(run_dir) / CHECKPOINT_NAME).exists():
        from .conv.network import load_conv  # lazy: startup
        from .conv.nir_graph import conv_nir_graph, conv_nir_neurons  # lazy: startup

        g = conv_nir_graph(load_conv(Path(run_dir) / CONV_NET_NAME))
        neurons = conv_nir_neurons(g)
    else:
        read_checkpoint(run_dir)
        g = nir_graph(load_run(run_dir))
        neurons = int(g.nodes["exc"].v_threshold.size)
    buf = io.BytesIO()  # built in memory: a refused write is one OSError naming out_file (atomic_write_bytes)
    nir.write(buf, g)
    with h5py.File(buf, "a") as f:
        h5_write_meta(f, fmt=NIR_FORMAT, version=NIR_FILE_VERSION)
    atomic_write_bytes(out_file, buf.getvalue())
    return {"out": str(out_file), "nodes": list(g.nodes), "edges": len(g.edges), "neurons": neurons}
