"""``headlens categories BASE TUNED...``: content- vs function-word preference per layer across tasks."""

from __future__ import annotations

from ..compare.cli import add_test_options, settings_from


def add(sub) -> None:
    p = sub.add_parser("categories", help="lexical-category bias per layer across fine-tuning tasks (Jang et al. 2024)")
    p.set_defaults(func=_cmd)
    p.add_argument("runs", nargs="+", help="runs made with --analyses categories: the base run first (unless --base "
                                           "is given), then the fine-tuned runs")
    p.add_argument("--base", action="append", default=[],
                   help="base run(s); each fine-tuned run is paired with the base run of its corpus (repeatable)")
    p.add_argument("--out", help="directory for layers.parquet and params.json (default: print only)")
    add_test_options(p)


def _cmd(args) -> int:
    from .stats import task_bias
    from ...errors import ConfigError
    from ...heads import layer_label
    from ...store import layout, open_run
    from ...store.atomic import atomic_write_json, atomic_write_parquet
    from ...store.publish import publish_dir

    names = list(args.runs) if args.base else list(args.runs[1:])
    bases = [open_run(p) for p in (args.base or args.runs[:1])]
    if not names:
        raise ConfigError("give at least one fine-tuned run after the base run.")
    table, params = task_bias(bases, [open_run(p) for p in names], settings_from(args))
    rows = table.to_pylist()
    print("cat_pref = attention a content word receives - attention a function word receives (layer = head mean)")
    print(params["margins"])
    print(f"{'layer':<6} {'task':<28} {'base':>9} {'tuned':>9} {'delta':>9}  {'change':<12}  bias (q < {args.alpha})")
    for r in sorted(rows, key=lambda r: (r["layer"], r["task"])):
        print(f"{layer_label(r['layer']):<6} {r['task'][-28:]:<28} {r['pref_base']:>9.5f} {r['pref_tuned']:>9.5f} "
              f"{r['delta']:>+9.5f}  {r['change'] or r['verdict']:<12}  {r['bias'] or '-'}")
    if len(params["tasks"]) > 1:
        print(f"task-agnostic (same in all {len(params['tasks'])} tasks):")
        for layer, d in params["task_agnostic"].items():
            print(f"  {layer}: bias {d['bias'] or '-'}; change {d['change'] or '-'}")
    else:
        print("one fine-tuned run: nothing is claimed across tasks (give two or more to compare tasks)")
    if args.out:
        def write(tmp: str) -> None:
            atomic_write_parquet(f"{tmp}/{layout.table_file('layers')}", table)
            atomic_write_json(f"{tmp}/{layout.PARAMS}", params)

        print(f"tables: {publish_dir(args.out, write, 'categories summary')}/")
    return 0
