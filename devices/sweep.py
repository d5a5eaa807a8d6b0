"""Δt x trials sweeps with either engine, and the sweep HDF5 file ("spinsyn-sweep" v1)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.lazyimport import import_uninterrupted
from spinsyn.parallel import live_workers, open_client, parse_scheduler
from spinsyn.validation import check_choice, check_scalar

from .author import check_switching, run_author
from .models import PulseTestbench, conductance_S, g_bounds_S
from .records import model_record
from .reference import Draws, draw, run_reference

FORMAT, VERSION = "spinsyn-sweep", 1


@dataclass
class SweepResult:
    """Sweep datasets (P Δt points x T trials) and attributes (see docs/devices.md)."""

    dt_ms: np.ndarray
    g_before_S: np.ndarray
    g_after_S: np.ndarray
    switched_up: np.ndarray
    switched_down: np.ndarray
    model: dict[str, Any]
    testbench: dict[str, Any]
    engine: str
    seed: int
    g_min_S: float
    g_max_S: float
    n_mtj: int
    ngspice_version: int | None = None
    state_before: np.ndarray | None = None
    state_after: np.ndarray | None = None
    waveforms: list[dict[str, np.ndarray]] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    switching: str = "physical"

    @property
    def dg_norm(self) -> np.ndarray:
        """(g_after - g_before) / (g_max - g_min), shape (P, T)."""
        return (self.g_after_S - self.g_before_S) / (self.g_max_S - self.g_min_S)


def sweep(model, testbench: PulseTestbench, dt_ms, trials: int, engine: str = "reference", seed: int = 0,
          jobs: int = 1, save_waveforms: int = 0, progress: bool = False,
          netlist_dir: str | Path | None = None, switching: str = "physical", scheduler: str = "none") -> SweepResult:
    """Run the pulse testbench at every Δt (ms) for ``trials`` Monte-Carlo draws.

    Both engines consume the same draws (``reference.draw(model, P, T, seed)``), so with one seed the
    spice and reference results are comparable instance by instance. ``switching="author"`` (reference engine,
    gated STT-MTJ devices) emulates the published author's Verilog-A switching process instead of the hazard
    integral (``devices.author``; a simulator's numerical behaviour, not physics).

    ``scheduler`` (``spinsyn.parallel.parse_scheduler``): ``"none"`` runs here (``jobs`` ngspice processes for spice);
    ``"local:N"`` or ``"tcp://HOST:PORT"`` spreads the Monte-Carlo instances over dask workers in chunks of trials
    (the draws are made here from ``seed`` first, so the result is bit-identical to the in-process run).
    """
    dt = np.asarray(dt_ms, dtype=float).ravel()
    if dt.size == 0 or not np.all(np.isfinite(dt)) or np.any(dt < 0):
        raise ValueError(f"dt_ms: expected finite non-negative delays, got {dt_ms!r}")
    check_scalar(int(trials) if isinstance(trials, np.integer) else trials, "--trials", int, min_val=1,
                 max_val=10**6)
    check_scalar(jobs, "--jobs", int, min_val=1, max_val=1024)
    check_scalar(save_waveforms, "--save-waveforms", int, min_val=0)
    check_scalar(seed, "--seed", int, min_val=0, max_val=2**63 - 1)
    check_choice(engine, "--engine", ("reference", "spice"))
    check_switching(switching, model, engine)
    if scheduler != "none":
        parse_scheduler(scheduler)
        if save_waveforms:
            raise ValueError("--save-waveforms: only with --scheduler none (waveforms are kept by the process that "
                             "runs ngspice)")
    d = draw(model, dt.size, int(trials), seed)
    version = None
    waves: list[dict[str, np.ndarray]] = []
    if scheduler != "none":
        out, version = _run_distributed(model, testbench, dt, d, engine, switching, scheduler, progress)
    elif switching == "author":
        out = run_author(model, testbench, dt, d)
    elif engine == "reference":
        out = run_reference(model, testbench, dt, d)
    else:
        from . import spice  # lazy: startup

        out, waves, version = spice.run_spice(model, testbench, dt, d, jobs=jobs, save_waveforms=save_waveforms,
                                              progress=progress, netlist_dir=netlist_dir)
    st0, st1, up, down = model.sweep_states(d, out)
    v_read = testbench.v_read_V
    g_min, g_max = g_bounds_S(model, v_read)
    return SweepResult(
        dt_ms=dt, g_before_S=conductance_S(model, st0, v_read), g_after_S=conductance_S(model, st1, v_read),
        switched_up=up, switched_down=down, model=model_record(model),
        testbench=dataclasses.asdict(testbench), engine=engine, seed=int(seed), g_min_S=g_min, g_max_S=g_max,
        n_mtj=int(model.n_mtj), ngspice_version=version,
        state_before=np.asarray(st0, dtype=float), state_after=np.asarray(st1, dtype=float), waveforms=waves,
        switching=switching)


def _slice_trials(d: Draws, sl: slice) -> Draws:
    """The draws of trials ``sl`` (every array of ``d`` is (P, T, ...))."""
    return dataclasses.replace(d, **{f.name: getattr(d, f.name)[:, sl] for f in dataclasses.fields(d)
                                     if getattr(d, f.name) is not None})


def _run_chunk(model, testbench: PulseTestbench, dt: np.ndarray, d: Draws, engine: str,
               switching: str) -> tuple[dict[str, np.ndarray], int | None]:
    """Final states (arrays (P, t, ...)) of one chunk of trials, and the ngspice version (spice)."""
    if switching == "author":
        return run_author(model, testbench, dt, d), None
    if engine == "reference":
        return run_reference(model, testbench, dt, d), None
    from . import spice  # lazy: startup

    out, _, version = spice.run_spice(model, testbench, dt, d, jobs=1)
    return out, version


def _run_distributed(model, testbench: PulseTestbench, dt: np.ndarray, d: Draws, engine: str, switching: str,
                     scheduler: str, progress: bool) -> tuple[dict[str, np.ndarray], int | None]:
    """Chunks of trials as dask tasks (every instance is independent; the trial axis keeps the time grid)."""
    from distributed import as_completed  # lazy: optional
    from tqdm import tqdm  # lazy: startup

    if engine == "spice":
        from spinsyn.ngspice import ensure_library  # lazy: startup

        ensure_library()
    trials = d.s0.shape[1]
    with open_client(scheduler) as client:
        n_chunks = min(trials, 4 * max(live_workers(client), 1))
        edges = np.linspace(0, trials, n_chunks + 1).round().astype(int)
        slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        futs = [client.submit(_run_chunk, model, testbench, dt, _slice_trials(d, sl), engine, switching, pure=False)
                for sl in slices]
        with tqdm(total=len(futs), unit="chunk", desc=f"sweep ({scheduler})", disable=not progress) as bar:
            for _ in as_completed(futs):
                bar.update(1)
        parts = client.gather(futs)
    out = {k: np.concatenate([p[0][k] for p in parts], axis=1) for k in parts[0][0]}
    return out, parts[0][1]


def write_sweep(path: str | Path, r: SweepResult) -> Path:
    """Write ``r`` atomically as "spinsyn-sweep" v1 HDF5 (built in memory: a refused write is one OSError naming
    ``path``, nothing left behind)."""
    from spinsyn.fileio import atomic_h5, h5_dataset, h5_write_meta  # lazy: startup

    with atomic_h5(path) as f:
        h5_write_meta(f, fmt=FORMAT, version=VERSION, seed=r.seed, model=r.model, testbench=r.testbench)
        for k in ("engine",):
            f.attrs[k] = r.engine
        f.attrs["switching"] = r.switching
        f.attrs["ngspice_version"] = -1 if r.ngspice_version is None else int(r.ngspice_version)
        f.attrs["seed"] = int(r.seed)
        f.attrs["g_min_S"] = float(r.g_min_S)
        f.attrs["g_max_S"] = float(r.g_max_S)
        f.attrs["n_mtj"] = int(r.n_mtj)
        h5_dataset(f, "dt_ms", r.dt_ms)
        h5_dataset(f, "g_before_S", r.g_before_S)
        h5_dataset(f, "g_after_S", r.g_after_S)
        h5_dataset(f, "switched_up", np.asarray(r.switched_up, dtype=np.int64))
        h5_dataset(f, "switched_down", np.asarray(r.switched_down, dtype=np.int64))
        if r.state_before is not None:
            h5_dataset(f, "state_before", r.state_before)
            h5_dataset(f, "state_after", r.state_after)
        if r.waveforms:
            g = f.create_group("waveforms")
            for i, w in enumerate(r.waveforms):
                gi = g.create_group(str(i))
                for k, v in w.items():
                    if k in ("dt_index", "trial"):
                        gi.attrs[k] = int(v)
                    else:
                        h5_dataset(gi, k, np.asarray(v))
    return Path(path)


def _check_datasets(path: Path, f) -> dict[str, np.ndarray]:
    """The (P,)/(P, T) datasets, with units and shapes checked."""
    from spinsyn.fileio import SpinsynFileError  # lazy: startup

    need = ("dt_ms", "g_before_S", "g_after_S", "switched_up", "switched_down")
    missing = [k for k in need if k not in f]
    if missing:
        raise SpinsynFileError(f"{path}: missing dataset(s) {missing}")
    for name, want in (("dt_ms", "ms"), ("g_before_S", "S"), ("g_after_S", "S")):
        u = f[name].attrs.get("units")
        u = u.decode() if isinstance(u, bytes) else u
        if u is not None and u != want:
            raise SpinsynFileError(f"{path}: dataset {name!r} has units {u!r}, expected {want!r}")
    arr = {k: f[k][()] for k in need}
    if arr["dt_ms"].ndim != 1:
        raise SpinsynFileError(f"{path}: dataset dt_ms has shape {arr['dt_ms'].shape}, expected (P,)")
    p = arr["dt_ms"].shape[0]
    t_shape = arr["g_before_S"].shape
    for k in need[1:]:
        if arr[k].ndim != 2 or arr[k].shape[0] != p or arr[k].shape != t_shape:
            raise SpinsynFileError(f"{path}: dataset {k} has shape {arr[k].shape}, expected ({p}, T) like "
                                   f"g_before_S {t_shape}")
    return arr


def _check_attrs(path: Path, meta: dict[str, Any]) -> None:
    from spinsyn.fileio import SpinsynFileError  # lazy: startup

    for k in ("model", "testbench", "engine", "g_min_S", "g_max_S"):
        if k not in meta:
            raise SpinsynFileError(f"{path}: missing attribute {k!r}")
    try:
        g_min, g_max = float(meta["g_min_S"]), float(meta["g_max_S"])
    except (TypeError, ValueError):
        raise SpinsynFileError(f"{path}: attributes g_min_S and g_max_S must be numbers (S)") from None
    if not (np.isfinite(g_min) and np.isfinite(g_max) and g_max > g_min):
        raise SpinsynFileError(f"{path}: need g_max_S > g_min_S, got g_min_S={g_min}, g_max_S={g_max}")


def _read_waveforms(f) -> list[dict[str, Any]]:
    waves = []
    if "waveforms" in f:
        for key in sorted(f["waveforms"], key=int):
            gi = f["waveforms"][key]
            w = {k: gi[k][()] for k in gi}
            w.update({k: int(v) for k, v in gi.attrs.items() if k in ("dt_index", "trial")})
            waves.append(w)
    return waves


def read_sweep(path: str | Path) -> SweepResult:
    """Read and validate a "spinsyn-sweep" v1 file."""
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal
    from spinsyn.fileio import SpinsynFileError, h5_read_meta  # lazy: startup

    path = Path(path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SpinsynFileError(f"{path}: not an HDF5 file ({exc})") from None
    with f:
        meta = h5_read_meta(path, f, fmt=FORMAT, versions=(VERSION,))
        arr = _check_datasets(path, f)
        _check_attrs(path, meta)
        nv = int(meta.get("ngspice_version", -1))
        return SweepResult(
            dt_ms=arr["dt_ms"], g_before_S=arr["g_before_S"], g_after_S=arr["g_after_S"],
            switched_up=arr["switched_up"], switched_down=arr["switched_down"], model=meta["model"],
            testbench=meta["testbench"], engine=str(meta["engine"]), seed=int(meta.get("seed", 0)),
            g_min_S=float(meta["g_min_S"]), g_max_S=float(meta["g_max_S"]), n_mtj=int(meta.get("n_mtj", 0)),
            ngspice_version=None if nv < 0 else nv,
            state_before=f["state_before"][()] if "state_before" in f else None,
            state_after=f["state_after"][()] if "state_after" in f else None, waveforms=_read_waveforms(f),
            provenance=meta.get("provenance"), switching=str(meta.get("switching", "physical")))
