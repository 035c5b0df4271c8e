"""Summaries of a ``--analyses decomposition`` run, from its stored tables (never the model).

- ``mixing``: mean mixing ratio per layer, map and token group, token-weighted over the corpus
  (layer -1 = the mean over layers, as Kobayashi et al. 2021 report it);
- ``change``: mean contextualization change (1 - Spearman rho) per layer and component;
- ``ffamp``: mean log2 FF amplification per layer and pair type, and the pair counts;
- ``completeness``: the largest relative error of every stage over the whole run;
- ``frequency``: Spearman rho between each token's mixing ratio and its frequency rank
  (rank 1 = most frequent), per map and layer, over word tokens;
- ``top_pairs``: the pairs FF amplified most, with their types.

``change``, ``ffamp`` and ``top_pairs`` need the feed-forward maps: runs made with ``--analyses
decomposition_ff`` (``has_ff``); a default ``--analyses decomposition`` run has the attention
block's maps only.

``save_decomposition(run)`` writes the first four to ``runs/X/decomposition/default/``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import spearmanr

from ...decompose import tables as dtables
from ...decompose.names import MAPS
from ...digits import ascii_int
from ...errors import ConfigError
from ...store import Run, layout
from ...store.outputs import write_outputs

# Kobayashi et al. 2021, BERT-base, 12% masked: mean mixing ratio over tokens and layers (%)
KOBAYASHI_2021 = {"Attn-W": 96.41, "Attn-N": 85.28, "AttnRes-W": 48.21, "AttnRes-N": 22.25, "ATB": 18.75}


def _weighted(layers: pa.Table, prefix: str, by: list[str]) -> pa.Table:
    t = layers.filter(pc.starts_with(layers["metric"].cast(pa.string()), prefix))
    t = t.append_column("wv", pc.multiply(t["value"], pc.cast(t["count"], pa.float64())))
    t = t.set_column(t.schema.get_field_index("metric"), "metric",
                     pc.utf8_slice_codeunits(t["metric"].cast(pa.string()), len(prefix)))
    t = t.set_column(t.schema.get_field_index("group"), "group", t["group"].cast(pa.string()))
    g = t.group_by(by).aggregate([("wv", "sum"), ("count", "sum"), ("sentence_id", "count")])
    mean = pc.divide(g["wv_sum"], pc.cast(g["count_sum"], pa.float64()))
    return pa.table({**{k: g[k] for k in by}, "count": g["count_sum"], "sentences": g["sentence_id_count"],
                     "mean": mean}).sort_by([(k, "ascending") for k in by])


def mixing(layers: pa.Table) -> pa.Table:
    per_layer = _weighted(layers, "mixing:", ["layer", "metric", "group"])
    t = per_layer.append_column("wv", pc.multiply(per_layer["mean"], pc.cast(per_layer["count"], pa.float64())))
    over = t.group_by(["metric", "group"]).aggregate([("wv", "sum"), ("count", "sum"), ("sentences", "max")])
    overall = pa.table({"layer": pa.array(np.full(over.num_rows, -1, np.int16)), "metric": over["metric"],
                        "group": over["group"], "count": over["count_sum"], "sentences": over["sentences_max"],
                        "mean": pc.divide(over["wv_sum"], pc.cast(over["count_sum"], pa.float64()))})
    return pa.concat_tables([overall.cast(per_layer.schema), per_layer]).rename_columns(
        ["layer", "map", "group", "tokens", "sentences", "mean"])


def change(layers: pa.Table) -> pa.Table:
    t = layers.filter(pc.starts_with(layers["metric"].cast(pa.string()), "change:"))
    t = t.set_column(t.schema.get_field_index("metric"), "metric",
                     pc.utf8_slice_codeunits(t["metric"].cast(pa.string()), len("change:")))
    g = t.group_by(["layer", "metric"]).aggregate([("value", "mean"), ("value", "stddev"), ("value", "count")])
    return g.rename_columns(["layer", "component", "mean", "std", "sentences"]).sort_by([("layer", "ascending")])


def ffamp(layers: pa.Table) -> pa.Table:
    return _weighted(layers, "ffamp", ["layer", "group"]).rename_columns(["layer", "pair_type", "pairs", "sentences", "mean_log2"])


def completeness(layers: pa.Table) -> dict[str, float]:
    t = layers.filter(pc.starts_with(layers["metric"].cast(pa.string()), "completeness:"))
    g = t.group_by("metric").aggregate([("value", "max")]).to_pylist()
    return {str(r["metric"])[len("completeness:"):]: r["value_max"] for r in g}


def frequency(tokens: pa.Table, counts: dict[str, int] | None = None) -> pa.Table:
    """Spearman rho(mixing ratio, frequency rank) per map and layer over word tokens (rank 1 = most frequent)."""
    words = tokens.filter(pc.equal(tokens["group"].cast(pa.string()), "word"))
    token = words["token"].to_numpy(zero_copy_only=False)
    if counts is None:
        first = words.filter(pc.equal(words["layer"], 0))["token"].to_numpy(zero_copy_only=False)
        names, n = np.unique(first, return_counts=True)
        counts = dict(zip(names.tolist(), n.tolist()))
    known = np.asarray([t in counts for t in token])
    if not known.any():
        raise ConfigError("no word token of the run is in the frequency counts; check the count file's tokens.")
    vocab = sorted(counts, key=lambda k: -counts[k])
    rank = {t: i + 1 for i, t in enumerate(vocab)}
    ranks = np.asarray([rank.get(t, 0) for t in token], dtype=np.float64)
    layer = words["layer"].to_numpy()
    rows = []
    for m in computed_maps(tokens):
        values = words[m].to_numpy()
        for lay in [-1, *np.unique(layer).tolist()]:
            sel = known & ((layer == lay) if lay >= 0 else np.ones_like(known))
            rho = spearmanr(values[sel], ranks[sel]).statistic if sel.sum() > 2 else float("nan")
            rows.append({"map": m, "layer": lay, "tokens": int(sel.sum()), "spearman": float(rho)})
    return pa.Table.from_pylist(rows)


def computed_maps(tokens: pa.Table) -> list[str]:
    """The maps a run computed (the FF maps only with ``--analyses decomposition_ff``)."""
    return [m for m in MAPS if tokens.num_rows == 0 or not np.isnan(tokens[m].to_numpy()).all()]


def has_ff(layers: pa.Table) -> bool:
    """Whether the run computed the feed-forward maps (``--analyses decomposition_ff``)."""
    return bool(pc.any(pc.equal(layers["metric"].cast(pa.string()), "ffamp")).as_py())


def read_counts(path: str) -> dict[str, int]:
    """A count file: one ``token<TAB or space>count`` per line (tokens as the tokenizer writes them)."""
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").rsplit(None, 1)
            if not parts:
                continue
            count = ascii_int(parts[1]) if len(parts) == 2 else None
            if count is None:
                raise ConfigError(f"{path}:{n}: expected 'token count' (a count of up to 18 ASCII digits), "
                                  f"got {line.strip()[:80]!r}.")
            counts[parts[0]] = counts.get(parts[0], 0) + count
    return counts


def top_pairs(ffpairs: pa.Table, top: int) -> pa.Table:
    return ffpairs.sort_by([("amplification", "descending")]).slice(0, top)


def save_decomposition(run: Run, name: str = layout.DEFAULT_OUTPUT) -> str:
    t = dtables.read(run)
    mix = mixing(t["layers"])
    overall = {r["map"]: r["mean"] for r in mix.to_pylist() if r["layer"] == -1 and r["group"] == "all"}
    params = {"feed_forward_maps": has_ff(t["layers"]),
              "completeness_max_relative_error": completeness(t["layers"]), "mixing_all_tokens": overall,
              "kobayashi2021_bert_base_percent": KOBAYASHI_2021}
    return write_outputs(run, "decomposition", name, {"mixing": mix, "change": change(t["layers"]),
                                                      "ffamp": ffamp(t["layers"])}, params)
