"""``--threads auto``: how many numba threads a CPU run uses, decided once at the start of training from how
busy this machine's cores are (issue #25: a second thread made training 10-36 % slower when the other core was
busy). The thread count never changes a result (each image has its own random stream and workspace); it only
changes speed.

:func:`cpu_times` reads the per-core idle and total jiffies of ``/proc/stat``; :func:`decide_threads` (pure, so
it is tested on synthetic samples) turns free cores into a count and a reason; :class:`CoreWatch` samples
``/proc/stat`` from the start of a run (its set-up overlaps the look) and :func:`resolve_threads` decides a
config's ``threads`` value (``os.getloadavg`` where ``/proc/stat`` cannot be read).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

#: how long :class:`CoreWatch` watches the cores at least (s): ~20 jiffies per core at 100 Hz
SAMPLE_S = 0.2
#: idle cores needed beyond the one this run's first thread takes before a further thread is used (a core
#: that is 80 % idle is free enough; a busy one costs the parallel region its barrier, measured 10-36 % slower)
FREE_CORE = 0.8

#: one core's (idle, total) jiffies, by ``/proc/stat`` line name (``cpu0``, ``cpu1``, ...)
CpuTimes = Mapping[str, tuple[int, int]]


def parse_proc_stat(text: str, cpus: set[int] | None = None) -> dict[str, tuple[int, int]]:
    """(idle + iowait, total) jiffies of each ``cpuN`` line of ``/proc/stat`` text; ``cpus``: only those cores
    (e.g. this process's affinity); None = all. Lines it does not know are skipped."""
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()) or len(fields) < 4:
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        vals = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal (guest is in user)
        out[name] = (vals[3] + (vals[4] if len(vals) > 4 else 0), sum(vals))
    return out


def _allowed_cpus() -> set[int] | None:
    """The cores this process may run on (None where the platform does not say)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def cpu_times(path: str = "/proc/stat") -> dict[str, tuple[int, int]] | None:
    """Per-core (idle, total) jiffies of this process's cores now; None where ``path`` cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    return parse_proc_stat(text, _allowed_cpus()) or None


def idle_cores(before: CpuTimes, after: CpuTimes) -> float:
    """Idle cores (0 .. number of cores) between two :func:`cpu_times` samples: the sum over cores of each core's
    idle fraction (a core whose counters did not move counts as idle)."""
    total = 0.0
    for name, (idle1, tot1) in after.items():
        idle0, tot0 = before.get(name, (idle1, tot1))
        d_tot = tot1 - tot0
        total += 1.0 if d_tot <= 0 else min(max((idle1 - idle0) / d_tot, 0.0), 1.0)
    return total


def decide_threads(free: float, max_threads: int, source: str) -> tuple[int, str]:
    """(threads, reason) for ``free`` cores that other processes leave this run (``source`` says how measured):
    one thread for this run, plus one per further core that is at least :data:`FREE_CORE` free, at most
    ``max_threads``."""
    extra = int(max(free - 1.0, 0.0) + (1.0 - FREE_CORE) + 1e-9)
    n = max(1, min(1 + extra, int(max_threads)))
    why = "a free core for each further thread" if n > 1 else "no free core beyond this run's"
    return n, f"auto: {free:.2f} cores free ({source}), {why}"


class CoreWatch:
    """Watches this process's cores from its creation (the start of a run, before its data is read) until
    :meth:`free_cores`, so that the look costs the run at most :data:`SAMPLE_S` minus the set-up time. This
    process's own CPU time over the window (``cpu_clock``, all its threads) counts as free: it is the run itself."""

    def __init__(self, sample: Callable[[], dict[str, tuple[int, int]] | None] = cpu_times,
                 clock: Callable[[], float] = time.monotonic, cpu_clock: Callable[[], float] = time.process_time):
        self.sample, self.clock, self.cpu_clock = sample, clock, cpu_clock
        self.t0, self.cpu0, self.before = clock(), cpu_clock(), sample()

    def free_cores(self, sleep: Callable[[float], None] = time.sleep) -> tuple[float, str] | None:
        """(cores not used by other processes since creation, how measured), after waiting until at least
        :data:`SAMPLE_S` has passed; None where ``/proc/stat`` cannot be read."""
        if self.before is None:
            return None
        wait = SAMPLE_S - (self.clock() - self.t0)
        if wait > 0:
            sleep(wait)
        after = self.sample()
        if after is None:
            return None
        elapsed = max(self.clock() - self.t0, 1e-9)
        own = max(self.cpu_clock() - self.cpu0, 0.0) / elapsed
        free = min(idle_cores(self.before, after) + own, float(len(after)))
        return free, f"/proc/stat over {elapsed:.2f} s, this run's own {own:.2f} cores counted free"


def resolve_threads(threads: int | str, max_threads: int, watch: CoreWatch | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[int, str]:
    """(numba threads to use, reason) for a config's ``threads``: a number is used as given (0 = ``max_threads``,
    all that NUMBA_NUM_THREADS allows); ``"auto"`` asks ``watch`` (default: one started now) how many cores other
    processes leave free (where ``/proc/stat`` cannot be read: cores minus the 1-minute load average) and calls
    :func:`decide_threads`."""
    if threads != "auto":
        n = int(threads) or int(max_threads)
        return n, f"--threads {threads}" + (" (all that NUMBA_NUM_THREADS allows)" if not int(threads) else "")
    if max_threads <= 1:
        return 1, "auto: NUMBA_NUM_THREADS allows one thread"
    got = (watch or CoreWatch()).free_cores(sleep)
    if got is not None:
        return decide_threads(got[0], max_threads, got[1])
    n_cpu = len(_allowed_cpus() or ()) or (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 1, "auto: neither /proc/stat nor the load average can be read; one thread"
    return decide_threads(max(n_cpu - load, 0.0), max_threads, f"{n_cpu} cores minus load average {load:.2f}")
