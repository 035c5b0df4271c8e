"""Three fast tokenizers of the BERT, RoBERTa and ALBERT families, built offline.

Each builder writes ``tokenizer.json`` (made with the ``tokenizers`` library) and a
``tokenizer_config.json`` naming the transformers class into a directory, so that the
tokenizer is loaded exactly as a downloaded model's would be: ``from_pretrained(dir)``.

- WordPiece, BERT style: BertNormalizer (lower case, accents stripped, CJK characters split,
  control characters removed), BertPreTokenizer, ``[CLS] A [SEP] B [SEP]``, ``##`` continuations.
- Byte-level BPE, RoBERTa style: merges learned on a small text, ``Ġ`` marks a leading space,
  ``<s> A </s></s> B </s>``, offsets not trimmed (the leading space stays in a token's span).
- Unigram with the ``▁`` metaspace, ALBERT (SentencePiece) style: hand-written pieces and
  scores, ``[CLS] A [SEP] B [SEP]`` with segment ids, ``<unk>`` for unknown characters.
"""

from __future__ import annotations

import json
import os
import string

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Words that are whole tokens in every vocabulary below (lower case).
COMMON_WORDS = (
    "the a an of to in and is was it that he she they we i you this for on with as at by not be are "
    "cat dog sat mat house new york city people time year day man woman said go went run ran good bad "
    "cannot can hello world cafe naive zero width bell ring"
).split()

CJK_KNOWN = "中"  # in the WordPiece and Unigram vocabularies; other CJK characters are unknown

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _write_config(path: str, config: dict) -> None:
    with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=1, ensure_ascii=False)


def wordpiece_vocab() -> list[str]:
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    cont = ["##" + c for c in string.ascii_lowercase + string.digits]
    return WORDPIECE_SPECIALS + COMMON_WORDS + ["newyork", "##ing", "##ed", "##s", "##ly"] + [CJK_KNOWN] + chars + cont


def build_wordpiece(path: str) -> str:
    """BERT-style WordPiece tokenizer in ``path`` (loaded by BertTokenizerFast)."""
    os.makedirs(path, exist_ok=True)
    vocab = {tok: i for i, tok in enumerate(wordpiece_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(WORDPIECE_SPECIALS)
    tok.save(os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(vocab) + "\n")
    _write_config(path, {
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "strip_accents": None,
        "tokenize_chinese_chars": True, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": 512,
    })
    return path


BPE_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

BPE_TRAINING_TEXT = [
    "The cat sat on the mat and the dog ran to the house.",
    "New York is a big city; people said it was good.",
    "Hello world! Hello again, world. Running, played, cannot, can not.",
    "A man and a woman went to New York City in the year 2020.",
    " ".join(COMMON_WORDS),
] * 4


def build_bytelevel_bpe(path: str) -> str:
    """RoBERTa-style byte-level BPE tokenizer in ``path`` (loaded by RobertaTokenizerFast)."""
    os.makedirs(path, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, min_frequency=2, special_tokens=BPE_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(BPE_TRAINING_TEXT, trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")), trim_offsets=False, add_prefix_space=False,
    )
    tok.save(os.path.join(path, "tokenizer.json"))
    vocab = tok.get_vocab()
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf-8") as fh:
        json.dump(vocab, fh, ensure_ascii=False)
    merges = json.loads(tok.to_str())["model"]["merges"]
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf-8") as fh:
        fh.write("#version: 0.2\n")
        for m in merges:
            fh.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    _write_config(path, {
        "tokenizer_class": "RobertaTokenizerFast", "add_prefix_space": False, "trim_offsets": False,
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>", "errors": "replace", "model_max_length": 512,
    })
    return path


UNIGRAM_SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]


def unigram_pieces() -> list[tuple[str, float]]:
    """SentencePiece-style pieces with log-probabilities: whole words with ``▁``, then pieces and characters."""
    pieces: list[tuple[str, float]] = [(s, 0.0) for s in UNIGRAM_SPECIALS]
    pieces.append(("▁", -2.0))
    pieces += [("▁" + w, -5.0 - 0.01 * i) for i, w in enumerate(COMMON_WORDS)]
    pieces += [("▁newyork", -5.0), ("ing", -6.0), ("ed", -6.0), ("s", -6.5), ("ly", -6.0), (CJK_KNOWN, -8.0)]
    pieces += [(c, -10.0) for c in string.ascii_lowercase + string.digits + string.punctuation if c != "s"]
    return pieces


def build_unigram_metaspace(path: str) -> str:
    """ALBERT-style Unigram tokenizer with the ``▁`` metaspace in ``path`` (loaded by AlbertTokenizerFast)."""
    os.makedirs(path, exist_ok=True)
    pieces = unigram_pieces()
    ids = {p: i for i, (p, _) in enumerate(pieces)}
    tok = Tokenizer(models.Unigram(pieces, unk_id=ids["<unk>"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace("``", '"'), normalizers.Replace("''", '"'),
        normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tok.add_special_tokens(UNIGRAM_SPECIALS)
    tok.save(os.path.join(path, "tokenizer.json"))
    _write_config(path, {
        "tokenizer_class": "AlbertTokenizerFast", "do_lower_case": True, "remove_space": True, "keep_accents": False,
        "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>", "sep_token": "[SEP]", "pad_token": "<pad>",
        "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": 512,
    })
    return path


BUILDERS = {"wordpiece": build_wordpiece, "bytelevel_bpe": build_bytelevel_bpe, "unigram_metaspace": build_unigram_metaspace}
# the transformers class a downloaded model of each family is loaded with
CLASSES = {"wordpiece": "BertTokenizerFast", "bytelevel_bpe": "RobertaTokenizerFast", "unigram_metaspace": "AlbertTokenizerFast"}


def load_tokenizer(kind: str, path: str):
    """Build the ``kind`` tokenizer in ``path`` and load it with its family's transformers class."""
    import transformers

    BUILDERS[kind](path)
    cls = getattr(transformers, CLASSES[kind])
    return cls.from_pretrained(path)

