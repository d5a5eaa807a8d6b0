"""A signal during a lazy import of a compiled library must not leave it half-imported (CI failure of stop 31)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# A SIGTERM that lands exactly while h5py initialises its extension module h5py.h5f (a meta-path hook sends it),
# under a handler that raises like the CLI's; then the same process must still be able to open an HDF5 file.
_SCRIPT = r"""
import os, signal, sys, tempfile
def raising(signum, frame):
    raise SystemExit(143)
signal.signal(signal.SIGTERM, raising)

class Trip:
    def find_spec(self, name, path=None, target=None):
        if name == "h5py.h5o":  # imported by h5py.h5f while h5f initialises
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGTERM)
        return None
sys.meta_path.insert(0, Trip())

how = sys.argv[1]
try:
    if how == "plain":
        import h5py
    else:
        from spinsyn import fileio
        with fileio.atomic_h5(os.path.join(tempfile.mkdtemp(), "x.h5")) as f:
            f["a"] = [1, 2, 3]
except SystemExit as exc:
    print("interrupted", exc.code)
import h5py
with h5py.File(os.path.join(tempfile.mkdtemp(), "y.h5"), "w") as f:
    f["a"] = [1]
print("h5py usable")
"""


def _run(how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _SCRIPT, how], capture_output=True, text=True, timeout=120)


def test_plain_lazy_import_is_poisoned_by_a_signal() -> None:
    """The hazard is real: an interrupted ``import h5py`` breaks every later import in the process."""
    r = _run("plain")
    assert "interrupted 143" in r.stdout
    if r.returncode == 0:
        pytest.skip("this h5py build survives an interrupted import")
    assert "__reduce_cython__" in r.stderr or "Error" in r.stderr


def test_signal_during_lazy_h5py_import_is_delivered_after_it() -> None:
    """``fileio.atomic_h5`` imports h5py through ``import_uninterrupted``: the SIGTERM still ends the write (exit
    143 raised by the handler), but only after the import completed, so h5py stays usable."""
    r = _run("atomic_h5")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "interrupted 143" in r.stdout and "h5py usable" in r.stdout
