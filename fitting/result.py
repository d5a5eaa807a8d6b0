"""What a fit returns (:class:`FitResult`): its own module so that fit.py and plot.py both import it, not each other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import Rule


@dataclass(frozen=True)
class FitResult:
    """A fitted rule plus its residuals (ms, data unit) and the free-parameter covariance."""

    rule: Rule
    residuals: np.ndarray  # (P,) y_mean − fit
    free: tuple[str, ...]
    cov: np.ndarray  # (k, k)
