# Shared, idempotent set-up for scripts/demo and scripts/test (sourced, not executed).
# Creates .venv, installs torch==2.13.0 first (CPU build), then spinsyn as a *strict* editable install with its
# extras, and the ngspice shared library when it is missing. A second run skips every finished step.
# Strict mode (not setuptools' default import hook) builds a link tree, build/__editable__.spinsyn-*/spinsyn/, of
# symlinks to core/, devices/, fitting/, snn/, hw_export/, and puts it on sys.path: mypy, IDEs and import graphs
# see `spinsyn.*` as ordinary files, and edits to existing files take effect at once. A link tree only knows the
# files that existed when it was built, so this script rebuilds it (pip --no-deps, ~2 s) whenever the list of
# package files changes: after adding, removing or renaming a module, `source scripts/_setup.sh` (scripts/test
# and scripts/demo do it) makes it importable.
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

# pip's and setuptools' chatter goes to a log, shown only when a step fails
LOG="$VENV/setup.log"
quiet() { if ! "$@" >>"$LOG" 2>&1; then echo "[setup] failed: $*" >&2; tail -n 40 "$LOG" >&2; exit 1; fi; }
EDITABLE=(--config-settings editable_mode=strict)
EXTRAS="dev,cmtj,study,nir,interop-test,fast"

# Re-install everything only when pyproject.toml, the extras or the install mode changed (stamp holds their
# hash); an old venv with the default (import-hook) editable install is switched to strict mode by this step.
STAMP="$VENV/.spinsyn-installed"
WANT="$( (cat "$ROOT/pyproject.toml"; echo "${EDITABLE[*]} $EXTRAS") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing torch==2.13.0 (CPU) and spinsyn[$EXTRAS] (strict editable)"
    quiet "$PY" -m pip install -q --upgrade pip "setuptools>=77" wheel  # the link-tree refresh builds in this venv
    quiet "$PY" -m pip install -q "torch==2.13.0"
    quiet "$PY" -m pip install -q -e "$ROOT[$EXTRAS]" "${EDITABLE[@]}"
    quiet "$PY" -m pip install -q --no-deps "norse==1.1.0"  # NIR consumer for tests (see pyproject interop-test)
    echo "$WANT" > "$STAMP"
    rm -f "$VENV/.spinsyn-links"
fi

# Rebuild the link tree when a package file was added, removed or renamed (stamp: hash of the file list).
LINKS="$VENV/.spinsyn-links"
FILES="$(cd "$ROOT" && find core devices fitting snn hw_export -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
    | LC_ALL=C sort | sha256sum | cut -d' ' -f1)"
if [ ! -f "$LINKS" ] || [ "$(cat "$LINKS")" != "$FILES" ] \
        || ! compgen -G "$ROOT/build/__editable__.spinsyn-*" >/dev/null; then
    echo "[setup] refreshing the spinsyn link tree (strict editable install, no dependencies)"
    quiet "$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT" "${EDITABLE[@]}"
    echo "$FILES" > "$LINKS"
fi
export PATH="$VENV/bin:$PATH"
