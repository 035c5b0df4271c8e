"""The attribution figures, drawn from the report's data (``report.collect.build``): per output, the self share
per layer of each method with its CI, and the method x method agreement matrix of the last layer."""

from __future__ import annotations

import numpy as np

from ...render.plot import COLUMN, PALETTE, Writer, matrix_panel


def _curve(ax, cells: list, layers: int, label: str, color: str) -> None:
    x = np.arange(1, layers + 1)
    mean, lo, hi = (np.array([np.nan if c is None or c[k] is None else c[k] for c in cells], float) for k in range(3))
    ax.errorbar(x, mean, yerr=np.vstack([mean - lo, hi - mean]), marker="o", markersize=2.5, linewidth=1, capsize=1.5,
                color=color, label=label)


def draw_attribution(w: Writer, data: dict) -> None:
    layers = data["layers"]
    for o in w.take(data["sections"].get("attribution", [])):
        f = o["view"].get("figures") or {}
        self_share, agree = (f.get("curves") or {}).get("self"), f.get("agreement")
        if not self_share:
            continue
        fig = w.figure(COLUMN * (2 if agree else 1), 2.2)
        axes = fig.subplots(1, 2 if agree else 1, squeeze=False)[0]
        ax = axes[0]
        ax.set_gid("panel")
        for i, (method, cells) in enumerate(self_share.items()):
            _curve(ax, cells, layers, method, PALETTE[i % 10])
        ax.set_xlabel("layer")
        ax.set_ylabel("self share (95% CI)")
        ax.set_xticks(range(1, layers + 1))
        ax.legend(frameon=False)
        if agree:
            last = agree["layers"][-1]
            values = [[1.0 if i == j else (c[0] if c else None) for j, c in enumerate(row)] for i, row in enumerate(last)]
            matrix_panel(axes[1], values, agree["methods"], agree["methods"], f"agreement, layer {layers} (mean rho)",
                         cmap="Blues", fmt="{:.2f}")
        w.save(fig, f"attribution-{o['name']}", f"attribution {o['name']}")
