"""Tiny random BERT models with WordPiece tokenizers, built offline inside the tests."""

from __future__ import annotations

import os
import string

import torch

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a an of to in and is was it that he she they we i you this for on with as at by not be are "
    "cat dog sat mat house new york city people time year day man woman said go went run ran good bad "
    "play ##ing ##ed ##s ##er ##ly un ##able"
).split()


def tiny_vocab() -> list[str]:
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return SPECIALS + WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]


def make_tiny_bert(path: str, layers: int = 2, heads: int = 4, hidden: int = 32, seed: int = 0, max_positions: int = 64) -> str:
    """Write a random BertModel + fast WordPiece tokenizer to ``path`` and return it."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    os.makedirs(path, exist_ok=True)
    vocab = tiny_vocab()
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast.from_pretrained(path, do_lower_case=True)
    tok.model_max_length = max_positions
    tok.save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=hidden * 2, max_position_embeddings=max_positions, attn_implementation="eager",
    )
    model = BertModel(config)
    model.save_pretrained(path)
    return path
