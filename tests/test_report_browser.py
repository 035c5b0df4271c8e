"""The HTML report in a real browser (Debian's chromium driven by Playwright for Python).

CI (HEADLENS_CI=1, where ``make test`` installs chromium) never skips these; elsewhere they skip
with the reason when chromium or Playwright is missing (tests/browser.py). A screenshot of the report is saved for
a person to look at: under the test's tmp dir and copied to ``reports/screenshots/`` (git-ignored).
"""

import os
import shutil

import pyarrow.parquet as pq
import pytest
from browser import open_page
from report_runs import HEADS, HOSTILE, LAYERS, hostile_ids, report_runs

from headlens.report import write_report

# integration: starts a real Chromium (Playwright) for the module, 15-25 s of the fast set on 2 cores (docs/testing.md)
pytestmark = pytest.mark.integration

SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "reports", "screenshots")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return report_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    ids = ["0", "1", "2", *map(str, hostile_ids(runs["after"]))]
    path, data = write_report(runs["after"], out=str(tmp_path_factory.mktemp("html") / "report.html"), sentence_ids=ids,
                              compare=runs["base"].path)
    return path, data


@pytest.fixture(scope="module")
def page(report):
    with open_page(report[0]) as pg:
        yield pg


def _tip(page, selector: str) -> str:
    page.hover(selector)
    page.wait_for_selector("#tooltip:not([hidden])")
    return page.inner_text("#tooltip")


def _mean_in(tip: str) -> float:
    line = next(x for x in tip.splitlines() if x.startswith("mean "))
    return float(line.split()[1])


def _expected(run, metric: str, layer: int, head: int) -> float:
    rows = pq.read_table(os.path.join(run.path, "heads.parquet")).to_pylist()
    return next(r["mean"] for r in rows if r["metric"] == metric and r["layer"] == layer and r["head"] == head)


def test_loads_with_no_console_error_and_no_request(page):
    assert page.problems == []
    assert page.requests == []
    sections = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
    assert sections[:3] == ["provenance", "heads", "head-view"] and "compare" in sections and "tables" in sections


def test_heatmap_has_a_cell_per_head_with_the_runs_mean_in_its_tooltip(page, runs):
    assert page.locator("#heads-heatmap rect.cell").count() == LAYERS * HEADS
    assert page.input_value("#metric-select") == "prev"
    for layer, head in ((0, 0), (4, 7), (11, 11)):
        tip = _tip(page, f"#heads-heatmap rect.cell[data-k='{layer * HEADS + head}']")
        assert tip.splitlines()[0].startswith(f"L{layer + 1}H{head + 1}")
        assert _mean_in(tip) == pytest.approx(_expected(runs["after"], "prev", layer, head), rel=1e-3)


def test_switching_the_metric_redraws_the_heatmap(page, runs):
    page.select_option("#metric-select", "entropy")
    tip = _tip(page, "#heads-heatmap rect.cell[data-k='13']")
    assert "entropy" in tip.splitlines()[0]
    assert _mean_in(tip) == pytest.approx(_expected(runs["after"], "entropy", 1, 1), rel=1e-3)
    fills = page.eval_on_selector_all("#heads-heatmap rect.cell", "els => els.map(e => e.getAttribute('fill'))")
    page.select_option("#metric-select", "prev")
    assert fills != page.eval_on_selector_all("#heads-heatmap rect.cell", "els => els.map(e => e.getAttribute('fill'))")


def test_switching_the_head_or_clicking_a_cell_updates_the_head_view(page):
    def lines():
        return page.eval_on_selector_all("#hv-svg line.attn", "els => els.map(e => e.getAttribute('stroke-opacity'))")

    first = lines()
    assert first and page.get_attribute("#hv-svg", "data-head") == "0"
    page.select_option("#hv-head", "5")
    assert page.get_attribute("#hv-svg", "data-head") == "5" and lines() != first
    page.select_option("#hv-layer", "3")
    assert page.get_attribute("#hv-svg", "data-layer") == "3"
    page.click("#heads-heatmap rect.cell[data-k='%d']" % (7 * HEADS + 2))
    assert (page.get_attribute("#hv-svg", "data-layer"), page.get_attribute("#hv-svg", "data-head")) == ("7", "2")
    assert page.input_value("#hv-head") == "2"


def test_hostile_sentences_show_as_text_and_run_nothing(page, runs):
    ids = hostile_ids(runs["after"])
    options = page.eval_on_selector_all("#hv-sentence option", "els => els.map(e => e.textContent)")
    for sid, text, tag in zip(ids, HOSTILE, ("script", "img")):
        index = next(i for i, o in enumerate(options) if o.startswith(f"#{sid}:"))
        page.select_option("#hv-sentence", str(index))
        assert page.inner_text("#hv-text") == text
        units = page.eval_on_selector_all("#hv-svg text.unit[data-side='from']", "els => els.map(e => e.textContent)")
        assert "<" in units and tag in units  # the markup's pieces are words, drawn as text
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img, #hv-picture script, main script').length") == 0
    assert page.problems == [] and page.requests == []


def test_compare_view_and_a_screenshot_for_a_person(page, report, tmp_path):
    assert page.locator("#compare-heatmap-0 rect.cell").count() == LAYERS * HEADS
    tip = _tip(page, "#compare-heatmap-0 rect.cell[data-k='0']")
    assert "before" in tip and "delta" in tip
    page.select_option("#hv-sentence", "0")
    path = str(tmp_path / "report.png")
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 50_000
    os.makedirs(SCREENSHOTS, exist_ok=True)
    kept = os.path.abspath(os.path.join(SCREENSHOTS, "report.png"))
    shutil.copyfile(path, kept)
    print(f"\nscreenshot of the report: {kept}")
