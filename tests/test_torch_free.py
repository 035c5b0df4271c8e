"""The upper layer imports neither torch nor transformers (docs/architecture.md), checked in fresh processes.

Each command runs in a new interpreter under ``-X importtime``, which lists every module the
process imported (even one dropped from ``sys.modules`` later); none may be torch or transformers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from report_runs import write_corpus

import headlens

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))
MODEL_LIBRARIES = ("torch", "transformers")
# the CLI's entry point (the ``headlens`` script) with the arguments that follow -c
HEADLENS = "import sys; from headlens.cli import main; sys.exit(main())"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p), **extra)
    env.pop("PYTHONWARNINGS", None)
    return env


def imported(argv: list[str], cwd: str | None = None, **env: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime ARGV`` in a fresh process: (the process, the top-level names of what it imported)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, cwd=cwd,
                          env=_env(**env), timeout=300)
    names = {m.group(1).split(".")[0] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr, re.M)}
    assert names, f"no -X importtime lines in the stderr of {argv}: {proc.stderr[-2000:]}"
    return proc, names


def test_importing_the_upper_layer_imports_no_model_library():
    code = ("import headlens, headlens.report, headlens.stats, headlens.store, headlens.cli; import sys; "
            "import headlens.config, headlens.store.catalog, headlens.analyses, headlens.metrics; "
            "headlens.RunConfig(); headlens.available_metrics(); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))[:5]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_probe_sees_torch_when_a_model_path_is_imported():
    proc, names = imported(["-c", "import headlens.pipeline"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torch" in names  # the probe sees an import of the model side


@pytest.fixture(scope="module")
def stored(tmp_path_factory, tiny_bert_dir) -> dict[str, str]:
    """A runs root with two small runs of a tiny BERT (surface, roles, syntax, categories)."""
    root = tmp_path_factory.mktemp("torch-free")
    corpus = write_corpus(str(root / "corpus.conllu"), n=6)
    runs = root / "runs"
    for name in ("a", "b"):
        headlens.run(out=str(runs / name), model=tiny_bert_dir, corpus=corpus, progress=False,
                     analyses=("surface", "roles", "syntax", "categories"))
    return {"root": str(runs), "a": str(runs / "a"), "b": str(runs / "b"), "tmp": str(root)}


COMMANDS = {
    "--help": lambda s: ["--help"],
    "metrics": lambda s: ["metrics"],
    "runs list": lambda s: ["runs", "list"],
    "runs show": lambda s: ["runs", "show", s["a"]],
    "sql": lambda s: ["sql", "select 1"],
    "report": lambda s: ["report", s["a"], "--out", os.path.join(s["tmp"], "r.html")],
    "figures": lambda s: ["figures", s["a"], "--out", os.path.join(s["tmp"], "figs"), "--format", "svg",
                          "--metrics", "prev", "--sentences", "1"],
    "roles": lambda s: ["roles", s["a"]],
    "syntax": lambda s: ["syntax", s["a"]],
    "categories": lambda s: ["categories", s["a"], s["b"]],
    "compare": lambda s: ["compare", s["a"], s["b"], "--min-n", "2"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_commands_that_need_no_model_import_no_model_library(stored, command):
    argv = COMMANDS[command](stored)
    proc, names = imported(["-c", HEADLENS, *argv], cwd=stored["tmp"], HEADLENS_RUNS=stored["root"])
    assert proc.returncode == 0, f"headlens {' '.join(argv)}: {proc.stdout[-1000:]}\n{proc.stderr[-3000:]}"
    assert not names & set(MODEL_LIBRARIES), f"headlens {' '.join(argv)} imported {sorted(names & set(MODEL_LIBRARIES))}"
    if command == "report":
        assert "3 head-view sentences" in proc.stdout  # the maps a run stores by default
    if command == "runs list":
        assert "a" in proc.stdout.split() and "b" in proc.stdout.split()


def test_a_lazy_module_is_imported_on_first_use_and_then_is_the_module():
    code = "\n".join([
        "import sys",
        "from headlens.lazy import lazy_module",
        "m = lazy_module('colorsys')",
        "assert 'colorsys' not in sys.modules and 'not imported' in repr(m)",
        "assert not hasattr(m, '__wrapped__') and 'colorsys' not in sys.modules  # probes by tools import nothing",
        "assert m.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0) and 'colorsys' in sys.modules",
        "import colorsys",
        "assert m.rgb_to_hsv is colorsys.rgb_to_hsv and 'rgb_to_hsv' in vars(m) and lazy_module('colorsys') is m",
    ])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
