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
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .summary import PAIR_TYPES, TOKEN_GROUPS
from .terms import MAPS, STAGES

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


def _dictionary(names: list[str], codes: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int16)), pa.array(names, pa.string()))


def layer_rows(ids, layer, means, counts, change, errors, amp_means, amp_counts) -> pa.Table:
    """From per-sentence arrays: means [B, M, G] with counts [B, G]; change [B, C]; errors [B, S]; amp [B, P]."""
    from .analysis import CHANGES

    metrics = [f"mixing:{m}" for m in MAPS] + [f"change:{c[0]}" for c in CHANGES] + \
        [f"completeness:{s}" for s in STAGES] + ["ffamp"]
    groups = list(TOKEN_GROUPS) + list(PAIR_TYPES)
    b = len(ids)
    sid, metric, group, count, value = [], [], [], [], []

    def add(m: int, g: int, c: np.ndarray, v: np.ndarray) -> None:
        keep = c > 0
        sid.append(ids[keep]), metric.append(np.full(keep.sum(), m)), group.append(np.full(keep.sum(), g))
        count.append(c[keep]), value.append(v[keep])

    n_tokens = counts[:, 0]
    for k in range(len(MAPS)):
        for g in range(len(TOKEN_GROUPS)):
            add(k, g, counts[:, g], means[:, k, g])
    for k in range(change.shape[1]):
        add(len(MAPS) + k, 0, n_tokens ** 2, change[:, k])
    for k in range(errors.shape[1]):
        add(len(MAPS) + change.shape[1] + k, 0, n_tokens, errors[:, k])
    for p in range(len(PAIR_TYPES)):
        add(len(metrics) - 1, len(TOKEN_GROUPS) + p, amp_counts[:, p], amp_means[:, p])
    cat = np.concatenate
    return pa.Table.from_arrays([
        pa.array(cat(sid).astype(np.int64)), pa.array(np.full(sum(map(len, sid)), layer, np.int16)),
        _dictionary(metrics, cat(metric)), _dictionary(groups, cat(group)),
        pa.array(cat(count).astype(np.int32)), pa.array(cat(value).astype(np.float64)),
    ], schema=SCHEMAS["layers"])


def pair_rows(batch, layer, amp, query, source, types, share, tokenizer) -> pa.Table:
    keep = np.isfinite(amp)
    b_idx = np.nonzero(keep)[0]
    q, s = query[keep], source[keep]
    ids = [batch.items[b].input_ids for b in b_idx]
    return pa.Table.from_arrays([
        pa.array(batch.ids[b_idx]), pa.array(np.full(len(b_idx), layer, np.int16)),
        pa.array(q.astype(np.int32)), pa.array(s.astype(np.int32)),
        pa.array([tokenizer.convert_ids_to_tokens(int(i[k])) for i, k in zip(ids, q)], pa.string()),
        pa.array([tokenizer.convert_ids_to_tokens(int(i[k])) for i, k in zip(ids, s)], pa.string()),
        _dictionary(list(PAIR_TYPES), types[keep]), pa.array(amp[keep]), pa.array(share[keep]),
    ], schema=SCHEMAS["ffpairs"])


def group_codes(groups: np.ndarray) -> np.ndarray:
    """int16 [B, T]: index into ``TOKEN_GROUP_OF`` from the bool [G, B, T] of ``token_groups`` (-1: none)."""
    codes = np.full(groups.shape[1:], -1, dtype=np.int16)
    for g, name in enumerate(TOKEN_GROUP_OF):
        codes[groups[TOKEN_GROUPS.index(name)]] = g
    return codes


def token_columns(batch, codes: np.ndarray, tokenizer) -> list:
    """The layer-independent columns of a batch's token rows (``codes`` from ``group_codes``): computed once."""
    b_idx, t_idx = np.nonzero(codes >= 0)
    ids = batch.input_ids.cpu().numpy()[b_idx, t_idx]
    return [b_idx, t_idx, pa.array(batch.ids[b_idx]), pa.array(t_idx.astype(np.int32)), pa.array(ids),
            pa.array(tokenizer.convert_ids_to_tokens(ids.tolist()), pa.string())]


def token_rows(layer, mixing, codes: np.ndarray, columns: list) -> pa.Table:
    """mixing [B, M, T] -> one row per token of a group."""
    b_idx, t_idx, sid, pos, ids, tokens = columns
    cols = [sid, pa.array(np.full(len(b_idx), layer, np.int16)), pos, ids, tokens, _dictionary(list(TOKEN_GROUP_OF), codes[b_idx, t_idx])]
    cols += [pa.array(mixing[b_idx, k, t_idx].astype(np.float32)) for k in range(len(MAPS))]
    return pa.Table.from_arrays(cols, schema=SCHEMAS["tokens"])


def concat(name: str, parts: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(parts) if parts else SCHEMAS[name].empty_table()


def to_arrays(tables: dict[str, pa.Table]) -> dict[str, np.ndarray]:
    """Columns as plain numpy arrays named ``<table>.<column>`` (dictionary columns as strings), for a part file."""
    out = {}
    for name, table in tables.items():
        for col in table.column_names:
            data = table[col]
            if pa.types.is_dictionary(data.type):
                data = data.cast(pa.string())
            values = data.to_numpy(zero_copy_only=False)
            out[f"{name}.{col}"] = values.astype(str) if values.dtype == object else values
    return out


def from_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, pa.Table]:
    """The tables of a run's committed parts (see ``collect.read_parts``)."""
    out = {}
    for name, schema in SCHEMAS.items():
        cols = {}
        for field in schema:
            arrays = [p[f"{name}.{field.name}"] for p in parts]
            values = np.concatenate(arrays) if arrays else np.zeros(0)
            if pa.types.is_dictionary(field.type):
                cols[field.name] = pa.array(values.astype(str), pa.string()).dictionary_encode()
            elif pa.types.is_string(field.type):
                cols[field.name] = pa.array(values.astype(str), pa.string())
            else:
                cols[field.name] = pa.array(values.astype(field.type.to_pandas_dtype()))
        out[name] = pa.table(cols)
    return out


def read(run) -> dict[str, pa.Table]:
    """The ``layers``, ``ffpairs`` and ``tokens`` tables of a run made with ``--analyses decomposition``."""
    from ..collect import read_parts

    return from_parts(read_parts(run, "decomposition"))
