"""The roles figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...heads import layer_label
from ...render.plot import PAGE, Writer, matrix_panel


def draw_roles(w: Writer, data: dict) -> None:
    for o in w.take(data["sections"].get("roles", [])):
        v = o["view"]
        co, pl = v.get("colocation") or {}, v.get("per_layer") or {}
        parts = [x for x in (co.get("roles"), pl.get("roles")) if x]
        if not parts:
            continue
        n_roles = max(len(x) for x in parts)
        fig = w.figure(PAGE, max(2.0, 0.13 * n_roles + 1.2))
        axes = fig.subplots(1, len(parts), squeeze=False)[0]
        k = 0
        if co.get("roles"):
            matrix_panel(axes[k], co["both"], co["roles"], co["roles"], "co-location: heads with both roles")
            k += 1
        if pl.get("roles"):
            matrix_panel(axes[k], pl["counts"], pl["roles"], [layer_label(i) for i in range(data["layers"])], f"heads per layer (tau {v['tau']:g})")
        w.save(fig, f"roles-{o['name']}", f"roles {o['name']}")
