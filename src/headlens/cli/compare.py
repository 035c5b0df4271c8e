"""``headlens compare BEFORE AFTER``: paired tests of every shared metric between two runs of one corpus."""

from __future__ import annotations

from ..digits import column_ref


def add_test_options(p) -> None:
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--correction", default="fdr_bh", help="fdr_bh (default), holm, bonferroni or none")
    p.add_argument("--test", default="wilcoxon", help="distribution-free test that must also reject: wilcoxon, sign or none")
    p.add_argument("--min-n", type=int, default=10, help="fewer paired sentences: 'not enough data'")
    p.add_argument("--top", type=int, default=8, help="changed heads listed per metric")


def add(sub) -> None:
    p = sub.add_parser("compare", help="paired before/after tests of every metric two runs of one corpus share")
    p.set_defaults(func=_cmd)
    p.add_argument("before", help="run directory, e.g. runs/base")
    p.add_argument("after", help="run directory of the same corpus, e.g. runs/cola")
    p.add_argument("--metrics", help="comma-separated metrics (default: every metric both runs have)")
    p.add_argument("--force", action="store_true", help="compare even if the corpora or metric settings differ")
    p.add_argument("--name", help="output directory under AFTER/compare/ (default: vs-<BEFORE's name>)")
    add_test_options(p)

    m = sub.add_parser("compare-models", help="two models with one tokenizer on the same batches: map similarity "
                                              "per head (cosine) and paired metric changes; no map is stored")
    m.set_defaults(func=_cmd_models)
    m.add_argument("model_a", help="model directory or hub id (e.g. the base model)")
    m.add_argument("model_b", help="model directory with the same tokenizer (e.g. models/M-cola)")
    m.add_argument("--corpus", required=True, help="corpus file (text, CoNLL-U, TSV or JSONL)")
    m.add_argument("--format", default="auto", choices=("auto", "text", "conllu", "tsv", "jsonl"))
    m.add_argument("--text-column", type=column_ref, default=0, help="TSV: index or header name of the text")
    m.add_argument("--text-b-column", type=column_ref, help="TSV: column of the second sentence of a pair")
    m.add_argument("--label-column", type=column_ref, help="TSV: column of the label")
    m.add_argument("--text-field", default="text", help="JSONL: field of the text")
    m.add_argument("--text-b-field", help="JSONL: field of the second sentence")
    m.add_argument("--limit", type=int, help="stop after this many corpus items")
    m.add_argument("--out", required=True, help="output directory to create")
    m.add_argument("--analyses", default="surface", help="metrics compared besides the map similarity (default: surface)")
    m.add_argument("--annotator", default="auto", choices=("auto", "gold", "spacy", "regex"))
    m.add_argument("--word-aggregation", default="clark", choices=("clark", "first", "mean"))
    m.add_argument("--long", default="skip", choices=("skip", "truncate"), help="sentences over the model's limit")
    m.add_argument("--max-tokens", type=int, default=4096, help="token budget of one padded batch (both models' maps of a batch are held)")
    m.add_argument("--device", default="cpu")
    m.add_argument("--threads", type=int)
    m.add_argument("--quiet", action="store_true")
    add_test_options(m)


def settings_from(args):
    from ..analyses.changes import ChangeSettings

    return ChangeSettings(alpha=args.alpha, correction=args.correction, distribution_free=args.test, min_n=args.min_n)


def print_changes(changes, top: int) -> None:
    s = changes.settings
    print(f"paired t and {s.distribution_free} (after - before), {s.correction} across each family, alpha {s.alpha}")
    for level in ("layers", "heads"):
        rows = changes.heads.to_pylist() if level == "heads" else changes.layers.to_pylist()
        found = [r for r in rows if r["changed"]]
        tested = changes.families[level]["t"]["size"]
        print(f"\n{level}: {len(found)} of {tested} tested changed")
        for metric in dict.fromkeys(r["metric"] for r in found):
            mine = sorted((r for r in found if r["metric"] == metric), key=lambda r: -abs(r["effect"] or 0))
            listed = ", ".join(f"{r['label']} {'+' if r['delta'] > 0 else ''}{r['delta']:.4f} (d={r['effect']:.2f})"
                               for r in mine[:top] if r["effect"] is not None)
            more = f" (+{len(mine) - top})" if len(mine) > top else ""
            print(f"  {metric:<24} up {sum(r['direction'] == 'up' for r in mine):>3} down "
                  f"{sum(r['direction'] == 'down' for r in mine):>3}  {listed}{more}")


def _cmd(args) -> int:
    from ..analyses.compare import compare_runs, save_compare
    from ..store import open_run

    before, after = open_run(args.before), open_run(args.after)
    metrics = [m for m in args.metrics.split(",") if m] if args.metrics else None
    changes, params = compare_runs(before, after, settings_from(args), force=args.force, metrics=metrics)
    for problem in params["forced_despite"]:
        print(f"warning (--force): {problem}")
    print(f"{params['sentences_paired']} sentences paired, {len(params['metrics'])} metrics")
    print_changes(changes, args.top)
    path = save_compare(after, changes, params, args.name)
    print(f"\ntables: {path}/ (heads, layers .parquet; params.json)")
    return 0


def _cmd_models(args) -> int:
    from ..config import RunConfig
    from ..corpus.reader import CorpusSpec
    from ..modelcompare import compare_models

    spec = CorpusSpec(path=args.corpus, format=args.format, text_column=args.text_column,
                      text_b_column=args.text_b_column, label_column=args.label_column, text_field=args.text_field,
                      text_b_field=args.text_b_field, limit=args.limit)
    cfg = RunConfig(out=args.out, model=args.model_a, corpus=spec, analyses=tuple(a for a in args.analyses.split(",") if a),
                    annotator=args.annotator, word_aggregation=args.word_aggregation, long=args.long,
                    max_tokens=args.max_tokens, device=args.device, threads=args.threads, progress=not args.quiet)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    params = compare_models(args.model_a, args.model_b, args.out, cfg, settings_from(args))
    print(f"{params['sentences']} sentences ({params['skipped']} skipped); cosine similarity of the maps per layer "
          "(mean over heads and sentences):")
    import pyarrow.parquet as pq

    for r in pq.read_table(f"{params['out']}/cosine_layers.parquet").to_pylist():
        print(f"  L{r['layer'] + 1}  {r['cosine']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]")
    for level in ("layers", "heads"):
        fam = params["families"][level]["t"]
        print(f"{level}: {sum(v[f'{level}_up'] + v[f'{level}_down'] for v in params['changed'].values())} of "
              f"{fam['size']} metric x {level[:-1]} tests changed")
    print(f"tables: {params['out']}/ (cosine_heads, cosine_layers, heads, layers .parquet; params.json)")
    return 0
