"""Attention by lexical category: hand-computed cells, uniform attention, loops on a real run, the mapping."""

import json
import math

import numpy as np
import pytest
import torch
from test_roles_metrics import CONLLU

import headlens
from headlens.align.encode import CLS, SEP, WORD
from headlens.errors import ConfigError
from headlens.analyses.categories.metrics import DEFAULT_MAP, UPOS_CODE, category_metrics, load_category_map
from headlens.metrics.view import AttentionView

# units: [CLS] the(DET) cat(NOUN) sat(VERB) .(PUNCT) [SEP]
KINDS = [CLS, WORD, WORD, WORD, WORD, SEP]
TAGS = [None, "DET", "NOUN", "VERB", "PUNCT", None]
ROWS = [
    [0.5, 0.1, 0.1, 0.1, 0.1, 0.1],  # [CLS]: not a query
    [0.1, 0.1, 0.2, 0.2, 0.1, 0.3],  # the: words .1 .2 .2 -> renormalised .2 .4 .4
    [0.2, 0.3, 0.1, 0.1, 0.1, 0.2],  # cat: words .3 .1 .1 -> .6 .2 .2
    [0.0, 0.25, 0.25, 0.0, 0.25, 0.25],  # sat: words .25 .25 0 -> .5 .5 0
    [0.2, 0.2, 0.2, 0.2, 0.0, 0.2],  # .: dropped
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],  # [SEP]: not a query
]


def _view(rows, tags=TAGS, kinds=KINDS):
    n = len(rows)
    return AttentionView(
        torch.tensor(rows, dtype=torch.float64)[None, None], torch.ones(1, n, dtype=torch.bool),
        torch.tensor(kinds, dtype=torch.int8)[None], torch.tensor([t == "PUNCT" for t in tags])[None],
        upos=torch.tensor([UPOS_CODE.get(t, -1) if t else -1 for t in tags], dtype=torch.int8)[None])


def _scores(view, keys="renormalise", mapping=DEFAULT_MAP):
    return {m.name: float(m.score(view)[0, 0]) for m in category_metrics(mapping, keys)}


def test_hand_built_example_renormalised():
    s = _scores(_view(ROWS))
    assert s["cat_function_function"] == pytest.approx(0.2)  # the -> the
    assert s["cat_function_content"] == pytest.approx((0.4 + 0.4) / 2)  # the -> cat, sat
    assert s["cat_content_function"] == pytest.approx((0.6 + 0.5) / 2)  # cat, sat -> the
    assert s["cat_content_content"] == pytest.approx((0.2 + 0.2 + 0.5 + 0.0) / 4)
    recv_c = ((0.4 + 0.2 + 0.5) / 3 + (0.4 + 0.2 + 0.0) / 3) / 2  # each content key, mean over the 3 queries
    recv_f = (0.2 + 0.6 + 0.5) / 3
    assert s["cat_recv_content"] == pytest.approx(recv_c)
    assert s["cat_recv_function"] == pytest.approx(recv_f)
    assert s["cat_pref"] == pytest.approx(recv_c - recv_f)


def test_hand_built_example_raw_keeps_the_special_token_mass_out():
    s = _scores(_view(ROWS), keys="raw")
    assert s["cat_function_function"] == pytest.approx(0.1)
    assert s["cat_function_content"] == pytest.approx(0.2)
    assert s["cat_content_function"] == pytest.approx((0.3 + 0.25) / 2)
    assert s["cat_content_content"] == pytest.approx((0.1 + 0.1 + 0.25 + 0.0) / 4)
    assert s["cat_recv_content"] == pytest.approx(((0.2 + 0.1 + 0.25) / 3 + (0.2 + 0.1 + 0.0) / 3) / 2)
    assert s["cat_recv_function"] == pytest.approx((0.1 + 0.3 + 0.25) / 3)


def test_uniform_attention_gives_one_over_words_and_no_preference():
    rows = [[1 / 6] * 6 for _ in range(6)]
    s = _scores(_view(rows))
    for name in ("cat_content_content", "cat_content_function", "cat_function_content", "cat_function_function",
                 "cat_recv_content", "cat_recv_function"):
        assert s[name] == pytest.approx(1 / 3)  # three words kept: the, cat, sat
    assert s["cat_pref"] == pytest.approx(0.0, abs=1e-12)


def test_a_missing_category_gives_nan_and_the_mapping_is_replaceable():
    s = _scores(_view(ROWS, tags=[None, "NOUN", "NOUN", "VERB", "PUNCT", None]))
    assert math.isnan(s["cat_function_function"]) and math.isnan(s["cat_recv_function"]) and math.isnan(s["cat_pref"])
    assert not math.isnan(s["cat_content_content"])
    as_content = load_category_map({"DET": "content"})  # now every word is content
    s = _scores(_view(ROWS), mapping=as_content)
    assert math.isnan(s["cat_function_content"])
    assert s["cat_recv_content"] == pytest.approx(1 / 3)  # renormalised rows over 3 words, all content


def test_bad_mappings_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not UPOS tags"):
        load_category_map({"NOUNS": "content"})
    with pytest.raises(ConfigError, match="not one of content, function, other, drop"):
        load_category_map({"NOUN": "lexical"})
    bad = tmp_path / "map.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        headlens.RunConfig(analyses="categories", options={"categories": {"map": str(bad)}})


def _reference(att, token_unit, unit_word, tags):
    """Loops: Clark word attention (to = sum, from = mean), then the module's formulas."""
    n_units = int(token_unit.max()) + 1
    w = np.zeros((n_units, n_units))
    for u in range(n_units):
        rows = np.flatnonzero(token_unit == u)
        for k in range(n_units):
            w[u, k] = att[np.ix_(rows, np.flatnonzero(token_unit == k))].sum(1).mean()
    cat = [DEFAULT_MAP.get(tags[uw], "drop") if uw >= 0 else "drop" for uw in unit_word]
    kept = [u for u in range(n_units) if cat[u] != "drop"]
    a = {(i, j): w[i, j] / sum(w[i, k] for k in kept) for i in kept for j in kept}
    members = {c: [u for u in kept if cat[u] == c] for c in ("content", "function")}
    out = {}
    for q in members:
        for k in members:
            cells = [a[i, j] for i in members[q] for j in members[k]]
            out[f"cat_{q}_{k}"] = float(np.mean(cells)) if cells else math.nan
    for k in members:
        out[f"cat_recv_{k}"] = float(np.mean([np.mean([a[i, j] for i in kept]) for j in members[k]])) if members[k] else math.nan
    out["cat_pref"] = out["cat_recv_content"] - out["cat_recv_function"]
    return out


def test_run_scores_equal_loops_over_the_stored_maps(tmp_path, tiny_bert_dir):
    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), analyses=("categories",),
                       dtype="float64", progress=False, store_maps=("0", "1", "2", "3"))
    stored = {(r["sentence_id"], r["layer"], r["head"], r["metric"]): r["value"] for r in run.scores().to_pylist()}
    tags = [[line.split("\t")[3] for line in block.splitlines() if line and not line.startswith("#")]
            for block in CONLLU.strip().split("\n\n")]
    checked = 0
    for sid in range(4):
        z = np.load(f"{run.path}/maps/sentence-{sid}.npz")
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                ref = _reference(z["attention"][layer, head].astype(np.float64), z["token_unit"], z["unit_word"], tags[sid])
                for name, value in ref.items():
                    key = (sid, layer, head, name)
                    if math.isnan(value):
                        assert key not in stored, key
                    else:
                        assert stored[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key  # maps are stored in float32
                        checked += 1
    assert checked > 150
    assert run.manifest["config"]["options"]["categories"]["keys"] == "renormalise"
    assert run.manifest["word_aggregation"] == "clark"
    json.dumps(run.manifest["config"]["options"]["categories"]["map"])  # recorded (None = the default map)


@pytest.fixture(scope="module")
def ud_runs(tmp_path_factory, tiny_bert_dir):
    from test_compare import _shifted_copy

    root = tmp_path_factory.mktemp("cats")
    base = headlens.run(out=str(root / "base"), model=tiny_bert_dir, corpus=headlens.CorpusSpec(
        headlens.default_corpus_path(), limit=40), analyses=("categories",), long="truncate", progress=False)
    shift = {("cat_pref", 0, h): 0.05 for h in range(4)}
    one = _shifted_copy(base, str(root / "task1"), shift, seed=1)
    two = _shifted_copy(base, str(root / "task2"), {**shift, **{("cat_pref", 1, h): -0.05 for h in range(4)}}, seed=2)
    return base, one, two


def test_run_tables_are_left_by_the_run(ud_runs):
    from headlens.store.outputs import read_outputs

    tables, params = read_outputs(ud_runs[0], "categories")
    assert set(tables) == {"heads", "layers", "pref_heads", "pref_layers"}
    assert tables["pref_layers"].num_rows == 2 and tables["pref_heads"].num_rows == 8
    assert params["families"]["heads"]["size"] == 8 and params["category_keys"] == "renormalise"


def test_task_bias_finds_the_shared_change_and_the_task_specific_one(ud_runs, capsys):
    from headlens.analyses.categories.stats import task_bias
    from headlens.cli import main

    base, one, two = ud_runs
    table, params = task_bias([base], [one, two])
    rows = {(r["task"], r["layer"]): r for r in table.to_pylist()}
    assert rows[(one.path, 0)]["change"] == "up" and rows[(two.path, 0)]["change"] == "up"
    assert rows[(one.path, 1)]["change"] == "" and rows[(two.path, 1)]["change"] == "down"
    assert rows[(one.path, 0)]["delta"] == pytest.approx(0.05, abs=0.003)
    assert params["task_agnostic"]["L1"]["change"] == "up" and params["task_agnostic"]["L2"]["change"] is None
    assert main(["categories", base.path, one.path, two.path]) == 0
    assert "L1: bias" in capsys.readouterr().out
    assert main(["categories", base.path, one.path]) == 0  # one task: nothing claimed across tasks
    out = capsys.readouterr().out
    assert "task-agnostic" not in out and "nothing is claimed across tasks" in out


def test_a_layer_change_below_the_margin_is_no_change(ud_runs, tmp_path):
    from headlens.analyses.categories.stats import task_bias
    from headlens.analyses.compare.changes import ChangeSettings
    from test_compare import _shifted_copy

    base = ud_runs[0]
    small = _shifted_copy(base, str(tmp_path / "small"), {("cat_pref", 0, h): 0.004 for h in range(4)}, seed=3)
    table, params = task_bias([base], [small], ChangeSettings(margin_word=0.01))
    row = [r for r in table.to_pylist() if r["layer"] == 0][0]
    assert row["q_change"] < 0.05 and row["delta"] == pytest.approx(0.004, abs=0.001)  # significant, yet
    assert row["change"] == "" and row["verdict"] == "equivalent" and row["margin"] == 0.01
    assert params["task_agnostic"] == {} and "0.01 for the category" in params["margins"]  # one task: no claim across tasks
    table, _ = task_bias([base], [small])  # the default margin of the category metrics, 0.001
    row = [r for r in table.to_pylist() if r["layer"] == 0][0]
    assert row["change"] == "up" and row["verdict"] == "changed" and row["margin"] == 0.001


def test_task_bias_needs_a_base_of_the_same_corpus(ud_runs, tmp_path, tiny_bert_dir):
    from headlens.analyses.categories.stats import task_bias

    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    other = headlens.run(out=str(tmp_path / "other"), model=tiny_bert_dir, corpus=str(corpus), analyses=("categories",),
                         progress=False)
    with pytest.raises(ConfigError, match="no base run read that corpus"):
        task_bias([ud_runs[0]], [other])
