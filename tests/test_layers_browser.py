"""The layers section of the report in chromium (tests/browser.py): the interactive PCA scatter (a
point per sampled word, the layer selector moves them, hovering shows the word and its sentence, the
legend hides and shows a UPOS class) and the pre/post panel of a ``layers compare`` output."""

import os

import pytest
from browser import open_page

import headlens
from headlens.analyses.layers.cli import _compare
from headlens.analyses.layers.options import LayersSettings
from headlens.report import write_report
from headlens.store.outputs import read_outputs

# integration: starts a real Chromium (Playwright) for the module, as tests/test_report_browser.py (docs/testing.md)
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("layers-report")
    corpus = os.path.join(os.path.dirname(headlens.__file__), "data", "en_ewt-ud-dev-sample.conllu")
    run = headlens.run(out=str(root / "r"), model=tiny_bert_dir, corpus=corpus, progress=False, analyses=("layers",),
                       options={"layers": {"max_words": 600}})
    headlens.layers(run, n_boot=50, epochs=2, save=True)
    _compare(run, run, LayersSettings(n_boot=50, name="self"))
    path, data = write_report(run, out=str(root / "report.html"))
    tables, _ = read_outputs(run, "layers", "default")
    return {"path": path, "data": data, "points": tables["pca_points"].to_pylist()}


@pytest.fixture(scope="module")
def page(report):
    with open_page(report["path"]) as pg:
        yield pg


def _positions(page) -> list[tuple[str, str]]:
    return page.locator("#layers-pca-default-plot circle.pca-point").evaluate_all(
        "els => els.map(e => [e.getAttribute('cx'), e.getAttribute('cy')])")


def test_the_scatter_draws_a_point_per_sampled_word_and_the_layer_selector_moves_them(page, report):
    points = page.locator("#layers-pca-default-plot circle.pca-point")
    assert points.count() == len(report["points"]) > 100
    first = _positions(page)
    assert page.get_attribute("#layers-pca-default-plot", "data-layer") == "0"
    page.select_option("#layers-pca-default-layer", "2")
    assert page.get_attribute("#layers-pca-default-plot", "data-layer") == "2"
    moved = _positions(page)
    assert sum(a != b for a, b in zip(first, moved)) > len(first) // 2
    page.select_option("#layers-pca-default-layer", "0")
    assert _positions(page) == first
    assert not page.problems and not page.requests


def test_hovering_a_point_shows_its_word_and_sentence(page, report):
    page.locator("#layers-pca-default-plot").scroll_into_view_if_needed()
    k = page.evaluate("""() => {  // a point not covered by another one
      for (const c of document.querySelectorAll('#layers-pca-default-plot circle.pca-point')) {
        const r = c.getBoundingClientRect();
        if (document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c) return +c.getAttribute('data-point');
      }
      return -1;
    }""")
    assert k >= 0
    page.hover(f"#layers-pca-default-plot circle.pca-point[data-point='{k}']")
    page.wait_for_selector("#tooltip:not([hidden])")
    lines = page.inner_text("#tooltip").splitlines()
    word = report["points"][k]
    assert lines[0].split()[0] == word["form"] and word["upos"] in lines[0]
    assert lines[1] == word["text"]


def test_the_legend_hides_and_shows_a_upos_class(page, report):
    tag = report["points"][0]["upos"]
    button = f".pca-legend button.pca-class[data-upos='{tag}']"
    of_tag = f"#layers-pca-default-plot circle.pca-point[data-upos='{tag}']"
    n = sum(p["upos"] == tag for p in report["points"])
    page.click(button)
    assert page.get_attribute(button, "aria-pressed") == "false"
    hidden = page.locator(of_tag).evaluate_all("els => els.filter(e => e.getAttribute('visibility') === 'hidden').length")
    others = page.locator("#layers-pca-default-plot circle.pca-point[visibility='hidden']").count()
    assert hidden == n == others
    page.click(button)
    assert page.locator("#layers-pca-default-plot circle.pca-point[visibility='hidden']").count() == 0


def test_the_pre_post_panel_shows_cka_beside_the_probe_deltas(page, report):
    section = page.inner_text("section#layers")
    assert "pre/post: CKA and probe accuracy per layer" in section and "upos B - A" in section
    view = [s for s in report["data"]["sections"]["layers"] if s["name"] == "compare-self"][0]["view"]
    rows = view["blocks"][0]["rows"]
    assert [r[0] for r in rows] == [0, 1, 2]  # the embeddings and both blocks of the tiny model
    assert all(r[1] == 1.0 and r[2] == r[0] for r in rows)  # a run against itself: CKA 1, its own layer
    assert all(r[-1] == "no evidence of a change" for r in rows)
