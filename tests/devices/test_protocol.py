"""The device protocol: formulas written once (numpy / numba / rendered SPICE agree), netlists built as code,
and a new device class plugs into the public functions and the reference sweep without touching the engines."""

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import netlist as nl
from spinsyn.devices import reference, spice
from spinsyn.devices.models import Device, derive, hazard_rate_per_s, mtj_current_A
from spinsyn.devices.physics import r_ap_formula, rate_formula

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op><=|>=|[-+*/<>?:(),]))")
_FUNCS = {"exp": math.exp, "min": min, "max": max, "abs": abs, "tanh": math.tanh, "pow": math.pow, "ln": math.log}


def _tokens(expr: str) -> list[str]:
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"cannot tokenise {expr[pos:pos + 30]!r}"
        out.append(m.group().strip())
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over the ngspice expression grammar the renderer emits, written independently of
    ``netlist.Expr``: ``c ? a : b`` (lowest, right-associative), comparisons, ``+ -``, ``* /``, unary ``-``,
    numbers, ``v(node)`` and the functions of ``_FUNCS``; evaluated in plain Python floats."""

    def __init__(self, expr: str, nodes: dict[str, float]) -> None:
        self.t, self.i, self.nodes = _tokens(expr), 0, nodes

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.t[self.i]
        assert want is None or tok == want, (want, tok, self.t[max(0, self.i - 5):self.i + 5])
        self.i += 1
        return tok

    def ternary(self) -> float:
        cond = self.compare()
        if self.peek() != "?":
            return cond
        self.take("?")
        a = self.ternary()
        self.take(":")
        b = self.ternary()
        return a if cond else b

    def compare(self) -> float:
        a = self.additive()
        ops = {"<": float.__lt__, ">": float.__gt__, "<=": float.__le__, ">=": float.__ge__}
        while self.peek() in ops:
            op = ops[self.take()]
            a = float(op(float(a), float(self.additive())))
        return a

    def additive(self) -> float:
        a = self.term()
        while self.peek() in ("+", "-"):
            a = a + self.term() if self.take() == "+" else a - self.term()
        return a

    def term(self) -> float:
        a = self.unary()
        while self.peek() in ("*", "/"):
            a = a * self.unary() if self.take() == "*" else a / self.unary()
        return a

    def unary(self) -> float:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.primary()

    def primary(self) -> float:
        tok = self.take()
        if tok == "(":
            val = self.ternary()
            self.take(")")
            return val
        if tok == "v":
            self.take("(")
            node = self.take()
            self.take(")")
            return self.nodes[node]
        if tok in _FUNCS:
            self.take("(")
            args = [self.ternary()]
            while self.peek() == ",":
                self.take()
                args.append(self.ternary())
            self.take(")")
            return float(_FUNCS[tok](*args))
        return float(tok)


def _eval(expr: str, **nodes: float) -> float:
    """Evaluate a rendered ngspice expression (ternaries included) in Python; nodes by name (pre, post, s0)."""
    p = _Parser(expr, nodes)
    val = p.ternary()
    assert p.peek() is None, f"trailing tokens {p.t[p.i:]}"
    return float(val)


def test_expression_evaluator_parses_ternaries_and_precedence():
    assert _eval("((v(a)>0.5) ? 1 : (-2))", a=1.0) == 1.0
    assert _eval("((v(a)>0.5) ? 1 : (-2))", a=0.0) == -2.0
    assert _eval("(v(a)>=1 ? (v(a)>=2 ? 3 : 2) : 1)", a=1.5) == 2.0
    assert _eval("1-2*3+exp(0)/2") == pytest.approx(-4.5)
    assert _eval("max(1e-3,min(2,3))*-v(b)", b=2.0) == pytest.approx(-4.0)


def _element(net: str, name: str) -> str:
    line = next(ln for ln in net.splitlines() if ln.startswith(name + " "))
    return line.split("=", 1)[1]


def test_expr_renders_formula_by_operator_overloading():
    v = nl.Expr("V")
    assert str(r_ap_formula(100.0, 0.5, 0.5, v)) == "(100*(1+(0.5/(1+((V*V)/0.25)))))"
    assert str(np.maximum(v - 1, 0.0)) == "max((V-1),0)"
    assert str(np.float64(2.0) * v) == "(2*V)"  # numpy scalars defer to Expr.__array_ufunc__
    assert str(-v / 2) == "((-V)/2)"
    assert str(rate_formula(v, 1.0, 2.0, 3.0, 4.0, 2.0, 0.3, 0.0)).count("exp(") == 1
    assert str(rate_formula(v, 1.0, 2.0, 3.0, 4.0, 2.0, 0.3, 1.0)).count("exp(") == 1  # Brown's prefactor: no exp
    assert str(nl.where(v > 0.1, 1, -1)) == "((V>0.1) ? 1 : (-1))"


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("s", [0, 1])
def test_rendered_spice_current_and_rate_equal_numpy(s, gated):
    """The B-source expressions of an MTJ (ungated and with the published gates: the rate is a ternary on the
    state node), evaluated in Python by an independent parser, equal the numpy model."""
    gates = {"gate_to_p_V": 0.15, "gate_to_ap_V": -0.10} if gated else {}
    m = D.STTMTJ(sigma_tmr0_pct=5.0, sigma_area_pct=3.0, **gates)
    d = reference.draw(m, 1, 1, 4)
    d = dataclasses.replace(d, s0=np.full_like(d.s0, s))
    net = spice.netlist(m, D.PulseTestbench(), 5.0, d, 0, 0)
    assert "V*" not in net and "(V" not in net  # no bare symbol left to substitute
    p = reference.device_params(m, d.z[0, 0])
    for v in (-0.7, -0.2, 0.05, 0.3, 0.8):
        i_spice = _eval(_element(net, "Bm0"), pre=v, post=0.0, s0=float(s))
        assert i_spice == pytest.approx(float(mtj_current_A(p, s, v)[0]), rel=1e-9)
        rate = _eval(_element(net, "Bh0"), pre=v, post=0.0, s0=float(s))
        # constants are printed with 10 digits; the exponent (up to 80) amplifies their rounding
        assert rate == pytest.approx(float(hazard_rate_per_s(p, s, v)[0]), rel=1e-6)


def test_netlist_elements_come_from_the_device():
    m = D.get_model("compound", n_mtj=3)
    d = reference.draw(m, 1, 1, 0)
    lines = m.netlist_elements(d, 0, 0)
    assert [ln.split()[0] for ln in lines if ln[0] in "BC"] == [
        f"{k}{i}" for i in range(3) for k in ("Bs", "Bg", "Cg", "Ch", "Bh", "Bm")]
    assert D.get_model("dw-mtj").netlist_elements(reference.draw(D.get_model("dw-mtj"), 1, 1, 0), 0, 0)[0] \
        .startswith("Rhm pre post")


def test_numpy_and_compiled_rate_agree_on_gated_device():
    m = D.get_model("stt-mtj")
    p = derive(m)
    for s in (0, 1):
        for v in np.linspace(-0.6, 0.6, 25):
            nb = reference._rate(s, v, float(p.r_p_ohm), float(p.tmr0), p.vh_V, float(p.ic0_A), float(p.delta),
                                 p.tau0_s, float(p.k_prec_per_A_s), p.barrier_exponent, p.transit_eps,
                                 p.brown, p.gate_to_p_V, p.gate_to_ap_V)
            assert nb == pytest.approx(float(hazard_rate_per_s(p, s, v)), rel=1e-12, abs=0)


@dataclass(frozen=True)
class LinearMemristor(Device):
    """A toy analog device: G linear in x, x moves by k·V·width, no randomness beyond the start position."""

    name: ClassVar[str] = "toy"
    n_mtj: ClassVar[int] = 0
    g_lo_S: float = 1e-5
    g_hi_S: float = 1e-4
    k_per_V_s: float = 1e2

    def conductance_S(self, state, v_read_V=0.1):
        return self.g_lo_S + np.clip(np.asarray(state, dtype=float), 0, 1) * (self.g_hi_S - self.g_lo_S)

    def draw(self, n_dt, trials, seed):
        return reference.draw_base(n_dt, trials, 1, seed)[1]

    def run_reference(self, tb, dt_ms, d):
        edges_s, v_mid = reference.step_voltages(tb, dt_ms)
        dx = (self.k_per_V_s * v_mid * np.diff(edges_s, axis=-1)).sum(-1)
        return {"x1": np.clip(d.x0 + dx[:, None], 0, 1)}

    def sweep_states(self, d, out):
        x0, x1 = d.x0, out["x1"]
        return x0, x1, (x1 > x0).astype(np.int64), (x1 < x0).astype(np.int64)

    def apply_pulse(self, state, v_V, width_ns, rng, params=None):
        state, v, w = reference.pulse_arrays(state, v_V, width_ns)
        return np.clip(state + self.k_per_V_s * v * w, 0, 1)


def test_a_new_device_is_one_class():
    m = LinearMemristor()
    assert D.g_bounds_S(m) == (pytest.approx(1e-5), pytest.approx(1e-4))
    assert D.conductance_S(m, [0.5])[0] == pytest.approx(5.5e-5)
    r = D.sweep(m, D.PulseTestbench(), [0.0, 30.0], 5, seed=1)
    assert r.model["name"] == "toy" and r.n_mtj == 0 and r.g_after_S.shape == (2, 5)
    assert np.all(D.apply_pulse(m, np.full(3, 0.5), 0.1, 1e6, np.random.default_rng(0)) > 0.5)


def test_unknown_model_type_rejected():
    with pytest.raises(ValueError, match="unknown device model type"):
        D.conductance_S(object(), [0])


def test_missing_method_names_the_device():
    with pytest.raises(NotImplementedError, match="LinearMemristor does not implement netlist_elements"):
        D.sweep(LinearMemristor(), D.PulseTestbench(), [0.0], 1, engine="spice")
