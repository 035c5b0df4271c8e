"""``headlens runs list|show|register|verify``: the runs catalog (see headlens.store.catalog)."""

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
    show.add_argument("--allow-incomplete", action="store_true",
                      help="for a run that did not complete: top heads over the sentences of its committed parts")
    show.set_defaults(func=_cmd_show)
    verify = verbs.add_parser("verify", help="check every file of a run against its recorded size and sha256")
    verify.add_argument("run", help="run directory, e.g. runs/NAME")
    verify.set_defaults(func=_cmd_verify)
    reg = verbs.add_parser("register", help="add a run directory (e.g. one copied from elsewhere) to a catalog")
    reg.add_argument("run", help="run directory")
    reg.add_argument("--root", help="runs root whose catalog.duckdb gets it (default: $HEADLENS_RUNS, else the run's parent)")
    reg.add_argument("--name", help="its name in the catalog (default: its path under the root, else its directory name)")
    reg.set_defaults(func=_cmd_register)


def _cmd_list(args) -> int:
    from ..store.catalog import Catalog

    query = ("SELECT name, model, corpus_path, created, status, analysed, skipped, analyses, path "
             "FROM runs ORDER BY created, name")
    columns, rows = Catalog(args.root).sql(query, include_incomplete=args.all)
    rows = [(n, m, os.path.basename(c or ""), d, _state(s, p), a, k, an) for n, m, c, d, s, a, k, an, p in rows]
    columns = ["name", "model", "corpus", "date (UTC)", "status", "analysed", "skipped", "analyses"]
    render(columns, rows, args.format)
    return 0


def _state(status: str | None, path: str) -> str | None:
    """A run whose manifest says 'running' is 'killed' unless a live process holds its lock."""
    from ..store.lock import live

    return "killed" if status == "running" and not live(path) else status


def _cmd_show(args) -> int:
    from ..store import open_run
    from ..store.lock import holder, live
    from ..analyses.syntax.accuracy import arc_totals, relation_of

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
    if run.complete:
        tops = {metric: run.top_heads(metric, args.top) for metric in run.metrics}
    else:
        c = run.committed
        if m.get("status") == "running" and live(run.path):
            print(f"  state          live: process {holder(run.path)} is writing it; {c['parts']} parts "
                  f"({c['items']} corpus items) committed so far")
        else:
            state = "killed: its process is gone" if m.get("status") == "running" else f"{m.get('status')}"
            print(f"  state          {state}; {c['parts']} committed parts cover {c['items']} corpus items "
                  f"(continue it with: headlens run ... --out {args.run} --resume)")
        if not args.allow_incomplete:
            print(f"no head summary: the run is not complete (--allow-incomplete shows the top heads of its {c['items']} "
                  "committed items)")
            return 0
        tops = _committed_tops(run, args.top)
        print(f"over the {c['items']} corpus items of its {c['parts']} committed parts only:")
    print("top heads per metric (head labels L<layer>H<head>, 1-based; mean over sentences; dep_<rel>_<dir>: "
          "accuracy, the fraction of the relation's arcs, with hits/arcs)")
    totals = arc_totals(run) if any(relation_of(m) for m in tops) else {}
    for metric, heads in tops.items():
        print(f"  {metric:<20} {', '.join(_top(metric, h, totals) for h in heads)}")
    return 0


def _top(metric: str, h: dict, totals: dict) -> str:
    """One head of a metric's top list: its mean; a dep_ metric's accuracy with hits/arcs beside."""
    from ..analyses.syntax.accuracy import accuracy
    from ..units import format_fraction

    acc = accuracy(metric, h["mean"], h.get("count"), totals)
    if acc is None:
        return f"{h['label']} {h['mean']:.3f}"
    return f"{h['label']} {format_fraction(acc['accuracy'])} ({acc['hits']}/{acc['arcs']})"


def _committed_tops(run, k: int) -> dict[str, list[dict]]:
    """The ``k`` heads with the highest mean per metric over the committed scores of an incomplete run."""
    import pyarrow as pa

    from ..heads import head_label

    scores = run.scores()
    scores = scores.set_column(3, "metric", scores["metric"].cast(pa.string()))
    rows = scores.group_by(["metric", "layer", "head"]).aggregate([("value", "mean"), ("value", "count")]).to_pylist()
    tops: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: -r["value_mean"]):
        if len(tops.setdefault(r["metric"], [])) < k:
            tops[r["metric"]].append({"label": head_label(r["layer"], r["head"]), "mean": r["value_mean"],
                                          "count": r["value_count"]})
    return {metric: tops[metric] for metric in run.metrics if metric in tops}


def _cmd_verify(args) -> int:
    from ..errors import RunStoreError
    from ..store.integrity import check

    report = check(os.path.abspath(args.run))
    for p in report.problems:
        print(f"{os.path.join(args.run, p.file)}: {p.kind} ({p.detail})")
    for what in report.unchecked:
        print(f"not checked: {what}: no checksums recorded")
    n = len(report.problems)
    print(f"{report.checked} files match their recorded size and sha256; {n} problem{'' if n == 1 else 's'}")
    if not report.ok:
        bad = [p for p in report.problems if p.kind != "uncommitted"]
        raise RunStoreError(f"run {args.run} is damaged: {', '.join(f'{p.file} ({p.kind})' for p in bad)}. Resume it "
                            "(headlens run ... --resume recomputes damaged parts) or restore it from a copy.")
    return 0


def _cmd_register(args) -> int:
    from ..store.catalog import Catalog, runs_root

    catalog = Catalog(runs_root(args.root, args.run))
    name = catalog.register(args.run, args.name)
    print(f"registered {os.path.abspath(args.run)} as {name!r} in {catalog.path}")
    return 0
