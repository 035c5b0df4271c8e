"""A tokenizer that does not fit its model (issue 17, P8 and item 6) is a ModelError at load that
names the model directory, never an IndexError in the middle of a run; no run directory is made."""

from __future__ import annotations

import json
import os

import pytest

import headlens
from headlens.errors import ModelError
from conftest import write
from test_bad_input import assert_error, run_cli
from tiny import _save_random_model, make_tiny_bert


def _edit_json(path: str, name: str, edit) -> None:
    file = os.path.join(path, name)
    with open(file, encoding="utf-8") as fh:
        data = json.load(fh)
    edit(data)
    with open(file, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def _resave(path: str, **config) -> None:
    """The same tiny BERT with other config values (random weights of the new shapes)."""
    from transformers import BertConfig

    cfg = BertConfig.from_pretrained(path)
    for k, v in config.items():
        setattr(cfg, k, v)
    _save_random_model(path, cfg, seed=0)


def smaller_embedding_table(path):
    _resave(path, vocab_size=40)


def added_tokens(path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    tok.add_tokens(["headlens", "tokenizer", "mismatch", "embedding", "table"])
    tok.save_pretrained(path)


def one_token_type(path):
    _resave(path, type_vocab_size=1)


def two_positions(path):
    _resave(path, max_position_embeddings=2)
    _edit_json(path, "tokenizer_config.json", lambda d: d.update(model_max_length=2))


def no_post_processor(path):
    """A generic fast tokenizer whose tokenizer.json adds no special tokens."""
    _edit_json(path, "tokenizer.json", lambda d: d.update(post_processor=None))
    _edit_json(path, "tokenizer_config.json", lambda d: d.update(tokenizer_class="PreTrainedTokenizerFast"))


def no_special_tokens(path):
    no_post_processor(path)
    _edit_json(path, "tokenizer_config.json", lambda d: [d.pop("cls_token"), d.pop("sep_token")])


CASES = [
    ("embedding-table-smaller", smaller_embedding_table, ("tokens", "word-embedding table has 40 rows", "mid")),
    ("added-tokens", added_tokens, ("has 167 tokens", "165 rows", "tokenizer files the model was trained with")),
    ("one-token-type", one_token_type, ("token type 1", "1 token type(s)", "type_vocab_size")),
    ("two-positions", two_positions, ("at most 2 tokens", "max_position_embeddings 2", "at least 3")),
    ("no-post-processor", no_post_processor, ("does not frame a sequence as [CLS] ... [SEP]", "['a', 'b']")),
    ("no-special-tokens", no_special_tokens, ("no cls_token ([CLS] or <s>) and no sep_token", "cls_entropy")),
]


@pytest.mark.parametrize("damage, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tokenizer_that_does_not_fit(capsys, tmp_path, damage, needles):
    model = make_tiny_bert(str(tmp_path / "model"))
    damage(model)
    with pytest.raises(ModelError) as e:
        headlens.load_model(model)
    assert model in str(e.value) and all(n in str(e.value) for n in needles), str(e.value)
    corpus = write(tmp_path, "c.tsv", "the cat sat\tthe dog ran\n")
    out = tmp_path / "run"
    rc, _, err = run_cli(capsys, model, corpus, str(out), "--text-b-column", "1")
    assert_error(rc, err, "ModelError", model, needles[0])
    assert not out.exists()


def test_the_embedded_tiny_model_passes(tiny_bert_dir):
    lm = headlens.load_model(tiny_bert_dir)
    assert len(lm.tokenizer) <= lm.model.get_input_embeddings().num_embeddings and lm.max_tokens == 64


@pytest.mark.integration
def test_the_packaged_model_passes():
    lm = headlens.load_model(None)
    assert len(lm.tokenizer) == lm.model.get_input_embeddings().num_embeddings == 30522 and lm.max_tokens == 512
