"""Figure 8: headlens at every sequence length against plain SDPA inference (the fused path).

For each length T in 32, 128, 256, 512 tokens, a gold CoNLL-U corpus of about ``tokens`` tokens
is written whose sentences are UD English EWT dev sentences joined until they hold close to T
tokens (word ids renumbered; each joined sentence's root attached to the first one's as
``parataxis``, so every sentence keeps one root and gold arcs). Then, interleaved, median of
``repeats`` rounds each:

- headlens: ``headlens.run`` through the API with the "default" analyses (surface, roles,
  categories, features, patterns): reading, annotation (gold), encoding, batching, the forward
  passes with the metrics, the store and the finalizers (role tests), on a model loaded once
  before the rounds (``preloaded``: no interpreter start, no model load);
- plain: the tokenizer on the same sentences' texts in the same batches (headlens's own
  ``plan_batches`` grouping), padded, then the forward pass of the same model loaded with
  ``attn_implementation="sdpa"``.

``BENCH default_vs_sdpa_T<T>`` is plain time over headlens time (a throughput ratio). The same for a
randomly initialised 12-layer x 12-head BERT-base shape at T=512 (``_12x12``), and
``syntax_vs_sdpa_T128``: the syntax analysis, whose dependency-head accuracy reads full rows (the
argmax of each word row), at T=128. ``rss_default_vs_sdpa_T512``: peak RSS of a fresh process
running the headlens side over that of a fresh process running the plain side (``child.py``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from contextlib import contextmanager

DEFAULT_ANALYSES = ("surface", "roles", "categories", "features", "patterns")
LENGTHS = (32, 128, 256, 512)


def _sentences(path: str) -> list:
    """The UD file's word tuples, read by headlens's own CoNLL-U reader."""
    from headlens.corpus import CorpusSpec
    from headlens.corpus.reader import Corpus

    return [s.words for s in Corpus(CorpusSpec(path, format="conllu")) if getattr(s, "words", None)]


def _join(group: list) -> str:
    """One CoNLL-U sentence from several: heads offset, later roots attached to the first as parataxis."""
    from headlens.corpus.types import ROOT

    lines, offset, root = [], 0, None
    for words in group:
        for i, w in enumerate(words):
            if w.head == ROOT and root is None:
                root, head, rel = offset + i + 1, 0, w.deprel
            elif w.head == ROOT or w.head is None:
                head, rel = root or 0, "parataxis"
            else:
                head, rel = w.head + offset + 1, w.deprel
            lines.append("\t".join([str(offset + i + 1), w.form, "_", w.upos or "_", w.xpos or "_", "_", str(head),
                                    rel or "_", "_", "_"]))
        offset += len(words)
    text = " ".join(line.split("\t")[1] for line in lines)  # every form joined with a space
    return f"# text = {text}\n" + "\n".join(lines) + "\n\n"


def write_length_corpus(ud_path: str, tokenizer, length: int, tokens: int, directory: str) -> str:
    """A CoNLL-U file of sentences of close to ``length`` tokens (specials included), ``tokens`` in all."""
    sentences = _sentences(ud_path)
    sizes = [len(tokenizer(" ".join(w.form for w in words), add_special_tokens=False)["input_ids"]) for words in sentences]
    budget = length - 2  # [CLS] ... [SEP]
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"ud-T{length}.conllu")
    written, i = 0, 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < tokens:
            group, size = [], 0
            for _ in range(len(sentences)):  # greedy: skip what does not fit, stop when close
                j = i % len(sentences)
                i += 1
                if sizes[j] <= budget - size:
                    group.append(sentences[j])
                    size += sizes[j] + 1  # joined with a space: about one token more, or none
                if size >= budget * 0.93:
                    break
            fh.write(_join(group))
            written += size + 2
    return path


@contextmanager
def preloaded(lm):
    """``headlens.run`` uses ``lm`` instead of loading the model (the rounds time no model load)."""
    import headlens.pipeline as pipeline

    load = pipeline.load_model
    pipeline.load_model = lambda *a, **k: lm
    try:
        yield
    finally:
        pipeline.load_model = load


def random_base_model(tokenizer_dir: str, directory: str) -> str:
    """A randomly initialised BERT-base shape (12 layers x 12 heads, hidden 768) with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                 intermediate_size=3072, max_position_embeddings=512))
    path = os.path.join(directory, "bert-base-random")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def ratio(args, lm, corpus: str, analyses: tuple[str, ...], repeats: int, tmp: str, log) -> tuple[float, dict]:
    """Plain over headlens time (median of interleaved rounds) on ``corpus``, and the raw times."""
    import headlens
    import torch
    from benchutil import headlens_batches, interleaved, synchronize
    from headlens.corpus import CorpusSpec
    from headlens.analyses.registry import resolve
    from headlens.runner import Engine
    from transformers import AutoModel

    spec = CorpusSpec(corpus, format="conllu")
    cfg = headlens.RunConfig(analyses=analyses)
    batches = headlens_batches(lm, Engine(lm, resolve(cfg.analyses, options=cfg.options)), spec)
    texts = [[e.sentence.text for e in b.items] for b in batches]
    n = sum(len(t) for t in texts)
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa", dtype=lm.dtype).eval().to(lm.device)
    tokenizer = lm.tokenizer

    def plain_side():
        with torch.inference_mode():
            for group in texts:
                enc = tokenizer(group, padding=True, truncation=True, max_length=lm.max_tokens, return_tensors="pt")
                plain(**{k: v.to(lm.device) for k, v in enc.items()})
        synchronize(args.device)

    def headlens_side():
        run = headlens.run(out=os.path.join(tmp, "lengths-run"), corpus=spec, analyses=analyses, overwrite=True,
                           progress=False, threads=args.threads, device=args.device, dtype=args.dtype, long="truncate")
        assert run.manifest["counts"]["analysed"] == n, "headlens analysed other sentences than the plain side"
        return run

    with preloaded(lm):
        log(f"lengths: {os.path.basename(corpus)}: {n} sentences in {len(texts)} batches; warming up")
        headlens_side()
        plain_side()
        times, results = interleaved({"headlens": headlens_side, "plain": plain_side}, repeats)
    paths = results["headlens"].manifest.get("attention", {})
    info = {"sentences": n, "batches": len(texts), "headlens_seconds": times["headlens"], "plain_seconds": times["plain"],
            "path": paths.get("path"), "full_rows": sorted(m for m, p in paths.get("metrics", {}).items() if p != "fused"),
            "batches_by_path": paths.get("batches")}  # auto: how many batches took the eager maps (runner/cost.py)
    return statistics.median(times["plain"]) / statistics.median(times["headlens"]), info


def rss_child(kind: str, corpus: str, model: str | None, args, analyses: tuple[str, ...] = ()) -> float:
    """Peak RSS (MiB) of a fresh process running one side on ``corpus`` (child.py)."""
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py"), kind,
           "--corpus", corpus, "--limit", "0", "--threads", str(args.threads), "--device", args.device, "--dtype", args.dtype]
    if model:
        cmd += ["--model", model]
    if analyses:
        cmd += ["--analyses", ",".join(analyses)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])["vm_hwm_mib"]  # since exec: not the parent's peak
