"""The ``spinsyn`` command line.

Each stage registers its own commands (``<stage>/cli.py: register(subparsers)``); the core adds
``doctor``, ``data`` and ``pipeline``. Errors that come from bad input (``ValueError``, including
:class:`spinsyn.fileio.SpinsynFileError`) are printed as one line ``spinsyn: error: ...`` with exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    """The full ``spinsyn`` parser with every stage's commands."""
    parser = argparse.ArgumentParser(
        prog="spinsyn",
        description=(
            "Spintronic synapse co-simulation: SPICE device sweeps -> learning-rule fits -> "
            "hardware-aware SNN training -> chip programming files."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spinsyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # every stage ships with the core: their commands, in pipeline order
    from spinsyn.devices import cli as devices_cli
    from spinsyn.fitting import cli as fitting_cli
    from spinsyn.hw_export import cli as hw_export_cli
    from spinsyn.snn import cli as snn_cli

    from . import doctor, pipeline
    from .study import cli as study_cli

    for stage_cli in (devices_cli, fitting_cli, snn_cli, hw_export_cli):
        stage_cli.register(sub)
    doctor.register(sub)
    _register_data(sub)
    pipeline.register(sub)
    study_cli.register(sub)
    return parser


def _register_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: locate or download MNIST")
    dsub = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    m = dsub.add_parser("mnist", help="show where MNIST is read from, or download it into the cache")
    m.add_argument("--download", action="store_true", help="download the full set (sha256-verified)")
    m.add_argument("--dest", default=None, help="download folder (default: the user cache)")
    m.add_argument("--data-dir", default=None, help="folder to check instead of the lookup order")
    m.set_defaults(func=_cmd_data_mnist)


def _cmd_data_mnist(args: argparse.Namespace) -> int:
    from . import mnist

    if args.download:
        dest = mnist.download_mnist(args.dest)
        print(f"MNIST downloaded and verified in {dest}")
        return 0
    for split in ("train", "test"):
        src = mnist.resolve_mnist_dir(args.data_dir, split)
        images, _ = mnist.load_mnist(split, args.data_dir)
        print(f"{split}: {len(images)} images from {src.folder} ({src.origin})")
    return 0


def _sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like SIGINT (temporary files removed, worker pools shut down), exit 143."""
    raise SystemExit(128 + signum)


def _os_error_line(exc: OSError) -> str:
    """``<file>: <problem>`` of an OSError (a write that failed despite the checks, a vanished file)."""
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {exc.strerror or exc}" if where else str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spinsyn`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import signal
    import threading

    args.console_script = argv is None  # only the console script may leave signals ignored once its work is done
    if argv is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("spinsyn: interrupted", file=sys.stderr)
        return 130
    except ValueError as exc:  # bad input; SpinsynFileError and FolderLockedError are ValueErrors
        print(f"spinsyn: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # known operational failures get one line, the rest a traceback
        from spinsyn.devices.spice import SpiceConvergenceError

        from .ngspice import NgspiceMissingError, NgspiceSimulationError

        if isinstance(exc, (NgspiceMissingError, NgspiceSimulationError, SpiceConvergenceError)):
            print(f"spinsyn: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError):  # FileNotFoundError, PermissionError, IsADirectoryError, ENOSPC ...
            print(f"spinsyn: error: {_os_error_line(exc)}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
