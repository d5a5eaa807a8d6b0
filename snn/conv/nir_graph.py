"""A trained conv network (Mozafari et al. 2019, :mod:`spinsyn.snn.conv`) as a NIR graph (issue 27).

``spinsyn export nir RUN --out net.nir`` writes it for a conv run folder (:func:`spinsyn.snn.nir_graph.export_nir`
dispatches on :func:`~spinsyn.snn.conv.run.is_conv_run`). Graph (defaults: C0 = 6 DoG channels, 28×28 images)::

    input (C0, 28, 28) -> conv1 (Conv2d, padding pad1) -> if1 (IF, thr1) -> pool1 (SumPool2d) -> pool1_or (IF)
      -> conv2 (Conv2d, padding pad2) -> if2 (IF, thr2) -> pool2 (SumPool2d) -> pool2_or (IF)
      -> conv3 (Conv2d, padding pad3) -> decision (I, integrator) -> output

Conventions (docs/snn.md "NIR export of a conv run"):

* Time unit: one step of the latency code (T steps per image). A spike is a unit event: an input spike through
  weight w raises an IF's v by w (``r = 1``); the weights are the read weights in [0, 1] as spinsyn uses them.
  spinsyn (and SpykeTorch) keep *cumulative* spike waves, "fired at or before t"; in the graph each neuron emits one
  event at its first spike, and the IF's v is the running sum of its weighted input events, which is spinsyn's
  potential u(t). Both fire at the first step with v > threshold (strict).
* One spike per neuron: ``v_reset`` of a conv IF is −Σ w of its kernel, so after its spike the rest of its inputs
  (each fires once) cannot lift v above 0 ≤ threshold again. A consumer that ignores ``v_reset`` (Norse resets to
  0) may let a neuron fire again later; the first spikes, and so the decision, are unchanged only where it does not.
* Max pooling of first spikes (the earliest spike of each window; SpykeTorch ``sf.pooling`` on spike waves) has no
  NIR node. It is written as SumPool2d (kernel = stride = window, no padding; the remainder rows / columns are
  dropped, as in spinsyn) followed by an IF with ``v_threshold = 0.5`` and ``v_reset = −k²``: it fires once, at the
  earliest spike in its window, which is exactly the max pool given one spike per input. A consumer may replace
  each (SumPool2d, IF) pair by a max pool of the spike tensor.
* Decision: conv 3 has no threshold. Its potential at the last step decides: the integrator ``decision``
  (``I``, r = 1) outputs v = u(t) per (feature, y, x); read it at step T − 1, take the arg-max over all of them and
  map its feature f to the class ``decision_map[f]`` (graph metadata); no v > 0 anywhere: silent (counted wrong).

What does not fit NIR (graph metadata ``not_expressed``): the DoG filtering + local normalisation +
intensity-to-latency coding (a preprocessing step; feed the graph the coded spikes, one event per input at its
latency step), k-WTA and lateral / point-wise inhibition (training-time only, unless ``pointwise_inference``),
plasticity (STDP / R-STDP; the weights are exported fixed).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .network import ConvNetwork

#: input image size (px) of MNIST; the conv network itself is size-agnostic
MNIST_SHAPE_PX = (28, 28)

CONV_NIR_NOT_EXPRESSED = {
    "input_coding": "DoG filters (on/off-centre, sizes dog_sizes_px, responses < dog_threshold set to 0), local "
                    "normalisation (radius norm_radius_px) and rank-order intensity-to-latency coding into T steps "
                    "are preprocessing outside the graph (spinsyn.snn.conv.encode); feed 'input' one event per "
                    "input neuron at its latency step (none for inputs that never fire)",
    "k_wta_and_inhibition": "k-winners-take-all, lateral inhibition (radius rinh1 / rinh2) and point-wise "
                            "inhibition across feature maps select the neurons that learn during STDP training "
                            "only; inference does not use them (unless pointwise_inference)",
    "plasticity": "STDP of conv1 / conv2 and R-STDP (reward / anti-STDP, adaptive rates) of conv3; exported fixed",
    "max_pooling": "max pooling of first spikes has no NIR node: exact as SumPool2d + IF(v_threshold 0.5, "
                   "v_reset -k^2) given one spike per input",
    "one_spike": "each neuron spikes at most once (latency code): v_reset of every IF is chosen so that it cannot "
                 "fire again; a consumer that ignores v_reset may produce later spikes",
    "decision": "no threshold in conv3: the class is decision_map[f] of the largest potential of the 'decision' "
                "integrator at step T-1 (arg-max over features and positions); none > 0: silent",
}


def _if(shape: tuple[int, ...], thr: float | np.ndarray, v_reset: np.ndarray, meta: dict[str, Any]) -> Any:
    import nir  # lazy: optional

    thr_a = np.broadcast_to(np.asarray(thr, np.float64), shape).copy()
    return nir.IF(r=np.ones(shape), v_threshold=thr_a, v_reset=np.broadcast_to(v_reset, shape).copy(),
                  metadata=meta)


def _out_hw(hw: tuple[int, int], k: int, pad: int) -> tuple[int, int]:
    return hw[0] + 2 * pad - k + 1, hw[1] + 2 * pad - k + 1


def _synapse_meta(net: ConvNetwork, layer: int) -> dict[str, Any]:
    syn = net.synapse
    meta: dict[str, Any] = {"layer": layer, "synapse": "ideal" if syn is None else str(syn.spec),
                            "weight_is": "read weight in [0, 1] (v jump per input spike)"}
    if syn is not None:
        gmin, gmax = syn.g_bounds_S()
        meta.update(g_min_S=float(gmin), g_max_S=float(gmax),
                    w_from_g="w = (G - g_min_S)/(g_max_S - g_min_S)",
                    synapse_device_json=json.dumps(syn.device.record(), sort_keys=True))
    return meta


def conv_nir_graph(net: ConvNetwork, image_shape_px: tuple[int, int] = MNIST_SHAPE_PX) -> Any:
    """``net`` as a ``nir.NIRGraph`` (float64 arrays; module docstring): nodes ``input``, ``conv1``, ``if1``,
    ``pool1``, ``pool1_or``, ``conv2``, ``if2``, ``pool2``, ``pool2_or``, ``conv3``, ``decision``, ``output`` in a
    chain. ``image_shape_px``: (H, W) of the coded input (MNIST: 28×28). ValueError for a shape the layers
    cannot take (a pooled or convolved map smaller than 1×1)."""
    import nir  # lazy: optional

    c = net.config
    if len(image_shape_px) != 2 or min(image_shape_px) < 1:
        raise ValueError(f"image_shape_px must be (H, W) >= 1, got {image_shape_px!r}")
    w1, w2, w3 = (np.asarray(w, np.float64) for w in net.w)
    hw0 = (int(image_shape_px[0]), int(image_shape_px[1]))
    hw1 = _out_hw(hw0, c.k1_px, c.pad1)
    hp1 = (hw1[0] // c.pool1_px, hw1[1] // c.pool1_px)
    hw2 = _out_hw(hp1, c.k2_px, c.pad2)
    hp2 = (hw2[0] // c.pool2_px, hw2[1] // c.pool2_px)
    hw3 = _out_hw(hp2, c.k3_px, c.pad3)
    if min(*hw1, *hp1, *hw2, *hp2, *hw3) < 1:
        raise ValueError(f"image_shape_px {image_shape_px}: the layers leave no output "
                         f"(conv1 {hw1}, pool1 {hp1}, conv2 {hw2}, pool2 {hp2}, conv3 {hw3})")

    def conv(w: np.ndarray, hw: tuple[int, int], pad: int, layer: int) -> Any:
        return nir.Conv2d(input_shape=hw, weight=w, stride=1, padding=pad, dilation=1, groups=1,
                          bias=np.zeros(w.shape[0]), metadata=_synapse_meta(net, layer))

    def reset_one_spike(w: np.ndarray) -> np.ndarray:  # (F, 1, 1): -Σ kernel weights per feature
        return -w.reshape(w.shape[0], -1).sum(axis=1)[:, None, None]

    def pool(k: int) -> Any:
        return nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([0, 0]),
                             metadata={"spinsyn_op": "max pooling of first spikes (window = stride = "
                                       f"{k}); with the next IF: fires once at the earliest spike of the window"})

    def pool_or(f: int, hw: tuple[int, int], k: int) -> Any:
        return _if((f, *hw), 0.5, np.array(-float(k * k)),
                   {"spinsyn_op": "OR of the pooled window's spikes (max pool), once: v_threshold 0.5, "
                                  f"v_reset -{k * k} (at most {k * k} input spikes)"})

    one = "v_reset = -sum of the kernel's weights: one spike per neuron (latency code)"
    nodes = {
        "input": nir.Input(input_type=np.array([c.n_dog, *hw0])),
        "conv1": conv(w1, hw0, c.pad1, 1),
        "if1": _if((c.f1, *hw1), c.thr1, reset_one_spike(w1), {"threshold_source": "thr1", "v_reset_is": one}),
        "pool1": pool(c.pool1_px),
        "pool1_or": pool_or(c.f1, hp1, c.pool1_px),
        "conv2": conv(w2, hp1, c.pad2, 2),
        "if2": _if((c.f2, *hw2), c.thr2, reset_one_spike(w2), {"threshold_source": "thr2", "v_reset_is": one}),
        "pool2": pool(c.pool2_px),
        "pool2_or": pool_or(c.f2, hp2, c.pool2_px),
        "conv3": conv(w3, hp2, c.pad3, 3),
        "decision": nir.I(r=np.ones((c.f3, *hw3)),
                          metadata={"read_out": "v at step T-1; class = decision_map[argmax feature]; "
                                                "max v <= 0: silent"}),
        "output": nir.Output(output_type=np.array([c.f3, *hw3])),
    }
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:]))
    not_expressed = dict(CONV_NIR_NOT_EXPRESSED)
    if c.pointwise_inference:
        not_expressed["pointwise_inference"] = ("this network applies point-wise inhibition across feature maps "
                                                "in conv1 / conv2 at inference too: the graph does not, so its "
                                                "spikes can differ")
    meta = {"producer": "spinsyn", "network": "conv", "T_steps": int(c.T), "time_unit": "one latency step",
            "decision_map": np.asarray(net.decision_map(), np.int64), "n_classes": int(c.n_classes),
            "not_expressed": json.dumps(not_expressed), "config": json.dumps(c.to_dict(), sort_keys=True),
            "exact_first_spikes": not c.pointwise_inference}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def conv_nir_neurons(graph: Any) -> int:
    """Neurons of a conv NIR graph: the sizes of its IF and I nodes summed."""
    import nir  # lazy: optional

    return int(sum(np.asarray(n.r).size for n in graph.nodes.values() if isinstance(n, (nir.IF, nir.I))))
