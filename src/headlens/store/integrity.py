"""Checksums of a run's committed files, and their verification.

Every committed file of a run is recorded with its size and sha256 (``{"size", "sha256",
"mtime_ns"}``, keyed by its path relative to the run directory, ``/``-separated):

- ``progress.json["files"]``: the files of every committed part (``scores/``, ``sentences/``,
  ``plan/`` and ``collect/<name>/`` part files), written in the same atomic rewrite that commits
  the part (see ``store/resume.py``);
- ``manifest.json["files"]``: written when a run ends (complete, failed or interrupted): the
  committed parts, ``heads.parquet`` and the ``maps/`` of a complete run;
- ``<analysis>/<name>/params.json["files"]``: the tables of a derived output directory
  (``analyses/outputs.py``).

A run written before checksums existed has none of these; it still opens, and
``headlens runs verify`` says that nothing can be checked. ``check`` compares what a run
directory holds with its index and reports every missing, truncated, altered, extra or
uncommitted file by name.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from ..errors import RunStoreError
from . import layout
from .layout import COLLECT, HEADS, MANIFEST, MAPS, PARAMS, PART, PART_DIRS, PROGRESS, TABLES

INTEGRITY = "integrity"  # the manifest key that says the run records checksums
INTEGRITY_NOTE = f"size and sha256 of every committed file: {PROGRESS} and {MANIFEST} 'files'"


def digest(path: str) -> dict:
    """Size, sha256 and modification time (ns) of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
        st = os.fstat(fh.fileno())
    return {"size": st.st_size, "sha256": h.hexdigest(), "mtime_ns": st.st_mtime_ns}


def record(root: str, relpaths, known: dict[str, dict] | None = None) -> dict[str, dict]:
    """The index entries of ``relpaths`` (relative to ``root``). ``known``: entries computed as the files
    were written (``store/npz.py``), taken as they are for a file whose size and mtime still match;
    the others are read."""
    known = known or {}
    return {rel: _known(root, rel, known.get(rel)) or digest(layout.join(root, rel)) for rel in relpaths}


def _known(root: str, rel: str, entry: dict | None) -> dict | None:
    if entry is None:
        return None
    st = os.stat(layout.join(root, rel))
    return entry if (st.st_size, st.st_mtime_ns) == (entry["size"], entry["mtime_ns"]) else None


def part_files(run_dir: str, part: int) -> list[str]:
    """The relative paths of the files part ``part`` has in ``run_dir`` (collector parts included)."""
    found = [layout.part_file(d, part) for d in PART_DIRS]
    collect = os.path.join(run_dir, COLLECT)
    if os.path.isdir(collect):
        found += [layout.collect_file(c, part) for c in sorted(os.listdir(collect))]
    return [f for f in found if os.path.exists(layout.join(run_dir, f))]


def _json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RunStoreError(f"cannot read {path}: {e}. The run directory is damaged; start the run again with "
                            "--overwrite.") from e


def read_progress(run_dir: str) -> dict | None:
    return _json(os.path.join(run_dir, PROGRESS))


def committed_index(run_dir: str, manifest: dict) -> dict[str, dict] | None:
    """The recorded files of the run: the manifest's when the run ended, else progress.json's; None
    for a run written before checksums existed."""
    if manifest.get("status") != "running" and "files" in manifest:
        return manifest["files"]
    progress = read_progress(run_dir)
    if progress is not None and "files" in progress:
        return progress["files"]
    if progress is None and INTEGRITY in manifest:
        return {}  # stopped before its first part was committed
    return None


def committed_parts(run_dir: str, manifest: dict) -> list[str]:
    """The sorted relative paths of the committed ``sentences`` and ``scores`` parts, whether or not
    checksums were recorded (an older run: the parts progress.json counts, or every part file of a
    complete run)."""
    index = committed_index(run_dir, manifest)
    if index is not None:
        return sorted(f for f in index if f.split("/")[0] in TABLES)
    progress = read_progress(run_dir)
    limit = (progress or {}).get("parts", 0) if manifest.get("status") != "complete" else None
    found = []
    for table in TABLES:
        d = os.path.join(run_dir, table)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            m = PART.match(name)
            if m and m.group(2) == "parquet" and (limit is None or int(m.group(1)) < limit):
                found.append(f"{table}/{name}")
    return found


@dataclass
class Problem:
    file: str  # relative to the run directory
    kind: str  # missing, truncated, altered, extra, uncommitted
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Report:
    run: str
    checked: int = 0  # files whose checksum matched
    problems: list[Problem] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # what has no recorded checksum (older runs)

    @property
    def damaged(self) -> list[Problem]:
        """Problems that make data missing or wrong (extra and uncommitted files are not read)."""
        return [p for p in self.problems if p.kind in ("missing", "truncated", "altered")]

    @property
    def ok(self) -> bool:
        """No damaged and no extra file (files left by a stopped run, which --resume drops, are fine)."""
        return all(p.kind == "uncommitted" for p in self.problems)


def compare(root: str, rel: str, want: dict, quick: bool = False) -> Problem | None:
    """The problem of one recorded file, or None. ``quick``: a file whose size and mtime match is
    trusted without reading it (the catalog's check before each query)."""
    path = layout.join(root, rel)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Problem(rel, "missing", f"recorded {want['size']} bytes")
    if st.st_size < want["size"]:
        return Problem(rel, "truncated", f"{st.st_size} bytes, recorded {want['size']}")
    if quick and st.st_size == want["size"] and st.st_mtime_ns == want.get("mtime_ns"):
        return None
    got = digest(path)
    if got["size"] != want["size"] or got["sha256"] != want["sha256"]:
        return Problem(rel, "altered", f"{got['size']} bytes with sha256 {got['sha256'][:16]}..., recorded "
                                       f"{want['size']} bytes with sha256 {want['sha256'][:16]}...")
    return None


def check_files(root: str, index: dict[str, dict], only=None, quick: bool = False) -> list[Problem]:
    """Problems of the recorded files (those whose path starts with one of ``only``, if given)."""
    out = []
    for rel in sorted(index):
        if only is None or rel.startswith(tuple(only)):
            p = compare(root, rel, index[rel], quick)
            if p is not None:
                out.append(p)
    return out


def raise_damaged(run_dir: str, problems: list[Problem]) -> None:
    if problems:
        listed = "; ".join(f"{os.path.join(run_dir, p.file)} is {p.kind} ({p.detail})" for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise RunStoreError(f"run {run_dir} is damaged: {listed}{more}. Nothing of it was read. `headlens runs verify "
                            f"{run_dir}` lists every problem; `headlens run ... --out {run_dir} --resume` recomputes "
                            "damaged parts, or restore the run from a copy.")


def _present(run_dir: str) -> list[str]:
    """Part files, heads.parquet, maps and temporary files of interrupted writes present in ``run_dir``
    (relative paths)."""
    found = [HEADS] if os.path.exists(os.path.join(run_dir, HEADS)) else []
    dirs = [*PART_DIRS, MAPS]
    collect = os.path.join(run_dir, COLLECT)
    if os.path.isdir(collect):
        dirs += [layout.collect_dir(c) for c in sorted(os.listdir(collect))]
    for d in dirs:
        full = layout.join(run_dir, d)
        if os.path.isdir(full):
            found += [f"{d}/{n}" for n in sorted(os.listdir(full)) if layout.TMP in n or not n.startswith(".")]
    return found


def derived_dirs(run_dir: str) -> list[str]:
    """Relative paths of the derived output directories (``<analysis>/<name>/`` with a params.json)."""
    out = []
    for analysis in sorted(os.listdir(run_dir)):
        d = os.path.join(run_dir, analysis)
        if analysis in layout.STORE_DIRS or not os.path.isdir(d):
            continue
        out += [f"{analysis}/{n}" for n in sorted(os.listdir(d)) if os.path.exists(os.path.join(d, n, PARAMS))]
    return out


def check(run_dir: str) -> Report:
    """Every missing, truncated, altered, extra or uncommitted file of the run in ``run_dir``."""
    manifest = _json(os.path.join(run_dir, MANIFEST))
    if manifest is None:
        raise RunStoreError(f"{run_dir} is not a headlens run: it has no {MANIFEST}.")
    report = Report(run_dir)
    index = committed_index(run_dir, manifest)
    if index is None:
        report.unchecked.append(f"the run's parts and {HEADS} (written before headlens recorded checksums)")
    else:
        report.problems += check_files(run_dir, index)
        report.checked += len(index) - len(report.problems)
        running = manifest.get("status") != "complete"
        for rel in _present(run_dir):
            if rel not in index:
                late = layout.TMP in rel or running and (layout.part_number(rel) is not None or rel.startswith(MAPS + "/"))
                report.problems.append(Problem(rel, "uncommitted" if late else "extra",
                                               "written after the last committed part; --resume drops it" if late
                                               else "not recorded in the run's index; readers ignore it"))
    for d in derived_dirs(run_dir):
        params = _json(os.path.join(layout.join(run_dir, d), PARAMS)) or {}
        if "files" not in params:
            report.unchecked.append(f"{d}/ (written before headlens recorded checksums)")
            continue
        found = check_files(layout.join(run_dir, d), params["files"])
        report.problems += [Problem(f"{d}/{p.file}", p.kind, p.detail) for p in found]
        report.checked += len(params["files"]) - len(found)
    return report
