"""The report's data and HTML file (no browser): every view of a run, escaping, head-view maps, size, CLI."""

import json
import os
import re
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from report_runs import HEADS, HOSTILE, LAYERS, hostile_ids, report_runs
from test_syntax import _word_attention

from headlens.errors import RunStoreError

from headlens.store.outputs import write_outputs
from headlens.cli import main
from headlens.report import build, render, write_report
from headlens.report.figures import _decode
from headlens.report.html import json_for_script
from headlens.store import open_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return report_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def data(runs):
    return build(runs["after"], sentence_ids=["0", "1", *map(str, hostile_ids(runs["after"]))])


def _embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="headlens-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_every_analysis_of_the_run_has_its_view(data):
    assert set(data["sections"]) == {"roles", "syntax", "cluster", "categories", "compare", "decomposition", "ablation",
                                     "patterns"}
    assert (data["layers"], data["heads"]) == (LAYERS, HEADS)
    roles = data["sections"]["roles"][0]["view"]
    assert {r["role"] for r in roles["roles"]} >= {"local", "delimiter"} and len(roles["per_layer"]["counts"][0]) == LAYERS
    assert roles["ci_method"] == "percentile"  # recorded by the roles step (t interval above boot_max_n sentences)
    assert len(data["sections"]["cluster"][0]["view"]["points"]) == LAYERS * HEADS
    assert len(data["sections"]["categories"][0]["view"]["matrices"]) == LAYERS
    compare = data["sections"]["compare"][0]["view"]
    assert compare["before"]["path"].endswith("base") and "prev" in compare["metrics"]
    assert len(compare["per_metric"]["prev"]["delta"]) == LAYERS * HEADS
    assert sum(compare["verdicts"]["heads"].values()) == LAYERS * HEADS * len(compare["metrics"])
    assert set(compare["per_metric"]["prev"]["verdict"]) <= {"changed", "equivalent", "inconclusive"}
    assert compare["per_metric"]["prev"]["margin"][0] == 0.01 and "margin" in compare["margins"]
    assert data["sections"]["decomposition"][0]["view"]["mixing"]["maps"]
    patterns = data["sections"]["patterns"][0]["view"]
    assert patterns["types"] == ["vertical", "diagonal", "block", "heterogeneous"]
    assert len(patterns["dominant"]) == LAYERS * HEADS
    # every table of every output is listed
    names = {(t["analysis"], t["table"]) for t in data["tables"]}
    assert {("roles", "heads"), ("syntax", "best"), ("cluster", "heads"), ("compare", "heads"),
            ("ablation", "ablations"), ("decomposition", "mixing")} <= names


def test_heatmap_values_are_the_runs_head_means(runs, data):
    heads = pq.read_table(os.path.join(runs["after"].path, "heads.parquet")).to_pylist()
    checked = 0
    for r in heads:
        if r["metric"] in ("prev", "entropy", "word_cls") and r["count"] > 0:
            got = data["values"][r["metric"]]["mean"][r["layer"] * HEADS + r["head"]]
            assert got == pytest.approx(r["mean"], rel=1e-5)
            checked += 1
    assert checked == 3 * LAYERS * HEADS


def test_ablation_panels_mark_the_decided_heads(data):
    view = data["sections"]["ablation"][0]["view"]
    panel = next(p for p in view["panels"] if p["key"] == {"mode": "mean", "metric": "accuracy"})
    assert sorted(int(k) for k in panel["significant"]) == [5, 77]
    assert len(panel["other"]) == LAYERS and panel["other"][0][0] == "L1, all heads"


def test_an_ablation_sweep_written_outside_the_run_is_shown(runs, tmp_path, capsys):
    sweep = str(tmp_path / "sweep")
    shutil.copytree(os.path.join(runs["after"].path, "ablation", "sweep"), sweep)
    out = str(tmp_path / "r.html")
    assert main(["report", runs["base"].path, "--ablation", sweep, "--sentences", "0", "--out", out]) == 0
    page = _embedded(open(out, encoding="utf-8").read())
    panels = page["sections"]["ablation"][0]["view"]["panels"]
    assert page["sections"]["ablation"][0]["source"] == sweep and len(panels) == 2
    assert any(t["analysis"] == "ablation" and t["table"] == "ablations" for t in page["tables"])
    os.remove(os.path.join(sweep, "params.json"))
    assert main(["report", runs["base"].path, "--ablation", sweep, "--sentences", "0", "--out", out]) == 2
    assert "not a finished ablation sweep" in capsys.readouterr().err


def test_a_table_with_q_per_metric_and_head_marks_the_heatmap_and_any_output_is_listed(runs, tmp_path):
    run_dir = str(tmp_path / "run")
    shutil.copytree(runs["after"].path, run_dir)
    run = open_run(run_dir)
    table = pa.table({"metric": ["prev", "prev", "cls"], "layer": [0, 3, 1], "head": [2, 5, 0], "q": [0.01, 0.5, 0.001],
                      "note": ["<b>bold</b>", "x", "y"]})
    write_outputs(run, "mystery", "default", {"cells": table}, {"settings": {"alpha": 0.05}})
    got = build(run, sentences=0)
    marks = {m: [c[0] for s in v for c in s["cells"]] for m, v in got["marks"].items()}
    assert marks == {"prev": [2], "cls": [HEADS]}
    listed = [t for t in got["tables"] if t["analysis"] == "mystery"]
    assert listed and listed[0]["rows"] == 3 and "<b>bold</b>" in listed[0]["data"][listed[0]["columns"].index("note")]
    assert got["head_view"]["sentences"] == []


def test_hostile_text_cannot_leave_the_data_block(runs, data):
    page = render(data)
    assert page.count("<script") == 2  # the JSON block and the page's own script
    assert "window.__pwned" not in page.split('id="headlens-data">')[0]
    block = page.split('id="headlens-data">')[1].split("</script>")[0]
    assert "<" not in block and ">" not in block and "&" not in block
    assert "\\u003cscript\\u003ewindow.__pwned=1\\u003c/script\\u003e" in block
    texts = [s["text"] for s in _embedded(page)["head_view"]["sentences"]]
    assert [t for t in texts if "pwned" in t] == list(HOSTILE)  # decoded back verbatim
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "img-src data:" in csp
    assert json.loads(json_for_script({"t": "</script><!--&\u2028"})) == {"t": "</script><!--&\u2028"}


def test_head_view_maps_are_word_level_rows_of_one(data, runs):
    sentences = data["head_view"]["sentences"]
    assert [s["id"] for s in sentences] == [0, 1, *hostile_ids(runs["after"])]
    records = {r["sentence_id"]: r for r in runs["after"].sentences().to_pylist()}
    for s in sentences:
        attn = _decode(s)
        u = len(s["units"])
        assert attn.shape == (LAYERS, HEADS, u, u)
        assert u == records[s["id"]]["n_words"] + 2  # [CLS], the words, [SEP]
        assert s["units"][0] == "[CLS]" and s["units"][-1] == "[SEP]" and s["kinds"][0] == "cls"
        np.testing.assert_allclose(attn.sum(-1), 1.0, atol=5e-3)  # Clark: rows of word attention still sum to 1
    assert [s["source"] for s in sentences] == [f"stored maps (maps/sentence-{s['id']}.npz)" for s in sentences]


def test_head_view_maps_are_the_stored_token_maps_aggregated_to_words(data, runs):
    for s in data["head_view"]["sentences"]:
        with np.load(os.path.join(runs["after"].path, "maps", f"sentence-{s['id']}.npz")) as z:
            expected, _ = _word_attention(z)  # Clark aggregation in numpy, from the token maps
            words = [str(w) for w in z["words"]]
        np.testing.assert_allclose(_decode(s), expected, atol=2e-3)  # float16 in the page
        assert [u for u, k in zip(s["units"], s["kinds"]) if k == "word"] == words  # one token per word here


def test_without_stored_maps_the_report_says_how_to_store_them(runs, tmp_path):
    run_dir = str(tmp_path / "run")
    shutil.copytree(runs["after"].path, run_dir)
    shutil.rmtree(os.path.join(run_dir, "maps"))
    got = build(open_run(run_dir))
    assert got["head_view"]["sentences"] == []
    assert any(n.startswith("head view left out") and "--store-maps" in n for n in got["notes"])
    with pytest.raises(RunStoreError, match="no stored maps of sentence 1.*--store-maps"):
        build(open_run(run_dir), sentence_ids=["1"])


def test_default_head_view_uses_the_stored_maps(runs):
    got = build(runs["after"])
    assert [s["id"] for s in got["head_view"]["sentences"]] == [*range(8), *hostile_ids(runs["after"])]


def test_a_12x12_report_with_10_head_view_sentences_is_under_8_mb(runs, tmp_path):
    """The limit was 5 MB before the views embedded each sentence's q.k logits (docs/report.md, Size)."""
    ids = [str(i) for i in range(8)] + [str(i) for i in hostile_ids(runs["after"])]
    path, got = write_report(runs["after"], out=str(tmp_path / "r.html"), sentence_ids=ids, compare=runs["base"].path)
    size = os.path.getsize(path)
    print(f"\n12 x 12 report with {len(got['head_view']['sentences'])} head-view sentences: {size} bytes")
    assert len(got["head_view"]["sentences"]) == 10
    assert all(s.get("logits") for s in got["head_view"]["sentences"])
    assert size < 8 * 1024 * 1024


def test_cli_report_compare_both_ways_and_computed(runs, tmp_path, capsys):
    after, base = runs["after"].path, runs["base"].path
    out = str(tmp_path / "a.html")
    assert main(["report", after, "--compare", base, "--out", out, "--sentences", "2"]) == 0
    text = capsys.readouterr().out
    assert "report: " + out in text and "compare" in text
    page = _embedded(open(out, encoding="utf-8").read())
    assert page["compare"]["how"].startswith("stored: ") and len(page["head_view"]["sentences"]) == 2
    # the base run's report finds the comparison stored in the other run
    out_b = str(tmp_path / "b.html")
    assert main(["report", base, "--compare", after, "--out", out_b, "--sentences", "0"]) == 0
    assert _embedded(open(out_b, encoding="utf-8").read())["compare"]["how"].startswith(f"stored: {after}")
    # no stored comparison: computed now, before = the --compare run
    copy = str(tmp_path / "copy")
    shutil.copytree(after, copy)
    shutil.rmtree(os.path.join(copy, "compare"))
    assert main(["report", copy, "--compare", base, "--sentences", "0"]) == 0
    page = _embedded(open(os.path.join(copy, "report.html"), encoding="utf-8").read())
    assert page["compare"]["how"].startswith("computed now")
    changed = page["sections"]["compare"][0]["view"]["changes"]
    stored = pq.read_table(os.path.join(after, "compare", "vs-base", "heads.parquet"))
    assert len(changed) == pc.sum(stored["changed"]).as_py()


def test_cli_refuses_unknown_sentences_and_bad_runs(runs, tmp_path, capsys):
    assert main(["report", runs["after"].path, "--sentence-ids", "999", "--out", str(tmp_path / "x.html")]) == 2
    assert "no sentence '999'" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "y.html")]) == 2
    assert "not a headlens run" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.html")


def test_notebook_summary_is_escaped(runs, tmp_path):
    run_dir = str(tmp_path / "<img src=x onerror=alert(1)>")
    shutil.copytree(runs["after"].path, run_dir)
    shown = open_run(run_dir)._repr_html_()
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "12 layers x 12 heads" in shown and "roles/default" in shown and "14 analysed" in shown
