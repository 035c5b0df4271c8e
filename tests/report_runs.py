"""Runs for the report tests: a 12-layer x 12-head tiny BERT on CoNLL-U sentences plus two hostile ones.

``report_runs(factory)`` builds them once per test session (the three report test files share
them): ``after`` has surface, roles, syntax, cluster, categories and decomposition outputs and
stored maps of sentences 0-7 and the hostile ones (the head view draws stored maps only); ``base`` is another random model on the same corpus (surface and
categories), compared with ``after`` and stored as ``after/compare/vs-base``. ``after`` also gets an
ablation output directory with the ablation sweep's columns, and the one-hot pattern-type
metrics in its heads table, so that every view of the report has data.
"""

from __future__ import annotations

import json
import os
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tiny import WORDS, make_tiny_bert

import headlens
from headlens.heads import head_label, layer_label
from headlens.analyses.compare.stats import compare_runs, save_compare
from headlens.store.outputs import write_outputs
from headlens.store import open_run
from headlens.store.integrity import record

SCRIPT = "<script>window.__pwned=1</script> hello"
IMG = 'a cat <img src=x onerror="window.__pwned=1"> sat'
HOSTILE = (SCRIPT, IMG)
LAYERS = HEADS = 12
SENTENCES = 12
PATTERN_TYPES = ("vertical", "diagonal", "block", "heterogeneous")

_CACHE: dict = {}


def conllu_block(text: str, sent_id: str) -> str:
    """A CoNLL-U sentence for ``text``: words by a regex, a chain of heads, UPOS by word shape."""
    rows = []
    words = list(re.finditer(r"\w+|[^\w\s]", text))
    for i, m in enumerate(words):
        form = m.group()
        punct = not form[0].isalnum() and form[0] != "_"
        upos = "PUNCT" if punct else ("DET" if form in ("a", "the") else ("NOUN" if i % 2 else "VERB"))
        rel = "root" if i == 0 else ("punct" if punct else ("det" if upos == "DET" else "dep"))
        space = "_" if m.end() < len(text) and text[m.end()] == " " or m.end() == len(text) else "SpaceAfter=No"
        rows.append(f"{i + 1}\t{form}\t{form}\t{upos}\t_\t_\t{i}\t{rel}\t_\t{space}")
    return f"# sent_id = {sent_id}\n# text = {text}\n" + "\n".join(rows) + "\n"


def write_corpus(path: str, n: int = SENTENCES, seed: int = 0) -> str:
    """``n`` sentences of 8-30 words of the tiny vocabulary (one token per word, so the 144-head
    analyses stay fast) with a full-stop, then the hostile ones."""
    rng = random.Random(seed)
    plain = [w for w in WORDS if not w.startswith("##") and w not in ("un",)]
    texts = [" ".join(rng.choice(plain) for _ in range(rng.randint(8, 30))) + " ." for _ in range(n)]
    blocks = [conllu_block(t, f"s{k}") for k, t in enumerate(texts)]
    blocks += [conllu_block(t, f"hostile-{k}") for k, t in enumerate(HOSTILE)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(blocks) + "\n")
    return path


def _add_patterns(run_dir: str) -> None:
    """One-hot pattern-type shares per head (the form ``--analyses patterns`` stores) in heads.parquet."""
    heads = pq.read_table(os.path.join(run_dir, "heads.parquet"))
    rng = np.random.default_rng(0)
    share = rng.dirichlet(np.ones(len(PATTERN_TYPES)), size=LAYERS * HEADS)
    rows = []
    for t, name in enumerate(PATTERN_TYPES):
        for k in range(LAYERS * HEADS):
            rows.append({"metric": f"pattern_is_{name}", "level": "token", "layer": k // HEADS, "head": k % HEADS,
                         "label": head_label(k // HEADS, k % HEADS), "count": 26, "mean": float(share[k, t]),
                         "std": 0.1, "min": 0.0, "max": 1.0})
    extra = pa.Table.from_pylist(rows).cast(heads.schema)
    pq.write_table(pa.concat_tables([heads, extra]), os.path.join(run_dir, "heads.parquet"))
    path = os.path.join(run_dir, "manifest.json")
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    manifest["metrics"] += [{"name": f"pattern_is_{n}", "level": "token", "analysis": "patterns",
                             "description": f"1 when the map is of type {n}"} for n in PATTERN_TYPES]
    manifest["files"].update(record(run_dir, ["heads.parquet"]))  # the new file's checksum, as a run records it
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)


def _add_ablation(run) -> None:
    """An ablation sweep's table (one row per ablated head or layer and metric) in RUN/ablation/sweep/."""
    rng = np.random.default_rng(1)
    rows = []
    for metric in ("accuracy", "f1"):
        for k in range(LAYERS * HEADS):
            delta = float(rng.normal(0, 0.01))
            q = 0.0 if k == 5 else 0.001 if k == 77 else 0.8  # L1H6: a q that underflowed to 0 (shown "< 1e-300")
            rows.append({"kind": "head", "layer": k // HEADS, "head": k % HEADS, "label": head_label(k // HEADS, k % HEADS),
                         "mode": "mean", "metric": metric, "delta": delta, "ci_low": delta - 0.01, "ci_high": delta + 0.01,
                         "p": q / 2, "q": q, "decision": ("hurts" if delta < 0 else "helps") if q < 0.05 else "none",
                         "underpowered": k == 6})
        for layer in range(LAYERS):
            rows.append({"kind": "layer", "layer": layer, "head": -1, "label": layer_label(layer), "mode": "mean",
                         "metric": metric, "delta": -0.02, "ci_low": -0.03, "ci_high": -0.01, "p": 0.01, "q": 0.02,
                         "decision": "hurts", "underpowered": layer == 1})
    write_outputs(run, "ablation", "sweep", {"ablations": pa.Table.from_pylist(rows)},
                  {"stats": {"alpha": 0.05, "correction": "fdr_bh"}, "mode": "mean"})


def report_runs(factory) -> dict:
    """{'after': Run, 'base': Run, 'model': dir, 'root': dir}, built once per session."""
    if "runs" in _CACHE:
        return _CACHE["runs"]
    root = factory.mktemp("report-runs")
    corpus = write_corpus(str(root / "corpus.conllu"))
    model = make_tiny_bert(str(root / "model"), layers=LAYERS, heads=HEADS, hidden=48, max_positions=512)
    other = make_tiny_bert(str(root / "model-b"), layers=LAYERS, heads=HEADS, hidden=48, max_positions=512, seed=1)
    after = headlens.run(out=str(root / "after"), model=model, corpus=corpus, progress=False, store_maps=(*map(str, range(8)), *(f"hostile-{k}" for k in range(len(HOSTILE)))),
                         analyses=("surface", "roles", "syntax", "cluster", "categories", "decomposition"))
    base = headlens.run(out=str(root / "base"), model=other, corpus=corpus, progress=False, analyses=("surface", "categories"))
    changes, params = compare_runs(base, after)
    save_compare(after, changes, params)
    _add_ablation(after)
    _add_patterns(after.path)
    _CACHE["runs"] = {"after": open_run(after.path), "base": base, "model": model, "root": str(root), "corpus": corpus}
    return _CACHE["runs"]


def hostile_ids(run) -> list[int]:
    return [r["sentence_id"] for r in run.sentences().to_pylist() if (r["sent_id"] or "").startswith("hostile-")]
