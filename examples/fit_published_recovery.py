"""Recovery of the published bi-sigmoid from noisy samples (Δt = 0..60 ms step 1, σ = 0.02), many seeds.

Run: .venv/bin/python examples/fit_published_recovery.py [N_SEEDS]
Prints per parameter: median and worst |relative error|, median relative stderr, 95 % t-interval coverage,
and how often auto picks bisigmoid over exp-stdp/sigmoid.
"""

import sys
import time

import numpy as np
from spinsyn.fitting import PUBLISHED_PARAMS as P
from spinsyn.fitting import published_rule
from spinsyn.fitting.fit import fit_auto
from spinsyn.fitting.inputs import FitData


def main(n_seeds: int = 200) -> None:
    x = np.arange(0.0, 61.0)
    truth = published_rule()(x)
    names = ("t0", "t1", "k0", "k1")
    err = {k: [] for k in names}
    rse = {k: [] for k in names}
    cov = {k: 0 for k in names}
    auto_ok = 0
    t = time.perf_counter()
    for seed in range(n_seeds):
        y = truth + np.random.default_rng(seed).normal(0, 0.02, x.size)
        d = FitData(x, y, np.full_like(x, np.nan), np.ones(x.size, int), None, "1", True, x, y, "synthetic", "", "csv")
        best, _, fits = fit_auto(d)
        auto_ok += best.rule.model == "bisigmoid"
        r = fits["bisigmoid"].rule
        for k in names:
            pi = r.params[k]
            err[k].append(abs(pi.value / P[k] - 1))
            rse[k].append(pi.stderr / P[k])
            cov[k] += pi.ci95[0] <= P[k] <= pi.ci95[1]
    dt = time.perf_counter() - t
    print(f"{n_seeds} seeds, {dt / n_seeds * 1e3:.0f} ms per auto fit (3 families)")
    for k in names:
        e = np.array(err[k])
        print(f"  {k}: median |rel err| {np.median(e):.2%}, worst {e.max():.2%}, median rel stderr "
              f"{np.median(rse[k]):.2%}, 95% CI coverage {cov[k] / n_seeds:.1%}")
    tol = {"t0": 0.01, "t1": 0.01, "k0": 0.10, "k1": 0.10}
    inside = np.all([np.array(err[k]) < tol[k] for k in names], axis=0)
    print(f"  all four within tolerance (t 1 %, k 10 %) in {int(inside.sum())}/{n_seeds} seeds")
    print(f"  auto chose bisigmoid in {auto_ok}/{n_seeds}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
