"""A real BindsNET 0.3.4 DC-100 network through ``spinsyn import bindsnet``: accuracy against BindsNET's own.

1. In the BindsNET venv (benchmarks/README.md), ``bindsnet_import_runner.py`` trains DiehlAndCook2015 (100
   neurons, eth_mnist settings) on the first N training images, assigns labels with BindsNET's assign_labels,
   tests on the first M test images and saves ``net.pt`` (``network.save``) and ``labels.pt``.
2. Here: ``spinsyn import bindsnet net.pt --labels labels.pt --out RUN``, ``spinsyn eval RUN`` on the same M
   test images (same label assignment; spinsyn draws its own Poisson spikes), ``spinsyn export RUN --out CHIP``
   and ``spinsyn export verify CHIP``. Prints both accuracies and the difference (goal: within 3 points).

    .venv/bin/python benchmarks/bench_bindsnet_import.py --n-train 3000 --n-test 1000 --work runs/bn_import
    .venv/bin/python benchmarks/bench_bindsnet_import.py --work runs/bn_import --reuse   # skip BindsNET
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _spinsyn(*args: str) -> str:
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "spinsyn"), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"spinsyn {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--data-dir", default=os.environ.get("SPINSYN_MNIST_DIR", str(ROOT.parent / "shared/data/mnist")))
    ap.add_argument("--bindsnet-venv", default=os.environ.get("SPINSYN_BINDSNET_VENV",
                                                              str(ROOT / ".bench-venvs" / "bindsnet")))
    ap.add_argument("--work", default=str(ROOT / "runs" / "bn_import"), help="folder for net.pt, RUN and CHIP")
    ap.add_argument("--reuse", action="store_true", help="reuse WORK/bindsnet (net.pt, labels.pt, result)")
    args = ap.parse_args()
    work = Path(args.work)
    bn = work / "bindsnet"
    if not args.reuse:
        bn.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(Path(args.bindsnet_venv) / "bin" / "python"), str(HERE / "bindsnet_import_runner.py"),
                        "--data-dir", args.data_dir, "--out", str(bn), "--n-train", str(args.n_train),
                        "--n-test", str(args.n_test)], check=True)
    ref = json.loads((bn / "bindsnet_result.json").read_text())
    run, chip = work / "run", work / "chip"
    for d in (run, chip):
        if d.exists():
            shutil.rmtree(d)  # our own benchmark outputs, recreated each time
    print(_spinsyn("import", "bindsnet", str(bn / "net.pt"), "--labels", str(bn / "labels.pt"), "--out", str(run)))
    res = json.loads(_spinsyn("eval", str(run), "--n-test", str(ref["n_test"]), "--data-dir", args.data_dir,
                              "--device", "cpu", "--json"))
    print(_spinsyn("export", str(run), "--out", str(chip)))
    print(_spinsyn("export", "verify", str(chip)))
    a_bn, a_ss = ref["accuracy_all_activity"], res["accuracy_all_activity"]
    out = {"n_train": ref["n_train"], "n_test": ref["n_test"], "bindsnet_accuracy_all_activity": a_bn,
           "spinsyn_accuracy_all_activity": a_ss, "difference_points": 100 * (a_ss - a_bn),
           "unassigned_neurons": ref["unassigned_neurons"], "within_3_points": abs(a_ss - a_bn) <= 0.03,
           "chip_verified": True}
    print(json.dumps(out, indent=2))
    (work / "bench_result.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
