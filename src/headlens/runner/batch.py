"""A batch on the device: model inputs plus the masks and aggregation matrices the views need."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from ..lazy import torch  # imported on first use: AGGREGATIONS is read without torch (headlens.lazy)

from ..align.encode import DOT_COMMA, Encoded
from ..errors import param_error
from ..metrics.arcs import Arcs
from ..metrics.lexicon import is_negation, upos_codes
from ..metrics.view import AttentionView, aggregate

AGGREGATIONS = ("clark", "first", "mean")


def _pad(arrays: list[np.ndarray], length: int, fill, dtype) -> np.ndarray:
    out = np.full((len(arrays), length), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out


def _unit_upos(e: Encoded) -> np.ndarray:
    """UPOS code of each unit's word (-1 for special units and untagged words)."""
    words = e.sentence.words or ()
    return np.asarray(upos_codes([words[w].upos if w >= 0 else None for w in e.unit_word]), dtype=np.int8)


def _unit_negation(e: Encoded) -> np.ndarray:
    """Whether each unit's word is a negation word (metrics.features.is_negation)."""
    words = e.sentence.words or ()
    return np.asarray([w >= 0 and is_negation(words[w]) for w in e.unit_word], dtype=bool)


def _dot_comma(e: Encoded) -> np.ndarray:
    return e.dot_comma if e.dot_comma is not None else np.zeros(e.n_tokens, dtype=bool)


def _unit_dot_comma(e: Encoded) -> np.ndarray:
    """Whether each unit is the word "." or "," (Clark et al.'s punctuation at the word level)."""
    words = e.sentence.words or ()
    return np.asarray([w >= 0 and words[w].form in DOT_COMMA for w in e.unit_word], dtype=bool)


class Batch:
    """Padded inputs for ``items`` and, when asked, the token -> word aggregation.

    Word attention (Clark et al.) for aggregation ``clark``: to a word = sum over its
    sub-token columns, from a word = mean over its sub-token rows (rows still sum to 1).
    ``first``: the first sub-token's row instead of the mean. ``mean``: mean on both sides
    (Pande et al.; rows then do not sum to 1). Computed as R @ A @ C with R [U, T], C [T, U].
    """

    def __init__(
        self, items: list[Encoded], device: torch.device, dtype: torch.dtype, words: bool, aggregation: str = "clark",
        relations: tuple[str, ...] = (),
    ):
        if aggregation not in AGGREGATIONS:
            raise param_error("RunConfig", "word_aggregation", f"one of {AGGREGATIONS}", aggregation)
        self.items = items
        self.cache: dict = {}  # what the metrics derive from the batch once, for every layer (metrics.fused)
        self.ids = np.asarray([e.sentence.index for e in items], dtype=np.int64)
        lengths = [e.n_tokens for e in items]
        t = max(lengths)
        self.n_tokens = np.asarray(lengths)
        to = lambda a, dt=None: torch.from_numpy(a).to(device=device, dtype=dt)  # noqa: E731
        self.input_ids = to(_pad([e.input_ids for e in items], t, 0, np.int64))
        self.token_type_ids = to(_pad([e.token_type_ids for e in items], t, 0, np.int64))
        valid = _pad([np.ones(n, bool) for n in lengths], t, False, bool)
        self.attention_mask = to(valid.astype(np.int64))
        self.token_valid = to(valid)
        self.token_kinds = to(_pad([e.kinds for e in items], t, 0, np.int8))
        self.token_punct = to(_pad([e.token_punct for e in items], t, False, bool))
        self.token_segment = to(_pad([e.segment for e in items], t, -1, np.int8))
        self.token_dot_comma = to(_pad([_dot_comma(e) for e in items], t, False, bool))  # Clark et al.'s punctuation
        self.has_words = words
        self.arcs = Arcs.build(items, relations, device, dtype) if relations else None
        self.relations = relations
        self._mean_mats: tuple[torch.Tensor, torch.Tensor] | None = None  # (R [B, U, T], C [B, T, U]), mean both sides
        self._key_scale: torch.Tensor | None = None  # 1 / sub-tokens of the key word, [B, U]
        if words or relations:
            u = max(e.n_units for e in items)
            units = _pad([e.token_unit for e in items], t, -1, np.int64)
            self.unit_valid = to(_pad([np.ones(e.n_units, bool) for e in items], u, False, bool))
            self.unit_kinds = to(_pad([e.unit_kind for e in items], u, 0, np.int8))
            self.unit_punct = to(_pad([e.unit_punct for e in items], u, False, bool))
            self.unit_dot_comma = to(_pad([_unit_dot_comma(e) for e in items], u, False, bool))
            self.unit_upos = to(_pad([_unit_upos(e) for e in items], u, -1, np.int8))  # lexical categories
            self.unit_negation = to(_pad([_unit_negation(e) for e in items], u, False, bool))  # features of interest
            member = np.zeros((len(items), t, u), dtype=np.float64)  # member[b, t, u] = token t is in unit u
            b_idx, t_idx = np.nonzero(units >= 0)
            member[b_idx, t_idx, units[b_idx, t_idx]] = 1.0
            counts = member.sum(1, keepdims=True)  # [B, 1, U]
            mean_rows = np.divide(member, counts, out=np.zeros_like(member), where=counts > 0)
            if aggregation == "first":
                first = np.zeros_like(member)
                first_t = np.where(counts[:, 0] > 0, np.argmax(member, axis=1), -1)  # [B, U]
                bb, uu = np.nonzero(first_t >= 0)
                first[bb, first_t[bb, uu], uu] = 1.0
                rows = first
            else:
                rows = mean_rows
            cols = mean_rows if aggregation == "mean" else member
            self.row_agg = to(np.ascontiguousarray(rows.transpose(0, 2, 1)), dtype)  # [B, U, T]
            self.col_agg = to(cols, dtype)  # [B, T, U]
            self.token_unit = to(units)  # [B, T]: the token's unit, -1 for none and padding
            # what a key token adds to its word's column (fused path): 1 (sum), 1 / sub-tokens (mean)
            size = np.take_along_axis(counts[:, 0], np.maximum(units, 0), axis=1)
            weight = np.where(units >= 0, 1.0 / np.maximum(size, 1) if aggregation == "mean" else 1.0, 0.0)
            self.key_weight = to(weight, dtype)
            if relations:  # the syntactic sieve: mean on both sides whatever the word aggregation
                if aggregation == "first":
                    self._mean_mats = (to(np.ascontiguousarray(mean_rows.transpose(0, 2, 1)), dtype), to(mean_rows, dtype))
                elif aggregation == "clark":  # R_mean A C_sum / |key word| = R_mean A C_mean: no second R A C
                    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
                    self._key_scale = to(np.ascontiguousarray(inverse[:, 0]), dtype)  # [B, U]

    def __len__(self) -> int:
        return len(self.items)

    def model_inputs(self) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "token_type_ids": self.token_type_ids}

    def key_columns(self, keysets, dtype: torch.dtype) -> torch.Tensor:
        """[B, T, m] key weights for the fused path, one column per ``metrics.fused.KeySet``: a token
        set as it selects; a word set through each token's unit, weighted as the word aggregation
        sums (or averages) a word's sub-token columns."""
        cols = []
        for keyset in keysets:
            selected = keyset.select(self)
            if keyset.level == "token":
                cols.append(selected.to(dtype))
            else:
                unit = self.token_unit.clamp(min=0)
                member = selected.gather(1, unit) & (self.token_unit >= 0)
                cols.append(member.to(dtype) * self.key_weight.to(dtype))
        return torch.stack(cols, dim=-1)

    def word_attention(self, attn: torch.Tensor) -> Callable[[], torch.Tensor]:
        """The word-level attention of ``attn`` (R @ A @ C), computed on first use and then shared
        by the token view (syntactic sieve) and the word view of the same layer."""

        @functools.cache
        def words() -> torch.Tensor:
            return aggregate(attn, self.row_agg, self.col_agg)

        return words

    def _mean_words(self, attn: torch.Tensor, words: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor] | None:
        """Word attention averaged over the sub-tokens on both sides (Pande et al.) once its keys
        are scaled by ``_key_scale``: ``words`` where the run's aggregation allows it (``mean``: the
        same; ``clark``: the key word's sub-token count divides it), else its own R @ A @ C."""
        if not self.relations:
            return None
        if self._mean_mats is not None:
            return lambda: aggregate(attn, *self._mean_mats)
        return words

    def token_view(self, attn: torch.Tensor, words: Callable[[], torch.Tensor] | None = None) -> AttentionView:
        words = words or self.word_attention(attn)
        return AttentionView(
            attn, self.token_valid, self.token_kinds, self.token_punct, segment=self.token_segment,
            arcs=self.arcs, word_mean=self._mean_words(attn, words), word_key_scale=self._key_scale,
            dot_comma=self.token_dot_comma,
        )

    def word_view(self, attn: torch.Tensor, words: Callable[[], torch.Tensor] | None = None) -> AttentionView:
        words = words or self.word_attention(attn)
        return AttentionView(words(), self.unit_valid, self.unit_kinds, self.unit_punct,
                             arcs=self.arcs, upos=self.unit_upos, negation=self.unit_negation,
                             dot_comma=self.unit_dot_comma)  # arcs join word units: dependency accuracy reads them here
