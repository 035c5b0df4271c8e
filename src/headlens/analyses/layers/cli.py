"""``headlens layers RUN``: per-layer probes with control tasks, the structural probe and context
sensitivity, from the samples of a ``--analyses layers`` run; ``headlens layers compare RUN_A
RUN_B``: linear CKA between the layers of two runs, and the probe accuracy deltas per layer."""

from __future__ import annotations

from .options import LayersSettings


def add(sub) -> None:
    p = sub.add_parser("layers", help="per-layer probes (with control tasks), parse-tree geometry, context sensitivity; "
                                      "`layers compare RUN_A RUN_B`: CKA between two runs' layers")
    p.set_defaults(func=_cmd)
    p.add_argument("run", nargs="+", metavar="RUN", help="a run directory made with --analyses layers, or: compare RUN_A RUN_B")
    LayersSettings.add_arguments(p)


def _cmd(args) -> int:
    from ...errors import ConfigError
    from ...store import open_run

    if args.run[0] == "compare":
        if len(args.run) != 3:
            raise ConfigError(f"headlens layers compare takes two runs (RUN_A RUN_B), got {len(args.run) - 1}.")
        return _compare(open_run(args.run[1]), open_run(args.run[2]), LayersSettings.from_args(args))
    if len(args.run) != 1:
        raise ConfigError(f"headlens layers takes one run (or: compare RUN_A RUN_B), got {len(args.run)}: {args.run}.")
    return _analyse(open_run(args.run[0]), LayersSettings.from_args(args))


def _compare(run_a, run_b, settings) -> int:
    from ...store.outputs import write_outputs
    from .compare import compare

    tables, summary = compare(run_a, run_b, settings)
    path = write_outputs(run_a, "layers", f"compare-{settings.name}", tables, summary)
    print(f"linear CKA over {summary['words']} shared words ({run_a.path} vs {run_b.path}):")
    for row in tables["cka"].to_pylist():
        if row["layer_a"] == row["layer_b"] or summary["layers_a"] != summary["layers_b"]:
            print(f"  layer {row['layer_a']} vs {row['layer_b']}: {row['cka']:.3f}")
    probes = summary.get("probes", {})
    for task, why in probes.get("skipped", {}).items():
        print(f"  {task}: skipped: {why}")
    if "probes" in tables:
        print(f"probe accuracy, B - A, paired bootstrap over {probes['test_sentences']} held-out sentences "
              f"(q: {probes['correction']}):")
        for r in tables["probes"].to_pylist():
            print(f"  {r['task']} layer {r['layer']}: {r['accuracy_a']:.3f} -> {r['accuracy_b']:.3f}  delta "
                  f"{r['delta']:+.3f} [{r['delta_low']:+.3f}, {r['delta_high']:+.3f}]  p {r['p']:.3g}  q {r['q']:.3g}")
    print(f"tables: {path}/")
    return 0


def _analyse(run, settings) -> int:
    from .stats import SCATTER, analyse, save

    result = analyse(run, settings)
    path = save(run, result)
    s = result.summary
    print(f"layers: {s['words']} words of {s['sentences']} sampled sentences ({s['test_sentences']} held out), "
          f"{s['layers']} layers (0 = embeddings)")
    for task, why in s["skipped"].items():
        print(f"  {task}: skipped: {why}")
    for task, table in result.tables.items():
        if task in SCATTER:
            continue
        info = s["probes"].get(task, {})
        extra = f"  (majority class {info['majority_accuracy']:.3f})" if "majority_accuracy" in info else ""
        print(f"{task}:{extra}")
        for row in table.to_pylist():
            cells = [f"{k} {row[k]:.3f} [{row[k + '_low']:.3f}, {row[k + '_high']:.3f}]" for k in row if f"{k}_low" in row]
            cells = cells or [f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)]
            print(f"  layer {row['layer']}: " + "  ".join(cells))
    print(f"PCA of {s['pca_points']} sampled words per layer (the report's scatter): tables pca, pca_points")
    print(f"tables: {path}/")
    return 0
