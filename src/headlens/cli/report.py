"""``headlens report RUN``: one self-contained HTML file with every view of a run (opens offline)."""

from __future__ import annotations

import os


def add_view_options(p) -> None:
    """Options shared by ``report`` and ``figures``: what to compare with and which sentences to show."""
    p.add_argument("run", help="a run directory, e.g. runs/demo")
    p.add_argument("--compare", metavar="RUN", help="a run of the same corpus to compare with (as 'before'): its stored "
                                                    "comparison if there is one, else computed now")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--sentences", type=int, metavar="N",
                       help="head view of the first N analysed sentences, from the maps the run stored (default: every "
                            "sentence whose maps it stored, see `headlens run --store-maps`; 0: no head view)")
    which.add_argument("--sentence-ids", metavar="IDS", help="head view of these sentences: comma-separated sentence ids "
                                                             "(0-based) or CoNLL-U sent_ids")
    p.add_argument("--probe", action="append", default=[], metavar="JSON",
                   help="a `headlens probe --json` result to show with the syntax tables (repeatable)")
    p.add_argument("--ablation", action="append", default=[], metavar="DIR",
                   help="a `headlens ablate --out DIR` sweep to show with the run (repeatable)")


def build_options(args) -> dict:
    ids = [s for s in args.sentence_ids.split(",") if s] if args.sentence_ids else None
    return {"compare": args.compare, "sentences": args.sentences, "sentence_ids": ids, "probes": tuple(args.probe),
            "ablations": tuple(args.ablation)}


def add(sub) -> None:
    p = sub.add_parser("report", help="a self-contained HTML report of a run: provenance, per-head heatmaps, head "
                                      "view, roles, syntax, clustering, categories, comparisons, mixing ratios")
    p.set_defaults(func=_cmd)
    add_view_options(p)
    p.add_argument("--out", help="the HTML file to write (default: RUN/report.html)")
    p.add_argument("--title", help="the page title (default: 'headlens report: <run name>')")
    p.add_argument("--max-rows", type=int, default=3000, help="rows of each analysis table embedded (default 3000)")


def _cmd(args) -> int:
    from ..errors import ConfigError
    from ..report import write_report

    if args.max_rows < 1:
        raise ConfigError("--max-rows takes a positive number.")
    path, data = write_report(args.run, out=args.out, title=args.title, max_rows=args.max_rows, **build_options(args))
    size = os.path.getsize(path)
    shown = [name for name, items in data["sections"].items() if items]
    print(f"report: {path} ({size / 1e6:.2f} MB; {data['layers']} x {data['heads']} heads, {len(data['metrics'])} metrics, "
          f"{len(data['head_view'].get('sentences', []))} head-view sentences)")
    print(f"views: heads, {', '.join(shown) or 'no analysis outputs'}; {len(data['tables'])} tables")
    for note in data["notes"]:
        print(f"note: {note}")
    return 0
