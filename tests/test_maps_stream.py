"""Stored maps written a layer at a time (store/npz.py, runner/maps.py): the same arrays as np.savez of
the whole maps, the checksum computed while writing, nothing left of a file that was not committed."""

import hashlib
import os

import numpy as np
import pytest

import headlens
from headlens.corpus import CorpusSpec
from headlens.errors import RunStoreError
from headlens.models import load_model
from headlens.runner import Engine
from headlens.runner.maps import sentence_arrays, word_maps
from headlens.runner.stream import FrontHalf
from headlens.store import integrity
from headlens.store.npz import NpzWriter, write_npz

TEXTS = ["the cat sat on the mat .", "new york is a city , he said !", "playing dogs ran", "i run"] * 2


def _same(path: str, expected: dict) -> None:
    """The arrays np.load reads from ``path`` are those np.load reads from np.savez(**expected), bit for bit."""
    with np.load(path, allow_pickle=False) as got:
        assert sorted(got.files) == sorted(expected)
        for name, value in expected.items():
            want = np.asanyarray(value)
            assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
            assert got[name].tobytes() == want.tobytes(), name


def _digest_matches(path: str, entry: dict) -> None:
    with open(path, "rb") as fh:
        assert entry["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    assert entry["size"] == os.path.getsize(path) and entry["mtime_ns"] == os.stat(path).st_mtime_ns


def test_members_in_chunks_interleaved_read_back_as_np_savez_wrote_them(tmp_path):
    rng = np.random.default_rng(0)
    big = {name: rng.random((3, 2, n, n), dtype=np.float32) for name, n in (("attention", 7), ("logits", 7), ("words", 5))}
    small = {"tokens": ["[CLS]", "caf\u00e9", "[SEP]"], "ids": np.arange(4), "empty": np.zeros((0, 2))}
    out = NpzWriter(str(tmp_path / "a.npz"))
    for layer in range(3):  # three members at once: one goes straight in, two are spooled
        for name, value in big.items():
            out.add(name, value[layer], 3)
    for name, value in small.items():
        out.array(name, value)
    entry = out.commit()
    np.savez(tmp_path / "b.npz", **big, **small)
    _same(str(tmp_path / "a.npz"), dict(np.load(tmp_path / "b.npz")))
    _digest_matches(str(tmp_path / "a.npz"), entry)
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]  # the spools were unnamed, the temporary renamed


def test_a_file_not_committed_leaves_nothing_and_a_short_member_is_refused(tmp_path):
    out = NpzWriter(str(tmp_path / "a.npz"))
    out.add("attention", np.ones((2, 3, 3), np.float32), 4)
    out.add("logits", np.ones((2, 3, 3), np.float32), 4)
    out.abandon()
    assert os.listdir(tmp_path) == []
    out = NpzWriter(str(tmp_path / "a.npz"))
    out.add("attention", np.ones((2, 3, 3), np.float32), 2)
    with pytest.raises(ValueError, match="chunk 1 of member 'attention'"):
        out.add("attention", np.ones((2, 3, 4), np.float32), 2)
    with pytest.raises(ValueError, match="'attention' .* is open: it has had 1 of its 2 chunks"):
        out.commit()
    assert os.listdir(tmp_path) == []


def test_a_failed_write_names_the_file_and_keeps_nothing(tmp_path):
    out = NpzWriter(str(tmp_path / "a.npz"))

    def full(*_):
        raise OSError(28, "No space left on device")

    out._out.fh = type("Full", (), {"write": full, "flush": lambda self: None})()
    with pytest.raises(RunStoreError, match=r"cannot write .*a\.npz: No space left on device"):
        out.add("attention", np.ones((2, 3, 3), np.float32), 2)
    out.abandon()
    assert os.listdir(tmp_path) == []


def test_the_index_takes_a_written_digest_only_for_the_same_file(tmp_path):
    entry = write_npz(str(tmp_path / "a.npz"), {"x": np.arange(3)})
    assert integrity.record(str(tmp_path), ["a.npz"], known={"a.npz": entry}) == {"a.npz": entry}
    forged = {**entry, "sha256": "0" * 64}  # taken as is while size and mtime match: never read again
    assert integrity.record(str(tmp_path), ["a.npz"], known={"a.npz": forged}) == {"a.npz": forged}
    np.savez(tmp_path / "a.npz", x=np.arange(3) + 1)  # rewritten: read again
    again = integrity.record(str(tmp_path), ["a.npz"], known={"a.npz": forged})["a.npz"]
    _digest_matches(str(tmp_path / "a.npz"), again)


@pytest.mark.parametrize("attention", ["fused", "eager"])
def test_a_runs_stored_maps_are_the_whole_maps_as_np_savez_wrote_them(tiny_bert_dir, tmp_path, attention):
    """The file a run streams equals, array for array, np.savez of the engine's whole maps in memory with the
    word maps of all layers at once (the writer before streaming); the manifest's checksum is the file's."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), annotator="regex",
                       progress=False, store_maps=("0", "2", "5"), attention=attention, analyses=("surface",))
    lm = load_model(tiny_bert_dir)
    front = FrontHalf(CorpusSpec(str(corpus)), annotator="regex")
    engine, kept = Engine(lm, [], attention=attention), 0
    for items in front.batches(lm.tokenizer, lm.max_tokens):  # the run's batches
        keep = [row for row, enc in enumerate(items) if enc.sentence.index in (0, 2, 5)]
        _, maps = engine.score(engine.batch(items), keep=keep)
        for row, whole in maps.items():
            enc, kept = items[row], kept + 1
            path = os.path.join(run.path, "maps", f"sentence-{enc.sentence.index}.npz")
            assert whole["attention"].shape == (lm.num_layers, lm.num_heads, enc.n_tokens, enc.n_tokens)
            expected = {**whole, "word_attention": word_maps(enc, whole["attention"], "clark"),
                        **sentence_arrays(enc, lm.tokenizer)}
            np.savez(tmp_path / "old.npz", **expected)
            _same(path, dict(np.load(tmp_path / "old.npz")))
            _digest_matches(path, run.manifest["files"][f"maps/sentence-{enc.sentence.index}.npz"])
    assert kept == 3
    assert not any(".tmp-" in name for name in os.listdir(os.path.join(run.path, "maps")))


def test_a_step_that_fails_while_scoring_leaves_no_maps_file(tiny_bert_dir, tmp_path, monkeypatch):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")

    def broken(self, layer, logits):
        raise RuntimeError("stopped in the middle of a layer")

    monkeypatch.setattr("headlens.runner.maps.KeptMaps.logits", broken)
    with pytest.raises(RuntimeError, match="stopped in the middle"):
        headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), annotator="regex",
                     progress=False, store_maps=("0",), attention="fused", analyses=("surface",))
    assert os.listdir(tmp_path / "run" / "maps") == []
