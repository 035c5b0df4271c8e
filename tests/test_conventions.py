"""docs/conventions.md, checked: one run's CLI output, report data, SQL views and figure labels write
heads as L3H7 (1-based), proportions as fractions, tiny p/q as "< 1e-300"; and each piece alone."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from report_runs import HEADS, LAYERS, report_runs

from headlens.cli import main
from headlens.errors import ConfigError
from headlens.heads import head_index, head_label, layer_label, parse_head, parse_heads, parse_layer
from headlens.units import format_fraction, format_p

LABEL = re.compile(r"^L\d+H\d+$")
# a head written any other way: L3-H7, or a bare 3-7 (not inside a date or a longer range)
OLD_LABEL = re.compile(r"\bL\d+-H\d+\b|(?<![\d\-./:])\d{1,2}-\d{1,2}(?![\d\-./:])")
PERCENT = re.compile(r"\d(\.\d+)?\s*%(?! CI)")  # a percentage that is not a confidence level
ZERO_P = re.compile(r"\b[pq]\s*=?\s*0(\.0+)?(?![\d.e])")
REPORT_JS = os.path.join(os.path.dirname(__file__), "..", "src", "headlens", "report", "assets", "report.js")


# ------------------------------------------------------------------ the pieces
def test_head_labels_are_1_based_and_parse_back():
    assert head_label(2, 6) == "L3H7" and layer_label(2) == "L3"
    for text in ("L3H7", "l3h7", "L3-H7", " L3H7 "):
        assert parse_head(text) == (2, 6)
    assert parse_heads("L1H4,L6H12,L1H4", 6, 12) == [(0, 3), (5, 11)]
    assert parse_layer("L4", 6) == 3


@pytest.mark.parametrize("text,says", [
    ("2:6", "old 0-based LAYER:HEAD form, no longer read; write the 1-based label L3H7"),
    ("3-7", "1-based or 0-based?); write the label L3H7"),
    ("L0H1", "does not exist"), ("L7H1", "does not exist (this model has L1-L6, H1-H12)"),
    ("head3", "is not a head label such as L3H7")])
def test_other_head_forms_are_refused_naming_the_label(text, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_head(text, 6, 12, where="--heads")


def test_a_bare_layer_number_is_refused_naming_both_readings():
    with pytest.raises(ConfigError, match="write L4 for the 0-based layer 3, L3 for the 1-based one"):
        parse_layer("3", 6, "--layers")


def test_p_values_below_1e_300_are_never_0():
    assert [format_p(x) for x in (0.0, 5e-324, 1e-301, 1e-300, 0.0123, 1.0)] == [
        "< 1e-300", "< 1e-300", "< 1e-300", "1e-300", "0.012", "1"]
    assert format_p(None) == format_p(float("nan")) == "n/a"
    assert format_fraction(0.4123) == "0.412" and format_fraction(-0.012, signed=True) == "-0.012"


def _node_fmt_p(values):
    source = open(REPORT_JS, encoding="utf-8").read()
    fn = re.search(r"function fmtP\(v\) \{.*?\n  \}", source, re.S).group(0)
    script = f"{fn}\nconsole.log(JSON.stringify({json.dumps(values)}.map(fmtP)));"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_report_formats_p_like_python():
    values = [0.0, 5e-324, 1e-301, 1e-300, 0.0123, 0.5, 1.0]
    assert _node_fmt_p(values) == [format_p(v) for v in values]


def test_significance_marks_are_a_black_ring_on_a_white_one():
    from matplotlib.figure import Figure

    from headlens.render.plot import heatmap

    fig = Figure()
    ax = fig.add_subplot()
    heatmap(fig, ax, np.zeros((2, 3)), "t", marks=[4])  # L2H2
    rings = [(tuple(line.get_xydata()[0]), line.get_markeredgecolor()) for line in ax.lines]
    assert rings == [((1.0, 1.0), "white"), ((1.0, 1.0), "black")]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L1", "L2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["H1", "H2", "H3"]


def _overlaps(fig, texts) -> int:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_placed_labels_never_overlap_where_plain_ones_do():
    from matplotlib.figure import Figure

    from headlens.render.plot import place_labels

    xy = np.random.default_rng(0).normal(size=(144, 2))
    labels = [head_label(k // 12, k % 12) for k in range(144)]
    plain = Figure(figsize=(3.4, 3.4))
    ax = plain.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1])
    texts = [ax.annotate(t, p, fontsize=4, xytext=(2, 1), textcoords="offset points") for p, t in zip(xy, labels)]
    assert _overlaps(plain, texts) > 20  # the old way: labels on labels
    fig = Figure(figsize=(3.4, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1])
    placed = place_labels(fig, ax, xy, labels)
    texts = [t for t in ax.texts if (t.get_gid() or "").startswith("point-label")]
    assert len(texts) == placed > 100 and _overlaps(fig, texts) == 0


# ------------------------------------------------------------------ one run, everywhere
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A copy of the report tests' run (surface, roles, syntax, cluster, categories, decomposition, a
    planted ablation sweep with an underflowed q), registered in a catalog of its own."""
    from headlens.store import open_run
    from headlens.store.catalog import Catalog

    root = tmp_path_factory.mktemp("conventions")
    path = str(root / "run")
    shutil.copytree(report_runs(tmp_path_factory)["after"].path, path)
    Catalog(str(root)).register(path)
    return open_run(path)


@pytest.fixture(scope="module")
def data(run):
    from headlens.report import build

    return build(run, sentence_ids=["0"])


def _check_text(text: str, where: str) -> None:
    assert not OLD_LABEL.search(text), f"{where}: a head not written L3H7: {OLD_LABEL.search(text).group(0)!r}"
    assert not PERCENT.search(text), f"{where}: a percentage: {PERCENT.search(text).group(0)!r}"
    assert not ZERO_P.search(text), f"{where}: a p/q of 0: {ZERO_P.search(text).group(0)!r}"


def test_cli_output_follows_the_conventions(run, capsys):
    for args in (["runs", "show", run.path], ["roles", run.path], ["syntax", run.path], ["cluster", run.path]):
        assert main(args) == 0
        out = capsys.readouterr().out
        _check_text(out, " ".join(args[:2]))
        assert args[0] == "roles" or re.search(r"\bL\d+H\d+\b", out), f"{args[0]} printed no head label"
    assert main(["runs", "show", run.path, "--top", "2"]) == 0
    dep = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("dep_") and len(line.split()) > 1]
    assert dep and all(re.search(r"L\d+H\d+ [01]\.\d{3} \(\d+/\d+\)", line) for line in dep)  # accuracy (hits/arcs)


def test_the_ablation_table_prints_tiny_q_and_its_flags(run):
    from headlens.analyses.ablation.cli import print_summary
    from headlens.store.outputs import read_outputs

    tables, _ = read_outputs(run, "ablation", "sweep")
    rows = [{**r, "kind": r["kind"]} for r in tables["ablations"].to_pylist() if r["metric"] == "accuracy"]
    params = {"n": 500, "ablations": rows, "mode": "mean", "base_scores": {"accuracy": 0.9, "f1": 0.9, "mcc": 0.8},
              "detectable": {"accuracy_change": 0.024, "accuracy_changed_predictions": 12}, "num_heads": HEADS,
              "families": {"accuracy": {"method": "fdr_bh", "size": len(rows), "alpha": 0.05}}}
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_summary(SimpleNamespace(params=params, table=pa.Table.from_pylist(rows)))
    out = buf.getvalue()
    _check_text(out, "ablate")
    assert re.search(r"L1H6 .*q < 1e-300", out)  # the planted q of 0
    assert re.search(r"L2 .*underpowered", out)  # the flag beside the test
    assert "points" not in out and "0.024" in out


def test_report_data_follows_the_conventions(data):
    for t in data["tables"]:
        cols = dict(zip(t["columns"], t["data"]))
        if "label" in cols and "head" in cols:
            labels = cols["label"]["dict"] if isinstance(cols["label"], dict) else cols["label"]
            assert all(LABEL.match(x) or re.fullmatch(r"L\d+", x) for x in labels if x), t["table"]
    dep = [m for m in data["values"] if m.startswith("dep_") and any(x is not None for x in data["values"][m]["mean"])]
    assert dep
    for m in dep:
        v = data["values"][m]
        assert v["stat"] == "accuracy" and all(0 <= x <= 1 for x in v["mean"] if x is not None)
        assert all(a is None or (h <= a) for h, a in zip(v["hits"], v["arcs"]))
    for r in data["sections"]["syntax"][0]["view"]["best"]:
        assert 0 <= r["accuracy"] <= 1
    panel = data["sections"]["ablation"][0]["view"]["panels"][0]
    assert panel["underpowered"][6] and not panel["underpowered"][5]  # the flag reaches the report
    assert [r[-1] for r in panel["other"]][1] == "underpowered" and panel["other"][0][0] == "L1, all heads"
    assert "task-agnostic" not in json.dumps(data["sections"].get("categories", []))


def test_dep_accuracy_in_the_report_is_the_syntax_analysis_accuracy(run, data):
    from headlens.store.outputs import read_outputs

    tables, _ = read_outputs(run, "syntax")
    rows = [r for r in tables["heads"].to_pylist() if r["relation"] == "all"]
    assert rows
    for r in rows:
        v = data["values"][f"dep_all_{r['direction']}"]
        k = head_index(r["layer"], r["head"], HEADS)
        assert (v["hits"][k], v["arcs"][k]) == (r["hits"], r["arcs"])
        assert v["mean"][k] == pytest.approx(r["accuracy"], abs=1e-3)


def test_sql_views_label_heads_from_the_0_based_columns(run):
    from headlens.store.catalog import Catalog

    catalog = Catalog(os.path.dirname(run.path))
    for view in ("heads", "scores"):
        _, rows = catalog.sql(f"SELECT DISTINCT layer, head, label FROM {view}")
        assert len(rows) == LAYERS * HEADS
        assert all(label == f"L{layer + 1}H{head + 1}" for layer, head, label in rows)


def _svg_texts(path: str) -> str:
    root = ET.parse(path).getroot()
    return " ".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))


@contextlib.contextmanager
def _unrendered():
    """Figures are built (every axis, text and label placed) but written as empty files: for the tests
    that count which views are drawn. "every" below renders each kind of view, and tests/test_figures.py
    renders every view in each format; rendering these again took two thirds of this module's time."""
    from matplotlib.figure import Figure

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", lambda fig, path, **kw: open(path, "wb").close())
        yield


@pytest.fixture(scope="module")
def figures(data, tmp_path_factory):
    """Every figure (--all) of six metrics (every metric: a minute more, the same code), rendered; the
    curated set (the default) and the figures of one metric, counted (``_unrendered``)."""
    from headlens.report.figures import draw_all

    out = tmp_path_factory.mktemp("figures")
    few = ["cls", "prev", "entropy", "dep_all_d2h", "dep_all_h2d", "cat_pref"]
    every = draw_all(data, str(out / "a"), "svg", dpi=72, heads=["L3H4"], metrics=few)
    with _unrendered():
        return {"every": every, "curated": draw_all(data, str(out / "c"), "svg", dpi=72, curated=True),
                "cls": draw_all(data, str(out / "m"), "svg", dpi=72, metrics=["cls"])}


def test_figure_labels_follow_the_conventions(figures):
    files = figures["every"]
    assert any(f.view.endswith("L3H4") for f in files)
    for f in files:
        _check_text(_svg_texts(f.path) + " " + f.view + " " + os.path.basename(f.path), f.view)


class _Keep:
    """Writer.save that also keeps the figures, by view."""

    def __init__(self):
        self.figures = {}

    def __call__(self, original):
        def save(w, fig, name, view):
            self.figures[view] = fig
            return original(w, fig, name, view)
        return save


def test_cluster_labels_do_not_overlap(data, tmp_path, monkeypatch):
    from headlens.analyses.cluster.figures import draw_cluster
    from headlens.render.plot import Writer

    keep = _Keep()
    monkeypatch.setattr(Writer, "save", keep(Writer.save))
    draw_cluster(Writer(str(tmp_path), "svg", 72), data)
    fig = keep.figures["cluster default"]
    texts = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("point-label")]
    assert texts and all(LABEL.match(t.get_text()) for t in texts)
    assert _overlaps(fig, texts) == 0


def test_figures_default_to_a_curated_set_and_filters_reach_every_kind(figures):
    curated, every = figures["curated"], figures["every"]
    assert 6 <= len(curated) <= 14
    assert sum(f.view.startswith("heads ") for f in curated) == 3 < sum(f.view.startswith("heads ") for f in every)
    assert sum(f.view.startswith("ablation") for f in curated) == 1 < sum(f.view.startswith("ablation") for f in every)
    assert {f.view.split()[0] for f in curated} == {f.view.split()[0] for f in every}  # every kind, fewer of each
    only = figures["cls"]
    compared = [f.view for f in only if f.view.startswith("compare")]
    assert compared == ["compare vs-base cls"] and [f.view for f in only if f.view.startswith("heads")] == ["heads cls"]
    assert not any(f.view.startswith("syntax") for f in only)  # no dep_ metric asked for: no relation to draw


def test_cli_figures_default_and_all(run, figures, tmp_path, capsys):
    """The command draws the curated set by default; --all with --metrics draws every view of those metrics
    (counted, ``_unrendered``: tests/test_figures.py renders through the command)."""
    with _unrendered():
        assert main(["figures", run.path, "--out", str(tmp_path / "c"), "--sentence-ids", "0", "--dpi", "72"]) == 0
        assert int(re.search(r"(\d+) figures in", capsys.readouterr().out).group(1)) == len(figures["curated"])
        assert main(["figures", run.path, "--out", str(tmp_path / "a"), "--sentence-ids", "0", "--all", "--metrics", "cls",
                     "--dpi", "72"]) == 0
    assert int(re.search(r"(\d+) figures in", capsys.readouterr().out).group(1)) == len(figures["cls"])


def test_run_help_lists_analyses_and_metrics(capsys):
    from headlens.analyses.registry import available, run_analyses

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for name in run_analyses():
        assert re.search(rf"^  {name} +\S", out, re.M), name
    for name in list(available())[:5] + ["dep_<rel>_<d2h|h2d>"]:
        assert re.search(rf"^  {re.escape(name)} +\S", out, re.M), name
