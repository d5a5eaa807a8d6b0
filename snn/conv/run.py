"""A conv run folder: what ``spinsyn train --network conv --out RUN`` writes and ``spinsyn eval RUN`` reads.

``RUN/conv.npz`` holds the trained network (:func:`~spinsyn.snn.conv.save_conv`, format ``spinsyn-conv-1``: config,
synapse record, read weights and device state per layer; read with :func:`~spinsyn.snn.conv.load_conv`), and
``RUN/metrics.json`` (``spinsyn-metrics`` v1 as a Diehl & Cook run's, with ``"network": "conv"``) the test accuracy,
image counts, wall times and configuration. Both are written atomically (:func:`spinsyn.fileio.atomic_path`,
:func:`spinsyn.fileio.write_json`), the network first: a folder with ``metrics.json`` holds a finished run. The
folder is checked, locked and cleaned on error as ``spinsyn train`` does for a Diehl & Cook run
(:func:`spinsyn.snn.trainer.check_run_dir`, :func:`spinsyn.locks.folder_lock`). During R-STDP ``conv.npz`` is also
a checkpoint (written every :data:`CHECKPOINT_EVERY_S`, with the R-STDP state and the random generator): a folder
with ``conv.npz`` and no ``metrics.json`` is an interrupted run, which ``spinsyn train --resume RUN``
(:func:`resume_conv_run`) finishes exactly as if it had never stopped; ``--conv-epochs E1,E2,E3`` with a larger
E3 continues a finished run. ``spinsyn export`` maps a finished run onto crossbars
(:mod:`spinsyn.hw_export.convchip`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spinsyn.options import TRAIN_OPTIONS

from .config import ConvConfig

#: the network file of a conv run folder
CONV_NET_NAME = "conv.npz"
#: synapse kinds the conv network realises (spinsyn.snn.conv.updates.apply_update)
CONV_SYNAPSE_KINDS = ("ideal", "quantized", "dw", "compound")


def parse_conv_epochs(text: Any, name: str = TRAIN_OPTIONS["conv_epochs"].cli) -> tuple[int, int, int]:
    """``"2,4,15"`` → ``(2, 4, 15)``: passes of conv 1 (STDP), conv 2 (STDP) and the decision layer (R-STDP), each a
    whole number >= 0 (0 leaves that layer at its random initial weights). ValueError ``<name>: …`` otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{name}: got {text!r}, expected three whole numbers E1,E2,E3 (passes of conv 1, conv 2 "
                         "and the R-STDP decision layer), e.g. 2,4,680")
    e1, e2, e3 = (int(p) for p in parts)
    return e1, e2, e3


def check_conv_synapse(synapse: Any, name: str = TRAIN_OPTIONS["synapse"].cli) -> str:
    """The synapse spec text when the conv network supports it (ideal, quantized:L, dw:L, compound:N); ValueError
    ``<name>: …`` otherwise (a bad spec: :meth:`spinsyn.devices.SynapseSpec.parse`'s message)."""
    from spinsyn.devices import SynapseSpec  # lazy: startup

    spec = SynapseSpec.parse(synapse)
    if spec.kind not in CONV_SYNAPSE_KINDS:
        raise ValueError(f"{name}: {spec} is not supported by --network conv yet (ideal, quantized:L, dw:L, "
                         "compound:N)")
    return str(spec)


def parse_conv_config(text: Any, name: str = TRAIN_OPTIONS["conv_config"].cli) -> dict[str, Any]:
    """The :class:`ConvConfig` fields of ``text``: a JSON object, inline (``'{"f2": 64}'``) or in the file ``text``
    names. The passes (``epochs1..3``) are refused: they come from ``--conv-epochs``. ValueError ``<name>: …`` for
    anything else than a JSON object of known fields with valid values."""
    src = str(text).strip()
    if not src.startswith("{"):
        try:
            src = Path(src).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{name}: {text!r} is neither a JSON object nor a readable JSON file ({exc})") from None
    try:
        d = json.loads(src)
    except ValueError as exc:
        raise ValueError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{name}: expected a JSON object of ConvConfig fields, got {type(d).__name__}")
    passes = sorted(k for k in d if k in ("epochs1", "epochs2", "epochs3"))
    if passes:
        raise ValueError(f"{name}: {', '.join(passes)}: give the passes with --conv-epochs E1,E2,E3")
    try:
        ConvConfig.from_dict(d)  # unknown fields and bad values fail here, naming the field
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None
    return d


def conv_config(epochs: tuple[int, int, int], overrides: dict[str, Any] | None = None) -> ConvConfig:
    """:class:`ConvConfig` (defaults: SpykeTorch ``MozafariDeep.py``) with the fields of ``overrides`` and the passes
    of ``epochs`` = (conv 1, conv 2, decision layer)."""
    e1, e2, e3 = epochs
    return dataclasses.replace(ConvConfig.from_dict(dict(overrides or {})), epochs1=e1, epochs2=e2, epochs3=e3)


def conv_rule(path: str | Path | None) -> Any:
    """The fitted trace rule of ``--rule PATH`` for the conv network (a ``spinsyn-rule`` JSON: the bi-sigmoid fit;
    a device sweep HDF5: the device's own p_up − p_down), or None without a path. The file is checked here
    (one-line ``--rule: …`` errors); its table is built when training starts, at ``ConvConfig.rule_dt_ms``."""
    if path is None:
        return None
    from ..config import _rule_file  # lazy: startup
    from ..rules import rule_from_dict  # lazy: startup

    return rule_from_dict({"name": "trace", **_rule_file(path)})


def is_conv_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` is a folder holding a conv network (``conv.npz``)."""
    return (Path(run_dir) / CONV_NET_NAME).is_file()


def _train(config: ConvConfig, X: Any, y: Any, *, device: str, **kw: Any) -> Any:
    """:func:`.network.train_conv` on "cpu", :func:`.torch_train.train_conv_torch` on a CUDA device."""
    if device == "cpu":
        from .network import train_conv  # lazy: startup

        return train_conv(config, X, y, **kw)
    from .torch_train import train_conv_torch  # lazy: optional

    return train_conv_torch(config, X, y, device=device, **kw)


#: seconds of R-STDP between two checkpoints of a run's network (``RUN/conv.npz``; an interrupted run loses at most
#: that much and continues with ``spinsyn train --resume RUN``)
CHECKPOINT_EVERY_S = 60.0


class _Checkpoint:
    """``on_epoch`` hook: after an R-STDP pass, write the network (with its R-STDP state) to ``RUN/conv.npz``
    atomically when ``every_s`` seconds have passed since the last write (the last pass is written by the caller);
    :meth:`stdp_pass`: the same after a conv 1-2 pass."""

    def __init__(self, run_dir: Path, run_options: dict[str, Any], every_s: float | None = None) -> None:
        self.run_dir, self.every_s = run_dir, CHECKPOINT_EVERY_S if every_s is None else every_s
        self.run_options = run_options  # what a resumed run continues with (history["run_options"])
        self.last = time.monotonic()

    def __call__(self, done: int, net: Any, train_acc: float) -> None:
        net.history["run_options"] = self.run_options
        if done < net.config.epochs3:
            self._save(net)

    def stdp_pass(self, net: Any) -> None:
        self._save(net)

    def _save(self, net: Any) -> None:
        from spinsyn.fileio import atomic_path  # lazy: startup

        from .network import save_conv  # lazy: startup

        net.history["run_options"] = self.run_options
        if time.monotonic() - self.last < self.every_s:
            return
        with atomic_path(self.run_dir / CONV_NET_NAME) as tmp:
            save_conv(net, tmp)
        self.last = time.monotonic()


def train_conv_run(run_dir: str | Path, *, config: ConvConfig, synapse: str, n_train: int, n_test: int, seed: int,
                   data_dir: str | None = None, log: Callable[[str], None] | None = None,
                   rule: str | Path | None = None, dataset: str = "mnist", device: str | None = None,
                   compute_device: str = "cpu") -> dict[str, Any]:
    """Train the conv network on the first ``n_train`` training images of ``dataset`` (``"mnist"``,
    ``"fashion-mnist"``: :func:`spinsyn.mnist.load_mnist`; recorded in the metrics as ``dataset``), test it on the
    first ``n_test`` test images (0: not measured) and write the run folder ``run_dir`` (module docstring). Returns
    the metrics (also in ``metrics.json``): ``accuracy`` (fraction correct, silent = wrong; None without test images),
    ``silent`` fraction, ``n_train``, ``n_test``, ``train_time_s``, ``test_time_s``, ``wall_time_s`` (s), the
    R-STDP ``train_accuracy`` per pass, ``timing`` per phase (s), ``synapse``, ``seed``, ``config``
    (:meth:`ConvConfig.to_dict`), ``rule`` (the fitted rule's record, None for the papers' rule). ``log``: one line
    per pass. ``rule``: a rule JSON or device sweep shaping the STDP of conv 1-2 (:func:`conv_rule`). ``device``: a
    device preset name or device file (``--device-preset`` / ``--device-model``) the synapses are built on (its record
    is stored in ``conv.npz``, so export programs that device). ``compute_device``: "cpu" (the numba path,
    :func:`.network.train_conv`) or a CUDA device ("cuda", "cuda:N": :func:`.torch_train.train_conv_torch`, the
    forward caches and R-STDP batched on the GPU; recorded as ``device``). The folder is checked first; an error
    leaves nothing behind. During training (conv 1-2 and R-STDP) the network is checkpointed to ``conv.npz`` every
    :data:`CHECKPOINT_EVERY_S`: an interrupted run (SIGINT, SIGTERM) keeps it, and :func:`resume_conv_run` finishes
    it (a folder with ``metrics.json`` holds a finished run)."""
    from spinsyn.locks import folder_lock  # lazy: startup
    from spinsyn.mnist import load_mnist  # lazy: startup

    from ..trainer import _removed_on_error, check_run_dir  # lazy: startup

    run_dir = Path(run_dir)
    synapse = check_conv_synapse(synapse)
    dataset = TRAIN_OPTIONS["dataset"].check(dataset, "dataset")
    learning_rule = conv_rule(rule)
    from ..synapses import make_synapse  # lazy: startup

    syn: Any = make_synapse(synapse, device) if device else synapse  # a preset or device file (--device-model)
    if learning_rule is not None:
        learning_rule.compile(config.rule_dt_ms)  # a rule that does not fit the latency steps fails before any work
    check_run_dir(run_dir, False)
    t_start = time.perf_counter()
    with folder_lock(run_dir, "--out"):
        check_run_dir(run_dir, False)  # again, now that no other writer can change it
        with _removed_on_error(run_dir, enabled=True):
            X, y = load_mnist("train", data_dir, n=n_train, dataset=dataset)
            t0 = time.perf_counter()
            opts = {"synapse": synapse, "n_test": int(n_test), "dataset": dataset,
                    "data_dir": str(Path(data_dir).resolve()) if data_dir else None}
            ck = _Checkpoint(run_dir, opts)
            net = _train(config, X, y, seed=seed, synapse=syn, log=log, rule=learning_rule, device=compute_device,
                         on_epoch=ck, on_stdp_pass=ck.stdp_pass)
            net.history["run_options"] = opts
            return _finish(run_dir, net, n_train=len(X), t_train=time.perf_counter() - t0, t_start=t_start,
                           compute_device=compute_device)


def _finish(run_dir: Path, net: Any, *, n_train: int, t_train: float, t_start: float,
            compute_device: str) -> dict[str, Any]:
    """Test the trained ``net`` on the run's test images and write ``conv.npz`` then ``metrics.json``."""
    from spinsyn.fileio import atomic_path, write_json  # lazy: startup
    from spinsyn.mnist import load_mnist  # lazy: startup

    from ..trainer import METRICS_FORMAT, METRICS_VERSION  # lazy: startup
    from .network import evaluate_conv, save_conv  # lazy: startup

    hist = net.history
    opts = hist["run_options"]
    n_test, dataset, data_dir = opts["n_test"], opts["dataset"], opts["data_dir"]
    test = load_mnist("test", data_dir, n=n_test, dataset=dataset) if n_test > 0 else None
    t0 = time.perf_counter()
    res = evaluate_conv(net, *test) if test is not None else None
    t_test = time.perf_counter() - t0
    metrics: dict[str, Any] = {
        "network": "conv",
        "accuracy": None if res is None else res["accuracy"],
        "silent": None if res is None else res["silent"],
        "n_train": int(n_train),
        "n_test": 0 if res is None else int(res["n"]),
        "train_time_s": t_train,
        "test_time_s": t_test,
        "wall_time_s": time.perf_counter() - t_start,
        "train_accuracy": [float(a) for a in hist.get("train_accuracy", [])],
        "timing": hist.get("timing", {}),
        "synapse": opts["synapse"],
        "seed": int(hist["seed"]),
        "data_dir": data_dir,
        "dataset": dataset,
        "network_file": CONV_NET_NAME,
        "config": net.config.to_dict(),
        "rule": hist.get("rule"),
        "device": compute_device,
        "resumed": hist.get("resumed", []),
    }
    with atomic_path(run_dir / CONV_NET_NAME) as tmp:
        save_conv(net, tmp)
    write_json(run_dir / "metrics.json", metrics, fmt=METRICS_FORMAT, version=METRICS_VERSION, seed=int(hist["seed"]))
    return metrics


def check_conv_resume(run_dir: str | Path, epochs: tuple[int, int, int] | None) -> Any:
    """The network of the conv run ``run_dir`` that ``--resume`` continues (to the E3 of ``epochs``, None: the
    run's own); ValueError ``--resume: …`` / ``--conv-epochs: …`` when it cannot be (no network, one saved before
    runs were resumable, other conv 1-2 passes, fewer R-STDP passes than done)."""
    from .network import load_conv  # lazy: startup
    from .resume import resumable_passes  # lazy: startup

    path = Path(run_dir) / CONV_NET_NAME
    if not path.is_file():
        raise ValueError(f"--resume: {run_dir}: no {CONV_NET_NAME} (not a conv run written by 'spinsyn train')")
    try:
        net = load_conv(path)
        done = resumable_passes(net)
    except (KeyError, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"--resume: {path}: {exc}") from None
    if "run_options" not in net.history:
        raise ValueError(f"--resume: {path}: not written by 'spinsyn train' (no run options to continue with)")
    c = net.config
    if epochs is not None:
        if epochs[:2] != (c.epochs1, c.epochs2):
            raise ValueError(f"--conv-epochs: the run trained conv 1-2 for {c.epochs1},{c.epochs2} passes; a resumed "
                             f"run can only change the R-STDP passes (give {c.epochs1},{c.epochs2},E3)")
        if epochs[2] < done:
            raise ValueError(f"--conv-epochs: E3 = {epochs[2]} is below the {done} R-STDP passes the run has done")
    return net


def resume_conv_run(run_dir: str | Path, *, epochs3: int | None = None, data_dir: str | None = None,
                    log: Callable[[str], None] | None = None, compute_device: str = "cpu") -> dict[str, Any]:
    """Continue the conv run ``run_dir`` (interrupted, or finished and given more passes) up to ``epochs3`` R-STDP
    passes (None: the run's own ``epochs3``) on the training images it was trained on (``data_dir``: where they are,
    None: the folder recorded in the run), checkpointing as :func:`train_conv_run`, then test and write the
    metrics as it does. The result equals a run that never stopped (:func:`.resume.resume_conv`); the files of
    the run are never removed."""
    from spinsyn.locks import folder_lock  # lazy: startup
    from spinsyn.mnist import load_mnist  # lazy: startup

    from ..trainer import _removed_on_error  # lazy: startup
    from .resume import resume_conv  # lazy: startup

    run_dir = Path(run_dir)
    t_start = time.perf_counter()
    with folder_lock(run_dir, "--resume"):
        net = check_conv_resume(run_dir, None)
        with _removed_on_error(run_dir, enabled=False):
            opts = net.history["run_options"]
            if data_dir is not None:
                opts["data_dir"] = str(Path(data_dir).resolve())
            X, y = load_mnist("train", opts["data_dir"], n=int(net.history["n_train"]), dataset=opts["dataset"])
            t0 = time.perf_counter()
            ck = _Checkpoint(run_dir, opts)
            resume_conv(net, X, y, epochs3=net.config.epochs3 if epochs3 is None else epochs3, log=log,
                        on_epoch=ck, backend=_backend(compute_device), on_stdp_pass=ck.stdp_pass)
            return _finish(run_dir, net, n_train=len(X), t_train=time.perf_counter() - t0, t_start=t_start,
                           compute_device=compute_device)


def _backend(compute_device: str) -> Any:
    if compute_device == "cpu":
        from .network import CPU_BACKEND  # lazy: startup

        return CPU_BACKEND
    from .torch_train import torch_backend  # lazy: optional

    return torch_backend(compute_device)


def conv_run_dataset(run_dir: str | Path) -> str:
    """The dataset a conv run was trained on: ``dataset`` of its ``metrics.json`` (``"mnist"`` for a run written
    before the key existed, or without a readable metrics.json); ValueError for a value ``--dataset`` does not
    know."""
    from spinsyn.fileio import read_json  # lazy: startup

    path = Path(run_dir) / "metrics.json"
    try:
        dataset = read_json(path).get("dataset", "mnist") if path.is_file() else "mnist"
    except ValueError:
        dataset = "mnist"
    return TRAIN_OPTIONS["dataset"].check(dataset, f"{path}: dataset")


def evaluate_conv_run(run_dir: str | Path, n_test: int, data_dir: str | None = None,
                      dataset: str | None = None) -> dict[str, Any]:
    """Test the conv network of ``run_dir`` on the first ``n_test`` test images of ``dataset`` (None: the run's,
    :func:`conv_run_dataset`): ``{"accuracy", "silent", "n_test", "test_samples_per_s", "dataset"}``
    (:func:`~spinsyn.snn.conv.evaluate_conv`)."""
    from spinsyn.mnist import load_mnist  # lazy: startup

    from .network import evaluate_conv, load_conv  # lazy: startup

    dataset = conv_run_dataset(run_dir) if dataset is None else dataset
    net = load_conv(Path(run_dir) / CONV_NET_NAME)
    X, y = load_mnist("test", data_dir, n=n_test, dataset=dataset)
    t0 = time.perf_counter()
    r = evaluate_conv(net, X, y)
    dt = time.perf_counter() - t0
    return {"accuracy": r["accuracy"], "silent": r["silent"], "n_test": r["n"],
            "test_samples_per_s": r["n"] / max(dt, 1e-9), "dataset": dataset}
