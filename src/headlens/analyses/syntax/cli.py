"""``headlens syntax RUN``: the best head per dependency relation against the best fixed-offset baseline."""

from __future__ import annotations

from ...units import format_fraction, format_p
from .options import SyntaxSettings


def _f(x, signed: bool = False) -> str:
    return f"{format_fraction(x, signed=signed):>6}"


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
    print("accuracies are fractions of the relation's arcs (docs/conventions.md)")
    print(f"{'relation':<10} {'arcs':>6}  {'best head':<12} {'hits':>6} {'accuracy [95% CI]':<22} {'baseline':<14} "
          f"{'difference [CI]':<27} {'q':>8}  flags")
    for r in result.best.to_pylist():
        verdict = " beats baseline" if r["beats_baseline"] else ""
        flags = "" if r.get("status", "ok") == "ok" else f"not estimable ({r['status']})" if r["q"] is None else r["status"]
        print(f"{r['relation']:<10} {r['arcs']:>6}  {r['label'] + ' ' + r['direction']:<12} {r.get('hits', ''):>6} "
              f"{_f(r['accuracy'])} [{_f(r['ci_low'])}, {_f(r['ci_high'])}]   "
              f"{_f(r['baseline_accuracy'])} ({r['baseline_offset']:+d})   "
              f"{_f(r['delta'], True)} [{_f(r['delta_low'], True)}, {_f(r['delta_high'], True)}]   "
              f"{format_p(r['q']):>8}{verdict}  {flags}")
    beats = sum(1 for r in result.heads.to_pylist() if r["beats_baseline"])
    print(f"{beats} (head, direction, relation) cells beat their relation's baseline after correction")
    print(f"tables: {path}/ (heads, best, baselines .parquet; {layout.PARAMS})")
    return 0
