"""The ``spinsyn`` command line.

Each stage registers its own commands (``<stage>/cli.py: register(subparsers)``); the core adds
``doctor``, ``data`` and ``pipeline``. Startup is kept short: ``--version`` is answered before any parser is built,
a command line naming a command builds only that command's parser, and building a parser imports no stage code (the
stage packages load their contents on first use, ``spinsyn.lazyimport.lazy_package``; each command's handler
imports its stage). Errors that come from bad input (``ValueError``, including
:class:`spinsyn.fileio.SpinsynFileError`) are printed as one line ``spinsyn: error: ...`` with exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__

#: (commands, the module whose ``register(subparsers)`` adds them; None: this module), in pipeline order (the order
#: of ``spinsyn --help``)
COMMANDS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("device",), "spinsyn.devices.cli"),
    (("fit",), "spinsyn.fitting.cli"),
    (("train", "eval", "import"), "spinsyn.snn.cli"),
    (("export",), "spinsyn.hw_export.cli"),
    (("doctor",), "spinsyn.doctor"),
    (("data",), None),
    (("pipeline",), "spinsyn.pipeline"),
    (("study",), "spinsyn.study.cli"),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``spinsyn`` parser with every stage's commands, or with only ``command``'s (what ``main`` builds for a
    command line that names one). Imports each stage's ``cli`` module, never the stage itself."""
    parser = argparse.ArgumentParser(
        prog="spinsyn",
        description=(
            "Spintronic synapse co-simulation: SPICE device sweeps -> learning-rule fits -> "
            "hardware-aware SNN training -> chip programming files."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spinsyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for names, module in COMMANDS:
        if command is not None and command not in names:
            continue
        if module is None:
            _register_data(sub)
        else:  # every stage ships with the core; its cli module imports no stage code
            importlib.import_module(module).register(sub)
    return parser


def _register_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: locate or download MNIST or Fashion-MNIST")
    dsub = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    for name, title, check in (("mnist", "MNIST", "sha256-verified"),
                               ("fashion-mnist", "Fashion-MNIST", "MD5-verified against the published checksums")):
        m = dsub.add_parser(name, help=f"show where {title} is read from, or download it into the cache")
        m.add_argument("--download", action="store_true", help=f"download the full set ({check})")
        m.add_argument("--dest", default=None, help="download folder (default: the user cache)")
        m.add_argument("--data-dir", default=None, help="folder to check instead of the lookup order")
        m.set_defaults(func=_cmd_data_mnist)


def _cmd_data_mnist(args: argparse.Namespace) -> int:
    """``spinsyn data mnist|fashion-mnist``: download (``--download``), or say where each split is read from."""
    from . import mnist  # lazy: startup

    dataset = getattr(args, "dataset", "mnist")
    title = mnist.dataset_spec(dataset).title
    if args.download:
        fetch = mnist.download_fashion_mnist if dataset == "fashion-mnist" else mnist.download_mnist
        dest = fetch(args.dest)
        print(f"{title} downloaded and verified in {dest}")
        return 0
    for split in ("train", "test"):
        src = mnist.resolve_mnist_dir(args.data_dir, split, dataset)
        images, _ = mnist.load_mnist(split, args.data_dir, dataset=dataset)
        print(f"{split}: {len(images)} images from {src.folder} ({src.origin})")
    return 0


class _Sigterm:
    """The interruption :func:`_sigterm` raised last; whether one swallowed by a finaliser is still pending."""

    exc: BaseException | None = None
    pending = False
    in_hook = False
    RETRY_S = 1e-3


def _sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like SIGINT (temporary files removed, worker pools shut down), exit 143."""
    _Sigterm.exc = SystemExit(128 + signal.SIGTERM)
    raise _Sigterm.exc


def _sigalrm(signum: int, frame: object) -> None:
    """Raise the SIGTERM exit a finaliser swallowed (the timer armed by the hook); nothing else uses SIGALRM."""
    if not _Sigterm.pending:
        return
    if _Sigterm.in_hook:
        signal.setitimer(signal.ITIMER_REAL, _Sigterm.RETRY_S)
        return
    _Sigterm.pending = False
    _sigterm(signal.SIGTERM, frame)


def _quiet_sigterm(prev: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An ``sys.unraisablehook`` for the interruption :func:`_sigterm` raised inside a finaliser (``__del__``, a
    weakref callback), where it cannot propagate and Python would print "Exception ignored ... SystemExit: 143":
    it is raised again a millisecond later (SIGALRM), where the exit can unwind. Anything else goes to ``prev``."""

    def hook(unraisable: Any) -> None:
        exc = getattr(unraisable, "exc_value", None)
        if exc is None or exc is not _Sigterm.exc:
            prev(unraisable)
            return
        _Sigterm.in_hook = True
        try:
            _Sigterm.pending = True
            signal.setitimer(signal.ITIMER_REAL, _Sigterm.RETRY_S)
        finally:
            _Sigterm.in_hook = False

    return hook


def install_sigterm() -> None:
    """SIGTERM -> ``SystemExit(143)`` in the main thread, quiet and still exiting when it lands in a finaliser."""
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGALRM, _sigalrm)
    sys.unraisablehook = _quiet_sigterm(sys.unraisablehook)


def _os_error_line(exc: OSError) -> str:
    """``<file>: <problem>`` of an OSError (a write that failed despite the checks, a vanished file)."""
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {exc.strerror or exc}" if where else str(exc)



def _interrupted(args: argparse.Namespace, code: int) -> int:
    """The exit code of an interrupted command. The console script leaves at once (``os._exit`` after flushing
    stdout and stderr): its temporary files, locks and worker pools were released while the interruption unwound,
    and interpreter teardown with native libraries interrupted mid-call (numba, HDF5) is where a signal can still
    turn into a crash (one SIGSEGV in ~40 SIGTERM tries during export seen by the test suite)."""
    if getattr(args, "console_script", False):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spinsyn`` console script. Returns the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["--version"]:  # answered before any parser is built, as argparse's own action does (exit 0)
        print(f"spinsyn {__version__}")
        raise SystemExit(0)
    known = {name for names, _ in COMMANDS for name in names}
    parser = build_parser(words[0] if words and words[0] in known else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2

    args.console_script = argv is None  # only the console script may leave signals ignored once its work is done
    if argv is None and threading.current_thread() is threading.main_thread():
        install_sigterm()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("spinsyn: interrupted", file=sys.stderr)
        return _interrupted(args, 130)
    except SystemExit as exc:  # SIGTERM (143): everything the command made is already cleaned up on the way here
        if exc.code == 128 + signal.SIGTERM:
            _interrupted(args, exc.code)
        raise
    except ValueError as exc:  # bad input; SpinsynFileError and FolderLockedError are ValueErrors
        print(f"spinsyn: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # known operational failures get one line, the rest a traceback
        from spinsyn.devices.spice import SpiceConvergenceError  # lazy: startup

        from .ngspice import NgspiceMissingError, NgspiceSimulationError  # lazy: startup

        if isinstance(exc, (NgspiceMissingError, NgspiceSimulationError, SpiceConvergenceError)):
            print(f"spinsyn: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError):  # FileNotFoundError, PermissionError, IsADirectoryError, ENOSPC ...
            print(f"spinsyn: error: {_os_error_line(exc)}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
