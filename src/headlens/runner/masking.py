"""Masked input (Kobayashi et al. 2021 fed BERT 12% masked tokens): replace word tokens by the mask token.

Each word token (not [CLS]/[SEP]/padding) of a sentence is replaced with probability ``rate``,
from a generator seeded by ``(seed, sentence index)``: the same sentence is masked the same way
in every run and on resume, whatever the batching.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from ..align.encode import WORD
from ..errors import ConfigError


def mask_stream(items: Iterable, rate: float, tokenizer, seed: int = 0) -> Iterator:
    if not rate:
        yield from items
        return
    mask_id = tokenizer.mask_token_id
    if mask_id is None:
        raise ConfigError(f"--mask-rate {rate} needs a mask token, but the tokenizer {type(tokenizer).__name__} has none.")
    for item in items:
        yield item if not hasattr(item, "input_ids") else mask_tokens(item, rate, mask_id, seed)


def mask_tokens(enc, rate: float, mask_id: int, seed: int = 0):
    rng = np.random.default_rng([seed, enc.sentence.index, enc.window])
    chosen = (rng.random(enc.n_tokens) < rate) & (enc.kinds == WORD)
    if not chosen.any():
        return enc
    ids = enc.input_ids.copy()
    ids[chosen] = mask_id
    return replace(enc, input_ids=ids)
