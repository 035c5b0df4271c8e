"""``headlens probe``: attention-based probing classifiers trained on one CoNLL-U file, scored on another."""

from __future__ import annotations

from .options import ProbeSettings


def add(sub) -> None:
    p = sub.add_parser("probe", help="Clark et al.'s attention-based parser probe and Coenen et al.'s pairwise probes")
    p.set_defaults(func=_cmd)
    p.add_argument("--model", help="model directory, hub id (online) or embedded short name: minilm (the default, "
                                   "all-MiniLM-L6-v2) or mpnet")
    p.add_argument("--train", required=True, help="gold CoNLL-U file to train on")
    p.add_argument("--eval", required=True, help="gold CoNLL-U file to score on (may be the same file with --eval-skip)")
    p.add_argument("--train-limit", type=int, help="train on the first N sentences of --train")
    p.add_argument("--eval-skip", type=int, default=0, help="score from sentence N of --eval on (e.g. the rest after --train-limit)")
    p.add_argument("--eval-limit", type=int, help="score at most N sentences")
    ProbeSettings.add_arguments(p)  # --seed, --ci, --n-boot, --features, --lr, --no-pairwise
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", help="also write the result to this JSON file")


def _cmd(args) -> int:
    import torch

    from ...units import format_fraction as ff, format_p
    from ...corpus.reader import CorpusSpec
    from ...models import load_model
    from .run import probe
    from ...store.atomic import atomic_write_json

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = ProbeSettings.from_args(args)
    train = CorpusSpec(args.train, format="conllu", limit=args.train_limit)
    evaluation = CorpusSpec(args.eval, format="conllu", skip=args.eval_skip, limit=args.eval_limit)
    lm = load_model(args.model, device=args.device)
    r = probe(lm, train, evaluation, settings)
    print(f"probe on {lm.name}: trained on {r.train_sentences} sentences, scored on {r.eval_sentences} "
          f"({r.scored_words} words, punctuation excluded); seed {args.seed}")
    for name, uas in r.uas.items():
        v = r.versus_right_branching.get(name)
        vs = (f"  vs right-branching {ff(v['delta'], signed=True)} [{ff(v['ci_low'], signed=True)}, "
              f"{ff(v['ci_high'], signed=True)}], p = {format_p(v['p'])}; UAS {100 * settings.ci:g}% CI "
              f"[{ff(v['uas_ci'][0])}, {ff(v['uas_ci'][1])}]") if v else ""
        print(f"  UAS {name:<16} {ff(uas)}{vs}")
    if r.pairwise:
        pw = r.pairwise
        print(f"  pairwise (Coenen): arc vs no arc {ff(pw.arc_accuracy)} of {pw.arc_n} balanced pairs (chance 0.5); "
              f"relation {ff(pw.relation_accuracy)} of {pw.relation_n} arcs (majority {ff(pw.relation_majority)})")
    if args.json:
        atomic_write_json(args.json, r.to_dict())
        print(f"result: {args.json}")
    return 0
