"""The compare figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...render.plot import Writer, as_grid, heat_size, heatmap


def draw_compare(w: Writer, data: dict) -> None:
    layers, heads = data["layers"], data["heads"]
    for n, o in enumerate(w.take(data["sections"].get("compare", []))):
        v = o["view"]
        shown = [m for m in v["metrics"] if w.wants(m)]
        changed = [m for m in shown if v["per_metric"][m]["changed"]] or shown[:1]
        for m in w.take(changed, 2):
            p = v["per_metric"][m]
            fig = w.figure(*heat_size(layers, heads))
            heatmap(fig, fig.add_subplot(), as_grid(p["delta"], layers, heads), f"{m}: after - before",
                     [int(k) for k in p["changed"]], diverging=True, label="delta")
            w.save(fig, f"compare-{n}-{o['name']}-{m}", f"compare {o['name']} {m}")
