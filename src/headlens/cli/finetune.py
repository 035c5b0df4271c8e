"""``headlens finetune`` (train a classifier) and ``headlens evaluate`` (score one on a labelled file)."""

from __future__ import annotations

from ..corpus.columns import COLUMNS_HELP, label_list as _labels
from .run import MODEL_HELP


def add(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune an encoder for (pair) classification; write a HF checkpoint")
    p.set_defaults(func=_cmd_finetune)
    p.add_argument("--model", help="the base model: " + MODEL_HELP)
    p.add_argument("--train", required=True, help="training file (TSV or JSONL)")
    p.add_argument("--dev", required=True, help="dev file in the same layout")
    p.add_argument("--columns", required=True, help=COLUMNS_HELP)
    p.add_argument("--labels", help="comma-separated labels in class order (default: the training labels, sorted)")
    p.add_argument("--format", default="auto", choices=("auto", "tsv", "jsonl"))
    p.add_argument("--out", required=True, help="checkpoint directory to create (never overwritten)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--max-length", type=int, default=128, help="tokens per example (pairs: longest first truncated)")
    p.add_argument("--subsample", type=int, help="train on this many randomly chosen rows (seeded)")
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps with a rising learning rate")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="accuracy, F1 and MCC of a fine-tuned classifier on a labelled file")
    e.set_defaults(func=_cmd_evaluate)
    e.add_argument("--model", required=True, help="a fine-tuned classifier directory")
    e.add_argument("--data", required=True, help="labelled file (TSV or JSONL)")
    e.add_argument("--columns", required=True, help=COLUMNS_HELP)
    e.add_argument("--format", default="auto", choices=("auto", "tsv", "jsonl"))
    e.add_argument("--max-length", type=int, default=128)
    e.add_argument("--device", default="cpu")


def _scores(name: str, s: dict) -> str:
    return f"  {name:<28} accuracy {s['accuracy']:.4f}  F1 {s['f1']:.4f}  MCC {s['mcc']:.4f}  (n={s['n']})"


def _cmd_finetune(args) -> int:
    from ..finetune import finetune
    from ..models.loading import default_model_path

    result = finetune(
        model=args.model or default_model_path(), train=args.train, dev=args.dev, columns=args.columns,
        out=args.out, labels=_labels(args.labels), format=args.format, seed=args.seed, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, subsample=args.subsample,
        warmup=args.warmup, weight_decay=args.weight_decay, threads=args.threads, device=args.device,
        progress=not args.quiet,
    )
    print(f"fine-tuned on {result.train_rows} rows in {result.seconds:.0f} s ({len(result.losses)} steps); "
          f"labels {', '.join(result.labels)}")
    print("dev:")
    print(_scores("fine-tuned", result.dev))
    print(_scores("majority baseline", result.majority))
    print(f"checkpoint: {result.out} (model card README.md, headlens_finetune.json)")
    return 0


def _cmd_evaluate(args) -> int:
    from ..finetune import evaluate

    s = evaluate(args.model, args.data, args.columns, args.format, args.max_length, device=args.device)
    print(_scores(args.model, s))
    return 0
