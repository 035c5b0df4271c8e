"""The layers section of the report: per-layer probe accuracy and selectivity, the structural probe
and context sensitivity, from the tables ``headlens layers RUN`` saved (layer 0 = the embeddings)."""

from __future__ import annotations

import pyarrow as pa

from ...render.blocks import block, interval
from ...render.marks import fmt

PROBES = {"upos": "UPOS probe", "relation": "relation edge probe"}


def _probe(name: str, rows: list[dict], info: dict) -> dict:
    note = (f"Linear probe per layer on held-out sentences ({info.get('test_items', '?')} test words); control = the same probe "
            f"on Hewitt & Liang's control labels; selectivity = accuracy - control. Majority class "
            f"{info.get('majority_class', '?')}: {fmt(info.get('majority_accuracy'))}.")
    return block(PROBES[name], ["layer", "accuracy", "95% CI", "control", "selectivity", "95% CI"],
                 ([r["layer"], r["accuracy"], interval(r["accuracy_low"], r["accuracy_high"]), r["control"], r["selectivity"],
                   interval(r["selectivity_low"], r["selectivity_high"])] for r in rows), note)


def layers_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
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
    note = (f"{params.get('words', '?')} words of {params.get('sentences', '?')} sentences sampled; layer 0 = the embeddings. "
            + "; ".join(f"skipped {k}: {v}" for k, v in (params.get("skipped") or {}).items()))
    return {"note": note, "blocks": blocks}, {}
