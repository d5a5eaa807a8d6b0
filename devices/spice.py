"""ngspice engine: each instance's circuit is built as code and rendered (``netlist``), then run in a pool
of warm worker processes.

Each instance (one synapse at one Δt and trial) is one netlist: PWL pre/post sources (here) and the
device's own elements (``model.netlist_elements``, built with ``devices.netlist`` from the formulas of
``devices.physics``, the same functions the reference engine runs). For an MTJ: a hazard node ``h<i>`` (1 F
capacitor charged by a B current source equal to the current state's switching rate, so v(h<i>) = ∫ rate dt,
never reset), a state node ``s<i>`` (B voltage source: s0 XOR parity of the cumulative thresholds Θ_k that H
has reached, a hard ternary test), a step-control guard ``g<i>`` (smooth ramps just below each Θ_k across a
capacitor, so ngspice's LTE control never steps over a threshold) and a B current source pre -> post carrying
V (s/R_P + (1-s)/R_AP(V)). DW-MTJ: node ``x`` integrates the wall velocity (its own solver options,
``DomainWallMTJ.SPICE_OPTIONS``; docs/devices.md).
The transient covers the whole waveform (0 .. 1.02 x ramp) so the ramp's own hazard is integrated too; PWL
corners are breakpoints and the smooth ramp lets ngspice take long steps outside the post pulse.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing as mp
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from . import netlist as nl
from .models import PulseTestbench
from .reference import Draws

POST_STEPS = 50  # breakpoints inside the potentiation phase (a quarter of that in the depression phase)
TRAN_POINTS = 100  # tstep = span/TRAN_POINTS also caps the step along the smooth ramp
#: Absolute floor (hazard units) of the truncation-error tolerance of the 1 F integrator nodes (``chgtol``).
#: ngspice's tolerance for a capacitor charge q is reltol·max(|q|, chgtol)/Δt; every capacitor of an MTJ
#: netlist holds a dimensionless hazard H (or a guard ≥ 1), so the default chgtol (1e-14, meant for
#: femtocoulombs) left the hazard's tolerance purely relative. With a gated MTJ H is exactly 0 until a gate
#: first opens, and the rate then jumps from 0 inside one step: the estimated truncation error of every step
#: that crosses that kink is a fixed multiple (~1/reltol) of the tolerance, whatever the step (both scale with
#: the hazard gained after the kink), so ngspice cut the step to its minimum, "timestep too small" (published
#: preset, Δt ≈ 37.5-38 ms, where the depression pulse first takes V_mtj past the -0.1 V gate). The floor
#: breaks that scale invariance: below H = 1e-6 (a switching probability < 1e-6) the tolerance is absolute,
#: reltol·1e-6; above it nothing changes.
HAZARD_CHGTOL = 1e-6
TRAN_OPTS = (".options reltol=1e-4 abstol=1e-12 vntol=1e-7 method=gear maxord=2 itl4=50 trtol=1 "
             f"chgtol={HAZARD_CHGTOL:g}")


class SpiceConvergenceError(RuntimeError):
    """ngspice failed on one instance; the message names it and where its netlist was saved."""


def _sources(tb: PulseTestbench, dt_ms: float) -> tuple[list[str], float]:
    """The pre and post PWL sources of one Δt, and the transient's end time (s)."""
    ramp = tb.pre_ramp_ms * 1e-3
    t_end = max(ramp * 1.02, dt_ms * 1e-3 + tb.post_us * 1.5e-6)
    e = 1e-9
    t0 = dt_ms * 1e-3
    t1 = t0 + tb.post_pot_us * 1e-6
    t2 = t1 + tb.post_dep_us * 1e-6
    pre = nl.pwl_voltage("pre", nl.PRE, "0", [(0, tb.pre_start_V), (ramp, tb.pre_end_V), (ramp + e, 0)])
    pts: list[tuple[float, float]] = [(0, 0)] if t0 > 0 else []
    pts += [(max(t0, 0), 0) if t0 > 0 else (0, tb.post_pot_V)]
    if t0 > 0:
        pts.append((t0 + e, tb.post_pot_V))
    # intermediate corners are breakpoints: they cap the step inside the pulse at POST_STEP_FRAC of a phase
    ta = t0 + e if t0 > 0 else 0.0
    pts += [(t, tb.post_pot_V) for t in np.linspace(ta, t1, POST_STEPS + 1)[1:]]
    pts += [(t, tb.post_dep_V) for t in np.linspace(t1 + e, t2, max(2, POST_STEPS // 4))]
    pts += [(t2 + e, 0.0)]
    return [pre, nl.pwl_voltage("post", nl.POST, "0", pts)], t_end


def netlist(model, tb: PulseTestbench, dt_ms: float, d: Draws, ip: int, it: int) -> str:
    """The ngspice netlist of instance (Δt index ip, trial it): sources + the device's elements, rendered; the
    solver options are ``TRAN_OPTS`` unless the device class sets its own ``SPICE_OPTIONS``."""
    src, t_end = _sources(tb, dt_ms)
    return nl.render(f"spinsyn {type(model).__name__} dt={nl.num(dt_ms)} ms trial={it}",
                     [*src, *model.netlist_elements(d, ip, it)],
                     [getattr(model, "SPICE_OPTIONS", None) or TRAN_OPTS,
                      f".tran {nl.num(t_end / TRAN_POINTS)} {nl.num(t_end)} uic"])


# ------------------------------------------------------------------------------------------- running

def _init_worker(parent_pid: int | None = None) -> None:
    """Start a worker's ngspice; a pool worker (``parent_pid`` given) also dies with its parent."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    from spinsyn.ngspice import session  # lazy: startup

    session()


def _die_with_parent(parent_pid: int) -> None:
    """Linux: ask the kernel to SIGKILL this worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so kill -9
    of a sweep leaves no orphan ngspice; exit at once if the parent is already gone. SIGINT is left to the parent
    (a terminal's Ctrl-C reaches the whole group), which cancels the pool and shuts it down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


_POOL: dict = {}


def _start_method() -> str:
    """``fork`` on Linux while this process has not loaded ngspice itself (start-up 0.1 s instead of 0.6 s
    for ``spawn``, measured); ``spawn`` otherwise, so no child inherits a live ngspice instance."""
    from spinsyn import ngspice  # lazy: startup

    return "fork" if sys.platform.startswith("linux") and not ngspice.session_started() else "spawn"


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A warm pool of ``jobs`` worker processes, one ngspice each, kept for later sweeps in this process
    (calibration loops run many sweeps); replaced when ``jobs`` changes, shut down at exit."""
    old = _POOL.get("pool")
    if old is not None and _POOL.get("jobs") == jobs:
        return old
    shutdown_pool()
    ctx = mp.get_context(_start_method())
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),))
    _POOL.update(pool=pool, jobs=jobs)
    return pool


def shutdown_pool() -> None:
    """Stop the warm worker pool, if any."""
    pool = _POOL.pop("pool", None)
    _POOL.pop("jobs", None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_pool)


def _run_one(model, tb, dt_ms, d, ip, it, want_wave) -> tuple[int, int, np.ndarray, dict | None]:
    from spinsyn.ngspice import NgspiceSimulationError, session  # lazy: startup

    net = netlist(model, tb, dt_ms, d, ip, it)
    try:
        res = session().run(net)
    except NgspiceSimulationError as exc:
        return ip, it, np.zeros(0), {"error": str(exc), "netlist": net}
    wave = None
    if want_wave:
        vpre, vpost = res["pre"], res["post"]
        wave = {"time_s": res.time_s, "v_pre_V": vpre, "v_post_V": vpost, "v_mtj_V": vpre - vpost,
                "g_S": model.spice_conductance_S(res, tb.v_read_V), "dt_index": ip, "trial": it}
    return ip, it, model.spice_final(res), wave


def _run_chunk(args) -> list:
    model, tb, dt, d, jobs_list, waves = args
    return [_run_one(model, tb, float(dt[ip]), d, ip, it, (ip, it) in waves) for ip, it in jobs_list]


def final_states(model, d: Draws, final: np.ndarray) -> dict[str, np.ndarray]:
    """States from the final node values (P, T, N): MTJs -> parity of threshold crossings; DW x -> notches."""
    return model.final_states(d, final)


def _save_failure(extra: dict, dt: np.ndarray, ip: int, it: int, netlist_dir) -> SpiceConvergenceError:
    """Write the failing instance's netlist and return the error naming it."""
    folder = Path(netlist_dir) if netlist_dir else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"spinsyn-failed-dt{ip}-trial{it}.cir"
    path.write_text(extra["netlist"])
    return SpiceConvergenceError(f"ngspice failed on instance dt_ms={dt[ip]:g} (index {ip}), trial {it}: "
                                 f"{extra['error']}; netlist saved to {path}")


def _run_pool(jobs: int, tasks: list, collect) -> None:
    """Run the chunk tasks on the warm pool, collecting results as they finish."""
    ex = worker_pool(jobs)
    futs = [ex.submit(_run_chunk, t) for t in tasks]
    try:
        for fu in as_completed(futs):
            collect(fu.result())
    except BrokenProcessPool:
        shutdown_pool()
        raise SpiceConvergenceError("an ngspice worker process died (crash or out of memory); "
                                    "rerun with --jobs 1 to see which instance") from None
    except BaseException:
        for fu in futs:
            fu.cancel()
        raise


def run_spice(model, tb: PulseTestbench, dt: np.ndarray, d: Draws, jobs: int = 1, save_waveforms: int = 0,
              progress: bool = False, netlist_dir: str | Path | None = None):
    """Run every instance through ngspice; returns (states dict, waveforms, ngspice version)."""
    from spinsyn.ngspice import ensure_library, library_version  # lazy: startup

    ensure_library()  # in this process, before workers or a progress bar: a missing ngspice is one error

    P, T, n = d.s0.shape
    todo = [(ip, it) for ip in range(P) for it in range(T)]
    waves_want = set(todo[:: max(1, len(todo) // save_waveforms)][:save_waveforms]) if save_waveforms else set()
    chunk = max(1, min(16, len(todo) // (4 * max(1, jobs)) or 1))
    tasks = [(model, tb, dt, d, todo[i:i + chunk], waves_want) for i in range(0, len(todo), chunk)]
    final = np.zeros((P, T, n))
    waves: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm  # lazy: startup

        bar = tqdm(total=len(todo), unit="inst", desc="ngspice")

    def collect(results):
        for ip, it, fin, extra in results:
            if extra is not None and "error" in extra:
                raise _save_failure(extra, dt, ip, it, netlist_dir)
            final[ip, it] = fin
            if extra is not None:
                waves.append(extra)
        if bar is not None:
            bar.update(len(results))

    if jobs <= 1:
        _init_worker()
        for t in tasks:
            collect(_run_chunk(t))
    else:
        _run_pool(jobs, tasks, collect)
    if bar is not None:
        bar.close()
    waves.sort(key=lambda w: (w["dt_index"], w["trial"]))
    return final_states(model, d, final), waves, library_version()[1]
