"""Tiny random encoders of every supported family with their tokenizers, built offline in the tests.

``make_tiny(family, path)`` writes a random model (2 layers, 4 heads, hidden 32 by default) and
a fast tokenizer of the family's kind into ``path``, loadable with ``load_model(path)``:

| family     | tokenizer (see tokenizers_offline.py)                   | specials            |
|------------|---------------------------------------------------------|---------------------|
| bert       | WordPiece from vocab.txt (``make_tiny_bert``)            | [CLS] A [SEP] B [SEP] |
| distilbert | WordPiece                                               | [CLS] A [SEP] B [SEP] |
| electra    | WordPiece (word embeddings narrower than hidden)        | [CLS] A [SEP] B [SEP] |
| albert     | Unigram with the ``▁`` metaspace (SentencePiece style)   | [CLS] A [SEP] B [SEP] |
| roberta    | byte-level BPE                                          | <s> A </s></s> B </s> |
| mpnet      | WordPiece with RoBERTa specials, like the real MPNet    | <s> A </s></s> B </s> |
"""

from __future__ import annotations

import json
import os
import string

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers_offline import build_bytelevel_bpe, build_unigram_metaspace, build_wordpiece, wordpiece_vocab

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a an of to in and is was it that he she they we i you this for on with as at by not be are "
    "cat dog sat mat house new york city people time year day man woman said go went run ran good bad "
    "play ##ing ##ed ##s ##er ##ly un ##able"
).split()


def tiny_vocab() -> list[str]:
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return SPECIALS + WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]


def _save_random_model(path: str, config, seed: int) -> str:
    """A randomly initialised ``AutoModel`` for ``config`` (eager attention), saved to ``path``."""
    from transformers import AutoModel

    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    AutoModel.from_config(config).save_pretrained(path)
    return path


def make_tiny_bert(path: str, layers: int = 2, heads: int = 4, hidden: int = 32, seed: int = 0, max_positions: int = 64) -> str:
    """Write a random BertModel + fast WordPiece tokenizer to ``path`` and return it."""
    from transformers import BertConfig, BertTokenizerFast

    os.makedirs(path, exist_ok=True)
    vocab = tiny_vocab()
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast.from_pretrained(path, do_lower_case=True)
    tok.model_max_length = max_positions
    tok.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=hidden * 2, max_position_embeddings=max_positions,
    )
    return _save_random_model(path, config, seed)


# -- tokenizers of the other families --------------------------------------------------------

MPNET_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def build_mpnet_wordpiece(path: str) -> str:
    """MPNet's tokenizer as all-mpnet-base-v2 ships it: BERT WordPiece, ``[UNK]`` for unknown
    pieces, but RoBERTa's ``<s> A </s></s> B </s>`` (``RobertaProcessing``) and ``<pad>`` = 1."""
    os.makedirs(path, exist_ok=True)
    vocab_list = MPNET_SPECIALS + wordpiece_vocab() + ["<mask>"]
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.RobertaProcessing(("</s>", vocab["</s>"]), ("<s>", vocab["<s>"]), trim_offsets=True)
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(MPNET_SPECIALS + ["[UNK]", "<mask>"])
    tok.save(os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(vocab_list) + "\n")
    _tokenizer_config(path, {
        "tokenizer_class": "MPNetTokenizer", "do_lower_case": True, "bos_token": "<s>", "eos_token": "</s>",
        "sep_token": "</s>", "cls_token": "<s>", "unk_token": "[UNK]", "pad_token": "<pad>", "mask_token": "<mask>",
        "model_max_length": 512,
    })
    return path


def _tokenizer_config(path: str, updates: dict) -> None:
    """Write (or update) ``tokenizer_config.json`` in ``path``."""
    p = os.path.join(path, "tokenizer_config.json")
    config = {}
    if os.path.exists(p):
        with open(p, encoding="utf-8") as fh:
            config = json.load(fh)
    config.update(updates)
    with open(p, "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=1, ensure_ascii=False)


def _wordpiece_as(tokenizer_class: str):
    def build(path: str) -> str:
        build_wordpiece(path)
        _tokenizer_config(path, {"tokenizer_class": tokenizer_class})
        return path

    return build


# -- configs ---------------------------------------------------------------------------------


def tiny_config(family: str, vocab_size: int, layers: int, heads: int, hidden: int, max_positions: int):
    import transformers as tf

    common = dict(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=hidden * 2,
    )
    if family == "distilbert":
        return tf.DistilBertConfig(
            vocab_size=vocab_size, dim=hidden, n_layers=layers, n_heads=heads, hidden_dim=hidden * 2,
            max_position_embeddings=max_positions, pad_token_id=0,
        )
    if family == "electra":
        return tf.ElectraConfig(**common, embedding_size=hidden // 2, max_position_embeddings=max_positions, pad_token_id=0)
    if family == "albert":
        return tf.AlbertConfig(
            **common, embedding_size=hidden // 2, max_position_embeddings=max_positions,
            pad_token_id=0, bos_token_id=2, eos_token_id=3,
        )
    if family == "roberta":  # positions start at padding_idx + 1 = 2
        return tf.RobertaConfig(
            **common, max_position_embeddings=max_positions + 2, type_vocab_size=1,
            pad_token_id=1, bos_token_id=0, eos_token_id=2,
        )
    if family == "mpnet":
        return tf.MPNetConfig(
            **common, max_position_embeddings=max_positions + 2, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        )
    raise ValueError(f"no tiny config for family {family!r}")


TOKENIZERS = {
    "distilbert": _wordpiece_as("DistilBertTokenizerFast"),
    "electra": _wordpiece_as("ElectraTokenizerFast"),
    "albert": build_unigram_metaspace,
    "roberta": build_bytelevel_bpe,
    "mpnet": build_mpnet_wordpiece,
}
FAMILIES = ("bert", *TOKENIZERS)


def make_tiny(
    family: str, path: str, layers: int = 2, heads: int = 4, hidden: int = 32, seed: int = 0, max_positions: int = 64
) -> str:
    """Write a random ``family`` encoder and its fast tokenizer to ``path`` and return it."""
    if family == "bert":
        return make_tiny_bert(path, layers, heads, hidden, seed, max_positions)
    from transformers import AutoTokenizer

    TOKENIZERS[family](path)
    vocab_size = len(AutoTokenizer.from_pretrained(path))
    return _save_random_model(path, tiny_config(family, vocab_size, layers, heads, hidden, max_positions), seed)
