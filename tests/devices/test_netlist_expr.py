"""``netlist.Expr`` cannot lose a branch: truth value and array coercion raise; ufuncs and ``where`` still work."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.devices.netlist import V_MTJ, where


@pytest.mark.parametrize("misuse", [
    lambda e: bool(e),
    lambda e: 1 if e > 0 else 0,
    lambda e: e > 0 and e < 1,
    lambda e: np.clip(e, 0.0, 1.0),
    lambda e: np.where(e > 0, 1.0, 2.0),
    lambda e: np.asarray(e),
])
def test_misuse_raises(misuse):
    with pytest.raises(TypeError, match="expression"):
        misuse(V_MTJ)


def test_ufuncs_and_where_render():
    assert np.exp(V_MTJ * 2).text == "exp(((v(pre)-v(post))*2))"
    assert np.maximum(V_MTJ, 0.0).text == "max((v(pre)-v(post)),0)"
    assert where(V_MTJ > 0, V_MTJ, 0.0).text == "(((v(pre)-v(post))>0) ? (v(pre)-v(post)) : 0)"
