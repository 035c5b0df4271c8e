"""``headlens compare-models A B``: two models with one tokenizer on the same batches."""

from __future__ import annotations

from ..analyses.compare.cli import add_test_options, settings_from
from ..digits import column_ref
from .run import MODEL_HELP


def add(sub) -> None:
    m = sub.add_parser("compare-models", help="two models with one tokenizer on the same batches: map similarity "
                                              "per head (cosine) and paired metric changes; no map is stored")
    m.set_defaults(func=_cmd_models)
    m.add_argument("model_a", help="the first model (e.g. the base model): " + MODEL_HELP)
    m.add_argument("model_b", help="the second model, with the same tokenizer (e.g. models/M-cola); the same forms")
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

    from ..heads import layer_label
    from ..store import layout

    for r in pq.read_table(f"{params['out']}/{layout.table_file('cosine_layers')}").to_pylist():
        print(f"  {layer_label(r['layer'])}  {r['cosine']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]")
    for level in ("layers", "heads"):
        fam = params["families"][level]["t"]
        print(f"{level}: {sum(v[f'{level}_up'] + v[f'{level}_down'] for v in params['changed'].values())} of "
              f"{fam['size']} metric x {level[:-1]} tests changed")
    print(f"tables: {params['out']}/ (cosine_heads, cosine_layers, heads, layers .parquet; {layout.PARAMS})")
    return 0
