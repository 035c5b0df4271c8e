"""``headlens ablate``: remove heads or layers of a fine-tuned classifier and test the change on its dev set."""

from __future__ import annotations

from ...corpus.columns import COLUMNS_HELP, label_list as _labels
from ...heads import layer_label
from ...units import format_fraction, format_p
from .options import AblationStats


def add(sub) -> None:
    p = sub.add_parser("ablate", help="ablate heads / layers of a fine-tuned classifier (uniform, zero or mean) and "
                                      "test each change on its dev set (Kovaleva et al. 2019)")
    p.set_defaults(func=_cmd)
    p.add_argument("--model", required=True, help="a fine-tuned classifier directory (headlens finetune)")
    p.add_argument("--dev", required=True, help="labelled dev file (TSV or JSONL)")
    p.add_argument("--columns", required=True, help=COLUMNS_HELP)
    p.add_argument("--labels", help="comma-separated labels; must equal the classifier's (default: the classifier's)")
    p.add_argument("--format", default="auto", choices=("auto", "tsv", "jsonl"))
    p.add_argument("--heads", help="'all' or head labels, 1-based (e.g. L1H4,L6H12): one ablation per head")
    p.add_argument("--layers", help="'all' or layer labels, 1-based (e.g. L1,L4): one ablation per layer (all its heads)")
    p.add_argument("--mode", default="uniform", choices=("uniform", "zero", "mean"),
                   help="uniform attention over the non-padding tokens (default), zero output, or the dev-set mean output")
    p.add_argument("--out", required=True, help="output directory (never overwritten; --resume continues it)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out (same options)")
    p.add_argument("--batch-size", type=int, default=32, help="dev examples per batch")
    p.add_argument("--max-length", type=int, help="tokens per example (default: the fine-tuning max length, else 128)")
    p.add_argument("--max-tokens", type=int, default=8192, help="token budget of one pass of stacked ablated copies")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    AblationStats.add_arguments(p)  # --metrics, --alpha, --correction (across the sweep), --n-boot, --min-effect, --min-n, ...
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _pts(x) -> str:
    return f"{format_fraction(x, signed=True):>6}"


def _verdict(r) -> str:
    """changed / equivalent / inconclusive (sweeps saved before the TOST have none: shown as '')."""
    return r.get("verdict") or ""


def _flags(r) -> str:
    return "underpowered" if r["underpowered"] else ""


def print_summary(result) -> None:
    params, rows = result.params, result.table.to_pylist()
    base = params["base_scores"]
    print(f"{params['n']} dev examples, {len(params['ablations'])} ablations ({params['mode']}); unablated: accuracy "
          f"{base['accuracy']:.4f}  F1 {base['f1']:.4f}  MCC {base['mcc']:.4f}")
    det = params["detectable"]
    print(f"smallest detectable accuracy change: {format_fraction(det['accuracy_change'])} "
          f"({det['accuracy_changed_predictions']} predictions, all in one direction)")
    for metric in dict.fromkeys(r["metric"] for r in rows):
        mine = [r for r in rows if r["metric"] == metric]
        fam = params["families"][metric]
        print(f"\n{metric}: delta = ablated - base (a fraction); {fam['method']} across {fam['size']} ablations, "
              f"alpha {fam['alpha']}")
        layers = [r for r in mine if r["kind"] == "layer"]
        if layers:
            print(f"  {'layer':<6} {'delta':>6}  {'95% CI':<15} {'p':>8} {'q':>8}  {'decision':<8} {'verdict':<12} flags")
            for r in layers:
                print(f"  {r['label']:<6} {_pts(r['delta'])}  [{_pts(r['ci_low'])},{_pts(r['ci_high'])}] {format_p(r['p']):>8} "
                      f"{format_p(r['q']):>8}  {r['decision']:<8} {_verdict(r):<12} {_flags(r)}")
        heads = [r for r in mine if r["kind"] == "head"]
        if heads:
            n_heads = params["num_heads"]
            grid = {(r["layer"], r["head"]): r for r in heads}
            print("  heads (rows: layers, columns: heads 1..{}; + helps, - hurts, = equivalent, ? underpowered):"
                  .format(n_heads))
            for layer in sorted({r["layer"] for r in heads}):
                cells = []
                for h in range(n_heads):
                    r = grid.get((layer, h))
                    mark = "" if r is None else {"helps": "+", "hurts": "-"}.get(
                        r["decision"], "=" if _verdict(r) == "equivalent" else "?" if r["underpowered"] else " ")
                    cells.append("      " if r is None else f"{_pts(r['delta'])}{mark or ' '}")
                print(f"  {layer_label(layer):<4}" + "".join(cells))
            found = [r for r in heads if r["decision"] != "none"]
            for r in sorted(found, key=lambda r: -(r["delta"] or 0)):
                print(f"  {r['label']:<6} {r['decision']:<5} {_pts(r['delta'])} [{_pts(r['ci_low'])},{_pts(r['ci_high'])}] "
                      f"q {format_p(r['q'])}  {_flags(r)}")
        weak = sum(r["underpowered"] for r in mine)
        print(f"  helps {sum(r['decision'] == 'helps' for r in mine)}, hurts {sum(r['decision'] == 'hurts' for r in mine)}, "
              f"underpowered {weak} of {len(mine)}; verdicts: "
              + ", ".join(f"{v} {sum(_verdict(r) == v for r in mine)}" for v in ("changed", "equivalent", "inconclusive"))
              + f" (TOST margin {format_fraction(mine[0].get('margin') or 0)})")


def _cmd(args) -> int:
    from ...store.layout import PARAMS
    from .api import AblationConfig, ablate

    stats = AblationStats.from_args(args)
    cfg = AblationConfig(model=args.model, dev=args.dev, columns=args.columns, out=args.out, heads=args.heads,
                         layers=args.layers, mode=args.mode, labels=_labels(args.labels), format=args.format,
                         batch_size=args.batch_size, max_length=args.max_length, max_tokens=args.max_tokens,
                         device=args.device, stats=stats, resume=args.resume, threads=args.threads,
                         progress=not args.quiet)
    result = ablate(cfg)
    print_summary(result)
    print(f"\ntables: {result.out}/ablations.parquet (one row per ablation and metric), {PARAMS}, parts/ (predictions)")
    return 0
