"""Round trip of an snn run through a chip: one noise model for every condition, each loss on its own.

Conditions (:data:`CONDITIONS`), all evaluated by ``spinsyn.snn.evaluate`` on the same test images, with the
same Poisson input spikes, the same label assignment (the run's) and — except ``trained_no_read_noise`` — the
same read-noise draws (the run's σ, stream ``[run seed, 777, first image of the chunk]``), so that two
conditions differ only by their conductances:

* ``trained``: the run's trained conductances (``synapse.g_S`` of its states and, for compound synapses, its
  per-synapse G_P/G_AP — the device-to-device spread the network trained with);
* ``trained_no_read_noise``: the same without read noise;
* ``targets``: ideal programming of the chip's level targets;
* ``programmed``: the device states reached by replaying the schedules on the device model (cycle-to-cycle:
  the stochastic switching of the replay, seed ``--seed``), before half-select disturb;
* ``disturbed``: after sampled half-select disturb (absent with ``--no-disturb``);
* ``circuit`` (chips with a circuit record, or ``simulate --circuit``): the final chip (``disturbed``, or
  ``programmed`` without disturb) read through its tiles' circuits: each device's weight scaled by its read
  attenuation (line resistance and sneak paths, :mod:`spinsyn.hw_export.circuit.readout`), the G_min reference
  attenuated alike: ``G = G_ref + alpha·(G − G_ref)``;
* ``adc`` (``simulate --adc-bits B``): the read above (circuit, else the final chip) with every tile's column
  partial sums digitised at each time step by a B-bit ADC (``spinsyn.snn.AdcModel``: blocks of the chip's tile
  rows, full scale calibrated as the 99.9 % quantile of the non-zero block sums of 200 training images, optional
  static offset and conversion noise in LSB; the ADC digitises the weight w = (G − G_ref)/(G_max − G_min), the
  G_min reference subtracted before it);
* ``aged@<t>`` (``simulate --after``): the final programmed chip after zero-bias relaxation for t
  (:mod:`spinsyn.hw_export.ageing`), read like ``disturbed`` (an ideal read).

How chip states become network conductances (:func:`network_conductances`): when the chip programs the run's
own trained device states on the run's device (``levels_from = "trained device states"``), each chip device
*is* the run's synapse, so a level / MTJ count is read through the run's own ``synapse.g_S`` (per-synapse
G_P/G_AP for compound; level conductances for quantized/dw; the continuous wall position of a programmed dw
device through the device's ``conductance_S``). Then ``targets`` equals ``trained`` bit for bit. Otherwise
(re-quantised, differential, ideal runs) conductances are mapped to weights with the chip's scale factors
and onto the run's nominal conductance range, ``G = G_min + clip(w, 0, 1)·(G_max − G_min)``.

Loss terms (:data:`LOSS_TERMS`): quantisation = trained − targets, programming error = targets − programmed,
half-select disturb = programmed − disturbed, circuit = final chip − circuit, ADC = circuit (else final chip)
− adc, read noise =
trained_no_read_noise − trained, retention at t = final chip − aged@<t> (final chip: disturbed, or programmed
without disturb; one entry per time, not part of ``drop_points``); positive = accuracy lost. ``drop_points`` runs
from trained to the last programming-time condition (``final``: circuit when read through the circuit, else the
final chip). Each is a
difference of two accuracies on the same n images, with a paired 95 % CI from the per-image correctness:
with b = images right in the first condition and wrong in the second, c = the reverse,
``d = (b − c)/n``, ``SE = sqrt(b + c − (b − c)²/n)/n`` (the Wald interval of a paired difference of
proportions, McNemar's discordant pairs), CI = d ± 1.96·SE. Accuracies get the Wilson score interval
``(p + z²/2n ± z·sqrt(p(1 − p)/n + z²/4n²)) / (1 + z²/n)``, z = 1.96 (inside [0, 1] even for small n or p near 0 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import KIND_COMPOUND, SynapseDevice

from .chipfile import Chip
from .mapping import conductance_to_weights, weight_step

Z95 = 1.959963984540054
#: conditions evaluated, in order (name, description)
CONDITIONS: list[tuple[str, str]] = [
    ("trained", "the run's trained conductances"),
    ("trained_no_read_noise", "the run's trained conductances without read noise"),
    ("targets", "ideal programming of the chip's level targets"),
    ("programmed", "after write-verify replay on the device model, before half-select disturb"),
    ("disturbed", "after sampled half-select disturb"),
    ("circuit", "the final chip read through its tiles' circuits (line resistance, sneak paths)"),
    ("adc", "the read above digitised by the column ADCs at every time step"),
    ("aged", "after zero-bias relaxation for a time t (one condition aged@<t> per --after time)"),
]
#: loss terms: (term, from condition, to condition); loss = accuracy(from) − accuracy(to)
LOSS_TERMS: list[tuple[str, str, str]] = [
    ("quantisation", "trained", "targets"),
    ("programming_error", "targets", "programmed"),
    ("half_select_disturb", "programmed", "disturbed"),
    ("circuit", "final_chip", "circuit"),
    ("adc", "analog_read", "adc"),
    ("read_noise", "trained_no_read_noise", "trained"),
    ("retention", "final_chip", "aged"),
]
#: the circuit and retention terms run from the final chip (disturbed, or programmed with --no-disturb) to the
#: circuit / each aged@<t> condition; retention is not part of ``drop_points`` (the loss at programming time)
AGED_PREFIX = "aged@"
CI_METHOD = ("paired: d = (b - c)/n, SE = sqrt(b + c - (b - c)^2/n)/n from the discordant images (b right in "
             "'from' and wrong in 'to', c the reverse), 95 % CI = d +- 1.96 SE; accuracies: Wilson score "
             "interval (p + z^2/2n +- z sqrt(p(1 - p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96")
SIMULATION_FORMAT, SIMULATION_VERSION = "spinsyn-chip-simulation", 2


def paired_difference(right_a: np.ndarray, right_b: np.ndarray) -> dict[str, Any]:
    """Accuracy(a) − accuracy(b) in percentage points with its paired 95 % CI (see the module docstring)."""
    a, b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    n = a.size
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    d = (n10 - n01) / n if n else 0.0
    se = float(np.sqrt(max(n10 + n01 - (n10 - n01) ** 2 / n, 0.0)) / n) if n else 0.0
    return {"points": 100.0 * d, "se_points": 100.0 * se,
            "ci95_points": [100.0 * (d - Z95 * se), 100.0 * (d + Z95 * se)], "discordant": [n10, n01], "n": n}


def accuracy_ci(p: float, n: int) -> list[float]:
    """Wilson score 95 % interval of an accuracy ``p`` on ``n`` images (always inside [0, 1])."""
    if not n:
        return [p, p]
    z2n = Z95 * Z95 / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = Z95 * float(np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))) / (1.0 + z2n)
    return [max(centre - half, 0.0), min(centre + half, 1.0)]


@dataclass
class RunConductances:
    """Network-side conductances (784, N) of each condition, and how chip states were mapped."""

    g: dict[str, np.ndarray]
    mapping: str
    device_to_device: str


def _same_device(net: Any, chip: Chip) -> bool:
    rec = chip.meta.get("synapse_device")
    return (chip.meta.get("levels_from") == "trained device states" and net.state is not None and rec is not None
            and SynapseDevice.from_record(rec) == net.synapse_device)


def network_conductances(net: Any, chip: Chip, prog: dict[str, Any],
                         aged: list[dict[str, Any]] | None = None) -> RunConductances:
    """Conductances the network sees for every condition (see the module docstring). ``prog``:
    :func:`spinsyn.hw_export.program_chip`'s result; ``aged``: :func:`spinsyn.hw_export.ageing.age_chip`'s
    result (conditions ``aged@<label>``, read like ``disturbed``)."""
    syn = net.synapse
    state = net.state if net.state is not None else np.zeros(net.w.shape, np.int64)
    g = {"trained": syn.g_S(net.w, state, net.gp_S, net.gap_S)}
    chip_states = [("programmed", prog["state_programmed"], prog["g_programmed_S"]),
                   ("disturbed", prog["state"], prog["g_S"])]
    chip_states += [(AGED_PREFIX + a["label"], a["state"], a["g_S"]) for a in aged or []]
    final_chip = "disturbed" if prog["stats"].get("disturb_sampled", True) else "programmed"
    alpha = prog.get("circuit", {}).get("alpha")
    if _same_device(net, chip):
        g["targets"] = syn.g_S(net.w, prog["level"], net.gp_S, net.gap_S)
        for name, st, g_chip in chip_states:
            if prog["levels"].discrete:  # MTJ counts on the run's own synapses (per-synapse G_P/G_AP)
                g[name] = syn.g_S(net.w, np.rint(st).astype(np.int64), net.gp_S, net.gap_S)
            else:  # continuous device state (wall position): the device's conductance
                g[name] = np.asarray(g_chip, np.float64)
        if alpha is not None:  # the G_min reference is attenuated alike: w -> alpha w
            gmin = syn.g_bounds_S()[0]
            g["circuit"] = gmin + alpha * (g[final_chip] - gmin)
        d2d = "the run's per-synapse G_P/G_AP" if syn.spec.kind == KIND_COMPOUND else "none (levels)"
        return RunConductances(g, "chip states read through the run's own synapses", d2d)
    gmin, gmax = syn.g_bounds_S()
    scale = prog["scale"]
    chips = [("targets", prog["g_target_S"])] + [(n, gc) for n, _, gc in chip_states]
    if alpha is not None:
        g_ref = float(prog["levels"].g_S[0])
        g_fin = dict(chips)[final_chip]
        chips.append(("circuit", g_ref + alpha * (g_fin - g_ref)))
    for name, g_chip in chips:
        w = np.clip(conductance_to_weights(g_chip, scale), 0.0, 1.0)
        g[name] = gmin + w * (gmax - gmin)
    return RunConductances(g, "chip conductances -> weights (chip scale) -> the run's nominal conductance range",
                           "none (the chip's devices are not the run's)")


def _weights(net: Any, g: np.ndarray) -> np.ndarray:
    gmin, gmax = net.synapse.g_bounds_S()
    return np.clip((g - gmin) / (gmax - gmin), 0.0, 1.0)


def _weight_errors(net: Any, rc: RunConductances, step: float, final: str) -> dict[str, float]:
    w_tr = _weights(net, rc.g["trained"])
    return {"abs_error_vs_trained_mean_levels": float(np.abs(_weights(net, rc.g[final]) - w_tr).mean() / step),
            "targets_vs_trained_mean_levels": float(np.abs(_weights(net, rc.g["targets"]) - w_tr).mean() / step)}


def loss_terms(correct: dict[str, np.ndarray], final_chip: str = "disturbed") -> list[dict[str, Any]]:
    """Every term of :data:`LOSS_TERMS` whose two conditions were evaluated, with its paired CI. ``final_chip``:
    the last programming condition (disturbed, or programmed without disturb); the retention term gives one entry
    per ``aged@<t>`` condition, from it (the chip at t = 0)."""
    out = []
    analog = "circuit" if "circuit" in correct else final_chip
    for term, a, b in LOSS_TERMS:
        a = {"final_chip": final_chip, "analog_read": analog}.get(a, a)
        tos = [c for c in correct if c.startswith(AGED_PREFIX)] if b == "aged" else [b]
        for to in tos:
            if a in correct and to in correct:
                out.append({"term": term, "from": a, "to": to, **paired_difference(correct[a], correct[to])})
    return out


def evaluate_round_trip(run_dir: Path, chip: Chip, prog: dict[str, Any], *, n_test: int | None = None,
                        data_dir: str | None = None, eval_device: str = "auto",
                        aged: list[dict[str, Any]] | None = None, read_noise: float | None = None,
                        adc: dict[str, Any] | None = None, dataset: str | None = None) -> dict[str, Any]:
    """Evaluate every condition under the one noise model; accuracies, loss terms and the total drop, on the test
    images of ``dataset`` (None: the run's own ``--dataset``, MNIST or Fashion-MNIST; :mod:`spinsyn.mnist`). ``aged``
    (:func:`spinsyn.hw_export.ageing.age_chip`) adds one ``aged@<label>`` condition per time; ``read_noise``: the
    read noise σ to evaluate with (:func:`spinsyn.snn.with_read_noise`; None: the run's own); ``adc``
    (``{"bits", "rows", "offset_lsb_sigma", "noise_lsb_sigma", "seed"}``) adds the ``adc`` condition."""
    from spinsyn.mnist import load_mnist  # lazy: startup
    from spinsyn.snn import evaluate, load_run, with_read_noise  # lazy: startup

    net = load_run(run_dir)
    dataset = net.config.dataset if dataset is None else dataset
    if read_noise is not None:
        net = with_read_noise(net, read_noise)
    layer = conductance_to_weights(prog["g_target_S"], prog["scale"]).shape
    if tuple(net.w.shape) != layer:
        raise ValueError(f"{run_dir}: trained weights {net.w.shape} do not match the chip's layer {layer}")
    rc = network_conductances(net, chip, prog, aged)
    final_chip = "disturbed" if prog["stats"].get("disturb_sampled", True) else "programmed"
    adc_model = None
    if adc is not None:
        rc.g["adc"] = rc.g["circuit" if "circuit" in rc.g else final_chip]
        adc_model = _adc_model(net, rc.g["adc"], adc, data_dir, dataset)
    images, labels = load_mnist("test", data_dir, n=n_test, dataset=dataset)
    key = "accuracy_all_activity"
    conds = [c for c, _ in CONDITIONS if c in rc.g or c == "trained_no_read_noise"]
    if not prog["stats"].get("disturb_sampled", True):
        conds.remove("disturbed")
    final = conds[-1]
    conds += [AGED_PREFIX + a["label"] for a in aged or []]
    sigma = float(net.synapse.options().get("read_noise", 0.0)) if net.synapse.spec.kind == KIND_COMPOUND else 0.0
    acc: dict[str, dict[str, float]] = {}
    correct: dict[str, np.ndarray] = {}
    for c in conds:
        same = ("trained" if c == "trained_no_read_noise" and sigma <= 0 else  # no read noise: as trained
                final_chip if c.startswith(AGED_PREFIX) and np.array_equal(rc.g[c], rc.g[final_chip]) else None)
        if same is not None:
            acc[c], correct[c] = dict(acc[same]), correct[same]
            continue
        g = rc.g["trained" if c == "trained_no_read_noise" else c]
        r = evaluate(net, images, labels, device=eval_device, g_S=g, apply_read_noise=c != "trained_no_read_noise",
                     per_image=True, adc=adc_model if c == "adc" else None)
        acc[c] = {k: float(v) for k, v in r.items()  # type: ignore[arg-type]  # numeric scalars
                  if k.startswith("accuracy") and np.isscalar(v)}
        correct[c] = r["correct_all_activity"]
    n = len(labels)
    drop = paired_difference(correct["trained"], correct[final])
    terms = loss_terms(correct, final_chip)
    return {
        "accuracy": acc, "accuracy_key": key, "n_test": n,
        "accuracy_ci95": {c: accuracy_ci(acc[c][key], n) for c in conds},
        "loss_terms": terms, "final": final, "final_chip": final_chip, "drop_points": drop["points"],
        "drop_ci95_points": drop["ci95_points"],
        "drop_points_quantisation": terms[0]["points"], "ci_method": CI_METHOD,
        "noise_model": {"read_noise_sigma": sigma, "read_noise_seed": int(net.config.seed),
                        "read_noise_draws": "N(0,1) per synapse from the stream [seed, 777, first image of the "
                                            "chunk], the same for every condition but trained_no_read_noise",
                        "device_to_device": rc.device_to_device, "cycle_to_cycle": (
                            f"stochastic switching of the replay (seed {prog['stats']['seed']})"),
                        "conductances": rc.mapping},
        "weights": _weight_errors(net, rc, weight_step(prog["scale"]), final),
        **({"adc": _adc_record(adc_model)} if adc_model is not None else {}),
        "input_activity": {"rows_active_per_step": float(images.mean() / 255.0 * net.params.intensity_Hz
                                                        * net.params.dt_ms * 1e-3),
                           "steps_per_image": int(net.params.steps)},
    }


#: training images the ADC's full scale is calibrated on (the 99.9 % quantile of their non-zero block sums)
ADC_CALIBRATION_IMAGES = 200


def _adc_model(net: Any, g: np.ndarray, adc: dict[str, Any], data_dir: str | None, dataset: str = "mnist") -> Any:
    """The column ADC of the ``adc`` condition, its full scale calibrated on the weights it digitises."""
    from spinsyn.mnist import load_mnist  # lazy: startup
    from spinsyn.snn import AdcModel  # lazy: startup

    cal, _ = load_mnist("train", data_dir, n=ADC_CALIBRATION_IMAGES, dataset=dataset)
    return AdcModel.calibrated(_weights(net, g), cal, net.params, rows=int(adc["rows"]), bits=int(adc["bits"]),
                               offset_lsb_sigma=float(adc.get("offset_lsb_sigma", 0.0)),
                               noise_lsb_sigma=float(adc.get("noise_lsb_sigma", 0.0)), seed=int(adc.get("seed", 0)))


def _adc_record(m: Any) -> dict[str, Any]:
    return {"rows": m.rows, "bits": m.bits, "full_scale_w": m.full_scale, "lsb_w": m.lsb,
            "offset_lsb_sigma": m.offset_lsb_sigma, "noise_lsb_sigma": m.noise_lsb_sigma, "seed": m.seed,
            "calibration": f"full scale = 99.9 % quantile of the non-zero per-step block sums of the first "
                           f"{ADC_CALIBRATION_IMAGES} training images (weight units)"}
