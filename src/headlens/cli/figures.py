"""``headlens figures RUN --format svg|png|pdf --out DIR``: one publication figure per view of a run."""

from __future__ import annotations

from .report import add_view_options, build_options


def add(sub) -> None:
    p = sub.add_parser("figures", help="static figures (PNG, SVG or PDF) of the report's views, sized for papers")
    p.set_defaults(func=_cmd)
    add_view_options(p)
    p.add_argument("--format", default="svg", choices=("svg", "png", "pdf"))
    p.add_argument("--out", required=True, help="directory to write the figures into")
    p.add_argument("--dpi", type=int, default=300, help="resolution of PNG figures (default 300)")
    p.add_argument("--metrics", help="comma-separated metrics: every figure of a metric (heatmaps, comparisons) is "
                                     "drawn for these only (default: a few; with --all, every metric)")
    p.add_argument("--all", action="store_true", help="every figure of every view (default: a curated set of about 10)")
    p.add_argument("--heads", default="L1H1", help="heads drawn in the head view of each chosen sentence: head labels, "
                                                   "1-based (e.g. L3H7,L5H1; default L1H1)")


def _cmd(args) -> int:
    from ..heads import parse_heads
    from ..report import write_figures

    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    files = write_figures(args.run, args.out, fmt=args.format, dpi=args.dpi, metrics=metrics,
                          heads=parse_heads(args.heads, where="--heads"), curated=not args.all, **build_options(args))
    for f in files:
        print(f"{f.path}  ({f.view}; {f.panels} panel{'s' if f.panels != 1 else ''})")
    print(f"{len(files)} figures in {args.out}")
    return 0
