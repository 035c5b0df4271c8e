"""The upper layer imports neither torch nor transformers (docs/architecture.md), checked in fresh processes.

The commands run under ``-X importtime``, which lists every module the process imported (even one
dropped from ``sys.modules`` later); none may be torch or transformers. They share one fresh
interpreter (an interpreter start and the CLI's imports cost a second or two each): it imports the
upper layer, then runs the commands one after another, writing a marker to stderr before each, so
that each import line is charged to the step that made it. A step that imported a model library
fails its test, and since every step is checked, no step ran after one that did: each command
started in a process holding no model library, as in a process of its own. Its last step imports
the model side, which shows that the probe sees a model library when one is imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from report_runs import write_corpus

import headlens

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))
MODEL_LIBRARIES = ("torch", "transformers")
# a line of -X importtime: the module's name after the two timings
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", re.M)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p), **extra)
    env.pop("PYTHONWARNINGS", None)
    return env


def imported(argv: list[str], cwd: str | None = None, **env: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime ARGV`` in a fresh process: (the process, the top-level names of what it imported)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, cwd=cwd,
                          env=_env(**env), timeout=300)
    names = {m.group(1).split(".")[0] for m in IMPORT_LINE.finditer(proc.stderr)}
    assert names, f"no -X importtime lines in the stderr of {argv}: {proc.stderr[-2000:]}"
    return proc, names


UPPER = ("import headlens, headlens.report, headlens.stats, headlens.store, headlens.cli; "
         "import headlens.config, headlens.store.catalog, headlens.analyses, headlens.metrics; "
         "headlens.RunConfig(); headlens.available_metrics()")
MARK = "### headlens-step "
# the child: one step per command (the upper layer first, the model side last), each marked on stderr;
# what each printed and returned goes to the JSON file named by its first argument
CHILD = f"""
import contextlib, io, json, sys, traceback
out, steps, results = sys.argv[1], json.loads(sys.argv[2]), {{}}
def step(name):
    sys.stderr.flush(); sys.stderr.write({MARK!r} + name + "\\n"); sys.stderr.flush()
step("upper layer")
{UPPER}
from headlens.cli import main
results["upper layer"] = {{"rc": 0, "stdout": "", "modules": sorted(m for m in sys.modules if m.split('.')[0] in {MODEL_LIBRARIES!r})}}
for name, argv in steps.items():
    step(name)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code or 0
        except Exception:
            rc = traceback.format_exc()
    results[name] = {{"rc": rc, "stdout": buf.getvalue(), "argv": argv}}
step("model side")
import headlens.pipeline
results["model side"] = {{"rc": 0, "stdout": ""}}
with open(out, "w", encoding="utf-8") as fh:
    json.dump(results, fh)
"""


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


@pytest.fixture(scope="module")
def steps(stored) -> dict[str, dict]:
    """Each step of the child: its exit status, what it printed, and the top-level names it imported."""
    out = os.path.join(stored["tmp"], "steps.json")
    argv = {name: COMMANDS[name](stored) for name in COMMANDS}
    proc, _ = imported(["-c", CHILD, out, json.dumps(argv)], cwd=stored["tmp"], HEADLENS_RUNS=stored["root"])
    assert proc.returncode == 0 and os.path.exists(out), proc.stderr[-3000:]
    with open(out, encoding="utf-8") as fh:
        results = json.load(fh)
    chunks = proc.stderr.split(MARK)[1:]
    assert [c.split("\n", 1)[0] for c in chunks] == ["upper layer", *COMMANDS, "model side"]
    for chunk in chunks:
        name, lines = chunk.split("\n", 1)
        results[name]["imported"] = {m.group(1).split(".")[0] for m in IMPORT_LINE.finditer(lines)}
        results[name]["stderr"] = lines[-3000:]
    return results


def test_importing_the_upper_layer_imports_no_model_library(steps):
    upper = steps["upper layer"]
    assert upper["imported"], "no -X importtime lines for the upper layer's imports"
    assert not upper["imported"] & set(MODEL_LIBRARIES) and not upper["modules"], upper["modules"][:5]


def test_the_probe_sees_torch_when_a_model_path_is_imported(steps):
    # the probe sees torch imported: by the model side's step, or by an earlier step (which fails its own test)
    assert any("torch" in step["imported"] for step in steps.values())


@pytest.mark.parametrize("command", list(COMMANDS))
def test_commands_that_need_no_model_import_no_model_library(steps, command):
    step, argv = steps[command], steps[command]["argv"]
    assert step["rc"] == 0, f"headlens {' '.join(argv)}: {step['stdout'][-1000:]}\n{step['stderr']}"
    names = step["imported"] & set(MODEL_LIBRARIES)
    assert not names, f"headlens {' '.join(argv)} imported {sorted(names)}"
    if command == "report":
        assert "3 head-view sentences" in step["stdout"]  # the maps a run stores by default
    if command == "runs list":
        assert "a" in step["stdout"].split() and "b" in step["stdout"].split()


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
