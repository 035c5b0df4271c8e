"""Declarative adapters: where each BERT-family architecture keeps its parts.

An adapter is data, not code: dotted module paths relative to the base encoder
(``AutoModel``) for the layer list, and relative to one layer for the parts an analysis reads
(the self-attention module whose forward returns ``(output, attention_probs)``, the
query/key/value and output projections, the two LayerNorms, the feed-forward projections and
activation). Nothing is re-implemented; hooks attach to the Hugging Face modules named here.
Paths were read from the transformers 5.x modeling files and are checked on a tiny random model
of each family by ``tests/test_architectures.py`` (types and shapes of every part, and attention
parity with ``output_attentions``).

Families shipped (``model_type`` in brackets):

- BERT (``bert``: BERT, MiniLM, ...) and ELECTRA (``electra``): the same layout. ELECTRA's word
  embeddings may be narrower than the hidden size (``embedding_size``; the encoder projects them
  with ``embeddings_project``).
- RoBERTa (``roberta``): BERT's layout; positions start after the
  padding index (``padding_idx + 1 == 2``), so two of ``max_position_embeddings`` are unusable.
- DistilBERT (``distilbert``): its own names (``q_lin``, ``sa_layer_norm``, ``ffn.lin1``, ...),
  no token type embeddings (the engine passes no ``token_type_ids`` to a forward without them).
- ALBERT (``albert``): ONE layer module applied ``num_hidden_layers`` times (``shared_layers``);
  the hooks number the calls, so each application is a layer of its own. The attention module
  holds its output projection and LayerNorm itself. Only the released layout (one layer group of
  one layer) is supported; ``config_requires`` makes any other fail at load time. Word embeddings
  are ``embedding_size`` wide and projected by ``encoder.embedding_hidden_mapping_in``.
- MPNet (``mpnet``): a relative position bias (shared by all layers, from
  ``encoder.relative_attention_bias``) is added to the scores inside ``attention.attn`` before the
  softmax, so that module's probabilities are exactly what ``output_attentions`` returns. It
  returns them only when called with ``output_attentions=True`` (``attention_call_kwargs``: the
  hooks force it per call); positions start at 2 like RoBERTa's.

``norm_position`` is ``post`` for all of them (LayerNorm after each residual sum).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    position_offset: int = 0  # positions unavailable to tokens (RoBERTa, MPNet: padding_idx + 1)
    # keyword arguments the self-attention module must be called with to return its probabilities
    attention_call_kwargs: tuple[tuple[str, object], ...] = ()
    # config values this adapter's layer paths assume (checked at load time)
    config_requires: tuple[tuple[str, object], ...] = ()

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
        config = getattr(model, "config", None)
        for attr, value in self.config_requires:
            actual = getattr(config, attr, value)
            if actual != value:
                raise ModelError(
                    f"the {self.family} adapter supports only {attr}={value!r} (the layout of the released "
                    f"checkpoints), but this model's config.json has {attr}={actual!r}; its attention cannot "
                    "be attributed to layers. Please report it with the model's config.json."
                )
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

# ELECTRA's discriminator and RoBERTa keep BERT's module layout (RoBERTa's positions start after padding_idx).
ELECTRA = replace(BERT, family="electra", model_types=("electra",))
ROBERTA = replace(BERT, family="roberta", model_types=("roberta",), position_offset=2)

DISTILBERT = Adapter(
    family="distilbert",
    model_types=("distilbert",),
    layers="transformer.layer",
    self_attention="attention",
    query="attention.q_lin",
    key="attention.k_lin",
    value="attention.v_lin",
    attention_output="attention.out_lin",
    attention_norm="sa_layer_norm",
    ff_in="ffn.lin1",
    ff_activation="ffn.activation",
    ff_out="ffn.lin2",
    ff_norm="output_layer_norm",
    word_embeddings="embeddings.word_embeddings",
)

ALBERT = Adapter(
    family="albert",
    model_types=("albert",),
    layers="encoder.albert_layer_groups.0.albert_layers",
    self_attention="attention",
    query="attention.query",
    key="attention.key",
    value="attention.value",
    attention_output="attention.dense",
    attention_norm="attention.LayerNorm",
    ff_in="ffn",
    ff_activation="activation",
    ff_out="ffn_output",
    ff_norm="full_layer_layer_norm",
    word_embeddings="embeddings.word_embeddings",
    shared_layers=True,
    config_requires=(("num_hidden_groups", 1), ("inner_group_num", 1)),
)

MPNET = replace(
    BERT,
    family="mpnet",
    model_types=("mpnet",),
    self_attention="attention.attn",
    query="attention.attn.q",
    key="attention.attn.k",
    value="attention.attn.v",
    attention_output="attention.attn.o",
    attention_norm="attention.LayerNorm",
    position_offset=2,
    attention_call_kwargs=(("output_attentions", True),),
)

ADAPTERS: tuple[Adapter, ...] = (BERT, ROBERTA, DISTILBERT, ELECTRA, ALBERT, MPNET)


def supported_model_types() -> list[str]:
    """The Hugging Face ``model_type`` values headlens has an adapter for (BERT, RoBERTa, MPNet, ...)."""
    return sorted(t for a in ADAPTERS for t in a.model_types)


def adapter_for(model_type: str) -> Adapter:
    for adapter in ADAPTERS:
        if model_type in adapter.model_types:
            return adapter
    raise ModelError(
        f"model_type {model_type!r} is not supported. Supported model types: "
        f"{', '.join(supported_model_types())}."
    )
