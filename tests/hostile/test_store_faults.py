"""Write errors (P6): a disk that fills up at the N-th write. The run ends with a RunStoreError naming
the file, keeps every committed part, leaves a 'failed' manifest whose counts are what the committed
parts hold, releases its lock, and --resume then ends equal to an uninterrupted run (1e-6)."""

import errno
import json
import os

import pyarrow.parquet as pq
import pytest

import headlens
import headlens.store.atomic as atomic
from headlens.store.lock import live
from store_runs import assert_same_run, corpus, options, reference  # noqa: F401 - fixtures


class DiskFull:
    """Raises OSError(ENOSPC) at the ``n``-th call of the wrapped write, remembering the file."""

    def __init__(self, n: int):
        self.n, self.calls, self.failed = n, 0, None

    def hit(self, path: str) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.failed = path
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _publish_fault(monkeypatch, n: int) -> DiskFull:
    """Fail the n-th atomic rename (every part file, plan, progress.json, heads.parquet, manifest.json)."""
    fault, publish = DiskFull(n), atomic._publish

    def failing(tmp, path):
        fault.hit(path)
        return publish(tmp, path)

    monkeypatch.setattr(atomic, "_publish", failing)
    return fault


def _data_fault(monkeypatch, n: int) -> DiskFull:
    """Fail the n-th Parquet row group written (a scores part, a sentences part or heads.parquet)."""
    fault, write = DiskFull(n), pq.ParquetWriter.write_table

    def failing(self, table, *a, **k):
        tmp = os.path.basename(self.where)  # the temporary file of an atomic write: .NAME.tmp-XXXX
        fault.hit(os.path.join(os.path.dirname(self.where), tmp[1:tmp.index(".tmp-")]))
        return write(self, table, *a, **k)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    return fault


def _committed_items(out: str) -> int:
    progress = os.path.join(out, "progress.json")
    parts = json.load(open(progress))["parts"] if os.path.exists(progress) else 0
    return sum(pq.read_metadata(os.path.join(out, "sentences", f"part-{n:05d}.parquet")).num_rows for n in range(parts))


# the atomic writes of the reference run: manifest (1), then per part of 4 sentences scores, sentences,
# plan, progress (4 each, 6 parts), heads.parquet (26), manifest (27)
@pytest.mark.parametrize("where, n", [("publish", n) for n in (2, 3, 4, 5, 8, 13, 24, 25, 26)] +
                         [("data", n) for n in (1, 3, 7, 12)])
def test_disk_full_fails_the_run_resumably(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch, where, n):
    out = tmp_path / "runs" / "r"
    kw = options(tiny_bert_dir, corpus, out)
    fault = (_publish_fault if where == "publish" else _data_fault)(monkeypatch, n)
    with pytest.raises(headlens.RunStoreError) as e:
        headlens.run(**kw)
    monkeypatch.undo()
    text = str(e.value)
    assert f"run {out} failed: cannot write {fault.failed}: No space left on device (errno 28)" in text, text
    assert "committed parts" in text and "--resume" in text
    manifest = json.load(open(out / "manifest.json"))
    assert manifest["status"] == "failed" and "No space left on device" in manifest["error"]
    items = _committed_items(str(out))
    assert manifest["counts"]["read"] == items  # true counts: what the committed parts hold
    assert headlens.open_run(str(out), allow_incomplete=True).sentences().num_rows == items
    assert not live(str(out)) and not [f for _, _, fs in os.walk(out) for f in fs if ".tmp-" in f]
    run = headlens.run(**kw, resume=True)
    assert_same_run(run.path, reference)


def test_disk_full_on_the_last_manifest_write_leaves_a_killed_resumable_run(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch):
    out = tmp_path / "runs" / "r"
    kw = options(tiny_bert_dir, corpus, out)
    fault = _publish_fault(monkeypatch, 27)
    with pytest.raises(headlens.RunStoreError, match=f"cannot write {out / 'manifest.json'}: No space left on device"):
        headlens.run(**kw)
    monkeypatch.undo()
    assert fault.failed == str(out / "manifest.json")
    assert json.load(open(out / "manifest.json"))["status"] == "running" and not live(str(out))  # listed as killed
    assert_same_run(headlens.run(**kw, resume=True).path, reference)


def test_disk_full_before_anything_is_committed(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch):
    out = tmp_path / "runs" / "r"
    kw = options(tiny_bert_dir, corpus, out)
    _publish_fault(monkeypatch, 1)  # the first manifest
    with pytest.raises(headlens.RunStoreError, match=f"cannot write {out / 'manifest.json'}: No space left on device"):
        headlens.run(**kw)
    monkeypatch.undo()
    assert not os.path.exists(out / "manifest.json") and not live(str(out))
    assert_same_run(headlens.run(**kw, resume=True).path, reference)
