"""Reading a stored run: ``open_run("runs/NAME")`` gives a Run with its manifest and tables."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..errors import RunStoreError
from .writer import MANIFEST


class Run:
    """A run directory. Tables come back as ``pyarrow.Table`` (``.to_pandas()`` if pandas is installed)."""

    def __init__(self, path: str, manifest: dict):
        self.path = path
        self.manifest = manifest

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def metrics(self) -> list[str]:
        return [m["name"] for m in self.manifest.get("metrics", [])]

    def heads(self, metric: str | None = None) -> pa.Table:
        table = pq.read_table(os.path.join(self.path, "heads.parquet"))
        return table if metric is None else table.filter(pc.equal(table["metric"], metric))

    def scores(self, metric: str | None = None) -> pa.Table:
        """Per-sentence scores (sentence_id, layer, head, metric, value), read from the parts."""
        dataset = ds.dataset(os.path.join(self.path, "scores"), format="parquet")
        flt = None if metric is None else (ds.field("metric") == metric)
        return dataset.to_table(filter=flt)

    def sentences(self) -> pa.Table:
        """One row per corpus item (analysed or skipped), in corpus order."""
        return ds.dataset(os.path.join(self.path, "sentences"), format="parquet").to_table().sort_by("sentence_id")

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
            "Pass allow_incomplete=True to read what it finished."
        )
    return run
