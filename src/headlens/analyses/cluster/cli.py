"""``headlens cluster RUN``: a 2-D map of the heads (JS distance, metric MDS) labelled by behaviour."""

from __future__ import annotations

from .options import ClusterSettings


def add(sub) -> None:
    p = sub.add_parser("cluster", help="2-D map of heads from JS distances (metric MDS), labelled by behaviour")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="a run directory made with --analyses cluster")
    ClusterSettings.add_arguments(p)  # --seed, --n-perm, --max-iter, --name


def _cmd(args) -> int:
    from .stats import cluster_heads, save_cluster
    from ...store import layout, open_run
    from ...heads import layer_label
    from ...units import format_p

    run = open_run(args.run)
    result = cluster_heads(run, ClusterSettings.from_args(args))
    path = save_cluster(run, result)
    s = result.summary
    lc = s["layer_clustering"]
    print(f"head map: JS divergence summed over {s['tokens']} tokens; metric MDS to 2-D (stress-1 {s['stress1']:.3f})")
    print(f"heads of one layer cluster: within/between-layer distance ratio {lc['within_between_ratio']:.3f} "
          f"(shuffled layers: {lc['null_mean']:.3f}; permutation p = {format_p(lc['p'], 3)}, {lc['n_perm']} permutations)")
    print("behaviours: " + ", ".join(f"{b} {n}" for b, n in s["behaviours"].items()) +
          "  (" + ", ".join(f"{k} > {v}" for k, v in s["thresholds"].items()) + ")")
    rows = result.heads.to_pylist()
    layers = max(r["layer"] for r in rows) + 1
    for layer in range(layers):
        cells = [r for r in rows if r["layer"] == layer]
        print(f"  {layer_label(layer):>3}: " + " ".join(f"{r['label']}:{r['behaviour']}({r['x']:+.2f},{r['y']:+.2f})" for r in cells))
    print(f"tables: {path}/ (heads with x, y and behaviour; distances; {layout.PARAMS})")
    return 0
