"""``headlens attribution RUN``: per layer, the self vs context share of each method, and the agreement between
methods (mean Spearman rho of their rolled-out rows), with bootstrap intervals."""

from __future__ import annotations

from ...heads import layer_label
from .options import AttributionSettings


def add(sub) -> None:
    p = sub.add_parser("attribution", help="token attribution across layers: self share and agreement between methods")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="a run directory made with --analyses attribution")
    AttributionSettings.add_arguments(p)  # --alpha, --correction (over method pairs x statistics x layers), ...


def _cell(r: dict) -> str:
    return f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def _cmd(args) -> int:
    from ...store import layout, open_run
    from .names import METHOD_TITLES
    from .stats import attribution, save_attribution

    run = open_run(args.run)
    settings = AttributionSettings.from_args(args)
    result = attribution(run, settings)
    path = save_attribution(run, result)
    layers = [r for r in result["layers"].to_pylist() if r["stat"] == "self"]
    methods = list(dict.fromkeys(r["method"] for r in layers))
    print(f"self share (mean over sentences of the mean diagonal of the rolled-out map; context = 1 - self), "
          f"{int(settings.ci * 100)}% bootstrap CI over sentences:")
    print(f"{'layer':<6}" + "".join(f"{m:<24}" for m in methods))
    for layer in sorted({r["layer"] for r in layers}):
        print(f"{layer_label(layer):<6}" + "".join(f"{_cell(r):<24}" for m in methods for r in layers
                                          if r["method"] == m and r["layer"] == layer))
    agree = result["agreement"].to_pylist()
    pairs = list(dict.fromkeys((r["a"], r["b"]) for r in agree))
    print("\nagreement (mean over sentences of the mean Spearman rho between the methods' rows):")
    print(f"{'layer':<6}" + "".join(f"{a + '~' + b:<24}" for a, b in pairs))
    for layer in sorted({r["layer"] for r in agree}):
        print(f"{layer_label(layer):<6}" + "".join(f"{_cell(r):<24}" for a, b in pairs for r in agree
                                          if (r["a"], r["b"]) == (a, b) and r["layer"] == layer))
    print("\nmethods: " + "; ".join(f"{m} = {METHOD_TITLES[m]}" for m in methods))
    f = result["family"]
    print(f"paired t-tests between methods per statistic and layer: {f['n_rejected']} of {f['size']} reject "
          f"({f['method']}, alpha {settings.alpha})")
    print(f"tables: {path}/ (layers, agreement, methods .parquet; {layout.PARAMS})")
    return 0
