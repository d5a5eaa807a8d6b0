"""The progress bar of ``spinsyn study``: trials done out of the study's, and an ETA from the trials this run has
finished only (trials skipped as done by an earlier run and the time before the first finish say nothing about
the pace; until one finishes the bar says so instead of guessing)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
WAITING = "ETA after the first trial"


def eta_s(elapsed_s: float, finished: int, remaining: int) -> float | None:
    """Seconds left at the pace of this run's finished trials (``elapsed_s`` / ``finished`` per trial); None before
    the first one finishes."""
    if finished <= 0:
        return None
    return elapsed_s / finished * max(remaining, 0)


class StudyBar:
    """A tqdm bar of ``total`` trials (no output when ``disable``) whose postfix is the ETA and the live workers."""

    def __init__(self, total: int, disable: bool = False) -> None:
        from tqdm import tqdm  # lazy: startup

        self.bar: Any = tqdm(total=total, unit="trial", desc="study", disable=disable, dynamic_ncols=True,
                             bar_format=BAR_FORMAT, postfix=WAITING)
        self.t0 = time.perf_counter()
        self.total, self.n, self.finished = total, 0, 0  # trials in all, done (skipped too), finished by this run
        self.postfix = WAITING  # what the bar shows after the count

    def skip(self, n: int) -> None:
        """``n`` trials done by an earlier run: counted as done, not in the pace."""
        if n:
            self.n += n
            self.bar.update(n)

    def done(self, workers: int | None = None) -> None:
        """One trial of this run finished (ok or failed); ``workers``: live dask workers, if any."""
        self.finished += 1
        self.n += 1
        self.bar.update(1)
        eta = eta_s(time.perf_counter() - self.t0, self.finished, self.total - self.n)
        text = WAITING if eta is None else f"ETA {self.bar.format_interval(eta)}"
        self.postfix = text + (f", workers={workers}" if workers is not None else "")
        self.bar.set_postfix_str(self.postfix, refresh=True)

    def __enter__(self) -> StudyBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.close()
