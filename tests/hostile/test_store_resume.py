"""--resume against damaged and changed runs (P2, P3, P9, P10): a missing or damaged part is computed
again (the result equals an uninterrupted run), any change that shapes the results is refused by name,
and a refused resume releases the run directory's lock. See docs/reliability.md."""

import fcntl
import json
import os
import shutil
import warnings

import pytest

import headlens
from headlens.runner.engine import Engine
from store_runs import assert_same_run, copy_run, corpus, flip_byte, options, reference  # noqa: F401 - fixtures
from tiny import make_tiny_bert


def _resume(kw: dict) -> tuple:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = headlens.run(**kw, resume=True)
    return run, [str(w.message) for w in caught]


def _interrupted(tiny_bert_dir, corpus, out, monkeypatch, at: int = 5) -> dict:
    """A run stopped by Ctrl-C at its ``at``-th batch (some parts committed)."""
    score, calls = Engine.score, {"n": 0}

    def interrupt(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return score(self, batch, keep)

    monkeypatch.setattr(Engine, "score", interrupt)
    kw = options(tiny_bert_dir, corpus, out)
    with pytest.raises(KeyboardInterrupt):
        headlens.run(**kw)
    monkeypatch.setattr(Engine, "score", score)
    return kw


DAMAGE = [
    ("complete", "scores/part-00002.parquet", "delete"),
    ("complete", "sentences/part-00004.parquet", "delete"),
    ("complete", "scores/part-00000.parquet", "flip"),
    ("complete", "plan/part-00003.json", "delete"),
    ("complete", "heads.parquet", "delete"),
    ("complete", "heads.parquet", "flip"),
    ("interrupted", "scores/part-00001.parquet", "delete"),
    ("interrupted", "sentences/part-00000.parquet", "flip"),
]


def _start(status: str, model: str, corpus: str, reference: str, out, monkeypatch) -> dict:
    """The run to resume: a copy of the complete reference, or one stopped after a few parts; its options."""
    if status == "complete":
        copy_run(reference, out)
        return options(model, corpus, out)
    return _interrupted(model, corpus, out, monkeypatch)


@pytest.mark.parametrize("status, rel, how", DAMAGE, ids=[f"{s}-{h}-{r}" for s, r, h in DAMAGE])
def test_resume_recomputes_a_missing_or_damaged_part(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch, status, rel, how):
    out = tmp_path / "runs" / "r"
    kw = _start(status, tiny_bert_dir, corpus, reference, out, monkeypatch)
    if status != "complete":
        assert json.load(open(out / "progress.json"))["parts"] >= 2
    path = os.path.join(out, *rel.split("/"))
    flip_byte(path) if how == "flip" else os.unlink(path)
    run, messages = _resume(kw)
    assert run.complete
    assert_same_run(run.path, reference)
    kind = "altered" if how == "flip" else "missing"
    if rel != "heads.parquet":
        assert any(f"{rel}: {kind}" in m and "computed again" in m for m in messages), messages
        assert any(r.startswith(f"{rel}: {kind}") for r in run.manifest["resumed"][-1]["recomputed"])
    from headlens.cli import main

    assert main(["runs", "verify", run.path]) == 0


def test_a_run_without_recorded_state_refuses_to_resume_a_damaged_part_by_name(tiny_bert_dir, corpus, reference, tmp_path):
    out = copy_run(reference, tmp_path / "old")
    for name in os.listdir(os.path.join(out, "plan")):  # as an older headlens wrote them
        path = os.path.join(out, "plan", name)
        json.dump({"steps": json.load(open(path))["steps"]}, open(path, "w"))
    progress = json.load(open(os.path.join(out, "progress.json")))
    progress.pop("files")
    json.dump(progress, open(os.path.join(out, "progress.json"), "w"))
    os.unlink(os.path.join(out, "scores", "part-00003.parquet"))
    with pytest.raises(headlens.RunStoreError, match=r"scores/part-00003\.parquet: missing.*older headlens.*from part 3.*--overwrite"):
        headlens.run(**options(tiny_bert_dir, corpus, out), resume=True)
    _assert_unlocked(out)


def _assert_unlocked(out) -> None:
    with open(os.path.join(out, ".headlens.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if the refusal kept it
        fcntl.flock(fh, fcntl.LOCK_UN)


# every option that changes numbers, on a complete run and on an interrupted one (P10, P9)
CHANGES = [
    ("max_tokens", {"max_tokens": 64}, r"max_tokens \(stored 40, now 64\)"),
    ("sort_window", {"sort_window": 3}, r"sort_window \(stored 8, now 3\)"),
    ("long", {"long": "truncate"}, r"long \(stored 'skip', now 'truncate'\)"),
    ("word_aggregation", {"word_aggregation": "mean"}, r"word_aggregation \(stored 'clark', now 'mean'\)"),
    ("metrics", {"metrics": ("prev",)}, r"metrics \(stored None, now \('prev',\)\)"),
    ("dtype", {"dtype": "float64"}, r"dtype \(stored 'float32', now 'float64'\)"),
    ("mask_rate", {"mask_rate": 0.1}, r"mask_rate \(stored 0\.0, now 0\.1\)"),
    ("max_batch", {"max_batch": 2}, r"max_batch \(stored 128, now 2\)"),
    ("limit", {"corpus": "LIMIT"}, r"corpus \(stored .*'limit': None.*'limit': 10"),
]


@pytest.mark.parametrize("status", ["complete", "interrupted"])
@pytest.mark.parametrize("what, change, message", CHANGES, ids=[c[0] for c in CHANGES])
def test_resume_with_other_options_refuses_by_name_and_releases_the_lock(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch,
                                                                         what, change, message, status):
    out = tmp_path / "runs" / "r"
    kw = _start(status, tiny_bert_dir, corpus, reference, out, monkeypatch)
    if change.get("corpus") == "LIMIT":
        change = {"corpus": headlens.CorpusSpec(corpus, limit=10)}
    before = open(out / "manifest.json").read()
    with pytest.raises(headlens.RunStoreError, match=f"cannot resume .*other settings: .*{message}.*--overwrite"):
        headlens.run(**{**kw, **change}, resume=True)
    assert open(out / "manifest.json").read() == before
    _assert_unlocked(out)


def _changed_model(tiny_bert_dir: str, tmp_path, how: str) -> str:
    model = str(tmp_path / "model")
    if how == "weights":
        return make_tiny_bert(model, seed=1)
    shutil.copytree(tiny_bert_dir, model)
    if how == "tokenizer.json":
        tok = json.load(open(os.path.join(model, "tokenizer.json")))
        tok["normalizer"] = None  # the same vocabulary, another normalisation
        json.dump(tok, open(os.path.join(model, "tokenizer.json"), "w"))
    else:
        cfg = json.load(open(os.path.join(model, "tokenizer_config.json")))
        cfg["extra_note"] = "changed"
        json.dump(cfg, open(os.path.join(model, "tokenizer_config.json"), "w"))
    return model


@pytest.mark.parametrize("how, message", [
    ("weights", r"model sha256 \(stored '[0-9a-f]{64}', now '[0-9a-f]{64}'\)"),
    ("tokenizer.json", r"model tokenizer \(stored .*'tokenizer\.json': '[0-9a-f]{64}'"),
    ("tokenizer_config.json", r"model tokenizer \(stored .*'tokenizer_config\.json': '[0-9a-f]{64}'"),
])
def test_resume_with_a_changed_model_or_tokenizer_refuses(tiny_bert_dir, corpus, reference, tmp_path, how, message):
    out = copy_run(reference, tmp_path / "runs" / "r")
    model = _changed_model(tiny_bert_dir, tmp_path, how)
    with pytest.raises(headlens.RunStoreError, match=f"cannot resume .*{message}"):
        headlens.run(**{**options(tiny_bert_dir, corpus, out), "model": model}, resume=True)
    _assert_unlocked(out)


def test_resume_with_a_changed_corpus_refuses(tiny_bert_dir, corpus, reference, tmp_path):
    out = copy_run(reference, tmp_path / "runs" / "r")
    other = tmp_path / "c.txt"
    other.write_text(open(corpus).read().replace("cat", "dog"), encoding="utf-8")
    with pytest.raises(headlens.RunStoreError, match=r"corpus sha256 \(stored '[0-9a-f]{64}', now '[0-9a-f]{64}'\)"):
        headlens.run(**{**options(tiny_bert_dir, corpus, out), "corpus": str(other)}, resume=True)
    _assert_unlocked(out)


def test_options_that_do_not_change_results_may_differ(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch):
    out = tmp_path / "runs" / "r"
    kw = _interrupted(tiny_bert_dir, corpus, out, monkeypatch)
    run, _ = _resume({**kw, "part_size": 7, "threads": 1})
    assert_same_run(run.path, reference)


@pytest.mark.parametrize("flag, value, message", [
    ("--max-tokens", "64", "max_tokens (stored 40, now 64)"),
    ("--long", "window", "long (stored 'skip', now 'window')"),
    ("--word-aggregation", "first", "word_aggregation (stored 'clark', now 'first')"),
])
def test_cli_resume_of_a_complete_run_with_other_options_refuses(tiny_bert_dir, corpus, reference, tmp_path, capsys, flag, value, message):
    from headlens.cli import main

    out = copy_run(reference, tmp_path / "runs" / "r")
    args = ["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--quiet", "--resume",
            "--max-tokens", "40", "--sort-window", "8", "--store-maps", "none", "--out", out]
    assert main([*args, flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"RunStoreError: cannot resume {out}: it was completed with other settings: ") and message in err
    assert main(args) == 0  # the same options: nothing to do
    assert "complete already: nothing to resume" in capsys.readouterr().out
