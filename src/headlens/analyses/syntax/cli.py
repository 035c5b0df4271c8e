"""``headlens syntax RUN``: the best head per dependency relation against the best fixed-offset baseline."""

from __future__ import annotations

from .options import SyntaxSettings


def add(sub) -> None:
    p = sub.add_parser("syntax", help="dependency-head accuracy per relation vs the best offset baseline, with tests")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="a run directory made with --analyses syntax")
    SyntaxSettings.add_arguments(p)  # --alpha, --correction (over relations x heads x directions), --min-n, --n-boot, ...


def _cmd(args) -> int:
    from .stats import dependency_accuracy, save_syntax
    from ...store import layout, open_run

    run = open_run(args.run)
    settings = SyntaxSettings.from_args(args)
    result = dependency_accuracy(run, settings)
    path = save_syntax(run, result)
    f = result.family
    print(f"dependency-head accuracy (word level, self and special tokens ignored); best of {{-3..+2}} offsets as the "
          f"baseline;\npaired bootstrap over sentences ({settings.n_boot} resamples), {f['method']} over {f['size']} "
          f"tests (relations x heads x directions), alpha {settings.alpha}")
    print(f"{'relation':<10} {'arcs':>6}  {'best head':<12} {'accuracy [95% CI]':<22} {'baseline':<14} "
          f"{'difference [CI]':<24} {'q':>8}")
    for r in result.best.to_pylist():
        q = "untested" if r["q"] is None else f"{r['q']:.2g}"
        verdict = " beats baseline" if r["beats_baseline"] else ""
        print(f"{r['relation']:<10} {r['arcs']:>6}  {r['label'] + ' ' + r['direction']:<12} "
              f"{100 * r['accuracy']:5.1f} [{100 * r['ci_low']:5.1f}, {100 * r['ci_high']:5.1f}]   "
              f"{100 * r['baseline_accuracy']:5.1f} ({r['baseline_offset']:+d})   "
              f"{100 * r['delta']:+5.1f} [{100 * r['delta_low']:+5.1f}, {100 * r['delta_high']:+5.1f}]   {q:>8}{verdict}")
    beats = sum(1 for r in result.heads.to_pylist() if r["beats_baseline"])
    print(f"{beats} (head, direction, relation) cells beat their relation's baseline after correction")
    print(f"tables: {path}/ (heads, best, baselines .parquet; {layout.PARAMS})")
    return 0
