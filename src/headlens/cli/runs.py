"""``headlens runs list|show|register``: the runs catalog (see headlens.store.catalog)."""

from __future__ import annotations

import os

from .sql import FORMATS, add_root, render

HIGHLIGHT_K = 3


def add(sub) -> None:
    p = sub.add_parser("runs", help="list, show and register stored runs (the runs catalog)")
    verbs = p.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="every registered run: name, model, corpus, date, status, counts, analyses")
    ls.add_argument("--format", default="table", choices=FORMATS)
    add_root(ls)
    ls.set_defaults(func=_cmd_list)
    show = verbs.add_parser("show", help="a run's provenance and its top heads per metric")
    show.add_argument("run", help="run directory, e.g. runs/NAME")
    show.add_argument("--top", type=int, default=HIGHLIGHT_K, help="heads shown per metric (default 3)")
    show.set_defaults(func=_cmd_show)
    reg = verbs.add_parser("register", help="add a run directory (e.g. one copied from elsewhere) to a catalog")
    reg.add_argument("run", help="run directory")
    reg.add_argument("--root", help="runs root whose catalog.duckdb gets it (default: $HEADLENS_RUNS, else the run's parent)")
    reg.add_argument("--name", help="its name in the catalog (default: its path under the root, else its directory name)")
    reg.set_defaults(func=_cmd_register)


def _cmd_list(args) -> int:
    from ..store.catalog import Catalog

    query = ("SELECT name, model, corpus_path, created, status, analysed, skipped, analyses "
             "FROM runs ORDER BY created, name")
    columns, rows = Catalog(args.root).sql(query, include_incomplete=args.all)
    rows = [(n, m, os.path.basename(c or ""), d, s, a, k, an) for n, m, c, d, s, a, k, an in rows]
    columns = ["name", "model", "corpus", "date (UTC)", "status", "analysed", "skipped", "analyses"]
    render(columns, rows, args.format)
    return 0


def _cmd_show(args) -> int:
    from ..store import open_run

    run = open_run(args.run, allow_incomplete=True)
    m = run.manifest
    print(run.summary())
    print(f"  model sha256   {m['model'].get('weights_sha256')}")
    print(f"  corpus sha256  {m['corpus'].get('sha256')} ({m['corpus'].get('format')})")
    ann = m.get("annotator") or {}
    print(f"  annotator      {ann.get('name')} (scheme {ann.get('scheme')})")
    print(f"  analyses       {', '.join(m.get('analyses', []))}")
    print(f"  started        {m.get('started')}   finished {m.get('finished')}   seconds {m.get('seconds')}")
    if m.get("resumed"):
        print(f"  resumed        {len(m['resumed'])} time(s): " + ", ".join(r["at"] for r in m["resumed"]))
    if m.get("error"):
        print(f"  error          {m['error']}")
    print(f"  headlens       {(m.get('versions') or {}).get('headlens')}   torch {(m.get('versions') or {}).get('torch')}")
    if not run.complete:
        print(f"no head summary: the run is {m.get('status')!r} (continue it with: headlens run ... --out {args.run} --resume)")
        return 0
    print("top heads per metric (layer-head, 1-based; mean over sentences):")
    for metric in run.metrics:
        tops = ", ".join(f"{h['label']} {h['mean']:.3f}" for h in run.top_heads(metric, args.top))
        print(f"  {metric:<20} {tops}")
    return 0


def _cmd_register(args) -> int:
    from ..store.catalog import Catalog, runs_root

    catalog = Catalog(runs_root(args.root, args.run))
    name = catalog.register(args.run, args.name)
    print(f"registered {os.path.abspath(args.run)} as {name!r} in {catalog.path}")
    return 0
