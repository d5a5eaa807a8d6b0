#!/usr/bin/env python
"""Speed/accuracy comparison: spinsyn's Diehl & Cook network vs BindsNET 0.3.4's DiehlAndCook2015.

One run:
  1. makes (idempotently) a separate virtualenv for BindsNET (default REPO/.bench-venvs/bindsnet,
     override with --bindsnet-venv or $SPINSYN_BINDSNET_VENV): torch==2.13.0, bindsnet==0.3.4 with
     --no-deps (its metadata wants torch>=2.14, which this network does not need), then the modules
     `import bindsnet` needs; finished steps are recorded in a stamp file and skipped next time;
  2. runs benchmarks/bindsnet_runner.py in that venv (eth_mnist.py settings: 100 neurons, 250 ms per
     image, dt 1, intensity 128, Poisson input, exc 22.5, inh 120, theta_plus 0.05, nu (1e-4, 1e-2),
     norm 78.4, batch 1) on the first N training / first M test MNIST images in file order, single
     thread by default; the result is cached in the venv folder (reused with --skip-bindsnet);
  3. runs `spinsyn train --synapse ideal --neurons 100 --batch 1 --device cpu ...` on the same images
     and reads RUN_DIR/metrics.json;
  4. prints train/test samples/s and test accuracy for both and the ratios ours/BindsNET
     (and writes them as JSON with --json-out).

Usage:  .venv/bin/python benchmarks/bench_snn_vs_bindsnet.py [--n-train 1000] [--n-test 1000]
            [--seed 0] [--data-dir DIR] [--threads 1] [--skip-bindsnet] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "bindsnet_runner.py"
DEFAULT_VENV = ROOT / ".bench-venvs" / "bindsnet"
STAMP_NAME = "spinsyn-bench-stamp.json"
CACHE_NAME = "last_bindsnet_result.json"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
)

# Install steps: (name, pip arguments). The set of runtime modules is the smallest that lets
# `import bindsnet` succeed (checked by blocking each in turn: all of these are imported at import
# time; scikit-image, also in bindsnet's metadata, is not). torchvision goes in with --no-deps so
# it cannot replace torch 2.13.0; pillow is its only other runtime need.
INSTALL_STEPS = [
    ("torch", ["torch==2.13.0"]),
    ("bindsnet", ["--no-deps", "bindsnet==0.3.4"]),
    ("runtime", ["numpy", "scipy", "matplotlib", "pandas", "scikit-learn", "tensorboardX", "tqdm",
                 "opencv-python", "gymnasium", "ale-py", "pillow"]),
    ("torchvision", ["--no-deps", "torchvision==0.28.0"]),
]

IMPORT_CHECK = (
    "import torch\n"
    "lib = torch.library.Library('torchvision', 'DEF')\n"
    "lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')\n"
    "lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')\n"
    "import bindsnet\n"
    "from bindsnet.models import DiehlAndCook2015\n"
    "from bindsnet.encoding import poisson\n"
    "from bindsnet.evaluation import all_activity, assign_labels\n"
    "print('bindsnet', bindsnet.__file__, 'torch', torch.__version__)\n"
)


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _run(cmd: list[str], check: bool = False, **kw) -> subprocess.CompletedProcess:
    say("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=check, **kw)


# --------------------------------------------------------------------------------------------- venv
def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _load_stamp(venv: Path) -> dict:
    try:
        return json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}


def _save_stamp(venv: Path, stamp: dict) -> None:
    tmp = venv / (STAMP_NAME + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1))
    os.replace(tmp, venv / STAMP_NAME)


def ensure_bindsnet_venv(venv: Path, base_python: str) -> Path:
    """Create the BindsNET venv step by step; a step whose spec is in the stamp file is skipped."""
    py = venv_python(venv)
    if not py.exists():
        say(f"creating virtualenv {venv} (with {base_python})")
        venv.parent.mkdir(parents=True, exist_ok=True)
        if venv.exists():  # leftover without an interpreter: start over
            shutil.rmtree(venv)
        _run([base_python, "-m", "venv", str(venv)], check=True)
        _save_stamp(venv, {})
    else:
        say(f"virtualenv {venv} exists")
    stamp = _load_stamp(venv)
    for name, pip_args in INSTALL_STEPS:
        spec = " ".join(pip_args)
        if stamp.get(name) == spec:
            say(f"step '{name}' already done ({spec}) - skipped")
            continue
        say(f"step '{name}': pip install {spec}")
        _run([str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", *pip_args], check=True)
        stamp[name] = spec
        _save_stamp(venv, stamp)
    if stamp.get("import_check") != "ok":
        say("checking `import bindsnet` (with the torchvision::nms shim)")
        r = _run([str(py), "-c", IMPORT_CHECK], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"[bench] `import bindsnet` failed in {venv}:\n{r.stderr[-3000:]}")
        say(r.stdout.strip())
        stamp["import_check"] = "ok"
        _save_stamp(venv, stamp)
    else:
        say("step 'import_check' already done - skipped")
    return py


def run_bindsnet(py: Path, args, data_dir: Path, venv: Path) -> dict:
    cmd = [str(py), str(RUNNER), "--data-dir", str(data_dir), "--n-train", str(args.n_train),
           "--n-test", str(args.n_test), "--seed", str(args.seed), "--threads", str(args.threads)]
    env = _thread_env(args.threads)
    say(f"running BindsNET DiehlAndCook2015 ({args.n_train} train / {args.n_test} test, "
        f"{args.threads} thread(s)); progress on stderr")
    proc = _run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("BINDSNET_RESULT "):
            result = json.loads(line[len("BINDSNET_RESULT "):])
        else:
            print(line)
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"[bench] BindsNET runner failed (exit {proc.returncode})")
    result["measured_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    result["data_dir"] = str(data_dir)
    tmp = venv / (CACHE_NAME + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, venv / CACHE_NAME)
    say(f"cached BindsNET result in {venv / CACHE_NAME}")
    return result


def cached_bindsnet(venv: Path, args) -> dict:
    path = venv / CACHE_NAME
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        raise SystemExit(f"[bench] --skip-bindsnet: no cached BindsNET result at {path}; "
                         "run once without --skip-bindsnet") from None
    result["cached"] = True
    say(f"using CACHED BindsNET result from {path} (measured {result.get('measured_at')}, "
        f"n_train={result.get('n_train')}, n_test={result.get('n_test')}, seed={result.get('seed')}, "
        f"threads={result.get('threads')})")
    for key in ("n_train", "n_test", "seed", "threads"):
        if result.get(key) != getattr(args, key):
            say(f"WARNING: cached {key}={result.get(key)} differs from this run's {getattr(args, key)}")
    return result


# --------------------------------------------------------------------------------------------- ours
def find_spinsyn(explicit: str | None) -> str | None:
    for cand in ([explicit] if explicit else []) + [str(ROOT / ".venv" / "bin" / "spinsyn"),
                                                     shutil.which("spinsyn") or ""]:
        if cand and Path(cand).exists():
            return cand
    return None


def run_ours(args, data_dir: Path) -> dict | None:
    exe = find_spinsyn(args.spinsyn)
    if exe is None:
        say("spinsyn executable not found (looked for .venv/bin/spinsyn and PATH): "
            "install the project (`pip install -e .` in .venv) - skipping our side")
        return None
    probe = subprocess.run([exe, "train", "--help"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        last = ((probe.stderr or probe.stdout).strip().splitlines() or [""])[-1]
        say(f"`{exe} train` is not available yet (exit {probe.returncode}: {last}) - skipping our side; "
            "the BindsNET figures above still stand")
        return None
    out = Path(tempfile.mkdtemp(prefix="spinsyn-bench-"))
    run_dir = out / "run"
    cmd = [exe, "train", "--synapse", "ideal", "--neurons", "100", "--n-train", str(args.n_train),
           "--n-test", str(args.n_test), "--batch", "1", "--device", "cpu", "--seed", str(args.seed),
           "--data-dir", str(data_dir), "--out", str(run_dir)]
    say(f"running spinsyn ({args.threads} thread(s))")
    t0 = time.perf_counter()
    proc = _run(cmd, env=_thread_env(args.threads))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        say(f"spinsyn train failed (exit {proc.returncode}); run dir kept at {run_dir}")
        return None
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError) as exc:
        say(f"cannot read {run_dir / 'metrics.json'}: {exc}")
        return None
    result = {k: metrics.get(k) for k in ("train_samples_per_s", "test_samples_per_s",
                                          "accuracy_all_activity", "accuracy_proportion",
                                          "n_train", "n_test", "device")}
    cfg = metrics.get("config") or {}
    result["engine"] = "spinsyn"
    result["config"] = {k: cfg.get(k) for k in ("engine", "learning_rule", "synapse", "batch", "norm")
                        if k in cfg} or cfg
    result["command"] = " ".join(cmd)
    result["process_wall_s"] = wall
    if args.keep_run:
        result["run_dir"] = str(run_dir)
        say(f"run dir kept at {run_dir}")
    else:
        shutil.rmtree(out, ignore_errors=True)
    return result


# --------------------------------------------------------------------------------------------- misc
def _thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    return env


def resolve_data_dir(arg: str | None) -> Path:
    cands = [arg] if arg else [os.environ.get("SPINSYN_MNIST_DIR"), str(ROOT.parent / "shared" / "data" / "mnist")]
    for c in cands:
        if c and all((Path(c) / f).exists() or (Path(c) / f[:-3]).exists() for f in MNIST_FILES):
            return Path(c).resolve()
    raise SystemExit(f"[bench] no MNIST IDX files ({', '.join(MNIST_FILES)}) in {[c for c in cands if c]}; "
                     "pass --data-dir or set $SPINSYN_MNIST_DIR")


def _ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def _fmt(v, pct=False):
    if v is None:
        return "n/a"
    return f"{100 * v:.1f} %" if pct else f"{v:,.2f}"


def report(bn: dict | None, ours: dict | None) -> dict:
    rows = [("train samples/s", "train_samples_per_s", False),
            ("test samples/s", "test_samples_per_s", False),
            ("test acc (all activity)", "accuracy_all_activity", True),
            ("test acc (proportion)", "accuracy_proportion", True)]
    bn_label = "BindsNET 0.3.4" + (" (CACHED)" if bn and bn.get("cached") else "")
    table = {}
    print()
    print(f"{'':26s}{bn_label:>22s}{'spinsyn (ideal)':>18s}{'ours/BindsNET':>16s}")
    for title, key, pct in rows:
        b = bn.get(key) if bn else None
        o = ours.get(key) if ours else None
        r = _ratio(o, b)
        table[key] = {"bindsnet": b, "spinsyn": o, "ratio": r}
        rs = "n/a" if r is None else (f"{r:,.1f}x" if not pct else f"{r:.2f}")
        print(f"{title:26s}{_fmt(b, pct):>22s}{_fmt(o, pct):>18s}{rs:>16s}")
    if bn:
        print(f"(BindsNET: n_train={bn.get('n_train')}, n_test={bn.get('n_test')}, "
              f"threads={bn.get('threads')}, measured {bn.get('measured_at')}"
              f"{', CACHED from an earlier run' if bn.get('cached') else ''})")
    if ours:
        print(f"(spinsyn: n_train={ours.get('n_train')}, n_test={ours.get('n_test')}, device={ours.get('device')})")
    print("Speeds on this kind of machine vary +-20-30 % between identical runs; compare within one run.")
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="spinsyn vs BindsNET 0.3.4 (Diehl & Cook 2015, 100 neurons, batch 1)")
    p.add_argument("--n-train", type=int, default=1000, help="first N training images (default 1000)")
    p.add_argument("--n-test", type=int, default=1000, help="first M test images (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None,
                   help="MNIST IDX (gz) folder (default $SPINSYN_MNIST_DIR, else ../shared/data/mnist)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for both (default 1)")
    p.add_argument("--skip-bindsnet", action="store_true",
                   help="reuse the last BindsNET result cached in the venv folder (labelled CACHED)")
    p.add_argument("--skip-ours", action="store_true", help="run only the BindsNET side")
    p.add_argument("--bindsnet-venv", default=os.environ.get("SPINSYN_BINDSNET_VENV", str(DEFAULT_VENV)),
                   help=f"BindsNET virtualenv (default $SPINSYN_BINDSNET_VENV or {DEFAULT_VENV})")
    p.add_argument("--python", default=sys.executable, help="base interpreter for the venv (default: this one)")
    p.add_argument("--spinsyn", default=None, help="spinsyn executable (default .venv/bin/spinsyn)")
    p.add_argument("--keep-run", action="store_true", help="keep our run directory")
    p.add_argument("--json-out", default=None, help="also write the comparison as JSON here")
    args = p.parse_args(argv)

    data_dir = resolve_data_dir(args.data_dir)
    say(f"MNIST from {data_dir}")
    venv = Path(args.bindsnet_venv).resolve()

    if args.skip_bindsnet:
        bn = cached_bindsnet(venv, args)
    else:
        py = ensure_bindsnet_venv(venv, args.python)
        bn = run_bindsnet(py, args, data_dir, venv)

    ours = None if args.skip_ours else run_ours(args, data_dir)
    table = report(bn, ours)

    if args.json_out:
        payload = {
            "benchmark": "snn_vs_bindsnet",
            "n_train": args.n_train, "n_test": args.n_test, "seed": args.seed, "threads": args.threads,
            "data_dir": str(data_dir), "bindsnet_cached": bool(bn and bn.get("cached")),
            "table": table, "bindsnet": bn, "spinsyn": ours,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=1))
        say(f"wrote {args.json_out}")
    return 0 if ours is not None or args.skip_ours else 1


if __name__ == "__main__":
    sys.exit(main())
