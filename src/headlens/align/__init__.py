"""Sub-token to word alignment by tokenizer offsets."""

from .encode import CLS, OTHER_SPECIAL, SEP, WORD, Encoded, Encoder, align_tokens, build_encoded, is_punctuation

__all__ = ["CLS", "OTHER_SPECIAL", "SEP", "WORD", "Encoded", "Encoder", "align_tokens", "build_encoded", "is_punctuation"]
