"""Labelled results: Run.to_xarray, Run.to_pandas and Run.heads_frame, and the one place of the
``layer * heads + head`` arithmetic (headlens/heads.py)."""

from __future__ import annotations

import os
import re

import numpy as np
import pyarrow as pa
import pytest
from report_runs import conllu_block
from test_runner import LINES

import headlens
from headlens.errors import RunStoreError
from headlens.heads import all_heads, by_layer, head_index, head_label, head_labels, head_of
from headlens.store.outputs import read_outputs, write_outputs

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "src", "headlens")
LAYERS, HEADS = 2, 4  # the tiny BERT of conftest.tiny_bert_dir


@pytest.fixture(scope="module")
def run(tiny_bert_dir, tmp_path_factory):
    """A run of 12 sentences with sent_ids (one too long to analyse), and a derived output table."""
    root = tmp_path_factory.mktemp("labelled")
    texts = LINES[:11] + [" ".join(["the cat sat"] * 40)]
    corpus = root / "c.conllu"
    corpus.write_text("\n".join(conllu_block(t, f"s-{k}") for k, t in enumerate(texts)) + "\n", encoding="utf-8")
    run = headlens.run(out=str(root / "run"), model=tiny_bert_dir, corpus=str(corpus), progress=False, long="skip",
                       max_tokens=64, analyses=("surface",), store_maps=())
    layer, head = all_heads(LAYERS, HEADS)
    heads = pa.table({"layer": layer, "head": head, "label": head_labels(LAYERS, HEADS), "score": np.linspace(0, 1, len(layer))})
    write_outputs(run, "roles", "default", {"heads": heads, "layers": pa.table({"layer": np.arange(LAYERS)})}, {"n": 1})
    return run


def test_to_xarray_equals_the_scores_table(run):
    data = run.to_xarray(level=None)
    assert list(data.data_vars) == run.metrics
    scores = run.scores().to_pydict()
    assert len(scores["value"]) > 0
    total = 0
    for metric in run.metrics:
        values = data[metric]
        assert values.dims == ("sentence", "layer", "head") and values.dtype == np.float64
        total += int(np.isfinite(values.values).sum())
    assert total == len(scores["value"])  # every stored value, and nothing else
    for sid, layer, head, metric, value in zip(*(scores[c] for c in ("sentence_id", "layer", "head", "metric", "value"))):
        got = data[metric].sel(sentence=sid, layer=layer, head=head).item()
        assert got == value  # exactly: the same float64


def test_to_xarray_coords(run):
    data = run.to_xarray()
    sentences = run.sentences().to_pylist()
    analysed = [r for r in sentences if r["status"] == "analysed"]
    assert len(analysed) < len(sentences)  # the long sentence was skipped and is left out
    assert data["sentence"].values.tolist() == [r["sentence_id"] for r in analysed]
    assert data["sent_id"].values.tolist() == [r["sent_id"] for r in analysed]
    assert data["layer"].values.tolist() == list(range(LAYERS)) and data["head"].values.tolist() == list(range(HEADS))
    assert data["label"].dims == ("layer", "head")
    assert data["label"].sel(layer=1, head=3).item() == "L2H4" == head_label(1, 3)
    levels = {m["name"]: m["level"] for m in run.manifest["metrics"]}
    assert list(data.data_vars) == [m for m in run.metrics if levels[m] == "token"]
    one = run.to_xarray("sas_cls") if "sas_cls" in run.metrics else run.to_xarray(run.metrics[0])
    assert len(one.data_vars) == 1
    with pytest.raises(RunStoreError, match="not in this run"):
        run.to_xarray(["no_such_metric"])


def test_to_pandas_round_trips(run):
    for name, arrow in (("scores", run.scores()), ("sentences", run.sentences()), ("heads", run.heads())):
        frame = run.to_pandas(name)
        assert list(frame.columns) == arrow.column_names and len(frame) == arrow.num_rows
        back = pa.Table.from_pandas(frame, schema=arrow.schema, preserve_index=False)
        assert back.equals(arrow)
    tables, _ = read_outputs(run, "roles")
    for table in tables:
        frame = run.to_pandas(f"roles/default/{table}")
        assert pa.Table.from_pandas(frame, schema=tables[table].schema, preserve_index=False).equals(tables[table])
        assert run.to_pandas(f"roles/{table}").equals(frame)
    by_head = run.to_pandas("roles/default/heads", by_head=True)
    assert by_head.index.names == ["layer", "head"]
    with pytest.raises(RunStoreError, match="no table"):
        run.to_pandas("roles/default/nothing")
    with pytest.raises(RunStoreError, match="no table"):
        run.to_pandas("nothing")


def test_heads_frame(run):
    frame = run.heads_frame()
    assert frame.index.names == ["layer", "head"] and list(frame.columns) == run.metrics
    assert frame.index.tolist() == list(zip(*(a.tolist() for a in all_heads(LAYERS, HEADS))))
    for r in run.heads().to_pylist():
        got = frame.loc[(r["layer"], r["head"]), r["metric"]]
        assert (np.isnan(got) and r["mean"] is None) or got == r["mean"]
        assert r["label"] == head_label(r["layer"], r["head"])
    counts = run.heads_frame("count", metrics=[run.metrics[0]])
    assert list(counts.columns) == [run.metrics[0]]
    with pytest.raises(RunStoreError, match="stat"):
        run.heads_frame("median")


def test_head_index_helpers():
    layer, head = all_heads(3, 5)
    k = head_index(layer, head, 5)
    assert k.tolist() == list(range(15))
    assert [x.tolist() for x in head_of(k, 5)] == [layer.tolist(), head.tolist()]
    assert head_of(13, 5) == (2, 3) and head_index(2, 3, 5) == 13
    assert head_labels(2, 2) == ["L1H1", "L1H2", "L2H1", "L2H2"]
    assert by_layer(np.arange(12.0).reshape(2, 6), 3)[1, 1].tolist() == [9.0, 10.0, 11.0]
    assert by_layer(np.zeros((0, 6)), 3).shape == (0, 2, 3)


# the arithmetic in any spelling of the head count: `x * heads + y`, `k // heads`, `k % heads`, `divmod(k, heads)`
ARITHMETIC = re.compile(r"\*\s*(self\.)?heads\s*\+|(//|%)\s*(self\.)?heads\b|divmod\([^,()]+,\s*(self\.)?heads\s*\)")
# divisibility checks of a width by the head count: no head index is formed
ALLOWED = {
    ("decompose/weights.py", "if w_o.shape[1] % heads:"),
    ("analyses/compare/changes.py", "if before.shape != after.shape or before.shape[1] % heads:"),
}


def test_the_head_index_arithmetic_is_written_once():
    found = []
    for d, _, files in os.walk(PACKAGE):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(d, f)
            rel = os.path.relpath(path, PACKAGE).replace(os.sep, "/")
            if rel == "heads.py":
                continue
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                code = line.split("#", 1)[0]
                if ARITHMETIC.search(code) and (rel, code.strip()) not in ALLOWED:
                    found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "use headlens.heads (head_index, head_of, all_heads):\n" + "\n".join(found)
    assert ARITHMETIC.search("c = int(layer) * heads + int(head)") and ARITHMETIC.search("k // self.heads")
