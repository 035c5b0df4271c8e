"""A synthetic run for the scale benchmarks: the real store schema, N sentences of scores drawn from
fixed distributions with planted effects, no model.

    .venv/bin/python benchmarks/synthetic.py OUT --sentences 200000 [--layers 12 --heads 12] [--seed 0]
        [--analyses roles,categories,syntax] [--shift 0.0]   (roles1: the local role's scores alone)

What it writes is what ``headlens run`` writes for the statistics to read: ``manifest.json``
(store format 2, float32 values, counts, checksums of every file), ``scores/`` and
``sentences/`` parts, the syntax collector's parts (``collect/syntax/``) and ``heads.parquet``.
The draws, per sentence and head (independent across sentences):

- roles (``role_local_w2``, ``role_delim``, ``role_block``): Normal(1, 0.5); the planted role
  heads ``ROLE_HEADS`` Normal(3.5, 1) (mean above tau = 3: a role); ``NULL_HEADS`` Normal(3, 1),
  exactly at tau: the hardest null (no role), where a test rejects at its alpha;
- categories (``cat_pref``, ``cat_recv_content``, ``cat_recv_function``): Normal(0, 0.1), 0.2,
  0.1 +- 0.05;
- syntax (relations ``nsubj`` and ``obj``): arcs per sentence Poisson(1.2); hits of the offset
  baselines Binomial(arcs, ``OFFSET_P``); hits of a head Binomial(arcs, 0.15), of the planted
  syntax heads Binomial(arcs, 0.6); no score row where a sentence has no arc.

``--shift`` adds that much to the planted heads' ``CHANGED`` scores (a second run of the same
corpus for ``headlens compare``: those heads changed, no other). Parts are written vectorised, one
part of ``--part-size`` sentences at a time: memory is one part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from headlens.accumulate import Moments  # noqa: E402
from headlens.store import integrity, layout  # noqa: E402
from headlens.store.tables import SCORES_WRITE_OPTIONS, SENTENCES_SCHEMA, STORE_FORMAT, heads_table, scores_schema, scores_table  # noqa: E402

ROLE_METRICS = ("role_local_w2", "role_delim", "role_block")
CATEGORY_METRICS = ("cat_pref", "cat_recv_content", "cat_recv_function")
RELATIONS = ("nsubj", "obj")
OFFSETS = (-3, -2, -1, 0, 1, 2)
OFFSET_P = np.asarray([0.05, 0.1, 0.3, 0.02, 0.25, 0.08])
ROLE_HEADS = {"role_local_w2": [(0, 1), (3, 5)], "role_delim": [(7, 0)], "role_block": [(10, 11), (11, 2)]}
NULL_HEADS = {"role_local_w2": [(2, 2)], "role_delim": [(5, 5)], "role_block": []}
SYNTAX_HEADS = {"nsubj": [(6, 3)], "obj": [(8, 8)]}
CHANGED = {"cat_pref": [(4, 4)], "role_delim": [(1, 1)]}


def metric_names(analyses: tuple[str, ...]) -> list[str]:
    """The metrics of ``analyses`` (roles, categories, syntax; "roles1": role_local_w2 alone)."""
    out = []
    if "roles" in analyses:
        out += ROLE_METRICS
    elif "roles1" in analyses:
        out += ROLE_METRICS[:1]
    if "categories" in analyses:
        out += CATEGORY_METRICS
    if "syntax" in analyses:
        out += [f"dep_{r}_{d}" for r in RELATIONS for d in ("d2h", "h2d")]
    return out


def _heads(cells, heads: int) -> list[int]:
    return [layer * heads + head for layer, head in cells]


def _planted(layers: int, heads: int) -> dict:
    """The planted cells that fit the model (a smaller model drops those outside it)."""
    fits = lambda cells: [(a, b) for a, b in cells if a < layers and b < heads]  # noqa: E731
    return {"roles": {m: fits(c) for m, c in ROLE_HEADS.items()}, "null": {m: fits(c) for m, c in NULL_HEADS.items()},
            "syntax": {r: fits(c) for r, c in SYNTAX_HEADS.items()}, "changed": {m: fits(c) for m, c in CHANGED.items()}}


def _part(rng, n: int, names: list[str], layers: int, heads: int, shift: float, planted: dict):
    """values [n, M, layers, heads] float32 (NaN: no score) and the syntax counts [n, R, 1 + offsets]."""
    k = layers * heads
    values = np.empty((n, len(names), k), dtype=np.float32)
    counts = np.zeros((n, len(RELATIONS), 1 + len(OFFSETS)), dtype=np.int64)
    arcs = {}
    for r, rel in enumerate(RELATIONS):
        a = rng.poisson(1.2, n)
        counts[:, r, 0] = a
        counts[:, r, 1:] = rng.binomial(a[:, None], OFFSET_P[None, :])
        arcs[rel] = a
    for m, name in enumerate(names):
        if name in ROLE_METRICS:
            mu, sd = np.full(k, 1.0, np.float32), np.full(k, 0.5, np.float32)
            mu[_heads(planted["roles"][name], heads)], sd[_heads(planted["roles"][name], heads)] = 3.5, 1.0
            mu[_heads(planted["null"][name], heads)], sd[_heads(planted["null"][name], heads)] = 3.0, 1.0
            values[:, m] = rng.standard_normal((n, k), dtype=np.float32) * sd + mu
        elif name in CATEGORY_METRICS:
            mu = {"cat_pref": 0.0, "cat_recv_content": 0.2, "cat_recv_function": 0.1}[name]
            values[:, m] = rng.standard_normal((n, k), dtype=np.float32) * (0.1 if name == "cat_pref" else 0.05) + mu
        else:
            rel = name[4:-4]
            p = np.full(k, 0.15)
            p[_heads(planted["syntax"][rel], heads)] = 0.6
            hits = rng.binomial(arcs[rel][:, None], p[None, :]).astype(np.float32)
            hits[arcs[rel] == 0] = np.nan
            values[:, m] = hits
        if name in planted["changed"]:
            values[:, m, _heads(planted["changed"][name], heads)] += shift
    return values.reshape(n, len(names), layers, heads), counts


def _sentences(ids: np.ndarray) -> pa.Table:
    n = len(ids)
    none = pa.nulls(n, pa.string())
    return pa.table({
        "sentence_id": pa.array(ids, pa.int64()), "source": pa.array([f"synthetic:{i}" for i in ids]), "sent_id": none,
        "text": pa.array([""] * n), "text_b": none, "label": none, "status": pa.array(["analysed"] * n), "reason": none,
        "n_tokens": pa.array(np.full(n, 20, np.int32)), "n_words": pa.array(np.full(n, 16, np.int32)),
        "words_without_tokens": pa.array(np.zeros(n, np.int32)), "truncated": pa.array(np.zeros(n, bool)),
        "windows": pa.array(np.ones(n, np.int32)),
    }, schema=SENTENCES_SCHEMA)


def write_synthetic_run(out: str, sentences: int, layers: int = 12, heads: int = 12, seed: int = 0,
                        analyses: tuple[str, ...] = ("roles", "categories", "syntax"), shift: float = 0.0,
                        part_size: int = 2000) -> str:
    """Write the run directory ``out`` (created; it must not exist) and return it."""
    os.makedirs(out)
    names = metric_names(analyses)
    planted = _planted(layers, heads)
    rng = np.random.default_rng(seed)
    schema = scores_schema("float32")
    moments = Moments((len(names), layers, heads))
    files = []
    for part, start in enumerate(range(0, sentences, part_size)):
        ids = np.arange(start, min(sentences, start + part_size), dtype=np.int64)
        values, counts = _part(rng, len(ids), names, layers, heads, shift, planted)
        moments.update(values)
        for table, rel in ((scores_table(ids, values, names, schema), layout.part_file(layout.SCORES, part)),
                           (_sentences(ids), layout.part_file(layout.SENTENCES, part))):
            os.makedirs(os.path.dirname(layout.join(out, rel)), exist_ok=True)
            pq.write_table(table, layout.join(out, rel), **(SCORES_WRITE_OPTIONS if rel.startswith(layout.SCORES) else {}))
            files.append(rel)
        if "syntax" in analyses:
            rel = layout.collect_file("syntax", part)
            os.makedirs(os.path.dirname(layout.join(out, rel)), exist_ok=True)
            np.savez(layout.join(out, rel), sentence_ids=ids, counts=counts,
                     relations=np.asarray(RELATIONS, dtype=str), offsets=np.asarray(OFFSETS, dtype=np.int64))
            files.append(rel)
    levels = ["token"] * len(names)
    pq.write_table(heads_table(moments, names, levels), layout.join(out, layout.HEADS))
    files.append(layout.HEADS)
    corpus = hashlib.sha256(f"synthetic {sentences} sentences".encode()).hexdigest()
    manifest = {
        "format_version": STORE_FORMAT, "score_dtype": "float32", "status": "complete", "synthetic": {
            "seed": seed, "shift": shift, "planted": {k: {m: [list(c) for c in cells] for m, cells in v.items()}
                                                      for k, v in planted.items()}},
        "model": {"name": f"synthetic-{layers}x{heads}", "num_layers": layers, "num_heads": heads,
                  "weights_sha256": hashlib.sha256(f"synthetic seed {seed} shift {shift}".encode()).hexdigest()},
        "annotator": {"name": "gold", "scheme": "ud"},
        "corpus": {"path": f"synthetic-{sentences}", "sha256": corpus, "format": "synthetic"},
        "analyses": list(analyses),
        "metrics": [{"name": m, "level": "token", "analysis": "synthetic", "description": "synthetic draws"} for m in names],
        "config": {"word_aggregation": "clark", "long": "truncate", "options": {}},
        "counts": {"analysed": sentences, "skipped": 0},
        integrity.INTEGRITY: integrity.INTEGRITY_NOTE,
        "files": integrity.record(out, files),
    }
    with open(os.path.join(out, layout.MANIFEST), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--sentences", type=int, required=True)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--analyses", default="roles,categories,syntax")
    p.add_argument("--shift", type=float, default=0.0)
    p.add_argument("--part-size", type=int, default=2000)
    a = p.parse_args(argv)
    write_synthetic_run(a.out, a.sentences, a.layers, a.heads, a.seed, tuple(a.analyses.split(",")), a.shift, a.part_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
