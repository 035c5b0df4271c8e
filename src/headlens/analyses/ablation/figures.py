"""The ablation figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...render.plot import Writer, as_grid, heat_size, heatmap


def draw_ablation(w: Writer, data: dict) -> None:
    layers, heads = data["layers"], data["heads"]
    for o in w.take(data["sections"].get("ablation", [])):
        for i, p in enumerate(w.take(o["view"]["panels"])):
            key = ", ".join(f"{k}={x}" for k, x in p["key"].items())
            fig = w.figure(*heat_size(layers, heads))
            heatmap(fig, fig.add_subplot(), as_grid(p["delta"], layers, heads), f"ablation {key}".strip(),
                     [int(k) for k in p["significant"]], diverging=True, label="delta")
            w.save(fig, f"ablation-{o['name']}-{i}-{key}", f"ablation {o['name']} {key}")
