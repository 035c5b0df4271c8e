"""Reading a stored run: ``open_run("runs/NAME")`` gives a Run with its manifest and tables."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import RunStoreError
from ..heads import head_label
from ..lazy import lazy_module
from . import integrity, layout
from .layout import HEADS, MANIFEST, SCORES, SENTENCES
from .tables import SENTENCES_SCHEMA, STORE_FORMAT, score_dtype, scores_schema

ds = lazy_module("pyarrow.dataset")  # with pandas, 35 MiB of a run's peak RSS: imported when a run is read


class Run:
    """A run directory. Tables come back as ``pyarrow.Table``; labelled results as pandas and xarray:
    ``to_pandas(table)`` (any stored table), ``heads_frame(stat)`` (per-head summary indexed by
    (layer, head)), ``to_xarray(metrics)`` (scores with dims sentence, layer, head).

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
        self.scores_schema = scores_schema(score_dtype(manifest))  # format 1: float64 values; 2: the compute dtype
        self.score_scans = 0  # scans of the score parts so far (each analysis reads them a fixed number of times)

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    def record_finalizer(self, analysis: str, state: str) -> None:
        """Record in the manifest's "finalizers" that ``analysis``'s statistics are ``state`` ("pending",
        "done"): a complete run says which of its derived tables exist."""
        from .atomic import atomic_write_json

        self.manifest["finalizers"] = {**self.manifest.get("finalizers", {}), analysis: state}
        atomic_write_json(os.path.join(self.path, MANIFEST), self.manifest)

    @property
    def metrics(self) -> list[str]:
        return [m["name"] for m in self.manifest.get("metrics", [])]

    @property
    def committed(self) -> dict:
        """Committed parts and the corpus items (analysed and skipped) they cover."""
        parts = [f for f in integrity.committed_parts(self.path, self.manifest) if f.startswith(SENTENCES + "/")]
        items = sum(pq.read_metadata(p).num_rows for p in self._files(SENTENCES)) if parts else 0
        return {"parts": len(parts), "items": items}

    def _verified(self, prefix: str) -> None:
        if prefix not in self._checked and self.index is not None:
            integrity.raise_damaged(self.path, integrity.check_files(self.path, self.index, only=(prefix,)))
        self._checked.add(prefix)

    def _files(self, table: str) -> list[str]:
        """Absolute paths of the committed parts of ``table`` (scores, sentences), checked."""
        self._verified(table + "/")
        return [layout.join(self.path, f) for f in integrity.committed_parts(self.path, self.manifest)
                if f.startswith(table + "/")]

    def dataset(self, table: str) -> ds.Dataset:
        """The committed parts of ``table`` ("scores" or "sentences") as one pyarrow dataset."""
        schema = {SCORES: self.scores_schema, SENTENCES: SENTENCES_SCHEMA}[table]
        self.score_scans += table == SCORES
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
        path = os.path.join(self.path, HEADS)
        if not os.path.exists(path) and not self.complete:
            c = self.committed
            raise RunStoreError(f"run {self.path} is {self.manifest.get('status')!r}: it has no {HEADS} (written "
                                f"when a run completes). Its {c['parts']} committed parts cover {c['items']} corpus "
                                "items: read them with scores() and sentences(), or finish it with --resume.")
        self._verified(HEADS)
        table = self._read([path], lambda: pq.read_table(path))
        return table if metric is None else table.filter(pc.equal(table["metric"], metric))

    def scores(self, metric: str | None = None) -> pa.Table:
        """Per-sentence scores (sentence_id, layer, head, metric, value), read from the committed parts."""
        dataset = self.dataset(SCORES)
        flt = None if metric is None else (ds.field("metric") == metric)
        return self._read(dataset.files, lambda: dataset.to_table(filter=flt))

    def sentences(self) -> pa.Table:
        """One row per corpus item (analysed or skipped) of the committed parts, in corpus order."""
        dataset = self.dataset(SENTENCES)
        return self._read(dataset.files, lambda: dataset.to_table().sort_by("sentence_id"))

    def to_xarray(self, metrics: list[str] | str | None = None, level: str | None = "token"):
        """The per-sentence scores as an ``xarray.Dataset`` with dims (sentence, layer, head).

        One float64 variable per metric: the stored values exactly, NaN where the metric is
        undefined for a sentence. ``metrics`` names the metrics (one name or a list); without it,
        every metric of the run whose level is ``level`` ("token", "word" or "parts"; None: all).
        Coordinates: ``sentence`` (the 0-based sentence ids of the analysed sentences, ascending),
        ``sent_id`` along sentence (the corpus's own ids, "" where it has none) when the corpus
        has them, ``layer`` and ``head`` (0-based), and ``label`` (layer, head): the 1-based
        labels of :func:`headlens.heads.head_label` (``"L8H11"``). Needs xarray.

        >>> ds = run.to_xarray(["sas_cls"])                              # doctest: +SKIP
        >>> ds["sas_cls"].sel(layer=7, head=10).mean("sentence")        # doctest: +SKIP
        """
        import xarray as xr

        from ..heads import head_index, head_labels

        names = self._metric_names(metrics, level)
        model = self.manifest["model"]
        layers, heads = int(model["num_layers"]), int(model["num_heads"])
        sentences = self.sentences()
        analysed = sentences.filter(pc.equal(sentences["status"], "analysed"))
        ids = analysed["sentence_id"].to_numpy()
        dataset = self.dataset(SCORES)
        table = self._read(dataset.files, lambda: dataset.to_table(
            filter=ds.field("metric").isin(names), columns=["sentence_id", "layer", "head", "metric", "value"]))
        metric = pc.index_in(table["metric"].cast(pa.string()), value_set=pa.array(names, pa.string())).to_numpy(zero_copy_only=False)
        sids = table["sentence_id"].to_numpy()
        row = np.searchsorted(ids, sids)
        if len(sids) and (row.max() >= len(ids) or not np.array_equal(ids[row], sids)):
            raise RunStoreError(f"run {self.path} has scores of sentences its sentences table does not list as analysed; "
                                f"`headlens runs verify {self.path}` checks every file.")
        column = head_index(table["layer"].to_numpy().astype(np.int64), table["head"].to_numpy(), heads)
        cube = np.full((len(names), len(ids), layers * heads), np.nan)
        cube[metric, row, column] = table["value"].to_numpy()
        cube = cube.reshape(len(names), len(ids), layers, heads)
        dims = ("sentence", "layer", "head")
        coords = {"sentence": ids, "layer": np.arange(layers), "head": np.arange(heads),
                  "label": (("layer", "head"), np.asarray(head_labels(layers, heads)).reshape(layers, heads))}
        sent_id = analysed["sent_id"].to_pylist()
        if any(sent_id):
            coords["sent_id"] = ("sentence", np.asarray([x or "" for x in sent_id], dtype=str))
        levels = {m["name"]: m.get("level") for m in self.manifest.get("metrics", [])}
        variables = {n: (dims, cube[i], {"level": levels.get(n)}) for i, n in enumerate(names)}
        return xr.Dataset(variables, coords=coords, attrs={"run": self.path, "model": model["name"], "level": level or "all"})

    def _metric_names(self, metrics: list[str] | str | None, level: str | None) -> list[str]:
        if metrics is None:
            names = [m["name"] for m in self.manifest.get("metrics", []) if level is None or m.get("level") == level]
            if not names:
                levels = sorted({str(m.get("level")) for m in self.manifest.get("metrics", [])})
                raise RunStoreError(f"run {self.path} has no {level}-level metric; its levels are {', '.join(levels)} "
                                    "(pass level=None for every metric, or name the metrics).")
            return names
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in names if m not in self.metrics]
        if unknown:
            raise RunStoreError(f"metric {', '.join(map(repr, unknown))} is not in this run; it has {', '.join(self.metrics)}.")
        return list(dict.fromkeys(names))

    def to_pandas(self, table: str, by_head: bool = False):
        """Any stored table of the run as a ``pandas.DataFrame``, with the stored columns and types.

        ``table``: "scores", "sentences" or "heads" (the run's own tables), or an analysis'
        output table as "<analysis>/<name>/<table>" (e.g. "roles/default/heads"; "roles/heads"
        reads the output called "default"). ``by_head``: index the rows by (layer, head), 0-based,
        for a table with those columns (the per-head summaries). Needs pandas.
        """
        if table in (SCORES, SENTENCES, "heads"):
            arrow = {SCORES: self.scores, SENTENCES: self.sentences, "heads": self.heads}[table]()
        else:
            from .outputs import read_outputs

            parts = table.split("/")
            if len(parts) not in (2, 3) or not all(parts):
                raise RunStoreError(f"no table {table!r}: name scores, sentences, heads, or an analysis' output table "
                                    "as <analysis>/<name>/<table> (e.g. roles/default/heads).")
            analysis, name, wanted = (parts[0], layout.DEFAULT_OUTPUT, parts[1]) if len(parts) == 2 else parts
            tables, _ = read_outputs(self, analysis, name)
            if wanted not in tables:
                raise RunStoreError(f"{analysis}/{name} has no table {wanted!r}; it has {', '.join(sorted(tables))}.")
            arrow = tables[wanted]
        frame = arrow.to_pandas()
        if by_head:
            if not {"layer", "head"} <= set(frame.columns):
                raise RunStoreError(f"table {table!r} has no layer and head columns to index by.")
            frame = frame.set_index(["layer", "head"])
        return frame

    def heads_frame(self, stat: str = "mean", metrics: list[str] | str | None = None):
        """The per-head summary as a ``pandas.DataFrame`` indexed by (layer, head), 0-based: one
        column per metric (``metrics``, default all) holding the statistic ``stat`` of heads.parquet
        (mean, std, count, min or max). The head labels are ``headlens.heads.head_label(layer, head)``;
        the long table with every statistic is ``to_pandas("heads")``. Needs pandas.
        """
        stats = ("mean", "std", "count", "min", "max")
        if stat not in stats:
            raise RunStoreError(f"stat {stat!r} is not one of {', '.join(stats)}.")
        names = self._metric_names(metrics, None)
        long = self.heads().select(["metric", "layer", "head", stat]).to_pandas()
        wide = long.pivot(index=["layer", "head"], columns="metric", values=stat)
        wide = wide.reindex(columns=names)
        wide.columns.name = None
        return wide

    def top_heads(self, metric: str, k: int = 5) -> list[dict]:
        """The ``k`` heads with the highest mean for ``metric`` (labels 1-based)."""
        if metric not in self.metrics:
            raise RunStoreError(f"metric {metric!r} is not in this run; it has {', '.join(self.metrics)}.")
        rows = self.heads(metric).to_pylist()
        rows = [{**r, "label": head_label(r["layer"], r["head"])} for r in rows if r["count"] > 0]  # labels of older runs too
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
    version = manifest.get("format_version", 1)
    if not isinstance(version, int) or version > STORE_FORMAT:
        raise RunStoreError(f"{manifest_path} says store format {version!r}; this headlens reads formats 1 to "
                            f"{STORE_FORMAT}. Open the run with the newer headlens that wrote it, or upgrade headlens.")
    run = Run(path, manifest)
    if not run.complete and not allow_incomplete:
        raise RunStoreError(
            f"run {path} is {manifest.get('status')!r}, not complete (it was interrupted or is still running). "
            f"Pass allow_incomplete=True to read what it finished ({_committed_note(run)}; on the command line: "
            f"headlens runs show {path} --allow-incomplete, or headlens sql --all)."
        )
    return run
