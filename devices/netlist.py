"""Circuit as code for the ngspice engine: symbolic expressions and one function per SPICE element.

:class:`Expr` renders the formulas of :mod:`devices.physics` into ngspice B-source expressions: calling a
formula with ``Expr`` arguments builds the expression string through operator overloading (``+ - * /``,
comparisons) and ``__array_ufunc__`` (``np.exp``, ``np.maximum``, ``np.minimum``, ``np.abs``). Plain numbers
stay numbers (folded in Python) and are printed with 10 significant digits. Device classes describe their
elements with the functions below; ``spice.netlist`` assembles and renders the circuit; nothing is patched
as text afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_BINARY = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/", np.less: "<",
           np.greater: ">"}
_FUNCS = {np.exp: "exp", np.maximum: "max", np.minimum: "min", np.absolute: "abs", np.tanh: "tanh"}


def num(x) -> str:
    """A number as SPICE text (10 significant digits)."""
    return f"{float(x):.10g}"


def text(x) -> str:
    """SPICE text of an expression or number (negative numbers parenthesised)."""
    if isinstance(x, Expr):
        return x.text
    s = num(x)
    return f"({s})" if s.startswith("-") else s


class Expr:
    """An ngspice expression; arithmetic with numbers or other ``Expr`` returns a new ``Expr``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __str__(self) -> str:
        return self.text

    @staticmethod
    def _bin(a, op: str, b) -> Expr:
        return Expr(f"({text(a)}{op}{text(b)})")

    def __add__(self, o):
        return Expr._bin(self, "+", o)

    def __radd__(self, o):
        return Expr._bin(o, "+", self)

    def __sub__(self, o):
        return Expr._bin(self, "-", o)

    def __rsub__(self, o):
        return Expr._bin(o, "-", self)

    def __mul__(self, o):
        return Expr._bin(self, "*", o)

    def __rmul__(self, o):
        return Expr._bin(o, "*", self)

    def __truediv__(self, o):
        return Expr._bin(self, "/", o)

    def __rtruediv__(self, o):
        return Expr._bin(o, "/", self)

    def __neg__(self):
        return Expr(f"(-{self.text})")

    def __lt__(self, o):
        return Expr._bin(self, "<", o)

    def __gt__(self, o):
        return Expr._bin(self, ">", o)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _BINARY:
            return Expr._bin(inputs[0], _BINARY[ufunc], inputs[1])
        if ufunc is np.negative:
            return -Expr(text(inputs[0]))
        if ufunc in _FUNCS:
            return Expr(f"{_FUNCS[ufunc]}(" + ",".join(text(x) for x in inputs) + ")")
        return NotImplemented


def where(cond, a, b) -> Expr:
    """``cond ? a : b``."""
    return Expr(f"({text(cond)} ? {text(a)} : {text(b)})")


def node_v(node: str) -> Expr:
    """Voltage of a node."""
    return Expr(f"v({node})")


STEP_W = 1e-4  # width of the smooth threshold steps, in hazard units

PRE, POST = "pre", "post"
#: V_mtj = V_pre - V_post.
V_MTJ = Expr(f"(v({PRE})-v({POST}))")


# ------------------------------------------------------------------------------------------- elements


def resistor(name: str, n1: str, n2: str, ohm: float) -> str:
    return f"R{name} {n1} {n2} {num(ohm)}"


def capacitor(name: str, n1: str, n2: str, farad: float) -> str:
    return f"C{name} {n1} {n2} {num(farad)}"


def b_current(name: str, n1: str, n2: str, expr) -> str:
    """Behavioural current source from n1 to n2 (through the source)."""
    return f"B{name} {n1} {n2} I={text(expr)}"


def b_voltage(name: str, n1: str, n2: str, expr) -> str:
    return f"B{name} {n1} {n2} V={text(expr)}"


def pwl_voltage(name: str, n1: str, n2: str, points: Iterable[tuple[float, float]]) -> str:
    return f"V{name} {n1} {n2} PWL(" + " ".join(f"{num(t)} {num(v)}" for t, v in points) + ")"


def initial_condition(node: str, value: float) -> str:
    return f".ic v({node})={num(value)}"


def integrator(name: str, rate, initial: float) -> list[str]:
    """Node ``name`` = initial + ∫ rate dt: 1 F capacitor charged by a B current source (and a 1e15 Ω leak so
    the node has a DC path)."""
    return [capacitor(name, name, "0", 1), resistor(name, name, "0", 1e15), b_current(name, "0", name, rate),
            initial_condition(name, initial)]


def threshold_state(name: str, h_node: str, s0: int, thresholds, step_w: float = STEP_W) -> str:
    """State node ``name`` = s0 + (1 - 2 s0) Σ_k (-1)^k step(H - Θ_k): smooth (tanh, width ``step_w``) steps
    of the hazard node over the cumulative thresholds Θ_k, i.e. the state flips at every threshold crossed."""
    h = node_v(h_node)
    steps = None
    for k, t in enumerate(thresholds):
        step = 0.5 * (1 + np.tanh((h - t) / step_w))
        steps = step if steps is None else (steps - step if k % 2 else steps + step)
    return b_voltage(name, name, "0", s0 + (1 - 2 * s0) * steps)


def render(title: str, elements: Iterable[str], control: Iterable[str]) -> str:
    """The netlist text: title, elements, control lines, ``.end``."""
    return "\n".join([f"* {title}", *elements, *control, ".end"]) + "\n"
