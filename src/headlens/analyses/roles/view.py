"""The roles section of the report, from the tables its statistics step saved."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from ...heads import head_index
from ...render.encode import num
from ...units import format_p
from ...render.marks import alpha_of, fmt


def roles_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    taus = (params.get("settings") or {}).get("taus") or [None]
    tau = taus[0]
    rows = [r for r in tables["heads"].to_pylist() if tau is None or r.get("tau") == tau]
    order = list(dict.fromkeys(r["role"] for r in rows))
    per_role, marks = [], defaultdict(dict)
    for role in order:
        mine = [r for r in rows if r["role"] == role]
        found = sorted((r for r in mine if r.get("is_role")), key=lambda r: -(r.get("mean") or 0))
        per_role.append({
            "role": role, "metric": mine[0].get("metric"), "tested": sum(1 for r in mine if r.get("status") == "ok"),
            "count": len(found),
            "heads": [[int(r["layer"]), int(r["head"]), num(r.get("mean"), 4), num(r.get("ci_low"), 4),
                       num(r.get("ci_high"), 4), num(r.get("q"), 3)] for r in found],
        })
        for r in found:
            marks[r["metric"]][head_index(int(r["layer"]), int(r["head"]), heads)] = (
                f"role {role} (tau {tau:g}): mean {fmt(r.get('mean'))}, q {format_p(r.get('q'))}")
    coloc = {}
    if "colocation" in tables:
        crow = [r for r in tables["colocation"].to_pylist() if tau is None or r.get("tau") == tau]
        names = list(dict.fromkeys(r["role_a"] for r in crow))
        both = {(r["role_a"], r["role_b"]): r for r in crow}
        coloc = {"roles": names,
                 "both": [[both.get((a, b), {}).get("heads_both") for b in names] for a in names],
                 "share": [[num(both.get((a, b), {}).get("share_of_a"), 3) for b in names] for a in names]}
    per_layer = {}
    if "layers" in tables:
        lrow = [r for r in tables["layers"].to_pylist() if tau is None or r.get("tau") == tau]
        names = list(dict.fromkeys(r["role"] for r in lrow))
        count = {(r["role"], r["layer"]): r["heads"] for r in lrow}
        per_layer = {"roles": names, "counts": [[count.get((n, layer), 0) for layer in range(layers)] for n in names]}
    view = {"tau": tau, "decision": params.get("decision"), "alpha": alpha_of(params), "roles": per_role,
            "ci_method": params.get("ci_method"),
            "colocation": coloc, "per_layer": per_layer,
            "family": {k: {"name": v.get("name"), "size": v.get("size"), "method": v.get("method"), "rejected": v.get("n_rejected")}
                       for k, v in (params.get("families") or {}).items() if isinstance(v, dict)}}
    return view, dict(marks)
