"""A probe result stored inside a run (``RUN/probe/<name>/``: ``uas.parquet`` and the full result in
``params.json``), so that the run's report shows it without ``--probe FILE`` (``headlens demo`` does this)."""

from __future__ import annotations

import pyarrow as pa

from ...store.outputs import write_outputs

ANALYSIS = "probe"


def uas_table(result: dict) -> pa.Table:
    """One row per parser probe: UAS, and its difference from right-branching (delta, CI, p) where trained."""
    rows = []
    for name, uas in result["uas"].items():
        vs = (result.get("versus_right_branching") or {}).get(name) or {}
        rows.append({"probe": name, "uas": float(uas), "delta": vs.get("delta"), "ci_low": vs.get("ci_low"),
                     "ci_high": vs.get("ci_high"), "p": vs.get("p")})
    return pa.Table.from_pylist(rows, schema=pa.schema([("probe", pa.string()), ("uas", pa.float64()), ("delta", pa.float64()),
                                                        ("ci_low", pa.float64()), ("ci_high", pa.float64()), ("p", pa.float64())]))


def save_probe(run, result: dict, name: str = "default") -> str:
    """Write ``result`` (``ProbeResult.to_dict()``) under ``RUN/probe/<name>/``; returns the directory."""
    return write_outputs(run, ANALYSIS, name, {"uas": uas_table(result)}, result)
