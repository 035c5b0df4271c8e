"""Every supported architecture on a tiny random model of its family (see tiny.py).

For each family: the adapter's paths resolve to parts of the right types and shapes, and the
parts recompute the layer (what a norm-based decomposition relies on); attention captured by
the hooks equals ``output_attentions`` (eager) on padded batches of singles and pairs; a full
``headlens.run`` scores every layer and head; words and segments are aligned.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from conftest import write
from tiny import FAMILIES, make_tiny, tiny_config
from torch import nn

import headlens
from headlens.align import CLS, SEP, WORD, Encoder
from headlens.corpus import CorpusSpec, Sentence, Word
from headlens.errors import ModelError
from headlens.models import ADAPTERS, adapter_for, load_model, supported_model_types
from headlens.runner.hooks import AttentionCapture, hooks

SINGLES = ["the cat sat on the mat .", "new york", "a man said hello to the woman in the city ."]
PAIRS = (["the dog ran .", "hello world"], ["the cat sat on the mat and the dog ran to the house .", "good"])


@pytest.fixture(scope="module", params=FAMILIES)
def lm(request, tmp_path_factory):
    path = make_tiny(request.param, str(tmp_path_factory.mktemp(request.param)))
    model = load_model(path)
    assert model.adapter.family == request.param
    return model


def model_inputs(lm, *texts) -> dict:
    """Padded model inputs for a batch (singles, or pairs when two lists are given)."""
    enc = lm.tokenizer(*texts, padding=True, return_tensors="pt")
    takes = inspect.signature(lm.model.forward).parameters
    return {k: v for k, v in enc.items() if k in takes}


def hooked_attention(lm, inputs: dict) -> list[torch.Tensor]:
    captured: list[torch.Tensor] = []
    capture = AttentionCapture(lambda layer, probs: captured.append(probs.clone()))
    modules = lm.adapter.attention_modules(lm.model)
    with torch.inference_mode(), hooks(modules, capture, dict(lm.adapter.attention_call_kwargs)):
        lm.model(**inputs)
    assert capture.calls == len(captured)
    return captured


# -- (0) the adapter: every part, its type and shape ------------------------------------------


def test_every_family_has_an_adapter_and_a_tiny_model():
    assert sorted(a.family for a in ADAPTERS) == sorted(FAMILIES)
    assert supported_model_types() == sorted(["albert", "bert", "distilbert", "electra", "mpnet", "roberta"])


def test_unsupported_model_type_lists_the_supported_ones():
    with pytest.raises(ModelError) as err:
        adapter_for("gpt2")
    msg = str(err.value)
    assert "'gpt2' is not supported" in msg
    for t in supported_model_types():
        assert t in msg


def test_parts_have_the_expected_types_and_shapes(lm):
    cfg, adapter = lm.model.config, lm.adapter
    adapter.check(lm.model)
    hidden, inter = cfg.hidden_size, getattr(cfg, "intermediate_size", None) or cfg.hidden_dim
    layers = adapter.layer_modules(lm.model)
    assert len(layers) == (1 if adapter.shared_layers else cfg.num_hidden_layers)
    assert lm.num_layers == cfg.num_hidden_layers == 2 and lm.num_heads == 4
    emb = lm.model.get_submodule(adapter.word_embeddings)
    assert emb is lm.model.get_input_embeddings() and emb.num_embeddings >= len(lm.tokenizer)  # a row per id
    shapes = {
        "query": (hidden, hidden), "key": (hidden, hidden), "value": (hidden, hidden),
        "attention_output": (hidden, hidden), "ff_in": (hidden, inter), "ff_out": (inter, hidden),
    }
    for layer in layers:
        attn = adapter.part(layer, "self_attention")
        for name, (n_in, n_out) in shapes.items():
            part = adapter.part(layer, name)
            assert isinstance(part, nn.Linear), name
            assert (part.in_features, part.out_features) == (n_in, n_out), name
        assert {adapter.part(layer, n) for n in ("query", "key", "value")} <= set(attn.modules())
        for name in ("attention_norm", "ff_norm"):
            norm = adapter.part(layer, name)
            assert isinstance(norm, nn.LayerNorm) and norm.normalized_shape == (hidden,), name
        act = adapter.part(layer, "ff_activation")
        assert callable(act) and not isinstance(act, (nn.Linear, nn.LayerNorm))


def _layer_output(output) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def test_parts_recompute_each_layer(lm):
    """value -> attention_output -> attention_norm -> ff_in -> ff_activation -> ff_out -> ff_norm,
    with the hooked probabilities, gives each layer's output: the parts are the right ones."""
    adapter, heads = lm.adapter, lm.num_heads
    layer_module = adapter.layer_modules(lm.model)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (input, output) of each layer call

    def record(module, args, kwargs, output):
        seen.append((args[0] if args else kwargs["hidden_states"], _layer_output(output)))

    handles = [m.register_forward_hook(record, with_kwargs=True) for m in dict.fromkeys(layer_module)]
    try:
        probs = hooked_attention(lm, model_inputs(lm, SINGLES))
    finally:
        for h in handles:
            h.remove()
    assert len(seen) == len(probs) == lm.num_layers
    with torch.inference_mode():
        for k, ((x, y), p) in enumerate(zip(seen, probs)):
            layer = layer_module[0] if adapter.shared_layers else layer_module[k]
            part = lambda name: adapter.part(layer, name)  # noqa: E731
            b, t, d = x.shape
            v = part("value")(x).view(b, t, heads, d // heads).transpose(1, 2)
            ctx = (p @ v).transpose(1, 2).reshape(b, t, d)
            a = part("attention_norm")(part("attention_output")(ctx) + x)
            out = part("ff_norm")(part("ff_out")(part("ff_activation")(part("ff_in")(a))) + a)
            torch.testing.assert_close(out, y, rtol=1e-4, atol=1e-5)


def test_max_tokens_is_the_longest_input_the_positions_allow(lm):
    cfg = lm.model.config
    offset = cfg.pad_token_id + 1 if lm.adapter.family in ("roberta", "mpnet") else 0
    assert lm.adapter.position_offset == offset
    assert lm.max_tokens == cfg.max_position_embeddings - offset
    ids = torch.full((1, lm.max_tokens), 5)  # an ordinary token in every tiny vocabulary
    with torch.inference_mode():
        assert lm.model(input_ids=ids).last_hidden_state.shape[1] == lm.max_tokens
        with pytest.raises((IndexError, RuntimeError)):  # one more runs out of position embeddings
            lm.model(input_ids=torch.cat([ids, ids[:, :1]], dim=1))


@pytest.mark.parametrize("layout", [{"inner_group_num": 2}, {"num_hidden_groups": 2}])
def test_albert_layouts_other_than_one_shared_layer_are_refused(layout):
    from transformers import AlbertModel

    cfg = tiny_config("albert", vocab_size=50, layers=2, heads=4, hidden=32, max_positions=64)
    for key, value in layout.items():
        setattr(cfg, key, value)
    with pytest.raises(ModelError, match=f"supports only {next(iter(layout))}=1"):
        adapter_for("albert").check(AlbertModel(cfg))
    adapter_for("albert").check(AlbertModel(tiny_config("albert", 50, 2, 4, 32, 64)))  # the released layout passes


# -- (1) parity with output_attentions --------------------------------------------------------


@pytest.mark.parametrize("texts", [(SINGLES,), PAIRS], ids=["singles", "pairs"])
def test_hooked_attention_equals_output_attentions(lm, texts):
    inputs = model_inputs(lm, *texts)
    mask = inputs["attention_mask"].bool()
    assert not mask.all(), "the batch must have padding"
    captured = hooked_attention(lm, inputs)
    with torch.inference_mode():
        reference = lm.model(**inputs, output_attentions=True).attentions
    assert len(captured) == len(reference) == lm.num_layers
    for got, ref in zip(captured, reference):
        assert got.shape == (mask.shape[0], lm.num_heads, mask.shape[1], mask.shape[1])
        torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-7)
        rows = got.sum(-1)[mask[:, None, :].expand(-1, lm.num_heads, -1)]
        torch.testing.assert_close(rows, torch.ones_like(rows))
        assert float(got.masked_select(~mask[:, None, None, :]).abs().max()) == 0.0  # no weight on padding


def test_without_the_call_kwargs_mpnet_returns_no_probabilities(tmp_path):
    lm = load_model(make_tiny("mpnet", str(tmp_path / "mpnet")))
    with pytest.raises(ModelError, match="no attention weights"):
        with torch.inference_mode(), hooks(lm.adapter.attention_modules(lm.model), AttentionCapture(lambda i, p: None)):
            lm.model(**model_inputs(lm, SINGLES))


# -- (2) a full run ---------------------------------------------------------------------------

CONLLU = """# sent_id = s1
# text = The cat sat on the mat.
1	The	the	DET	DT	_	2	det	_	_
2	cat	cat	NOUN	NN	_	3	nsubj	_	_
3	sat	sit	VERB	VBD	_	0	root	_	_
4	on	on	ADP	IN	_	6	case	_	_
5	the	the	DET	DT	_	6	det	_	_
6	mat	mat	NOUN	NN	_	3	obl	_	SpaceAfter=No
7	.	.	PUNCT	.	_	3	punct	_	_

# sent_id = s2
# text = New York is a big city, people said.
1	New	New	PROPN	NNP	_	2	compound	_	_
2	York	York	PROPN	NNP	_	6	nsubj	_	_
3	is	be	AUX	VBZ	_	6	cop	_	_
4	a	a	DET	DT	_	6	det	_	_
5	big	big	ADJ	JJ	_	6	amod	_	_
6	city	city	NOUN	NN	_	0	root	_	SpaceAfter=No
7	,	,	PUNCT	,	_	9	punct	_	_
8	people	people	NOUN	NNS	_	9	nsubj	_	_
9	said	say	VERB	VBD	_	6	parataxis	_	SpaceAfter=No
10	.	.	PUNCT	.	_	6	punct	_	_

"""

PAIRS_TSV = "the cat sat on the mat .\tthe dog ran to the house .\nhello world , good day .\tnew york city\n"


@pytest.mark.parametrize("corpus", ["conllu", "pairs"])
def test_full_run_scores_every_layer_and_head(lm, tmp_path, corpus):
    if corpus == "conllu":
        spec = CorpusSpec(write(tmp_path, "c.conllu", CONLLU))
    else:
        spec = CorpusSpec(write(tmp_path, "p.tsv", PAIRS_TSV), text_b_column=1, header="no")
    run = headlens.run(
        out=str(tmp_path / "run"), model=lm.path, corpus=spec, analyses=("surface",),
        annotator="gold" if corpus == "conllu" else "regex", progress=False,
    )
    assert run.manifest["model"]["num_layers"] == lm.num_layers == 2
    assert run.manifest["model"]["family"] == lm.adapter.family
    assert run.manifest["counts"]["analysed"] == 2
    grid = {(layer, head) for layer in range(2) for head in range(4)}
    heads = run.heads().to_pylist()
    for name in run.metrics:
        rows = [r for r in heads if r["metric"] == name]
        assert {(r["layer"], r["head"]) for r in rows} == grid, name
        assert all(r["count"] == 2 and math.isfinite(r["mean"]) for r in rows), name
        if "entropy" not in name:  # attention mass
            assert all(0 <= r["mean"] <= 1 for r in rows), name
    scores = run.scores("prev").to_pylist()
    assert {(r["layer"], r["head"]) for r in scores} == grid and len(scores) == 2 * len(grid)
    assert all(math.isfinite(r["value"]) for r in scores)


# -- (3) word alignment -----------------------------------------------------------------------


def _words(text: str, segment: int = 0) -> tuple[Word, ...]:
    out, pos = [], 0
    for form in text.split():
        start = text.index(form, pos)
        out.append(Word(form, start, start + len(form), segment=segment))
        pos = start + len(form)
    return tuple(out)


def test_every_word_gets_its_tokens(lm):
    text = "The cat sat on the mat, and New York said hello."
    s = Sentence(0, text, "t:0", words=_words(text))
    (e,) = Encoder(lm.tokenizer, lm.max_tokens).encode([s])
    assert e.words_without_tokens == 0
    assert list(e.unit_word[e.unit_kind == WORD]) == list(range(len(s.words)))
    assert e.kinds[0] == CLS and e.kinds[-1] == SEP and (e.kinds[1:-1] == WORD).all()
    assert e.input_ids[0] == lm.tokenizer.cls_token_id and e.input_ids[-1] == lm.tokenizer.sep_token_id
    for wi, w in enumerate(s.words):  # each word's tokens, decoded, spell the word
        toks = e.input_ids[e.token_unit == int(np.flatnonzero(e.unit_word == wi)[0])]
        assert lm.tokenizer.decode(toks).replace(" ", "").lower() == w.form.lower()


def test_pairs_get_their_segments(lm):
    a, b = "the cat sat .", "new york city"
    s = Sentence(0, a, "t:0", text_b=b, words=_words(a) + _words(b, 1))
    (e,) = Encoder(lm.tokenizer, lm.max_tokens).encode([s])
    assert e.words_without_tokens == 0
    word_tokens = e.kinds == WORD
    seg_of_word = [w.segment for w in s.words]
    assert [seg_of_word[e.unit_word[u]] for u in e.token_unit[word_tokens]] == list(e.segment[word_tokens])
    assert list(e.segment[word_tokens]) == sorted(e.segment[word_tokens]) and set(e.segment[word_tokens]) == {0, 1}
    special = [int(k) for k in e.kinds[~word_tokens]]
    double_sep = lm.tokenizer.sep_token == "</s>"  # RoBERTa style: <s> A </s></s> B </s>
    assert special == ([CLS, SEP, SEP, SEP] if double_sep else [CLS, SEP, SEP])
    first_b = int(np.flatnonzero(e.segment == 1)[0])
    assert list(e.kinds[first_b - (2 if double_sep else 1) : first_b]) == [SEP] * (2 if double_sep else 1)
