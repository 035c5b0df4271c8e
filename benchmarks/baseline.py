"""The store-then-analyze baseline: the workflow of Clark et al. (2019)'s research code.

Their code (``extract_attention.py``, then the ``General_Analysis`` notebook) runs BERT on one
example per forward pass with ``output_attentions``, keeps every attention map as a numpy array
``[layers, heads, T, T]`` in a list, and computes the statistics afterwards, example by example.
This module is that workflow written the way a competent researcher would write it today:

- store: one sentence per forward pass (eager attention, ``output_attentions=True``), each
  sentence's maps stacked into one float32 numpy array and appended to a list;
- analyze: per stored sentence, numpy vectorised over layers and heads, the same nine surface
  metrics as ``headlens.analyses.surface.metrics`` (cls, sep, punct, self, prev, next, sep_sep, entropy,
  cls_entropy) at token level, and again at word level on word attention built with Clark
  aggregation (to a word = sum over its sub-token columns, from a word = mean over its sub-token
  rows; special tokens are units of their own), as two matrix products per sentence.

Sentences are tokenized and aligned to their gold words by headlens's own Encoder, so both sides
see the same tokens and words: what is compared is the strategy (store every map, then analyze)
against headlens's (reduce each layer's attention in the forward hook, batched), not the
preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchutil import encoded_stream, timed

SURFACE = ("cls", "sep", "punct", "self", "prev", "next", "sep_sep", "entropy", "cls_entropy")
METRICS = SURFACE + tuple("word_" + name for name in SURFACE)
SMOOTHING = 1e-4  # Clark et al.: alpha <- (1 - s) alpha + s / n before the entropy
CLS, SEP = 1, 2  # headlens.align.encode token / unit kinds
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float64": torch.float64}


@dataclass
class Stored:
    """One sentence after the forward pass: its attention maps and what the analysis needs to read them."""

    attns: np.ndarray  # float32 [L, H, T, T]
    encoded: object  # headlens.align.encode.Encoded: token kinds, punctuation, token -> word map


@dataclass
class BaselineResult:
    values: np.ndarray  # float64 [N, len(METRICS), L, H], NaN where a metric is undefined
    seconds: dict[str, float]  # load, store, analyze, total

    @property
    def sentences(self) -> int:
        return len(self.values)

    def head_means(self) -> dict[str, np.ndarray]:
        """Per-(layer, head) mean over the sentences where the metric is defined, by metric name."""
        with np.errstate(invalid="ignore"):
            means = np.nanmean(self.values, axis=0)
        return dict(zip(METRICS, means))


def load(model_path: str, device: str, dtype: str):
    """The encoder with eager attention (the only implementation that returns attention maps) and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager", dtype=DTYPES[dtype])
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    max_tokens = min(model.config.max_position_embeddings, tokenizer.model_max_length)
    return model.eval().to(device), tokenizer, max_tokens


def store(model, items, device: str) -> list[Stored]:
    """Run each sentence on its own and keep all of its attention maps on the host."""
    kept = []
    with torch.inference_mode():
        for enc in items:
            ids = torch.from_numpy(enc.input_ids).unsqueeze(0).to(device)
            types = torch.from_numpy(enc.token_type_ids).unsqueeze(0).to(device)
            out = model(input_ids=ids, token_type_ids=types, output_attentions=True)
            kept.append(Stored(np.stack([a[0].float().cpu().numpy() for a in out.attentions]), enc))
    return kept


def surface_metrics(attn: np.ndarray, kinds: np.ndarray, punct: np.ndarray) -> list[np.ndarray]:
    """The nine surface metrics of one sentence, each [L, H], from its attention [L, H, N, N] (order of SURFACE)."""
    layers, heads, n, _ = attn.shape
    is_cls, is_sep = kinds == CLS, kinds == SEP
    columns = np.stack([is_cls, is_sep, punct], axis=-1).astype(attn.dtype)  # [N, 3]
    mass = (attn.reshape(-1, n) @ columns).reshape(layers, heads, n, 3)  # each query's attention to them
    p = (1.0 - SMOOTHING) * attn + SMOOTHING / n
    entropy = -(p * np.log(p)).sum(-1)  # [L, H, N]
    return [
        mass[..., 0].mean(-1),
        mass[..., 1].mean(-1),
        mass[..., 2].mean(-1),
        np.diagonal(attn, axis1=-2, axis2=-1).mean(-1),
        np.diagonal(attn, offset=-1, axis1=-2, axis2=-1).mean(-1),  # alpha[i + 1, i]
        np.diagonal(attn, offset=1, axis1=-2, axis2=-1).mean(-1),  # alpha[i, i + 1]
        mass[..., is_sep, 1].mean(-1),
        entropy.mean(-1),
        entropy[..., is_cls].mean(-1),
    ]


def word_attention(attn: np.ndarray, token_unit: np.ndarray, n_units: int) -> np.ndarray:
    """Clark aggregation [L, H, U, U]: to a word = sum over its token columns, from a word = mean over its token rows."""
    member = np.zeros((len(token_unit), n_units), dtype=attn.dtype)  # member[t, u] = token t is in unit u
    tokens = np.nonzero(token_unit >= 0)[0]
    member[tokens, token_unit[tokens]] = 1.0
    from_unit = (member / member.sum(0)).T  # [U, T]
    return from_unit @ attn @ member


def sentence_values(item: Stored) -> np.ndarray:
    """float64 [len(METRICS), L, H]: token-level then word-level surface metrics of one stored sentence."""
    enc = item.encoded
    words = word_attention(item.attns, enc.token_unit, enc.n_units)
    token_level = surface_metrics(item.attns, enc.kinds, enc.token_punct)
    word_level = surface_metrics(words, enc.unit_kind, enc.unit_punct)
    return np.stack(token_level + word_level).astype(np.float64)


def analyze(kept: list[Stored]) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is NaN: the metric is undefined there
        return np.stack([sentence_values(item) for item in kept])


def run_baseline(model_path: str, spec, device: str = "cpu", dtype: str = "float32") -> BaselineResult:
    """The whole baseline on the corpus ``spec``: load, store every map, then analyze; timed by phase."""
    from headlens.corpus.types import Skipped

    seconds = {}
    seconds["load"], (model, tokenizer, max_tokens) = timed(lambda: load(model_path, device, dtype))
    items = (e for e in encoded_stream(tokenizer, max_tokens, spec) if not isinstance(e, Skipped))
    seconds["store"], kept = timed(lambda: store(model, items, device))
    seconds["analyze"], values = timed(lambda: analyze(kept))
    seconds["total"] = sum(seconds.values())
    return BaselineResult(values, seconds)
