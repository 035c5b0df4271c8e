"""``headlens demo``: every analysis the embedded gold corpus and model allow, in one run, then the
layer-wise probes, the attention probes, the report and a few findings read from what was stored.

``make demo`` calls it. The sizes (``SIZES``) keep it under 5 minutes on 2 shared CPU cores
(README, "The demo"); ``--limit N`` analyses the first N sentences only (the tests use it).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

# what the demo runs: every analysis that needs no second model, run or fine-tuning (compare, ablation do)
ANALYSES = ("surface", "roles", "syntax", "categories", "patterns", "cluster", "decomposition", "layers", "attribution")


@dataclass(frozen=True)
class Sizes:
    """The demo's sizes: what it analyses of the 500 embedded sentences, and how much each costly step gets."""

    sentences: int | None = 250  # the first 250 of the 500 embedded sentences (None: all)
    layers_words: int = 2000  # words whose vectors (every layer) the layers analysis keeps
    layers_epochs: int = 5  # structural probe epochs: 2000 words leave it undertrained anyway (UUAS 0.16 at 5, 0.18 at 30)
    probe_train: float = 0.8  # share of the sentences the attention probes train on (they are scored on the rest)
    attribution: tuple[str, ...] = ("rollout", "normroll", "alti")
    flow_cap: int = 0  # attention flow for the stored sentences: none (the report draws no flow)


SIZES = Sizes()


def add(sub) -> None:
    p = sub.add_parser("demo", help="run every analysis the embedded corpus and model allow, write the report and "
                                    "print the main findings (what `make demo` does)")
    p.set_defaults(func=_cmd)
    p.add_argument("--out", default=os.path.join("runs", "demo"), help="the run directory to (re)create (default: runs/demo)")
    p.add_argument("--limit", type=int, help=f"analyse the first N of the 500 embedded sentences (default {SIZES.sentences})")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _cmd(args) -> int:
    from ..errors import ConfigError

    if args.limit is not None and args.limit < 20:
        raise ConfigError(f"headlens demo --limit {args.limit}: give at least 20 sentences (the probes train on 80% "
                          "and are scored on the rest), or leave it out for all 500.")
    sizes = SIZES if args.limit is None else Sizes(**{**SIZES.__dict__, "sentences": args.limit})
    timings, path = demo(args.out, sizes, threads=args.threads, progress=not args.quiet)
    from ..store import layout
    from .findings import findings

    print("findings (read from the stored tables):")
    for line in findings(path):
        print(f"  {line}")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"report: {os.path.join(path, layout.REPORT)}")
    return 0


def demo(out: str, sizes: Sizes = SIZES, threads: int | None = None, progress: bool = True) -> tuple[dict[str, float], str]:
    """Run the demo into ``out``; returns (seconds per step, the run directory)."""
    from ..analyses.layers.options import LayersSettings
    from ..analyses.layers.stats import analyse, save
    from ..config import RunConfig, default_corpus_path
    from ..corpus.reader import CorpusSpec
    from ..pipeline import run
    from ..report import write_report

    timings: dict[str, float] = {}
    start = time.perf_counter()
    corpus = CorpusSpec(default_corpus_path(), format="conllu", limit=sizes.sentences)
    options = {"layers": {"max_words": sizes.layers_words}, "attribution": {"methods": sizes.attribution, "flow_cap": sizes.flow_cap}}
    result = run(RunConfig(out=out, corpus=corpus, analyses=ANALYSES, options=options, overwrite=True, progress=progress,
                           threads=threads))
    timings["run"] = time.perf_counter() - start
    start = time.perf_counter()
    save(result, analyse(result, LayersSettings(epochs=sizes.layers_epochs)))
    timings["layers probes"] = time.perf_counter() - start
    start = time.perf_counter()
    _probe(result, int(result.manifest["counts"]["analysed"]), sizes)
    timings["attention probes"] = time.perf_counter() - start
    start = time.perf_counter()
    write_report(result)
    timings["report"] = time.perf_counter() - start
    return timings, result.path


def _probe(run, sentences: int, sizes: Sizes) -> None:
    """Clark et al.'s and Coenen et al.'s probes, trained on the first sentences of the corpus and scored
    on the rest, stored in the run (``RUN/probe/default/``)."""
    from ..analyses.probe.results import save_probe
    from ..analyses.probe.run import probe
    from ..config import default_corpus_path
    from ..corpus.reader import CorpusSpec
    from ..models import load_model

    train = max(1, int(sentences * sizes.probe_train))
    path = default_corpus_path()
    result = probe(load_model(None), CorpusSpec(path, format="conllu", limit=train),
                   CorpusSpec(path, format="conllu", skip=train, limit=sentences - train))
    save_probe(run, result.to_dict())
