"""``headlens compare BEFORE AFTER``: paired tests of every shared metric between two runs of one corpus."""

from __future__ import annotations

from .margins import describe
from .options import ChangeSettings


def add_test_options(p) -> None:
    """The paired tests' flags (generated from ChangeSettings: --alpha, --correction, --test, --min-n, ...)
    and --top; shared by compare, categories and compare-models."""
    ChangeSettings.add_arguments(p)
    p.add_argument("--top", type=int, default=8, help="changed heads listed per metric")


def add(sub) -> None:
    p = sub.add_parser("compare", help="paired before/after tests of every metric two runs of one corpus share")
    p.set_defaults(func=_cmd)
    p.add_argument("before", help="run directory, e.g. runs/base")
    p.add_argument("after", help="run directory of the same corpus, e.g. runs/cola")
    p.add_argument("--metrics", help="comma-separated metrics (default: every metric both runs have)")
    p.add_argument("--force", action="store_true", help="compare even if the corpora or metric settings differ")
    p.add_argument("--name", help="output directory under AFTER/compare/ (default: vs-<BEFORE's name>)")
    add_test_options(p)


def settings_from(args) -> ChangeSettings:
    return ChangeSettings.from_args(args)


def print_changes(changes, top: int) -> None:
    from .changes import verdict_counts

    s = changes.settings
    print(f"paired t and {s.distribution_free} (after - before), {s.correction} across each family, alpha {s.alpha}; "
          f"changed: both reject and |delta| > margin; equivalent: TOST within the margin")
    print(describe(s))
    for level in ("layers", "heads"):
        table = changes.heads if level == "heads" else changes.layers
        found = [r for r in table.to_pylist() if r["changed"]]
        tested = changes.families[level]["t"]["size"]
        counts = verdict_counts(table)
        print(f"\n{level}: {counts['changed']} of {tested} tested changed, {counts['equivalent']} equivalent, "
              f"{counts['inconclusive']} inconclusive")
        for metric in dict.fromkeys(r["metric"] for r in found):
            mine = sorted((r for r in found if r["metric"] == metric), key=lambda r: -abs(r["effect"] or 0))
            listed = ", ".join(f"{r['label']} {'+' if r['delta'] > 0 else ''}{r['delta']:.4f} (d={r['effect']:.2f})"
                               for r in mine[:top] if r["effect"] is not None)
            more = f" (+{len(mine) - top})" if len(mine) > top else ""
            print(f"  {metric:<24} up {sum(r['direction'] == 'up' for r in mine):>3} down "
                  f"{sum(r['direction'] == 'down' for r in mine):>3}  {listed}{more}")


def _cmd(args) -> int:
    from .stats import compare_runs, save_compare
    from ...store import layout, open_run

    before, after = open_run(args.before), open_run(args.after)
    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    changes, params = compare_runs(before, after, settings_from(args), force=args.force, metrics=metrics)
    for problem in params["forced_despite"]:
        print(f"warning (--force): {problem}")
    print(f"{params['sentences_paired']} sentences paired, {len(params['metrics'])} metrics")
    print_changes(changes, args.top)
    path = save_compare(after, changes, params, args.name)
    print(f"\ntables: {path}/ (heads, layers .parquet; {layout.PARAMS})")
    return 0
