"""The syntax figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

import numpy as np

from ...heads import head_label
from ...render.plot import COLUMN, PALETTE, Writer


def draw_syntax(w: Writer, data: dict) -> None:
    for o in w.take(data["sections"].get("syntax", [])):
        best = [r for r in o["view"]["best"] if w.wants(f"dep_{r['relation']}_{r['direction']}")]  # --metrics
        if not best:
            continue
        fig = w.figure(COLUMN, max(1.8, 0.16 * len(best) + 0.8))
        ax = fig.add_subplot()
        ax.set_gid("panel")
        y = np.arange(len(best))
        acc = [r.get("accuracy") or 0 for r in best]
        base = [r.get("baseline_accuracy") or 0 for r in best]
        ax.barh(y - 0.2, acc, height=0.4, color=PALETTE[0], label="best head")
        ax.barh(y + 0.2, base, height=0.4, color=PALETTE[7], label="best offset")
        ax.set_yticks(y, [f"{r['relation']} ({head_label(r['layer'], r['head'])} {r['direction']})" for r in best])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy")
        ax.set_title("best head per relation vs offset baseline")
        ax.legend(loc="lower right", frameon=False)
        w.save(fig, f"syntax-{o['name']}", f"syntax {o['name']}")
