"""The hostile-input table: one row per thing a user (or a script) can get wrong.

Each :class:`Case` is a command line with placeholders (``{sweep}``, ``{rule}``, ``{run}``, ``{chip}``, ``{w}``,
``{file}``, ``{ro}``, ``{bad}``: the session's inputs, see ``conftest.py``; ``{t}``: a fresh empty folder of the
case), the exit code expected (2 unless said), words the one stderr line must contain, and paths that must not
exist afterwards (``{t}`` itself is checked for leftovers: temporary files, probes, lock files).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    args: tuple[str, ...]
    words: tuple[str, ...]
    absent: tuple[str, ...] = ()
    rc: int = 2
    env: dict[str, str] = field(default_factory=dict)


def _c(cid: str, cat: str, args: str, words: str | tuple[str, ...], absent: str | tuple[str, ...] = (), rc: int = 2,
       env: dict[str, str] | None = None) -> Case:
    w = (words,) if isinstance(words, str) else tuple(words)
    a = (absent,) if isinstance(absent, str) else tuple(absent)
    return Case(cid, cat, tuple(args.split()), w, a, rc, env or {})


TRAIN = "train --synapse compound:4 --neurons 5 --n-train 20 --n-test 10 --n-assign 20 --device cpu --quiet"
TRAIN_OUT = TRAIN + " --out {t}/run"
SWEEP = "device sweep --model stt-mtj --dt-ms 0:20:5 --trials 2 --engine reference --jobs 1"
SPICE = "device sweep --model stt-mtj --dt-ms 0:20:5 --trials 2 --engine spice"
FIT = "fit {sweep} --model bisigmoid"
EXPORT = "export {run} --tile 64x64 --no-csv"
EXPORT_W = "export {w} --synapse compound:4 --tile 64x64 --no-csv"
PIPE = "pipeline --engine reference --trials 2 --neurons 5 --n-train 20 --n-test 10 --device cpu"
NOLIB = {"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so"}

CASES: list[Case] = [
    # --- numbers: NaN, inf, out of range (train) -----------------------------------------------------------
    _c("train-nu-nan", "numbers", TRAIN_OUT + " --nu nan", ("--nu", "finite"), "{t}/run"),
    _c("train-nu-inf", "numbers", TRAIN_OUT + " --nu inf", ("--nu", "finite"), "{t}/run"),
    _c("train-nu-negative", "numbers", TRAIN_OUT + " --nu -1", ("--nu", "[0, 1000]"), "{t}/run"),
    _c("train-nu-1e308", "numbers", TRAIN_OUT + " --nu 1e308", ("--nu", "[0, 1000]"), "{t}/run"),
    _c("train-nu-final-2", "numbers", TRAIN_OUT + " --nu-final 2", "--nu-final", "{t}/run"),
    _c("train-nu-final-nan", "numbers", TRAIN_OUT + " --nu-final nan", "--nu-final", "{t}/run"),
    _c("train-rule-offset-nan", "numbers", TRAIN_OUT + " --rule-offset nan", ("--rule-offset", "finite"), "{t}/run"),
    _c("train-rule-offset-big", "numbers", TRAIN_OUT + " --rule-offset 5", "--rule-offset", "{t}/run"),
    _c("train-rule-spread-nan", "numbers", TRAIN_OUT + " --rule-spread nan", ("--rule-spread", "finite"), "{t}/run"),
    _c("train-rule-spread-neg", "numbers", TRAIN_OUT + " --rule-spread -1", "--rule-spread", "{t}/run"),
    _c("train-read-noise-nan", "numbers", TRAIN_OUT + " --read-noise nan", ("--read-noise", "finite"), "{t}/run"),
    _c("train-read-noise-big", "numbers", TRAIN_OUT + " --read-noise 3", "--read-noise", "{t}/run"),
    _c("train-gain-nan", "numbers", TRAIN_OUT + " --compound-gain nan", ("--compound-gain", "finite"), "{t}/run"),
    _c("train-gain-inf", "numbers", TRAIN_OUT + " --compound-gain inf", ("--compound-gain", "finite"), "{t}/run"),
    _c("train-gain-zero", "numbers", TRAIN_OUT + " --compound-gain 0", "--compound-gain", "{t}/run"),
    _c("train-g-spread-neg", "numbers", TRAIN_OUT + " --g-spread -1", "--g-spread", "{t}/run"),
    _c("train-neurons-0", "numbers", TRAIN_OUT + " --neurons 0", "--neurons", "{t}/run"),
    _c("train-batch-0", "numbers", TRAIN_OUT + " --batch 0", "--batch", "{t}/run"),
    _c("train-intensity-neg", "numbers", TRAIN_OUT + " --intensity -5", "--intensity", "{t}/run"),
    _c("train-time-nan", "numbers", TRAIN_OUT + " --time-ms nan", "--time-ms", "{t}/run"),
    _c("train-seed-neg", "numbers", TRAIN_OUT + " --seed -1", "--seed", "{t}/run"),
    _c("train-gain-not-compound", "numbers", TRAIN_OUT.replace("compound:4", "dw:8") + " --compound-gain 2",
       "--compound-gain", "{t}/run"),
    _c("train-preset-bogus", "numbers", TRAIN_OUT + " --device-preset bogus", ("--device-preset", "bogus"),
       "{t}/run"),
    _c("train-preset-wrong-kind", "numbers", TRAIN_OUT + " --device-preset dw-mtj", ("--device-preset", "dw-mtj"),
       "{t}/run"),
    _c("train-synapse-bogus", "numbers", TRAIN_OUT.replace("compound:4", "memristor:3"), "memristor",
       "{t}/run"),
    # --- numbers: device sweep --------------------------------------------------------------------------------
    _c("sweep-trials-0", "numbers", SWEEP + " --trials 0 --out {t}/s.h5", "--trials", "{t}/s.h5"),
    _c("sweep-jobs-0", "numbers", SWEEP + " --jobs 0 --out {t}/s.h5", "--jobs", "{t}/s.h5"),
    _c("sweep-dt-reversed", "numbers", SWEEP.replace("0:20:5", "20:0:5") + " --out {t}/s.h5", "--dt-ms",
       "{t}/s.h5"),
    _c("sweep-dt-nan", "numbers", SWEEP.replace("0:20:5", "nan,1") + " --out {t}/s.h5", "--dt-ms", "{t}/s.h5"),
    _c("sweep-sigma-nan", "numbers", SWEEP + " --sigma-pct nan --out {t}/s.h5", "--sigma-pct", "{t}/s.h5"),
    _c("sweep-waveforms-neg", "numbers", SWEEP + " --save-waveforms -1 --out {t}/s.h5", "--save-waveforms",
       "{t}/s.h5"),
    # --- numbers: export ---------------------------------------------------------------------------------------
    _c("export-tile-0", "numbers", EXPORT + " --tile 0x64 --out {t}/chip", "--tile", "{t}/chip"),
    _c("export-tolerance-nan", "numbers", EXPORT + " --tolerance nan --out {t}/chip", "--tolerance", "{t}/chip"),
    _c("export-width-inf", "numbers", EXPORT + " --width-ns inf --out {t}/chip", "--width-ns", "{t}/chip"),
    _c("export-vmax-neg", "numbers", EXPORT + " --v-max -1 --out {t}/chip", "--v-max", "{t}/chip"),
    _c("export-wrange-reversed", "numbers", EXPORT_W + " --w-range 1,0 --out {t}/chip", "--w-range", "{t}/chip"),
    _c("export-param-text", "numbers", EXPORT_W + " --device-param radius_nm=abc --out {t}/chip",
       ("--device-param", "radius_nm"), "{t}/chip"),
    _c("export-param-nan", "numbers", EXPORT_W + " --device-param radius_nm=NaN --out {t}/chip",
       ("--device-param", "radius_nm"), "{t}/chip"),
    _c("simulate-n-test-0", "numbers", "export simulate {chip} --n-test 0", "--n-test"),
    _c("eval-n-test-0", "numbers", "eval {run} --n-test 0", "--n-test"),
    # --- numbers: pipeline (all checked before the first step) ----------------------------------------------
    _c("pipeline-trials-0", "numbers", PIPE + " --trials 0 --out {t}/p", "--trials", "{t}/p"),
    _c("pipeline-jobs-0", "numbers", PIPE + " --jobs 0 --out {t}/p", "--jobs", "{t}/p"),
    _c("pipeline-synapse-bogus", "numbers", PIPE + " --synapse bogus:3 --out {t}/p", "bogus", "{t}/p"),
    _c("pipeline-neurons-0", "numbers", PIPE + " --neurons 0 --out {t}/p", "--neurons", "{t}/p"),
    _c("pipeline-device-bogus", "numbers", PIPE + " --device tpu --out {t}/p", "--device", "{t}/p"),
    # --- output paths: wrong kind, unwritable, occupied --------------------------------------------------------
    _c("sweep-out-is-dir", "outputs", SWEEP + " --out {t}", ("--out", "is a directory")),
    _c("sweep-out-under-file", "outputs", SWEEP + " --out {file}/s.h5", ("--out", "is a file")),
    _c("sweep-out-readonly", "outputs", SWEEP + " --out {ro}/s.h5", ("--out", "cannot write")),
    _c("fit-out-is-dir", "outputs", FIT + " --out {t}", ("--out", "is a directory")),
    _c("fit-out-readonly", "outputs", FIT + " --out {ro}/r.json", ("--out", "cannot write")),
    _c("fit-out-under-file", "outputs", FIT + " --out {file}/r.json", ("--out", "is a file")),
    _c("fit-plot-extension", "outputs", FIT + " --out {t}/r.json --plot {t}/fit.xyz", ("--plot", ".xyz"),
       ("{t}/r.json", "{t}/fit.xyz")),
    _c("fit-plot-readonly", "outputs", FIT + " --out {t}/r.json --plot {ro}/fit.png", ("--plot", "cannot write"),
       "{t}/r.json"),
    _c("plot-out-readonly", "outputs", "device plot {sweep} --out {ro}/s.png", ("--out", "cannot write")),
    _c("plot-out-is-dir", "outputs", "device plot {sweep} --out {t}", ("--out", "is a directory")),
    _c("plot-out-extension", "outputs", "device plot {sweep} --out {t}/s.xyz", ("--out", ".xyz")),
    _c("calibrate-out-readonly", "outputs", "fit calibrate --out {ro}/cal.json", ("--out", "cannot write")),
    _c("train-out-is-file", "outputs", TRAIN + " --out {file}", ("--out", "is a file")),
    _c("train-out-readonly", "outputs", TRAIN + " --out {ro}/run", ("--out", "cannot write")),
    _c("train-out-nonempty", "outputs", TRAIN + " --out {bad}/nonempty", ("--out", "not empty", "notes.txt")),
    _c("train-out-existing-run", "outputs", TRAIN + " --out {run}", ("--out", "already holds a run", "--resume")),
    _c("export-out-is-file", "outputs", EXPORT + " --out {file}", ("--out", "is a file")),
    _c("export-out-readonly", "outputs", EXPORT + " --out {ro}/chip", ("--out", "cannot write")),
    _c("export-out-exists", "outputs", EXPORT + " --out {chip}", ("--out", "already exists")),
    _c("export-out-is-source", "outputs", EXPORT + " --out {run} --overwrite", ("--out", "source")),
    _c("simulate-json-is-dir", "outputs", "export simulate {chip} --n-test 10 --json {t}", ("--json", "directory")),
    _c("simulate-json-readonly", "outputs", "export simulate {chip} --n-test 10 --json {ro}/s.json",
       ("--json", "cannot write")),
    _c("pipeline-out-is-file", "outputs", PIPE + " --out {file}", ("--out", "is a file")),
    _c("pipeline-out-readonly", "outputs", PIPE + " --out {ro}/p", ("--out", "cannot write")),
    # --- input files -------------------------------------------------------------------------------------------
    _c("fit-missing-input", "inputs", "fit {t}/nope.csv --out {t}/r.json", ("nope.csv", "not found"), "{t}/r.json"),
    _c("fit-empty-h5", "inputs", "fit {bad}/empty.h5 --out {t}/r.json", ("empty.h5", "empty file"), "{t}/r.json"),
    _c("fit-garbage-h5", "inputs", "fit {bad}/garbage.h5 --out {t}/r.json", ("garbage.h5", "not an HDF5"),
       "{t}/r.json"),
    _c("fit-empty-csv", "inputs", "fit {bad}/empty.csv --out {t}/r.json", ("empty.csv", "empty CSV"), "{t}/r.json"),
    _c("fit-not-utf8", "inputs", "fit {bad}/notutf8.csv --out {t}/r.json", ("notutf8.csv", "UTF-8"), "{t}/r.json"),
    _c("fit-csv-no-unit", "inputs", "fit {bad}/nounit.csv --out {t}/r.json", ("nounit.csv", "unit"), "{t}/r.json"),
    _c("fit-csv-nan", "inputs", "fit {bad}/nan.csv --strict-rows --out {t}/r.json", ("nan.csv", "NaN"), "{t}/r.json"),
    _c("fit-csv-ragged", "inputs", "fit {bad}/ragged.csv --strict-rows --out {t}/r.json", ("ragged.csv", "line 3"),
       "{t}/r.json"),
    _c("fit-csv-text", "inputs", "fit {bad}/text.csv --strict-rows --out {t}/r.json", ("text.csv", "abc"),
       "{t}/r.json"),
    _c("fit-csv-1e300", "inputs", "fit {bad}/huge.csv --out {t}/r.json --plot {t}/fit.png",
       ("huge.csv", "out of range"), ("{t}/r.json", "{t}/fit.png")),
    _c("train-rule-missing", "inputs", TRAIN_OUT + " --rule {t}/nope.json", ("--rule", "not found"), "{t}/run"),
    _c("train-rule-garbage", "inputs", TRAIN_OUT + " --rule {bad}/garbage.json", ("garbage.json", "JSON"),
       "{t}/run"),
    _c("train-rule-other-format", "inputs", TRAIN_OUT + " --rule {bad}/other.json", ("other.json", "format"),
       "{t}/run"),
    _c("train-rule-bad-unit", "inputs", TRAIN_OUT + " --rule {bad}/rule_k0_furlong.json",
       ("rule_k0_furlong.json", "k0", "unit"), "{t}/run"),
    _c("train-rule-k0-negative", "inputs", TRAIN_OUT + " --rule {bad}/rule_k0_neg.json",
       ("rule_k0_neg.json", "k0", "out of range"), "{t}/run"),
    _c("train-rule-t0-huge", "inputs", TRAIN_OUT + " --rule {bad}/rule_t0_huge.json",
       ("rule_t0_huge.json", "t0", "out of range"), "{t}/run"),
    _c("train-rule-t0-text", "inputs", TRAIN_OUT + " --rule {bad}/rule_t0_str.json", ("rule_t0_str.json", "t0"),
       "{t}/run"),
    _c("eval-missing-run", "inputs", "eval {t}/norun", ("norun", "no checkpoint")),
    _c("eval-garbage-checkpoint", "inputs", "eval {bad}/notarun", ("checkpoint.pt", "not a spinsyn-checkpoint")),
    _c("eval-pickled-checkpoint", "inputs", "eval {bad}/pickled", ("checkpoint.pt", "pickled")),
    _c("resume-pickled-checkpoint", "inputs", "train --resume {bad}/pickled", ("checkpoint.pt", "pickled")),
    _c("resume-not-a-run", "inputs", "train --resume {t}", ("--resume", "no checkpoint")),
    _c("resume-with-options", "inputs", "train --resume {run} --nu 0.5", ("--resume", "--nu")),
    _c("export-garbage-npy", "inputs", "export {bad}/garbage.npy --synapse compound:4 --out {t}/chip",
       "garbage.npy", "{t}/chip"),
    _c("export-nan-npy", "inputs", "export {bad}/nan.npy --synapse compound:4 --out {t}/chip", "nan.npy",
       "{t}/chip"),
    _c("export-3d-npy", "inputs", "export {bad}/w3d.npy --synapse compound:4 --out {t}/chip", "w3d.npy", "{t}/chip"),
    _c("export-missing-source", "inputs", "export {t}/nope.npy --synapse compound:4 --out {t}/chip", "nope.npy",
       "{t}/chip"),
    _c("verify-not-a-chip", "inputs", "export verify {t}", "manifest"),
    _c("simulate-not-a-chip", "inputs", "export simulate {run}", "{run}"),
    # --- ngspice missing: one message, exit 2, before any progress bar, any --jobs -----------------------------
    _c("nolib-sweep-jobs1", "ngspice", SPICE + " --jobs 1 --out {t}/s.h5", ("NGSPICE_LIBRARY_PATH", "not found"),
       "{t}/s.h5", env=NOLIB),
    _c("nolib-sweep-jobs2", "ngspice", SPICE + " --jobs 2 --out {t}/s.h5", ("NGSPICE_LIBRARY_PATH", "not found"),
       "{t}/s.h5", env=NOLIB),
    _c("nolib-sweep-default-jobs", "ngspice", SPICE + " --out {t}/s.h5", ("NGSPICE_LIBRARY_PATH", "not found"),
       "{t}/s.h5", env=NOLIB),
    _c("nolib-empty-library", "ngspice", SPICE + " --jobs 2 --out {t}/s.h5", ("nolib.so", "not a shared library"),
       "{t}/s.h5", env={"NGSPICE_LIBRARY_PATH": "{bad}/nolib.so"}),
    _c("nolib-pipeline", "ngspice", PIPE.replace("--engine reference", "--engine spice") + " --out {t}/p",
       ("NGSPICE_LIBRARY_PATH", "not found"), "{t}/p", env=NOLIB),
]
