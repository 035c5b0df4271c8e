"""``headlens run --analyses roles --replicate pande2021 [--role-bug-compatible]``: Pande et al.'s scores.

The expected values come from tests/pande_reference.py, a re-derivation of heads-hypothesis's
syntactic_score.ipynb (``Heads1.get_score`` with ``dataset.get_data_for_pred``'s arc ends) and
local_score.ipynb (``calc_score_band2``), applied to the run's own stored maps.
"""

import numpy as np
import pytest
from pande_reference import calc_block_attn_score, calc_score_band2, first_occurrence_positions_differ, get_score
from test_roles_metrics import CONLLU

import headlens
from headlens.analyses.roles.options import RolesOptions

RELATIONS = ("nsubj", "det", "amod", "all")


@pytest.fixture(scope="module")
def pande_runs(tmp_path_factory, tiny_bert_dir):
    """The same corpus with --replicate pande2021, plus --role-bug-compatible on the fused (default)
    and the eager path."""
    root = tmp_path_factory.mktemp("pande")
    (root / "gold.conllu").write_text(CONLLU, encoding="utf-8")
    runs = {}
    for name, bug, attention in (("replicate", False, "auto"), ("bug", True, "auto"), ("bug-eager", True, "eager")):
        runs[name] = headlens.run(out=str(root / name), model=tiny_bert_dir, corpus=str(root / "gold.conllu"),
                                  analyses=("roles",), dtype="float64", progress=False, attention=attention,
                                  store_maps=("0", "1", "2", "3"), options={"roles": {
                                      "replicate": "pande2021", "bug_compatible": bug, "relations": RELATIONS}})
    return runs


def _values(run) -> dict:
    return {(r["sentence_id"], r["layer"], r["head"], r["metric"]): r["value"] for r in run.scores().to_pylist()}


def test_replicate_defaults_to_h2d_per_arc_and_an_explicit_choice_wins():
    assert RolesOptions(replicate="pande2021").h2d == "arc" and RolesOptions().h2d == "head"
    assert RolesOptions(replicate="pande2021", h2d="head").h2d == "head"


@pytest.mark.parametrize("name", ["replicate", "bug", "bug-eager"])
def test_syntactic_scores_mirror_get_score(pande_runs, name):
    """d2h ('l2r') and h2d ('r2l', mean over arcs) per sentence and head equal Heads1.get_score; with
    the bug flag the arc ends are found by list.index (B2), and the local window follows calc_score_band2 (B1)."""
    run = pande_runs[name]
    bug = name != "replicate"
    options = run.manifest["config"]["options"]["roles"]
    assert (options["replicate"], options["h2d"], options["bug_compatible"]) == ("pande2021", "arc", bug)
    stored = _values(run)
    checked = 0
    for sid in range(4):
        z = np.load(f"{run.path}/maps/sentence-{sid}.npz")
        heads, labels = z["word_head"], [str(x) for x in z["word_deprel"]]
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                a = z["attention"][layer, head].astype(np.float64)
                local = stored[(sid, layer, head, "role_local_w2")]
                assert (local == pytest.approx(calc_score_band2(a), rel=1e-6)) == bug
                for rel in RELATIONS:
                    for d in ("d2h", "h2d"):
                        expected = get_score(a, z["tokens"], z["segment"], z["token_unit"], z["unit_word"], heads,
                                             labels, rel, d, first_occurrence=bug)
                        key = (sid, layer, head, f"role_syn_{rel}_{d}")
                        if np.isnan(expected):
                            assert key not in stored
                            continue
                        assert stored[key] == pytest.approx(expected, rel=1e-6), key
                        checked += 1
    assert checked > 100


def test_b2_moves_the_arcs_with_a_repeated_token(pande_runs):
    """The corpus repeats "the": B2 scores the second one at the first one's position, so the bug
    run differs from the replicate run exactly on the sentences where a position moves."""
    plain, bug = _values(pande_runs["replicate"]), _values(pande_runs["bug"])
    moves = 0
    for sid in range(4):
        z = np.load(f"{pande_runs['bug'].path}/maps/sentence-{sid}.npz")
        moved = first_occurrence_positions_differ(z["tokens"], z["segment"], z["token_unit"], z["unit_word"],
                                                  z["word_head"], [str(x) for x in z["word_deprel"]], "all")
        same = all(plain[k] == pytest.approx(bug[k], rel=1e-9) for k in plain
                   if k[0] == sid and k[3].startswith("role_syn_all"))
        assert same != moved, sid
        moves += moved
    assert moves > 0  # "the cat sat on the mat ."

def test_cli_replicate_sets_the_roles_options_and_the_tests(tmp_path, tiny_bert_dir, capsys):
    from headlens.cli import main
    from headlens.store import open_run

    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", "--model", tiny_bert_dir, "--corpus", str(corpus), "--analyses", "surface,roles", "--out",
                 str(out), "--replicate", "pande2021", "--role-bug-compatible", "--quiet"]) == 0
    options = open_run(str(out)).manifest["config"]["options"]
    assert options["roles"]["replicate"] == "pande2021" and options["roles"]["h2d"] == "arc"
    assert options["roles"]["bug_compatible"] is True and options["surface"]["replicate"] == "none"
    capsys.readouterr()
    assert main(["roles", str(out)]) == 0  # the original's tests are the default of such a run
    printed = capsys.readouterr().out
    assert "made with --replicate pande2021" in printed and "(ddof=0), correction none" in printed
    assert (out / "roles" / "pande2021").is_dir()


def test_block_sieve_mirrors_calc_block_attn_score(tmp_path, tiny_bert_dir):
    """--replicate pande2021: role_block_h equals calc_block_attn_score ([CLS] and the [SEP]s are
    queries) on the fused and the eager path; headlens's default (text tokens only) differs."""
    from test_roles_metrics import PAIRS

    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("".join(f"{a}\t{b}\n" for a, b in PAIRS), encoding="utf-8")
    spec = headlens.CorpusSpec(str(corpus), format="tsv", text_column=0, text_b_column=1, header="no")
    runs = {(rep, att): headlens.run(out=str(tmp_path / f"{rep}-{att}"), model=tiny_bert_dir, corpus=spec,
                                     analyses=("roles",), dtype="float64", progress=False, attention=att,
                                     store_maps=tuple(str(i) for i in range(len(PAIRS))),
                                     options={"roles": {"replicate": rep}})
            for rep, att in (("pande2021", "auto"), ("pande2021", "eager"), ("none", "auto"))}
    values = {k: {(r["sentence_id"], r["layer"], r["head"]): r["value"] for r in run.scores("role_block_h").to_pylist()}
              for k, run in runs.items()}
    differs = 0
    for sid in range(len(PAIRS)):
        z = np.load(f"{runs[('none', 'auto')].path}/maps/sentence-{sid}.npz")
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                expected = calc_block_attn_score(z["attention"][layer, head].astype(np.float64), z["tokens"])
                for att in ("auto", "eager"):
                    assert values[("pande2021", att)][(sid, layer, head)] == pytest.approx(expected, rel=1e-6)
                differs += abs(values[("none", "auto")][(sid, layer, head)] - expected) > 1e-6 * abs(expected)
    assert differs > 0
