"""Round trip of a conv run through its conv chip: program every layer chip, re-measure MNIST accuracy.

Each layer folder of a conv chip (:mod:`spinsyn.hw_export.convchip`) is programmed as ``export simulate``
programs a chip (:func:`spinsyn.hw_export.program_chip`: write-verify replay of its schedules on a fresh draw of
the device model, extra write-verify pulses where needed, sampled half-select disturb); layer k draws from the
seed ``SeedSequence([seed, k]).generate_state(1)[0]``. The conductances of each condition become weights with the
Diehl & Cook round trip's mapping (:func:`spinsyn.hw_export.roundtrip.network_conductances`: a run's own trained
states read through its own synapses, else chip scale factors onto the run's nominal range; then
``w = (G − G_min)/(G_max − G_min)``, signed or clipped to [0, 1] as the network reads its synapses:
``ConvConfig.signed_read``; a decision layer with ``ConvConfig.decision_full_range`` reads
``w3_lo + (w3_hi − w3_lo)·w``), are rolled back to kernels (F, C, K, K) and replace the weights of
a copy of the network (no synapse: evaluation uses the given weights). Every condition is evaluated with
:func:`spinsyn.snn.conv.evaluate_conv` on the same first ``n_test`` MNIST test images.

Conditions: ``trained`` (the run's conductances), ``targets`` (the chips' level targets), ``programmed``,
``disturbed`` (absent without disturb) and ``circuit`` (chips exported with ``--circuit``, or read through
``circuit``: each device's weight scaled by its read attenuation, as the Diehl & Cook round trip). Loss terms and
CIs as :mod:`spinsyn.hw_export.roundtrip` (paired differences, Wilson intervals). Not modelled: read noise (the
conv network is evaluated without it), the column ADC, ageing, and the line-resistance cost of driving the same
crossbar once per output position (the attenuation does not depend on which rows a patch drives).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from spinsyn.fileio import sha256_file
from spinsyn.validation import check_scalar

from .chipfile import load_chip
from .convchip import LAYER_DIRS, ConvChipError, conv_chip_problems, read_conv_manifest, roll_kernels, unroll_kernels
from .mapping import weight_step
from .roundtrip import (
    CI_METHOD,
    CONDITIONS,
    _weight_errors,
    _weights,
    accuracy_ci,
    loss_terms,
    network_conductances,
    paired_difference,
)
from .simulate import chip_circuit, circuit_read, program_chip

#: the sums and device-weighted means of the layers' programming statistics
_SUMS = ("devices", "pulses_replayed", "extra_pulses", "devices_needing_extra_pulses", "failed", "disturbed_devices")
_MEANS = ("inside_band_after_programming", "inside_band_after_disturb", "abs_error_levels_mean")


def layer_seed(seed: int, k: int) -> int:
    """The programming seed of layer ``k`` (0, 1, 2) of a conv chip simulated with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0])


def layer_view(net: Any, k: int) -> SimpleNamespace:
    """Layer ``k`` of a conv network as the Diehl & Cook round trip sees a network: unrolled ``w``, ``state``,
    ``gp_S``/``gap_S`` (C·K·K, F), its ``synapse`` (an ideal run: the ideal synapse on the device it was exported
    on, :func:`spinsyn.hw_export.convchip.run_device`) and ``synapse_device``."""
    from spinsyn.snn.synapses import synapse_from_record  # lazy: startup

    from .convchip import run_device  # lazy: startup

    lw = net.layers[k]
    syn = net.synapse if net.synapse is not None else synapse_from_record(run_device(net).record())

    def un(a: Any) -> Any:
        return None if a is None or np.shape(a) != lw.w.shape else unroll_kernels(a)

    return SimpleNamespace(synapse=syn, synapse_device=syn.device, w=unroll_kernels(lw.fraction(lw.w)),
                           state=un(lw.state), gp_S=un(lw.gp), gap_S=un(lw.gap))


def _read_weights(view: Any, g: np.ndarray, signed: bool) -> np.ndarray:
    """Weights (C·K·K, F) of conductances ``g`` (S) read as the network reads its synapses (ConvConfig.signed_read):
    (G − G_min)/(G_max − G_min) on the nominal range, signed (offset subtracted by a nominal reference column) or
    clipped to [0, 1] (runs trained with the clipped read)."""
    if not signed:
        return _weights(view, g)
    gmin, gmax = view.synapse.g_bounds_S()
    return (g - gmin) / (gmax - gmin)


def _merge_stats(stats: list[dict[str, Any]]) -> dict[str, Any]:
    n = np.array([s["devices"] for s in stats], np.float64)
    out: dict[str, Any] = {k: int(sum(s[k] for s in stats)) for k in _SUMS}
    out.update({k: float(np.dot(n, [s[k] for s in stats]) / n.sum()) for k in _MEANS})
    out.update(abs_error_levels_max=float(max(s["abs_error_levels_max"] for s in stats)),
               half_select=stats[0]["half_select"], disturb_sampled=stats[0]["disturb_sampled"])
    return out


def simulate_conv_chip(chip_dir: str | Path, *, seed: int = 1, n_test: int | None = None,
                       data_dir: str | None = None, run_dir: str | Path | None = None, disturb: bool = True,
                       allow_extra: bool = False, circuit: Any = None, backend: Any = None) -> dict[str, Any]:
    """Verify the conv chip ``chip_dir``, program each layer on its device model and evaluate the conv run's
    accuracy under every condition (module docstring) on the first ``n_test`` MNIST test images (None: all).

    ``run_dir``: the conv run, if it moved since the export (default: the manifest's; ``run_matches_export``: its
    conv.npz is the file exported, by sha256). Returns a dict like
    :func:`spinsyn.hw_export.simulate_chip`'s: ``programming`` (the layers' statistics summed / device-weighted),
    ``layers`` (per layer: programming statistics, seed, weight errors), ``accuracy`` per condition
    (``{"accuracy", "silent"}``), ``accuracy_ci95``, ``loss_terms`` (points lost with paired 95 % CI),
    ``drop_points`` (trained − final) with its CI, ``noise_model``."""
    from spinsyn.mnist import load_mnist  # lazy: startup
    from spinsyn.snn.conv import ConvNetwork, LayerWeights, evaluate_conv, load_conv  # lazy: startup
    from spinsyn.snn.conv.run import CONV_NET_NAME, conv_run_dataset  # lazy: startup

    if n_test is not None:
        check_scalar(n_test, "--n-test", int, min_val=1)
    chip_dir = Path(chip_dir)
    problems = conv_chip_problems(chip_dir, allow_extra=allow_extra)
    if problems:
        raise ConvChipError(problems)
    man = read_conv_manifest(chip_dir)
    rd = Path(run_dir) if run_dir is not None else Path(man["source"]["run_dir"])
    net = load_conv(rd / CONV_NET_NAME) if (rd / CONV_NET_NAME).is_file() else None
    if net is None:
        raise ValueError(f"--run: {rd} holds no {CONV_NET_NAME} (the conv run the chip was exported from; pass "
                         "--run RUN_DIR if it moved)")
    for e, lw in zip(man["layers"], net.layers):
        if list(lw.w.shape) != e["kernel_shape"]:
            raise ValueError(f"{rd}: {e['name']} kernels {lw.w.shape} do not match the chip's {e['kernel_shape']}")
    views, gs, layer_recs, stats = [], [], [], []
    mapping = d2d = ""
    for k, (name, e) in enumerate(zip(LAYER_DIRS, man["layers"])):
        chip = load_chip(chip_dir / name, check=False)  # verified above
        prog = program_chip(chip, seed=layer_seed(seed, k), disturb=disturb, backend=backend)
        cfg = chip_circuit(chip, circuit)
        if cfg is not None:
            prog["circuit"] = circuit_read(chip, prog, cfg)
        view = layer_view(net, k)
        rc = network_conductances(view, chip, prog)
        views.append(view)
        gs.append(rc.g)
        mapping, d2d = rc.mapping, rc.device_to_device
        stats.append(prog["stats"])
        final_k = "circuit" if "circuit" in rc.g else ("disturbed" if disturb else "programmed")
        layer_recs.append({"name": name, "seed": layer_seed(seed, k), "programming": prog["stats"],
                           "weights": _weight_errors(view, rc, weight_step(prog["scale"]), final_k),
                           "conductances": rc.mapping, "reads_per_image": e["reads_per_image"]})
    final_chip = "disturbed" if disturb else "programmed"
    conds = [c for c, _ in CONDITIONS if all(c in g for g in gs) and (disturb or c != "disturbed")]
    images, labels = load_mnist("test", data_dir, n=n_test, dataset=conv_run_dataset(rd))
    acc: dict[str, dict[str, float]] = {}
    correct: dict[str, np.ndarray] = {}
    for c in conds:
        layers = [LayerWeights(roll_kernels(lw.lo + (lw.hi - lw.lo) * _read_weights(v, g[c], net.config.signed_read),
                                            lw.w.shape)) for v, g, lw in zip(views, gs, net.layers)]
        r = evaluate_conv(ConvNetwork(net.config, layers, None), images, labels)
        acc[c] = {"accuracy": float(r["accuracy"]), "silent": float(r["silent"])}
        correct[c] = np.asarray(r["per_image"]) == np.asarray(labels)
    final = conds[-1]
    n = int(len(labels))
    drop = paired_difference(correct["trained"], correct[final])
    terms = loss_terms(correct, final_chip)
    return {
        "chip_dir": str(chip_dir), "network": "conv", "synapse": man["synapse"], "run_dir": str(rd),
        "run_matches_export": sha256_file(rd / CONV_NET_NAME) == man["source"]["sha256"],
        "programming": {**_merge_stats(stats), "seed": int(seed)}, "layers": layer_recs,
        "accuracy": acc, "accuracy_key": "accuracy", "n_test": n,
        "accuracy_ci95": {c: accuracy_ci(acc[c]["accuracy"], n) for c in conds},
        "loss_terms": terms, "final": final, "final_chip": final_chip, "drop_points": drop["points"],
        "drop_ci95_points": drop["ci95_points"], "drop_points_quantisation": terms[0]["points"],
        "ci_method": CI_METHOD,
        "noise_model": {"read_noise_sigma": 0.0, "read_noise": "not modelled: the conv network is evaluated "
                        "without read noise", "device_to_device": d2d,
                        "cycle_to_cycle": f"stochastic switching of the replay (layer k: seed SeedSequence([{seed}, "
                                          "k]))", "conductances": mapping},
        "weights": {name: rec["weights"] for name, rec in zip(LAYER_DIRS, layer_recs)},
        "reads_per_image": man["reads_per_image"],
    }
