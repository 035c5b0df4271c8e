"""The stored maps of a few chosen sentences of a run, for the report's head view and model view.

The views draw only what the run stored: ``headlens run`` keeps the maps of the sentences
``--store-maps`` names (by default sentences 0, 1 and 2) in ``maps/sentence-<id>.npz``: the token
maps and their q.k logits, the word maps of the run's word aggregation and the units' labels
(``runner.maps``); a decomposition run adds the value norms (``sentence-<id>-decomposition.npz``).
A compared run's maps of the same sentences are the before side of the before/after view. The
report loads no model and reads no corpus. Maps travel as float16 (assets/views.js reads them).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError, RunStoreError
from ..store import Run, layout
from ..render.encode import float16_b64

MAP_KEYS = ("attention", "tokens", "token_unit", "word_attention", "unit_labels", "unit_kinds")
OPTIONAL_KEYS = ("logits",)  # q.k logits: runs made before they were stored have none
HOW_TO_STORE = ("the run stores maps of the sentences `headlens run --store-maps IDS` names (by default 0,1,2); "
                "run it again with the sentences you want, or leave the head view out with --sentences 0")


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


def map_path(run: Run, sentence_id: int) -> str:
    return layout.map_path(run.path, sentence_id)


def stored_map_ids(run: Run) -> list[int]:
    """The sentences whose whole maps the run stored (not the windows of long ones), sorted."""
    return layout.map_ids(run.path)


def _stored(run: Run, sentence_id: int) -> dict[str, np.ndarray]:
    path = map_path(run, sentence_id)
    if not os.path.exists(path):
        raise RunStoreError(f"{run.path} has no stored maps of sentence {sentence_id} ({path}): {HOW_TO_STORE}.")
    with np.load(path, allow_pickle=False) as z:
        if "word_attention" not in z.files:
            raise RunStoreError(f"{path} holds token maps only (made by an older headlens): {HOW_TO_STORE}.")
        return {k: z[k] for k in (*MAP_KEYS, *OPTIONAL_KEYS) if k in z.files}


def _norms(run: Run, sentence_id: int) -> np.ndarray | None:
    """[L, H, T]: the value norms ||f(x_j)|| (Kobayashi et al. 2020) the decomposition stored for the sentence, or None."""
    path = layout.map_path(run.path, sentence_id, kind=layout.DECOMPOSITION_MAPS)
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as z:
        return z["fnorm"] if "fnorm" in z.files else None


def _maps(stored: dict[str, np.ndarray], source: str, logits: bool = True) -> dict:
    """The maps of one sentence as the page reads them: word maps [L, H, U, U]; at token level the q.k
    logits [L, H, T, T] where stored (and ``logits``), as each row's maximum and the row less it (float16
    keeps the large weights exact to 1e-3; the page takes the token maps as their softmax), else the
    token maps themselves, left out where they equal the word maps (one token per word)."""
    words, tokens = stored["word_attention"], stored["attention"]
    out = {"units": stored["unit_labels"].tolist(), "kinds": stored["unit_kinds"].tolist(),
           "tokens": stored["tokens"].tolist(), "token_unit": stored["token_unit"].tolist(),
           "shape": list(words.shape), "attn": float16_b64(words), "source": source,
           "token_shape": list(tokens.shape), "token_attn": None}
    if logits and "logits" in stored:
        top = stored["logits"].max(-1, keepdims=True)
        out["logits"], out["logits_max"] = float16_b64(stored["logits"] - top), float16_b64(top)
    elif not (tokens.shape == words.shape and np.allclose(tokens, words, atol=1e-6)):
        out["token_attn"] = float16_b64(tokens)
    return out


def _before(other: Run | None, sentence_id: int, text: str) -> dict | None:
    """The compared run's maps of the same sentence (same id, same text), None when it stored none."""
    if other is None or sentence_id not in stored_map_ids(other):
        return None
    record = next((r for r in other.sentences().to_pylist() if r["sentence_id"] == sentence_id), None)
    if record is None or record["text"] != text:
        return None
    return _maps(_stored(other, sentence_id), f"{other.path}: {layout.map_file(layout.map_name(sentence_id))}", logits=False)


def head_view(run: Run, ids: list[int], before: Run | None = None) -> dict:
    """The view data of sentences ``ids``: units, tokens and float16 word-level [L, H, U, U] and token-level
    [L, H, T, T] maps, the q.k logits and value norms where the run stored them, and ``before``'s maps of
    the same sentences (a compared run) where it stored them."""
    if not ids:
        return {"sentences": []}
    m = run.manifest
    records = {r["sentence_id"]: r for r in run.sentences().to_pylist()}
    out = []
    for sid in ids:
        r = records[sid]
        entry = {"id": sid, "sent_id": r.get("sent_id"), "text": r["text"], "text_b": r.get("text_b"),
                 **_maps(_stored(run, sid), f"stored maps ({layout.map_file(layout.map_name(sid))})")}
        norms = _norms(run, sid)
        if norms is not None:
            entry["norms_shape"], entry["norms"] = list(norms.shape), float16_b64(norms)
        entry["before"] = _before(before, sid, r["text"])
        out.append(entry)
    aggregation = m.get("word_aggregation") or m.get("config", {}).get("word_aggregation", "clark")
    return {"sentences": out, "aggregation": aggregation, "model": m["model"]["name"],
            "before_model": before.manifest["model"]["name"] if before is not None else None}
