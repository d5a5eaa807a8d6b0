# Shared, idempotent set-up for scripts/demo and scripts/test (sourced, not executed).
# Creates .venv, installs torch==2.13.0 first (CPU build), then spinsyn in editable mode with its extras,
# and the ngspice shared library when it is missing. A second run skips every finished step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

have_ngspice() {
    ldconfig -p 2>/dev/null | grep -q 'libngspice\.so' && return 0
    for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
        ls "$d"/libngspice.so* >/dev/null 2>&1 && return 0
    done
    [ -n "${NGSPICE_LIBRARY_PATH:-}" ] && [ -f "${NGSPICE_LIBRARY_PATH}" ] && return 0
    return 1
}

if ! have_ngspice; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing the ngspice shared library (libngspice0)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libngspice0 >/dev/null
    else
        echo "[setup] the ngspice shared library is missing. Install it with:" >&2
        echo "    sudo apt-get install -y libngspice0" >&2
        echo "(or set NGSPICE_LIBRARY_PATH to your libngspice.so)" >&2
        exit 1
    fi
fi

if [ ! -x "$PY" ]; then
    echo "[setup] creating $VENV"
    python3 -m venv "$VENV"
fi

# Re-install only when pyproject.toml changed (stamp holds its hash).
STAMP="$VENV/.spinsyn-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing torch==2.13.0 (CPU) and spinsyn[dev,cmtj,study,nir,interop-test] (editable)"
    # pip's and setuptools' chatter goes to a log, shown only when a step fails
    LOG="$VENV/setup.log"
    quiet() { if ! "$@" >>"$LOG" 2>&1; then echo "[setup] failed: $*" >&2; tail -n 40 "$LOG" >&2; exit 1; fi; }
    quiet "$PY" -m pip install -q --upgrade pip
    quiet "$PY" -m pip install -q "torch==2.13.0"
    quiet "$PY" -m pip install -q -e "$ROOT[dev,cmtj,study,nir,interop-test]"
    quiet "$PY" -m pip install -q --no-deps "norse==1.1.0"  # NIR consumer for tests (see pyproject interop-test)
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
