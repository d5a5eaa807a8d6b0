"""A conv 1-2 stage of ``conv_accuracy.py`` with a decision layer of another width (issue 27, not the paper's net).

Mozafari et al. 2019's decision layer has 200 maps, 20 per class. To test whether a wider one generalises better,
this copies a pass-0 stage (``conv_accuracy.py --conv-epochs E1,E2,0 --out STAGE``: conv 1-2 trained, no R-STDP
pass) into ``--out`` with the decision layer redrawn: ``--f3`` maps, N(w_init_mean, w_init_std) from
``--init-seed`` (a generator of its own, so the stage's saved random stream, which draws the R-STDP image orders,
is unchanged). The conv 1-2 weights, the saved state and the curve's pass 0 are kept; the curve's ``conv_config``
gains ``f3``. Continue it with the stage's arguments and the ``--conv-config`` it prints, e.g.::

    python benchmarks/conv_accuracy.py ... --conv-config '{"f3": 400}' --resume --out OUT

Ideal weights only. Every argument is checked before any work (``spinsyn: error: <option>: <problem>``, exit 2);
the stage is written into ``OUT.part`` and renamed to ``OUT`` when complete (removed again on an error).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np


def _fail(option: str, problem: str) -> NoReturn:
    print(f"spinsyn: error: {option}: {problem}", file=sys.stderr)
    raise SystemExit(2)


def _check(a: argparse.Namespace) -> dict:
    stage, out = Path(a.stage), Path(a.out)
    if not (stage / "curve.json").is_file() or not (stage / "run" / "conv.npz").is_file():
        _fail(str(stage), "holds no run of conv_accuracy.py (curve.json and run/conv.npz)")
    if out.exists():
        _fail("--out", f"{out} exists; give a new folder")
    curve = json.loads((stage / "curve.json").read_text())
    if curve["args"].get("synapse") != "ideal":
        _fail(str(stage), f"synapse {curve['args'].get('synapse')!r}: only ideal stages are supported")
    if a.f3 < 10 or a.f3 % 10:
        _fail("--f3", f"{a.f3}: must be a positive multiple of the 10 classes")
    if a.init_seed < 0:
        _fail("--init-seed", f"{a.init_seed}: must be >= 0")
    return curve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", help="a pass-0 stage folder of conv_accuracy.py")
    p.add_argument("--f3", type=int, required=True, help="decision-layer maps (a multiple of 10)")
    p.add_argument("--init-seed", type=int, default=400, help="seed of the redrawn decision layer")
    p.add_argument("--out", required=True, help="new folder for the widened stage")
    a = p.parse_args(argv)
    curve = _check(a)
    from spinsyn.snn.conv.run import parse_conv_config

    cc = curve["args"].get("conv_config")
    try:
        fields = {**(parse_conv_config(cc, "--conv-config of the stage") if cc else {}), "f3": a.f3}
    except ValueError as exc:
        _fail(a.stage, str(exc))

    from spinsyn.snn.conv import load_conv, save_conv
    from spinsyn.snn.conv.network import weight_range
    from spinsyn.snn.conv.resume import resumable_passes
    from spinsyn.snn.conv.updates import LayerWeights

    net = load_conv(Path(a.stage) / "run" / "conv.npz")
    if net.synapse is not None or resumable_passes(net) != 0:
        _fail(a.stage, "not an ideal stage at R-STDP pass 0")
    c = dataclasses.replace(net.config, f3=a.f3)
    rng = np.random.default_rng(a.init_seed)
    w = rng.normal(c.w_init_mean, c.w_init_std, (c.f3, c.f2, c.k3_px, c.k3_px))
    net.layers[2] = LayerWeights.create(w, None, rng, signed=c.signed_read, **weight_range(c, 2))
    net.config = c
    net.history["decision_redrawn"] = {"f3": a.f3, "init_seed": a.init_seed, "stage": str(a.stage)}
    out = Path(a.out)
    part = out.with_name(out.name + ".part")  # renamed to --out when complete: never a half-written stage
    if part.exists():
        _fail("--out", f"{part} exists (an interrupted earlier call?); remove it or give another --out")
    curve["args"] = {**curve["args"], "conv_config": json.dumps(fields), "out": str(out)}
    curve["curve"] = [{k: v for k, v in curve["curve"][0].items() if k != "test_accuracy"}]
    curve["decision_redrawn"] = net.history["decision_redrawn"]
    (part / "run").mkdir(parents=True)
    try:
        save_conv(net, part / "run" / "conv.npz")
        (part / "curve.json").write_text(json.dumps(curve, indent=1))
        part.rename(out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)  # the folder this call made, nothing else
        raise
    print(f"{out}: decision layer {c.f3} maps ({c.f3 // c.n_classes} per class) on the conv 1-2 of {a.stage}; "
          f"continue with conv_accuracy.py --resume --out {out} --conv-config '{json.dumps(fields)}'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
