"""Heads as (layer, head) pairs and as flat indices: the one place of the ``layer * heads + head`` arithmetic.

Many arrays of headlens hold all heads of a model in one axis, layer by layer (row-major
``[layers * heads]``: index ``k`` is layer ``k // heads``, head ``k % heads``). Every conversion
between the two goes through :func:`head_index` and :func:`head_of`; ``tests/test_heads.py``
fails on a module that writes the arithmetic itself. Layers and heads are 0-based, as PyTorch
indexes them; labels are 1-based, as the papers write them (:func:`head_label`: ``"L8H11"`` = the
0-based layer 7, head 10; :func:`layer_label`: ``"L8"``). Every input that names a head or a layer
reads the label (:func:`parse_head`, :func:`parse_layer`); docs/conventions.md.

Every function takes Python ints or NumPy integer arrays (element-wise).
"""

from __future__ import annotations

import re

import numpy as np

from .digits import ascii_int
from .errors import ConfigError

HEAD_LABEL = re.compile(r"L([0-9]{1,4})-?H([0-9]{1,4})", re.IGNORECASE)  # L8H11 (L8-H11 and l8h11 read the same)
LAYER_LABEL = re.compile(r"L([0-9]{1,4})", re.IGNORECASE)


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
    """The 1-based label of a 0-based head: ``head_label(7, 10) == "L8H11"``."""
    return f"L{layer + 1}H{head + 1}"


def layer_label(layer: int) -> str:
    """The 1-based label of a 0-based layer: ``layer_label(7) == "L8"``."""
    return f"L{layer + 1}"


def _shape(layers: int | None, heads: int | None) -> str:
    if layers is None or heads is None:
        return ""
    return f" (this model has L1-L{layers}, H1-H{heads})"


def _old_form(text: str) -> str:
    """Why ``text`` is not a label, naming the label it may have meant."""
    a, sep, b = (text.partition(":") if ":" in text else text.partition("-"))
    x, y = ascii_int(a.strip(), 9), ascii_int(b.strip(), 9)
    if sep and x is not None and y is not None:
        if sep == ":":
            return (f"{text!r} is the old 0-based LAYER:HEAD form, no longer read; write the 1-based label "
                    f"L{x + 1}H{y + 1} for the 0-based layer {x}, head {y}")
        return f"{text!r} is not read (1-based or 0-based?); write the label L{x}H{y} for the 1-based layer {x}, head {y}"
    return f"{text[:40]!r} is not a head label such as L3H7 (1-based layer 3, head 7)"


def parse_head(text: str, layers: int | None = None, heads: int | None = None, where: str = "head") -> tuple[int, int]:
    """The 0-based (layer, head) of a label ``L3H7`` (1-based; ``L3-H7`` and lower case read the same).
    A ConfigError naming ``where`` for anything else (the old forms ``2:6`` and ``3-7`` included) and
    for a head outside a ``layers`` x ``heads`` model."""
    text = text.strip()
    m = HEAD_LABEL.fullmatch(text)
    if m is None:
        raise ConfigError(f"{where}: {_old_form(text)}; see docs/conventions.md.")
    layer, head = int(m.group(1)) - 1, int(m.group(2)) - 1
    if layer < 0 or head < 0 or (layers is not None and layer >= layers) or (heads is not None and head >= heads):
        raise ConfigError(f"{where}: head {text} does not exist{_shape(layers, heads)}; labels are 1-based (L1H1 is the first).")
    return layer, head


def parse_layer(text: str, layers: int | None = None, where: str = "layer") -> int:
    """The 0-based layer of a label ``L3`` (1-based); a ConfigError naming ``where`` otherwise."""
    text = text.strip()
    m = LAYER_LABEL.fullmatch(text)
    if m is None:
        n = ascii_int(text, 9)
        hint = (f"write L{n + 1} for the 0-based layer {n}, L{n} for the 1-based one" if n is not None
                else "write a layer label such as L3 (1-based)")
        raise ConfigError(f"{where}: {text[:40]!r} is not a layer label; {hint}; see docs/conventions.md.")
    layer = int(m.group(1)) - 1
    if layer < 0 or (layers is not None and layer >= layers):
        raise ConfigError(f"{where}: layer {text} does not exist" + (f" (this model has L1-L{layers})" if layers else "")
                          + "; labels are 1-based (L1 is the first).")
    return layer


def parse_heads(text: str, layers: int | None = None, heads: int | None = None, where: str = "--heads") -> list[tuple[int, int]]:
    """Comma-separated head labels (``L1H4,L6H12``) as 0-based (layer, head) pairs, in order, once each."""
    out = [parse_head(part, layers, heads, where) for part in text.split(",") if part.strip()]
    if not out:
        raise ConfigError(f"{where} names no head: give head labels such as L1H4,L6H12 (1-based).")
    return list(dict.fromkeys(out))


def head_labels(layers: int, heads: int) -> list[str]:
    """The labels of every head, in flat-index order."""
    return [head_label(int(a), int(b)) for a, b in zip(*all_heads(layers, heads))]
