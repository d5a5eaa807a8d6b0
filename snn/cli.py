"""``spinsyn train`` and ``spinsyn eval`` (registered by the core dispatcher)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from spinsyn.options import CONV_OPTIONS, DATASET, LC_OPTIONS, LC_UNREAD, TRAIN_OPTIONS, parse_device_params


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval`` to the ``spinsyn`` command line."""
    p = subparsers.add_parser("train", help="train the Diehl & Cook network with hardware-aware synapses",
                              description="Unsupervised STDP training on MNIST (Diehl & Cook 2015 as in BindsNET), "
                                          "then label assignment and test. Writes RUN_DIR/checkpoint.pt, "
                                          "metrics.json and plots. --network conv: convolutional STDP with an "
                                          "R-STDP decision layer (Mozafari et al. 2019; issue 27), writes "
                                          "RUN_DIR/conv.npz and metrics.json. --network lc: locally connected "
                                          "(Saunders et al. 2019), the Diehl & Cook engine with k x k input patches "
                                          "and inhibition per location; writes what dc writes.")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory to write (required unless --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    TRAIN_OPTIONS.add_arguments(p)  # every training option: flag, type, default, help from spinsyn.options
    p.add_argument("--device-param", dest="device_params", action="append", default=None, metavar="K=V",
                   help=TRAIN_OPTIONS["device_params"].help)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # what --resume refuses to be combined with: every option left at its default here
    p.set_defaults(func=cmd_train, train_defaults={a.dest: a.default for a in p._actions
                                                    if a.dest not in ("help", "resume", "quiet")})

    e = subparsers.add_parser("eval", help="test a trained run on MNIST")
    e.add_argument("run_dir", metavar="RUN_DIR", help="snn run directory ('spinsyn train --out')")
    e.add_argument("--n-test", type=int, default=10000, help="MNIST test images (default 10000)")
    e.add_argument("--data-dir", default=None, help="MNIST folder (default: spinsyn lookup order, see 'spinsyn "
                   "data mnist')")
    DATASET.add_to(e, default=None, help="images to test on: mnist or fashion-mnist (default: the dataset the run "
                   "was trained on, recorded in its config and metrics.json)")
    e.add_argument("--device", default="auto",
                   help="torch device: auto (default: cuda when available), cpu, cuda or cuda:N")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--assign", type=int, default=None, metavar="N",
                   help="first assign labels on N training images (learning off) and store them in the run "
                        "(runs imported without labels)")
    e.set_defaults(func=cmd_eval)
    from .import_cli import register_import  # lazy: startup

    register_import(subparsers)


def config_from_args(args: argparse.Namespace):
    """Build and validate a TrainConfig from parsed CLI options (:func:`spinsyn.snn.make_config`)."""
    from .config import make_config  # lazy: startup

    return make_config(**{n: getattr(args, n) for n in TRAIN_OPTIONS.cli_names()},
                       device_params=parse_device_params(getattr(args, "device_params", None)))


def _check_data(data_dir: str | None, n_train: int, n_test: int, dataset: str = "mnist") -> None:
    from spinsyn.mnist import resolve_mnist_dir  # lazy: startup

    for split, n in (("train", n_train), ("test", n_test)):
        if n > 0:
            resolve_mnist_dir(data_dir, split, dataset)  # raises naming the folder when the data are not there


def _check_resume_alone(args: argparse.Namespace) -> None:
    """``--resume RUN_DIR`` continues the run with the options stored in its checkpoint: any other option given
    would be ignored, so it is refused, naming it."""
    defaults = getattr(args, "train_defaults", {}) or {}
    given = [d for d, v in defaults.items() if getattr(args, d, v) != v]
    if given:
        names = ", ".join(TRAIN_OPTIONS[d].cli if d in TRAIN_OPTIONS else "--" + d.replace("_", "-") for d in given)
        raise ValueError(f"--resume: {names} cannot be combined with --resume (a resumed run keeps the options "
                         f"stored in {args.resume}/checkpoint.pt); drop {names} or start a new run with --out")


def _note_rule_device(cfg) -> None:
    """One stderr note when the named device replaces the device the --rule file was fitted on."""
    from .config import rule_device_note  # lazy: startup

    note = rule_device_note(cfg)
    if note:
        print(f"spinsyn: note: {note}", file=sys.stderr)


def _rule_text(rule: dict) -> str:
    """Which learning rule a run uses: its file with sha256 (12 hex), or the published bi-sigmoid."""
    if rule.get("name") == "postpre":
        return "BindsNET PostPre (no rule file)"
    path = rule.get("rule_path") or rule.get("sweep_path")
    if not path:
        return "published bi-sigmoid (spinsyn.fitting.published_rule)"
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:
        digest = "unreadable"
    what = "device sweep" if rule.get("sweep_path") else "rule file"
    return f"{what} {Path(path).name} (sha256 {digest})"


def _device_text(cfg) -> str:
    """Which device a run's synapses are programmed on: a preset with its source, a device file's label, or the
    device stored in the --rule file; with the --device-param overrides."""
    from spinsyn.devices import PRESETS, SynapseSpec, is_device_file, read_device_file  # lazy: startup
    from spinsyn.devices.synapse import DEFAULT_PRESET  # lazy: startup

    from .config import _rule_device  # lazy: startup

    preset = cfg.device_preset
    rule_dev = _rule_device(cfg) if preset is None else None
    if rule_dev is not None:
        text = f"the device stored in {Path(rule_dev['path']).name}"
    elif preset is not None and is_device_file(preset):
        try:
            text = f"device file {read_device_file(preset).label}"
        except ValueError:
            text = f"device file {Path(preset).name}"
    else:
        spec = SynapseSpec.parse(cfg.synapse)
        name = preset or DEFAULT_PRESET[spec.kind]
        text = f"preset {name} [source: {PRESETS[name][1]}]" if name in PRESETS else f"preset {name}"
        text += f", {spec.n} MTJs per synapse (--synapse {spec})" if spec.kind == "compound" else ""
    params = cfg.device_params or {}
    return text + (f" with --device-param {', '.join(f'{k}={v}' for k, v in params.items())}" if params else "")


def start_line(cfg) -> str:
    """The line ``spinsyn train`` prints before training: synapse, rule and device of the run (and the geometry of a
    locally connected network)."""
    from .lc import geometry_of  # lazy: startup

    geo = geometry_of(cfg.network)
    net = "" if geo is None else (f"network lc ({geo.kernel}x{geo.kernel} patches, stride {geo.stride}, crop "
                                  f"{geo.crop}: {geo.n_locations} locations x {geo.filters} filters = "
                                  f"{geo.n_neurons} neurons); ")
    return f"train: {net}synapse {cfg.synapse}; rule: {_rule_text(cfg.rule)}; device: {_device_text(cfg)}"


def _threads_text(m: dict) -> str:
    """``, 2 threads; auto: 1.93 cores free (…), …`` for a numba run's metrics, else ``""``."""
    t = m.get("threads") or {}
    if not t.get("used"):
        return ""
    return f", {t['used']} thread{'s' if t['used'] > 1 else ''}; {t['reason']}"


#: the flag of a train destination whose flag is not its table entry's
_FLAGS = {"device_params": "--device-param"}
#: the options only a --network conv run reads
_CONV_ONLY = ("conv_epochs", "conv_config")


def _flag(dest: str) -> str:
    return _FLAGS.get(dest) or (TRAIN_OPTIONS[dest].cli if dest in TRAIN_OPTIONS else "--" + dest.replace("_", "-"))


def _network_of_option(dest: str) -> str | None:
    """The networks that read train option ``dest`` when not all do: ``"conv"``, ``"lc"``, ``"dc"`` or
    ``"dc or lc"`` (the options of the Diehl & Cook engine, which the LC network shares); None for an option every
    network reads."""
    if dest in _CONV_ONLY:
        return "conv"
    if dest in LC_OPTIONS:
        return "lc"
    if dest in LC_UNREAD:
        return "dc"
    return None if dest in CONV_OPTIONS else "dc or lc"


def _check_network_options(args: argparse.Namespace) -> None:
    """Refuse, before any work, an option given with a value other than its default that the chosen ``--network``
    does not read: ``<option>: applies to --network dc only`` (or ``conv``, ``lc``, ``dc or lc``), naming the first
    one (an option of the shared D&C engine: ``applies to --network dc only (and lc)``)."""
    defaults = getattr(args, "train_defaults", {}) or {}
    kind = getattr(args, "network_kind", "dc")
    conv = kind == "conv"
    if conv and args.resume:
        raise ValueError("--resume: give the run folder alone: 'spinsyn train --resume RUN' (a conv run continues "
                         "with the options stored in RUN/conv.npz; --conv-epochs E1,E2,E3 may raise E3)")
    for dest, default in defaults.items():
        if getattr(args, dest, default) == default or dest == "out":
            continue
        readers = _network_of_option(dest)
        if readers is not None and kind not in readers.split(" or "):
            text = "dc only (and lc)" if readers == "dc or lc" else f"{readers} only"
            raise ValueError(f"{_flag(dest)}: applies to --network {text}")


def _cmd_train_conv(args: argparse.Namespace) -> int:
    """``spinsyn train --network conv``: every option checked, then the folder and the data, then the work
    (:func:`spinsyn.snn.conv.run.train_conv_run`)."""
    from .conv.run import (  # lazy: startup
        check_conv_synapse,
        conv_config,
        conv_rule,
        parse_conv_config,
        parse_conv_epochs,
        train_conv_run,
    )
    from .trainer import check_run_dir  # lazy: startup

    if not args.out:
        raise ValueError("--out RUN_DIR is required")
    synapse = check_conv_synapse(args.synapse)
    epochs = parse_conv_epochs(args.conv_epochs)
    for name in ("n_train", "n_test", "seed"):
        TRAIN_OPTIONS[name].check(getattr(args, name), optional=False)
    config = conv_config(epochs, parse_conv_config(args.conv_config))
    from .config import _device_preset, resolve_device  # lazy: startup

    device = _device_preset(args.device_preset, args.device_model)  # a preset name or a device file's path
    compute = resolve_device(args.device)  # cpu: the numba path; cuda[:i]: the torch path (snn/conv/torch_train.py)
    rule = conv_rule(args.rule)
    if rule is not None:
        rule.compile(config.rule_dt_ms)  # a rule that does not fit the latency steps: one line, before any work
    run_dir = Path(args.out)
    check_run_dir(run_dir, False)
    _check_data(args.data_dir, args.n_train, args.n_test, args.dataset)
    rule_text = f"rule {args.rule} for conv 1-2" if args.rule else "the papers' STDP"
    print(f"train: network conv (Mozafari et al. 2019, spinsyn.snn.conv); synapse {synapse}; {rule_text}; passes "
          f"{','.join(map(str, epochs))} (conv 1, conv 2, R-STDP); {args.n_train} training images; on {compute}",
          flush=True)
    quiet = getattr(args, "quiet", False)
    m = train_conv_run(run_dir, config=config, synapse=synapse, n_train=args.n_train, n_test=args.n_test,
                       seed=args.seed, data_dir=args.data_dir, dataset=args.dataset, rule=args.rule, device=device,
                       compute_device=compute, log=None if quiet else (lambda s: print(s, flush=True)))
    _print_conv_result(m, run_dir)
    return 0


#: options a resumed conv run reads (every other one is stored in its conv.npz)
_CONV_RESUME_OPTIONS = ("conv_epochs", "data_dir", "device", "quiet", "network_kind")


def _cmd_resume_conv(args: argparse.Namespace) -> int:
    """``spinsyn train --resume RUN`` of a conv run: the options checked, then
    :func:`spinsyn.snn.conv.run.resume_conv_run` (up to E3 of ``--conv-epochs``, else the run's own passes)."""
    from spinsyn.locks import check_unlocked  # lazy: startup
    from spinsyn.validation import check_writable_dir  # lazy: startup

    from .config import resolve_device  # lazy: startup
    from .conv.resume import resumable_passes, resume_point  # lazy: startup
    from .conv.run import check_conv_resume, parse_conv_epochs, resume_conv_run  # lazy: startup

    defaults = getattr(args, "train_defaults", {}) or {}
    given = [d for d, v in defaults.items() if d not in _CONV_RESUME_OPTIONS and getattr(args, d, v) != v]
    if given:
        names = ", ".join(TRAIN_OPTIONS[d].cli if d in TRAIN_OPTIONS else "--" + d.replace("_", "-") for d in given)
        raise ValueError(f"--resume: {names} cannot be combined with --resume of a conv run (it keeps the options "
                         f"stored in {args.resume}/conv.npz; only --conv-epochs, --data-dir, --device may be given)")
    if getattr(args, "network_kind", "conv") not in ("dc", "conv"):  # dc: the default, not given
        raise ValueError(f"--network: {args.resume} is a conv run; drop --network or give --network conv")
    run_dir = check_writable_dir(args.resume, "--resume")
    check_unlocked(run_dir, "--resume")
    given_epochs = args.conv_epochs != defaults.get("conv_epochs", args.conv_epochs)
    epochs = parse_conv_epochs(args.conv_epochs) if given_epochs else None
    net = check_conv_resume(run_dir, epochs)
    compute = resolve_device(args.device)
    opts = net.history["run_options"]
    _check_data(args.data_dir or opts["data_dir"], int(net.history["n_train"]), int(opts["n_test"]), opts["dataset"])
    e3 = net.config.epochs3 if epochs is None else epochs[2]
    done = resumable_passes(net)
    if e3 == done and (run_dir / "metrics.json").is_file():
        raise ValueError(f"--resume: {run_dir} is a finished conv run ({done} of {e3} R-STDP passes); give "
                         f"--conv-epochs {net.config.epochs1},{net.config.epochs2},E3 with E3 > {done} to continue it")
    print(f"train: resuming conv run {run_dir} at {resume_point(net)} (R-STDP to pass {e3}); synapse "
          f"{opts['synapse']}; on {compute}", flush=True)
    quiet = getattr(args, "quiet", False)
    m = resume_conv_run(run_dir, epochs3=e3, data_dir=args.data_dir, compute_device=compute,
                        log=None if quiet else (lambda s: print(s, flush=True)))
    _print_conv_result(m, run_dir)
    return 0


def _print_conv_result(m: dict, run_dir: Path) -> None:
    acc = ("not measured (--n-test 0)" if m["accuracy"] is None else
           f"{100 * m['accuracy']:.2f} % ({m['n_test']} images, {100 * m['silent']:.1f} % silent)")
    print(f"test accuracy: {acc}; train {m['train_time_s']:.1f} s, test {m['test_time_s']:.1f} s, wall "
          f"{m['wall_time_s']:.1f} s; run in {run_dir}")


def cmd_train(args: argparse.Namespace) -> int:
    from .checkpoint import CHECKPOINT_NAME, read_checkpoint  # lazy: startup
    from .config import TrainConfig, resolve_device, resolve_engine  # lazy: startup
    from .conv.run import is_conv_run  # lazy: startup
    from .trainer import check_run_dir, train  # lazy: startup

    if args.resume and is_conv_run(args.resume) and not (Path(args.resume) / CHECKPOINT_NAME).exists():
        return _cmd_resume_conv(args)
    _check_network_options(args)
    if getattr(args, "network_kind", "dc") == "conv":
        return _cmd_train_conv(args)
    if args.resume:
        _check_resume_alone(args)
        check_run_dir(Path(args.resume), True)
        ck = read_checkpoint(Path(args.resume))
        cfg = TrainConfig.from_json(ck["config_json"])
        run_dir = Path(args.resume)
        resume = True
    else:
        if not args.out:
            raise ValueError("--out RUN_DIR is required (or --resume RUN_DIR)")
        cfg = config_from_args(args)
        _note_rule_device(cfg)
        run_dir = Path(args.out)
        resume = False
    check_run_dir(run_dir, resume)
    resolve_engine(cfg.engine, resolve_device(cfg.device))
    _check_data(cfg.data_dir, cfg.n_train, cfg.n_test, cfg.dataset)
    print(start_line(cfg), flush=True)  # also with --quiet (which only hides the progress bar)
    m = train(cfg, run_dir, resume=resume, progress=not getattr(args, "quiet", False))
    acc = ("not measured (--n-test 0)" if m["accuracy_all_activity"] is None else
           f"all activity {100 * m['accuracy_all_activity']:.2f} %, proportion weighting "
           f"{100 * m['accuracy_proportion']:.2f} % ({m['n_test']} images)")
    print(f"test accuracy: {acc}; train {m['train_samples_per_s']:.0f} "
          f"samples/s, test {m['test_samples_per_s']:.0f} samples/s on {m['device']} "
          f"({m['engine']}{_threads_text(m)}); run in {run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from spinsyn.mnist import load_mnist  # lazy: startup

    from .checkpoint import CHECKPOINT_NAME, read_checkpoint  # lazy: startup
    from .config import TrainConfig  # lazy: startup
    from .conv.run import is_conv_run  # lazy: startup
    from .network import evaluate, load_run  # lazy: startup

    if args.n_test < 1:
        raise ValueError(f"--n-test: expected a positive integer, got {args.n_test}")
    if is_conv_run(args.run_dir) and not (Path(args.run_dir) / CHECKPOINT_NAME).exists():
        return _eval_conv(args)
    ck = read_checkpoint(args.run_dir)  # a missing or foreign file fails here, before the network code loads
    dataset = args.dataset or TrainConfig.from_json(ck["config_json"]).dataset  # default: the run's
    _check_data(args.data_dir, args.assign or 0, args.n_test, dataset)
    if args.assign is not None:
        from .assign import assign_run_labels  # lazy: startup

        a = assign_run_labels(args.run_dir, args.assign, args.data_dir, args.device, dataset=dataset)
        print(f"{args.run_dir}: labels assigned on {a['n_assign']} training images and stored in the run")
    elif "assignments" not in ck:
        raise ValueError(f"{args.run_dir}: the run has no label assignment; add --assign N (N training images)")
    net = load_run(args.run_dir)
    X, y = load_mnist("test", args.data_dir, n=args.n_test, dataset=dataset)
    res = evaluate(net, X, y, device=args.device)
    if args.json:
        print(json.dumps({k: v for k, v in res.items()} | {"dataset": dataset}, indent=2))
    else:
        print(f"{args.run_dir}: all activity {100 * res['accuracy_all_activity']:.2f} %, proportion weighting "
              f"{100 * res['accuracy_proportion']:.2f} % on {res['n_test']}{_dataset_text(dataset)} test images "
              f"({res['test_samples_per_s']:.0f} samples/s, {res['device']})")
    return 0


def _dataset_text(dataset: str) -> str:
    """`` Fashion-MNIST`` in an eval line of a run on another dataset than MNIST; ``""`` for MNIST (as before)."""
    return "" if dataset == "mnist" else " " + {"fashion-mnist": "Fashion-MNIST"}.get(dataset, dataset)


def _eval_conv(args: argparse.Namespace) -> int:
    """``spinsyn eval RUN`` of a conv run (``spinsyn train --network conv``): its network on ``--n-test`` images."""
    from .conv.run import conv_run_dataset, evaluate_conv_run  # lazy: startup

    if args.assign is not None:
        raise ValueError("--assign: applies to Diehl & Cook runs only (a conv run's decision layer has its classes)")
    dataset = args.dataset or conv_run_dataset(args.run_dir)  # default: the run's
    _check_data(args.data_dir, 0, args.n_test, dataset)
    res = evaluate_conv_run(args.run_dir, args.n_test, args.data_dir, dataset=dataset)
    if args.json:
        print(json.dumps({"network": "conv", **res}, indent=2))
    else:
        print(f"{args.run_dir}: conv network {100 * res['accuracy']:.2f} % ({100 * res['silent']:.1f} % silent) on "
              f"{res['n_test']}{_dataset_text(dataset)} test images ({res['test_samples_per_s']:.0f} samples/s, cpu)")
    return 0
