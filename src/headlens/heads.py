"""Heads as (layer, head) pairs and as flat indices: the one place of the ``layer * heads + head`` arithmetic.

Many arrays of headlens hold all heads of a model in one axis, layer by layer (row-major
``[layers * heads]``: index ``k`` is layer ``k // heads``, head ``k % heads``). Every conversion
between the two goes through :func:`head_index` and :func:`head_of`; ``tests/test_heads.py``
fails on a module that writes the arithmetic itself. Layers and heads are 0-based; labels are
1-based, as the papers write them (:func:`head_label`: ``"8-11"`` = layer 8, head 11).

Every function takes Python ints or NumPy integer arrays (element-wise).
"""

from __future__ import annotations

import numpy as np


def head_index(layer, head, heads: int):
    """The flat index of head ``head`` of layer ``layer`` in a model with ``heads`` heads per layer."""
    return layer * heads + head


def head_of(index, heads: int):
    """(layer, head) of the flat index ``index`` (the inverse of :func:`head_index`)."""
    return index // heads, index % heads


def by_layer(values: np.ndarray, heads: int) -> np.ndarray:
    """``values[..., layers * heads]`` as ``[..., layers, heads]`` (a view)."""
    return values.reshape(*values.shape[:-1], values.shape[-1] // heads, heads)


def all_heads(layers: int, heads: int) -> tuple[np.ndarray, np.ndarray]:
    """(layer, head) int64 arrays of every head, in flat-index order."""
    return head_of(np.arange(layers * heads), heads)


def head_label(layer: int, head: int) -> str:
    """The 1-based label of a 0-based head: ``head_label(7, 10) == "8-11"``."""
    return f"{layer + 1}-{head + 1}"


def head_labels(layers: int, heads: int) -> list[str]:
    """The labels of every head, in flat-index order."""
    return [head_label(int(a), int(b)) for a, b in zip(*all_heads(layers, heads))]
