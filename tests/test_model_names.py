"""Every --model and compare-models take the embedded models by short name (docs/conventions.md)."""

import os

import pytest

from headlens.cli import main
from headlens.errors import ModelError
from headlens.models import loading


@pytest.fixture
def embedded(monkeypatch, tiny_bert_dir):
    """The tiny model stands in for the packaged all-MiniLM-L6-v2 (the real one: the integration test below)."""
    monkeypatch.setattr(loading, "default_model_path", lambda: tiny_bert_dir)
    return tiny_bert_dir


@pytest.mark.parametrize("name", ["minilm", "MiniLM", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_short_names_resolve_to_the_embedded_model(embedded, name):
    assert loading.resolve_model_dir(name) == embedded


def test_a_short_name_is_recorded_by_its_hub_id(embedded):
    assert loading.load_model("minilm").name == "sentence-transformers/all-MiniLM-L6-v2"


def test_a_directory_of_that_name_wins(embedded, tmp_path, monkeypatch, tiny_bert_dir):
    monkeypatch.chdir(tmp_path)
    os.symlink(tiny_bert_dir, "minilm")
    assert loading.resolve_model_dir("minilm") == os.path.abspath("minilm")


def test_offline_hub_ids_fail_naming_the_short_names(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot be reached.*--model minilm"):
        loading.resolve_model_dir("nobody-here/no-such-model")


def test_mpnet_not_assembled_says_how(monkeypatch, tmp_path):
    from headlens.models import fetch

    monkeypatch.setattr(fetch, "default_out", lambda: str(tmp_path / "none"))
    with pytest.raises(ModelError, match="headlens models fetch-mpnet"):
        loading.resolve_model_dir("mpnet")


def test_compare_models_takes_short_names(embedded, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\na dog ran\n", encoding="utf-8")
    assert main(["compare-models", "minilm", "all-MiniLM-L6-v2", "--corpus", str(corpus), "--annotator", "regex",
                 "--out", str(tmp_path / "cm"), "--quiet"]) == 0
    assert "2 sentences" in capsys.readouterr().out


@pytest.mark.integration
def test_the_packaged_model_by_short_name(tmp_path):
    assert loading.resolve_model_dir("minilm") == loading.default_model_path()
    lm = loading.load_model("all-MiniLM-L6-v2")
    assert lm.num_layers == 6 and lm.name == loading.DEFAULT_MODEL_NAME
