"""One validated configuration object drives both the Python API and the CLI."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources

from .annotate.annotators import ANNOTATORS, DEFAULT_SPACY_MODEL
from .corpus.reader import CorpusSpec
from .errors import ConfigError, param_error
from .analyses.registry import ANALYSES, resolve
from .runner.batch import AGGREGATIONS

LONG_POLICIES = ("skip", "truncate", "window")
DEFAULT_STORE_MAPS = ("0", "1", "2")  # the report's head view draws these sentences' stored maps
ATTENTION_PATHS = ("auto", "fused", "eager")  # how attention statistics are computed (runner.engine.Engine)
# Sentences per committed part: `headlens run` on the embedded corpus and model analyses 18 to 49
# sentences/s on a shared 2-core CPU (surface analyses; 26/s with roles and syntax), so a kill
# loses at most 10 to 30 s of work. See docs/reliability.md.
PART_SIZE = 500
DEVICES_HELP = "'cpu', 'cuda', 'cuda:N' or 'auto'"
ENGINES = ("local", "ray")  # one process, or a Ray cluster (headlens.scale, docs/scale.md)
BLOCK_SIZE = 256  # corpus items per block of a Ray run: one worker call (docs/scale.md)


def default_corpus_path() -> str:
    """The embedded default corpus: a sample of UD English EWT dev (CC BY-SA 4.0, see data/README)."""
    return str(resources.files("headlens") / "data" / "en_ewt-ud-dev-sample.conllu")


def names(owner: str, name: str, value: object, numbers: bool = False) -> tuple[str, ...]:
    """A list-typed option as a tuple of names: a comma-separated string ("surface,roles") or a
    list/tuple of strings (and of ints when ``numbers``, e.g. sentence ids); blanks are dropped."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    kinds = (str, int) if numbers else (str,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    what = "strings or ints" if numbers else "strings"
    raise param_error(owner, name, f"a comma-separated string or a list of {what}", value)


def _positive_int(owner: str, name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise param_error(owner, name, "an int in the range [1, inf)", value)


@dataclass
class RunConfig:
    """Everything a run needs; every field is recorded in the run's manifest.

    ``model``: a model directory or hub id (None: the embedded all-MiniLM-L6-v2).
    ``corpus``: a path or a CorpusSpec (None: the embedded UD English EWT sample).
    ``max_tokens``: token budget of a padded batch (batch size x longest sentence).
    ``sort_window``: sentences read ahead and sorted by length before batching.
    ``long``: a sentence longer than the model's limit is skipped, truncated, or split into windows.
    ``word_aggregation``: clark (to = sum, from = mean), first (from = first sub-token), mean (both);
    None (default): first when an analysis replicates Clark et al.'s code (``replicate="clark2019"``,
    whose released code aggregates with mode="first"), else clark.
    ``attention``: ``auto`` computes every metric that declares a fused need without the T x T map
    (one fused kernel call per layer) and reads full rows only for the others; ``eager`` reads the
    eager implementation's maps for all (for checking); ``fused`` is ``auto`` that fails where the
    fused path is unavailable (MPNet, the decomposition). See docs/performance.md.
    ``options``: each analysis' run-time options, by analysis name: an instance of its options
    class or a dict of its fields (e.g. ``{"roles": {"window": 3}}``: ``RolesOptions``); an
    analysis of the run without an entry gets its defaults, and all are recorded.
    ``store_maps``: sentence ids (0-based stream positions) or CoNLL-U sent_ids whose full
    attention maps are saved (``runner.maps``: token and word maps, read by the report's head
    view); default: the first three sentences (ids 0, 1, 2), ``()`` stores none; nothing else
    keeps a map.
    ``resume``: continue the killed or stopped run in ``out`` (same options, model and corpus),
    keeping its committed parts (see ``headlens.store.resume``).
    ``part_size``: sentences per committed part (a kill loses at most the part being written).
    ``engine``: ``local`` (this process) or ``ray`` (Ray Data's workers score blocks of
    ``block_size`` corpus items, one model per worker, and this process writes the run; see
    docs/scale.md). ``ray_address``: the cluster (None: start a local Ray instance; ``auto``; or
    ``ray://HEAD:10001``). ``workers``: actors in the pool, each with ``threads`` CPU threads
    (default 1) and ``gpus_per_worker`` GPUs.
    ``keep_freed_memory``: glibc keeps freed memory for reuse instead of returning it to the
    kernel after every layer (fewer page faults; the process keeps its peak heap until it exits;
    process-wide, see ``headlens.runner.allocator``).
    """

    out: str = "runs/run"
    model: str | None = None
    corpus: CorpusSpec | str | None = None
    analyses: tuple[str, ...] = ("surface",)
    metrics: tuple[str, ...] | None = None
    annotator: str = "auto"
    spacy_model: str = DEFAULT_SPACY_MODEL
    device: str = "cpu"
    dtype: str = "float32"
    max_tokens: int = 8192
    max_batch: int = 128
    sort_window: int = 2048
    long: str = "skip"
    word_aggregation: str | None = None  # None: "clark", or "first" under replicate="clark2019"
    attention: str = "auto"  # auto | fused | eager: how attention statistics are computed (runner/engine.py)
    options: dict = field(default_factory=dict)  # analysis -> its options (analyses/<name>/options.py)
    store_maps: tuple[str, ...] = DEFAULT_STORE_MAPS
    mask_rate: float = 0.0  # share of word tokens replaced by the mask token (Kobayashi et al. 2021: 0.12)
    part_size: int = PART_SIZE
    threads: int | None = None
    engine: str = "local"  # local | ray (headlens.scale)
    ray_address: str | None = None
    workers: int = 2
    gpus_per_worker: float = 0.0
    block_size: int = BLOCK_SIZE
    keep_freed_memory: bool = True
    overwrite: bool = False
    resume: bool = False
    progress: bool = True
    annotation_cache: bool = True
    cache_dir: str | None = None
    _spec: CorpusSpec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        owner = "RunConfig"
        if self.corpus is None:
            self._spec = CorpusSpec(default_corpus_path(), format="conllu")
        elif isinstance(self.corpus, CorpusSpec):
            self._spec = self.corpus
        elif isinstance(self.corpus, (str, os.PathLike)):
            self._spec = CorpusSpec(os.fspath(self.corpus))
        else:
            raise param_error(owner, "corpus", "a path, a CorpusSpec or None", self.corpus)
        self.analyses = names(owner, "analyses", self.analyses)
        self.metrics = names(owner, "metrics", self.metrics) or None if self.metrics is not None else None
        self.store_maps = names(owner, "store_maps", self.store_maps, numbers=True)
        self.options = self._typed_options()
        if self.word_aggregation is None:  # Clark et al.'s released code: bpe_utils.get_word_word_attention, mode="first"
            clark = any(getattr(o, "replicate", "none") == "clark2019" for o in self.options.values())
            self.word_aggregation = "first" if clark else "clark"
        for name in ("max_tokens", "max_batch", "sort_window", "part_size", "workers", "block_size"):
            _positive_int(owner, name, getattr(self, name))
        if self.resume and self.overwrite:
            raise ConfigError("RunConfig: 'resume' continues the run in 'out' and 'overwrite' replaces it; pass one of them.")
        if isinstance(self.mask_rate, bool) or not isinstance(self.mask_rate, (int, float)) or not 0 <= self.mask_rate < 1:
            raise param_error(owner, "mask_rate", "a float in the range [0, 1)", self.mask_rate)
        if self.threads is not None:
            _positive_int(owner, "threads", self.threads)
        self._check_engine(owner)
        if self.long not in LONG_POLICIES:
            raise param_error(owner, "long", f"one of {LONG_POLICIES}", self.long)
        if self.attention not in ATTENTION_PATHS:
            raise param_error(owner, "attention", f"one of {ATTENTION_PATHS}", self.attention)
        if self.word_aggregation not in AGGREGATIONS:
            raise param_error(owner, "word_aggregation", f"one of {AGGREGATIONS}", self.word_aggregation)
        if self.annotator not in ANNOTATORS:
            raise param_error(owner, "annotator", f"one of {ANNOTATORS}", self.annotator)
        if self.dtype not in ("float32", "float64", "bfloat16", "float16"):
            raise param_error(owner, "dtype", "one of ('float32', 'float64', 'bfloat16', 'float16')", self.dtype)
        if not isinstance(self.device, str) or not self.device:
            raise param_error(owner, "device", DEVICES_HELP, self.device)
        if not isinstance(self.out, (str, os.PathLike)):
            raise param_error(owner, "out", "a run directory path such as 'runs/NAME'", self.out)
        if not os.fspath(self.out).strip():
            raise ConfigError("--out (RunConfig 'out') is empty: give the run directory to create, e.g. runs/NAME.")
        resolve(self.analyses, self.metrics, self.options)  # unknown names: ConfigError with the valid ones

    def _check_engine(self, owner: str) -> None:
        if self.engine not in ENGINES:
            raise param_error(owner, "engine", f"one of {ENGINES}", self.engine)
        if isinstance(self.gpus_per_worker, bool) or not isinstance(self.gpus_per_worker, (int, float)) or self.gpus_per_worker < 0:
            raise param_error(owner, "gpus_per_worker", "a number >= 0 (a fraction shares a GPU)", self.gpus_per_worker)
        if self.ray_address is not None and not (isinstance(self.ray_address, str) and self.ray_address.strip()):
            raise param_error(owner, "ray_address", "'auto', 'ray://HEAD:10001', 'HEAD:6379' or None (a local instance)",
                              self.ray_address)
        if self.engine != "ray":
            return
        collecting = [a for a in self.analyses if ANALYSES[a].collect is not None and not ANALYSES[a].scales_out] \
            if not self.metrics else []
        if collecting:
            raise ConfigError(f"--engine ray does not run these analyses yet ({', '.join(collecting)}): their collectors "
                              "write files or keep a sample of their own on each worker. Run them with the local engine, "
                              "or drop them from --analyses (docs/scale.md).")

    def _typed_options(self) -> dict:
        if not isinstance(self.options, dict):
            raise param_error("RunConfig", "options", "a dict: analysis name -> its options (an instance or a dict)",
                              self.options)
        with_options = {name for name, a in ANALYSES.items() if a.options is not None}
        unknown = sorted(set(self.options) - with_options)
        if unknown:
            raise ConfigError(f"RunConfig: options given for {', '.join(map(repr, unknown))}, which take none; "
                              f"analyses with options: {', '.join(sorted(with_options))}.")
        outside = sorted(set(self.options) - set(self.analyses))
        if outside:
            raise ConfigError(f"RunConfig: options given for {', '.join(map(repr, outside))}, which the run does not "
                              f"name in its analyses ({', '.join(self.analyses) or 'none'}); add it to analyses or drop them.")
        wanted = [a for a in self.analyses if a in with_options]
        return {a: ANALYSES[a].options.coerce(self.options.get(a), "RunConfig", f"options[{a!r}]") for a in wanted}

    def options_of(self, analysis: str):
        """The options of ``analysis`` in this run (its defaults when the run does not name it)."""
        found = self.options.get(analysis)
        return found if found is not None else ANALYSES[analysis].options()

    @property
    def corpus_spec(self) -> CorpusSpec:
        return self._spec

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_spec", None)
        d["corpus"] = self._spec.to_dict()
        return d
