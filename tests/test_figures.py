"""Publication figures: one file per view in SVG, PNG and PDF, each readable, with the expected panels."""

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from report_runs import HEADS, LAYERS, report_runs

from headlens.cli import main
from headlens.report import build
from headlens.render.plot import COLUMN, STYLE, Writer, heatmap
from headlens.report.figures import draw_all

METRICS = ["prev", "cls", "cat_pref"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    runs = report_runs(tmp_path_factory)
    data = build(runs["after"], sentence_ids=["0", "1"])
    # two random models differ in every metric: the comparison draws one heatmap per changed metric (25,
    # half the drawing time), all by the same code. Two changed metrics and an unchanged one (if any) show
    # "one file per changed metric" as well; the CLI test below draws the whole comparison.
    compare = data["sections"]["compare"][0]["view"]
    changed = [m for m in compare["metrics"] if compare["per_metric"][m]["changed"]]
    if len(changed) < 2:
        # two tiny random models: their attention is near uniform, so few or no changes pass the default
        # margins (analyses/compare/margins.py). The figures draw whatever heads the view flags, so flag the
        # five largest deltas of the two metrics that moved most.
        def size(m):
            return float(np.nanmax(np.abs(np.asarray(compare["per_metric"][m]["delta"], dtype=float))))
        for m in sorted((m for m in compare["metrics"] if m not in changed), key=size, reverse=True)[:2 - len(changed)]:
            delta = np.abs(np.asarray(compare["per_metric"][m]["delta"], dtype=float))
            compare["per_metric"][m]["changed"] = {int(k): "changed" for k in np.argsort(-np.nan_to_num(delta))[:5]}
            changed.append(m)
    assert len(changed) >= 2
    compare["metrics"] = changed[:2] + [m for m in compare["metrics"] if m not in changed][:1]
    return data


@pytest.fixture(scope="module")
def svg_files(data, tmp_path_factory):
    """Every view drawn once as SVG, read by the two tests below that check SVG files."""
    return draw_all(data, str(tmp_path_factory.mktemp("svg")), "svg", dpi=150, metrics=_metrics(data), heads=[(0, 0), (2, 3)])


def _metrics(data) -> list[str]:
    """METRICS, the compared ones and dep_all_*: --metrics applies to the comparison and syntax figures too."""
    compared = data["sections"]["compare"][0]["view"]["metrics"]
    return METRICS + [m for m in compared if m not in METRICS] + ["dep_all_d2h", "dep_all_h2d"]


def _expected(data) -> dict[str, int]:
    """view name prefix -> panels, from the data the figures are drawn from."""
    compare = data["sections"]["compare"][0]["view"]
    changed = [m for m in compare["metrics"] if compare["per_metric"][m]["changed"]] or compare["metrics"][:1]
    out = {f"heads {m}": 1 for m in _metrics(data)}
    out.update({f"head view sentence {s} L1H1": 1 for s in (0, 1)})
    out.update({f"head view sentence {s} L3H4": 1 for s in (0, 1)})
    out.update({"roles default": 2, "syntax default": 1, "cluster default": 1, "categories default": LAYERS,
                "pattern types": 1, "mixing default": 1})
    out.update({f"compare vs-base {m}": 1 for m in changed})
    out.update({f"ablation sweep mode=mean, metric={m}": 1 for m in ("accuracy", "f1")})
    return out


def _svg_panels(path: str) -> int:
    root = ET.parse(path).getroot()  # parses: the file is well-formed XML
    assert root.tag.endswith("svg")
    return sum(1 for g in root.iter() if g.tag.endswith("g") and (g.get("id") or "").startswith("panel-"))


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_one_file_per_view_that_opens_with_its_panels(data, svg_files, tmp_path, monkeypatch, fmt):
    # the PDFs of the whole set keep their text as Type 3 glyphs: the style's TrueType (Type 42) fonts are
    # subset by fontTools for each file, a third of the set's PDF time; test_pdf_fonts_are_embedded_as_truetype
    # checks the style's fonts on one figure
    monkeypatch.setitem(STYLE, "pdf.fonttype", 3)
    files = svg_files if fmt == "svg" else draw_all(data, str(tmp_path), fmt, dpi=150, metrics=_metrics(data), heads=[(0, 0), (2, 3)])
    expected = _expected(data)
    assert {f.view: f.panels for f in files} == expected
    assert len({f.path for f in files}) == len(files)
    for f in files:
        assert os.path.exists(f.path) and f.path.endswith("." + fmt)
        if fmt == "svg":
            assert _svg_panels(f.path) == f.panels
        elif fmt == "png":
            with Image.open(f.path) as im:
                im.load()
                assert im.format == "PNG" and im.size[0] >= 3.4 * 150 - 2  # a paper column at the asked dpi
        else:
            with open(f.path, "rb") as fh:
                raw = fh.read()
            assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF") and raw.count(b"/Type /Page\n") + raw.count(b"/Type /Page ") + raw.count(b"/Type/Page") >= 1


def test_pdf_fonts_are_embedded_as_truetype(tmp_path):
    """The figures' style embeds its fonts as TrueType (Type 42, a journal's usual demand), not as Type 3."""
    from matplotlib import rc_context

    with rc_context(STYLE):
        writer = Writer(str(tmp_path), "pdf", dpi=150)
        fig = writer.figure(COLUMN, 2.0)
        heatmap(fig, fig.add_subplot(), np.arange(12.0).reshape(3, 4), "a title", marks=[5])
        writer.save(fig, "one", "one view")
    raw = open(writer.files[0].path, "rb").read()
    assert b"/FontFile2" in raw and b"/Type3" not in raw.replace(b" ", b"")


def test_heatmap_figures_circle_the_marked_heads(svg_files):
    heat = next(f for f in svg_files if f.view == "heads prev")
    assert _svg_panels(heat.path) == 1
    ablation = [f for f in svg_files if f.view.startswith("ablation")][0]
    text = open(ablation.path, encoding="utf-8").read()
    assert text.count('id="line2d_') >= 2  # the two decided heads of the sweep are circled


def test_cli_figures_and_its_refusals(tmp_path, tmp_path_factory, capsys):
    runs = report_runs(tmp_path_factory)
    out = str(tmp_path / "figs")
    assert main(["figures", runs["after"].path, "--format", "png", "--out", out, "--metrics", "prev,entropy",
                 "--sentences", "1", "--heads", "L2H3", "--dpi", "100"]) == 0
    printed = capsys.readouterr().out
    assert "heads-prev.png" in printed and "headview-s0-L2H3.png" in printed
    assert os.path.exists(os.path.join(out, "heads-entropy.png"))
    assert main(["figures", runs["after"].path, "--out", out, "--metrics", "nope", "--sentences", "0"]) == 2
    assert "not in this run" in capsys.readouterr().err
    assert main(["figures", runs["after"].path, "--out", out, "--heads", "0-1", "--sentences", "0"]) == 2
    assert "not read (1-based or 0-based?)" in capsys.readouterr().err
    assert main(["figures", runs["after"].path, "--out", out, "--heads", "1:0", "--sentences", "0"]) == 2
    assert "old 0-based LAYER:HEAD form" in capsys.readouterr().err
    assert main(["figures", runs["after"].path, "--out", out, "--heads", f"L{LAYERS + 1}H1", "--sentences", "1",
                 "--metrics", "prev"]) == 2
    assert "outside" in capsys.readouterr().err
    assert HEADS == 12
