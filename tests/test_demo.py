"""`headlens demo` on a slice of the embedded corpus: every analysis of its manifest has report content
(checked in Chromium), and the findings it prints name the heads and q-values of the stored tables."""

import json
import os
import re

import pyarrow.parquet as pq
import pytest
from browser import open_page

from headlens.cli import main
from headlens.heads import head_label
from headlens.units import TINY_P

LIMIT = 40


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import contextlib
    import io

    out = str(tmp_path_factory.mktemp("demo") / "demo")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo", "--out", out, "--limit", str(LIMIT), "--quiet"]) == 0
    return out, buf.getvalue()


def _table(run: str, analysis: str, name: str) -> list[dict]:
    return pq.read_table(os.path.join(run, analysis, "default", f"{name}.parquet")).to_pylist()


def _q(text: str) -> float:
    return 0.0 if text == TINY_P else float(text)


@pytest.mark.integration
def test_demo_findings_come_from_the_stored_tables(demo):
    run, out = demo
    roles = [m for m in re.finditer(r"role (\S+): (\d+) heads pass \(tau (\S+)\); strongest (\S+) mean \S+, q (\S+)", out)]
    rows = [r for r in _table(run, "roles", "heads") if r["is_role"]]
    assert roles and len(roles) == min(4, len({r["role"] for r in rows}))
    for m in roles:
        mine = [r for r in rows if r["role"] == m[1] and r["tau"] == float(m[3])]
        best = max(mine, key=lambda r: r["mean"])
        assert int(m[2]) == len(mine)
        assert m[4] == head_label(best["layer"], best["head"])
        assert _q(m[5]) == pytest.approx(best["q"], rel=0.05, abs=1e-300)
    syntax = list(re.finditer(r"syntax (\S+) \((\w+)\): head (\S+) accuracy (\S+) vs offset (\S+) \S+, q (\S+)", out))
    best = [r for r in _table(run, "syntax", "best") if r["beats_baseline"]]
    assert len(syntax) == min(3, len(best))
    for m in syntax:
        r = next(r for r in best if (r["relation"], r["direction"]) == (m[1], m[2]))
        assert m[3] == head_label(r["layer"], r["head"]) and int(m[5]) == r["baseline_offset"]
        assert float(m[4]) == pytest.approx(r["accuracy"], abs=5e-4) and _q(m[6]) == pytest.approx(r["q"], rel=0.05)
    upos = _table(run, "layers", "upos")
    peak = max(upos, key=lambda r: r["accuracy"])["layer"]
    assert f"upos probe peaks at layer {peak} " in out
    assert f"report: {os.path.join(run, 'report.html')}" in out


@pytest.mark.integration
def test_demo_report_has_content_for_every_analysis_it_ran(demo):
    run, _ = demo
    with open(os.path.join(run, "manifest.json"), encoding="utf-8") as fh:
        ran = json.load(fh)["analyses"]
    with open_page(os.path.join(run, "report.html")) as page:
        sections = page.eval_on_selector_all("main section", "ss => ss.map(s => [s.id, s.innerText, "
                                             "s.innerText.length - s.querySelector('h2').innerText.length])")
        assert not page.problems and not page.requests
    text = {sid: body for sid, body, _ in sections}
    assert all(extra > 20 for _, _, extra in sections), [sid for sid, _, extra in sections if extra <= 20]
    shown = [a for a in ran if a in text]
    assert set(shown) >= set(ran) - {"surface"}  # surface is the Heads view's metrics, not a section of its own
    for analysis in [*shown, "probe"]:
        assert "Not in this run" not in text[analysis], analysis
    assert "Not in this run" not in text["heads"]


def test_demo_refuses_a_slice_too_small_for_the_probes(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "--limit 5" in err and "at least 20" in err and not (tmp_path / "d").exists()
