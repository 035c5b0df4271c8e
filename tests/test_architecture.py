"""The package's layers (docs/architecture.md): no import circle, no upward or sideways import.

The imports are read from the sources with ``ast``: every ``import`` and ``from ... import``,
relative or absolute, at the top of a module, inside a function or under ``TYPE_CHECKING``.
A unit is a subpackage of ``headlens`` or one of its top-level modules (``config``, ``pipeline``,
...); ``headlens`` is the package's own ``__init__``.
"""

from __future__ import annotations

import ast
import os
import re

SRC = os.path.join(os.path.dirname(__file__), "..", "src")
PACKAGE = os.path.join(SRC, "headlens")
DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "architecture.md")
ROOT = "headlens"

# imports inside a function allowed to point upward, each with its reason: (from unit, to unit) -> reason
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
MODEL_LIBRARIES = ("torch", "transformers")
# units that must not import torch or transformers when imported (inside a function they may)
TORCH_FREE = ("errors", "lazy", "version", "heads", "accumulate", "stats", "corpus", "annotate", "align", "store", "metrics",
              "analyses", "report", "config", "cli", ROOT)


def layers_from_doc(path: str = DOC) -> dict[str, int]:
    """unit -> layer, from the ``layer | units | what`` table of docs/architecture.md."""
    text = open(path, encoding="utf-8").read()
    block = re.search(r"```text\nlayer \| units.*?\n(.*?)```", text, re.S)
    assert block, f"{path}: no ```text block starting with 'layer | units'"
    out: dict[str, int] = {}
    for line in block.group(1).splitlines():
        layer, units, _ = (part.strip() for part in line.split("|"))
        for unit in units.split():
            assert unit not in out, f"{path}: {unit} is in two layers"
            out[unit] = int(layer)
    return out


def module_name(path: str) -> str:
    rel = os.path.relpath(path, SRC)[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _exists(module: str) -> bool:
    path = os.path.join(SRC, *module.split("."))
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def _context(tree: ast.Module) -> dict[ast.AST, str]:
    """'function' or 'type-checking' for the import nodes nested in one, else absent ('top')."""
    where: dict[ast.AST, str] = {}

    def visit(node: ast.AST, ctx: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            c = ctx
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                c = "function"
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                c = ctx or "type-checking"
            if isinstance(child, (ast.Import, ast.ImportFrom)) and c:
                where[child] = c
            visit(child, c)

    visit(tree, None)
    return where


def imports_of(path: str) -> list[tuple[str, int, str]]:
    """(imported module, line, 'top' | 'function' | 'type-checking') of every import in ``path``;
    ``from P import x`` names P.x when x is a module, else P."""
    module = module_name(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    where = _context(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if _exists(f"{origin}.{a.name}") else origin for a in node.names]
        else:
            continue
        out += [(t, node.lineno, where.get(node, "top")) for t in targets]
    return out


def source_files() -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(PACKAGE) for f in files if f.endswith(".py"))


def unit_graph() -> dict[tuple[str, str], list[str]]:
    """(from unit, to unit) -> where: 'file:line (context)' of each import between two units."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in source_files():
        src = unit_of(module_name(path))
        for target, line, ctx in imports_of(path):
            if target == ROOT or target.startswith(ROOT + "."):
                dst = unit_of(target)
                if dst != src:
                    edges.setdefault((src, dst), []).append(f"{os.path.relpath(path, SRC)}:{line} ({ctx})")
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_checks_see_a_planted_circle_and_resolve_relative_imports():
    assert cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]
    assert cycles({("a", "b"): [], ("b", "c"): []}) == []
    found = {t for t, _, _ in imports_of(os.path.join(PACKAGE, "pipeline.py"))}
    assert {"headlens.store.catalog", "headlens.analyses.registry", "torch"} <= found
    cli = {t for t, _, _ in imports_of(os.path.join(PACKAGE, "cli", "__init__.py"))}
    assert {"headlens.cli.compare_models", "headlens.cli.report"} <= cli  # `from . import compare_models, ...`
    roles = {(t, ctx) for t, _, ctx in imports_of(os.path.join(PACKAGE, "analyses", "roles", "cli.py"))}
    assert ("headlens.analyses.roles.stats", "function") in roles  # `from .stats import ...` inside _cmd


def test_every_unit_has_a_layer():
    layers = layers_from_doc()
    units = {unit_of(module_name(p)) for p in source_files()}
    missing = sorted(units - set(layers))
    assert not missing, f"units without a layer: {missing}; place them in the table of docs/architecture.md"
    stale = sorted(set(layers) - units)
    assert not stale, f"docs/architecture.md places units that do not exist: {stale}"


def test_no_import_circle():
    found = cycles(unit_graph())
    assert not found, f"import circles between units: {found}"


def test_every_import_points_down():
    layers = layers_from_doc()
    edges = unit_graph()
    bad = []
    for (src, dst), where in sorted(edges.items()):
        if layers[dst] < layers[src]:
            continue
        kept = [w for w in where if not (w.endswith("(function)") and (src, dst) in ALLOWED_UPWARD)]
        if kept:
            bad.append(f"{src} (layer {layers[src]}) imports {dst} (layer {layers[dst]}) at {', '.join(kept)}")
    assert not bad, "imports that do not point down (docs/architecture.md):\n" + "\n".join(bad)


def test_the_upper_layer_does_not_import_torch_when_imported():
    bad = []
    for path in source_files():
        if unit_of(module_name(path)) not in TORCH_FREE:
            continue
        for target, line, ctx in imports_of(path):
            if target.split(".")[0] in MODEL_LIBRARIES and ctx == "top":
                bad.append(f"{os.path.relpath(path, SRC)}:{line} imports {target}")
    assert not bad, ("torch-free units import a model library at the top of a module; import it inside the function "
                     "that needs it, or use headlens.lazy:\n" + "\n".join(bad))
