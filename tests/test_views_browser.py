"""The report's views of the stored maps in chromium (tests/browser.py): the model view, the token/word
toggle, the before/after view and the q.k view, on two tiny random BERTs (2 layers x 4 heads) whose
corpus splits words into sub-tokens."""

import os

import numpy as np
import pytest
from browser import open_page
from conftest import write
from test_views import LINES
from tiny import make_tiny_bert

import headlens
from headlens.report import write_report
from headlens.store import layout


# integration: starts a real Chromium (Playwright) for the module, 15-25 s of the fast set on 2 cores (docs/testing.md)
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("views")
    corpus = write(root, "c.txt", "\n".join(LINES) + "\n")
    common = dict(corpus=corpus, annotator="regex", progress=False, dtype="float64", store_maps=("0", "1", "2"))
    after = headlens.run(out=str(root / "after"), model=tiny_bert_dir, analyses=("surface", "decomposition"), **common)
    before = headlens.run(out=str(root / "before"), model=make_tiny_bert(str(root / "model-b"), seed=3),
                          analyses=("surface",), **common)
    path, data = write_report(after, out=str(root / "report.html"), compare=before.path)
    return {"after": after, "before": before, "path": path, "data": data}


@pytest.fixture(scope="module")
def page(runs):
    with open_page(runs["path"]) as pg:
        yield pg


def _shape(runs):
    m = runs["after"].manifest["model"]
    return int(m["num_layers"]), int(m["num_heads"])


def _stored(run, sid: int, key: str) -> np.ndarray:
    with np.load(layout.map_path(run.path, sid)) as z:
        return z[key]


def _tip(page, selector: str) -> list[str]:
    page.hover(selector)
    page.wait_for_selector("#tooltip:not([hidden])")
    return page.inner_text("#tooltip").splitlines()


def _value(tip: list[str]) -> float:
    return float(tip[-1].split()[-1])


def _opened(page) -> tuple[str, str]:
    return page.get_attribute("#mv-title", "data-layer"), page.get_attribute("#mv-title", "data-head")


def test_model_view_has_a_thumbnail_per_head_and_a_click_or_key_opens_it(page, runs):
    layers, heads = _shape(runs)
    thumbs = page.locator("#mv-grid button.mv-thumb")
    assert thumbs.count() == layers * heads
    labels = thumbs.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    # labelled as the report labels heads everywhere (the heads heatmap's tooltip)
    assert labels[heads + 2].split(":")[0] == _tip(page, f"#heads-heatmap rect.cell[data-k='{heads + 2}']")[0].split()[0]
    assert len(set(labels)) == layers * heads
    page.click(f"#mv-grid button.mv-thumb[data-layer='1'][data-head='2']")
    assert _opened(page) == ("1", "2")
    assert page.get_attribute("#mv-matrix", "data-layer") == "1" and page.get_attribute("#mv-matrix", "data-head") == "2"
    assert page.get_attribute("#mv-grid button.mv-thumb[data-layer='1'][data-head='2']", "aria-pressed") == "true"
    # keyboard: arrows move the focus, Enter and Space open the focused head
    page.focus("#mv-grid button.mv-thumb[data-layer='0'][data-head='0']")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert _opened(page) == ("0", "1")
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    assert _opened(page) == ("1", "1")
    assert page.problems == [] and page.requests == []


def test_token_word_toggle_changes_the_rendered_matrix_size(page, runs):
    page.select_option("#mv-sentence", "0")
    tokens, units = len(_stored(runs["after"], 0, "tokens")), len(_stored(runs["after"], 0, "unit_labels"))
    assert tokens > units  # the corpus splits words into sub-tokens
    page.check("#mv-level-word")
    assert page.get_attribute("#mv-matrix", "data-rows") == str(units)
    assert page.locator("#mv-matrix rect.mv-cell").count() == units * units
    page.check("#mv-level-token")
    assert page.get_attribute("#mv-matrix", "data-rows") == str(tokens)
    assert page.locator("#mv-matrix rect.mv-cell").count() == tokens * tokens
    widths = page.eval_on_selector_all("#mv-grid canvas", "els => els.map(e => e.width)")
    assert set(widths) == {tokens}
    # a token-level cell holds the stored token map's weight
    layers, heads = _shape(runs)
    page.click("#mv-grid button.mv-thumb[data-layer='1'][data-head='3']")
    want = _stored(runs["after"], 0, "attention")[1, 3, 2, 4]
    assert _value(_tip(page, "#mv-matrix rect.mv-cell[data-i='2'][data-j='4']")) == pytest.approx(want, abs=2e-3)
    page.check("#mv-level-word")
    assert page.get_attribute("#mv-matrix", "data-rows") == str(units)


def test_before_after_view_shows_both_models_and_their_difference(page, runs):
    page.select_option("#mv-sentence", "1")
    page.check("#mv-level-word")
    page.click("#mv-grid button.mv-thumb[data-layer='0'][data-head='2']")
    n = len(_stored(runs["after"], 1, "unit_labels"))
    for box in ("#ba-before", "#mv-matrix", "#ba-diff"):
        assert page.locator(f"{box} rect.mv-cell").count() == n * n
    titles = page.eval_on_selector_all("#ba-view h4", "els => els.map(e => e.textContent)")
    assert [t.split(":")[0] for t in titles] == ["before", "after", "difference (after - before)"]
    after, before = (_stored(r, 1, "word_attention")[0, 2] for r in (runs["after"], runs["before"]))
    i, j = 1, 2
    cell = f"[data-i='{i}'][data-j='{j}']"
    assert _value(_tip(page, f"#ba-before rect{cell}")) == pytest.approx(before[i, j], abs=2e-3)
    assert _value(_tip(page, f"#mv-matrix rect{cell}")) == pytest.approx(after[i, j], abs=2e-3)
    assert _value(_tip(page, f"#ba-diff rect{cell}")) == pytest.approx(after[i, j] - before[i, j], abs=3e-3)
    assert np.abs(after - before).max() > 1e-3  # two different models: the difference map is not all zero
    fills = set(page.eval_on_selector_all("#ba-diff rect.mv-cell", "els => els.map(e => e.getAttribute('fill'))"))
    assert len(fills) > 1


def test_clicking_a_head_of_the_comparison_opens_it_in_the_model_view(page, runs):
    layers, heads = _shape(runs)
    page.click(f"#compare-heatmap-0 rect.cell[data-k='{heads + 3}']")
    assert _opened(page) == ("1", "3")


def test_qk_view_shows_one_row_per_head_for_the_selected_token(page, runs):
    layers, heads = _shape(runs)
    page.select_option("#mv-sentence", "0")
    page.check("#mv-level-token")
    page.click("#mv-grid button.mv-thumb[data-layer='1'][data-head='0']")
    tokens = len(_stored(runs["after"], 0, "tokens"))
    logits = _stored(runs["after"], 0, "logits")
    for q in (3, 5):
        page.select_option("#qk-token", str(q))
        rows = page.locator("#qk-svg g.qk-row")
        assert rows.count() == heads
        assert page.locator("#qk-svg g.qk-row[data-head='2'] rect.qk-cell").count() == tokens
        for h, j in ((0, 0), (2, 4), (heads - 1, tokens - 1)):
            got = _value(_tip(page, f"#qk-svg g.qk-row[data-head='{h}'] rect.qk-cell[data-j='{j}']"))
            assert got == pytest.approx(logits[1, h, q, j], abs=5e-3 * max(1.0, abs(logits[1, h, q, j])))
    # the decomposition stored the value norms: one row per head too, the stored ||f(x_j)||
    with np.load(layout.map_path(runs["after"].path, 0, kind=layout.DECOMPOSITION_MAPS)) as z:
        norms = z["fnorm"]
    assert page.locator("#qk-norms g.norm-row").count() == heads
    got = _value(_tip(page, "#qk-norms g.norm-row[data-head='1'] rect.qk-cell[data-j='2']"))
    assert got == pytest.approx(norms[1, 1, 2], rel=2e-3)
    # a row label of the enlarged map picks the query token, by click or by keyboard
    page.click("#mv-matrix text.unit[data-row='4']")
    assert page.input_value("#qk-token") == "4"
    page.focus("#mv-matrix text.unit[data-row='2']")
    page.keyboard.press("Enter")
    assert page.input_value("#qk-token") == "2"
    assert page.problems == [] and page.requests == []


def test_views_screenshot_for_a_person(page, tmp_path):
    path = str(tmp_path / "views.png")
    page.locator("#model-view").screenshot(path=path)
    assert os.path.getsize(path) > 10_000
    shots = os.path.join(os.path.dirname(__file__), "..", "reports", "screenshots")
    os.makedirs(shots, exist_ok=True)
    with open(path, "rb") as src, open(os.path.join(shots, "views.png"), "wb") as dst:
        dst.write(src.read())
