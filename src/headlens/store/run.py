"""Reading a stored run: ``open_run("runs/NAME")`` gives a Run with its manifest and tables."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..errors import RunStoreError
from . import integrity
from .tables import SCORES_SCHEMA, SENTENCES_SCHEMA
from .writer import MANIFEST


class Run:
    """A run directory. Tables come back as ``pyarrow.Table`` (``.to_pandas()`` if pandas is installed).

    Readers read exactly the run's committed files and check each file's size and sha256 against
    the run's record the first time a table is read (see ``store/integrity.py``): a missing,
    truncated or altered file is a RunStoreError that names it, never a silent different number.
    An incomplete run (``open_run(..., allow_incomplete=True)``) gives what its committed parts
    hold; ``committed`` says how many parts and sentences that is.
    """

    note: str | None = None  # what the run call that returned it has to say (e.g. nothing to resume)

    def __init__(self, path: str, manifest: dict):
        self.path = path
        self.manifest = manifest
        self.index = integrity.committed_index(path, manifest)  # None: a run without checksums (older headlens)
        self._checked: set[str] = set()

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def metrics(self) -> list[str]:
        return [m["name"] for m in self.manifest.get("metrics", [])]

    @property
    def committed(self) -> dict:
        """Committed parts and the corpus items (analysed and skipped) they cover."""
        parts = [f for f in integrity.committed_parts(self.path, self.manifest) if f.startswith("sentences/")]
        items = sum(pq.read_metadata(p).num_rows for p in self._files("sentences")) if parts else 0
        return {"parts": len(parts), "items": items}

    def _verified(self, prefix: str) -> None:
        if prefix not in self._checked and self.index is not None:
            integrity.raise_damaged(self.path, integrity.check_files(self.path, self.index, only=(prefix,)))
        self._checked.add(prefix)

    def _files(self, table: str) -> list[str]:
        """Absolute paths of the committed parts of ``table`` (scores, sentences), checked."""
        self._verified(table + "/")
        return [os.path.join(self.path, *f.split("/")) for f in integrity.committed_parts(self.path, self.manifest)
                if f.startswith(table + "/")]

    def dataset(self, table: str) -> ds.Dataset:
        """The committed parts of ``table`` ("scores" or "sentences") as one pyarrow dataset."""
        schema = {"scores": SCORES_SCHEMA, "sentences": SENTENCES_SCHEMA}[table]
        return ds.dataset(self._files(table), schema=schema, format="parquet")

    def _read(self, files: list[str], read):
        """``read()``, with a damaged Parquet file named in a RunStoreError (never a bare Arrow error)."""
        try:
            return read()
        except (pa.ArrowException, OSError) as e:
            bad = []
            for f in files:
                try:
                    pq.read_metadata(f)
                except (pa.ArrowException, OSError) as err:
                    bad.append(f"{f} ({err})")
            where = "; ".join(bad) or ", ".join(files)
            raise RunStoreError(f"cannot read run {self.path}: {where}: {e}. `headlens runs verify {self.path}` "
                                "checks every file.") from e

    def heads(self, metric: str | None = None) -> pa.Table:
        path = os.path.join(self.path, "heads.parquet")
        if not os.path.exists(path) and not self.complete:
            c = self.committed
            raise RunStoreError(f"run {self.path} is {self.manifest.get('status')!r}: it has no heads.parquet (written "
                                f"when a run completes). Its {c['parts']} committed parts cover {c['items']} corpus "
                                "items: read them with scores() and sentences(), or finish it with --resume.")
        self._verified("heads.parquet")
        table = self._read([path], lambda: pq.read_table(path))
        return table if metric is None else table.filter(pc.equal(table["metric"], metric))

    def scores(self, metric: str | None = None) -> pa.Table:
        """Per-sentence scores (sentence_id, layer, head, metric, value), read from the committed parts."""
        dataset = self.dataset("scores")
        flt = None if metric is None else (ds.field("metric") == metric)
        return self._read(dataset.files, lambda: dataset.to_table(filter=flt))

    def sentences(self) -> pa.Table:
        """One row per corpus item (analysed or skipped) of the committed parts, in corpus order."""
        dataset = self.dataset("sentences")
        return self._read(dataset.files, lambda: dataset.to_table().sort_by("sentence_id"))

    def top_heads(self, metric: str, k: int = 5) -> list[dict]:
        """The ``k`` heads with the highest mean for ``metric`` (labels 1-based)."""
        if metric not in self.metrics:
            raise RunStoreError(f"metric {metric!r} is not in this run; it has {', '.join(self.metrics)}.")
        rows = self.heads(metric).to_pylist()
        rows = [r for r in rows if r["count"] > 0]
        return sorted(rows, key=lambda r: -r["mean"])[:k]

    def summary(self) -> str:
        m = self.manifest
        c = m.get("counts", {})
        return (
            f"headlens run {self.path} [{m.get('status')}]\n"
            f"  model   {m['model']['name']} ({m['model']['num_layers']} layers x {m['model']['num_heads']} heads)\n"
            f"  corpus  {m['corpus']['path']} ({c.get('analysed', 0)} analysed, {c.get('skipped', 0)} skipped)\n"
            f"  metrics {', '.join(self.metrics)}"
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The summary a notebook shows: model, corpus, status, counts, analyses and their outputs (escaped)."""
        from .notebook import summary_html

        return summary_html(self)


def _committed_note(run: Run) -> str:
    try:
        c = run.committed
    except RunStoreError as e:
        return f"its committed parts cannot be counted: {e}"
    return f"{c['parts']} committed parts, {c['items']} corpus items"


def open_run(path: str | os.PathLike[str], allow_incomplete: bool = False) -> Run:
    path = os.fspath(path)
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.exists(manifest_path):
        raise RunStoreError(f"{path} is not a headlens run: it has no {MANIFEST}.")
    try:
        with open(manifest_path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as e:
        raise RunStoreError(f"cannot read {manifest_path}: {e}") from e
    run = Run(path, manifest)
    if not run.complete and not allow_incomplete:
        raise RunStoreError(
            f"run {path} is {manifest.get('status')!r}, not complete (it was interrupted or is still running). "
            f"Pass allow_incomplete=True to read what it finished ({_committed_note(run)}; on the command line: "
            f"headlens runs show {path} --allow-incomplete, or headlens sql --all)."
        )
    return run
