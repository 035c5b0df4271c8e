"""``headlens sql QUERY``: SQL over the runs catalog (tables runs, scores, heads; see docs/catalog.md)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime

FORMATS = ("table", "csv", "json")


def add_root(p) -> None:
    p.add_argument("--root", help="runs root holding catalog.duckdb (default: $HEADLENS_RUNS, else runs)")
    p.add_argument("--all", action="store_true", help="include incomplete runs (failed, interrupted, running)")


def add(sub) -> None:
    p = sub.add_parser("sql", help="query every registered run with SQL (tables: runs, scores, heads)")
    p.set_defaults(func=_cmd_sql)
    p.add_argument("query", help="e.g. \"SELECT run, label, mean FROM heads WHERE metric = 'prev' ORDER BY mean DESC LIMIT 5\"")
    p.add_argument("--format", default="table", choices=FORMATS, help="output format (default: table)")
    add_root(p)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, (list, tuple)):
        return ",".join(_cell(x) for x in v)
    return str(v)


def render(columns: list[str], rows: list[tuple], fmt: str = "table", out=None) -> None:
    """Print rows as an aligned text table, CSV or JSON (one object per row, in a list)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([dict(zip(columns, r)) for r in rows], out, default=str, indent=1)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[_cell(v) for v in r] for r in rows])
    else:
        cells = [[_cell(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), file=out)
        print("  ".join("-" * w for w in widths), file=out)
        for r in cells:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip(), file=out)
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=out)


def _cmd_sql(args) -> int:
    from ..store.catalog import Catalog

    columns, rows = Catalog(args.root).sql(args.query, include_incomplete=args.all)
    render(columns, rows, args.format)
    return 0
