"""The conftest check behind the integration marker: an unmarked test that opens ../shared/data or the
packaged real model is seen (and fails), whatever opens the file."""

import os

import conftest
import numpy as np
import pytest


@pytest.mark.parametrize("opener", [open, lambda p: os.open(p, os.O_RDONLY), np.load])
def test_an_open_under_a_guarded_root_is_seen(monkeypatch, opener):
    assert conftest.SHARED + os.sep in conftest._GUARDED
    probe = os.path.join(conftest._GUARDED[0], "no-such-file-headlens-probe.txt")
    monkeypatch.setitem(conftest._RUNNING, "unmarked", "probe::unmarked")  # as if an unmarked test ran
    with pytest.raises(OSError):  # the audit event comes before the file is looked up
        opener(probe)
    monkeypatch.setitem(conftest._RUNNING, "unmarked", None)
    assert conftest._OPENED.pop("probe::unmarked", None) == os.path.abspath(probe)


def test_an_open_elsewhere_or_by_a_marked_test_is_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setitem(conftest._RUNNING, "unmarked", "probe::elsewhere")
    (tmp_path / "x.txt").write_text("x")
    open(tmp_path / "x.txt").close()
    monkeypatch.setitem(conftest._RUNNING, "unmarked", None)  # a marked test: nothing recorded
    with pytest.raises(OSError):
        open(os.path.join(conftest._GUARDED[0], "no-such-file-headlens-probe.txt"))
    assert "probe::elsewhere" not in conftest._OPENED and None not in conftest._OPENED
