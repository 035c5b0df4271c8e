"""Static figures of the report's views with matplotlib (PNG, SVG or PDF), sized for papers.

One file per view, drawn from the same data as the HTML report (``report.collect.build``):
a layer x head heatmap per metric (significant heads circled), the head view of each chosen
sentence, the role co-location and per-layer counts, the best syntactic head per relation
against its baseline, the head-clustering map, the category matrices per layer, the compare
deltas of each metric that changed, the pattern types, the ablation deltas and the mixing
ratios. Figures are ``matplotlib.figure.Figure`` objects (no pyplot state); every data panel
carries the gid ``panel-<n>`` (in SVG: ``<g id="panel-<n>">``), colour bars do not.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

import numpy as np

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


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def _grid(values: list, layers: int, heads: int) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=float).reshape(layers, heads)


class _Writer:
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
        path = os.path.join(self.out_dir, f"{_safe(name)}.{self.fmt}")
        meta = {"Title": f"headlens: {view}"}
        fig.savefig(path, format=self.fmt, dpi=self.dpi, metadata=meta)
        self.files.append(FigureFile(path, view, len(panels)))


def _heatmap(fig, ax, values: np.ndarray, title: str, marks=(), diverging: bool = False, cmap: str | None = None,
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
        ax.plot(int(k) % heads, int(k) // heads, marker="o", markersize=4.5, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=0.8)
    cb = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
    cb.ax.tick_params(labelsize=5.5, length=1.5)
    if label:
        cb.set_label(label, fontsize=6)


def _heat_size(layers: int, heads: int, width: float = COLUMN) -> tuple[float, float]:
    return width, max(1.6, min(6.0, width * 0.78 * layers / heads + 0.5))


def _marks_of(data: dict, metric: str) -> set[int]:
    return {int(c[0]) for m in data["marks"].get(metric, []) for c in m["cells"]}


def draw_heads(w: _Writer, data: dict, metrics: list[str] | None) -> None:
    layers, heads = data["layers"], data["heads"]
    for m in metrics or [x["name"] for x in data["metrics"]]:
        v = _grid(data["values"][m]["mean"], layers, heads)
        signed = bool(np.nanmin(v) < 0 < np.nanmax(v)) if np.isfinite(v).any() else False
        fig = w.figure(*_heat_size(layers, heads))
        _heatmap(fig, fig.add_subplot(), v, f"{m}: mean per head", _marks_of(data, m), signed, label="mean")
        w.save(fig, f"heads-{m}", f"heads {m}")


def _decode(sentence: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(sentence["attn"]), dtype="<f2").astype(np.float32)
    return raw.reshape(sentence["shape"])


def draw_head_view(w: _Writer, data: dict, heads: list[tuple[int, int]]) -> None:
    for s in data["head_view"].get("sentences", []):
        attn = _decode(s)
        units = s["units"]
        n = len(units)
        for layer, head in heads:
            if not (0 <= layer < attn.shape[0] and 0 <= head < attn.shape[1]):
                from ..errors import ConfigError

                raise ConfigError(f"head {layer + 1}-{head + 1} is outside this {attn.shape[0]} x {attn.shape[1]} model.")
            a = attn[layer, head]
            fig = w.figure(COLUMN, max(1.5, 0.14 * n + 0.5))
            ax = fig.add_subplot()
            ax.set_gid("panel")
            for i in range(n):
                for j in range(n):
                    if a[i, j] >= 0.005:
                        ax.plot([0, 1], [i, j], color="#1f5fa8", alpha=float(min(1.0, a[i, j])), linewidth=1.2,
                                solid_capstyle="round")
            for i, u in enumerate(units):
                ax.text(-0.04, i, u, ha="right", va="center", fontsize=6)
                ax.text(1.04, i, u, ha="left", va="center", fontsize=6)
            ax.set_xlim(-0.8, 1.8)
            ax.set_ylim(n - 0.5, -0.5)
            ax.axis("off")
            ax.set_title(f"sentence {s['id']}, L{layer + 1}-H{head + 1} ({data['head_view'].get('aggregation')} word attention)")
            w.save(fig, f"headview-s{s['id']}-L{layer + 1}-H{head + 1}", f"head view sentence {s['id']} L{layer + 1}-H{head + 1}")


def _matrix(ax, values, rows, cols, title, cmap="Blues", fmt="{:.0f}") -> None:
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


def draw_roles(w: _Writer, data: dict) -> None:
    for o in data["sections"].get("roles", []):
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
            _matrix(axes[k], co["both"], co["roles"], co["roles"], "co-location: heads with both roles")
            k += 1
        if pl.get("roles"):
            _matrix(axes[k], pl["counts"], pl["roles"], [f"L{i + 1}" for i in range(data["layers"])], f"heads per layer (tau {v['tau']:g})")
        w.save(fig, f"roles-{o['name']}", f"roles {o['name']}")


def draw_syntax(w: _Writer, data: dict) -> None:
    for o in data["sections"].get("syntax", []):
        best = o["view"]["best"]
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
        ax.set_yticks(y, [f"{r['relation']} ({'L%d-H%d' % (r['layer'] + 1, r['head'] + 1)} {r['direction']})" for r in best])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("accuracy")
        ax.set_title("best head per relation vs offset baseline")
        ax.legend(loc="lower right", frameon=False)
        w.save(fig, f"syntax-{o['name']}", f"syntax {o['name']}")


def draw_cluster(w: _Writer, data: dict) -> None:
    for o in data["sections"].get("cluster", []):
        pts = o["view"]["points"]
        fig = w.figure(COLUMN, COLUMN)
        ax = fig.add_subplot()
        ax.set_gid("panel")
        kinds = list(dict.fromkeys(p[4] for p in pts))
        for i, kind in enumerate(kinds):
            mine = [p for p in pts if p[4] == kind]
            ax.scatter([p[0] for p in mine], [p[1] for p in mine], s=10, color=PALETTE[i % 10], label=kind, linewidths=0)
        if len(pts) <= 150:
            for p in pts:
                ax.annotate(f"{p[2] + 1}-{p[3] + 1}", (p[0], p[1]), fontsize=4, xytext=(2, 1), textcoords="offset points")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("heads by JS distance (metric MDS)")
        ax.legend(frameon=False, markerscale=1.2)
        w.save(fig, f"cluster-{o['name']}", f"cluster {o['name']}")


def draw_categories(w: _Writer, data: dict) -> None:
    for o in data["sections"].get("categories", []):
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
            _matrix(ax, v["matrices"][layer], ["content", "function"], ["content", "function"], f"L{layer + 1}",
                    fmt="{:.3f}")
        w.save(fig, f"categories-{o['name']}", f"categories {o['name']}")


def draw_compare(w: _Writer, data: dict) -> None:
    layers, heads = data["layers"], data["heads"]
    for n, o in enumerate(data["sections"].get("compare", [])):
        v = o["view"]
        changed = [m for m in v["metrics"] if v["per_metric"][m]["changed"]] or v["metrics"][:1]
        for m in changed:
            p = v["per_metric"][m]
            fig = w.figure(*_heat_size(layers, heads))
            _heatmap(fig, fig.add_subplot(), _grid(p["delta"], layers, heads), f"{m}: after - before",
                     [int(k) for k in p["changed"]], diverging=True, label="delta")
            w.save(fig, f"compare-{n}-{o['name']}-{m}", f"compare {o['name']} {m}")


def draw_patterns(w: _Writer, data: dict) -> None:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    layers, heads = data["layers"], data["heads"]
    for o in data["sections"].get("patterns", []):
        v = o["view"]
        colors = [PALETTE[i % 10] for i in range(len(v["types"]))]
        fig = w.figure(*_heat_size(layers, heads))
        ax = fig.add_subplot()
        ax.set_gid("panel")
        ax.imshow(_grid(v["dominant"], layers, heads), cmap=ListedColormap(colors), vmin=-0.5,
                  vmax=len(colors) - 0.5, aspect="auto")
        ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
        ax.set_yticks(range(layers), [str(la + 1) for la in range(layers)])
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title("most frequent pattern type per head")
        fig.legend(handles=[Patch(color=c, label=t) for c, t in zip(colors, v["types"])], loc="outside right upper",
                   frameon=False)
        w.save(fig, "patterns", "pattern types")


def draw_ablation(w: _Writer, data: dict) -> None:
    layers, heads = data["layers"], data["heads"]
    for o in data["sections"].get("ablation", []):
        for i, p in enumerate(o["view"]["panels"]):
            key = ", ".join(f"{k}={x}" for k, x in p["key"].items())
            fig = w.figure(*_heat_size(layers, heads))
            _heatmap(fig, fig.add_subplot(), _grid(p["delta"], layers, heads), f"ablation {key}".strip(),
                     [int(k) for k in p["significant"]], diverging=True, label="delta")
            w.save(fig, f"ablation-{o['name']}-{i}-{key}", f"ablation {o['name']} {key}")


def draw_mixing(w: _Writer, data: dict) -> None:
    for o in data["sections"].get("decomposition", []):
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


def draw_all(data: dict, out_dir: str, fmt: str = "svg", dpi: int = 300, metrics: list[str] | None = None,
             heads: list[tuple[int, int]] | None = None) -> list[FigureFile]:
    """Every view of ``data`` as one file in ``out_dir``; returns them in the order drawn."""
    from matplotlib import rc_context

    w = _Writer(out_dir, fmt, dpi)
    unknown = [m for m in metrics or () if m not in data["values"]]
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(f"metrics {unknown} are not in this run; it has {', '.join(data['values'])}.")
    with rc_context(STYLE):
        draw_heads(w, data, metrics)
        draw_head_view(w, data, heads or [(0, 0)])
        draw_roles(w, data)
        draw_syntax(w, data)
        draw_cluster(w, data)
        draw_categories(w, data)
        draw_compare(w, data)
        draw_patterns(w, data)
        draw_ablation(w, data)
        draw_mixing(w, data)
    return w.files
