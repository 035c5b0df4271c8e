"""The figure primitives every analysis draws with: sizes, style, heatmaps, matrices, and the file writer
(matplotlib is imported on first use)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from ..heads import head_of

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
    def __init__(self, out_dir: str, fmt: str, dpi: int):
        if fmt not in FORMATS:
            from ..errors import ConfigError

            raise ConfigError(f"figure format {fmt!r} is not one of {', '.join(FORMATS)}.")
        import matplotlib

        self.mpl = matplotlib
        self.out_dir, self.fmt, self.dpi = out_dir, fmt, dpi
        self.files: list[FigureFile] = []
        os.makedirs(out_dir, exist_ok=True)

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
    ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
    ax.set_yticks(range(layers), [str(la + 1) for la in range(layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.tick_params(length=1.5, pad=1)
    for k in marks:
        layer, head = head_of(int(k), heads)
        ax.plot(head, layer, marker="o", markersize=4.5, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=0.8)
    cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
    cb.ax.tick_params(labelsize=5.5, length=1.5)
    if label:
        cb.set_label(label, fontsize=6)


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
