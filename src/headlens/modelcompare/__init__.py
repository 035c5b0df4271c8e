"""Two models, one pass: attention-map similarity per head and paired metric changes (compare-models)."""

from .job import check_same_tokenizer, compare_models, tokenizer_signature
from .similarity import MapCosine, MapHolder, map_cosine

__all__ = ["MapCosine", "MapHolder", "check_same_tokenizer", "compare_models", "map_cosine", "tokenizer_signature"]
