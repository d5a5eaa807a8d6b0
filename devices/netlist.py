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
           np.greater: ">", np.less_equal: "<=", np.greater_equal: ">="}
_FUNCS = {np.exp: "exp", np.maximum: "max", np.minimum: "min", np.absolute: "abs", np.tanh: "tanh",
          np.log: "ln", np.power: "pow"}


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

    def __le__(self, o):
        return Expr._bin(self, "<=", o)

    def __ge__(self, o):
        return Expr._bin(self, ">=", o)

    def __bool__(self) -> bool:
        """A symbolic expression has no truth value: ``if``, ``and``, ``np.where`` or ``np.clip`` on it would
        silently pick one branch (the clamp or the condition lost); use :func:`where` instead."""
        raise TypeError(f"an ngspice expression has no truth value ({self.text}); use netlist.where(cond, a, b)")

    def __array__(self, *args, **kwargs):
        """No coercion to a numpy array (``np.clip``/``np.where`` would go through an object array and compare
        symbolically); element-wise ufuncs still work through ``__array_ufunc__``."""
        raise TypeError(f"an ngspice expression cannot become a numpy array ({self.text}); numpy functions "
                        "other than element-wise ufuncs would drop its branches")

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


def pwl(x, points: Iterable[tuple[float, float]]) -> Expr:
    """ngspice ``pwl(x, x1, y1, x2, y2, ...)``: piecewise-linear function of an expression (x ascending;
    constant beyond the end points)."""
    return Expr(f"pwl({text(x)}," + ",".join(f"{num(a)},{num(b)}" for a, b in points) + ")")


def node_v(node: str) -> Expr:
    """Voltage of a node."""
    return Expr(f"v({node})")


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


def threshold_state(name: str, h_node: str, s0: int, thresholds) -> str:
    """State node ``name`` = s0 XOR parity(#{k: H >= Θ_k}), a hard function of the hazard node: nested
    ternaries over the increasing cumulative thresholds Θ_k, the highest tested first
    (``H>=Θ_K ? s_K : (... (H>=Θ_1 ? 1-s0 : s0))``, s_k = (s0 + k) mod 2). The state is exactly 0 or 1 at
    every hazard value (no blending band) and flips exactly where H reaches a threshold, the same test as
    ``_MTJArray.final_states`` and the reference kernel."""
    h = node_v(h_node)
    state: int | Expr = int(s0)
    for k, t in enumerate(np.asarray(thresholds, dtype=float)):
        state = where(h >= t, (int(s0) + k + 1) % 2, state)
    return b_voltage(name, name, "0", state)


GUARD_W = 1e-3  # width (hazard units) of the step-control guard's ramps; never used for a decision
GUARD_LEAD = 2.0  # each guard ramp spans [Θ_k - GUARD_LEAD·w, Θ_k - (GUARD_LEAD - 1)·w]


def _guard_ramps(thresholds, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and width of each threshold's guard ramp: width_k = min(width, gap to the previous threshold,
    gap to the next one)/(GUARD_LEAD + 1) at most, start_k = Θ_k - GUARD_LEAD·width_k. Every ramp lies strictly
    between its threshold and the previous one (or H(0) = 0: the hazard never starts on a ramp, where a gate
    opening would put a kink into the guard's charge; ramps never overlap, close thresholds get a ramp each),
    and the approach to a threshold (hence the overshoot of the step that crosses it, ~width_k) stays below
    the start of the next threshold's ramp."""
    theta = np.sort(np.asarray(thresholds, dtype=float))
    gaps = np.diff(theta, prepend=0.0) / (GUARD_LEAD + 1)  # the first ramp starts above H(0) = 0
    w = np.minimum.reduce([np.full(theta.shape, float(width)), gaps, np.append(gaps[1:], np.inf)])
    return theta - GUARD_LEAD * w, w


def _guard_value(h: float, lo: np.ndarray, w: np.ndarray) -> float:
    """1 + Σ_k smoothstep((h - lo_k)/w_k), smoothstep(x) = 3x² - 2x³ clamped to [0, 1] (numbers)."""
    x = np.clip((h - lo) / w, 0.0, 1.0)
    return float(1.0 + (x * x * (3 - 2 * x)).sum())


def crossing_guard(name: str, h_node: str, thresholds, width: float = GUARD_W) -> list[str]:
    """Step control for the hard threshold test: node ``name`` = 1 + Σ_k smoothstep((H - lo_k)/w_k) across a
    1 F capacitor, one C¹ ramp from 0 to 1 over [Θ_k - GUARD_LEAD·w_k, Θ_k - (GUARD_LEAD - 1)·w_k] below each
    threshold (``_guard_ramps``: w_k = ``width``, less where thresholds are close); nothing reads the node.
    Its charge rises by 1 just below every threshold, so ngspice's local-truncation-error control rejects a
    step that jumps over a threshold and approaches each threshold in short steps: one implicit step cannot
    cross two close thresholds at once (a memoryless parity state could not notice that), and the crossing
    step overshoots by about w_k. The ramps are C¹ (a piecewise-linear ramp's kinks made ngspice's step
    collapse) and exactly flat from (GUARD_LEAD - 1)·w_k below each threshold on, so where H rests at a
    threshold (zero rate after a gated switch, Newton alternating across it) the guard adds no stiffness;
    the offset 1 keeps the relative LTE tolerance of the charge finite (from a charge of 0 the step
    collapsed). Rendered as nested ternaries over the ramp ends, so an evaluation computes only the ramp
    active at H."""
    lo, w = _guard_ramps(thresholds, width)
    hi = lo + w
    h = node_v(h_node)
    expr: float | Expr = 1.0
    for a in np.unique(np.concatenate([lo, hi])):  # ascending: the last (highest) end is tested first
        seg = 1.0 + float((hi <= a).sum())
        for k in np.flatnonzero((lo <= a) & (hi > a)):
            x = (h - float(lo[k])) / float(w[k])
            seg = seg + x * x * (3 - 2 * x)
        expr = where(h >= float(a), seg, expr)
    return [b_voltage(name, name, "0", expr), capacitor(name, name, "0", 1),
            initial_condition(name, _guard_value(0.0, lo, w))]


def piecewise(x, bounds, leaves) -> Expr:
    """A function of ``x`` by pieces: ``leaves[j]`` (a number or an expression of x) on
    bounds[j-1] <= x < bounds[j] (``leaves[0]`` below bounds[0], ``leaves[-1]`` from bounds[-1] on), bounds
    non-decreasing, len(leaves) = len(bounds) + 1. Rendered as a balanced tree of ternaries (depth log2 of
    the number of pieces, so hundreds of pieces stay cheap to evaluate); a jump at a bound is exact (no
    blending band), the derivative inside each piece is the leaf's own."""
    bounds = [float(b) for b in bounds]
    if len(leaves) != len(bounds) + 1:
        raise ValueError(f"piecewise: {len(leaves)} leaves for {len(bounds)} bounds")

    def tree(a: int, b: int):
        if a == b:
            return leaves[a]
        mid = (a + b + 1) // 2
        return where(x >= bounds[mid - 1], tree(mid, b), tree(a, mid - 1))

    return Expr(text(tree(0, len(bounds))))


def _step_sum(x, lo: np.ndarray, w: np.ndarray, heights: np.ndarray) -> Expr:
    """1 + Σ_k height_k·smoothstep((x - lo_k)/w_k) for ramps [lo_k, lo_k + w_k] that do not overlap (sorted
    by lo), as a :func:`piecewise` function: a constant between ramps, the one active ramp on each."""
    leaves: list = [1.0]
    level = 1.0
    for k in range(lo.size):
        u = (x - float(lo[k])) / float(w[k])
        leaves += [level + float(heights[k]) * (u * u * (3 - 2 * u)), level + float(heights[k])]
        level += float(heights[k])
    return piecewise(x, np.stack([lo, lo + w], -1).ravel(), leaves)


def step_sum_value(x: float, lo: np.ndarray, w: np.ndarray, heights: np.ndarray) -> float:
    """Number value of :func:`_step_sum`."""
    u = np.clip((x - np.asarray(lo, dtype=float)) / np.asarray(w, dtype=float), 0.0, 1.0)
    return float(1.0 + (np.asarray(heights, dtype=float) * u * u * (3 - 2 * u)).sum())


GUARD_GROUP = 4  # ramps per node of a position guard


def position_guard(name: str, x, lo: np.ndarray, w: np.ndarray, x0: float, group: int = GUARD_GROUP) -> list[str]:
    """Step control for a state ``x`` (an expression) that moves through a landscape (the domain wall), now at x0:
    C¹ ramps [lo_k, lo_k + w_k]
    (ascending, not overlapping) placed where the state must not be stepped over, split into runs of
    ``group`` successive ramps; node ``<name><j>`` = 1 + Σ_{k in run j} smoothstep((x - lo_k)/w_k) across a
    1 F capacitor that nothing reads. Like :func:`crossing_guard`, a node's charge rises by 1 across each of
    its ramps, so ngspice's truncation-error control rejects a step that jumps a ramp and approaches it in
    short steps; it is exactly flat between ramps. One node per run keeps every charge at most 1 + ``group``:
    the truncation-error tolerance is relative to the charge, and one node counting all ~50 sites of a strip
    let steps that jumped whole sites pass. Each node is a balanced ternary tree (``piecewise``)."""
    lo, w = np.asarray(lo, dtype=float), np.asarray(w, dtype=float)
    out: list[str] = []
    for j, a in enumerate(range(0, lo.size, group)):
        lo_j, w_j, ones = lo[a:a + group], w[a:a + group], np.ones(min(group, lo.size - a))
        node = f"{name}{j}"
        out += [b_voltage(node, node, "0", _step_sum(x, lo_j, w_j, ones)), capacitor(node, node, "0", 1),
                initial_condition(node, step_sum_value(x0, lo_j, w_j, ones))]
    return out


def render(title: str, elements: Iterable[str], control: Iterable[str]) -> str:
    """The netlist text: title, elements, control lines, ``.end``."""
    return "\n".join([f"* {title}", *elements, *control, ".end"]) + "\n"
