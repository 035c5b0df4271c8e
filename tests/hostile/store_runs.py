"""Small runs for the hostile store tests (tests/hostile/test_store_*.py): a tiny random BERT, 24
sentences in parts of 4, and the comparison of a run with an uninterrupted reference run."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import headlens

LINES = [
    "the cat sat on the mat .",
    "new york is a city , he said !",
    "playing dogs ran",
    "a man went to the house and the woman said good day .",
    "i run",
    "they played in the city of new york for a year .",
] * 4
PART = 4


def options(model: str, corpus: str, out, **kw) -> dict:
    # no stored maps: the fault tests count the run's writes (manifest, 4 per part, heads, manifest)
    return dict(out=str(out), model=model, corpus=corpus, annotator="regex", progress=False, part_size=PART,
                max_tokens=40, sort_window=8, store_maps=(), **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("corpus") / "c.txt"
    p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return str(p)


@pytest.fixture(scope="module")
def reference(tiny_bert_dir, corpus, tmp_path_factory) -> str:
    """An uninterrupted run (surface metrics)."""
    return headlens.run(**options(tiny_bert_dir, corpus, tmp_path_factory.mktemp("reference") / "ref")).path


def copy_run(src: str, dst) -> str:
    shutil.copytree(src, str(dst), copy_function=shutil.copy2)
    return str(dst)


def flip_byte(path: str, at: int | None = None) -> None:
    """Change one byte of the file (the middle one unless ``at``), keeping its size."""
    with open(path, "r+b") as fh:
        data = bytearray(fh.read())
        i = len(data) // 2 if at is None else at
        data[i] ^= 0x5A
        fh.seek(0)
        fh.write(data)


def assert_same_run(path: str, ref: str) -> None:
    """Sentences, scores (within 1e-6), head summaries and counts equal those of ``ref``."""
    a, b = headlens.open_run(path), headlens.open_run(ref)
    assert a.sentences().to_pylist() == b.sentences().to_pylist()
    key = lambda t: sorted(zip(t["sentence_id"], t["layer"], t["head"], t["metric"], t["value"]))  # noqa: E731
    sa, sb = key(a.scores().to_pydict()), key(b.scores().to_pydict())
    assert [r[:4] for r in sa] == [r[:4] for r in sb]
    np.testing.assert_allclose([r[4] for r in sa], [r[4] for r in sb], rtol=1e-6, atol=1e-7)
    order = [("metric", "ascending"), ("layer", "ascending"), ("head", "ascending")]
    ha, hb = (r.heads().sort_by(order).to_pydict() for r in (a, b))
    assert ha["count"] == hb["count"] and ha["label"] == hb["label"]
    for col in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(ha[col], hb[col], rtol=1e-6, atol=1e-7, err_msg=col)
    assert a.manifest["counts"] == b.manifest["counts"]
    assert not [f for _, _, fs in os.walk(path) for f in fs if ".tmp-" in f]
