"""The decomposition's part tables (long form, one file per run part, like ``scores/``).

Stored per run part in ``collect/decomposition/part-N.npz`` (columns ``<table>.<column>``):

``layers``: sentence_id, layer (0-based), metric, group, count, value
    metric ``mixing:<map>``     group = token group; value = mean mixing ratio over its ``count`` tokens
    metric ``change:<comp>``    group ``all``; value = 1 - Spearman rho of the maps around the component
    metric ``completeness:<stage>``  group ``all``; value = largest relative error over the sentence's tokens
    metric ``ffamp``            group = pair type; value = mean log2 FF amplification over ``count`` pairs
``ffpairs`` (top pairs of word tokens): sentence_id, layer, query, source (token positions), query_token,
    source_token, pair_type, amplification (log2), share (the source's share of the ATBFF row)
``tokens``: sentence_id, layer, position, token_id, token, group, then one column
    per map with the token's mixing ratio

Runs made without the feed-forward maps (the default ``--analyses decomposition``) have no
``change``/``ffamp`` rows, no ``ffpairs`` rows, no FF completeness stages, and NaN in the FF maps'
``tokens`` columns.

Storage: the collector keeps a batch's rows as numpy columns (built at once for all layers,
``Columns``); a string column is written as int codes ``<table>.<column>`` plus its dictionary
``<table>.<column>.dictionary`` (token strings: one dictionary per part, of the part's distinct
token ids). Part files written by earlier versions (plain string columns) read the same.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .names import MAPS, PAIR_TYPES, TOKEN_GROUPS

_dict = pa.dictionary(pa.int16(), pa.string())
SCHEMAS = {
    "layers": pa.schema([("sentence_id", pa.int64()), ("layer", pa.int16()), ("metric", _dict), ("group", _dict),
                         ("count", pa.int32()), ("value", pa.float64())]),
    "ffpairs": pa.schema([("sentence_id", pa.int64()), ("layer", pa.int16()), ("query", pa.int32()),
                          ("source", pa.int32()), ("query_token", pa.string()), ("source_token", pa.string()),
                          ("pair_type", _dict), ("amplification", pa.float64()), ("share", pa.float64())]),
    "tokens": pa.schema([("sentence_id", pa.int64()), ("layer", pa.int16()), ("position", pa.int32()),
                         ("token_id", pa.int64()), ("token", pa.string()), ("group", _dict),
                         *[(m, pa.float32()) for m in MAPS]]),
}
TOKEN_GROUP_OF = ("word", "punct", "cls", "sep")  # the exclusive groups (a token is in at most one)
GROUP_NAMES = (*TOKEN_GROUPS, *PAIR_TYPES)  # the ``group`` dictionary of ``layers``
DICTIONARY = ".dictionary"
# string columns holding token ids until a part is written (then codes into the part's token dictionary)
TOKEN_COLUMNS = {"tokens": ("token",), "ffpairs": ("query_token", "source_token")}
# fixed dictionaries of the coded columns (``layers.metric`` depends on the run: ``layer_metrics``)
FIXED = {("layers", "group"): GROUP_NAMES, ("ffpairs", "pair_type"): PAIR_TYPES, ("tokens", "group"): TOKEN_GROUP_OF}

Columns = dict  # column name -> numpy array (one batch or part of one table)


def layer_metrics(maps, changes, stages, ff: bool) -> list[str]:
    return [f"mixing:{m}" for m in maps] + [f"change:{c}" for c in changes] + \
        [f"completeness:{s}" for s in stages] + (["ffamp"] if ff else [])


def layer_rows(ids, means, counts, errors, change=None, amp_means=None, amp_counts=None) -> Columns:
    """Rows of ``layers`` for the sentences of one or more batches, all layers at once; metric codes in the order
    of ``layer_metrics``.

    means [B, L, M, G] (token groups) with counts [B, G]; errors [B, L, S]; with the FF maps also
    change [B, L, C] and the FF amplification by pair type amp_means, amp_counts [B, L, P].
    """
    b, lay, m, g = means.shape
    n_tokens = counts[:, 0]
    blocks = []  # (metric code [R], group code [R], count [B, L, R], value [B, L, R])

    def block(metric, group, count, value) -> None:
        blocks.append((np.broadcast_to(metric, value.shape[2:]).ravel(), np.broadcast_to(group, value.shape[2:]).ravel(),
                       np.broadcast_to(count, value.shape).reshape(b, lay, -1), value.reshape(b, lay, -1)))

    block(np.arange(m)[:, None], np.arange(g)[None, :], counts[:, None, None, :], means)
    first = m
    if change is not None:
        c = change.shape[2]
        block(first + np.arange(c), 0, (n_tokens ** 2)[:, None, None], change)
        first += c
    block(first + np.arange(errors.shape[2]), 0, n_tokens[:, None, None], errors)
    first += errors.shape[2]
    if amp_means is not None:
        block(first, len(TOKEN_GROUPS) + np.arange(len(PAIR_TYPES)), amp_counts, amp_means)
    metric = np.concatenate([k[0] for k in blocks])
    group = np.concatenate([k[1] for k in blocks])
    count = np.concatenate([k[2] for k in blocks], -1)
    value = np.concatenate([k[3] for k in blocks], -1)
    keep = count > 0
    bi, li, ri = np.nonzero(keep)
    return {"sentence_id": ids[bi].astype(np.int64), "layer": li.astype(np.int16),
            "metric": metric[ri].astype(np.int16), "group": group[ri].astype(np.int16),
            "count": count[keep].astype(np.int32), "value": value[keep].astype(np.float64)}


def pair_rows(ids, input_ids, types, best, query, source, share) -> Columns:
    """Rows of ``ffpairs`` from each sentence's top pairs per layer: best, query, source, share [B, L, K]."""
    bi, li, ki = np.nonzero(np.isfinite(best))
    q, s = query[bi, li, ki].astype(np.int64), source[bi, li, ki].astype(np.int64)
    return {"sentence_id": ids[bi].astype(np.int64), "layer": li.astype(np.int16), "query": q.astype(np.int32),
            "source": s.astype(np.int32), "query_token": input_ids[bi, q], "source_token": input_ids[bi, s],
            "pair_type": types[bi, q, s].astype(np.int16), "amplification": best[bi, li, ki].astype(np.float64),
            "share": share[bi, li, ki].astype(np.float64)}


def group_codes(groups: np.ndarray) -> np.ndarray:
    """int16 [B, T]: index into ``TOKEN_GROUP_OF`` from the bool [G, B, T] of ``token_groups`` (-1: none)."""
    codes = np.full(groups.shape[1:], -1, dtype=np.int16)
    for g, name in enumerate(TOKEN_GROUP_OF):
        codes[groups[TOKEN_GROUPS.index(name)]] = g
    return codes


def token_rows(ids, input_ids, codes: np.ndarray, mixing: np.ndarray, maps) -> Columns:
    """Rows of ``tokens``: one per token of a group and layer; mixing [B, L, M, T] in the order of ``maps``."""
    keep = (codes >= 0).ravel()
    b_idx, t_idx = np.divmod(np.flatnonzero(keep), codes.shape[1])
    b, lay, m, t = mixing.shape
    per = mixing.astype(np.float32).transpose(1, 2, 0, 3).reshape(lay, m, b * t)[:, :, keep]  # [L, M, N]
    out = {"sentence_id": np.tile(ids[b_idx].astype(np.int64), lay),
           "layer": np.repeat(np.arange(lay, dtype=np.int16), len(b_idx)),
           "position": np.tile(t_idx.astype(np.int32), lay),
           "token_id": np.tile(input_ids.ravel()[keep].astype(np.int64), lay),
           "group": np.tile(codes.ravel()[keep], lay)}
    out["token"] = out["token_id"]
    for k, name in enumerate(maps):
        out[name] = per[:, k].ravel()
    return out


def select(columns: Columns, keep: np.ndarray) -> Columns:
    return {k: v[keep] for k, v in columns.items()}


def part_arrays(tables: dict[str, list[Columns]], metrics: list[str], vocab: np.ndarray) -> dict[str, np.ndarray]:
    """One part file's arrays from the batches' columns: ``<table>.<column>``, string columns coded (token strings:
    ``vocab`` [V], the tokenizer's string of every id)."""
    out: dict[str, np.ndarray] = {}
    joined = {name: _join(name, parts) for name, parts in tables.items()}
    for name, cols in joined.items():
        for col, values in cols.items():
            out[f"{name}.{col}"] = values
        for (table, col), names in (*FIXED.items(), (("layers", "metric"), metrics)):
            if table == name:
                out[f"{name}.{col}{DICTIONARY}"] = np.asarray(names, dtype=str)
    used = np.zeros(len(vocab), dtype=bool)  # the part's distinct token ids, without sorting
    for name, cols in TOKEN_COLUMNS.items():
        for col in cols:
            used[joined[name][col]] = True
    code = np.cumsum(used) - 1
    names = vocab[used]
    for name, cols in TOKEN_COLUMNS.items():
        for col in cols:
            out[f"{name}.{col}"] = code[joined[name][col]].astype(np.int32)
            out[f"{name}.{col}{DICTIONARY}"] = names
    return out


def _join(name: str, parts: list[Columns]) -> Columns:
    if parts:
        return {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}
    fields = [f for f in SCHEMAS[name] if f.name not in MAPS or name != "tokens"]
    return {f.name: np.zeros(0, np.int64 if name in TOKEN_COLUMNS and f.name in TOKEN_COLUMNS[name]
                             else _numpy_type(f.type)) for f in fields}


def _numpy_type(t: pa.DataType):
    if pa.types.is_dictionary(t):
        return np.int16
    return np.int64 if pa.types.is_string(t) else t.to_pandas_dtype()


def _decode(part: dict[str, np.ndarray], key: str) -> np.ndarray:
    values = part[key]
    if key + DICTIONARY in part:
        return part[key + DICTIONARY][values.astype(np.int64)] if len(values) else np.zeros(0, str)
    return values


def from_parts(parts: list[dict[str, np.ndarray]], names=tuple(SCHEMAS)) -> dict[str, pa.Table]:
    """The tables ``names`` of a run's committed parts (see ``collect.read_parts``); a map a run did not
    compute is NaN."""
    out = {}
    for name in names:
        schema = SCHEMAS[name]
        rows = [len(p[f"{name}.sentence_id"]) for p in parts]
        cols = {}
        for field in schema:
            key = f"{name}.{field.name}"
            arrays = [_decode(p, key) if key in p else np.full(n, np.nan, np.float32) for p, n in zip(parts, rows)]
            values = np.concatenate(arrays) if arrays else np.zeros(0)
            if pa.types.is_dictionary(field.type):
                cols[field.name] = pa.array(values.astype(str), pa.string()).dictionary_encode()
            elif pa.types.is_string(field.type):
                cols[field.name] = pa.array(values.astype(str), pa.string())
            else:
                cols[field.name] = pa.array(values.astype(field.type.to_pandas_dtype()))
        out[name] = pa.table(cols)
    return out


def read(run, names=tuple(SCHEMAS)) -> dict[str, pa.Table]:
    """The tables ``names`` (``layers``, ``ffpairs``, ``tokens``) of a run made with ``--analyses decomposition``,
    whole (the summaries read the parts one at a time: ``analyses/decomposition/stats.py``)."""
    from ..collect import read_parts

    return from_parts(read_parts(run, "decomposition"), names)
