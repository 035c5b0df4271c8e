"""Static figures of the report's views with matplotlib (PNG, SVG or PDF), sized for papers.

One file per view (every one with ``curated=False``, ``headlens figures --all``; else a curated set
of about 10), drawn from the same data as the HTML report (``report.collect.build``):
a layer x head heatmap per metric (significant heads circled), the head view of each chosen
sentence, the role co-location and per-layer counts, the best syntactic head per relation
against its baseline, the head-clustering map, the category matrices per layer, the compare
deltas of each metric that changed, the pattern types, the ablation deltas and the mixing
ratios. Figures are ``matplotlib.figure.Figure`` objects (no pyplot state); every data panel
carries the gid ``panel-<n>`` (in SVG: ``<g id="panel-<n>">``), colour bars do not.
"""

from __future__ import annotations

import base64

import numpy as np

from ..analyses.registry import ANALYSES
from ..heads import head_label, parse_head
from ..render.plot import COLUMN, STYLE, FigureFile, Writer, as_grid, heat_size, heatmap, marks_of

__all__ = ["FigureFile", "draw_all"]


# the per-head heatmaps of the curated set: the first CURATED_HEATMAPS of these the run has (else its first metrics)
CURATED_METRICS = ("prev", "cls", "sep_sep", "punct", "entropy", "dep_all_d2h", "next", "self")
CURATED_HEATMAPS = 3


def heat_metrics(w: Writer, data: dict) -> list[str]:
    """The metrics drawn as per-head heatmaps: ``--metrics``, else every one (``--all``), else the curated few."""
    names = [x["name"] for x in data["metrics"]]
    if w.metrics is not None:
        return w.metrics
    if not w.curated:
        return names
    preferred = [m for m in CURATED_METRICS if m in data["values"]]
    return (preferred + [m for m in names if m not in preferred])[:CURATED_HEATMAPS]


def draw_heads(w: Writer, data: dict) -> None:
    layers, heads = data["layers"], data["heads"]
    for m in heat_metrics(w, data):
        values = data["values"][m]
        stat = values.get("stat", "mean")  # dep_<rel>_<dir>: the accuracy (report.collect.dependency_accuracies)
        v = as_grid(values["mean"], layers, heads)
        signed = bool(np.nanmin(v) < 0 < np.nanmax(v)) if np.isfinite(v).any() else False
        fig = w.figure(*heat_size(layers, heads))
        heatmap(fig, fig.add_subplot(), v, f"{m}: {stat} per head", marks_of(data, m), signed, label=stat)
        w.save(fig, f"heads-{m}", f"heads {m}")


def _decode(sentence: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(sentence["attn"]), dtype="<f2").astype(np.float32)
    return raw.reshape(sentence["shape"])


def draw_head_view(w: Writer, data: dict, heads: list[tuple[int, int]]) -> None:
    from matplotlib.collections import LineCollection

    for s in w.take(data["head_view"].get("sentences", [])):
        attn = _decode(s)
        units = s["units"]
        n = len(units)
        for layer, head in heads:
            if not (0 <= layer < attn.shape[0] and 0 <= head < attn.shape[1]):
                from ..errors import ConfigError

                raise ConfigError(f"head {head_label(layer, head)} is outside this model (L1-L{attn.shape[0]}, "
                                  f"H1-H{attn.shape[1]}).")
            a = attn[layer, head]
            fig = w.figure(COLUMN, max(1.5, 0.14 * n + 0.5))
            ax = fig.add_subplot()
            ax.set_gid("panel")
            # one collection of the word-to-word lines (a line per pair drawn as its own artist took a second a figure)
            i, j = np.nonzero(a >= 0.005)
            colors = np.tile(np.array([0x1f, 0x5f, 0xa8, 0], dtype=float) / 255, (len(i), 1))
            colors[:, 3] = np.minimum(1.0, a[i, j])
            ax.add_collection(LineCollection(np.stack([np.stack([np.zeros(len(i)), i], 1), np.stack([np.ones(len(j)), j], 1)], 1),
                                             colors=colors, linewidths=1.2, capstyle="round"))
            for i, u in enumerate(units):
                ax.text(-0.04, i, u, ha="right", va="center", fontsize=6)
                ax.text(1.04, i, u, ha="left", va="center", fontsize=6)
            ax.set_xlim(-0.8, 1.8)
            ax.set_ylim(n - 0.5, -0.5)
            ax.axis("off")
            label = head_label(layer, head)
            ax.set_title(f"sentence {s['id']}, {label} ({data['head_view'].get('aggregation')} word attention)")
            w.save(fig, f"headview-s{s['id']}-{label}", f"head view sentence {s['id']} {label}")


def draw_all(data: dict, out_dir: str, fmt: str = "svg", dpi: int = 300, metrics: list[str] | None = None,
             heads: list | None = None, curated: bool = False) -> list[FigureFile]:
    """The views of ``data``, one file each in ``out_dir``; returns them in the order drawn.

    ``curated``: the default set of ``headlens figures`` (about 10: a few per-head heatmaps, one head
    view, the first output of each analysis, the two largest comparisons); else every view.
    ``metrics`` limits every figure of a metric (heatmaps, comparisons); ``heads`` are head labels
    (``"L3H7"``) or 0-based (layer, head) pairs, drawn in the head view.
    """
    from matplotlib import rc_context

    w = Writer(out_dir, fmt, dpi, metrics=metrics, curated=curated)
    heads = [parse_head(h, where="heads") if isinstance(h, str) else tuple(h) for h in heads or ()]
    unknown = [m for m in metrics or () if m not in data["values"]]
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(f"metrics {unknown} are not in this run; it has {', '.join(data['values'])}.")
    with rc_context(STYLE):
        draw_heads(w, data)
        draw_head_view(w, data, heads or [(0, 0)])
        for analysis in ANALYSES.values():  # each analysis draws its own views (analyses/<name>/figures.py)
            if analysis.figures is not None:
                analysis.figures(w, data)
    return w.files
