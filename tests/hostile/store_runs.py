"""Small runs for the hostile store tests (tests/hostile/test_store_*.py): a tiny random BERT, 24
sentences in parts of 4, and the comparison of a run with an uninterrupted reference run."""

from __future__ import annotations

import shutil

import pytest

import headlens
from runs_equal import assert_same_run  # noqa: F401 - re-exported for the store tests
from test_runner import LINES as RUNNER_LINES

LINES = RUNNER_LINES[:24]  # the runner tests' six sentences, four times
PART = 4


def options(model: str, corpus: str, out, **kw) -> dict:
    # no stored maps: the fault tests count the run's writes (manifest, 4 per part, heads, manifest)
    return dict(out=str(out), model=model, corpus=corpus, annotator="regex", progress=False, part_size=PART,
                max_tokens=40, sort_window=8, store_maps=(), **kw)


# One corpus and one reference run for the five store test files, which read and copy them and never
# change them (each file imports the fixtures, so pytest would build them once per file).
_SHARED: dict = {}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    if "corpus" not in _SHARED:
        p = tmp_path_factory.mktemp("corpus") / "c.txt"
        p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
        _SHARED["corpus"] = str(p)
    return _SHARED["corpus"]


@pytest.fixture(scope="module")
def reference(tiny_bert_dir, corpus, tmp_path_factory) -> str:
    """An uninterrupted run (surface metrics)."""
    key = ("reference", tiny_bert_dir, corpus)
    if key not in _SHARED:
        _SHARED[key] = headlens.run(**options(tiny_bert_dir, corpus, tmp_path_factory.mktemp("reference") / "ref")).path
    return _SHARED[key]


def copy_run(src: str, dst) -> str:
    shutil.copytree(src, str(dst), copy_function=shutil.copy2)
    return str(dst)


def flip_byte(path: str, at: int | None = None) -> None:
    """Change one byte of the file (the middle one unless ``at``), keeping its size."""
    with open(path, "r+b") as fh:
        data = bytearray(fh.read())
        i = len(data) // 2 if at is None else at
        data[i] ^= 0x5A
        fh.seek(0)
        fh.write(data)
