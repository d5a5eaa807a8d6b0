#!/usr/bin/env python
"""Checkpoint sizes: a run's checkpoint (v2 or v3) rewritten as v3, and the same weights as an ideal network's
v3 checkpoint with float64 / float32 / float16 final weights.

For each RUN_DIR: reads its checkpoint with ``spinsyn.snn.read_checkpoint``, writes it again as v3 into a
temporary folder (leveled synapses: uint8/uint16 level indices; the reader's ``w`` is checked to be
bit-identical), then writes its ``w`` as the weights of an ideal network (float64, float32, float16) and prints
the file sizes in MB.

Usage:  .venv/bin/python benchmarks/bench_checkpoint_size.py RUN_DIR [RUN_DIR ...] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def sizes(run_dir: Path) -> dict:
    from spinsyn.snn import make_synapse, read_checkpoint, synapse_from_record
    from spinsyn.snn.checkpoint import compiled_rule, net_state, save_checkpoint
    from spinsyn.snn.engine import NetState

    src = run_dir / "checkpoint.pt"
    ck = read_checkpoint(src)
    syn = synapse_from_record(json.loads(ck["synapse_device_json"]))
    ns, rule = net_state(ck), compiled_rule(ck)
    extra = {k: ck[k].numpy() for k in ("assignments", "proportions") if k in ck}
    args = (ck["config_json"], rule)
    rest = (tuple(ck["position"].tolist()), json.loads(ck["history_json"]), ck["recent_counts"].numpy(),
            ck["recent_labels"].numpy(), 0, extra)
    out = {"run": str(run_dir), "neurons": int(ns.w.shape[1]), "synapse": str(syn.spec),
           "source_version": int(ck["format_version"]), "source_mb": src.stat().st_size / 1e6}
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "v3.pt"
        save_checkpoint(p, *args[:1], syn, rule, ns, *rest)
        assert np.array_equal(read_checkpoint(p)["w"].numpy(), ns.w), "v3 weights differ"
        out["v3_mb"] = p.stat().st_size / 1e6
        ideal = make_synapse("ideal")
        ins = NetState(ns.w, np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1)), ns.theta)
        for dt in ("float64", "float32", "float16"):
            q = Path(tmp) / f"ideal_{dt}.pt"
            save_checkpoint(q, args[0], ideal, rule, ins, *rest, weights=dt)
            out[f"ideal_v3_{dt}_mb"] = q.stat().st_size / 1e6
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--json-out", default=None)
    a = p.parse_args(argv)
    rows = [sizes(r) for r in a.runs]
    print(f"{'run':40s} {'N':>5s} {'synapse':>11s} {'source':>12s} {'v3':>8s} {'ideal f64':>10s} {'f32':>8s} "
          f"{'f16':>8s}  (MB)")
    for r in rows:
        print(f"{r['run'][-40:]:40s} {r['neurons']:5d} {r['synapse']:>11s} {r['source_mb']:8.2f} "
              f"(v{r['source_version']}) {r['v3_mb']:8.2f} {r['ideal_v3_float64_mb']:10.2f} "
              f"{r['ideal_v3_float32_mb']:8.2f} {r['ideal_v3_float16_mb']:8.2f}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
