"""The syntax section of the report, from the tables its statistics step saved."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from ...heads import head_index
from ...render.encode import num
from ...units import format_p
from ...render.marks import alpha_of, fmt


def syntax_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    best = [{k: (num(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in tables["best"].to_pylist()]
    marks: dict = defaultdict(dict)
    if "heads" in tables:
        for r in tables["heads"].to_pylist():
            if r.get("beats_baseline"):
                marks[f"dep_{r['relation']}_{r['direction']}"][head_index(int(r["layer"]), int(r["head"]), heads)] = (
                    f"beats the offset baseline for {r['relation']} ({r['direction']}): accuracy "
                    f"{fmt(r.get('accuracy'))} vs {fmt(r.get('baseline_accuracy'))}, q {format_p(r.get('q'))}")
    baselines = {}
    if "baselines" in tables:
        brow = tables["baselines"].to_pylist()
        rels = list(dict.fromkeys(r["relation"] for r in brow))
        offsets = sorted({int(r["offset"]) for r in brow})
        acc = {(r["relation"], int(r["offset"])): r.get("accuracy") for r in brow}
        rels = [rel for rel in rels if any(acc.get((rel, o)) is not None for o in offsets)]  # relations with arcs
        baselines = {"relations": rels, "offsets": offsets,
                     "accuracy": [[num(acc.get((rel, o)), 4) for o in offsets] for rel in rels]}
    return {"best": best, "baselines": baselines, "alpha": alpha_of(params),
            "family": (params.get("family") or {}).get("name")}, dict(marks)
