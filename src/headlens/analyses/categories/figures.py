"""The categories figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...heads import layer_label
from ...render.plot import PAGE, Writer, matrix_panel


def draw_categories(w: Writer, data: dict) -> None:
    for o in w.take(data["sections"].get("categories", [])):
        v = o["view"]
        layers = len(v["matrices"])
        cols = min(layers, 6)
        rows = -(-layers // cols)
        fig = w.figure(PAGE, 1.25 * rows + 0.4)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for layer, ax in enumerate(axes):
            if layer >= layers:
                ax.set_visible(False)
                continue
            matrix_panel(ax, v["matrices"][layer], ["content", "function"], ["content", "function"], layer_label(layer),
                    fmt="{:.3f}")
        w.save(fig, f"categories-{o['name']}", f"categories {o['name']}")
