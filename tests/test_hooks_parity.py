"""Attention captured by hooks equals output_attentions; hooks never outlive their context."""

import pytest
import torch

from headlens.errors import ModelError
from headlens.models import load_model
from headlens.runner.hooks import AttentionCapture, hooks


def _inputs(tok):
    enc = tok(["the cat sat on the mat .", "new york"], padding=True, return_tensors="pt")
    return dict(enc)


def test_hook_capture_equals_output_attentions(tiny_model):
    captured = {}
    capture = AttentionCapture(lambda layer, probs: captured.__setitem__(layer, probs.clone()))
    inputs = _inputs(tiny_model.tokenizer)
    modules = tiny_model.adapter.attention_modules(tiny_model.model)
    with torch.inference_mode():
        with hooks(modules, capture):
            tiny_model.model(**inputs)
        reference = tiny_model.model(**inputs, output_attentions=True).attentions
    assert len(reference) == tiny_model.num_layers == len(captured)
    for layer, ref in enumerate(reference):
        torch.testing.assert_close(captured[layer], ref, rtol=0, atol=0)


@pytest.mark.integration
def test_real_model_parity(tmp_path):
    lm = load_model()  # the embedded all-MiniLM-L6-v2
    captured = []
    inputs = _inputs(lm.tokenizer)
    with torch.inference_mode():
        with hooks(lm.adapter.attention_modules(lm.model), AttentionCapture(lambda i, p: captured.append(p.clone()))):
            lm.model(**inputs)
        reference = lm.model(**inputs, output_attentions=True).attentions
    assert len(captured) == 6
    for got, ref in zip(captured, reference):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


def _count_hooks(model) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_no_hook_survives_an_exception(tiny_model):
    before = _count_hooks(tiny_model.model)

    def boom(layer, probs):
        raise RuntimeError("metric failed")

    with pytest.raises(RuntimeError, match="metric failed"):
        with torch.inference_mode(), hooks(tiny_model.adapter.attention_modules(tiny_model.model), AttentionCapture(boom)):
            assert _count_hooks(tiny_model.model) == before + tiny_model.num_layers
            tiny_model.model(**_inputs(tiny_model.tokenizer))
    assert _count_hooks(tiny_model.model) == before


def test_sdpa_model_fails_with_a_clear_message(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, attn_implementation="sdpa")
    with pytest.raises(ModelError, match="eager"):
        with torch.inference_mode(), hooks(lm.adapter.attention_modules(lm.model), AttentionCapture(lambda i, p: None)):
            lm.model(**_inputs(lm.tokenizer))
    assert _count_hooks(lm.model) == 0
