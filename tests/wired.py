"""A tiny BERT with hand-set weights: layer 1 head 1 attends to the previous token, every other
head attends uniformly. Position embeddings are one-hot, word embeddings zero, so a query's
projection can pick out exactly the key one position before it."""

from __future__ import annotations

import torch
from tiny import make_tiny_bert

POSITIONS = 32
HIDDEN = 64
HEADS = 2


def make_previous_token_bert(path: str, sharpness: float = 2.0) -> str:
    from transformers import BertModel

    make_tiny_bert(path, layers=2, heads=HEADS, hidden=HIDDEN, max_positions=POSITIONS)
    model = BertModel.from_pretrained(path, attn_implementation="eager")
    head_dim = HIDDEN // HEADS
    with torch.no_grad():
        emb = model.embeddings
        emb.word_embeddings.weight.zero_()
        emb.token_type_embeddings.weight.zero_()
        emb.position_embeddings.weight.copy_(torch.eye(POSITIONS, HIDDEN))
        emb.LayerNorm.weight.fill_(1.0)
        emb.LayerNorm.bias.zero_()
        for layer in model.encoder.layer:
            for lin in (layer.attention.self.query, layer.attention.self.key):
                lin.weight.zero_()
                lin.bias.zero_()
        first = model.encoder.layer[0].attention.self
        for r in range(head_dim - 1):  # head 0: q_i[r] = s * x_i[r + 1], k_j[r] = x_j[r]: peak at j = i - 1
            first.query.weight[r, r + 1] = sharpness
            first.key.weight[r, r] = 1.0
        first.key.weight[head_dim - 1, head_dim - 1] = 1.0
    model.save_pretrained(path)
    return path
