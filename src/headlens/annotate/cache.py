"""On-disk annotation cache: one SQLite file keyed by (annotator id, sha256 of the text).

Location: ``$HEADLENS_CACHE_DIR/annotations.sqlite``, default
``~/.cache/headlens/annotations.sqlite`` (``$XDG_CACHE_HOME`` is honoured). The annotator id
includes the annotator's and its model's versions, so an upgrade never reads stale entries.
SQLite commits are atomic, so a killed run leaves no half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

from ..corpus.types import Word


def default_cache_dir() -> str:
    if os.environ.get("HEADLENS_CACHE_DIR"):
        return os.environ["HEADLENS_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "headlens")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dump(words: list[Word]) -> str:
    return json.dumps([[w.form, w.start, w.end, w.upos, w.xpos, w.head, w.deprel, w.entity] for w in words])


def _load(blob: str) -> list[Word]:
    return [Word(form=f, start=s, end=e, upos=u, xpos=x, head=h, deprel=d, entity=n) for f, s, e, u, x, h, d, n in json.loads(blob)]


class AnnotationCache:
    def __init__(self, directory: str | None = None):
        self.directory = directory or default_cache_dir()
        os.makedirs(self.directory, exist_ok=True)
        self.path = os.path.join(self.directory, "annotations.sqlite")
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS annotations (annotator TEXT, text_sha256 TEXT, words TEXT, "
            "PRIMARY KEY (annotator, text_sha256))"
        )
        self._db.commit()

    def get_many(self, annotator: str, texts: list[str]) -> dict[str, list[Word]]:
        keys = list({text_key(t) for t in texts})
        found: dict[str, list[Word]] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT text_sha256, words FROM annotations WHERE annotator = ? AND text_sha256 IN ({','.join('?' * len(part))})"
            for key, blob in self._db.execute(q, [annotator, *part]):
                found[key] = _load(blob)
        return found

    def put_many(self, annotator: str, items: dict[str, list[Word]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO annotations VALUES (?, ?, ?)",
                [(annotator, key, _dump(words)) for key, words in items.items()],
            )

    def close(self) -> None:
        self._db.close()
