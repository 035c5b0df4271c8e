"""``compare-models A B --corpus C``: both models on the same batches in one pass over the corpus.

Per batch, model A runs first and its per-layer maps are held (on the device, that batch only);
model B's hooks then compute, per sentence and head, the cosine similarity of the two maps
(Kovaleva et al. 2019) and both models' metrics. Only per-sentence numbers are kept; no map is
stored: each batch's numbers go to temporary files (``analyses/columns.py``'s RowSpill), from which
the tests read a block of columns at a time, so memory depends on heads and metrics, not on the
number of sentences. The models must share the tokenizer (same vocabulary, normalisation and special
tokens), since the batches and the alignment are built once for both.

Outputs (``--out DIR``, written whole or not at all): ``cosine_heads.parquet`` and
``cosine_layers.parquet`` (mean similarity over sentences with a bootstrap CI; per layer the
mean over heads), ``heads.parquet`` / ``layers.parquet`` (paired metric changes B - A, as
``headlens compare``) and ``params.json``.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack, closing

import numpy as np
import pyarrow as pa

from ..analyses.compare.changes import DECISION, ChangeSettings, paired_changes, settings_dict, summary, verdicts_of
from ..analyses.columns import ColumnFiles, PairedColumns, RowSpill
from ..analyses.compare.margins import describe
from ..config import RunConfig
from ..corpus.types import Skipped
from ..errors import ConfigError, ModelError
from ..heads import head_labels
from ..analyses.registry import resolve
from ..models import load_model
from ..runner import Engine
from ..runner.progress import make_progress
from ..runner.stream import FrontHalf
from ..stats import ci_method_used, mean_ci
from ..stats.poisson import POISSON
from ..store import layout
from ..store.atomic import atomic_write_json, atomic_write_parquet
from ..store.publish import check_new_dir, publish_dir
from .similarity import MapCosine, MapHolder

COSINE = "cosine"


def torch_dtype_name(dtype) -> str:
    """"float32" for torch.float32 (the name without the module)."""
    return str(dtype).rsplit(".", 1)[-1]


def tokenizer_signature(tokenizer) -> dict:
    """What decides the tokens and specials: the fast tokenizer's pipeline without length settings."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    for k in ("truncation", "padding"):
        spec.pop(k, None)
    return spec


def check_same_tokenizer(a, b) -> None:
    sa, sb = tokenizer_signature(a.tokenizer), tokenizer_signature(b.tokenizer)
    if sa != sb:
        parts = [k for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
        raise ModelError(
            f"{a.name} and {b.name} have different tokenizers (they differ in: {', '.join(parts)}); the same batches "
            "cannot be fed to both. Compare a model with its own fine-tuned checkpoints, or analyse each with "
            "`headlens run` and compare what the runs share.")
    if (a.num_layers, a.num_heads) != (b.num_layers, b.num_heads):
        raise ModelError(f"{a.name} has {a.num_layers} x {a.num_heads} heads and {b.name} {b.num_layers} x {b.num_heads}; "
                         "heads cannot be paired.")


def _score(cfg: RunConfig, front: FrontHalf, lm_a, lm_b, metrics, spills: tuple[RowSpill, RowSpill, RowSpill]) -> int:
    """Score both models batch by batch; each batch's values and map cosines go to ``spills`` (A, B,
    cosine), so that memory does not grow with the corpus. Returns the number of skipped items."""
    holder = MapHolder()
    cosine = MapCosine(holder, lm_a.num_layers)
    engine_a = Engine(lm_a, metrics, cfg.word_aggregation, [holder])
    engine_b = Engine(lm_b, metrics, cfg.word_aggregation, [cosine])
    skipped, analysed = 0, 0
    with closing(front.batches(lm_a.tokenizer, lm_a.max_tokens)) as batches, make_progress(cfg.progress) as progress:
        task = progress.add_task("compare-models", total=front.fingerprint[1])
        for item in batches:
            if isinstance(item, Skipped):
                skipped += 1
                progress.advance(task)
                continue
            batch = engine_a.batch(item)
            values_a, _ = engine_a.score(batch)
            values_b, _ = engine_b.score(batch)
            holder.clear()
            cos = cosine.take().numpy()
            for spill, values in zip(spills, (values_a, values_b, cos[:, None])):
                spill.append(batch.ids, values)
            analysed += len(batch.ids)
            progress.advance(task, len(item))
    if not analysed:
        raise ConfigError(f"no sentence of {cfg.corpus_spec.path} could be analysed ({skipped} skipped).")
    return skipped


def _cosine_tables(cos: ColumnFiles, seed: int) -> tuple[pa.Table, pa.Table]:
    """Mean cosine with a bootstrap CI per head and per layer (the mean over a layer's heads), a block
    of columns at a time."""
    def level(name: str) -> dict[str, np.ndarray]:
        parts = [(block.mean(0), *mean_ci(block, seed=seed)) for _, block in cos.blocks(COSINE, name)]
        return {k: np.concatenate([p[i] for p in parts]) for i, k in enumerate(("cosine", "ci_low", "ci_high"))}

    n, layers, heads = cos.n, cos.layers, cos.heads
    head_rows = pa.table({"layer": np.repeat(np.arange(layers), heads).astype(np.int32),
                          "head": np.tile(np.arange(heads), layers).astype(np.int32),
                          "label": head_labels(layers, heads), "n": np.full(layers * heads, n, np.int32),
                          **level("heads")})
    layer_rows = pa.table({"layer": np.arange(layers, dtype=np.int32), "n": np.full(layers, n, np.int32),
                           **level("layers")})
    return head_rows, layer_rows


def compare_models(model_a: str, model_b: str, out: str, config: RunConfig | None = None,
                   settings: ChangeSettings | None = None, **options) -> dict:
    """Score ``model_a`` and ``model_b`` on the same batches; write the tables to ``out``; return params."""
    cfg = config if config is not None else RunConfig(out=out, model=model_a, **options)
    if cfg.long == "window":
        raise ConfigError("compare-models takes --long skip or truncate (windows are not paired here).")
    check_new_dir(os.path.abspath(out), "comparison")
    metrics = resolve(cfg.analyses, cfg.metrics, cfg.options)
    if any(m.level == "parts" for m in metrics):
        raise ConfigError("compare-models scores attention metrics; layer-part analyses are not supported here.")
    front = FrontHalf.of(cfg)  # checks the corpus path before the models load
    lm_a = load_model(model_a, device=cfg.device, dtype=cfg.dtype)
    lm_b = load_model(model_b, device=cfg.device, dtype=cfg.dtype)
    check_same_tokenizer(lm_a, lm_b)
    names, shape = [m.name for m in metrics], (lm_a.num_layers, lm_a.num_heads)
    # the engine's values are float32 computations (float64 for a float64 model): spilled as computed
    value_type = np.float64 if torch_dtype_name(lm_a.dtype) == "float64" else np.float32
    with ExitStack() as stack:
        with RowSpill(names, *shape, value_type) as sa, RowSpill(names, *shape, value_type) as sb, \
                RowSpill([COSINE], *shape) as sc:
            skipped = _score(cfg, front, lm_a, lm_b, metrics, (sa, sb, sc))
            a, b, c = (stack.enter_context(spill.columns(True)) for spill in (sa, sb, sc))
        # the spills are gone here: on disk only the column files, once
        changes = paired_changes(PairedColumns(a, b), lm_a.num_heads, settings)
        cos_heads, cos_layers = _cosine_tables(c, changes.settings.seed)
        n = c.n
    params = {
        "model_a": lm_a.describe(), "model_b": lm_b.describe(),
        "corpus": {"path": cfg.corpus_spec.path, "sha256": front.fingerprint[0]},
        "sentences": n, "skipped": skipped, "word_aggregation": cfg.word_aggregation, "config": cfg.to_dict(),
        "cosine": "per sentence and head: cosine of the two maps flattened over valid rows and columns; mean over sentences",
        "delta": "model_b - model_a", "decision": DECISION, "margins": describe(changes.settings),
        "settings": settings_dict(changes.settings), "families": changes.families,
        "ci_method": ci_method_used("percentile", changes.settings.boot_max_n, [n], POISSON),
        "changed": summary(changes), "verdicts": verdicts_of(changes),
    }

    def write(tmp: str) -> None:
        tables = {"cosine_heads": cos_heads, "cosine_layers": cos_layers, "heads": changes.heads, "layers": changes.layers}
        for name, table in tables.items():
            atomic_write_parquet(os.path.join(tmp, layout.table_file(name)), table)
        atomic_write_json(os.path.join(tmp, layout.PARAMS), params)

    params["out"] = publish_dir(out, write, "comparison")
    return params
