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

``save_decomposition(run)`` writes the first four to ``runs/X/decomposition/default/``. They and
``top_pairs`` are computed in one pass over the run's parts, one part at a time (``layer_sums``,
``summary.LayerSums``): memory depends on layers, metrics and groups, not on the number of
sentences. ``frequency`` (``headlens mixing --frequency``) ranks every word token of the run
together and so holds the ``tokens`` table whole.
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
from ...collect import iter_parts
from ...store import Run, layout
from ...store.outputs import write_outputs
from .summary import LayerSums

# Kobayashi et al. 2021, BERT-base, 12% masked: mean mixing ratio over tokens and layers (%)
KOBAYASHI_2021 = {"Attn-W": 96.41, "Attn-N": 85.28, "AttnRes-W": 48.21, "AttnRes-N": 22.25, "ATB": 18.75}


def layer_sums(run: Run, top: int = 0) -> tuple[LayerSums, pa.Table | None]:
    """One pass over the run's decomposition parts, one part at a time: the sums of its ``layers`` rows
    and, with ``top`` > 0, the ``top`` pairs FF amplified most (ties in part order)."""
    sums, pairs = LayerSums(int(run.manifest["model"]["num_layers"]), []), None
    for k, part in enumerate(iter_parts(run, "decomposition")):
        sums.add(part, f"{run.path}/{layout.collect_dir('decomposition')} part {k}")
        if top > 0:
            mine = top_pairs(dtables.from_parts([part], ("ffpairs",))["ffpairs"], top)
            pairs = mine if pairs is None else top_pairs(pa.concat_tables([pairs, mine]), top)
    return sums, pairs


def _weighted(sums: LayerSums, prefix: str) -> list[tuple]:
    """(layer, metric, group, count, sentences, count-weighted mean) of the cells of ``prefix``."""
    return [(la, m, g, int(sums.count[i]), int(sums.rows[i]), sums.weighted[i] / sums.count[i])
            for la, m, g, i in sums.cells(prefix)]


def _table(names: list[str], rows: list[tuple], types: list) -> pa.Table:
    return pa.table({n: pa.array([r[k] for r in rows], t) for k, (n, t) in enumerate(zip(names, types))})


_MIXING = (["layer", "map", "group", "tokens", "sentences", "mean"],
           [pa.int16(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.float64()])


def mixing(sums: LayerSums) -> pa.Table:
    per_layer = _weighted(sums, "mixing:")
    over: dict[tuple[str, str], list] = {}
    for _, m, g, count, sentences, mean in per_layer:  # layer -1: over layers, as Kobayashi et al. report it
        acc = over.setdefault((m, g), [0.0, 0, 0])
        acc[0] += mean * count
        acc[1] += count
        acc[2] = max(acc[2], sentences)
    overall = [(-1, m, g, count, sentences, wv / count) for (m, g), (wv, count, sentences) in sorted(over.items())]
    return _table(*_MIXING[:1], overall + per_layer, _MIXING[1])


def change(sums: LayerSums) -> pa.Table:
    m = sums.moments
    rows = [(la, c, m.mean[i], float(np.sqrt(m.m2[i] / m.count[i])), int(m.count[i]))
            for la, c, g, i in sums.cells("change:") if g == "all"]
    return _table(["layer", "component", "mean", "std", "sentences"], rows,
                  [pa.int16(), pa.string(), pa.float64(), pa.float64(), pa.int64()])


def ffamp(sums: LayerSums) -> pa.Table:
    rows = [(la, g, count, sentences, mean) for la, _, g, count, sentences, mean in _weighted(sums, "ffamp")]
    return _table(["layer", "pair_type", "pairs", "sentences", "mean_log2"], rows,
                  [pa.int16(), pa.string(), pa.int64(), pa.int64(), pa.float64()])


def completeness(sums: LayerSums) -> dict[str, float]:
    out: dict[str, float] = {}
    for _, stage, _, i in sums.cells("completeness:"):
        out[stage] = max(out.get(stage, -np.inf), float(sums.moments.max[i]))
    return out


def has_ff(sums: LayerSums) -> bool:
    """Whether the run computed the feed-forward maps (``--analyses decomposition_ff``)."""
    return any(m == "" for _, m, _, _ in sums.cells("ffamp"))


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
    sums, _ = layer_sums(run)
    mix = mixing(sums)
    overall = {r["map"]: r["mean"] for r in mix.to_pylist() if r["layer"] == -1 and r["group"] == "all"}
    params = {"feed_forward_maps": has_ff(sums), "completeness_max_relative_error": completeness(sums),
              "mixing_all_tokens": overall, "kobayashi2021_bert_base_percent": KOBAYASHI_2021,
              "memory": "streamed: the parts are summed one at a time (summary.LayerSums)"}
    return write_outputs(run, "decomposition", name, {"mixing": mix, "change": change(sums), "ffamp": ffamp(sums)}, params)
