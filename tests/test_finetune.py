"""Fine-tuning: a tiny model learns a handful of rows and writes a loadable checkpoint; bad input is refused."""

import json
import os

import numpy as np
import pytest
from conftest import write
from tiny import make_tiny_bert

from headlens.cli import main
from headlens.errors import ConfigError, CorpusError, ModelError
from headlens.finetune import Columns, classification_scores, evaluate, finetune, load_classifier, majority_baseline, read_card
from headlens.models import load_model

ROWS = ["the cat sat on the mat\t1", "the dog ran\t0", "a man went to the city\t1", "she was bad\t0",
        "the good day\t1", "they ran\t0", "we play\t1", "it was not good\t0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp("ft") / "tiny"), seed=1)


@pytest.fixture()
def data(tmp_path):
    return write(tmp_path, "train.tsv", "\n".join(ROWS) + "\n")


def _tune(tiny, train, out, **kw):
    options = dict(model=tiny, train=train, dev=train, columns="text=0,label=1", out=out, epochs=40, batch_size=8,
                   lr=2e-3, warmup=0.0, progress=False)
    return finetune(**{**options, **kw})


def test_a_few_steps_lower_the_loss_and_write_a_loadable_checkpoint(tiny, data, tmp_path):
    out = str(tmp_path / "ft")
    result = _tune(tiny, data, out)
    assert len(result.losses) == 40
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5]) - 0.1
    assert result.dev["accuracy"] > result.majority["accuracy"] == 0.5
    model, tokenizer, _ = load_classifier(out)  # the classification head is there
    assert model.config.id2label == {0: "0", 1: "1"}
    lm = load_model(out)  # and headlens analyses the encoder of the checkpoint
    assert (lm.num_layers, lm.num_heads) == (2, 4)
    card = read_card(out)
    assert card["dev_scores"]["accuracy"] == result.dev["accuracy"]
    assert card["hyperparameters"]["lr"] == 2e-3 and card["data"]["train"]["used"] == 8
    readme = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    assert "majority baseline" in readme and "| this model |" in readme
    assert evaluate(out, data, "text=0,label=1")["accuracy"] == result.dev["accuracy"]
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_same_seed_same_losses_and_subsample_is_seeded(tiny, data, tmp_path):
    a = _tune(tiny, data, str(tmp_path / "a"), epochs=2, subsample=6, seed=3)
    b = _tune(tiny, data, str(tmp_path / "b"), epochs=2, subsample=6, seed=3)
    assert a.losses == b.losses and a.train_rows == 6


def test_sentence_pairs_from_jsonl(tiny, tmp_path):
    rows = [{"p": "the cat sat", "h": "a cat sat", "y": "entailment"}, {"p": "the dog ran", "h": "she was bad", "y": "not"}] * 3
    path = write(tmp_path, "pairs.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    result = _tune(tiny, path, str(tmp_path / "pairs"), columns="text=p,text_b=h,label=y", epochs=2)
    assert result.labels == ("entailment", "not")
    assert read_card(str(tmp_path / "pairs"))["data"]["pairs"] is True


def test_refuses_to_overwrite(tiny, data, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="never overwritten"):
        _tune(tiny, data, str(out), epochs=1)
    assert os.listdir(out) == ["keep.txt"]


def test_unknown_labels_are_errors_with_file_and_line(tiny, data, tmp_path):
    dev = write(tmp_path, "dev.tsv", "the cat\t1\nthe dog\t2\n")
    with pytest.raises(CorpusError, match=r"dev.tsv:2: label '2' is not one of the labels '0', '1'"):
        _tune(tiny, data, str(tmp_path / "o"), dev=dev, epochs=1)
    with pytest.raises(CorpusError, match=r"train.tsv:2: label '0' is not one of the labels '1', '2'"):
        _tune(tiny, data, str(tmp_path / "o"), labels=("1", "2"), epochs=1)
    assert not os.path.exists(tmp_path / "o")


def test_a_dev_file_with_another_layout_is_refused(tiny, data, tmp_path):
    swapped = write(tmp_path, "sst.tsv", "0\tthe dog ran\n1\tthe cat sat\n")  # SST-2 layout: label first
    with pytest.raises(CorpusError, match=r"sst.tsv:1: the text column 0 holds labels.*use --columns text=1,label=0\.$"):
        _tune(tiny, data, str(tmp_path / "o"), dev=swapped, epochs=1)
    wider = write(tmp_path, "rte.tsv", "0\tthe dog ran\tthe cat\t1\n")
    with pytest.raises(CorpusError, match="another layout: 4 tab-separated columns"):
        _tune(tiny, data, str(tmp_path / "o"), dev=wider, epochs=1)


def test_a_checkpoint_without_classification_head_is_refused(tiny, data):
    with pytest.raises(ModelError, match="no classification head"):
        load_classifier(tiny)
    with pytest.raises(ModelError, match="no classification head"):
        evaluate(tiny, data, "text=0,label=1")
    assert main(["evaluate", "--model", tiny, "--data", data, "--columns", "text=0,label=1"]) == 2


def test_column_spec_errors():
    assert Columns.parse("label=0, text=1") == Columns(text=1, label=0)
    assert str(Columns.parse("text=sentence1,text_b=sentence2,label=label")) == "text=sentence1,text_b=sentence2,label=label"
    for bad, msg in (("text=0", "lacks label"), ("txt=0,label=1", "KEY=COLUMN"), ("text=0,text=1,label=2", "twice")):
        with pytest.raises(ConfigError, match=msg):
            Columns.parse(bad)


def test_scores_against_hand_values():
    y, pred = [1, 1, 1, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 1, 1, 0]  # tp 3, fn 1, fp 1, tn 3
    s = classification_scores(y, pred, 2)
    assert s["accuracy"] == 0.75 and s["f1"] == pytest.approx(0.75)
    assert s["mcc"] == pytest.approx((3 * 3 - 1 * 1) / np.sqrt(4 * 4 * 4 * 4))
    base = majority_baseline([0, 0, 1], y, 2)
    assert base["predicted_class"] == 0 and base["mcc"] == 0.0 and base["accuracy"] == 0.5


def test_cli_finetune(tiny, data, tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert main(["finetune", "--model", tiny, "--train", data, "--dev", data, "--columns", "text=0,label=1",
                 "--out", out, "--epochs", "1", "--batch-size", "4", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "majority baseline" in printed and "MCC" in printed
    assert main(["finetune", "--model", tiny, "--train", data, "--dev", data, "--columns", "text=0,label=1",
                 "--out", out, "--quiet"]) == 2  # never overwritten
