"""Training: :class:`Trainer` (data, epoch loop, checkpoints, label assignment, metrics) and :func:`train`.

A run: initial weights ``w = 0.3·U(0,1)`` (normalised per neuron when ``norm`` is on), then ``epochs`` passes
over ``n_train`` images in a seeded random order per epoch, ``batch`` images at a time; a checkpoint every
``checkpoint_every`` images. Labels are then assigned with learning off on ``n_assign`` training images
(per-class mean response) and ``n_test`` test images are classified ("all activity" and "proportion
weighting"). Random streams derive from ``(seed, epoch, position)`` only, so a resumed run ends with the same
weights as an uninterrupted one. A resumed run takes the compiled rule and the synapse device from its
checkpoint: the rule or sweep file is not read again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from spinsyn.fileio import write_json

from . import labels as L
from .checkpoint import CHECKPOINT_NAME, compiled_rule, net_state, read_checkpoint, save_checkpoint
from .config import TrainConfig, device_summary, resolve_device, resolve_engine, validate_config
from .engine import make_engine
from .inference import image_seeds, read_noise_fn, readout, spike_counts, spike_prob
from .kinds import SYN_FLOAT_KINDS
from .network import ASSIGN_WINDOW, HISTORY_EVERY, init_state
from .rules import CompiledRule
from .synapses import synapse_from_record
from .threads import CoreWatch, resolve_threads

METRICS_FORMAT, METRICS_VERSION = "spinsyn-metrics", 1
UPDATE_SEED_MIX = 0x5BD1E995  # synapse-update seed of a batch = seed of its first image ^ this


def batch_size_at(g: int, batch: int, ramp: int) -> int:
    """Batch size of the batch starting after ``g`` images of the run: ``batch``, or with a warm start (``ramp``
    > 0) 1 for the first ``ramp`` images and ``batch`` from then on. (A doubling ramp 1, 2, 4, ... was measured
    worse: intermediate batch sizes during the first thousands of images cost accuracy; docs/snn.md.)"""
    return 1 if g < ramp else batch


def scheduled_rule(rule: CompiledRule, final_frac: float, progress: float) -> CompiledRule:
    """The rule with ν_pre and ν_post scaled by ``1 + (final_frac − 1)·progress`` (linear annealing;
    ``progress`` = fraction of the run's training images already shown, so resume gives the same schedule)."""
    s = 1.0 + (final_frac - 1.0) * min(max(progress, 0.0), 1.0)
    return dataclasses.replace(rule, nu_pre=rule.nu_pre * s, nu_post=rule.nu_post * s)


class Trainer:
    """One training run into ``run_dir``: :meth:`start` (new or resumed), :meth:`run` (epochs), :meth:`finish`
    (label assignment, test, metrics and plots)."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True):
        self.cfg, self.run_dir, self.resume, self.progress = cfg, Path(run_dir), resume, progress
        self.params, self.syn, self.rule = validate_config(cfg, files=not resume)
        self.device = resolve_device(cfg.device)
        self.engine_kind = resolve_engine(cfg.engine, self.device)
        self.total = cfg.epochs * cfg.n_train
        N = self.params.n_neurons
        self.history: list = []
        self.recent_counts, self.recent_labels = np.zeros((0, N), np.int64), np.zeros(0, np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.asg, self.props = np.zeros(N, np.int64), np.zeros((N, 10))
        self.epoch0 = self.done0 = 0
        self.t_train, self.n_done_call, self.t_loop = 0.0, 0, 0.0
        self.compiled: CompiledRule | None = None
        #: ``--threads auto``: watch the cores while the run sets up (decided in :meth:`start`)
        self.core_watch = CoreWatch() if cfg.threads == "auto" and self.engine_kind == "numba" else None

    # ------------------------------------------------------------------------------------------ set-up
    def load_data(self) -> None:
        from spinsyn.mnist import dataset_spec, load_mnist  # lazy: startup

        cfg = self.cfg
        title = dataset_spec(cfg.dataset).title  # --dataset: MNIST (default) or Fashion-MNIST
        self.Xtr, ytr = load_mnist("train", cfg.data_dir, n=cfg.n_train, dataset=cfg.dataset)
        if len(self.Xtr) < cfg.n_train:
            raise ValueError(f"--n-train: {cfg.n_train} requested but the {title} training set found has "
                             f"{len(self.Xtr)}")
        self.ytr = ytr.astype(np.int64)
        if cfg.n_test:
            self.Xte, yte = load_mnist("test", cfg.data_dir, n=cfg.n_test, dataset=cfg.dataset)
        else:
            self.Xte, yte = np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
        if len(self.Xte) < cfg.n_test:
            raise ValueError(f"--n-test: {cfg.n_test} requested but the {title} test set found has {len(self.Xte)}")
        self.yte = yte.astype(np.int64)

    def start(self) -> None:
        """Initial state of a new run, or the state, rule and device of the checkpoint being resumed."""
        norm = float(self.params.norm or 0.0)
        if self.resume:
            ck = read_checkpoint(self.run_dir / CHECKPOINT_NAME)
            self.compiled = compiled_rule(ck)
            self.syn = synapse_from_record(json.loads(ck["synapse_device_json"]), **self.cfg.synapse_options)
            self.ns = net_state(ck)
            self.epoch0, self.done0 = (int(x) for x in ck["position"].tolist())
            self.history = json.loads(ck["history_json"])
            self.recent_counts, self.recent_labels = ck["recent_counts"].numpy(), ck["recent_labels"].numpy()
            if len(self.recent_labels):
                self.asg, self.props = L.assign_labels(self.recent_counts, self.recent_labels)
        else:
            self.compile_rule()
            self.ns = init_state(self.params, self.syn, self.cfg.seed, norm)
            if self.syn.kind in SYN_FLOAT_KINDS:
                self.ns.state, self.ns.gp_S, self.ns.gap_S = np.zeros((1, 1), np.int32), np.ones((1, 1)), \
                    np.ones((1, 1))
        self.threads = self._threads()
        self.eng = make_engine(self.engine_kind, self.ns, self.params, self.compile_rule(), self.syn, norm,
                               self.cfg.merge != "sum", self.device, threads=self.threads["used"],
                               scale_wins=self.cfg.merge == "winner-scaled")
        if self.cfg.train_min_spikes:
            self.eng.train_min_spikes = int(self.cfg.train_min_spikes)
        self.last_ck = self.epoch0 * self.cfg.n_train + self.done0

    def _threads(self) -> dict:
        """The numba threads of this run (``--threads``; ``auto`` decided now from how busy the cores are,
        :func:`spinsyn.snn.threads.resolve_threads`): ``{"requested", "used", "reason"}`` (metrics.json)."""
        if self.engine_kind != "numba":
            return {"requested": self.cfg.threads, "used": 0, "reason": f"not used by the {self.engine_kind} engine"}
        import numba  # lazy: startup

        max_threads = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        n, why = resolve_threads(self.cfg.threads, max_threads, watch=self.core_watch)
        return {"requested": self.cfg.threads, "used": n, "reason": why}

    def compile_rule(self) -> CompiledRule:
        """Compile the rule of a new run (reads its rule or sweep file, once)."""
        if self.compiled is None:
            self.compiled = self.rule.compile(self.params.dt_ms, time_scale=self.cfg.rule_time_scale)
        return self.compiled

    # ------------------------------------------------------------------------------------------ epochs
    def _flush(self) -> None:
        """Move the pending batch responses into the running window of the last ASSIGN_WINDOW images."""
        if self.pending:
            c, lab = zip(*self.pending)
            self.recent_counts = np.concatenate([self.recent_counts, *c])[-ASSIGN_WINDOW:]
            self.recent_labels = np.concatenate([self.recent_labels, *lab])[-ASSIGN_WINDOW:]
        else:
            self.recent_counts = self.recent_counts[-ASSIGN_WINDOW:]
            self.recent_labels = self.recent_labels[-ASSIGN_WINDOW:]
        self.pending = []

    def _history_point(self, g: int, bar) -> None:
        """Running accuracy: predict with the assignment from the previous window, then update it."""
        m = min(HISTORY_EVERY, len(self.recent_labels))
        acc = float(np.mean(L.predict_all_activity(self.recent_counts[-m:], self.asg) == self.recent_labels[-m:]))
        self.history.append({"samples": int(g), "running_accuracy": acc})
        self.asg, self.props = L.assign_labels(self.recent_counts, self.recent_labels)
        if bar is not None:
            bar.set_postfix(acc=f"{acc:.3f}", sps=f"{self.n_done_call / max(self.t_train, 1e-9):.0f}")

    def _positions(self, epoch: int):
        """(position, batch size) of each batch of ``epoch`` from where this run starts (resume-safe: the size
        depends only on the run's image count before the batch, :func:`batch_size_at`)."""
        cfg = self.cfg
        k = self.done0 if epoch == self.epoch0 else 0
        while k < cfg.n_train:
            b = batch_size_at(epoch * cfg.n_train + k, cfg.batch, cfg.batch_ramp)
            yield k, b
            k += b

    def _batch(self, p_all: np.ndarray, order: np.ndarray, epoch: int, k: int, b: int) -> int:
        """Train on the batch of ``b`` images at position ``k`` of ``epoch``; returns its size."""
        cfg = self.cfg
        sel = order[k:k + b]
        seeds = image_seeds(cfg.seed, epoch, np.arange(k, k + len(sel)))
        if cfg.nu_final_frac != 1.0:
            self.eng.rule = scheduled_rule(self.compile_rule(), cfg.nu_final_frac,
                                           (epoch * cfg.n_train + k) / self.total)
        t0 = time.perf_counter()
        counts = self.eng.train_batch(p_all[sel], seeds, int(seeds[0]) ^ UPDATE_SEED_MIX)
        self.t_train += time.perf_counter() - t0
        self.n_done_call += len(sel)
        self.pending.append((counts, self.ytr[sel]))
        return len(sel)

    def run(self, stop_after: int | None = None) -> bool:
        """The epoch loop; returns True when it stopped after ``stop_after`` images (checkpointed)."""
        cfg = self.cfg
        self.eng.warm_up()
        t_start = time.perf_counter()
        p_all = spike_prob(self.Xtr, self.params)
        bar = self._bar()
        for epoch in range(self.epoch0, cfg.epochs):
            order = (np.random.default_rng([cfg.seed, epoch]).permutation(cfg.n_train) if cfg.shuffle
                     else np.arange(cfg.n_train))
            for k, b in self._positions(epoch):
                n = self._batch(p_all, order, epoch, k, b)
                g = epoch * cfg.n_train + k + n
                crossed = g // HISTORY_EVERY != (g - n) // HISTORY_EVERY
                stop = stop_after is not None and self.n_done_call >= stop_after
                if crossed or g - self.last_ck >= cfg.checkpoint_every:
                    self._flush()
                if crossed:
                    self._history_point(g, bar)
                if bar is not None:
                    bar.update(n)
                if g - self.last_ck >= cfg.checkpoint_every or stop:
                    self._flush()
                    self.eng.sync()
                    self.checkpoint((epoch, k + n) if k + n < cfg.n_train else (epoch + 1, 0))
                    self.last_ck = g
                if stop:
                    self._close(bar)
                    self.t_loop += time.perf_counter() - t_start
                    return True
        self._close(bar)
        self.t_loop += time.perf_counter() - t_start
        return False

    def _bar(self):
        if not self.progress:
            return None
        from tqdm import tqdm  # lazy: startup

        return tqdm(total=self.total, initial=self.epoch0 * self.cfg.n_train + self.done0, unit="img", desc="train",
                    dynamic_ncols=True)

    def _close(self, bar) -> None:
        if bar is not None:
            bar.close()
        self._flush()
        self.ns = self.eng.sync()

    def checkpoint(self, pos: tuple[int, int], extra: dict | None = None, weights: str = "float64") -> None:
        """Save the state at ``pos`` (``weights``: dtype of an ideal network's w, below float64 only in the final
        checkpoint); a non-finite state is never saved (it would block a rerun)."""
        for name in ("w", "theta"):
            a = getattr(self.ns, name)
            if a is not None and not np.all(np.isfinite(a)):
                raise ValueError(f"training diverged: {name} holds NaN or inf at epoch {pos[0]}, image {pos[1]}; no "
                                 f"checkpoint written to {self.run_dir} (check --nu, --rule-offset, the rule file)")
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.cfg.to_json(), self.syn, self.compile_rule(), self.ns, pos,
                        self.history, self.recent_counts, self.recent_labels, self.cfg.seed, extra, weights)

    # ------------------------------------------------------------------------------------------ test
    def finish(self) -> dict:
        """Checkpoint the trained state, assign labels (learning off), test, write metrics.json and plots."""
        cfg, params = self.cfg, self.params
        self.checkpoint((cfg.epochs, 0))
        n_assign = min(cfg.n_assign, cfg.n_train)
        t0 = time.perf_counter()
        ca = spike_counts(self.eng, self.Xtr[:n_assign], params, cfg.seed + 2, None, min_spikes=cfg.min_spikes)
        asg, props = L.assign_labels(ca, self.ytr[:n_assign])
        noise = read_noise_fn(self.syn, self.ns, cfg.seed)
        t1 = time.perf_counter()
        ct = spike_counts(self.eng, self.Xte, params, cfg.seed + 1, None, read_noise_fn=noise,
                          min_spikes=cfg.min_spikes)
        t_test = time.perf_counter() - t1
        res = readout(ct, self.yte, asg, props)
        self.checkpoint((cfg.epochs, 0), {"assignments": asg, "proportions": props}, cfg.checkpoint_weights)
        metrics = self.metrics(res, ct, n_assign, t1 - t0, t_test)
        write_json(self.run_dir / "metrics.json", metrics, fmt=METRICS_FORMAT, version=METRICS_VERSION,
                   seed=cfg.seed)
        if cfg.plots:
            self._plots(res, asg)
        return metrics

    def _plots(self, res: dict, asg: np.ndarray) -> None:
        try:
            from .plots import write_plots  # lazy: startup

            write_plots(self.run_dir, self.ns.w, self.history, np.asarray(res["confusion"]), asg, final=res)
        except Exception as exc:  # noqa: BLE001 - plots are a convenience; the run's files are written
            print(f"spinsyn: warning: plots not written ({exc})")

    def metrics(self, res: dict, ct: np.ndarray, n_assign: int, t_assign: float, t_test: float) -> dict:
        cfg = self.cfg
        n_train_total = self.total - (self.epoch0 * cfg.n_train + self.done0) if self.resume else self.total
        return {
            **{k: res[k] for k in ("accuracy_all_activity", "accuracy_proportion", "confusion")},
            "n_train": int(cfg.n_train),
            "epochs": int(cfg.epochs),
            "n_test": len(self.Xte),
            "n_assign": int(n_assign),
            "dataset": cfg.dataset,  # --dataset (spinsyn.mnist.DATASETS); also in config.extra unless mnist
            "train_samples_per_s": n_train_total / max(self.t_train, 1e-9) if self.n_done_call else 0.0,
            # the whole epoch loop: encoding, engine, running accuracy, label windows, checkpoints
            "train_loop_samples_per_s": n_train_total / max(self.t_loop, 1e-9) if self.n_done_call else 0.0,
            "train_loop_time_s": self.t_loop,
            "test_samples_per_s": len(self.Xte) / max(t_test, 1e-9) if len(self.Xte) else 0.0,
            "assign_time_s": t_assign,
            "train_time_s": self.t_train,
            "device": self.eng.device,
            "engine": self.engine_kind,
            "threads": self.threads,  # numba threads requested, used and why (``--threads auto``)
            "config": json.loads(cfg.to_json()),
            "synapse": self.syn.to_dict(),
            "synapse_device": self.syn.device.record(),
            "device_model": device_summary(self.syn),  # device source and level conductances (µS)
            "history": self.history,
            "rule_function": self.compile_rule().describe(),
            "mean_spikes_per_test_image": float(ct.sum(1).mean()) if len(ct) else 0.0,
        }


def _leftover(name: str) -> bool:
    """A temporary file of an interrupted atomic write (``.<name>.<random>.tmp<suffix>``), or a probe."""
    return name.startswith(".") and (".tmp" in name or name.startswith(".spinsyn-probe-"))


def check_run_dir(run_dir: str | Path, resume: bool) -> Path:
    """The run folder of a new run (absent, empty, or holding only leftovers of an interrupted write; never a
    file, and writable) or of a resumed one (holding a checkpoint). ValueError naming the option otherwise."""
    from spinsyn.locks import check_unlocked  # lazy: startup
    from spinsyn.validation import check_output_folder, check_writable_dir  # lazy: startup

    opt = "--resume" if resume else "--out"
    run_dir = check_writable_dir(run_dir, opt)
    if not resume:  # never a new run inside another run, a chip, a study or a pipeline folder
        check_output_folder(run_dir, opt)
    check_unlocked(run_dir, opt)
    if resume:
        if not (run_dir / CHECKPOINT_NAME).is_file():
            raise ValueError(f"--resume: {run_dir}: no {CHECKPOINT_NAME} (not a run written by 'spinsyn train')")
        return run_dir
    if (run_dir / CHECKPOINT_NAME).exists():
        raise ValueError(f"--out: {run_dir} already holds a run; use --resume {run_dir} or another folder")
    if run_dir.is_dir():
        other = sorted(p.name for p in run_dir.iterdir() if not _leftover(p.name))
        if other:
            shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
            raise ValueError(f"--out: {run_dir} is not empty and is not a spinsyn run (holds {shown}); choose a "
                             "new or empty folder")
    return run_dir


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) a run into ``run_dir``; returns the metrics dict (also written to metrics.json).

    The folder is checked first (:func:`check_run_dir`) and locked for the whole run
    (:func:`spinsyn.locks.folder_lock`: a second writer fails at once, naming this process).
    ``stop_after``: stop (after checkpointing) once this many training images were processed in this call
    (used to test resume); returns ``{"stopped": True}`` then."""
    from spinsyn.locks import folder_lock  # lazy: startup

    check_run_dir(run_dir, resume)
    with folder_lock(run_dir, "--resume" if resume else "--out"):
        check_run_dir(run_dir, resume)  # again, now that no other writer can change it
        with _removed_on_error(Path(run_dir), enabled=not resume):
            tr = Trainer(cfg, run_dir, resume=resume, progress=progress)
            if not resume:
                tr.compile_rule()  # a bad rule or sweep file fails before the data is read
            tr.load_data()
            tr.start()
            if tr.run(stop_after):
                return {"stopped": True}
            return tr.finish()


@contextlib.contextmanager
def _removed_on_error(run_dir: Path, enabled: bool) -> Iterator[None]:
    """A new run that fails with an error (a refused write: EFBIG, ENOSPC; divergence) leaves nothing behind:
    the files it wrote into ``run_dir`` are removed, and the folder itself when this call made it and it is
    empty then. An interruption (SIGINT, SIGTERM) keeps them: its checkpoint resumes with ``--resume``. A
    resumed run's files are never removed (they were there before)."""
    existed = run_dir.is_dir()
    before = {p.name for p in run_dir.iterdir()} if existed else set()
    try:
        yield
    except Exception:
        if enabled and run_dir.is_dir():
            for p in run_dir.iterdir():
                if p.name not in before and (p.is_file() or p.is_symlink()):
                    with contextlib.suppress(OSError):
                        p.unlink()
            if not existed:
                with contextlib.suppress(OSError):
                    run_dir.rmdir()
        raise
