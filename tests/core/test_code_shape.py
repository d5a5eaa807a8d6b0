"""Code shape of the stage folders (AST and grep based, well under a second).

Rules a newcomer can rely on when changing one stage:

(a) no function longer than :data:`MAX_LINES` lines (an explicit allow-list of numba kernels excepted);
(b) no stage imports another stage's private names (``from spinsyn.X.mod import _name``, ``spinsyn.X.mod._name``,
    a private module ``spinsyn.X._mod``) and no relative import reaches into another stage;
(c) no ``except ImportError``/``ModuleNotFoundError`` around imports of ``spinsyn`` code and no
    ``hasattr(<stage module>, ...)`` fallbacks between stages: all stages ship together;
(d) one reader per file format: only snn/ loads a checkpoint with ``torch.load``, only devices/ opens a sweep
    HDF5 with h5py, only fitting/ parses rule JSON (the others call those stages' public readers);
(e) core/pipeline.py calls the stages' Python APIs and does not import core/cli.py.

Each test lists every offender, grouped by folder.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: folder -> package it installs as (pyproject ``[tool.setuptools.package-dir]``)
STAGES = {"devices": "spinsyn.devices", "fitting": "spinsyn.fitting", "snn": "spinsyn.snn",
          "hw_export": "spinsyn.hw_export", "core": "spinsyn"}
MAX_LINES = 80
#: (file, function) allowed to be longer than MAX_LINES: numba kernels compiled as one loop per image, where
#: splitting the body into calls costs speed (docs/CONTRACTS.md; the same files are exempt from C901).
LONG_FUNCTION_ALLOWED = {
    ("snn/kernels.py", "simulate_image"),  # @njit: one image's whole time loop
    ("snn/kernels.py", "apply_update"),  # @njit: a batch's weight update, one pass over the synapses
}
#: one reader per format: folder that owns it, and what reading it looks like elsewhere
SWEEP_TOKENS = {"spinsyn-sweep", "g_after_S", "g_before_S", "switched_up", "switched_down"}
RULE_TOKENS = {"spinsyn-rule"}
CHECKPOINT_TOKENS = {"checkpoint.pt", "spinsyn-checkpoint", "CHECKPOINT_NAME"}


def _files() -> Iterator[tuple[str, Path]]:
    for folder in STAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield folder, path


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_name(folder: str, path: Path) -> str:
    parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([STAGES[folder], *parts])


def _stage_of(module: str) -> str | None:
    """Folder of the stage a ``spinsyn...`` module belongs to (core for ``spinsyn.x``), None if not spinsyn."""
    if module != "spinsyn" and not module.startswith("spinsyn."):
        return None
    for folder, pkg in STAGES.items():
        if folder != "core" and (module == pkg or module.startswith(pkg + ".")):
            return folder
    return "core"


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` (``spinsyn.x.y``) names a module or package of this repository."""
    stage = _stage_of(dotted)
    if stage is None:
        return False
    rest = dotted[len(STAGES[stage]):].lstrip(".").split(".") if dotted != STAGES[stage] else []
    base = ROOT / stage / Path(*rest) if rest else ROOT / stage
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve_from(node: ast.ImportFrom, folder: str, path: Path) -> str:
    """Absolute module of an ``ImportFrom`` (relative imports resolved against the file's package)."""
    if not node.level:
        return node.module or ""
    pkg = _module_name(folder, path).split(".")
    if path.name != "__init__.py":
        pkg = pkg[:-1]
    base = pkg[: len(pkg) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _aliases(tree: ast.Module, folder: str, path: Path) -> dict[str, str]:
    """Local name -> dotted ``spinsyn`` name it is bound to by an import anywhere in the file."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve_from(node, folder, path)
            for a in node.names:
                out[a.asname or a.name] = f"{mod}.{a.name}"
    return {k: v for k, v in out.items() if _stage_of(v) is not None}


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _report(offenders: dict[str, list[str]]) -> str:
    lines = []
    for folder in sorted(offenders):
        lines.append(f"{folder}/ ({len(offenders[folder])}):")
        lines += [f"    {o}" for o in offenders[folder]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- (a)
def test_no_function_longer_than_80_lines():
    offenders: dict[str, list[str]] = defaultdict(list)
    for folder, path in _files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES and (_rel(path), node.name) not in LONG_FUNCTION_ALLOWED:
                    offenders[folder].append(f"{_rel(path)}:{node.lineno} {node.name}() is {n} lines")
    assert not offenders, f"functions over {MAX_LINES} lines:\n{_report(offenders)}"


# ---------------------------------------------------------------------------------------------- (b)
def _private_imports(folder: str, path: Path, tree: ast.Module) -> Iterator[str]:
    where = _rel(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = _resolve_from(node, folder, path)
            stage = _stage_of(mod)
            if stage is None or stage == folder:
                continue
            if node.level:
                yield f"{where}:{node.lineno} relative import 'from {'.' * node.level}{node.module or ''}' " \
                      f"reaches into {stage}/"
            for a in node.names:
                if _private(a.name) or any(_private(p) for p in mod.split(".")):
                    yield f"{where}:{node.lineno} imports private {mod}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                stage = _stage_of(a.name)
                if stage not in (None, folder) and any(_private(p) for p in a.name.split(".")):
                    yield f"{where}:{node.lineno} imports private module {a.name}"


def _private_attributes(folder: str, path: Path, tree: ast.Module) -> Iterator[str]:
    aliases = _aliases(tree, folder, path)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        parts = _dotted(node)
        if not parts or parts[0] not in aliases:
            continue
        full = [*aliases[parts[0]].split("."), *parts[1:]]
        owner = ".".join(full[:-1])
        stage = _stage_of(owner)
        if stage not in (None, folder) and _is_module(owner):
            yield f"{_rel(path)}:{node.lineno} uses private {'.'.join(full)}"


def _offences_by_folder(*checks) -> dict[str, list[str]]:
    """Run every ``check(folder, path, tree)`` over the stage files; offences per folder (empty ones dropped)."""
    offenders: dict[str, list[str]] = defaultdict(list)
    for folder, path in _files():
        tree = _tree(path)
        for check in checks:
            offenders[folder] += list(check(folder, path, tree))
    return {k: v for k, v in offenders.items() if v}


def test_no_stage_uses_another_stages_private_names():
    offenders = _offences_by_folder(_private_imports, _private_attributes)
    assert not offenders, f"private names used across stages:\n{_report(offenders)}"


# ---------------------------------------------------------------------------------------------- (c)
def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    names = [t] if not isinstance(t, ast.Tuple) else list(t.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _imports_spinsyn(body: list[ast.stmt], folder: str, path: Path) -> bool:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom) and _stage_of(_resolve_from(node, folder, path)):
                return True
            if isinstance(node, ast.Import) and any(_stage_of(a.name) for a in node.names):
                return True
            if isinstance(node, ast.Call) and (_dotted(node.func) or [""])[-1] == "import_module":
                return True
    return False


def _fallbacks(folder: str, path: Path, tree: ast.Module) -> Iterator[str]:
    aliases = _aliases(tree, folder, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers) \
                and _imports_spinsyn(node.body, folder, path):
            yield f"{_rel(path)}:{node.lineno} except ImportError/ModuleNotFoundError around a spinsyn import"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr" \
                and node.args:
            parts = _dotted(node.args[0])
            if parts and parts[0] in aliases:
                target = ".".join([*aliases[parts[0]].split("."), *parts[1:]])
                if _stage_of(target) not in (None, folder) and _is_module(target):
                    yield f"{_rel(path)}:{node.lineno} hasattr({target}, ...) fallback"


def test_no_import_or_hasattr_fallbacks_between_stages():
    offenders = _offences_by_folder(_fallbacks)
    assert not offenders, f"fallbacks between stages (all stages ship together):\n{_report(offenders)}"


# ---------------------------------------------------------------------------------------------- (d)
def _code_strings(tree: ast.Module) -> set[str]:
    """String constants and names used in code (docstrings are whole sentences and never match a token)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
        elif isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
    return out


def _calls(tree: ast.Module) -> set[str]:
    """Dotted names of everything called (``torch.load``, ``h5py.File``, ...)."""
    return {".".join(p) for node in ast.walk(tree) if isinstance(node, ast.Call) and (p := _dotted(node.func))}


def _reader_offences(folder: str, path: Path, tree: ast.Module) -> Iterator[str]:
    strings, calls = _code_strings(tree), _calls(tree)
    where = _rel(path)
    if folder != "snn" and "torch.load" in calls and any(t in s for s in strings for t in CHECKPOINT_TOKENS):
        yield f"{where}: torch.load of an snn checkpoint (use spinsyn.snn's public reader)"
    if folder != "devices" and "h5py.File" in calls and strings & SWEEP_TOKENS:
        yield f"{where}: opens a sweep HDF5 with h5py (use spinsyn.devices.read_sweep)"
    if folder != "fitting" and strings & RULE_TOKENS:
        yield f"{where}: parses rule JSON (use spinsyn.fitting.load_rule)"


def test_one_reader_per_file_format():
    offenders = _offences_by_folder(_reader_offences)
    assert not offenders, f"file formats read outside their owning stage:\n{_report(offenders)}"


# ---------------------------------------------------------------------------------------------- (e)
def test_pipeline_does_not_import_the_cli():
    path = ROOT / "core" / "pipeline.py"
    tree = _tree(path)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = _resolve_from(node, "core", path)
            imported |= {mod, *(f"{mod}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert "spinsyn.cli" not in imported
    assert not any(".cli.main" in m or m.endswith("cli.main") for m in imported)


# ------------------------------------------------------------------------------------- the checkers
def _check(code: str, folder: str = "fitting", name: str = "x.py") -> list[str]:
    path = ROOT / folder / name
    tree = ast.parse(code)
    return [*_private_imports(folder, path, tree), *_private_attributes(folder, path, tree),
            *_fallbacks(folder, path, tree), *_reader_offences(folder, path, tree)]


@pytest.mark.parametrize("code", [
    "from spinsyn.devices.sweep import _draw",
    "from ..devices import sweep",
    "from spinsyn.devices import sweep\nsweep._draw(1)",
    "import spinsyn.devices.sweep\nspinsyn.devices.sweep._draw(1)",
    "try:\n    from spinsyn import devices\nexcept ImportError:\n    devices = None",
    "try:\n    import spinsyn.snn.cli\nexcept (ModuleNotFoundError, OSError):\n    pass",
    "from spinsyn import devices\nif hasattr(devices, 'sweep'):\n    pass",
    "import torch\ntorch.load('run/checkpoint.pt')",
    "import h5py\nh5py.File('s.h5', 'r')['g_after_S']",
])
def test_checkers_catch(code):
    assert _check(code)


@pytest.mark.parametrize("code", [
    "from spinsyn.devices import sweep, read_sweep\nsweep(1)",
    "from .rules import _num",
    "from spinsyn.fitting.rules import _num",  # own stage
    "try:\n    import numba\nexcept ImportError:\n    numba = None",
    "from spinsyn.fitting import load_rule\nload_rule('r.json')",
    "RULE = 'spinsyn-rule'",  # fitting owns the rule format
])
def test_checkers_pass(code):
    assert not _check(code)


@pytest.mark.parametrize("module,expected", [
    ("spinsyn.devices.models", "devices"), ("spinsyn.fileio", "core"), ("numpy", None), ("spinsyn", "core"),
])
def test_stage_of(module, expected):
    assert _stage_of(module) == expected
