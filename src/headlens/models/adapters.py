"""Declarative adapters: where each BERT-family architecture keeps its parts.

An adapter is data, not code: dotted module paths relative to the base encoder
(``AutoModel``) for the layer list, and relative to one layer for the parts an analysis reads
(the self-attention module that returns the attention probabilities, the query/key/value and
output projections, the two LayerNorms, the feed-forward projections and activation). Nothing
is re-implemented; hooks attach to the Hugging Face modules named here.

This release ships the BERT family (BERT, MiniLM and other ``model_type == "bert"``
checkpoints). Other families are added by one more ``Adapter(...)`` entry and a parity test.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..errors import ModelError


@dataclass(frozen=True)
class Adapter:
    family: str
    model_types: tuple[str, ...]
    layers: str
    self_attention: str
    query: str
    key: str
    value: str
    attention_output: str
    attention_norm: str
    ff_in: str
    ff_activation: str
    ff_out: str
    ff_norm: str
    word_embeddings: str
    norm_position: str = "post"  # LayerNorm after each residual sum (every family shipped here)
    shared_layers: bool = False  # ALBERT: one layer module applied num_hidden_layers times
    position_offset: int = 0  # positions unavailable to tokens (RoBERTa: padding_idx + 1)

    def part_names(self) -> dict[str, str]:
        return {
            "self_attention": self.self_attention,
            "query": self.query,
            "key": self.key,
            "value": self.value,
            "attention_output": self.attention_output,
            "attention_norm": self.attention_norm,
            "ff_in": self.ff_in,
            "ff_activation": self.ff_activation,
            "ff_out": self.ff_out,
            "ff_norm": self.ff_norm,
        }

    def layer_modules(self, model: nn.Module) -> list[nn.Module]:
        layers = _get(model, self.layers, self.family)
        return list(layers) if isinstance(layers, nn.ModuleList) else [layers]

    def part(self, layer: nn.Module, name: str) -> nn.Module:
        return _get(layer, self.part_names()[name], self.family)

    def attention_modules(self, model: nn.Module) -> list[nn.Module]:
        return [self.part(layer, "self_attention") for layer in self.layer_modules(model)]

    def check(self, model: nn.Module) -> None:
        """Resolve every path once, so that a renamed module fails at load time, not mid-run."""
        _get(model, self.word_embeddings, self.family)
        for layer in self.layer_modules(model)[:1]:
            for name in self.part_names():
                self.part(layer, name)


def _get(root: nn.Module, path: str, family: str) -> nn.Module:
    obj = root
    for part in path.split("."):
        if not hasattr(obj, part):
            raise ModelError(
                f"the {family} adapter expects a module at {path!r}, but {type(root).__name__} has no "
                f"{part!r} there. This transformers version may have renamed it; please report it."
            )
        obj = getattr(obj, part)
    return obj


BERT = Adapter(
    family="bert",
    model_types=("bert",),
    layers="encoder.layer",
    self_attention="attention.self",
    query="attention.self.query",
    key="attention.self.key",
    value="attention.self.value",
    attention_output="attention.output.dense",
    attention_norm="attention.output.LayerNorm",
    ff_in="intermediate.dense",
    ff_activation="intermediate.intermediate_act_fn",
    ff_out="output.dense",
    ff_norm="output.LayerNorm",
    word_embeddings="embeddings.word_embeddings",
)

ADAPTERS: tuple[Adapter, ...] = (BERT,)


def supported_model_types() -> list[str]:
    return sorted(t for a in ADAPTERS for t in a.model_types)


def adapter_for(model_type: str) -> Adapter:
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter
    raise ModelError(
        f"model_type {model_type!r} is not supported. Supported model types: "
        f"{', '.join(supported_model_types())}."
    )
