"""What a fit returns (:class:`FitResult`): its own module so that fit.py and plot.py both import it, not each other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import Rule

#: least-squares losses of ``spinsyn fit --loss`` (scipy.optimize.least_squares names; robust ones down-weight
#: outliers); here, not in fit.py, so that building the parser imports no fitting code
LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


@dataclass(frozen=True)
class FitResult:
    """A fitted rule plus its residuals (ms, data unit) and the free-parameter covariance."""

    rule: Rule
    residuals: np.ndarray  # (P,) y_mean − fit
    free: tuple[str, ...]
    cov: np.ndarray  # (k, k)
