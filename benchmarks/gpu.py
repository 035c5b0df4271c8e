"""GPU figures: the default analyses against plain SDPA inference on CUDA, and half precision against float32.

Run on a machine with a CUDA device (CI has none; ``make bench`` does not run this):

    python benchmarks/gpu.py --model DIR --ud en_ewt-ud-dev.conllu --out gpu-results.json

- ``throughput``: for MiniLM (``--model``) and a randomly initialised 12-layer x 12-head BERT-base
  shape, in float32 and bfloat16, at 128 and 512 tokens: the same measurement as figure 8 of
  bench.py (lengths.py: a full ``headlens.run`` of the default analyses through the API against
  tokenization plus SDPA forward of the same sentences in the same batches, interleaved, median
  of ``--repeats``), printed as ``GPU default_vs_sdpa_<model>_<dtype>_T<T> <ratio>``.
- ``precision``: the default analyses on ``--sentences`` gold UD sentences in bfloat16 and
  float16 against float32 on the same GPU; per metric, the worst per-sentence difference and the
  worst per-head-mean difference, each ``|a - b| / max(1, |a|)``.

Results are written to ``--out`` after each figure, so that a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _values(run) -> dict:
    t = run.scores().to_pydict()
    return dict(zip(zip(t["sentence_id"], t["layer"], t["head"], t["metric"]), t["value"]))


def _worst(a: dict, b: dict, key) -> dict[str, float]:
    """Per metric (``key`` of a value's key), the largest |a - b| / max(1, |a|) over defined values."""
    import math

    out: dict[str, float] = {}
    for k, v in a.items():
        w = b[k]
        if not (math.isnan(v) or math.isnan(w)):
            out[key(k)] = max(out.get(key(k), 0.0), abs(v - w) / max(1.0, abs(v)))
    return out


DECISIONS = ("pattern_is_",)  # one-hot pattern classes: decisions, counted as changed or not


def _means(values: dict) -> dict:
    import math

    sums: dict = {}
    for (_, layer, head, metric), v in values.items():
        if not math.isnan(v) and not metric.startswith(DECISIONS):
            s = sums.setdefault((layer, head, metric), [0.0, 0])
            s[0] += v
            s[1] += 1
    return {k: s / n for k, (s, n) in sums.items()}


def precision(args, tmp: str, results: dict, save) -> None:
    import headlens
    from lengths import DEFAULT_ANALYSES

    corpus = headlens.CorpusSpec(args.ud, format="conllu", limit=args.sentences)
    values = {}
    for dtype in ("float32", "bfloat16", "float16"):
        log(f"precision: {dtype}")
        run = headlens.run(out=os.path.join(tmp, f"precision-{dtype}"), corpus=corpus, model=args.model, device=args.device,
                           dtype=dtype, analyses=DEFAULT_ANALYSES, progress=False, overwrite=True)
        values[dtype] = _values(run)
    reference = {k: v for k, v in values["float32"].items() if not k[3].startswith(DECISIONS)}
    decisions = [k for k in values["float32"] if k[3].startswith(DECISIONS)]
    for dtype in ("bfloat16", "float16"):
        sentence = _worst(reference, values[dtype], lambda k: k[3])
        head = _worst(_means(reference), _means(values[dtype]), lambda k: k[2])
        flips = sum(values["float32"][k] != values[dtype][k] for k in decisions) / max(1, len(decisions))
        results["precision"][dtype] = {"sentence": sentence, "head_mean": head, "decisions_changed": flips,
                                       "worst_sentence": max(sentence.values()), "worst_head_mean": max(head.values())}
        print(f"GPU precision_{dtype}_pattern_classes_changed {flips:.4f}")
        print(f"GPU precision_{dtype}_worst_sentence {max(sentence.values()):.3g} ({max(sentence, key=sentence.get)})")
        print(f"GPU precision_{dtype}_worst_head_mean {max(head.values()):.3g} ({max(head, key=head.get)})")
        save()


def throughput(args, tmp: str, results: dict, save) -> None:
    import headlens
    from lengths import DEFAULT_ANALYSES, random_base_model, ratio, write_length_corpus

    base = random_base_model(args.model, tmp)
    corpora: dict[int, str] = {}
    for name, path in (("minilm", args.model), ("12x12", base)):
        for dtype in ("float32", "bfloat16"):
            args.dtype = dtype
            lm = headlens.load_model(path, device=args.device, dtype=dtype)
            for length in (128, 512):
                if length not in corpora:
                    corpora[length] = write_length_corpus(args.ud, lm.tokenizer, length, args.tokens, tmp)
                value, info = ratio(args, lm, corpora[length], DEFAULT_ANALYSES, args.repeats, tmp, log)
                label = f"default_vs_sdpa_{name}_{dtype}_T{length}"
                results["throughput"][label] = {"ratio": value, **info}
                print(f"GPU {label} {value:.3f}", flush=True)
                save()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the MiniLM directory (config, weights, tokenizer)")
    p.add_argument("--ud", required=True, help="UD English EWT dev, CoNLL-U")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--tokens", type=int, default=65536, help="tokens per length")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sentences", type=int, default=500, help="sentences of the precision check")
    p.add_argument("--only", default="precision,throughput")
    args = p.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs a CUDA device; torch sees none")
    results = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu", "torch": torch.__version__, "precision": {}, "throughput": {},
               "tokens_per_length": args.tokens, "repeats": args.repeats}
    import transformers

    results["transformers"] = transformers.__version__

    def save():
        tmp_out = args.out + ".tmp"
        with open(tmp_out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
        os.replace(tmp_out, args.out)

    with tempfile.TemporaryDirectory() as tmp:
        for part in args.only.split(","):
            {"precision": precision, "throughput": throughput}[part](args, tmp, results, save)
    save()


if __name__ == "__main__":
    main()
