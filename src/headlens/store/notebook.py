"""The summary a notebook shows for a Run (``Run._repr_html_``): provenance, counts, analyses. All text escaped."""

from __future__ import annotations

import html

from .outputs import discover_outputs


def summary_html(run) -> str:
    m = run.manifest
    model, corpus, counts = m.get("model", {}), m.get("corpus", {}), m.get("counts", {})
    try:
        outputs = [f"{a}/{n}" for a, n in discover_outputs(run)]
    except OSError:
        outputs = []
    skipped = ", ".join(f"{k} {v}" for k, v in (counts.get("skipped_by_reason") or {}).items())
    rows = [
        ("status", m.get("status")),
        ("model", f"{model.get('name')} ({model.get('num_layers')} layers x {model.get('num_heads')} heads, "
                  f"{model.get('dtype')})"),
        ("corpus", f"{corpus.get('path')} ({corpus.get('format')}, sha256 {str(corpus.get('sha256'))[:12]}...)"),
        ("sentences", f"{counts.get('analysed', 0)} analysed, {counts.get('skipped', 0)} skipped"
                      + (f" ({skipped})" if skipped else "") + f"; {counts.get('tokens', 0)} tokens"),
        ("analyses", ", ".join(m.get("analyses", []))),
        ("metrics", f"{len(run.metrics)}: " + ", ".join(run.metrics[:12]) + (" ..." if len(run.metrics) > 12 else "")),
        ("outputs", ", ".join(outputs) or "none"),
        ("finished", m.get("finished")),
    ]
    body = "".join(f"<tr><th style=\"text-align:left\">{html.escape(k)}</th><td style=\"text-align:left\">"
                   f"{html.escape(str(v))}</td></tr>" for k, v in rows)
    return (f"<div class=\"headlens-run\"><strong>headlens run</strong> <code>{html.escape(run.path)}</code>"
            f"<table>{body}</table><small>headlens report {html.escape(run.path)} writes the full report</small></div>")
