"""``spinsyn import bindsnet``: a BindsNET ``DiehlAndCook2015`` network file → a spinsyn run folder.

The file is read without running its pickle (:mod:`.bindsnet_file`). Mapped (BindsNET → spinsyn):

* ``X → Ae`` weights (``MulticompartmentConnection`` ``Weight.value`` or ``Connection.w``, (784, N)) → ``w`` of
  an ``ideal`` synapse run (they must lie in the connection's range [0, 1]);
* ``Ae.theta`` → ``theta`` (mV); ``Ae`` ``rest``/``reset``/``thresh``/``refrac``/``tc_decay``/``theta_plus``/
  ``tc_theta_decay`` → :class:`ExcParams`; ``Ai`` ``rest``/``reset``/``thresh``/``refrac``/``tc_decay`` →
  :class:`InhParams`; ``Ae → Ai`` (exc·I) → ``w_exc_inh_mV``; ``Ai → Ae`` (−inh·(1 − I)) → ``w_inh_exc_mV``;
  ``Weight.norm`` → ``norm``; ``network.dt`` → ``dt_ms``;
* the input rule (``PostPre``, ``nu`` = (ν_pre, ν_post)) → the ``postpre`` rule (what ``--resume`` would use);
* ``--labels`` (a tensor of per-neuron classes, −1 = unassigned, as ``bindsnet.evaluation.assign_labels``
  returns) → ``assignments`` (``proportions`` one-hot: proportion weighting then equals all activity).

The input coding (Poisson rate, presentation time) is not part of a BindsNET network: eth_mnist's (128 Hz,
250 ms) unless given. What spinsyn cannot represent is refused (connection shapes, non-uniform fixed weights)
or listed in the run's ``origin.notes``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, sha256_file
from spinsyn.safeload import check_torch_file, clean_text, file_error, torch_problem

from .bindsnet_file import Record, read_bindsnet_file
from .params import N_INPUT, ExcParams, InhParams, NetworkParams

EXC_CLASS, INH_CLASS, INPUT_CLASS = "DiehlAndCookNodes", "LIFNodes", "Input"


@dataclasses.dataclass
class BindsnetNetwork:
    """What a BindsNET DiehlAndCook2015 file holds, in spinsyn's terms."""

    params: NetworkParams
    w: np.ndarray  # (784, N) float64 in [0, 1]
    theta: np.ndarray  # (N,) mV
    nu: tuple[float, float]  # (ν_pre, ν_post) of the input rule
    origin: dict  # file, sha256, class, notes


def _name(rec: Any) -> str:
    return rec.class_path.rsplit(".", 1)[1] if isinstance(rec, Record) else type(rec).__name__


def _numeric(v: Any, what: str, where: str) -> np.ndarray:
    """``v`` as a numeric array: a tensor (numpy array), a Python number or a short list/tuple of them. Anything
    else (nested lists, records, strings) is refused: ``np.asarray`` of a pickled nested list can be made to
    allocate without bound."""
    if isinstance(v, (list, tuple)) and len(v) <= 16 and all(type(x) in (int, float, bool) for x in v):
        v = np.asarray(v, np.float64)
    elif type(v) in (int, float, bool):
        v = np.asarray(v, np.float64)
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
        raise SpinsynFileError(f"{where}: {what} is {_what(v)}, not a number or a tensor")
    return v


def _what(v: Any) -> str:
    """A value from the file described by its type (never by its repr, which a hostile object can make huge)."""
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} ({v.dtype})"
    name = type(v).__name__
    return "missing" if v is None else f"{'an' if name[:1] in 'aeiouAEIOU' else 'a'} {name}"


def _value(v: Any, what: str, where: str) -> float:
    """One number (the first element of a tensor, as BindsNET's per-layer parameters are stored)."""
    a = _numeric(v, what, where)
    if a.size == 0:
        raise SpinsynFileError(f"{where}: {what} is an empty tensor")
    return _num(a.reshape(-1)[0])


def _scalar(layer: Record, key: str, where: str) -> float:
    v = layer.get(key)
    if v is None:
        raise SpinsynFileError(f"{where}: layer {_name(layer)} has no {key!r}")
    return _value(v, f"layer {_name(layer)} {key!r}", where)


def _num(v: Any) -> float:
    """A float; float32 values by their shortest decimal (0.05, not 0.0500000007)."""
    return float(str(v)) if isinstance(v, np.float32) else float(v)


def _weights(conn: Record, where: str) -> tuple[np.ndarray, Record | None, float | None]:
    """(weight matrix, learning rule record, norm) of a Connection or MulticompartmentConnection."""
    if conn.get("pipeline") is not None:
        feats = [f for f in conn.get("pipeline") if _name(f) == "Weight"]
        if len(feats) != 1:
            raise SpinsynFileError(f"{where}: a connection has {len(feats)} Weight features; expected 1")
        f = feats[0]
        return _numeric(f.get("value"), "a Weight feature", where).astype(np.float64), f.get("learning_rule"), \
            f.get("norm")
    w = conn.get("w")
    if w is None:
        raise SpinsynFileError(f"{where}: connection {_name(conn)} holds no weights")
    return _numeric(w, "a connection's weights", where).astype(np.float64), conn.get("update_rule"), conn.get("norm")


def _layers(net: Record, where: str) -> tuple[str, str, str, dict]:
    layers = net.get("layers") or {}
    if not isinstance(layers, dict):
        raise SpinsynFileError(f"{where}: the network's layers are {_what(layers)}, not a dict")
    bad = next((k for k in layers if not isinstance(k, str)), None)
    if bad is not None:
        raise SpinsynFileError(f"{where}: a layer is named by {_what(bad)}, not by a string")
    by: dict[str, list[str]] = {}
    for name, rec in layers.items():
        by.setdefault(_name(rec), []).append(name)
    for cls in (INPUT_CLASS, EXC_CLASS, INH_CLASS):
        if len(by.get(cls, [])) != 1:
            raise SpinsynFileError(f"{where}: expected one {cls} layer (a DiehlAndCook2015 network), found "
                                   f"{by.get(cls, [])} among {sorted(layers)}")
    return by[INPUT_CLASS][0], by[EXC_CLASS][0], by[INH_CLASS][0], layers


def _conn(net: Record, src: str, dst: str, where: str) -> Record:
    for key, rec in (net.get("connections") or {}).items():
        if tuple(key) == (src, dst):
            return rec
    raise SpinsynFileError(f"{where}: no connection {src} -> {dst}")


def _uniform(w: np.ndarray, diag: bool, n: int, what: str, where: str) -> float:
    """The constant c of a fixed connection c·I (``diag``) or c·(1 − I); refuses anything else."""
    if w.shape != (n, n):  # before np.eye(n): n is only as large as the weights the file holds
        raise SpinsynFileError(f"{where}: {what} weights have shape {w.shape}; expected ({n}, {n})")
    eye = np.eye(n, dtype=bool)
    on, off = (w[eye], w[~eye]) if diag else (w[~eye], w[eye])
    c = float(on[0]) if on.size else 0.0
    if not (np.allclose(on, c) and np.allclose(off, 0.0)):
        raise SpinsynFileError(f"{where}: {what} weights are not {'c·I' if diag else 'c·(1 − I)'}; spinsyn's network "
                               "has uniform fixed exc/inh connections")
    return c


def _neuron_params(exc: Record, inh: Record, where: str) -> tuple[ExcParams, InhParams]:
    s = _scalar
    e = ExcParams(v_rest_mV=s(exc, "rest", where), v_reset_mV=s(exc, "reset", where),
                  v_thresh_mV=s(exc, "thresh", where), refrac_ms=s(exc, "refrac", where),
                  tau_ms=s(exc, "tc_decay", where), theta_plus_mV=s(exc, "theta_plus", where),
                  tau_theta_ms=s(exc, "tc_theta_decay", where))
    i = InhParams(v_rest_mV=s(inh, "rest", where), v_reset_mV=s(inh, "reset", where),
                  v_thresh_mV=s(inh, "thresh", where), refrac_ms=s(inh, "refrac", where),
                  tau_ms=s(inh, "tc_decay", where))
    return e, i


def _notes(net: Record, exc: Record, rule: Any, wrange: tuple[float, float]) -> list[str]:
    notes = []
    if exc.get("one_spike") is False:
        notes.append("Ae.one_spike is False; spinsyn lets one excitatory neuron spike per step")
    if exc.get("lbound") is not None:
        notes.append("Ae.lbound (a lower voltage bound) is not modelled")
    if _name(rule) not in ("PostPre", "NoOp"):
        notes.append(f"input rule {_name(rule)} has no spinsyn counterpart; --resume would train with PostPre")
    batch = net.get("batch_size")
    if batch is not None and not (type(batch) is int and batch == 1):
        notes.append(f"batch_size {batch if type(batch) is int else _what(batch)}: spinsyn evaluates image by image")
    if wrange != (0.0, 1.0):
        notes.append(f"input weight range {wrange}; spinsyn's is [0, 1]")
    return notes


def _neurons(exc: Record, name: str, where: str) -> int:
    """The excitatory layer's neuron count ``n`` (a positive integer)."""
    n = exc.get("n")
    if isinstance(n, np.ndarray) and n.size == 1:
        n = n.reshape(-1)[0].item()
    if type(n) is not int:
        raise SpinsynFileError(f"{where}: layer {name} gives its neuron count n as a value of type "
                               f"{type(n).__name__}, not an integer")
    if n < 1:
        raise SpinsynFileError(f"{where}: layer {name} has {n} neurons; a network needs at least 1")
    return n


def parse_network(net: Any, where: str) -> BindsnetNetwork:
    """Map the records of a BindsNET ``DiehlAndCook2015`` (:func:`read_bindsnet_file`) to spinsyn's terms."""
    if not isinstance(net, Record):
        raise SpinsynFileError(f"{where}: holds a {type(net).__name__}, not a pickled BindsNET network")
    x, ae, ai, layers = _layers(net, where)
    exc, inh = layers[ae], layers[ai]
    n = _neurons(exc, ae, where)
    w, rule, norm = _weights(_conn(net, x, ae, where), where)
    if w.shape != (N_INPUT, n):
        raise SpinsynFileError(f"{where}: input weights have shape {w.shape}; expected ({N_INPUT}, {n}) (MNIST)")
    if not np.all(np.isfinite(w)) or w.min() < 0.0 or w.max() > 1.0:
        raise SpinsynFileError(f"{where}: input weights lie in [{w.min():.4g}, {w.max():.4g}]; spinsyn needs [0, 1]")
    w_ei = _uniform(_weights(_conn(net, ae, ai, where), where)[0], True, n, f"{ae} -> {ai}", where)
    w_ie = -_uniform(_weights(_conn(net, ai, ae, where), where)[0], False, n, f"{ai} -> {ae}", where)
    theta = _numeric(exc.get("theta"), "Ae.theta", where).astype(np.float64).reshape(-1)
    if theta.shape != (n,) or not np.all(np.isfinite(theta)):
        raise SpinsynFileError(f"{where}: Ae.theta has shape {theta.shape} or non-finite values; expected ({n},)")
    e, i = _neuron_params(exc, inh, where)
    nu, wrange = _rule_terms(rule, where)
    dt = net.get("dt")
    params = NetworkParams(n_neurons=n, dt_ms=_value(dt, "the network's dt", where) if dt is not None else 1.0,
                           w_exc_inh_mV=w_ei, w_inh_exc_mV=w_ie,
                           norm=_value(norm, "Weight.norm", where) if norm is not None else None, exc=e, inh=i)
    origin = {"kind": "bindsnet", "class": net.class_path, "layers": {"input": x, "exc": ae, "inh": ai},
              "input_rule": rule.class_path if isinstance(rule, Record) else None,
              "notes": _notes(net, exc, rule, wrange)}
    return BindsnetNetwork(params, w, theta, nu, origin)


def _rule_terms(rule: Any, where: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """((ν_pre, ν_post), (w_min, w_max)) of the input connection's learning rule (BindsNET's defaults without
    one)."""
    if not isinstance(rule, Record):
        return (1e-4, 1e-2), (0.0, 1.0)
    nu = _numeric(rule.get("nu") if rule.get("nu") is not None else [1e-4, 1e-2], "the rule's nu", where).reshape(-1)
    if nu.size == 0:
        raise SpinsynFileError(f"{where}: the rule's nu is an empty tensor")
    lo = _value(rule.get("min", rule.get("wmin", 0.0)), "the rule's min", where)
    hi = _value(rule.get("max", rule.get("wmax", 1.0)), "the rule's max", where)
    return (_num(nu[0]), _num(nu[-1])), (lo, hi)


def read_labels(path: str | Path, n: int) -> np.ndarray:
    """Per-neuron classes (n,) int64 from a ``torch.save``\\ d tensor (−1 = unassigned), read with
    ``torch.load(weights_only=True)`` after the archive's members are checked against the read budget
    (:func:`spinsyn.safeload.check_torch_file`). Errors are one clean line naming the file."""
    import torch  # lazy: startup

    path = Path(path)
    check_torch_file(path)
    try:
        t = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one message naming it
        raise file_error(path, f"not a tensor saved with torch.save: {torch_problem(exc)}") from None
    if not isinstance(t, torch.Tensor):
        raise file_error(path, f"holds a {type(t).__name__}, not a tensor of {n} per-neuron class indices")
    if tuple(t.shape) != (n,) or t.is_complex():  # checked before the tensor is materialised
        raise file_error(path, f"expected {n} per-neuron class indices, got shape {tuple(t.shape)} ({t.dtype})")
    a = t.detach().to(torch.float64 if t.is_floating_point() else torch.int64).numpy()
    if a.dtype.kind not in "iu" and not np.all(a == np.round(a)):
        raise file_error(path, f"expected {n} per-neuron class indices, got non-integer values ({t.dtype})")
    a = a.astype(np.int64)
    if a.min() < -1 or a.max() > 9:
        raise SpinsynFileError(f"{path}: class indices must be -1 (unassigned) or 0..9, got {a.min()}..{a.max()}")
    return a


def origin_record(path: Path, bn: BindsnetNetwork, labels: Path | None) -> dict:
    """Provenance of an imported run (stored as ``TrainConfig.origin``)."""
    out = {**bn.origin, "file": str(path.resolve()), "sha256": sha256_file(path)}
    if labels is not None:
        out["labels_file"], out["labels_sha256"] = str(labels.resolve()), sha256_file(labels)
    return out


def load_bindsnet(path: str | Path) -> BindsnetNetwork:
    """Read and map a BindsNET network file (never executing its pickle)."""
    path = Path(path)
    net = read_bindsnet_file(path)
    try:
        return parse_network(net, str(path))
    except SpinsynFileError as exc:  # names the file; text from the file (layer names) cleaned for the terminal
        raise SpinsynFileError(clean_text(exc, 400)) from None
    except Exception as exc:  # noqa: BLE001 - records of any shape a hostile file holds: one line naming it
        raise file_error(path, f"not a DiehlAndCook2015 network as BindsNET saves it ({type(exc).__name__}: "
                         f"{clean_text(str(exc)[:300], 160)})") from None


def _config(bn: BindsnetNetwork, origin: dict, intensity_Hz: float | None, time_ms: float | None):
    from .config import INPUT_PRESETS, TrainConfig  # lazy: startup

    inp: dict[str, Any] = {**INPUT_PRESETS["bindsnet"],
                           **{k: v for k, v in (("intensity_Hz", intensity_Hz), ("time_ms", time_ms)) if v is not None}}
    params = dataclasses.replace(bn.params, **inp)
    # n_train/n_assign/n_test are placeholders (the network was trained elsewhere); origin says where
    return TrainConfig(synapse="ideal", rule={"name": "postpre", "nu_pre": bn.nu[0], "nu_post": bn.nu[1]},
                       network=params.to_dict(), n_train=1, n_test=0, n_assign=1, engine="auto", device="auto",
                       origin=origin)


def import_bindsnet(net_file: str | Path, out_dir: str | Path, labels: str | Path | None = None, *,
                    intensity_Hz: float | None = None, time_ms: float | None = None) -> dict:
    """Import a BindsNET ``DiehlAndCook2015`` file into a new run folder ``out_dir`` (checkpoint written by
    snn's own writer, atomically, under the folder's lock). Every file and option is checked before anything is
    written. Returns a summary dict (neurons, θ range, assigned neurons, notes)."""
    from spinsyn.locks import folder_lock  # lazy: startup
    from spinsyn.validation import check_file, check_scalar  # lazy: startup

    from .checkpoint import CHECKPOINT_NAME, save_checkpoint  # lazy: startup
    from .config import validate_config  # lazy: startup
    from .engine import NetState  # lazy: startup
    from .trainer import check_run_dir  # lazy: startup

    net_file = check_file(net_file, "NET.pt")
    labels_p = check_file(labels, "--labels") if labels is not None else None
    if intensity_Hz is not None:
        check_scalar(intensity_Hz, "--intensity", float, min_val=0.0, include_boundaries="neither")
    if time_ms is not None:
        check_scalar(time_ms, "--time-ms", float, min_val=0.0, include_boundaries="neither")
    out_dir = check_run_dir(out_dir, False)
    bn = load_bindsnet(net_file)
    n = bn.params.n_neurons
    asg = read_labels(labels_p, n) if labels_p is not None else None
    cfg = _config(bn, origin_record(net_file, bn, labels_p), intensity_Hz, time_ms)
    _, syn, rule = validate_config(cfg)
    compiled = rule.compile(bn.params.dt_ms)
    ns = NetState(np.ascontiguousarray(bn.w), np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1)),
                  bn.theta.copy())
    extra = None
    if asg is not None:
        extra = {"assignments": asg, "proportions": (asg[:, None] == np.arange(10)).astype(np.float64)}
    with folder_lock(out_dir, "--out"):
        check_run_dir(out_dir, False)
        save_checkpoint(out_dir / CHECKPOINT_NAME, cfg.to_json(), syn, compiled, ns, (cfg.epochs, 0), [],
                        np.zeros((0, n), np.int64), np.zeros(0, np.int64), cfg.seed, extra)
    return {"run_dir": str(out_dir), "neurons": n, "theta_mV": [float(bn.theta.min()), float(bn.theta.max())],
            "assigned": None if asg is None else int((asg >= 0).sum()), "notes": cfg.origin["notes"],
            "rule": cfg.rule}
