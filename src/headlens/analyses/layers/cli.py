"""``headlens layers RUN``: per-layer probes with control tasks, the structural probe and context
sensitivity, from the samples of a ``--analyses layers`` run."""

from __future__ import annotations

from .options import LayersSettings


def add(sub) -> None:
    p = sub.add_parser("layers", help="per-layer probes (with control tasks), parse-tree geometry, context sensitivity")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="a run directory made with --analyses layers")
    LayersSettings.add_arguments(p)


def _cmd(args) -> int:
    from ...store import open_run
    from .stats import analyse, save

    run = open_run(args.run)
    result = analyse(run, LayersSettings.from_args(args))
    path = save(run, result)
    s = result.summary
    print(f"layers: {s['words']} words of {s['sentences']} sampled sentences ({s['test_sentences']} held out), "
          f"{s['layers']} layers (0 = embeddings)")
    for task, why in s["skipped"].items():
        print(f"  {task}: skipped: {why}")
    for task, table in result.tables.items():
        info = s["probes"].get(task, {})
        extra = f"  (majority class {info['majority_accuracy']:.3f})" if "majority_accuracy" in info else ""
        print(f"{task}:{extra}")
        for row in table.to_pylist():
            print("  layer {layer}: ".format(**row) + "  ".join(
                f"{k} {row[k]:.3f} [{row[k + '_low']:.3f}, {row[k + '_high']:.3f}]"
                for k in row if f"{k}_low" in row))
    print(f"tables: {path}/")
    return 0
