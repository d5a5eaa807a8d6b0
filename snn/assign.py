"""``spinsyn eval RUN --assign N``: assign labels to a run's neurons (learning off) and store them in its checkpoint.

Runs that come without a label assignment (an imported BindsNET network saved without ``--labels``) get one here:
the first ``N`` MNIST training images are shown with learning off and each neuron takes the class of its highest
mean response (:func:`spinsyn.snn.labels.assign_labels`, as ``spinsyn train`` does after training). The
checkpoint is rewritten atomically by snn's own writer, under the run folder's lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import numpy as np

from . import labels as L


def assign_run_labels(run_dir: str | Path, n_assign: int, data_dir: str | None = None, device: str = "auto",
                      dataset: str | None = None) -> dict:
    """Assign labels on ``n_assign`` training images of ``dataset`` (None: the run's own, ``--dataset`` at
    training; ``"mnist"`` or ``"fashion-mnist"``) and store ``assignments``/``proportions`` in ``run_dir``'s
    checkpoint. Returns ``{"n_assign", "assigned_classes"}``."""
    from spinsyn.locks import folder_lock  # lazy: startup
    from spinsyn.mnist import load_mnist  # lazy: startup
    from spinsyn.validation import check_scalar  # lazy: startup

    from .checkpoint import CHECKPOINT_NAME, read_checkpoint, save_checkpoint  # lazy: startup
    from .config import resolve_device  # lazy: startup
    from .engine import NetState, make_engine  # lazy: startup
    from .inference import spike_counts  # lazy: startup
    from .network import load_run  # lazy: startup

    check_scalar(n_assign, "--assign", int, min_val=1)
    run_dir = Path(run_dir)
    with folder_lock(run_dir, "RUN_DIR"):
        ck = read_checkpoint(run_dir)
        net = load_run(run_dir)
        X, y = load_mnist("train", data_dir, n=n_assign, dataset=net.config.dataset if dataset is None else dataset)
        if len(X) < n_assign:
            raise ValueError(f"--assign: {n_assign} images requested but the MNIST training set found has {len(X)}")
        dev = resolve_device(device)
        ns = NetState(np.ascontiguousarray(net.w, np.float64),
                      net.state if net.state is not None else np.zeros((1, 1), np.int32),
                      net.gp_S if net.gp_S is not None else np.ones((1, 1)),
                      net.gap_S if net.gap_S is not None else np.ones((1, 1)), np.asarray(net.theta, np.float64))
        eng = make_engine("numba" if dev == "cpu" else "torch", ns, net.params, net.compiled, net.synapse, 0.0, True,
                          dev)
        counts = spike_counts(eng, X, net.params, net.config.seed + 2, None, min_spikes=net.config.min_spikes)
        asg, props = L.assign_labels(counts, y.astype(np.int64))
        pos = cast(tuple[int, int], tuple(int(v) for v in ck["position"].tolist()))  # (epoch, images done in it)
        save_checkpoint(run_dir / CHECKPOINT_NAME, ck["config_json"], net.synapse, net.compiled, ns,
                        pos, json.loads(ck["history_json"]),
                        np.asarray(ck["recent_counts"].numpy()), np.asarray(ck["recent_labels"].numpy()),
                        net.config.seed, {"assignments": asg, "proportions": props})
    return {"n_assign": int(n_assign), "assigned_classes": int(len(np.unique(asg)))}
