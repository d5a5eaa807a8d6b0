"""Export a trained run to chip files, verify them, and measure the accuracy after simulated programming.

    .venv/bin/spinsyn train --synapse compound:8 --neurons 100 --n-train 60000 --data-dir /work/shared/data/mnist \\
        --out runs/compound8
    .venv/bin/python examples/export_roundtrip.py runs/compound8 chips/compound8 --n-test 10000

Equivalent CLI: ``spinsyn export RUN --out CHIP``, ``spinsyn export verify CHIP``, ``spinsyn export simulate CHIP``.
The synapse and device come from the run's checkpoint. Writes only CHIP_DIR. ``--quick`` measures the round trip
on 50 test images (same code path; the test suite runs it on the run of ``examples/train_mnist.py --quick``).
"""

from __future__ import annotations

import argparse
import sys

from spinsyn.hw_export import export_run, simulate_chip, verify_chip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="trained run folder (read only)")
    ap.add_argument("chip_dir", help="chip folder to write")
    ap.add_argument("--mapping", default="unipolar", choices=("unipolar", "differential"))
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--quick", action="store_true", help="50 test images, for the test suite")
    args = ap.parse_args()
    n_test = 50 if args.quick else args.n_test

    res = export_run(args.run_dir, args.chip_dir, mapping=args.mapping, overwrite=True)
    s = res.report["summary"]
    print(f"export: {s['devices']} devices on {s['tiles']} tiles, {s['pulses']} pulses "
          f"({s['pulses_per_device']['mean']:.2f}/device), {s['failed']} failed, {res.timings_s['total']:.1f} s")
    v = verify_chip(args.chip_dir)
    print(f"verify: OK, {v['files_checked']} files")
    r = simulate_chip(args.chip_dir, n_test=n_test, data_dir=args.data_dir)
    key = r["accuracy_key"]
    a = r["accuracy"]
    print(f"simulate: accuracy trained {100 * a['trained'][key]:.2f}%, targets {100 * a['targets'][key]:.2f}%, "
          f"programmed {100 * a['programmed'][key]:.2f}% -> drop {r['drop_points']:.2f} points "
          f"({r['n_test']} test images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
