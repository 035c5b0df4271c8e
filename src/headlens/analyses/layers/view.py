"""The layers section of the report: per-layer probe accuracy and selectivity, the structural probe,
context sensitivity and word-sense geometry, from the tables ``headlens layers RUN`` saved (layer 0
= the embeddings), with the interactive PCA scatter of the sampled words (``pca.py``; drawn by the
section's own script, ``scatter.js``); and, for a ``headlens layers compare`` output, the pre/post panel: the
linear CKA of each layer beside the probe accuracy deltas with their intervals and verdicts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ...render.blocks import block, interval
from ...render.marks import fmt

PROBES = {"upos": "UPOS probe", "relation": "relation edge probe"}
ALPHA = 0.05  # the pre/post panel's verdict: q (Holm over layers) below this
DIGITS = 4  # the scatter's coordinates


def _probe(name: str, rows: list[dict], info: dict) -> dict:
    note = (f"Linear probe per layer on held-out sentences ({info.get('test_items', '?')} test words); control = the same probe "
            f"on Hewitt & Liang's control labels; selectivity = accuracy - control. Majority class "
            f"{info.get('majority_class', '?')}: {fmt(info.get('majority_accuracy'))}.")
    return block(PROBES[name], ["layer", "accuracy", "95% CI", "control", "selectivity", "95% CI"],
                 ([r["layer"], r["accuracy"], interval(r["accuracy_low"], r["accuracy_high"]), r["control"], r["selectivity"],
                   interval(r["selectivity_low"], r["selectivity_high"])] for r in rows), note)


def _senses(rows: list[dict], info: dict) -> dict:
    top = ", ".join(f"{x['lemma']} {fmt(x['ratio'])}" for x in (info.get("most_spread_last_layer") or [])[:5])
    return block("word-sense geometry (Coenen et al. 2019, without sense labels)",
                 ["layer", "lemmas", "spread", "95% CI", "spread adj.", "between lemmas", "ratio", "95% CI"],
                 ([r["layer"], r["lemmas"], r["spread"], interval(r["spread_low"], r["spread_high"]), r["spread_adjusted"],
                   r["between"], r["ratio"], interval(r["ratio_low"], r["ratio_high"])] for r in rows),
                 "Spread: a lemma's mean cosine distance between its occurrences in different sentences (gold lemmas); "
                 "adj.: minus the distance of random word pairs (1 - anisotropy); ratio: spread over the lemma's distance "
                 "to other lemmas' occurrences. Intervals over lemmas. Largest ratio at the last layer: " + (top or "none"))


def scatter(pca: pa.Table, points: pa.Table) -> dict:
    """The report's PCA scatter: per layer the points' coordinates [x0, y0, x1, y1, ...], and each
    point's word, UPOS and sentence (an index into ``texts``)."""
    layer, x, y = (pca[c].to_numpy() for c in ("layer", "x", "y"))
    order = np.lexsort((pca["point"].to_numpy(), layer))
    layers = int(layer.max()) + 1 if len(layer) else 0
    xy = np.round(np.stack([x[order], y[order]], 1).reshape(layers, -1), DIGITS)
    text = points["text"].to_pylist()
    texts = list(dict.fromkeys(text))
    at = {t: k for k, t in enumerate(texts)}
    return {"layers": layers, "coords": xy.tolist(), "form": points["form"].to_pylist(), "upos": points["upos"].to_pylist(),
            "sentence": [at[t] for t in text], "texts": texts}


def _verdict(r: dict) -> str:
    if r["q"] < ALPHA:
        return "B higher" if r["delta"] > 0 else "A higher"
    return "no evidence of a change"


def compare_view(tables: dict[str, pa.Table], params: dict) -> dict:
    """The pre/post panel of a ``layers compare`` output: per layer of A, the CKA with the same layer
    of B and with B's most similar layer, and each probe's accuracy on both runs with the delta."""
    cka = tables["cka"].to_pylist()
    same = {r["layer_a"]: r["cka"] for r in cka if r["layer_a"] == r["layer_b"]}
    best: dict[int, dict] = {}
    for r in cka:
        if r["layer_a"] not in best or r["cka"] > best[r["layer_a"]]["cka"]:
            best[r["layer_a"]] = r
    deltas = tables["probes"].to_pylist() if "probes" in tables else []
    tasks = list(dict.fromkeys(r["task"] for r in deltas))
    by = {(r["task"], r["layer"]): r for r in deltas}
    columns = ["layer", "CKA, same layer of B", "most similar B layer", "its CKA"]
    for t in tasks:
        columns += [f"{t} A", f"{t} B", f"{t} B - A", "95% CI", "q", "verdict"]
    rows = []
    for layer in sorted(best):
        row = [layer, same.get(layer), best[layer]["layer_b"], best[layer]["cka"]]
        for t in tasks:
            r = by.get((t, layer))
            row += ([r["accuracy_a"], r["accuracy_b"], r["delta"], interval(r["delta_low"], r["delta_high"]), r["q"], _verdict(r)]
                    if r else [None, None, None, "", None, ""])
        rows.append(row)
    probes = params.get("probes") or {}
    note = (f"A = {params.get('run_a', '?')}, B = {params.get('run_b', '?')}: {params.get('words', '?')} shared words; "
            f"linear CKA (Kornblith et al. 2019) on word-level vectors of the same words. Probe deltas: paired bootstrap over "
            f"{probes.get('test_sentences', '?')} held-out sentences, q Holm-corrected over layers, verdict at q < {ALPHA}; "
            "layer k of A against layer k of B. "
            + "; ".join(f"skipped {k}: {v}" for k, v in (probes.get("skipped") or {}).items()))
    return {"note": note, "blocks": [block("pre/post: CKA and probe accuracy per layer", columns, rows)]}


def layers_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    if "cka" in tables:
        return compare_view(tables, params), {}
    probes = params.get("probes") or {}
    blocks = [_probe(name, tables[name].to_pylist(), probes.get(name) or {}) for name in PROBES if name in tables]
    if "structural" in tables:
        blocks.append(block(
            "structural probe (Hewitt & Manning 2019)", ["layer", "UUAS", "95% CI", "p vs layer 0", "Spearman", "plain distance Spearman"],
            ([r["layer"], r["uuas"], interval(r["uuas_low"], r["uuas_high"]), r["uuas_vs_layer0_p"], r["spearman"],
              r["raw_spearman"]] for r in tables["structural"].to_pylist()),
            "Undirected attachment score of the minimum spanning tree of the probe's distances, on held-out sentences."))
    if "context" in tables:
        rows = tables["context"].to_pylist()
        cols = [c for c in ("anisotropy", "self_similarity", "self_similarity_adjusted") if rows and c in rows[0]]
        blocks.append(block("context sensitivity (Ethayarajh 2019)", ["layer", *cols], ([r["layer"], *(r[c] for c in cols)] for r in rows),
                            "Cosine similarity of a word type's vectors across its sentences, minus the layer's anisotropy."))
    if "senses" in tables:
        blocks.append(_senses(tables["senses"].to_pylist(), params.get("senses") or {}))
    note = (f"{params.get('words', '?')} words of {params.get('sentences', '?')} sentences sampled; layer 0 = the embeddings. "
            + "; ".join(f"skipped {k}: {v}" for k, v in (params.get("skipped") or {}).items()))
    view = {"note": note, "blocks": blocks}
    if "pca" in tables and "pca_points" in tables:
        view["scatter"] = scatter(tables["pca"], tables["pca_points"])
    return view, {}
