"""The run comparison that the resume and store tests share: a resumed or repaired run equals a reference."""

from __future__ import annotations

import os

import numpy as np

import headlens


def assert_same_run(path: str, ref: str) -> None:
    """Sentences, scores (within 1e-6), head summaries and counts equal those of ``ref``; no temporary file is left."""
    a, b = headlens.open_run(path), headlens.open_run(ref)
    assert a.sentences().to_pylist() == b.sentences().to_pylist()
    key = lambda t: sorted(zip(t["sentence_id"], t["layer"], t["head"], t["metric"], t["value"]))  # noqa: E731
    sa, sb = key(a.scores().to_pydict()), key(b.scores().to_pydict())
    assert [r[:4] for r in sa] == [r[:4] for r in sb]
    np.testing.assert_allclose([r[4] for r in sa], [r[4] for r in sb], rtol=1e-6, atol=1e-7)
    order = [("metric", "ascending"), ("layer", "ascending"), ("head", "ascending")]
    ha, hb = (r.heads().sort_by(order).to_pydict() for r in (a, b))
    assert ha["metric"] == hb["metric"] and ha["label"] == hb["label"] and ha["count"] == hb["count"]
    for col in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(np.asarray(ha[col], dtype=float), np.asarray(hb[col], dtype=float), rtol=1e-6, atol=1e-7,
                                   err_msg=col)  # None (no sentence scored the head) as NaN
    assert a.manifest["counts"] == b.manifest["counts"]
    assert not [f for _, _, fs in os.walk(path) for f in fs if ".tmp-" in f]
