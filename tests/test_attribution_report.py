"""The attribution section of the report (analyses/attribution/view.py and view.js): the per-layer curves and the
agreement matrix from planted tables, the per-sentence view of the stored maps, and the pre/post panel of a
comparison, in chromium (tests/browser.py) on two tiny random BERTs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from browser import open_page
from tiny import make_tiny_bert

import headlens
from headlens.analyses.attribution.names import STATS, stat_metric
from headlens.analyses.attribution.view import agreement_matrix, attribution_view, curves, stored_sentences
from headlens.report import write_report
from headlens.store import layout
from headlens.store.outputs import read_outputs

STORED = ("0", "3", "4")  # the first sentences of the packaged corpus short enough for the tiny model
RUN_METHODS = ["rollout", "normroll", "alti"]
# integration: these start a real Chromium (Playwright), as tests/test_report_browser.py (docs/testing.md)
BROWSER = pytest.mark.integration


def test_curves_and_agreement_matrix_put_each_mean_and_interval_in_its_cell():
    rows = [{"method": m, "stat": s, "layer": layer, "mean": 10 * i + layer, "ci_low": -1.0 - layer, "ci_high": 50.0 + i}
            for i, (m, s) in enumerate([("rollout", "self"), ("alti", "self"), ("alti", "head")]) for layer in (1, 0)]
    got = curves(rows, 3)
    assert got["self"]["rollout"] == [[0, -1, 50], [1, -2, 50], None]
    assert got["head"]["alti"][1] == [21, -2, 52] and got["head"]["rollout"] == [None, None, None]
    agree = [{"a": a, "b": b, "layer": layer, "mean": 0.1 * k + layer, "ci_low": 0.0, "ci_high": 1.0}
             for k, (a, b) in enumerate([("rollout", "normroll"), ("rollout", "alti"), ("normroll", "alti")]) for layer in (0, 1)]
    m = agreement_matrix(agree, 2)
    assert m["methods"] == ["rollout", "normroll", "alti"]
    for layer in (0, 1):
        cells = m["layers"][layer]
        assert [cells[i][i] for i in range(3)] == [None] * 3
        assert cells[0][2] == cells[2][0] == [pytest.approx(0.1 + layer), 0, 1]  # symmetric
        assert cells[1][2][0] == pytest.approx(0.2 + layer)
    view, _ = attribution_view({"layers": pa.Table.from_pylist(rows), "agreement": pa.Table.from_pylist(agree)}, {}, 3, 4)
    assert view["figures"]["curves"] == got and view["figures"]["agreement"]["layers"][0][0][1] == [0, 0, 1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("attr-report")
    spec = headlens.CorpusSpec(headlens.default_corpus_path(), format="conllu", limit=8)
    made = [headlens.run(model=make_tiny_bert(str(root / f"m{seed}"), seed=seed), analyses=("attribution",),
                         out=str(root / f"r{seed}"), progress=False, corpus=spec, store_maps=STORED, dtype="float64",
                         options={"attribution": {"methods": RUN_METHODS}}) for seed in (0, 1)]
    path, data = write_report(made[1], out=str(root / "report.html"), compare=made[0].path)
    return {"before": made[0], "after": made[1], "path": path, "data": data}


def _stored(run, sid: int) -> dict[str, np.ndarray]:
    with np.load(layout.map_path(run.path, sid, kind=layout.ATTRIBUTION_MAPS)) as z:
        return {k: z[k] for k in z.files}


def test_the_report_embeds_the_stored_maps_of_each_sentence(runs):
    data = runs["data"]["section_data"]["attribution"]
    ids = [x["id"] for x in data["sentences"]]
    assert ids == layout.map_ids(runs["after"].path, kind=layout.ATTRIBUTION_MAPS) and len(ids) >= 2
    from headlens.render.encode import float16_b64

    for x in data["sentences"]:
        z = _stored(runs["after"], x["id"])
        assert x["tokens"] == [str(t) for t in z["tokens"]]
        assert x["methods"] == RUN_METHODS + ["flow"]  # flow: every stored sentence is under the flow cap
        assert all(x["maps"][m] == float16_b64(z[m]) for m in x["methods"])
    assert data["normalised"]["alti"] and not data["normalised"]["flow"]


def test_a_maps_file_of_the_wrong_shape_is_refused_with_its_path(runs, tmp_path):
    import shutil

    copy = str(tmp_path / "run")
    shutil.copytree(runs["after"].path, copy)
    path = layout.map_path(copy, 0, kind=layout.ATTRIBUTION_MAPS)
    z = _stored(runs["after"], 0)
    np.savez(path, **{**z, "alti": z["alti"][:, :-1]})
    with pytest.raises(ValueError, match=r"sentence-0-attribution\.npz: the map of alti has shape .* --store-maps"):
        stored_sentences(headlens.open_run(copy))


@pytest.fixture(scope="module")
def page(runs):
    with open_page(runs["path"]) as pg:
        pg.eval_on_selector("#attr-outputs", "e => e.scrollIntoView()")
        yield pg


def _row(page) -> np.ndarray:
    return np.array([float(v) for v in page.eval_on_selector_all("#attr-sources span.attr-src", "els => els.map(e => e.getAttribute('data-value'))")])


def _choose(page, sentence: int, method: str, layer: int) -> None:
    page.select_option("#attr-sentence", str(sentence))
    page.select_option("#attr-method", method)
    page.select_option("#attr-layer", str(layer))


@BROWSER
def test_sentence_view_renders_one_button_per_token_and_shades_by_the_stored_row(page, runs):
    x = runs["data"]["section_data"]["attribution"]["sentences"][0]
    z = _stored(runs["after"], x["id"])
    _choose(page, 0, "alti", 1)
    assert page.locator("#attr-outputs button.attr-out").count() == len(x["tokens"])
    page.click("#attr-outputs button[data-i='2']")
    assert page.get_attribute("#attr-outputs button[data-i='2']", "aria-pressed") == "true"
    np.testing.assert_allclose(_row(page), z["alti"][1, 2], atol=2e-3)
    first = _row(page)
    page.hover("#attr-outputs button[data-i='4']")
    np.testing.assert_allclose(_row(page), z["alti"][1, 4], atol=2e-3)
    assert np.abs(_row(page) - first).max() > 1e-3  # the shading follows the chosen output token
    fills = set(page.eval_on_selector_all("#attr-sources span.attr-src", "els => els.map(e => e.style.backgroundColor)"))
    assert len(fills) > 1
    page.select_option("#attr-layer", "0")
    np.testing.assert_allclose(_row(page), z["alti"][0, 4], atol=2e-3)
    assert page.problems == [] and page.requests == []


@BROWSER
def test_output_tokens_are_reached_and_chosen_with_the_keyboard(page):
    _choose(page, 0, "rollout", 1)
    page.focus("#attr-outputs button[data-i='0']")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#attr-outputs button[data-i='2']", "aria-pressed") == "true"
    assert page.evaluate("document.activeElement.getAttribute('data-i')") == "2"
    page.keyboard.press("End")
    last = page.locator("#attr-outputs button.attr-out").count() - 1
    assert page.get_attribute(f"#attr-outputs button[data-i='{last}']", "aria-pressed") == "true"


@BROWSER
@pytest.mark.parametrize("method", RUN_METHODS + ["flow"])
def test_rows_shown_sum_to_one_where_the_method_says_so(page, runs, method):
    sentences = runs["data"]["section_data"]["attribution"]["sentences"]
    for k, x in enumerate(sentences):
        z = _stored(runs["after"], x["id"])
        for layer in range(z[method].shape[0]):
            _choose(page, k, method, layer)
            for i in {0, len(x["tokens"]) // 2, len(x["tokens"]) - 1}:
                page.click(f"#attr-outputs button[data-i='{i}']")
                row, shown = _row(page), float(page.get_attribute("#attr-info", "data-sum"))
                assert shown == pytest.approx(row.sum(), abs=2e-3)
                assert page.get_attribute("#attr-info", "data-normalised") == ("0" if method == "flow" else "1")
                if method != "flow":
                    assert row.min() >= 0 and shown == pytest.approx(1.0, abs=2e-3)
                else:  # max-flow values: the stored row, not rescaled to 1
                    assert shown == pytest.approx(z["flow"][layer, i].sum(), abs=2e-3)


def _table(run, name: str) -> list[dict]:
    return read_outputs(run, "attribution", "default")[0][name].to_pylist()


@BROWSER
def test_curves_and_agreement_matrix_show_the_stored_means(page, runs):
    layers = _table(runs["after"], "layers")
    for method in RUN_METHODS:
        got = page.eval_on_selector_all(f"#attr-curves-0 g.curve[data-series='{method}'] circle.point",
                                        "els => els.map(e => [+e.getAttribute('data-layer'), +e.getAttribute('data-mean')])")
        want = {r["layer"]: r["mean"] for r in layers if r["method"] == method and r["stat"] == "self"}
        assert len(got) == len(want) and all(v == pytest.approx(want[layer], rel=1e-5, abs=1e-6) for layer, v in got)
    page.select_option("#attr-stat-0", "head")
    assert page.locator("#attr-curves-0 g.curve").count() == len(RUN_METHODS)
    agree = _table(runs["after"], "agreement")
    for layer in (0, 1):
        page.select_option("#attr-agreement-layer-0", str(layer))
        for r in (r for r in agree if r["layer"] == layer):
            for a, b in ((r["a"], r["b"]), (r["b"], r["a"])):
                cell = page.get_attribute(f"#attr-agreement-0 rect[data-a='{a}'][data-b='{b}']", "data-mean")
                assert float(cell) == pytest.approx(r["mean"], rel=1e-5, abs=1e-6)


@BROWSER
def test_compare_tests_every_attribution_statistic_and_the_panel_shows_its_verdicts(page, runs):
    compare = runs["data"]["sections"]["compare"][0]["view"]
    rows = {(r[0], r[1]): r for r in compare["layers"]}
    want = {(stat_metric(m, s), layer) for m in RUN_METHODS for s in STATS for layer in (0, 1)}
    assert want <= set(rows)  # compare covers every attribution metric, per layer, like any other
    assert not {stat_metric("vz", s) for s in STATS} & {k[0] for k in rows}
    assert all(rows[k][7] in ("changed", "equivalent", "inconclusive") for k in want)
    page.select_option("#attr-prepost-stat-0", "self")
    shown = page.eval_on_selector_all("#attr-prepost-table-0 tbody tr",
                                      "els => els.map(r => Array.from(r.children).map(c => c.textContent))")
    assert len(shown) == len(RUN_METHODS) * 2
    for method, layer, before, after, _, _, verdict in shown:
        r = rows[(stat_metric(method, "self"), int(layer[1:]) - 1)]
        assert float(before) == pytest.approx(r[2], rel=1e-3) and float(after) == pytest.approx(r[3], rel=1e-3)
        assert verdict == r[7]
    series = page.eval_on_selector_all("#attr-prepost-chart-0 g.curve", "els => els.map(e => e.getAttribute('data-series'))")
    assert sorted(series) == sorted(f"{m} {side}" for m in RUN_METHODS for side in ("before", "after"))


def test_the_figures_draw_the_curves_and_the_agreement_matrix(runs, tmp_path):
    from headlens.report import write_figures

    files = [f for f in write_figures(runs["after"], str(tmp_path), fmt="svg") if f.view.startswith("attribution")]
    assert [f.view for f in files] == ["attribution default"] and files[0].panels == 2
    text = open(files[0].path, encoding="utf-8").read()
    assert all(m in text for m in RUN_METHODS) and "agreement, layer 2" in text
