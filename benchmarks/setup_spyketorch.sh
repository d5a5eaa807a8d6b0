#!/usr/bin/env bash
# Build the separate virtualenv that benchmarks/bench_conv_spyketorch.py runs SpykeTorch in (issue 27), idempotently.
#
#   bash benchmarks/setup_spyketorch.sh SRC COMMIT [VENV]
#
# SRC:    an exported SpykeTorch tree (github.com/miladmozafari/SpykeTorch; SpykeTorch is not on PyPI), e.g.
#         `git --git-dir=<bare clone> archive <COMMIT> | tar -x -C SRC`
# COMMIT: the commit SRC was exported from (40 hex digits); recorded in VENV/spinsyn-spyketorch-stamp.txt and
#         reported by the benchmark
# VENV:   default $SPINSYN_SPYKETORCH_VENV, else REPO/.bench-venvs/spyketorch (git-ignored)
#
# Installs torch==2.13.0 (the CPU build, as scripts/_setup.sh does), numpy, pillow, torchvision==0.28.0 --no-deps
# (SpykeTorch/utils.py imports torchvision at import time; --no-deps so it cannot replace torch; its wheels expect
# CUDA torch ops, see spyketorch_runner.py) and a *copy* of SRC (`pip install --no-deps SRC`, not editable, so a
# later change of SRC does not change the venv until this script runs again). Nothing of SpykeTorch goes into the
# spinsyn repository or its .venv; no test needs this venv. A second run with the same SRC and COMMIT does nothing.
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$(cd "$1" && pwd)"
COMMIT="$2"
VENV="${3:-${SPINSYN_SPYKETORCH_VENV:-$ROOT/.bench-venvs/spyketorch}}"
if ! [[ "$COMMIT" =~ ^[0-9a-f]{40}$ ]]; then
    echo "[setup-spyketorch] COMMIT must be 40 lower-case hex digits, got '$COMMIT'" >&2
    exit 2
fi
if [ ! -f "$SRC/SpykeTorch/snn.py" ] || [ ! -f "$SRC/setup.py" ]; then
    echo "[setup-spyketorch] $SRC is not a SpykeTorch tree (no SpykeTorch/snn.py or setup.py)" >&2
    exit 2
fi
PY="$VENV/bin/python"
STAMP="$VENV/spinsyn-spyketorch-stamp.txt"
WANT="torch==2.13.0 numpy pillow torchvision==0.28.0 spyketorch=$COMMIT src=$SRC"
if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(head -n 1 "$STAMP")" = "$WANT" ]; then
    echo "[setup-spyketorch] $VENV is up to date (SpykeTorch $COMMIT)"
    exit 0
fi
if [ ! -x "$PY" ]; then
    echo "[setup-spyketorch] creating $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
LOG="$VENV/setup.log"
quiet() { if ! "$@" >>"$LOG" 2>&1; then echo "[setup-spyketorch] failed: $*" >&2; tail -n 40 "$LOG" >&2; exit 1; fi; }
echo "[setup-spyketorch] installing torch==2.13.0 (CPU), numpy, pillow, torchvision==0.28.0, SpykeTorch $COMMIT"
quiet "$PY" -m pip install -q --upgrade pip setuptools wheel
quiet "$PY" -m pip install -q "torch==2.13.0" numpy pillow
quiet "$PY" -m pip install -q --no-deps "torchvision==0.28.0"
# a copy of the tree, built from a scratch copy (setup.py reads README.md / requirements.txt relative to the cwd)
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cp -r "$SRC/." "$TMP/src"
rm -rf "$TMP/src/dataset"  # 2 MB of ETH-80 images, unused here
(cd "$TMP/src" && quiet "$PY" -m pip install -q --no-deps --no-build-isolation --force-reinstall .)
# the import the benchmark's driver makes (with its torchvision op shim), outside SRC so the installed copy is used
(cd "$TMP" && quiet "$PY" -c "
import torch
lib = torch.library.Library('torchvision', 'DEF')
lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
from SpykeTorch import snn, functional, utils
print('SpykeTorch', snn.__file__, 'torch', torch.__version__)
")
printf '%s\n%s\n' "$WANT" "installed $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$STAMP"
echo "[setup-spyketorch] done: $PY (SpykeTorch $COMMIT)"
