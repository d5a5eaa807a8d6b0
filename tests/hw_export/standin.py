"""Small stand-in for the spinsyn.devices API (tests only): thermal STT switching and a DW-MTJ.

It follows the contract signatures: get_model, conductance_S, apply_pulse, switch_probability, STTMTJ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class STTMTJ:
    r_p_ohm: float = 5000.0
    r_ap_ohm: float = 10000.0
    delta: float = 40.0
    tau0_ns: float = 1.0
    vc0_V: float = 0.5
    sigma_vc: float = 0.03


@dataclass(frozen=True)
class CompoundSynapse:
    n_mtj: int = 8
    mtj: STTMTJ = field(default_factory=STTMTJ)


@dataclass(frozen=True)
class DomainWallMTJ:
    g_min_S: float = 50e-6
    g_max_S: float = 150e-6
    v_depin_V: float = 0.2
    mobility_per_V_ns: float = 0.05
    sigma: float = 0.1


def get_model(name: str, **overrides):
    cls = {"stt-mtj": STTMTJ, "compound": CompoundSynapse, "dw-mtj": DomainWallMTJ}[name]
    return dataclasses.replace(cls(), **overrides)


def conductance_S(model, state, v_read_V=0.1):
    state = np.asarray(state)
    if isinstance(model, CompoundSynapse):
        m = model.mtj
        return state / m.r_p_ohm + (model.n_mtj - state) / m.r_ap_ohm
    if isinstance(model, STTMTJ):
        return np.where(state > 0, 1 / model.r_p_ohm, 1 / model.r_ap_ohm)
    return model.g_min_S + state * (model.g_max_S - model.g_min_S)


def switch_probability(mtj, v_V, width_ns, to_parallel, vc_scale=1.0):
    v = np.abs(np.asarray(v_V, dtype=float))
    vc = mtj.vc0_V * (1.0 if to_parallel else 1.2) * vc_scale
    tau = mtj.tau0_ns * np.exp(np.clip(mtj.delta * (1 - v / vc), 0, 700))
    return -np.expm1(-width_ns / tau)


def apply_pulse(model, state, v_V, width_ns, rng, params=None):
    state = np.asarray(state)
    v = np.broadcast_to(np.asarray(v_V, dtype=float), state.shape)
    if isinstance(model, CompoundSynapse):
        m = model.mtj
        vc_scale = 1 + m.sigma_vc * rng.standard_normal(state.shape)
        p_up = switch_probability(m, v, width_ns, True, vc_scale)
        p_dn = switch_probability(m, v, width_ns, False, vc_scale)
        up = rng.binomial(model.n_mtj - state, np.where(v > 0, p_up, 0.0))
        dn = rng.binomial(state, np.where(v < 0, p_dn, 0.0))
        return state + up - dn
    dx = np.sign(v) * np.maximum(np.abs(v) - model.v_depin_V, 0) * model.mobility_per_V_ns * width_ns
    dx = dx * (1 + model.sigma * rng.standard_normal(state.shape))
    return np.clip(state + dx, 0.0, 1.0)
