"""Checks at load that the tokenizer fits the model, so that a mismatch is a ModelError naming the
directory, not an IndexError in the middle of a run.

- every token id the tokenizer can produce indexes a row of the word-embedding table;
- every token type id of a pair indexes a row of the token-type table (when the model takes
  token types);
- the position table leaves room for a sentence: the limit is at least [CLS] x [SEP];
- the tokenizer has the special tokens the metrics need ([CLS]/[SEP], or <s>/</s>) and puts
  them first and last in every sequence (``cls``, ``sep``, ``sep_sep`` and ``cls_entropy`` read
  them; the encoder marks them by these ids).
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ModelError

MIN_POSITIONS = 3  # [CLS] one token [SEP]
_FIX = "Use the tokenizer files the model was trained with (tokenizer.json, vocab.txt, special_tokens_map.json)."


def check_tokenizer(path: str, model: Any, tokenizer: Any, max_tokens: int) -> None:
    """Raise a ModelError if ``tokenizer`` cannot feed ``model`` (see the module docstring)."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ModelError(
            f"the tokenizer in {path} has {len(tokenizer):,} tokens, but the model's word-embedding table has "
            f"{rows:,} rows: token ids {rows:,} and up would fail in the middle of a run. {_FIX}")
    if max_tokens < MIN_POSITIONS:
        raise ModelError(
            f"the model in {path} takes at most {max_tokens} tokens per sequence (max_position_embeddings "
            f"{model.config.max_position_embeddings} in config.json, tokenizer model_max_length "
            f"{getattr(tokenizer, 'model_max_length', None)}); a sentence needs at least {MIN_POSITIONS}. "
            "Check config.json and tokenizer_config.json.")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    missing = [name for name, i in (("cls_token ([CLS] or <s>)", cls), ("sep_token ([SEP] or </s>)", sep)) if i is None]
    if missing:
        raise ModelError(
            f"the tokenizer in {path} has no {' and no '.join(missing)}; the metrics cls, sep, sep_sep and "
            f"cls_entropy need both. {_FIX}")
    pair = tokenizer("a", "b", add_special_tokens=True, return_token_type_ids=True)
    ids = pair["input_ids"]
    if ids[0] != cls or ids[-1] != sep:
        raise ModelError(
            f"the tokenizer in {path} does not frame a sequence as {tokenizer.cls_token} ... {tokenizer.sep_token} "
            f"(it gives {tokenizer.convert_ids_to_tokens([ids[0], ids[-1]])} first and last); its post-processor "
            f"does not add the special tokens the metrics need. {_FIX}")
    types = getattr(model.config, "type_vocab_size", None)
    used = max(pair.get("token_type_ids") or [0])
    if types is not None and used >= types and "token_type_ids" in inspect.signature(model.forward).parameters:
        raise ModelError(
            f"the tokenizer in {path} gives token type {used} to the second sentence of a pair, but the model has "
            f"{types} token type(s) (type_vocab_size in config.json): sentence pairs would fail mid-run. {_FIX}")
