"""The layers figures (``headlens figures``), drawn from the run the report's data names: its stored
``layers`` outputs (``headlens layers RUN``, ``headlens layers compare``) and its word sample.

- ``layers-<name>``: per-layer curves with their bootstrap intervals (shaded): probe accuracy (the
  control dashed), selectivity, UUAS, the Spearman of the structural probe and of the plain squared
  distance, the anisotropy-adjusted self-similarity and intra-sentence similarity, and the word-sense
  spread ratio (``senses.py``);
- ``layers-compare-<name>``: the linear CKA of each layer with the same layer of the other run, and
  the probe accuracy deltas (B - A) with their intervals;
- ``layers-pca``: per layer, the first two principal components of (a seeded subset of,
  ``pca.POINTS``) the sampled word vectors, coloured by UPOS (``pca.py``, as in the report).
"""

from __future__ import annotations

import numpy as np

from ...render.plot import PAGE, PALETTE, Writer
from . import pca

TAGS_SHOWN = 9  # the most frequent UPOS tags get a colour each, the rest are "other"
# panel title -> (table, column, dashed companion column) for the curves of one `headlens layers` output
CURVES = (
    ("probe accuracy (control dashed)", ("upos", "relation", "sentence"), "accuracy", "control"),
    ("selectivity", ("upos", "relation", "sentence"), "selectivity", None),
    ("UUAS (structural probe)", ("structural",), "uuas", None),
    ("Spearman (probe; plain sq. L2 dashed)", ("structural",), "spearman", "raw_spearman"),
    ("self-similarity (adj.; intra-sentence dashed)", ("context",), "self_similarity_adjusted", "intra_similarity_adjusted"),
    ("word-sense spread / between lemmas", ("senses",), "ratio", None),
)


def _series(table) -> dict[str, dict[str, np.ndarray]]:
    """The table's rows by task (its ``task`` column, else one series), as column arrays ordered by layer."""
    rows = table.to_pylist()
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(str(r.get("task", "")), []).append(r)
    return {task: {k: np.asarray([r[k] for r in sorted(rs, key=lambda r: r["layer"])], dtype=float)
                   for k in rs[0] if isinstance(rs[0][k], (int, float))} for task, rs in out.items()}


def _curve(ax, x: dict, column: str, label: str, color: str, dashed: str | None = None) -> None:
    if column not in x:
        return
    ax.plot(x["layer"], x[column], marker="o", markersize=3, color=color, label=label)
    if f"{column}_low" in x:
        ax.fill_between(x["layer"], x[f"{column}_low"], x[f"{column}_high"], color=color, alpha=0.2, linewidth=0)
    if dashed and dashed in x:
        ax.plot(x["layer"], x[dashed], linestyle="--", color=color, linewidth=1)


def _panels(w: Writer, panels: list[tuple[str, list[tuple[str, dict, str, str | None]]]], name: str, view: str) -> None:
    """One figure, a panel per (title, [(label, series, column, dashed column)])."""
    panels = [p for p in panels if p[1]]
    if not panels:
        return
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = w.figure(PAGE, 2.0 * rows)
    for k, (title, lines) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.set_gid("panel")
        for i, (label, x, column, dashed) in enumerate(lines):
            _curve(ax, x, column, label, PALETTE[i % len(PALETTE)], dashed)
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.legend(frameon=False, fontsize=5)
    w.save(fig, name, view)


def draw_outputs(w: Writer, name: str, tables: dict) -> None:
    """The curves of one ``headlens layers`` output (``name``), or of one ``layers compare`` output."""
    if "cka" in tables:
        cka = [r for r in tables["cka"].to_pylist() if r["layer_a"] == r["layer_b"]]
        same = {"layer": np.asarray([r["layer_a"] for r in cka], float), "cka": np.asarray([r["cka"] for r in cka])}
        deltas = _series(tables["probes"]) if "probes" in tables else {}
        _panels(w, [("linear CKA, same layer", [("CKA", same, "cka", None)]),
                    ("probe accuracy, B - A", [(t, x, "delta", None) for t, x in deltas.items()])],
                f"layers-{name}", f"layers {name}")
        return
    sources = {source for _, group, _, _ in CURVES for source in group}
    series = {t: _series(tables[t]) for t in tables if t in sources}
    panels = []
    for title, sources, column, dashed in CURVES:
        lines = [(task or source, x, column, dashed) for source in sources for task, x in series.get(source, {}).items()
                 if column in x]
        panels.append((title, lines))
    _panels(w, panels, f"layers-{name}", f"layers {name}")


def draw_pca(w: Writer, words) -> None:
    """Per layer, the sampled words' first two principal components, coloured by UPOS."""
    rows = pca.draw(len(words.form))
    tags = words.upos[rows] if words.has_upos() else np.full(len(rows), "word")
    values, counts = np.unique(tags, return_counts=True)
    shown = list(values[np.argsort(-counts)][:TAGS_SHOWN])
    groups = (["other"] if len(values) > len(shown) else []) + shown  # "other" first: under the tags
    colour = np.asarray([t if t in shown else "other" for t in tags])
    cols = min(4, words.layers)
    grid = -(-words.layers // cols)
    fig = w.figure(PAGE, PAGE / cols * grid + 0.4)
    for layer in range(words.layers):
        z = pca.components(words.vectors[rows, layer])
        ax = fig.add_subplot(grid, cols, layer + 1)
        ax.set_gid("panel")
        for g in groups:
            mine = colour == g
            ax.scatter(z[mine, 0], z[mine, 1], s=1.5, color=PALETTE[shown.index(g) % len(PALETTE)] if g != "other" else "#bbbbbb",
                       label=g, linewidths=0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"layer {layer}", fontsize=7)
    fig.axes[0].legend(frameon=False, fontsize=5, markerscale=3, loc="best")
    w.save(fig, "layers-pca", "layers PCA of the sampled word vectors by UPOS")


def draw_layers(w: Writer, data: dict) -> None:
    from ...errors import RunStoreError
    from ...store import open_run
    from ...store.outputs import discover_outputs, read_outputs
    from . import data as stored

    run = open_run(data["run"]["path"])
    names = [name for analysis, name in discover_outputs(run) if analysis == stored.NAME]
    compares = [n for n in names if n.startswith("compare-")]
    for name in w.take([n for n in names if n not in compares]) + w.take(compares):  # curated: the first of each
        draw_outputs(w, name, read_outputs(run, stored.NAME, name)[0])
    try:
        words, _ = stored.read(run)
    except (RunStoreError, OSError):  # a run without the layers analysis
        return
    draw_pca(w, words)

