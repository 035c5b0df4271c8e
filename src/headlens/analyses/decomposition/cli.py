"""``headlens mixing RUN`` and ``headlens ff-pairs RUN``: the decomposition of a ``--analyses decomposition`` run."""

from __future__ import annotations

GROUPS = ("all", "word", "punct", "cls", "sep")


def add(sub) -> None:
    p = sub.add_parser("mixing", help="mixing ratio per layer for every decomposition map, by token type")
    p.set_defaults(func=_cmd_mixing)
    p.add_argument("run", help="a run directory made with --analyses decomposition or decomposition_ff")
    p.add_argument("--frequency", metavar="corpus|FILE",
                   help="also Spearman rho of mixing ratio with token frequency rank: counted in the run's corpus, "
                        "or from FILE ('token count' per line)")
    q = sub.add_parser("ff-pairs", help="the token pairs the feed-forward block amplifies most, typed")
    q.set_defaults(func=_cmd_pairs)
    q.add_argument("run", help="a run directory made with --analyses decomposition_ff")
    q.add_argument("--top", type=int, default=50, help="pairs listed (default 50)")


def _sums(path: str, top: int = 0):
    """(run, LayerSums, top pairs) of the run at ``path``: one pass over its decomposition parts."""
    from ...store import open_run
    from .stats import layer_sums

    run = open_run(path)
    return (run, *layer_sums(run, top))


def _cmd_mixing(args) -> int:
    from . import stats as dec
    from ...heads import layer_label
    from ...units import format_fraction
    from ...decompose.names import ATTENTION_MAPS, MAPS

    run, sums, _ = _sums(args.run)
    ff = dec.has_ff(sums)
    shown = MAPS if ff else ATTENTION_MAPS
    mix = dec.mixing(sums).to_pylist()
    cell = {(r["layer"], r["map"], r["group"]): r["mean"] for r in mix}
    layers = sorted({r["layer"] for r in mix if r["layer"] >= 0})
    print("mixing ratio (a fraction), mean over all tokens; layer 'all' = over tokens and layers")
    print("layer  " + " ".join(f"{m:>10}" for m in shown))
    for lay in [*layers, -1]:
        name = "all" if lay == -1 else layer_label(lay)
        print(f"{name:<6} " + " ".join(f"{format_fraction(cell.get((lay, m, 'all'), float('nan'))):>10}" for m in shown))
    print("\nby token type (over layers), fractions")
    print("group  " + " ".join(f"{m:>10}" for m in shown))
    for g in GROUPS:
        print(f"{g:<6} " + " ".join(f"{format_fraction(cell.get((-1, m, g), float('nan'))):>10}" for m in shown))
    ref = dec.KOBAYASHI_2021
    print("\nKobayashi et al. 2021 (BERT-base, 12% masked): " + ", ".join(f"{k} {format_fraction(v / 100)}" for k, v in ref.items()))
    ours = [cell.get((-1, m, "all"), float("nan")) for m in ref]
    print(f"same ordering here: {all(a > b for a, b in zip(ours, ours[1:]))}")
    if not ff:
        print("\nthe feed-forward maps (ATBFF, ATBFFRES, ATBFFRESLN), the contextualization change and the FF pairs "
              "were not computed: run with --analyses decomposition_ff for them")
    else:
        _print_change(dec, sums, layers)
    errs = dec.completeness(sums)
    print("\ncompleteness, largest relative error: " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    if args.frequency:
        counts = None if args.frequency == "corpus" else dec.read_counts(args.frequency)
        from ...decompose import tables

        freq = dec.frequency(tables.read(run, ("tokens",))["tokens"], counts).to_pylist()
        print("\nSpearman rho(mixing ratio, frequency rank) over word tokens, all layers pooled")
        print("  " + ", ".join(f"{r['map']} {r['spearman']:+.3f}" for r in freq if r["layer"] == -1))
    return 0


def _print_change(dec, sums, layers) -> None:
    print("\ncontextualization change (1 - Spearman rho), mean over sentences")
    changes = dec.change(sums).to_pylist()
    comps = list(dict.fromkeys(r["component"] for r in changes))
    print("layer  " + " ".join(f"{c:>10}" for c in comps))
    by = {(r["layer"], r["component"]): r["mean"] for r in changes}
    for lay in layers:
        print(f"{lay + 1:<6} " + " ".join(f"{by.get((lay, c), float('nan')):>10.3f}" for c in comps))


def _cmd_pairs(args) -> int:
    from . import stats as dec
    from ...errors import ConfigError

    if args.top < 1:
        raise ConfigError(f"--top must be an int in the range [1, inf). Got {args.top} instead.")
    _, sums, pairs = _sums(args.run, args.top)
    if not dec.has_ff(sums):
        raise ConfigError(f"{args.run} was made without the feed-forward maps (--analyses decomposition computes the "
                          "attention block's); run it with --analyses decomposition_ff for the FF pairs.")
    amp = dec.ffamp(sums)
    totals: dict[str, list[float]] = {}
    for r in amp.to_pylist():
        acc = totals.setdefault(r["pair_type"], [0.0, 0])
        acc[0] += r["mean_log2"] * r["pairs"]
        acc[1] += r["pairs"]
    print("FF amplification log2(share in ATBFF / share in ATB), mean over all pairs of a type:")
    for k, (s, n) in sorted(totals.items(), key=lambda kv: -kv[1][0] / max(kv[1][1], 1)):
        print(f"  {k:<9} {s / n:+.3f}  ({n} pairs)")
    top = pairs.to_pylist()
    kinds: dict[str, int] = {}
    print(f"\ntop {len(top)} pairs (sentence, layer 1-based, query -> source, type, log2 amplification):")
    for r in top:
        kinds[r["pair_type"]] = kinds.get(r["pair_type"], 0) + 1
        print(f"  s{r['sentence_id']:<5} L{r['layer'] + 1:<2} {r['query_token']:>14} -> {r['source_token']:<14} "
              f"{r['pair_type']:<9} {r['amplification']:+.2f}")
    print("types among them: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
    return 0
