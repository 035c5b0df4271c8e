"""Attention by lexical category (Jang, Byun & Shin, LREC-COLING 2024), per sentence and head.

Words get a category from their UPOS tag by a mapping (``DEFAULT_MAP``, replaceable with
``--category-map FILE``, a JSON object UPOS -> content | function | other | drop):
CONTENT = NOUN PROPN VERB ADJ ADV; FUNCTION = DET ADP PRON CCONJ SCONJ AUX PART;
OTHER = NUM INTJ SYM X; PUNCT dropped. Words without a tag (``--annotator regex``) have none.

Word-level attention comes from the run's ``--word-aggregation`` (recorded in the manifest;
``mean`` is Jang et al.'s averaging over sub-tokens, the default ``clark`` sums the key's
sub-tokens). Special tokens ([CLS], [SEP]), punctuation and untagged words are dropped as
keys and as queries. ``--category-keys renormalise`` (default) then rescales each query's
row over the remaining words to sum to 1, so that the scores describe how attention is shared
among words and not how much of it [SEP] absorbs (BERT puts up to half of its mass there);
``raw`` keeps the weights as they are. With W the words kept and a_ij that attention:

=========================  ==========================================================
cat_<q>_<k>                mean of a_ij over query words i of category q and key words
                           j of category k (q, k in content, function): the 2x2 matrix
cat_recv_<k>               mean over key words j of category k of the mean over every
                           query word i in W of a_ij: attention a k-word receives
cat_pref                   cat_recv_content - cat_recv_function (> 0: content preferred)
=========================  ==========================================================

Uniform attention over W gives every cell 1/|W| (renormalised) and ``cat_pref`` 0. A sentence
without a word of a needed category gets NaN for that metric and leaves its tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...errors import ConfigError
from ...metrics.fused import Fused, FusedView, KeySet
from ...metrics.lexicon import UPOS, UPOS_CODE, upos_codes  # noqa: F401 - the batch encodes the tags
from ...metrics.registry import Metric, MetricSet
from ...metrics.view import AttentionView

ANALYSIS = "categories"
CATEGORIES = ("content", "function", "other")
KEY_MODES = ("renormalise", "raw")
DEFAULT_MAP = {
    **{t: "content" for t in ("NOUN", "PROPN", "VERB", "ADJ", "ADV")},
    **{t: "function" for t in ("DET", "ADP", "PRON", "CCONJ", "SCONJ", "AUX", "PART")},
    **{t: "other" for t in ("NUM", "INTJ", "SYM", "X")},
    "PUNCT": "drop",
}
NAN = float("nan")


def check_map(mapping: Mapping[str, str], where: str = "the category map") -> dict[str, str]:
    """A complete UPOS -> category mapping: ``mapping`` over the default (unknown tags are an error)."""
    unknown = sorted(set(mapping) - set(UPOS))
    bad = sorted({v for v in mapping.values() if v not in (*CATEGORIES, "drop")})
    if unknown or bad:
        raise ConfigError(
            f"{where}: " + (f"{unknown} are not UPOS tags (valid: {', '.join(UPOS)}). " if unknown else "")
            + (f"categories {bad} are not one of content, function, other, drop." if bad else ""))
    return {**DEFAULT_MAP, **mapping}


def load_category_map(value: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """None (the default map), a mapping, or the path of a JSON file holding one."""
    if value is None or isinstance(value, Mapping):
        return None if value is None else check_map(value)
    path = os.fspath(value)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as e:
        raise ConfigError(f"--category-map {path}: cannot read a JSON object UPOS -> category ({e}).") from e
    if not isinstance(data, dict):
        raise ConfigError(f"--category-map {path}: expected a JSON object UPOS -> category, got {type(data).__name__}.")
    return check_map(data, f"--category-map {path}")


def _lookup(mapping: Mapping[str, str]) -> torch.Tensor:
    """int64 [len(UPOS) + 1]: category index (0 content, 1 function, 2 other, -1 dropped) by code + 1."""
    codes = [-1] + [CATEGORIES.index(mapping[t]) if mapping.get(t, "drop") != "drop" else -1 for t in UPOS]
    return torch.tensor(codes, dtype=torch.int64)


def _categories(v, mapping: Mapping[str, str]) -> torch.Tensor:
    """long [B, U]: each unit's category (0 content, 1 function, 2 other, -1 dropped or invalid)."""
    if v.upos is None:
        raise ValueError("the category metrics need a word view with UPOS codes")
    lut = _lookup(mapping).to(v.valid.device)
    return lut[v.upos.long() + 1].masked_fill(~v.valid, -1)


def _cells(to_cat: torch.Tensor, cat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(S, R) from each query unit's attention to content and function words [B, H, U, 2]."""
    words = (cat >= 0).to(to_cat.dtype)
    onehot = torch.stack([cat == 0, cat == 1], dim=-1).to(to_cat.dtype)  # [B, U, 2]
    counts = onehot.sum(1)  # [B, 2]
    sums = torch.einsum("buq,bhuk->bhqk", onehot, to_cat)
    pairs = counts[:, None, :, None] * counts[:, None, None, :]
    s = (sums / pairs.clamp_min(1)).masked_fill(pairs == 0, NAN)
    n_q = words.sum(-1)  # [B]
    recv = torch.einsum("bu,bhuk->bhk", words, to_cat) / (n_q[:, None, None] * counts[:, None, :]).clamp_min(1)
    return s, recv.masked_fill((counts == 0)[:, None, :], NAN)


def category_cells(v: AttentionView, mapping: Mapping[str, str], keys: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B, H, 2, 2] category -> category means, R [B, H, 2] attention received per category)."""
    cat = _categories(v, mapping)
    a = v.attn * (cat >= 0).to(v.attn.dtype)[:, None, None, :]
    if keys == "renormalise":
        a = a / a.sum(-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    onehot = torch.stack([cat == 0, cat == 1], dim=-1).to(a.dtype)  # [B, U, 2]
    b, h, u, _ = a.shape
    return _cells(torch.bmm(a.reshape(b, h * u, u), onehot).view(b, h, u, 2), cat)


def _key_sets(mapping: Mapping[str, str]) -> tuple[KeySet, KeySet, KeySet]:
    """Word key sets of the content, function and every kept word (the map is part of their names)."""
    tag = ",".join(f"{k}={v}" for k, v in sorted(mapping.items()))

    def select(which: int | None):
        def units(batch) -> torch.Tensor:
            cat = _lookup(mapping).to(batch.unit_upos.device)[batch.unit_upos.long() + 1]
            return (cat >= 0) if which is None else (cat == which)

        return units

    return (KeySet(f"word:cat:content:{tag}", "word", select(0)), KeySet(f"word:cat:function:{tag}", "word", select(1)),
            KeySet(f"word:cat:kept:{tag}", "word", select(None)))


def category_cells_fused(v: FusedView, mapping: Mapping[str, str], keys: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``category_cells`` from the masses of the category key sets (a word row's mass on a category
    over its mass on every kept word, when renormalised)."""
    content, function, kept = _key_sets(mapping)
    to_cat = torch.stack([v.mass(content), v.mass(function)], dim=-1)  # [B, H, U, 2]
    if keys == "renormalise":
        to_cat = to_cat / v.mass(kept).clamp_min(torch.finfo(to_cat.dtype).tiny)[..., None]
    return _cells(to_cat, _categories(v, mapping))


def _metric(name: str, pick, description: str, mapping: Mapping[str, str], keys: str) -> Metric:
    memo = ("categories", keys, tuple(sorted(mapping.items())))

    def score(v: AttentionView) -> torch.Tensor:
        return pick(*v._memo(memo, lambda: category_cells(v, mapping, keys)))

    def fused(v: FusedView) -> torch.Tensor:
        return pick(*v._memo(memo, lambda: category_cells_fused(v, mapping, keys)))

    return Metric(name, "word", description, score, ANALYSIS, {"category_map": dict(mapping), "category_keys": keys},
                  need=Fused(fused, _key_sets(mapping)))


def category_metrics(mapping: Mapping[str, str] = DEFAULT_MAP, keys: str = "renormalise") -> list[Metric]:
    if keys not in KEY_MODES:
        raise ConfigError(f"--category-keys must be one of {', '.join(KEY_MODES)}, got {keys!r}.")
    out = []
    for qi, q in enumerate(("content", "function")):
        for ki, k in enumerate(("content", "function")):
            out.append(_metric(f"cat_{q}_{k}", lambda s, r, qi=qi, ki=ki: s[..., qi, ki],
                               f"mean attention from {q} words to {k} words", mapping, keys))
    for ki, k in enumerate(("content", "function")):
        out.append(_metric(f"cat_recv_{k}", lambda s, r, ki=ki: r[..., ki], f"attention a {k} word receives", mapping, keys))
    out.append(_metric("cat_pref", lambda s, r: r[..., 0] - r[..., 1],
                       "content-word minus function-word attention received (> 0: content preferred)", mapping, keys))
    return out


def _expand(options) -> list[Metric]:
    """The metrics of a run with ``options`` (a CategoriesOptions or None: the default map)."""
    if options is None:
        return category_metrics()
    return category_metrics(check_map(options.map or DEFAULT_MAP), options.keys)


METRICS = MetricSet(ANALYSIS, _expand)
for _m in category_metrics():
    METRICS.add(_m)
