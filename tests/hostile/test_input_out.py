"""The --out directory (issue 17, P11 first bullet): an empty or symlinked --out gets a clear
message and nothing is written; an existing empty directory is used in place, never removed."""

from __future__ import annotations

import os

import pytest

import headlens
from headlens.errors import ConfigError, RunStoreError
from headlens.store import prepare_run_dir
from conftest import write
from test_bad_input import assert_error, run_cli


@pytest.mark.parametrize("out", ["", "   "], ids=["empty", "blank"])
def test_empty_out(capsys, tmp_path, tiny_bert_dir, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--overwrite")
    assert_error(rc, err, "ConfigError", "--out", "is empty", "runs/NAME")
    assert sorted(os.listdir(tmp_path)) == ["c.txt"]  # nothing made in the working directory
    with pytest.raises(ConfigError, match="is empty"):
        headlens.run(out=out, model=tiny_bert_dir, corpus=corpus)
    with pytest.raises(RunStoreError, match="--out is empty"):
        prepare_run_dir(out, overwrite=True)


def _links(tmp_path):
    """(link to an empty directory, link to a finished run, dangling link) and their targets."""
    empty = tmp_path / "empty-target"
    empty.mkdir()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    return {"to-empty-dir": (tmp_path / "link-empty", empty), "dangling": (dangling, tmp_path / "nowhere")}


@pytest.mark.parametrize("kind", ["to-empty-dir", "dangling"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_symlinked_out_is_refused(capsys, tmp_path, tiny_bert_dir, kind, overwrite):
    link, target = _links(tmp_path)[kind]
    if not link.is_symlink():
        link.symlink_to(target)
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(link), *(["--overwrite"] if overwrite else []))
    assert_error(rc, err, "RunStoreError", str(link), "is a symbolic link", f"to {target}", "Pass the target")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert not target.exists() or os.listdir(target) == []


def test_symlink_to_a_run_is_not_followed_by_overwrite(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    real = tmp_path / "real-run"
    assert run_cli(capsys, tiny_bert_dir, corpus, str(real))[0] == 0
    started = headlens.open_run(str(real)).manifest["started"]
    link = tmp_path / "link"
    link.symlink_to(real)
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(link), "--overwrite")
    assert_error(rc, err, "RunStoreError", "is a symbolic link", str(real))
    assert headlens.open_run(str(real)).manifest["started"] == started


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_empty_out_directory_is_used_in_place(capsys, tmp_path, tiny_bert_dir, overwrite):
    """Same inode and mode after the run: the directory was filled, not removed and made again."""
    out = tmp_path / "empty"
    out.mkdir()
    os.chmod(out, 0o750)
    before = os.stat(out)
    corpus = write(tmp_path, "c.txt", "the cat sat\nthe dog ran\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(out), *(["--overwrite"] if overwrite else []))
    assert rc == 0, err
    after = os.stat(out)
    assert (after.st_ino, after.st_dev, after.st_mode) == (before.st_ino, before.st_dev, before.st_mode)
    assert headlens.open_run(str(out)).manifest["counts"]["analysed"] == 2
