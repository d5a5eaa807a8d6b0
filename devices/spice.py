"""ngspice engine: netlists generated in ONE place (``netlist``) and run in a pool of warm worker processes.

Each instance (one synapse at one Δt and trial) is one netlist: PWL pre/post sources, and per MTJ
* ``h<i>``: hazard node, 1 F capacitor charged by a B current source equal to the switching rate (1/s), so
  v(h<i>) = int rate dt (never reset);
* ``s<i>``: state node, a B voltage source s = s0 + (1 - 2 s0) sum_k (-1)^k step(H - Theta_k) with smooth
  steps (tanh, width ``STEP_W``) over the per-device cumulative thresholds Theta_k;
* a B current source pre -> post carrying V (s/R_P + (1-s)/R_AP(V)).
The rate blends the two directions by s: rate = s rate_from_P(V) + (1-s) rate_from_AP(V); the same formulas as
``models.hazard_rate_per_s``. DW-MTJ: node ``x`` integrates the wall velocity, clamped at 0 and 1.
The transient covers the whole waveform (0 .. 1.02 x ramp) so the ramp's own hazard is integrated too; PWL
corners are breakpoints and the smooth ramp lets ngspice take long steps outside the post pulse.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from .models import EXP_CLIP, CompoundSynapse, DomainWallMTJ, MTJParams, PulseTestbench
from .reference import Draws, device_params, n_mtj_of

STEP_W = 1e-4  # width of the smooth threshold steps, in hazard units
POST_STEPS = 50  # breakpoints inside the potentiation phase (a quarter of that in the depression phase)
TRAN_POINTS = 100  # tstep = span/TRAN_POINTS also caps the step along the smooth ramp
TRAN_OPTS = ".options reltol=1e-4 abstol=1e-12 vntol=1e-7 method=gear maxord=2 itl4=50"


class SpiceConvergenceError(RuntimeError):
    """ngspice failed on one instance; the message names it and where its netlist was saved."""


def _f(x: float) -> str:
    return f"{float(x):.10g}"


def _sources(tb: PulseTestbench, dt_ms: float) -> tuple[list[str], float]:
    ramp = tb.pre_ramp_ms * 1e-3
    t_end = max(ramp * 1.02, dt_ms * 1e-3 + tb.post_us * 1.5e-6)
    e = 1e-9
    t0 = dt_ms * 1e-3
    t1 = t0 + tb.post_pot_us * 1e-6
    t2 = t1 + tb.post_dep_us * 1e-6
    pre = f"Vpre pre 0 PWL(0 {_f(tb.pre_start_V)} {_f(ramp)} {_f(tb.pre_end_V)} {_f(ramp + e)} 0)"
    pts = [(0, 0)] if t0 > 0 else []
    pts += [(max(t0, 0), 0) if t0 > 0 else (0, tb.post_pot_V)]
    if t0 > 0:
        pts.append((t0 + e, tb.post_pot_V))
    # intermediate corners are breakpoints: they cap the step inside the pulse at POST_STEP_FRAC of a phase
    ta = t0 + e if t0 > 0 else 0.0
    pts += [(t, tb.post_pot_V) for t in np.linspace(ta, t1, POST_STEPS + 1)[1:]]
    pts += [(t, tb.post_dep_V) for t in np.linspace(t1 + e, t2, max(2, POST_STEPS // 4))]
    pts += [(t2 + e, 0.0)]
    post = "Vpost post 0 PWL(" + " ".join(f"{_f(t)} {_f(v)}" for t, v in pts) + ")"
    return [pre, post], t_end


def _rate_expr(p: MTJParams, i: int, from_p: bool) -> str:
    """Rate away from P (from_p) or away from AP, as an ngspice expression of V = v(pre)-v(post)."""
    rp = _f(p.r_p_ohm[i])
    rap = f"({rp}*(1+{_f(p.tmr0[i])}/(1+V*V/{_f(p.vh_V ** 2)})))"
    i_aid = f"(-V/{rp})" if from_p else f"(V/{rap})"
    ic0 = _f(p.ic0_A[i])
    x = f"min(max({_f(p.delta[i])}*(1-{i_aid}/{ic0}),{-EXP_CLIP}),{EXP_CLIP})"
    r = f"(exp(-{x})/{_f(p.tau0_s)}+{_f(p.k_prec_per_A_s[i])}*max({i_aid}-{ic0},0))"
    if from_p and p.gate_to_ap_V is not None:
        r = f"(V<{_f(p.gate_to_ap_V)} ? {r} : 0)"
    if not from_p and p.gate_to_p_V is not None:
        r = f"(V>{_f(p.gate_to_p_V)} ? {r} : 0)"
    return r


def netlist(model, tb: PulseTestbench, dt_ms: float, d: Draws, ip: int, it: int) -> str:
    """The ngspice netlist of instance (Δt index ip, trial it); the only place SPICE text is written."""
    src, t_end = _sources(tb, dt_ms)
    lines = [f"* spinsyn {type(model).__name__} dt={_f(dt_ms)} ms trial={it}", *src]
    vexpr = "(v(pre)-v(post))"
    if isinstance(model, DomainWallMTJ):
        gap, gp = 1 / model.r_ap_ohm, 1 / model.r_p_ohm
        idep = _f(model.i_depin_A * d.depin[ip, it])
        speed = f"({_f(model.v_coeff_m_per_s / (model.length_nm * 1e-9))}*max(abs(V/{_f(model.r_hm_ohm)})/{idep}-1,0))"
        lines += [
            f"Rhm pre post {_f(model.r_hm_ohm)}",
            f"Bmtj pre post I={vexpr}*({_f(gap)}+v(x)*{_f(gp - gap)})",
            "Cx x 0 1", "Rx x 0 1e15",
            # continuous clamp: the velocity fades out over the last 1e-3 of the range at either end
            f"Bx 0 x I=(V>0 ? {speed}*max(min((1-v(x))/1e-3,1),0) : -{speed}*max(min(v(x)/1e-3,1),0))",
            f".ic v(x)={_f(d.x0[ip, it])}",
        ]
    else:
        mtj = model.mtj if isinstance(model, CompoundSynapse) else model
        p = device_params(mtj, d.z[ip, it])
        for i in range(n_mtj_of(model)):
            s0 = int(d.s0[ip, it, i])
            th = d.theta[ip, it, i]
            steps = "+".join(f"{'-' if k % 2 else ''}0.5*(1+tanh((v(h{i})-{_f(t)})/{STEP_W}))"
                             for k, t in enumerate(th))
            rp = _f(p.r_p_ohm[i])
            rap = f"({rp}*(1+{_f(p.tmr0[i])}/(1+V*V/{_f(p.vh_V ** 2)})))"
            rate = f"(v(s{i})*{_rate_expr(p, i, True)}+(1-v(s{i}))*{_rate_expr(p, i, False)})"
            lines += [
                f"Bs{i} s{i} 0 V={s0}+{1 - 2 * s0}*({steps})",
                f"Ch{i} h{i} 0 1", f"Rh{i} h{i} 0 1e15",
                f"Bh{i} 0 h{i} I={rate}".replace("V", vexpr).replace("v(pre)-v(post)", "v(pre)-v(post)"),
                f"Bm{i} pre post I={vexpr}*(v(s{i})/{rp}+(1-v(s{i}))/{rap})".replace("V*V", f"{vexpr}*{vexpr}"),
                f".ic v(h{i})=0",
            ]
    lines = [ln if not ln.startswith("B") else _subst_v(ln) for ln in lines]
    lines += [TRAN_OPTS, f".tran {_f(t_end / TRAN_POINTS)} {_f(t_end)} uic", ".end"]
    return "\n".join(lines) + "\n"


def _subst_v(line: str) -> str:
    """Replace the bare symbol V (V_mtj) in a B-source expression by (v(pre)-v(post))."""
    import re

    head, _, expr = line.partition("=")
    expr = re.sub(r"(?<![A-Za-z0-9_])V(?![A-Za-z0-9_(])", "(v(pre)-v(post))", expr)
    return head + "=" + expr


# ------------------------------------------------------------------------------------------- running

_W: dict = {}


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from spinsyn.ngspice import session

    session()


_POOL: dict = {}


def _start_method() -> str:
    """``fork`` on Linux while this process has not loaded ngspice itself (start-up 0.1 s instead of 0.6 s
    for ``spawn``, measured); ``spawn`` otherwise, so no child inherits a live ngspice instance."""
    from spinsyn import ngspice

    return "fork" if sys.platform.startswith("linux") and ngspice._session is None else "spawn"


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A warm pool of ``jobs`` worker processes, one ngspice each, kept for later sweeps in this process
    (calibration loops run many sweeps); replaced when ``jobs`` changes, shut down at exit."""
    old = _POOL.get("pool")
    if old is not None and _POOL.get("jobs") == jobs:
        return old
    shutdown_pool()
    ctx = mp.get_context(_start_method())
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker)
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
    from spinsyn.ngspice import NgspiceSimulationError, session

    net = netlist(model, tb, dt_ms, d, ip, it)
    try:
        res = session().run(net)
    except NgspiceSimulationError as exc:
        return ip, it, np.zeros(0), {"error": str(exc), "netlist": net}
    if isinstance(model, DomainWallMTJ):
        final = np.array([res["x"][-1]])
    else:
        final = np.array([res[f"h{i}"][-1] for i in range(n_mtj_of(model))])
    wave = None
    if want_wave:
        t = res.time_s
        tbm = tb
        vpre, vpost = res["pre"], res["post"]
        if isinstance(model, DomainWallMTJ):
            g = 1 / model.r_ap_ohm + res["x"] * (1 / model.r_p_ohm - 1 / model.r_ap_ohm)
        else:
            from .models import conductance_S

            s = sum(res[f"s{i}"] for i in range(n_mtj_of(model)))
            g = conductance_S(model, s, tbm.v_read_V)
        wave = {"time_s": t, "v_pre_V": vpre, "v_post_V": vpost, "v_mtj_V": vpre - vpost, "g_S": g,
                "dt_index": ip, "trial": it}
    return ip, it, final, wave


def _run_chunk(args) -> list:
    model, tb, dt, d, jobs_list, waves = args
    return [_run_one(model, tb, float(dt[ip]), d, ip, it, (ip, it) in waves) for ip, it in jobs_list]


def final_states(model, d: Draws, final: np.ndarray) -> dict[str, np.ndarray]:
    """States from the final node values: H (P,T,N) -> parity of threshold crossings; DW x -> notches."""
    if isinstance(model, DomainWallMTJ):
        from .reference import snap_notches

        return {"x1": snap_notches(model, d.x0, np.clip(final[..., 0], 0, 1))}
    n_cross = (final[..., None] >= d.theta).sum(-1)
    return {"s1": ((d.s0 + n_cross) % 2).astype(np.int8), "h": final}


def run_spice(model, tb: PulseTestbench, dt: np.ndarray, d: Draws, jobs: int = 1, save_waveforms: int = 0,
              progress: bool = False, netlist_dir: str | Path | None = None):
    """Run every instance through ngspice; returns (states dict, waveforms, ngspice version)."""
    from spinsyn.ngspice import library_version

    P, T = d.s0.shape[:2] if not isinstance(model, DomainWallMTJ) else d.x0.shape
    n = 1 if isinstance(model, DomainWallMTJ) else n_mtj_of(model)
    todo = [(ip, it) for ip in range(P) for it in range(T)]
    waves_want = set(todo[:: max(1, len(todo) // save_waveforms)][:save_waveforms]) if save_waveforms else set()
    chunk = max(1, min(16, len(todo) // (4 * max(1, jobs)) or 1))
    chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    final = np.zeros((P, T, n))
    waves: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="inst", desc="ngspice")

    def collect(results):
        for ip, it, fin, extra in results:
            if extra is not None and "error" in extra:
                folder = Path(netlist_dir) if netlist_dir else Path.cwd()
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"spinsyn-failed-dt{ip}-trial{it}.cir"
                path.write_text(extra["netlist"])
                raise SpiceConvergenceError(
                    f"ngspice failed on instance dt_ms={dt[ip]:g} (index {ip}), trial {it}: {extra['error']}; "
                    f"netlist saved to {path}")
            final[ip, it] = fin
            if extra is not None:
                waves.append(extra)
        if bar is not None:
            bar.update(len(results))

    if jobs <= 1:
        _init_worker()
        for c in chunks:
            collect(_run_chunk((model, tb, dt, d, c, waves_want)))
    else:
        ex = worker_pool(jobs)
        futs = [ex.submit(_run_chunk, (model, tb, dt, d, c, waves_want)) for c in chunks]
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
    if bar is not None:
        bar.close()
    waves.sort(key=lambda w: (w["dt_index"], w["trial"]))
    return final_states(model, d, final), waves, library_version()[1]
