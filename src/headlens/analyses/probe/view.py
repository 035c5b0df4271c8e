"""The probe section of the report, from a probe result stored in the run (``probe/results.py``)."""

from __future__ import annotations

import pyarrow as pa

from ...render.blocks import block, interval


def probe_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    s = params.get("settings") or {}
    blocks = [block("parser probes (Clark et al. 2019)", ["probe", "UAS", "vs right-branching", "95% CI", "p"],
                    ([r["probe"], r["uas"], r["delta"], interval(r["ci_low"], r["ci_high"]), r["p"]]
                     for r in tables["uas"].to_pylist()),
                    f"Trained on {params.get('train_sentences', '?')} sentences, scored on {params.get('eval_sentences', '?')} "
                    f"({params.get('scored_words', '?')} words, punctuation excluded); features {s.get('features', '?')}. "
                    "UAS: share of words whose predicted head is the gold head; distance: the probe on word distance alone.")]
    pw = params.get("pairwise")
    if pw:
        blocks.append(block("pairwise probes (Coenen et al. 2019)", ["probe", "accuracy", "items", "baseline"],
                            [["arc vs no arc", pw["arc_accuracy"], pw["arc_n"], "0.5 (balanced pairs)"],
                             ["relation label", pw["relation_accuracy"], pw["relation_n"], f"{pw['relation_majority']:.3g} (majority)"]]))
    return {"note": "", "blocks": blocks}, {}
