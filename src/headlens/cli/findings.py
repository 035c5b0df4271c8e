"""The findings ``headlens demo`` prints: a few lines read from the tables a run stored (never computed
here), each naming its heads and the test behind them."""

from __future__ import annotations

from ..errors import RunStoreError
from ..heads import head_label
from ..store import open_run
from ..store.outputs import read_outputs
from ..units import format_p as q_text

ROLE_LINES = 4  # roles shown: those with the most heads
SYNTAX_LINES = 3  # relations shown: the largest gains over the best offset baseline


def _tables(run, analysis: str):
    try:
        return read_outputs(run, analysis)
    except RunStoreError:
        return None, None


def role_lines(tables: dict, params: dict) -> list[str]:
    """Per role, its strongest head (the highest mean among the heads that passed the corrected test)."""
    tau = ((params.get("settings") or {}).get("taus") or [None])[0]
    found = [r for r in tables["heads"].to_pylist() if r.get("is_role") and (tau is None or r.get("tau") == tau)]
    by_role: dict[str, list[dict]] = {}
    for r in found:
        by_role.setdefault(r["role"], []).append(r)
    top = sorted(by_role.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:ROLE_LINES]
    return [f"role {role}: {len(rows)} heads pass (tau {tau:g}); strongest {head_label(best['layer'], best['head'])} "
            f"mean {best['mean']:.3g}, q {q_text(best['q'])}"
            for role, rows in top for best in [max(rows, key=lambda r: r["mean"])]]


def syntax_lines(tables: dict) -> list[str]:
    """The relations whose best head beats its best offset baseline by the most."""
    rows = sorted((r for r in tables["best"].to_pylist() if r.get("beats_baseline")), key=lambda r: -r["delta"])
    return [f"syntax {r['relation']} ({r['direction']}): head {head_label(r['layer'], r['head'])} accuracy {r['accuracy']:.3f} "
            f"vs offset {r['baseline_offset']:+d} {r['baseline_accuracy']:.3f}, q {q_text(r['q'])}" for r in rows[:SYNTAX_LINES]]


def layers_line(tables: dict) -> list[str]:
    parts = []
    for task in ("upos", "relation"):
        if task in tables:
            rows = tables[task].to_pylist()
            best, sel = max(rows, key=lambda r: r["accuracy"]), max(rows, key=lambda r: r["selectivity"])
            parts.append(f"{task} probe peaks at layer {best['layer']} ({best['accuracy']:.3f}), most selective at layer "
                         f"{sel['layer']}")
    if "structural" in tables:
        best = max(tables["structural"].to_pylist(), key=lambda r: r["uuas"])
        parts.append(f"structural UUAS peaks at layer {best['layer']} ({best['uuas']:.3f})")
    return ["layers (0 = embeddings): " + "; ".join(parts)] if parts else []


def probe_line(tables: dict, params: dict) -> list[str]:
    rows = [r for r in tables["uas"].to_pylist() if r["delta"] is not None and r["probe"] != "distance"]
    return [f"attention probe {r['probe']}: UAS {r['uas']:.3f}, {r['delta']:+.3f} vs right-branching (p {q_text(r['p'])}; "
            f"{params.get('eval_sentences')} held-out sentences)" for r in rows[:1]]


def findings(path: str) -> list[str]:
    """5-10 lines on what the run at ``path`` found, from its stored tables."""
    run = open_run(path)
    lines: list[str] = []
    for analysis, lines_of in (("roles", role_lines), ("syntax", lambda t, p: syntax_lines(t)),
                               ("layers", lambda t, p: layers_line(t)), ("probe", probe_line)):
        tables, params = _tables(run, analysis)
        if tables is not None:
            lines += lines_of(tables, params)
    return lines
