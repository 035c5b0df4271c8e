"""The figure primitives every analysis draws with: sizes, style, heatmaps, matrices, and the file writer
(matplotlib is imported on first use)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..heads import head_label, head_of, layer_label

FORMATS = ("svg", "png", "pdf")


COLUMN = 3.4  # inches: one column of a two-column paper


PAGE = 7.0  # inches: the full text width


STYLE = {"font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6, "ytick.labelsize": 6,
         "legend.fontsize": 6, "axes.linewidth": 0.6, "svg.fonttype": "none", "pdf.fonttype": 42,
         "font.family": "DejaVu Sans"}


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class FigureFile:
    path: str
    view: str
    panels: int  # data panels (axes), colour bars not counted


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def as_grid(values: list, layers: int, heads: int) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=float).reshape(layers, heads)


class Writer:
    """Saves figures into ``out_dir``; carries the selection every figure kind applies: ``metrics``
    (None: any) and ``curated`` (the default set: ``take`` keeps the first items of a kind)."""

    def __init__(self, out_dir: str, fmt: str, dpi: int, metrics=None, curated: bool = False):
        if fmt not in FORMATS:
            from ..errors import ConfigError

            raise ConfigError(f"figure format {fmt!r} is not one of {', '.join(FORMATS)}.")
        import matplotlib

        self.mpl = matplotlib
        self.out_dir, self.fmt, self.dpi = out_dir, fmt, dpi
        self.metrics = None if metrics is None else list(metrics)
        self.curated = curated
        self.files: list[FigureFile] = []
        os.makedirs(out_dir, exist_ok=True)

    def wants(self, metric: str) -> bool:
        """Whether figures of ``metric`` are asked for (``--metrics``)."""
        return self.metrics is None or metric in self.metrics

    def take(self, items: list, curated: int = 1) -> list:
        """``items`` to draw: the first ``curated`` of them in the curated set, every one with ``--all``."""
        return list(items)[:curated] if self.curated else list(items)

    def figure(self, width: float, height: float):
        from matplotlib.figure import Figure

        return Figure(figsize=(width, height), layout="constrained")

    def save(self, fig, name: str, view: str) -> None:
        panels = [ax for ax in fig.axes if (ax.get_gid() or "").startswith("panel")]
        for n, ax in enumerate(panels):
            ax.set_gid(f"panel-{n}")
        path = os.path.join(self.out_dir, f"{safe_name(name)}.{self.fmt}")
        meta = {"Title": f"headlens: {view}"}
        fig.savefig(path, format=self.fmt, dpi=self.dpi, metadata=meta)
        self.files.append(FigureFile(path, view, len(panels)))


def head_axes(ax, layers: int, heads: int) -> None:
    """Layer x head axes labelled as docs/conventions.md writes heads: rows L1.., columns H1.. (1-based)."""
    ax.set_xticks(range(heads), [f"H{h + 1}" for h in range(heads)], rotation=90 if heads > 8 else 0)
    ax.set_yticks(range(layers), [layer_label(la) for la in range(layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")


def heatmap(fig, ax, values: np.ndarray, title: str, marks=(), diverging: bool = False, cmap: str | None = None,
             label: str = "") -> None:
    ax.set_gid("panel")
    finite = values[np.isfinite(values)]
    if diverging:
        m = float(np.abs(finite).max()) if finite.size else 1.0
        im = ax.imshow(values, cmap=cmap or "RdBu_r", vmin=-m or -1, vmax=m or 1, aspect="auto")
    else:
        im = ax.imshow(values, cmap=cmap or "viridis", aspect="auto")
    layers, heads = values.shape
    head_axes(ax, layers, heads)
    ax.set_title(title)
    ax.tick_params(length=1.5, pad=1)
    for k in marks:
        layer, head = head_of(int(k), heads)
        mark(ax, head, layer)
    cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
    cb.ax.tick_params(labelsize=5.5, length=1.5)
    if label:
        cb.set_label(label, fontsize=6)


def mark(ax, x, y) -> None:
    """A significance mark that stays visible on any cell colour: a black ring inside a white one."""
    ax.plot(x, y, marker="o", markersize=5.2, markerfacecolor="none", markeredgecolor="white", markeredgewidth=1.8)
    ax.plot(x, y, marker="o", markersize=4.5, markerfacecolor="none", markeredgecolor="black", markeredgewidth=0.8)


LABEL_GID = "point-label"


def _label_offsets(width: float, height: float, rings: int = 7):
    """Lower-left corners (points, relative to the point) to try for a label of ``width`` x ``height``
    points: right, left, above, below and the diagonals, ring after ring further out."""
    for ring in range(rings):
        d = 1.5 + 2.5 * ring
        yield from ((d, -height / 2), (-width - d, -height / 2), (-width / 2, d), (-width / 2, -height - d),
                    (d, d), (-width - d, d), (d, -height - d), (-width - d, -height - d))


def place_labels(fig, ax, xy, labels, fontsize: float = 4) -> int:
    """Label the points ``xy`` (data coordinates) so that no two labels overlap: each goes to the first
    free place of :func:`_label_offsets` around its point (a thin line joins it when it had to move
    out), and a label with no free place is left out. Fixes the figure's layout first (the places
    are measured in its final display coordinates). Returns the labels placed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # a Figure made without pyplot has no renderer of its own
    canvas.draw()  # constrained layout runs here; then it is frozen, so that what is measured stays true
    fig.set_layout_engine("none")
    ax.set_autoscale_on(False)  # the leader lines must not move the limits the places were measured in
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    px = fig.dpi / 72.0  # display pixels per point
    legend = ax.get_legend()
    taken = [legend.get_window_extent(renderer)] if legend is not None else []  # labels stay off the legend too
    edges = np.asarray([b.extents for b in taken]).reshape(-1, 4)  # taken's x0, y0, x1, y1, for Bbox.overlaps at once
    for n, ((x, y), text) in enumerate(zip(xy, labels)):
        t = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize, ha="left",
                        va="bottom", gid=f"{LABEL_GID}-{n}")
        size = t.get_window_extent(renderer)  # at offset (0, 0): each place is this box moved by its offset
        w, h = size.width / px, size.height / px
        for k, (dx, dy) in enumerate(_label_offsets(w, h)):
            box = size.translated(dx * px, dy * px).padded(0.5)
            if frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1) and not (
                    (edges[:, 0] <= box.x1) & (box.x0 <= edges[:, 2]) & (edges[:, 1] <= box.y1) & (box.y0 <= edges[:, 3])).any():
                t.set_position((dx, dy))
                taken.append(box)
                edges = np.vstack([edges, box.extents])
                if k >= 8:  # moved beyond the first ring: a leader line to its point
                    cx, cy = ax.transData.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))
                    ax.plot([x, cx], [y, cy], color="#999999", linewidth=0.3, zorder=0)
                break
        else:
            t.remove()
    return len(taken) - (legend is not None)


def heat_size(layers: int, heads: int, width: float = COLUMN) -> tuple[float, float]:
    return width, max(1.6, min(6.0, width * 0.78 * layers / heads + 0.5))


def marks_of(data: dict, metric: str) -> set[int]:
    return {int(c[0]) for m in data["marks"].get(metric, []) for c in m["cells"]}


def matrix_panel(ax, values, rows, cols, title, cmap="Blues", fmt="{:.0f}") -> None:
    ax.set_gid("panel")
    arr = np.asarray([[np.nan if v is None else v for v in r] for r in values], dtype=float)
    ax.imshow(arr, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=90)
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(length=1.5, pad=1)
    ax.set_title(title)
    finite = arr[np.isfinite(arr)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if arr.size <= 400:  # the value in each cell, white on the darker half of the colour map
        for (i, j), v in np.ndenumerate(arr):
            if np.isfinite(v):
                dark = hi > lo and (v - lo) / (hi - lo) > 0.6
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=5, color="white" if dark else "black")
