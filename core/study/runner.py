"""``run_study``: check everything, then run a study's trials on a scheduler into its folder (docs/study.md).

Folder: ``DIR/.spinsyn-study`` (marker, ``spinsyn-study`` v1), ``DIR/study.toml`` (the study file's text),
``DIR/cache/<stage>/<key>/``, ``DIR/results.csv`` and ``DIR/results.parquet``. One study per folder at a time
(``spinsyn.locks``); a folder holding another study, or files that are not a study's, is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinsyn.fileio import atomic_write_text, read_json, write_json
from spinsyn.locks import check_unlocked, folder_lock
from spinsyn.validation import check_writable_dir

from .cache import clean_staging
from .execute import live_workers, open_client, parse_scheduler, run_trials
from .progress import StudyBar
from .results import ResultsWriter, axis_cell, build_row
from .search import run_search
from .spec import StudySpec, load_spec, toml_document
from .trials import (
    StageTask,
    Trial,
    check_image_counts,
    expand,
    plan,
    resolve_data_dir,
    sweep_model_inputs_ok,
    train_check,
)

MARKER, MARKER_FORMAT, MARKER_VERSION = ".spinsyn-study", "spinsyn-study", 1


@dataclass(frozen=True)
class StudyOutcome:
    """What a run of a study did: trials in the study, ok and failed rows, trials skipped as done, wall time,
    and the numbers of the failed trials."""

    out: Path
    trials: int
    ok: int
    failed: int
    skipped: int
    wall_s: float
    failed_trials: tuple[int, ...] = ()


def check_trials(spec: StudySpec, trials: list[Trial], data_dir: str | None) -> dict[int, list[StageTask]]:
    """Every trial's stage tasks, each distinct stage configuration checked once; ValueError naming the study
    file, the trial and the problem."""
    plans: dict[int, list[StageTask]] = {}
    checked: set[str] = set()
    for trial in trials:
        try:
            plans[trial.index] = tasks = plan(trial.settings, data_dir)
            for task in tasks:
                if task.key not in checked:
                    _check_task(task, tasks)
                    checked.add(task.key)
        except ValueError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in trial.axes.items())
            raise ValueError(f"{spec.path}: trial {trial.index}{f' ({where})' if where else ''}: {exc}") from None
    return plans


def _check_task(task: StageTask, tasks: list[StageTask]) -> None:
    """Check one stage task of a trial (``tasks``: all of that trial's, in order)."""
    if task.stage == "sweep":
        sweep_model_inputs_ok(task.inputs)
    elif task.stage == "train":
        train_check(task.inputs["make_config"])
    elif task.stage == "simulate" and task.inputs["read_noise"] is not None:  # compound synapses only, in range
        train = next(t for t in tasks if t.stage == "train")
        train_check({**train.inputs["make_config"], "read_noise_sigma": task.inputs["read_noise"]})
    elif task.stage == "export":
        from spinsyn import hw_export  # lazy: startup

        hw_export.WriteVerifyConfig(tolerance_levels=task.inputs["tolerance_levels"],
                                    half_select=task.inputs["half_select"])


def _check_folder(out: Path, spec: StudySpec) -> None:
    """``out`` is absent, empty, or a folder of this very study."""
    if not out.is_dir() or not any(out.iterdir()):
        return
    marker = out / MARKER
    if not marker.is_file():
        raise ValueError(f"--out: {out}: not empty and not a spinsyn study folder (no {MARKER}); choose another --out")
    read_json(marker, fmt=MARKER_FORMAT, versions=(MARKER_VERSION,))
    toml = out / "study.toml"
    if toml.is_file() and not same_study(toml.read_text(encoding="utf-8"), spec.text):
        raise ValueError(f"--out: {out} holds another study (its study.toml differs from {spec.path}); "
                         "choose another --out")


def same_study(a: str, b: str) -> bool:
    """Whether two study files say the same (comments and layout aside; ``[roles]`` aside too: it only changes
    how the report reads the results, and the rerun writes the new study.toml for it)."""
    try:
        docs = [toml_document(t, "study.toml") for t in (a, b)]
    except ValueError:
        return False
    for d in docs:
        d.pop("roles", None)
    return docs[0] == docs[1]


def _prepare_folder(out: Path, spec: StudySpec) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MARKER).is_file():
        write_json(out / MARKER, {"name": spec.name}, fmt=MARKER_FORMAT, version=MARKER_VERSION)
    atomic_write_text(out / "study.toml", spec.text)
    clean_staging(out)


def _finished(row: dict[str, Any] | None, trial: Trial) -> bool:
    return row is not None and row.get("status") == "ok" and all(
        row.get(k) == axis_cell(k, v) for k, v in trial.axes.items())


class _Runner:
    """The rows, the progress bar and the client of one run of a study."""

    def __init__(self, spec: StudySpec, out: Path, data_dir: str | None, client: Any, bar: Any) -> None:
        self.spec, self.out, self.data_dir, self.client, self.bar = spec, out, data_dir, client, bar
        self.writer = ResultsWriter(out, spec.axis_keys)
        self.old = dict(self.writer.load())
        self.skipped = 0

    def run(self, trials: list[Trial], plans: dict[int, list[StageTask]]) -> dict[int, dict[str, Any]]:
        todo = [t for t in trials if not _finished(self.old.get(t.index), t)]
        self.skipped += len(trials) - len(todo)
        self.bar.skip(len(trials) - len(todo))

        def on_done(trial: Trial, error: str | None) -> None:
            try:
                row = build_row(self.out, trial, plans[trial.index], error)
            except (ValueError, OSError, KeyError) as exc:  # an entry that cannot be read: the trial failed
                row = build_row(self.out, trial, plans[trial.index], f"results: {type(exc).__name__}: {exc}")
            self.writer.add(row)
            self.bar.done(live_workers(self.client))

        run_trials(str(self.out.resolve()), todo, plans, self.client, on_done)
        self.writer.write()
        return {t.index: self.writer.rows[t.index] for t in trials}

    def batch(self, trials: list[Trial]) -> dict[int, dict[str, Any]]:
        return self.run(trials, check_trials(self.spec, trials, self.data_dir))


def run_study(study: str | Path, out: str | Path, scheduler: str = "none", progress: bool = True) -> StudyOutcome:
    """Run the study file ``study`` into the folder ``out`` on ``scheduler`` (:func:`execute.parse_scheduler`).

    Every option, the study file, the image counts against the MNIST source, every trial's stage configuration
    (grid and random studies) and the folder are checked before any work (ValueError naming the file or option).
    Finished trials of an earlier run are skipped; a failed trial is recorded with its error and the study goes
    on (``failed``/``failed_trials`` of the outcome)."""
    t0 = time.perf_counter()
    spec = load_spec(study)
    parse_scheduler(scheduler)
    out = check_writable_dir(out, "--out")
    check_unlocked(out, "--out")
    _check_folder(out, spec)
    data_dir = resolve_data_dir(spec.data_dir, spec.path.parent)
    check_image_counts(spec, data_dir)  # the MNIST folder, and n_train/n_test within its images
    trials = expand(spec) if spec.mode != "optuna" else []
    plans = check_trials(spec, trials, data_dir)
    with folder_lock(out, "--out"):
        _check_folder(out, spec)
        total = spec.samples if spec.mode == "optuna" else len(trials)
        # the scheduler is reached before the folder is made: an unreachable tcp:// leaves nothing behind
        with open_client(scheduler) as client, StudyBar(total, disable=not progress) as bar:
            _prepare_folder(out, spec)
            r = _Runner(spec, out, data_dir, client, bar)
            if spec.mode == "optuna":
                run_search(spec, r.batch)
            else:
                r.run(trials, plans)
        rows = r.writer.rows.values()
    failed = tuple(sorted(int(row["trial"]) for row in rows if row["status"] != "ok"))
    return StudyOutcome(out, total, len(rows) - len(failed), len(failed), r.skipped, time.perf_counter() - t0,
                        failed)
