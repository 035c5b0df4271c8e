"""The table views of the layers, attribution and probe analyses (render/blocks.py), on planted tables."""

import pyarrow as pa
import pytest

from headlens.analyses.attribution.view import attribution_view
from headlens.analyses.probe.results import uas_table
from headlens.analyses.probe.view import probe_view
from headlens.render.blocks import block


def test_block_rejects_a_row_of_the_wrong_width():
    with pytest.raises(ValueError, match="row 1 has 1 cells for 2 columns"):
        block("t", ["a", "b"], [[1, 2], [3]])


def test_attribution_view_puts_each_mean_under_its_layer():
    rows = [{"method": m, "stat": s, "layer": layer, "n": 5, "mean": 10 * i + layer, "ci_low": 0.0, "ci_high": 1.0}
            for i, (m, s) in enumerate([("rollout", "self"), ("rollout", "head"), ("alti", "self")]) for layer in (2, 0, 1)]
    view, marks = attribution_view({"layers": pa.Table.from_pylist(rows)}, {}, 3, 4)
    by_title = {b["title"].split(":")[0]: b for b in view["blocks"]}
    assert set(by_title) == {"rollout", "alti"} and marks == {}
    assert by_title["rollout"]["columns"] == ["statistic", "L1", "L2", "L3"]
    assert by_title["rollout"]["rows"] == [["self", 0, 1, 2], ["head", 10, 11, 12]]
    assert by_title["alti"]["rows"] == [["self", 20, 21, 22]]


def test_probe_view_shows_each_probe_against_right_branching():
    result = {"uas": {"attn": 0.61, "distance": 0.4}, "train_sentences": 8, "eval_sentences": 2, "scored_words": 30,
              "versus_right_branching": {"attn": {"delta": 0.12, "ci_low": 0.05, "ci_high": 0.2, "p": 0.003}},
              "pairwise": None, "settings": {"features": "attn"}}
    view, _ = probe_view({"uas": uas_table(result)}, result, 2, 2)
    rows = {r[0]: r for r in view["blocks"][0]["rows"]}
    assert rows["attn"] == ["attn", 0.61, 0.12, "[0.05, 0.2]", 0.003]
    assert rows["distance"][1] == 0.4 and rows["distance"][2] is None
    assert "scored on 2" in view["blocks"][0]["note"] and len(view["blocks"]) == 1
