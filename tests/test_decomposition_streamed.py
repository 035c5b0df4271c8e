"""The decomposition summaries read the run's parts one at a time (issue 16) and give the numbers the
whole ``layers`` table gives: a reference computed here with pandas over ``tables.read``."""

import numpy as np
import pandas as pd
import pytest

import headlens
from headlens import collect
from headlens.analyses.decomposition import stats as dec
from headlens.analyses.decomposition.summary import LayerSums
from headlens.decompose import tables

RTOL = 1e-9


@pytest.fixture(scope="module")
def ff_run(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("decstream")
    return headlens.run(model=tiny_bert_dir, analyses=("decomposition_ff",), out=str(root / "run"), progress=False,
                        part_size=4, mask_rate=0.12, long="truncate", max_batch=4, corpus=headlens.CorpusSpec(
                            headlens.config.default_corpus_path(), format="conllu", limit=14))


@pytest.fixture(scope="module")
def whole(ff_run):
    t = tables.read(ff_run)
    layers = t["layers"].to_pandas()
    layers["metric"], layers["group"] = layers["metric"].astype(str), layers["group"].astype(str)
    return layers, t["ffpairs"]


def _weighted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    df = df.assign(wv=df["value"] * df["count"])
    g = df.groupby(by).agg(wv=("wv", "sum"), count=("count", "sum"), sentences=("sentence_id", "count")).reset_index()
    return g.assign(mean=g["wv"] / g["count"])


def _rows(table, keys):
    return {tuple(r[k] for k in keys): r for r in table.to_pylist()}


def test_the_run_has_several_parts(ff_run):
    assert ff_run.committed["parts"] >= 3


def test_streamed_summaries_equal_the_whole_table(ff_run, whole, monkeypatch):
    layers, ffpairs = whole

    def refuse(*a, **k):
        raise AssertionError("the summaries must read the parts one at a time, not all at once")

    monkeypatch.setattr(collect, "read_parts", refuse)
    sums, top = dec.layer_sums(ff_run, top=7)
    mix = dec.mixing(sums)
    got = _rows(mix, ("layer", "map", "group"))
    m = layers[layers["metric"].str.startswith("mixing:")].assign(metric=lambda d: d["metric"].str[len("mixing:"):])
    ref = _weighted(m, ["layer", "metric", "group"])
    assert len(ref) > 0 and sum(1 for k in got if k[0] >= 0) == len(ref)
    for r in ref.itertuples():
        row = got[(r.layer, r.metric, r.group)]
        assert (row["tokens"], row["sentences"]) == (r.count, r.sentences)
        assert row["mean"] == pytest.approx(r.mean, rel=RTOL)
    over = ref.assign(wv=ref["mean"] * ref["count"]).groupby(["metric", "group"]).agg(
        wv=("wv", "sum"), count=("count", "sum"), sentences=("sentences", "max")).reset_index()
    for r in over.itertuples():
        row = got[(-1, r.metric, r.group)]
        assert row["mean"] == pytest.approx(r.wv / r.count, rel=RTOL) and row["sentences"] == r.sentences
    c = layers[layers["metric"].str.startswith("change:")]
    ref_c = c.groupby(["layer", "metric"])["value"].agg(["mean", lambda v: v.std(ddof=0), "count"]).reset_index()
    got_c = _rows(dec.change(sums), ("layer", "component"))
    assert len(got_c) == len(ref_c) > 0
    for r in ref_c.itertuples():
        row = got_c[(r.layer, r.metric[len("change:"):])]
        assert row["mean"] == pytest.approx(r.mean, rel=RTOL) and row["sentences"] == r.count
        assert row["std"] == pytest.approx(r[4], rel=RTOL, abs=1e-15)
    amp = _weighted(layers[layers["metric"] == "ffamp"], ["layer", "group"])
    got_a = _rows(dec.ffamp(sums), ("layer", "pair_type"))
    assert len(got_a) == len(amp) > 0
    for r in amp.itertuples():
        assert got_a[(r.layer, r.group)]["mean_log2"] == pytest.approx(r.mean, rel=RTOL)
    comp = layers[layers["metric"].str.startswith("completeness:")].groupby("metric")["value"].max()
    assert dec.completeness(sums) == {k[len("completeness:"):]: v for k, v in comp.items()}
    assert dec.has_ff(sums)
    assert top.to_pylist() == dec.top_pairs(ffpairs, 7).to_pylist()


def test_merged_halves_equal_one_pass(ff_run):
    from headlens.collect import iter_parts

    parts = list(iter_parts(ff_run, "decomposition"))
    layers = int(ff_run.manifest["model"]["num_layers"])
    one = LayerSums(layers, [])
    for p in parts:
        one.add(p)
    a, b = LayerSums(layers, []), LayerSums(layers, [])
    for p in parts[:2]:
        a.add(p)
    for p in parts[2:]:
        b.add(p)
    assert a.metrics == b.metrics  # every part's dictionary names the run's metrics
    merged = a.merge(b)
    for name in ("rows", "count"):
        assert np.array_equal(getattr(merged, name), getattr(one, name))
    np.testing.assert_allclose(merged.weighted, one.weighted, rtol=1e-12)
    np.testing.assert_allclose(merged.moments.m2, one.moments.m2, rtol=1e-9, atol=1e-15)
    assert np.array_equal(merged.moments.max, one.moments.max)
