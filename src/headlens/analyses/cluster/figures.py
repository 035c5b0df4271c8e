"""The cluster figures, drawn from the report's data (``report.collect.build``)."""

from __future__ import annotations

from ...heads import head_label
from ...render.plot import COLUMN, PALETTE, Writer, place_labels


def draw_cluster(w: Writer, data: dict) -> None:
    for o in w.take(data["sections"].get("cluster", [])):
        pts = o["view"]["points"]
        fig = w.figure(COLUMN, COLUMN)
        ax = fig.add_subplot()
        ax.set_gid("panel")
        kinds = list(dict.fromkeys(p[4] for p in pts))
        for i, kind in enumerate(kinds):
            mine = [p for p in pts if p[4] == kind]
            ax.scatter([p[0] for p in mine], [p[1] for p in mine], s=10, color=PALETTE[i % 10], label=kind, linewidths=0)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("heads by JS distance (metric MDS)")
        ax.legend(frameon=False, markerscale=1.2)
        if len(pts) <= 150:  # head labels, none overlapping another (left out where there is no room)
            place_labels(fig, ax, [(p[0], p[1]) for p in pts], [head_label(p[2], p[3]) for p in pts])
        w.save(fig, f"cluster-{o['name']}", f"cluster {o['name']}")
