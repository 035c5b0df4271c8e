"""The attribution section of the report (drawn by ``view.js`` beside this file):

- from the tables ``headlens attribution RUN`` (or the run's finalizer) saved: per layer and method, the share of
  a token's attribution that goes to each kind of source token (tables, and per-layer curves with their CIs), and
  the method x method agreement matrix (mean Spearman rho with its CI) of each layer;
- from the maps the run stored (``--store-maps``: ``maps/sentence-<id>-attribution.npz``, every method's
  rolled-out [L, T, T] map): the per-sentence view, where the reader picks the sentence, method and layer and an
  output token shades the source tokens by their attribution;
- when the report compares two runs, the view of the comparison (``compare``) holds the attribution metrics per
  layer with their verdicts: ``view.js`` draws them as the pre/post panel.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ...heads import layer_label
from ...render.blocks import block
from ...render.encode import float16_b64, num
from ...store import Run, layout
from .names import METHOD_TITLES, STAT_TEXT

SHOWN = 12  # rejected method differences listed
MAX_SENTENCES = 20  # stored sentences the per-sentence view embeds (the first, by id)
NOT_NORMALISED = ("flow",)  # attention flow's rows are max-flow values, not shares (methods.attention_flow)


def _ci(r: dict | None) -> list | None:
    return None if r is None else [num(r["mean"]), num(r["ci_low"]), num(r["ci_high"])]


def curves(rows: list[dict], layers: int) -> dict:
    """stat -> method -> per layer [mean, ci_low, ci_high] (None where missing): the per-layer curves."""
    cell = {(r["stat"], r["method"], int(r["layer"])): r for r in rows}
    out: dict = {}
    for stat in dict.fromkeys(r["stat"] for r in rows):
        out[stat] = {m: [_ci(cell.get((stat, m, layer))) for layer in range(layers)]
                     for m in dict.fromkeys(r["method"] for r in rows)}
    return out


def agreement_matrix(rows: list[dict], layers: int) -> dict:
    """The method x method matrices of the agreement table: ``methods`` and, per layer, [K][K] cells
    [mean, ci_low, ci_high] (symmetric; the diagonal None)."""
    methods = list(dict.fromkeys([m for r in rows for m in (r["a"], r["b"])]))
    cell = {(r["a"], r["b"], int(r["layer"])): r for r in rows}
    per = [[[_ci(cell.get((a, b, layer)) or cell.get((b, a, layer))) if a != b else None for b in methods] for a in methods]
           for layer in range(layers)]
    return {"methods": methods, "layers": per}


def _pivot(rows: list[dict], key, layers: int) -> tuple[list, dict]:
    cell = {(key(r), int(r["layer"])): r["mean"] for r in rows}
    names = list(dict.fromkeys(key(r) for r in rows))
    return names, {n: [cell.get((n, layer)) for layer in range(layers)] for n in names}


def attribution_view(tables: dict[str, pa.Table], params: dict, layers: int, heads: int) -> tuple[dict, dict]:
    rows = tables["layers"].to_pylist()
    n = 1 + max((int(r["layer"]) for r in rows), default=-1)
    cols = ["statistic", *(layer_label(layer) for layer in range(n))]
    blocks = []
    figures = {"curves": curves(rows, layers), "stat_text": STAT_TEXT, "titles": METHOD_TITLES}
    if "agreement" in tables and tables["agreement"].num_rows:
        figures["agreement"] = agreement_matrix(tables["agreement"].to_pylist(), layers)
    for method in dict.fromkeys(r["method"] for r in rows):
        stats, means = _pivot([r for r in rows if r["method"] == method], lambda r: r["stat"], n)
        blocks.append(block(f"{method}: mean share per layer", cols, ([s, *means[s]] for s in stats),
                            "Mean over sentences of the share of each token's attribution, rolled out to that layer, that "
                            "goes to itself, special tokens, punctuation, content / function words, its syntactic head "
                            "and dependents (distance: mean distance in words)."))
    if "agreement" in tables and tables["agreement"].num_rows:
        pairs, means = _pivot(tables["agreement"].to_pylist(), lambda r: f"{r['a']} / {r['b']}", n)
        blocks.append(block("agreement between methods per layer", ["methods", *cols[1:]], ([p, *means[p]] for p in pairs),
                            "Mean Spearman correlation of two methods' attributions per token."))
    if "methods" in tables and tables["methods"].num_rows:
        found = sorted((r for r in tables["methods"].to_pylist() if r.get("reject")), key=lambda r: -abs(r["delta"]))
        blocks.append(block(f"methods that differ (paired t, corrected; {len(found)} of {tables['methods'].num_rows} tests)",
                            ["methods", "statistic", "layer", "delta", "q"],
                            ([f"{r['a']} - {r['b']}", r["stat"], layer_label(int(r["layer"])), r["delta"], r["q"]] for r in found[:SHOWN]),
                            f"The {SHOWN} largest differences among the rejected tests; every test is under All analysis tables."))
    return {"note": "", "blocks": blocks, "figures": figures}, {}


def stored_sentences(run: Run) -> dict:
    """The per-sentence view's data: for each sentence whose attribution maps the run stored (the first
    ``MAX_SENTENCES``), its text, tokens and every method's rolled-out map [L, T, T] (float16, base64); {} when
    the run stored none."""
    ids = layout.map_ids(run.path, kind=layout.ATTRIBUTION_MAPS)
    if not ids:
        return {}
    texts = {r["sentence_id"]: r["text"] for r in run.sentences().to_pylist()}
    out = []
    for sid in ids[:MAX_SENTENCES]:
        path = layout.map_path(run.path, sid, kind=layout.ATTRIBUTION_MAPS)
        with np.load(path, allow_pickle=False) as z:
            methods = [str(m) for m in z["methods"]]
            maps = {m: z[m] for m in methods}
            tokens = [str(t) for t in z["tokens"]]
        shapes = {m: list(a.shape) for m, a in maps.items()}
        bad = [m for m, sh in shapes.items() if len(sh) != 3 or sh[1:] != [len(tokens)] * 2]
        if bad:
            raise ValueError(f"{path}: the map of {bad[0]} has shape {shapes[bad[0]]} for {len(tokens)} tokens; "
                             "the file is not one headlens wrote: run the sentence again with --store-maps")
        out.append({"id": sid, "text": texts.get(sid, ""), "tokens": tokens, "methods": methods,
                    "file": layout.map_file(layout.map_name(sid, kind=layout.ATTRIBUTION_MAPS)),
                    "layers": shapes[methods[0]][0], "maps": {m: float16_b64(a) for m, a in maps.items()}})
    return {"sentences": out, "titles": METHOD_TITLES, "normalised": {m: m not in NOT_NORMALISED for m in METHOD_TITLES},
            "more": max(0, len(ids) - MAX_SENTENCES)}
