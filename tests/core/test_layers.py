"""Import layering of the package, from the source files (AST only, well under a second).

The layers (lowest first; ``[tool.importlinter]`` in pyproject.toml states the same contract for ``lint-imports``):

    base (spinsyn.fileio, .validation, .locks, .ngspice, .parallel, .safeload, .mnist, .options)
    < spinsyn.devices < spinsyn.fitting < spinsyn.snn < spinsyn.hw_export < spinsyn.report < spinsyn.study
    < spinsyn.pipeline < spinsyn.cli / spinsyn.doctor

(a) no import cycle anywhere in the package: module-level and function-local imports are both edges (a cycle
    hidden inside a function is still a cycle), relative imports resolved, ``core/study`` counted as
    ``spinsyn.study`` (its own layer), never as part of the base;
(b) no module imports from a higher layer;
(c) a function-local import of the project's own modules or of a heavy third-party module carries a reason from
    :data:`REASONS` as a trailing comment, e.g. ``import torch  # lazy: startup``; every other import sits at
    module level.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: folder -> package it installs as (pyproject ``[tool.setuptools.package-dir]``)
PACKAGES = {"core": "spinsyn", "devices": "spinsyn.devices", "fitting": "spinsyn.fitting", "snn": "spinsyn.snn",
            "hw_export": "spinsyn.hw_export"}
#: layers, lowest first; a module belongs to the first entry it equals or lies under, scanning from the top
LAYERS: list[tuple[str, ...]] = [
    ("spinsyn.fileio", "spinsyn.validation", "spinsyn.locks", "spinsyn.ngspice", "spinsyn.parallel",
     "spinsyn.safeload", "spinsyn.mnist", "spinsyn.options", "spinsyn.labfile",
     "spinsyn.lazyimport"),
    ("spinsyn.devices",),
    ("spinsyn.fitting",),
    ("spinsyn.snn",),
    ("spinsyn.hw_export",),
    ("spinsyn.report",),
    ("spinsyn.study",),
    ("spinsyn.pipeline",),
    ("spinsyn.cli", "spinsyn.doctor"),
]
#: reasons a function-local import may give (trailing comment ``# lazy: <reason>``):
#: ``startup`` keeps a heavy module out of ``spinsyn --help`` and bad-input runs; ``optional`` is an extra that may
#: be missing (imported where it is needed, with a clear error there).
REASONS = ("startup", "optional")
#: third-party modules heavy enough that importing them locally must be justified (top-level name)
HEAVY = {"torch", "numba", "matplotlib", "scipy", "h5py", "PySpice", "dask", "distributed", "optuna", "nir",
         "nirtorch", "norse", "cmtj", "pyarrow", "pandas", "tqdm"}
#: light third-party modules that may be missing, so imported where needed (``# lazy: optional``): psutil (used if
#: present), tomli (the ``study`` extra on Python 3.10; ``tomllib`` is its 3.11+ stand-in, chosen in the same place)
OPTIONAL = {"psutil", "tomli", "tomllib"}


def _files() -> Iterator[tuple[str, Path]]:
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield folder, path


def _module_name(folder: str, path: Path) -> str:
    parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGES[folder], *parts])


def _modules() -> dict[str, tuple[str, Path]]:
    """Every module of the package: dotted name -> (folder, file)."""
    return {_module_name(folder, path): (folder, path) for folder, path in _files()}


def _resolve_from(node: ast.ImportFrom, module: str, path: Path) -> str:
    """Absolute module named by an ``ImportFrom`` (relative imports resolved against the file's package)."""
    if not node.level:
        return node.module or ""
    pkg = module.split(".")
    if path.name != "__init__.py":
        pkg = pkg[:-1]
    base = pkg[: len(pkg) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package an import statement loads (``from pkg import sub`` -> ``pkg.sub`` if a module)."""
    out: set[str] = set()
    if isinstance(node, ast.Import):
        for a in node.names:
            name = a.name
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
        return out
    base = _resolve_from(node, module, path)
    for a in node.names:
        sub = f"{base}.{a.name}"
        if sub in known:
            out.add(sub)
        elif base in known:
            out.add(base)
    return out


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (never executed, so no edge)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported package module: first line number}, every import of every file (local ones too)."""
    mods = _modules()
    known = set(mods)
    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for module, (_, path) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                for target in _targets(node, module, path, known) - {module}:
                    graph[module].setdefault(target, node.lineno)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Components of more than one module (Tarjan, iterative), each sorted; the components sorted too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of a package module (None for ``spinsyn`` itself)."""
    for i in range(len(LAYERS) - 1, -1, -1):
        if any(module == m or module.startswith(m + ".") for m in LAYERS[i]):
            return i
    return None


# ---------------------------------------------------------------------------------------------- (a)
def _describe(comp: list[str], graph: dict[str, dict[str, int]]) -> str:
    inside = set(comp)
    edges = [f"        {m} -> {t} (line {graph[m][t]})" for m in comp for t in sorted(graph[m]) if t in inside]
    return f"    {len(comp)} modules: {', '.join(comp)}\n" + "\n".join(edges)


def test_no_import_cycle_anywhere_in_the_package():
    graph = import_graph()
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles (module-level and function-local imports):\n" + \
        "\n".join(_describe(c, graph) for c in cycles)


# ---------------------------------------------------------------------------------------------- (b)
def test_every_module_has_a_layer():
    unplaced = sorted(m for m in _modules() if m != "spinsyn" and layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS and [tool.importlinter]): {unplaced}"


def test_no_module_imports_a_higher_layer():
    offenders = []
    for module, targets in sorted(import_graph().items()):
        mine = layer_of(module)
        for target, line in sorted(targets.items()):
            theirs = layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                offenders.append(f"{module}:{line} imports {target} (layer {theirs} > {mine})")
    assert not offenders, "imports from a higher layer:\n" + "\n".join(offenders)


# ---------------------------------------------------------------------------------------------- (c)
def _local_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements inside a function body (at any depth)."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in fn.body:
                for node in ast.walk(stmt):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        yield node


def _reason(lines: list[str], node: ast.stmt) -> str | None:
    """The ``# lazy: <reason>`` on any line of the statement, or None."""
    for line in lines[node.lineno - 1: node.end_lineno]:
        if "# lazy:" in line:
            return line.split("# lazy:", 1)[1].split()[0] if line.split("# lazy:", 1)[1].split() else ""
    return None


def _needs_reason(node: ast.Import | ast.ImportFrom) -> bool:
    """Whether the import loads project code, a heavy third-party module or an optional one."""
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""] if not node.level else ["spinsyn"]
    else:
        names = [a.name for a in node.names]
    return any(n.split(".")[0] in HEAVY | OPTIONAL | {"spinsyn"} for n in names)


def local_import_offences(path: Path, text: str) -> Iterator[str]:
    """Function-local imports without an accepted reason (or of light modules, which belong at module level)."""
    tree = ast.parse(text, filename=str(path))
    lines = text.splitlines()
    where = path.relative_to(ROOT).as_posix() if path.is_absolute() else str(path)
    seen: set[int] = set()
    for node in _local_imports(tree):
        if id(node) in seen:
            continue
        seen.add(id(node))
        reason = _reason(lines, node)
        code = ast.unparse(node)
        if not _needs_reason(node):
            yield f"{where}:{node.lineno} '{code}' is light: import it at module level"
        elif reason not in REASONS:
            yield f"{where}:{node.lineno} '{code}' needs '# lazy: <{'|'.join(REASONS)}>' (has {reason!r})"


def test_function_local_imports_give_a_reason():
    offenders: dict[str, list[str]] = defaultdict(list)
    for folder, path in _files():
        offenders[folder] += list(local_import_offences(path, path.read_text(encoding="utf-8")))
    found = {k: v for k, v in offenders.items() if v}
    assert not found, "function-local imports:\n" + "\n".join(
        f"{k}/ ({len(v)}):\n" + "\n".join(f"    {o}" for o in v) for k, v in sorted(found.items()))


# ------------------------------------------------------------------------------------- the checkers
def test_strongly_connected_finds_a_hidden_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 1}, "e": {}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b": 1}, "b": {}}) == []


@pytest.mark.parametrize("code", [
    "def f():\n    import torch\n",
    "def f():\n    from spinsyn.devices import sweep  # lazy: whatever\n",
    "def f():\n    from . import models\n",
    "def f():\n    import json\n",
    "def f():\n    if True:\n        import numba  # no reason\n",
])
def test_local_import_checker_catches(code):
    assert list(local_import_offences(Path("x.py"), code))


@pytest.mark.parametrize("code", [
    "import json\nimport torch\n",
    "def f():\n    import torch  # lazy: startup\n",
    "def f():\n    from spinsyn.study import run  # lazy: startup\n",
    "def f():\n    import nir  # lazy: optional\n",
    "def f():\n    from .models import (  # lazy: startup\n        a,\n        b,\n    )\n",
])
def test_local_import_checker_passes(code):
    assert not list(local_import_offences(Path("x.py"), code))


def test_graph_resolves_relative_and_local_imports():
    graph = import_graph()
    # function-local and relative imports are edges, too (every module of the package is in the graph)
    assert "spinsyn.study" in graph and "spinsyn.devices.sweep" in graph
    assert layer_of("spinsyn.study.runner") > layer_of("spinsyn.report.html") > layer_of("spinsyn.devices.sweep")
    assert layer_of("spinsyn.parallel") == 0
