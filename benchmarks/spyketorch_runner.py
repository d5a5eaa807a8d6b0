"""Drive SpykeTorch's MozafariMNIST2018 (``MozafariDeep.py``) on given MNIST images, one phase at a time, timed.

Runs INSIDE the SpykeTorch virtualenv (benchmarks/setup_spyketorch.sh), not the spinsyn venv; started by
bench_conv_spyketorch.py. Nothing of SpykeTorch is copied into the spinsyn repository: the network class
``MozafariMNIST2018``, the functions ``train_unsupervise``, ``train_rl``, ``test``, the class ``S1C1Transform`` and
the input filter (``kernels``, ``filter``, ``s1c1``) are taken at run time from ``SRC/MozafariDeep.py`` of the
exported SpykeTorch tree (its definitions only, parsed with ``ast``: the file's top level downloads MNIST through
torchvision and trains for 680 epochs on CUDA), with ``use_cuda = False``; ``SpykeTorch.snn``, ``.functional`` and
``.utils`` come from the copy installed in the venv. What this file writes itself is the schedule of
``MozafariDeep.py``'s top level, unchanged except for the pass counts: batches of 1000 images in file order (its
``DataLoader(batch_size=1000, shuffle=False)``), ``--epochs E1,E2,E3`` passes of ``train_unsupervise`` on layer 1,
layer 2, then ``train_rl`` with its adaptive learning rates (``adaptive_min = 0``, ``adaptive_int = 1``, updated
after every batch), then ``test`` on all test images as one batch.

Input: ``--data DIR`` with train_images.npy (n, 28, 28) uint8, train_labels.npy, test_images.npy, test_labels.npy.
Each image goes through ``S1C1Transform`` (ToTensor·255, the DoG ``Filter``, ``local_normalization(·, 8)``,
``Intensity2Latency(15)``) as ``CacheDataset`` does on the first pass; that is the "encode" phase (train images),
and the test phase includes encoding the test images (spinsyn's ``evaluate_conv`` does too).

Output: one line ``SPYKETORCH_RESULT {json}`` on stdout: seconds per phase, accuracies (fractions correct, wrong,
silent), the R-STDP training performance per pass, torch's version and thread count.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402

# torchvision 0.28.0 wheels expect CUDA torch ops; declare the two op schemas its import registers kernels for, so
# `import torchvision` (done by SpykeTorch/utils.py) works on CPU torch. Nothing here calls them. Keep the object.
try:
    _TV_LIB = torch.library.Library("torchvision", "DEF")
    _TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _TV_LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
except RuntimeError as exc:  # already defined (a torchvision that works): harmless
    print(f"note: torchvision op shim not applied ({exc})", file=sys.stderr)

import SpykeTorch  # noqa: E402
import torch.nn as nn  # noqa: E402
from SpykeTorch import functional as sf  # noqa: E402
from SpykeTorch import snn, utils  # noqa: E402
from torch.nn.parameter import Parameter  # noqa: E402
from torchvision import transforms  # noqa: E402

T_IMPORTED = time.perf_counter()

#: definitions taken from MozafariDeep.py (classes / functions by name, then module-level assignments by target)
DEFS = ("MozafariMNIST2018", "train_unsupervise", "train_rl", "test", "S1C1Transform")
ASSIGNS = ("kernels", "filter", "s1c1")


def log(msg: str) -> None:
    print(f"[spyketorch] {msg}", file=sys.stderr, flush=True)


def load_mozafari(src: Path) -> dict:
    """Namespace holding DEFS and ASSIGNS of ``src/MozafariDeep.py``, executed with SpykeTorch's modules and
    ``use_cuda = False``; the rest of the file (data download, training script) is not run."""
    path = src / "MozafariDeep.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    defs = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name in DEFS]
    assigns = [n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
               and isinstance(n.targets[0], ast.Name) and n.targets[0].id in ASSIGNS]
    found = {n.name for n in defs} | {n.targets[0].id for n in assigns}  # type: ignore[union-attr]
    missing = sorted(set(DEFS + ASSIGNS) - found)
    if missing:
        raise SystemExit(f"{path}: definitions not found: {missing}")
    ns = {"torch": torch, "nn": nn, "np": np, "Parameter": Parameter, "snn": snn, "sf": sf, "utils": utils,
          "transforms": transforms, "use_cuda": False, "__name__": "MozafariDeep"}
    exec(compile(ast.Module(body=defs + assigns, type_ignores=[]), str(path), "exec"), ns)  # noqa: S102
    return ns


def installed_matches(src: Path) -> bool:
    """Whether the installed SpykeTorch package's .py files equal those of ``src/SpykeTorch``."""
    inst = Path(SpykeTorch.__file__).parent
    for f in sorted((src / "SpykeTorch").glob("*.py")):
        g = inst / f.name
        if not g.is_file() or hashlib.sha256(f.read_bytes()).digest() != hashlib.sha256(g.read_bytes()).digest():
            return False
    return True


def encode(ns: dict, images: np.ndarray) -> torch.Tensor:
    """S1C1Transform of each image (ToTensor accepts the (28, 28) uint8 array as it does MNIST's PIL image)."""
    s1c1 = ns["s1c1"]
    return torch.stack([s1c1(img) for img in images])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="exported SpykeTorch tree (holds MozafariDeep.py)")
    ap.add_argument("--data", required=True, help="folder with train/test _images.npy and _labels.npy")
    ap.add_argument("--epochs", default="1,1,1", help="passes of layer 1, layer 2, R-STDP (MozafariDeep: 2,4,680)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1000, help="MozafariDeep's DataLoader batch (adaptive-rate block)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    e1, e2, e3 = (int(x) for x in a.epochs.split(","))
    src = Path(a.src)
    data = Path(a.data)
    ns = load_mozafari(src)
    X = np.load(data / "train_images.npy")
    y = torch.from_numpy(np.load(data / "train_labels.npy").astype(np.int64))
    Xt = np.load(data / "test_images.npy")
    yt = torch.from_numpy(np.load(data / "test_labels.npy").astype(np.int64))
    timing: dict[str, float] = {}

    torch.manual_seed(a.seed)
    mozafari = ns["MozafariMNIST2018"]()

    t0 = time.perf_counter()
    train = encode(ns, X)
    timing["encode_s"] = time.perf_counter() - t0
    batches = [(train[i:i + a.batch], y[i:i + a.batch]) for i in range(0, len(train), a.batch)]
    log(f"encoded {len(X)} images {tuple(train.shape[1:])} in {timing['encode_s']:.1f} s")

    for layer, epochs in ((1, e1), (2, e2)):
        t0 = time.perf_counter()
        for _ in range(epochs):
            for data_b, _targets in batches:
                ns["train_unsupervise"](mozafari, data_b, layer)
        timing[f"conv{layer}_s"] = time.perf_counter() - t0
        log(f"layer {layer}: {epochs} pass(es) in {timing[f'conv{layer}_s']:.1f} s")

    # MozafariDeep.py's adaptive learning rates, as written there
    apr = mozafari.stdp3.learning_rate[0][0].item()
    anr = mozafari.stdp3.learning_rate[0][1].item()
    app = mozafari.anti_stdp3.learning_rate[0][1].item()
    anp = mozafari.anti_stdp3.learning_rate[0][0].item()
    adaptive_min, adaptive_int = 0, 1
    train_perf = []
    t0 = time.perf_counter()
    for _ in range(e3):
        perf_train = np.array([0.0, 0.0, 0.0])
        for data_b, targets in batches:
            perf_b = ns["train_rl"](mozafari, data_b, targets)
            apr_adapt = apr * (perf_b[1] * adaptive_int + adaptive_min)
            anr_adapt = anr * (perf_b[1] * adaptive_int + adaptive_min)
            app_adapt = app * (perf_b[0] * adaptive_int + adaptive_min)
            anp_adapt = anp * (perf_b[0] * adaptive_int + adaptive_min)
            mozafari.update_learning_rates(apr_adapt, anr_adapt, app_adapt, anp_adapt)
            perf_train += perf_b
        train_perf.append((perf_train / len(batches)).tolist())
    timing["conv3_s"] = time.perf_counter() - t0
    log(f"R-STDP: {e3} pass(es) in {timing['conv3_s']:.1f} s, train perf {train_perf[-1] if train_perf else None}")

    t0 = time.perf_counter()
    test_data = encode(ns, Xt)
    perf_test = ns["test"](mozafari, test_data, yt)
    timing["test_s"] = time.perf_counter() - t0
    log(f"test: {len(Xt)} images in {timing['test_s']:.1f} s, perf {perf_test.tolist()}")

    result = {
        "timing": timing,
        "accuracy": float(perf_test[0]), "wrong": float(perf_test[1]), "silent": float(perf_test[2]),
        "train_perf": train_perf, "n_train": int(len(X)), "n_test": int(len(Xt)), "epochs": [e1, e2, e3],
        "seed": a.seed, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "spyketorch_file": SpykeTorch.__file__, "installed_matches_src": installed_matches(src),
        "import_s": T_IMPORTED - T_START, "process_s": time.perf_counter() - T_START,
    }
    print("SPYKETORCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
