"""``headlens figures RUN --format svg|png|pdf --out DIR``: one publication figure per view of a run."""

from __future__ import annotations

from .report import add_view_options, build_options


def _heads(text: str) -> list[tuple[int, int]]:
    from ..digits import ascii_int
    from ..errors import ConfigError

    out = []
    for part in (x for x in text.split(",") if x):
        layer, _, head = part.partition("-")
        a, b = ascii_int(layer, 9), ascii_int(head, 9)
        if a is None or b is None or a < 1 or b < 1:
            raise ConfigError(f"--heads takes 1-based LAYER-HEAD pairs such as 3-7,5-1; got {part!r}.")
        out.append((a - 1, b - 1))
    return out


def add(sub) -> None:
    p = sub.add_parser("figures", help="static figures (PNG, SVG or PDF) of the report's views, sized for papers")
    p.set_defaults(func=_cmd)
    add_view_options(p)
    p.add_argument("--format", default="svg", choices=("svg", "png", "pdf"))
    p.add_argument("--out", required=True, help="directory to write the figures into")
    p.add_argument("--dpi", type=int, default=300, help="resolution of PNG figures (default 300)")
    p.add_argument("--metrics", help="comma-separated metrics to draw heatmaps of (default: every metric)")
    p.add_argument("--heads", default="1-1", help="heads drawn in the head view of each chosen sentence, 1-based "
                                                  "LAYER-HEAD pairs (default 1-1)")


def _cmd(args) -> int:
    from ..report import write_figures

    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    files = write_figures(args.run, args.out, fmt=args.format, dpi=args.dpi, metrics=metrics, heads=_heads(args.heads),
                          **build_options(args))
    for f in files:
        print(f"{f.path}  ({f.view}; {f.panels} panel{'s' if f.panels != 1 else ''})")
    print(f"{len(files)} figures in {args.out}")
    return 0
