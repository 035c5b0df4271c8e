"""The q.k logits a run stores with its maps, and the report's view data built from them (report/headview.py).

The browser side of the views (model view, token/word toggle, q.k view, before/after) is in
tests/test_views_browser.py.
"""

import os

import numpy as np
import pytest
from conftest import write

import headlens
from headlens.report import collect, headview
from headlens.store import layout, open_run

# sub-tokens in the tiny vocabulary: dog ##s, play ##ing, un ##able
LINES = ["the dogs were playing in the city .", "she was unable to go", "a man sat on the mat ."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write(tmp_path_factory.mktemp("views-corpus"), "c.txt", "\n".join(LINES) + "\n")


def _run(model, corpus, out, **kw):
    return headlens.run(out=str(out), model=model, corpus=corpus, annotator="regex", progress=False,
                        dtype="float64", analyses=("surface",), **kw)


def _f16(b64: str) -> np.ndarray:
    import base64

    return np.frombuffer(base64.b64decode(b64), dtype="<f2").astype(np.float64)


def _masked_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("attention", ["fused", "eager"])
def test_stored_logits_are_the_maps_before_the_softmax(tiny_bert_dir, corpus, tmp_path, attention):
    run = _run(tiny_bert_dir, corpus, tmp_path / attention, attention=attention, store_maps=("0", "1"))
    for sid in (0, 1):
        with np.load(layout.map_path(run.path, sid)) as z:
            logits, attn = z["logits"], z["attention"]
        assert logits.shape == attn.shape and logits.dtype == np.float32
        assert np.abs(logits).max() > 0
        np.testing.assert_allclose(_masked_softmax(logits.astype(np.float64)), attn, atol=1e-5)


def test_fused_and_eager_store_the_same_logits(tiny_bert_dir, corpus, tmp_path):
    runs = [_run(tiny_bert_dir, corpus, tmp_path / a, attention=a, store_maps=("2",)) for a in ("fused", "eager")]
    got = []
    for run in runs:
        with np.load(layout.map_path(run.path, 2)) as z:
            got.append(z["logits"])
    np.testing.assert_allclose(got[0], got[1], atol=1e-5)


def test_sentences_not_stored_get_no_maps_file(tiny_bert_dir, corpus, tmp_path):
    run = _run(tiny_bert_dir, corpus, tmp_path / "one", store_maps=("1",))
    assert headview.stored_map_ids(run) == [1]


def test_view_data_has_token_and_word_maps_logits_and_the_before_run(tiny_bert_dir, corpus, tmp_path):
    from tiny import make_tiny_bert

    other = make_tiny_bert(str(tmp_path / "model-b"), seed=3)
    after = _run(tiny_bert_dir, corpus, tmp_path / "after", store_maps=("0", "1"))
    before = _run(other, corpus, tmp_path / "before", store_maps=("1", "2"))
    data = collect.build(open_run(after.path), compare=before.path)
    hv = data["head_view"]
    first = hv["sentences"][0]
    assert len(first["tokens"]) == first["token_shape"][-1] > len(first["units"]) == first["shape"][-1]
    maxima, centred = (_f16(first[k]) for k in ("logits_max", "logits"))
    with np.load(layout.map_path(after.path, 0)) as z:
        np.testing.assert_allclose(centred.reshape(first["token_shape"]) + maxima.reshape(*first["token_shape"][:-1], 1),
                                   z["logits"], rtol=2e-3, atol=2e-3)
    with np.load(layout.map_path(after.path, 0)) as z:
        assert first["tokens"] == z["tokens"].tolist()
    # the before run stored sentence 1 only of the two: its maps come with that sentence alone
    before_of = {s["id"]: s.get("before") for s in hv["sentences"]}
    assert before_of[0] is None and before_of[1] is not None
    assert before_of[1]["token_shape"] == hv["sentences"][1]["token_shape"]
    assert hv["before_model"] == open_run(before.path).manifest["model"]["name"]


def test_a_stored_comparison_gives_the_before_maps_without_compare(tiny_bert_dir, corpus, tmp_path):
    from tiny import make_tiny_bert

    from headlens.analyses.compare.stats import compare_runs, save_compare

    after = _run(tiny_bert_dir, corpus, tmp_path / "after", store_maps=("0",))
    before = _run(make_tiny_bert(str(tmp_path / "model-b"), seed=3), corpus, tmp_path / "before", store_maps=("0",))
    assert collect.build(open_run(after.path))["head_view"]["before_model"] is None
    changes, params = compare_runs(before, after)
    save_compare(after, changes, params)
    hv = collect.build(open_run(after.path))["head_view"]
    assert hv["before_model"] == before.manifest["model"]["name"] and hv["sentences"][0]["before"] is not None
    # the before run moved away: the views go on without it
    os.rename(before.path, str(tmp_path / "moved"))
    hv = collect.build(open_run(after.path))["head_view"]
    assert hv["before_model"] is None and hv["sentences"][0]["before"] is None


def test_a_model_whose_attention_bypasses_the_interface_stores_no_logits(corpus, tmp_path):
    from tiny import make_tiny

    run = _run(make_tiny("mpnet", str(tmp_path / "mpnet")), corpus, tmp_path / "run", store_maps=("0",))
    with np.load(layout.map_path(run.path, 0)) as z:
        assert "logits" not in z.files and "attention" in z.files
    first = collect.build(open_run(run.path))["head_view"]["sentences"][0]
    assert "logits" not in first and first["attn"]
