"""The decomposition figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

import numpy as np

from ...render.plot import COLUMN, PALETTE, Writer


def draw_mixing(w: Writer, data: dict) -> None:
    for o in w.take(data["sections"].get("decomposition", [])):
        v = o["view"]
        series = [("mixing ratio", (v.get("mixing") or {}).get("by_layer")), ("contextualization change", (v.get("change") or {}).get("by_layer"))]
        series = [(t, s) for t, s in series if s]
        if not series:
            continue
        fig = w.figure(COLUMN * len(series), 2.2)
        axes = fig.subplots(1, len(series), squeeze=False)[0]
        for ax, (title, lines) in zip(axes, series):
            ax.set_gid("panel")
            for i, (name, ys) in enumerate(lines.items()):
                ax.plot(range(1, len(ys) + 1), [np.nan if y is None else y for y in ys], marker="o", markersize=2.5,
                        linewidth=1, color=PALETTE[i % 10], label=name)
            ax.set_xlabel("layer")
            ax.set_ylabel(title)
            ax.set_xticks(range(1, data["layers"] + 1))
            ax.legend(frameon=False, ncols=2)
        w.save(fig, f"mixing-{o['name']}", f"mixing {o['name']}")
