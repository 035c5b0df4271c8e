"""The run-directory layout is spelled in one place: ``store/layout.py``.

Every other module of ``src/headlens`` asks it for paths. The scan reads each module with ``ast``
and looks at its string constants (f-string pieces included, docstrings and the CLI's help texts left out): none may
spell a file name of the run directory, and no path is joined from a literal run-store folder.
"""

from __future__ import annotations

import ast
import os
import re

from headlens.store import layout

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "src", "headlens")
LAYOUT = os.path.join("store", "layout.py")
# the file names of a run directory and a runs root, and the part and maps name patterns
NAMES = re.compile(r"manifest\.json|progress\.json|heads\.parquet|params\.json|catalog\.duckdb|headlens\.lock|report\.html"
                   r"|(^|/)part-(\d|N\b|$)|\bsentence-(\d|<|$)|(^|/)(maps|collect|scores|sentences|plan)/")
FOLDERS = {layout.SCORES, layout.SENTENCES, layout.PLAN, layout.COLLECT, layout.MAPS}
PATH_CALLS = {"join", "makedirs", "isdir", "exists", "listdir", "dataset", "part_path", "_part_path", "_files"}
ALLOWED: dict[str, str] = {}  # "relative/path.py:line" -> why it may spell a name


def _skipped(tree: ast.Module) -> set[int]:
    """The docstrings, and the help texts of command-line options (the CLI is built without
    importing the store, so its help may name a file)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg == "help":
            out |= {id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return out


def spelled(path: str) -> list[str]:
    """'file:line: text' of every layout name ``path`` spells itself."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    skip = _skipped(tree)
    rel = os.path.relpath(path, PACKAGE)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if NAMES.search(node.value):
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in PATH_CALLS:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and arg.value in FOLDERS:
                        found.append(f"{rel}:{node.lineno}: {name}(... {arg.value!r} ...)")
    return [f for f in found if f.rsplit(":", 1)[0] not in ALLOWED]


def modules() -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(PACKAGE) for f in files
                  if f.endswith(".py") and os.path.relpath(os.path.join(d, f), PACKAGE) != LAYOUT)


def test_only_layout_spells_the_run_directory():
    found = [hit for path in modules() for hit in spelled(path)]
    assert not found, "spell these through headlens.store.layout:\n" + "\n".join(found)


def test_the_scan_finds_names(tmp_path):
    """The scan is not blind: it finds a file name, a part name, a maps name and a joined folder."""
    src = tmp_path / "m.py"
    src.write_text('"""manifest.json in a docstring is fine."""\nimport os\nadd_argument("--x", help="params.json")\n'
                   'A = "manifest.json"\nB = f"part-{1:05d}.parquet"\nC = f"maps/sentence-{2}.npz"\n'
                   'D = os.path.join("run", "maps")\n', encoding="utf-8")
    hits = spelled(str(src))
    assert sorted(int(h.split(":")[1]) for h in hits) == [4, 5, 6, 7], hits


def test_layout_paths(tmp_path):
    run = str(tmp_path)
    assert layout.part_file(layout.SCORES, 3) == "scores/part-00003.parquet"
    assert layout.part_file(layout.PLAN, 0) == "plan/part-00000.json"
    assert layout.collect_file("syntax", 12) == "collect/syntax/part-00012.npz"
    assert layout.part_number("collect/syntax/part-00012.npz") == 12 and layout.part_number("heads.parquet") is None
    assert layout.map_file(layout.map_name(4)) == "maps/sentence-4.npz"
    assert layout.map_name(4, window=1) == "sentence-4-window-1"
    assert layout.map_name(4, kind="decomposition") == "sentence-4-decomposition"
    assert [layout.map_sentence(f) for f in ("sentence-4.npz", "sentence-4-window-1.npz", "sentence-4.npz.tmp-1")] == [4, None, None]
    assert layout.join(run, "scores/part-00000.parquet") == os.path.join(run, "scores", "part-00000.parquet")
    assert layout.output_dir("roles") == "roles/default"
    assert layout.table_name(layout.table_file("heads")) == "heads" and layout.table_name(layout.PARAMS) is None
    os.makedirs(os.path.join(run, layout.MAPS))
    for f in ("sentence-1.npz", "sentence-0.npz", "sentence-2.npz.tmp-7", ".hidden"):
        open(os.path.join(run, layout.MAPS, f), "w").close()
    assert layout.map_files(run) == ["maps/sentence-0.npz", "maps/sentence-1.npz"]
