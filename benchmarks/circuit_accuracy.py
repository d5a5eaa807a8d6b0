"""Accuracy of a programmed chip against its circuit: tile size or wire resistance, compensated or not.

For each setting the run is exported three times (ideal lines; ``--circuit`` compensated; ``--circuit
--no-compensate``), each chip is programmed in simulation and evaluated on the same test images
(``spinsyn.hw_export.simulate_chip``), and one row per chip records: write failures and unreachable devices,
the half-select risk, every loss term with its paired 95 % CI (the circuit read term among them) and the final
accuracy. The figure shows final accuracy against the swept setting, with the trained accuracy and the first
setting where the compensated chip loses more than 1 point against the ideal-line chip of the same setting.

    python benchmarks/circuit_accuracy.py --run RUN --sweep tile --values 16,32,64,128 --n-test 10000 \\
        --data-dir ../shared/data/mnist --out benchmarks/results/circuit_tile.json --plot docs/img/circuit_tile.png
    python benchmarks/circuit_accuracy.py --run RUN --sweep wire --values 0,0.3,1,3,10 --tile 64 ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


def _row(chip: Path, sim: dict[str, Any], kind: str, value: float, comp: str, wall_s: float) -> dict[str, Any]:
    from spinsyn.hw_export import load_chip

    s = load_chip(chip, check=False).meta["summary"]
    key, fin = sim["accuracy_key"], sim["final"]
    c = s.get("circuit", {})
    return {"sweep": kind, "value": value, "chip": comp, "devices": s["devices"], "failed": s["failed"],
            "failed_fraction": s["failed_fraction"], "unreachable": c.get("unreachable", 0),
            "eta_mean": c.get("eta", {}).get("mean"), "eta_min": c.get("eta", {}).get("min"),
            "disturb_risk_mean": s["disturb_risk"]["mean"], "pulses_per_device": s["pulses_per_device"]["mean"],
            "programming_energy_J": (c.get("programming", {}).get("energy_J", {}).get("total")),
            "replay_failed": sim["programming"]["failed"], "replay_unreachable": sim["programming"].get("unreachable"),
            "accuracy_trained": sim["accuracy"]["trained"][key], "accuracy_final": sim["accuracy"][fin][key],
            "accuracy_final_ci95": sim["accuracy_ci95"][fin], "final": fin, "drop_points": sim["drop_points"],
            "loss_terms": {t["term"]: [t["points"], *t["ci95_points"]] for t in sim["loss_terms"]},
            "attenuation": sim.get("circuit", {}).get("attenuation"), "wall_s": wall_s}


def run_one(run: Path, work: Path, kind: str, value: float, comp: str, args: argparse.Namespace) -> dict[str, Any]:
    from spinsyn.hw_export import CircuitConfig, export_run, simulate_chip

    tile = int(value) if kind == "tile" else args.tile
    wire = value if kind == "wire" else args.wire_ohm
    circuit = None if comp == "ideal" else CircuitConfig(
        r_wire_ohm=wire, r_driver_ohm=args.driver_ohm, r_sense_ohm=args.driver_ohm, access=args.access,
        compensate=comp == "compensated")
    chip = work / f"{kind}_{value:g}_{comp}"
    t = time.perf_counter()
    export_run(run, chip, tile=(tile, tile), circuit=circuit, write_pulse=args.write_pulse, csv=False)
    sim = simulate_chip(chip, n_test=args.n_test, data_dir=args.data_dir, eval_device="cpu")
    row = _row(chip, sim, kind, value, comp, time.perf_counter() - t)
    shutil.rmtree(chip)
    print(json.dumps({k: row[k] for k in ("sweep", "value", "chip", "failed", "unreachable", "eta_mean",
                                         "accuracy_final", "drop_points", "wall_s")}), flush=True)
    return row


def plot(rows: list[dict[str, Any]], kind: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for comp, style in (("ideal", "k:o"), ("compensated", "C0-o"), ("uncompensated", "C3--s")):
        rs = [r for r in rows if r["chip"] == comp]
        if not rs:
            continue
        x = [r["value"] for r in rs]
        y = [100 * r["accuracy_final"] for r in rs]
        lo = [100 * (r["accuracy_final"] - r["accuracy_final_ci95"][0]) for r in rs]
        hi = [100 * (r["accuracy_final_ci95"][1] - r["accuracy_final"]) for r in rs]
        ax.errorbar(x, y, yerr=[lo, hi], fmt=style, capsize=3, label=f"{comp} lines" if comp == "ideal" else comp)
    tr = 100 * rows[0]["accuracy_trained"]
    ax.axhline(tr, color="0.5", lw=0.8)
    ax.text(rows[0]["value"], tr + 0.3, "trained", color="0.4", fontsize=8)
    one = first_over_one_point(rows)
    if one is not None:
        ax.axvline(one, color="C1", lw=1)
        ax.text(one, ax.get_ylim()[0] + 1, " > 1 point", color="C1", fontsize=8)
    ax.set_xscale("log", base=2 if kind == "tile" else 10)
    ax.set_xlabel("tile side (cells)" if kind == "tile" else "wire resistance per synapse pitch (ohm)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def first_over_one_point(rows: list[dict[str, Any]]) -> float | None:
    """The first swept value at which the compensated chip is more than 1 point below the ideal-line chip."""
    ideal = {r["value"]: r["accuracy_final"] for r in rows if r["chip"] == "ideal"}
    for r in sorted((r for r in rows if r["chip"] == "compensated"), key=lambda r: r["value"]):
        if r["value"] in ideal and 100 * (ideal[r["value"]] - r["accuracy_final"]) > 1.0:
            return float(r["value"])
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="snn run directory")
    p.add_argument("--sweep", choices=("tile", "wire"), default="tile")
    p.add_argument("--values", default="16,32,64,128", help="tile sides or wire resistances (ohm)")
    p.add_argument("--tile", type=int, default=64, help="tile side of a wire sweep")
    p.add_argument("--wire-ohm", type=float, default=None, help="wire resistance of a tile sweep (default: node)")
    p.add_argument("--driver-ohm", type=float, default=None, help="driver and sense resistance (default: node)")
    p.add_argument("--access", default="0T1R", choices=("0T1R", "1T1R"))
    p.add_argument("--write-pulse", default="auto")
    p.add_argument("--chips", default="ideal,compensated,uncompensated")
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", required=True, help="JSON results")
    p.add_argument("--plot", default=None, help="PNG figure")
    a = p.parse_args()
    vals = [float(v) for v in a.values.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="spinsyn-circuit-") as tmp:
        for v in vals:
            for comp in a.chips.split(","):
                rows.append(run_one(Path(a.run), Path(tmp), a.sweep, v, comp, a))
                Path(a.out).write_text(json.dumps({"args": vars(a), "rows": rows}, indent=1))
    if a.plot:
        plot(rows, a.sweep, Path(a.plot))
    print(f"first value with > 1 point lost (compensated vs ideal lines): {first_over_one_point(rows)}")


if __name__ == "__main__":
    main()
