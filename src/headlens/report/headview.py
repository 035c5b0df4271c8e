"""Word-level attention maps of a few chosen sentences of a run, for the report's head view.

The head view draws only what the run stored: ``headlens run`` keeps the maps of the sentences
``--store-maps`` names (by default sentences 0, 1 and 2) in ``maps/sentence-<id>.npz``, with the
word maps of the run's word aggregation and the units' labels (``runner.maps``). The report
loads no model and reads no corpus. Maps travel as float16.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError, RunStoreError
from ..store import Run, layout
from ..render.encode import float16_b64

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
    folder = os.path.join(run.path, layout.MAPS)
    if not os.path.isdir(folder):
        return []
    return sorted(i for i in map(layout.map_sentence, os.listdir(folder)) if i is not None)


def _stored(run: Run, sentence_id: int) -> dict[str, np.ndarray]:
    path = map_path(run, sentence_id)
    if not os.path.exists(path):
        raise RunStoreError(f"{run.path} has no stored maps of sentence {sentence_id} ({path}): {HOW_TO_STORE}.")
    with np.load(path, allow_pickle=False) as z:
        if "word_attention" not in z.files:
            raise RunStoreError(f"{path} holds token maps only (made by an older headlens): {HOW_TO_STORE}.")
        return {k: z[k] for k in ("word_attention", "unit_labels", "unit_kinds")}


def head_view(run: Run, ids: list[int]) -> dict:
    """The head-view data of sentences ``ids``: units and float16 word-level maps [L, H, U, U]."""
    if not ids:
        return {"sentences": []}
    m = run.manifest
    records = {r["sentence_id"]: r for r in run.sentences().to_pylist()}
    out = []
    for sid in ids:
        stored = _stored(run, sid)
        words = stored["word_attention"]
        r = records[sid]
        out.append({"id": sid, "sent_id": r.get("sent_id"), "text": r["text"], "text_b": r.get("text_b"),
                    "units": stored["unit_labels"].tolist(), "kinds": stored["unit_kinds"].tolist(),
                    "shape": list(words.shape), "source": f"stored maps ({layout.map_file(layout.map_name(sid))})",
                    "attn": float16_b64(words)})
    aggregation = m.get("word_aggregation") or m.get("config", {}).get("word_aggregation", "clark")
    return {"sentences": out, "aggregation": aggregation, "model": m["model"]["name"]}
