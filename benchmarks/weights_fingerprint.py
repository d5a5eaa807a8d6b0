"""Fingerprint of small training runs: sha256 of the trained weights for 4 synapse kinds x 2 engines.

A refactor that must not change results is checked by running this before and after and comparing the JSON:

    .venv/bin/python benchmarks/weights_fingerprint.py --out before.json
    ... change the code ...
    .venv/bin/python benchmarks/weights_fingerprint.py --out after.json --compare before.json

Each run: 10 neurons, 100 training images, seed 0, CPU, through the ``spinsyn train`` command line; the
fingerprint is the sha256 of the checkpoint's weight arrays (``w``, and ``state`` for leveled synapses).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

KINDS = ("ideal", "quantized:9", "dw:16", "compound:8")
ENGINES = ("numba", "torch")


def _fingerprint(run: Path) -> str:
    from spinsyn.snn.checkpoint import read_checkpoint

    ck = read_checkpoint(run / "checkpoint.pt")
    h = hashlib.sha256()
    for key in ("w", "state"):
        v = ck.get(key)
        if v is not None:
            h.update(key.encode())
            h.update(v.numpy().tobytes() if hasattr(v, "numpy") else bytes(v))
    return h.hexdigest()


def run_all(work: Path) -> dict[str, str]:
    out = {}
    for kind in KINDS:
        for engine in ENGINES:
            run = work / f"{kind.replace(':', '')}_{engine}"
            cmd = [sys.executable, "-m", "spinsyn.cli", "train", "--synapse", kind, "--neurons", "10", "--n-train",
                   "100", "--n-test", "20", "--n-assign", "100", "--device", "cpu", "--engine", engine,
                   "--seed", "0", "--quiet", "--out", str(run)]
            subprocess.run(cmd, check=True, capture_output=True)
            out[f"{kind}/{engine}"] = _fingerprint(run)
            print(f"{kind:12s} {engine:6s} {out[f'{kind}/{engine}'][:16]}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path, default=None, help="an earlier --out to compare with")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fp = run_all(Path(tmp))
    args.out.write_text(json.dumps(fp, indent=2, sort_keys=True) + "\n")
    if args.compare is None:
        return 0
    before = json.loads(args.compare.read_text())
    diff = [k for k in fp if before.get(k) != fp[k]]
    print("identical" if not diff else f"DIFFERENT: {diff}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
