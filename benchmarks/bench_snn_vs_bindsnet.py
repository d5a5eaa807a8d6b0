#!/usr/bin/env python
"""spinsyn's Diehl & Cook network vs BindsNET 0.3.4's DiehlAndCook2015: one run, every thread count pinned.

One run reports, on the same first N training / first M test MNIST images in file order (100 neurons, batch 1):
  (a) like-for-like: BindsNET (its eth_mnist.py settings, PostPre) against ``spinsyn train --synapse ideal
      --learning-rule postpre --no-shuffle --batch 1``: train and test samples/s (both timed over their whole
      sample loops: encoding, simulation, learning, label windows) and test accuracies;
  (b) spinsyn's defaults (trace rule, shuffled order) against the same BindsNET figures;
  (c) the whole-command wall time of both, each a subprocess from start to exit (imports, data, training,
      labels, test; neither writes plots: spinsyn runs with --no-plots);
  (d) spinsyn (defaults) at 1 and 2 threads: train at batch 1 and batch --batch, and test samples/s.
Thread counts: NUMBA_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS and torch's thread
count are set to --threads (default 1) for (a)-(c) and spinsyn gets ``--threads``; (d) sets them to 1 and 2.

The BindsNET side runs in its own virtualenv (default REPO/.bench-venvs/bindsnet, override with --bindsnet-venv
or $SPINSYN_BINDSNET_VENV), created idempotently: torch==2.13.0, bindsnet==0.3.4 --no-deps, then what
``import bindsnet`` needs. ``--bindsnet cached`` reuses the last BindsNET result (labelled CACHED), ``--bindsnet
none`` skips the peer (ratios are then null; used by the test). ``--quick``: 50/50 images unless given.

Usage:  .venv/bin/python benchmarks/bench_snn_vs_bindsnet.py [--n-train 1000] [--n-test 1000] [--threads 1]
            [--batch 16] [--seed 0] [--data-dir DIR] [--bindsnet run|cached|none] [--quick] [--json-out FILE]
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
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RESULT_KEYS = ("train_samples_per_s", "train_loop_samples_per_s", "test_samples_per_s", "accuracy_all_activity",
               "accuracy_proportion", "n_train", "n_test", "device", "engine")

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


def thread_env(threads: int) -> dict:
    """This process's environment with every thread-count variable set to ``threads``."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


def run_bindsnet(py: Path, args, data_dir: Path, venv: Path) -> dict:
    """Run the BindsNET runner as one subprocess; its result gets the whole-command wall time ``process_wall_s``."""
    cmd = [str(py), str(RUNNER), "--data-dir", str(data_dir), "--n-train", str(args.n_train),
           "--n-test", str(args.n_test), "--seed", str(args.seed), "--threads", str(args.threads)]
    say(f"running BindsNET DiehlAndCook2015 ({args.n_train} train / {args.n_test} test, "
        f"{args.threads} thread(s)); progress on stderr")
    t0 = time.perf_counter()
    proc = _run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=thread_env(args.threads))
    wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("BINDSNET_RESULT "):
            result = json.loads(line[len("BINDSNET_RESULT "):])
        else:
            print(line)
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"[bench] BindsNET runner failed (exit {proc.returncode})")
    result.update(process_wall_s=wall, command=" ".join(cmd), data_dir=str(data_dir),
                  measured_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
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
        raise SystemExit(f"[bench] --bindsnet cached: no cached BindsNET result at {path}; "
                         "run once with --bindsnet run") from None
    result["cached"] = True
    say(f"using CACHED BindsNET result from {path} (measured {result.get('measured_at')})")
    for key in ("n_train", "n_test", "seed", "threads"):
        if result.get(key) != getattr(args, key):
            say(f"WARNING: cached {key}={result.get(key)} differs from this run's {getattr(args, key)}")
    return result


# --------------------------------------------------------------------------------------------- ours
def find_spinsyn(explicit: str | None) -> str:
    for cand in ([explicit] if explicit else []) + [str(ROOT / ".venv" / "bin" / "spinsyn"),
                                                     shutil.which("spinsyn") or ""]:
        if cand and Path(cand).exists():
            return cand
    raise SystemExit("[bench] spinsyn executable not found (looked for .venv/bin/spinsyn and PATH)")


def run_spinsyn(args, data_dir: Path, label: str, extra: list[str], threads: int, batch: int = 1) -> dict:
    """One ``spinsyn train`` subprocess (ideal, 100 neurons, CPU, no plots) timed from start to exit."""
    out = Path(tempfile.mkdtemp(prefix="spinsyn-bench-"))
    run_dir = out / "run"
    cmd = [find_spinsyn(args.spinsyn), "train", "--synapse", "ideal", "--neurons", "100", "--n-train",
           str(args.n_train), "--n-test", str(args.n_test), "--n-assign", str(args.n_train), "--batch", str(batch),
           "--device", "cpu", "--engine", "numba", "--threads", str(threads), "--seed", str(args.seed),
           "--data-dir", str(data_dir), "--no-plots", "--quiet", *extra, "--out", str(run_dir)]
    say(f"spinsyn [{label}] {threads} thread(s), batch {batch}")
    t0 = time.perf_counter()
    proc = _run(cmd, env=thread_env(threads), stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"[bench] spinsyn train failed (exit {proc.returncode}); run dir kept at {run_dir}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if not args.keep_run:
        shutil.rmtree(out, ignore_errors=True)
    res = {k: metrics.get(k) for k in RESULT_KEYS}
    cfg = metrics.get("config") or {}
    res.update(label=label, threads=threads, batch=batch, process_wall_s=wall, command=" ".join(cmd),
               learning_rule=(cfg.get("rule") or {}).get("name"), shuffle=cfg.get("shuffle"))
    return res


def run_ours(args, data_dir: Path) -> dict:
    """(a), (b) at ``args.threads``; (d) the defaults at 1 and 2 threads, batch 1 and ``args.batch``."""
    ours = {"like_for_like": run_spinsyn(args, data_dir, "like-for-like", ["--learning-rule", "postpre",
                                                                          "--no-shuffle"], args.threads),
            "defaults": run_spinsyn(args, data_dir, "defaults", [], args.threads)}
    scaling = []
    for threads in (1, 2):
        for batch in sorted({1, args.batch}):
            r = run_spinsyn(args, data_dir, f"defaults, {threads} thread(s), batch {batch}", [], threads, batch)
            scaling.append({k: r[k] for k in ("threads", "batch", "train_samples_per_s", "train_loop_samples_per_s",
                                              "test_samples_per_s", "accuracy_all_activity", "process_wall_s")})
    ours["thread_scaling"] = scaling
    return ours


# --------------------------------------------------------------------------------------------- data, report
def resolve_data_dir(arg: str | None) -> Path:
    """--data-dir, else $SPINSYN_MNIST_DIR, else ../shared/data/mnist, else spinsyn's embedded subset."""
    cands = [arg] if arg else [os.environ.get("SPINSYN_MNIST_DIR"), str(ROOT.parent / "shared" / "data" / "mnist"),
                               str(ROOT / "core" / "data" / "mnist")]
    for c in cands:
        if c and all((Path(c) / f).exists() or (Path(c) / f[:-3]).exists() for f in MNIST_FILES):
            return Path(c).resolve()
    raise SystemExit(f"[bench] no MNIST IDX files ({', '.join(MNIST_FILES)}) in {[c for c in cands if c]}; "
                     "pass --data-dir or set $SPINSYN_MNIST_DIR")


def _ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def ratios(bn: dict | None, ours: dict) -> dict:
    """spinsyn / BindsNET for (a) and (b) (samples/s: loop figures for train), and BindsNET / spinsyn wall (c)."""
    out = {}
    for name in ("like_for_like", "defaults"):
        o = ours[name]
        out[name] = {"train": _ratio(o["train_loop_samples_per_s"], bn and bn.get("train_samples_per_s")),
                     "test": _ratio(o["test_samples_per_s"], bn and bn.get("test_samples_per_s")),
                     "accuracy_points": (100 * (o["accuracy_all_activity"] - bn["accuracy_all_activity"])
                                         if bn else None),
                     "whole_command_wall": _ratio(bn and bn.get("process_wall_s"), o["process_wall_s"])}
    return out


def _f(v, pct=False):
    if v is None:
        return "n/a"
    return f"{100 * v:.1f} %" if pct else f"{v:,.1f}"


def report(bn: dict | None, ours: dict, rat: dict, threads: int) -> None:
    bn_label = "BindsNET 0.3.4" + (" (CACHED)" if bn and bn.get("cached") else "")
    rows = [("train samples/s (loop)", "train_samples_per_s", "train_loop_samples_per_s", False),
            ("test samples/s", "test_samples_per_s", "test_samples_per_s", False),
            ("test acc (all activity)", "accuracy_all_activity", "accuracy_all_activity", True),
            ("test acc (proportion)", "accuracy_proportion", "accuracy_proportion", True),
            ("whole command, wall s", "process_wall_s", "process_wall_s", False)]
    print(f"\nthreads pinned to {threads}: " + ", ".join(f"{v}={threads}" for v in THREAD_VARS)
          + f", torch.set_num_threads({threads}), spinsyn --threads {threads}")
    print(f"{'':26s}{bn_label:>20s}{'spinsyn postpre,':>18s}{'spinsyn':>12s}")
    print(f"{'':26s}{'(eth_mnist)':>20s}{'file order':>18s}{'defaults':>12s}")
    for title, kb, ko, pct in rows:
        print(f"{title:26s}{_f(bn and bn.get(kb), pct):>20s}{_f(ours['like_for_like'][ko], pct):>18s}"
              f"{_f(ours['defaults'][ko], pct):>12s}")
    for name, r in rat.items():
        print(f"ratio {name}: train {_f(r['train'])}x, test {_f(r['test'])}x, whole command "
              f"{_f(r['whole_command_wall'])}x faster, accuracy {_f(r['accuracy_points'])} points")
    print("spinsyn defaults by thread count (numba engine; test images always run in parallel):")
    for s in ours["thread_scaling"]:
        print(f"  {s['threads']} thread(s), batch {s['batch']:3d}: train {_f(s['train_samples_per_s'])} samples/s "
              f"(engine), {_f(s['train_loop_samples_per_s'])} (loop); test {_f(s['test_samples_per_s'])}; "
              f"acc {_f(s['accuracy_all_activity'], True)}")
    print("Speeds on a shared machine vary +-20-30 % between identical runs; compare within one run.")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="spinsyn vs BindsNET 0.3.4 (Diehl & Cook 2015, 100 neurons, batch 1)")
    p.add_argument("--n-train", type=int, default=None, help="first N training images (default 1000; --quick 50)")
    p.add_argument("--n-test", type=int, default=None, help="first M test images (default 1000; --quick 50)")
    p.add_argument("--quick", action="store_true", help="50 / 50 images unless --n-train / --n-test are given")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None,
                   help="MNIST IDX (gz) folder (default $SPINSYN_MNIST_DIR, ../shared/data/mnist, else the embedded "
                        "2,000/1,000 subset)")
    p.add_argument("--threads", type=int, default=1, help="threads for (a)-(c), both sides (default 1)")
    p.add_argument("--batch", type=int, default=16, help="spinsyn batch for the thread-scaling runs (default 16)")
    p.add_argument("--bindsnet", default="run", choices=["run", "cached", "none"],
                   help="run BindsNET (default), reuse its cached result, or skip it (spinsyn only)")
    p.add_argument("--bindsnet-venv", default=os.environ.get("SPINSYN_BINDSNET_VENV", str(DEFAULT_VENV)),
                   help=f"BindsNET virtualenv (default $SPINSYN_BINDSNET_VENV or {DEFAULT_VENV})")
    p.add_argument("--python", default=sys.executable, help="base interpreter for the venv (default: this one)")
    p.add_argument("--spinsyn", default=None, help="spinsyn executable (default .venv/bin/spinsyn)")
    p.add_argument("--keep-run", action="store_true", help="keep our run directories")
    p.add_argument("--json-out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    n = 50 if args.quick else 1000
    args.n_train = n if args.n_train is None else args.n_train
    args.n_test = n if args.n_test is None else args.n_test
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    say(f"MNIST from {data_dir}; {args.n_train} train / {args.n_test} test images")
    venv = Path(args.bindsnet_venv).resolve()
    bn = None
    if args.bindsnet == "cached":
        bn = cached_bindsnet(venv, args)
    elif args.bindsnet == "run":
        bn = run_bindsnet(ensure_bindsnet_venv(venv, args.python), args, data_dir, venv)
    ours = run_ours(args, data_dir)
    rat = ratios(bn, ours)
    report(bn, ours, rat, args.threads)
    if args.json_out:
        payload = {
            "benchmark": "snn_vs_bindsnet", "version": 2, "n_train": args.n_train, "n_test": args.n_test,
            "seed": args.seed, "data_dir": str(data_dir), "bindsnet_mode": args.bindsnet,
            "threads": {**{v: args.threads for v in THREAD_VARS}, "torch": args.threads, "spinsyn": args.threads},
            "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
            "bindsnet": bn, "spinsyn": ours, "ratios": rat,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=1))
        say(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
