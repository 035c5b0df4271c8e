"""``headlens patterns RUN``: attention pattern types per layer (Kovaleva et al. 2019), optionally with other thresholds."""

from __future__ import annotations


def add(sub) -> None:
    p = sub.add_parser("patterns", help="pattern types (vertical, diagonal, ...) per layer of a run made with "
                                        "--analyses patterns; --set reclassifies the stored features")
    p.set_defaults(func=_cmd)
    p.add_argument("run", help="run directory made with --analyses patterns")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="change a threshold (repeatable), e.g. block_min_entropy=0.5; see docs/patterns.md")
    p.add_argument("--name", help="output directory under RUN/patterns/ (default: 'default', or 'custom' with --set)")


def _changes(items: list[str]) -> dict[str, float] | None:
    from ...errors import ConfigError

    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"--set {item!r} is not NAME=NUMBER (e.g. block_min_entropy=0.5).")
    return out


def _cmd(args) -> int:
    from .stats import save_patterns
    from ...store.outputs import read_outputs
    from .metrics import TYPES
    from ...heads import layer_label
    from ...store import layout, open_run

    run = open_run(args.run)
    changes = _changes(args.set)
    name = args.name or ("custom" if changes else "default")
    save_patterns(run, changes, name)
    tables, params = read_outputs(run, "patterns", name)
    print(f"{params['sentences']} sentences, {params['maps']} maps (sentence x head); thresholds: "
          + ", ".join(f"{k}={v}" for k, v in params["thresholds"].items()))
    print("share of maps of each type (layer: mean over heads and sentences); heads: number of heads whose majority type it is")
    print(f"{'layer':<6}" + "".join(f"{t:>18}" for t in TYPES))
    for r in tables["layers"].to_pylist():
        label = "all" if r["layer"] < 0 else layer_label(r["layer"])
        print(f"{label:<6}" + "".join(f"{r[t]:>11.3f} ({r['heads_' + t]:>3})" for t in TYPES))
    print(f"tables: {layout.join(run.path, layout.output_dir('patterns', name))}/ (layers, heads .parquet; {layout.PARAMS})")
    return 0
