"""Head roles with tests: power on a wired head, no role from uniform heads, defined small-sample
behaviour, the recorded family, and the stored tables."""

import json
import os
import random

import numpy as np
import pytest
from test_roles_metrics import CONLLU
from tiny import WORDS
from wired import make_previous_token_bert

import headlens
from headlens.analyses.roles.stats import RoleSettings, head_roles
from headlens.analyses.matrix import score_matrices
from headlens.cli import main
from headlens.stats import NOT_ENOUGH_DATA


@pytest.fixture(scope="module")
def wired_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wired")
    model = make_previous_token_bert(str(root / "model"))
    rng = random.Random(0)
    plain = [w for w in WORDS if not w.startswith("##")]
    lines = [" ".join(rng.choice(plain) for _ in range(rng.randint(16, 26))) for _ in range(100)]
    corpus = root / "c.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return headlens.run(out=str(root / "run"), model=model, corpus=str(corpus), analyses=("roles",),
                        annotator="regex", progress=False)


def _cells(result, role, tau=3.0):
    return {(r["layer"], r["head"]): r for r in result.table.to_pylist() if r["role"] == role and r["tau"] == tau}


def test_previous_token_head_is_local_and_uniform_heads_have_no_role(wired_run):
    result = head_roles(wired_run)
    local = _cells(result, "local")
    assert local[(0, 0)]["is_role"] and local[(0, 0)]["q"] < 0.05 and local[(0, 0)]["n"] == 100
    assert local[(0, 0)]["mean"] > 3
    roles = result.roles_of()
    assert roles == {"local": {(0, 0)}}  # uniform heads (0, 1), (1, 0), (1, 1) have no role at all
    for head in ((0, 1), (1, 0), (1, 1)):
        assert local[head]["mean"] == pytest.approx(1.0, abs=1e-5)
        assert not local[head]["is_role"]


def test_roles_without_data_are_not_tested_and_never_roles(wired_run):
    """Plain text has no syntax (regex words) and no pairs: those roles say so, with no p."""
    result = head_roles(wired_run)
    for role in ("syntactic:nsubj:d2h", "block", "syntactic:all:h2d"):
        for r in _cells(result, role).values():
            assert r["n"] == 0 and r["status"] == NOT_ENOUGH_DATA and r["p"] is None and not r["is_role"]
    tested = [r for r in result.table.to_pylist() if r["p"] is not None]
    assert result.families["t"]["size"] == len(tested) > 0  # the family counts tested cells only


def test_min_n_gives_not_enough_data(wired_run):
    result = head_roles(wired_run, RoleSettings(min_n=101))
    assert not any(r["is_role"] for r in result.table.to_pylist())
    assert {r["status"] for r in result.table.to_pylist()} == {NOT_ENOUGH_DATA}


def test_pande_replication_uses_ddof0_and_no_correction(wired_run):
    result = head_roles(wired_run, RoleSettings.replicate("pande2021"))
    x = score_matrices(wired_run, ["role_local_w2"])["role_local_w2"].column(0, 0)
    x = x[np.isfinite(x)]
    t = (x.mean() - 3.0) / (x.std(ddof=0) / np.sqrt(len(x)))
    cell = _cells(result, "local")[(0, 0)]
    assert cell["statistic"] == pytest.approx(t, rel=1e-9)
    assert cell["q"] == pytest.approx(cell["p"])  # no correction
    assert "role_block_h" in {r["metric"] for r in result.table.to_pylist()}


def test_several_taus_form_one_family(wired_run):
    one = head_roles(wired_run, RoleSettings(taus=(3.0,)))
    grid = head_roles(wired_run, RoleSettings(taus=(1.0, 2.0, 3.0)))
    assert grid.families["t"]["size"] == 3 * one.families["t"]["size"]
    assert len(grid.families["t"]["members"]) == 3 * len(one.families["t"]["members"])


def test_run_with_roles_stores_tables_and_the_cli_recomputes(wired_run, capsys):
    base = os.path.join(wired_run.path, "roles", "default")
    params = json.load(open(os.path.join(base, "params.json")))
    assert params["heads_per_role"]["local"] == 1 and params["settings"]["correction"] == "fdr_bh"
    assert main(["roles", wired_run.path, "--tau", "2,3", "--correction", "holm", "--name", "holm"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "L1H1" in out and "original procedure" in out
    params = json.load(open(os.path.join(wired_run.path, "roles", "holm", "params.json")))
    assert params["settings"]["taus"] == [2.0, 3.0] and params["families"]["t"]["method"] == "holm"


def test_colocation_and_layers_are_consistent(tmp_path, tiny_bert_dir):
    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU * 5, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), analyses=("roles",), progress=False)
    result = head_roles(run, RoleSettings(taus=(1.0,), min_n=3, distribution_free="none", correction="none"))
    roles = result.roles_of(1.0)
    co = {(r["role_a"], r["role_b"]): r for r in result.colocation.to_pylist()}
    for (a, b), r in co.items():
        assert r["heads_both"] == co[(b, a)]["heads_both"] == len(roles.get(a, set()) & roles.get(b, set()))
        if a == b:
            assert r["heads_both"] == r["heads_a"]
    per_layer = result.layers.to_pylist()
    for role, heads in roles.items():
        assert sum(r["heads"] for r in per_layer if r["role"] == role) == len(heads)
    # syntactic roles only count sentences with the relation: amod is in 1 of the 4 sentences
    amod = _cells(result, "syntactic:amod:d2h", 1.0)
    assert {r["n"] for r in amod.values()} == {5}
    nsubj = _cells(result, "syntactic:nsubj:d2h", 1.0)
    assert {r["n"] for r in nsubj.values()} == {20}


def test_the_top_level_functions_take_settings_as_fields_or_a_dict(wired_run):
    """headlens.roles / headlens.compare (the API of issue 23, item 8) on a stored run."""
    result = headlens.roles(wired_run.path, taus=(1.0,), min_n=3, distribution_free="none")
    assert result.settings.taus == (1.0,) and result.settings.min_n == 3
    same = headlens.roles(wired_run, settings={"taus": "1", "min_n": 3, "distribution_free": "none"})
    assert same.table.equals(result.table)
    with pytest.raises(headlens.ConfigError, match="The 'alpha' parameter of RoleSettings"):
        headlens.roles(wired_run, alpha=2.0)
    with pytest.raises(headlens.ConfigError, match="has no option 'alfa'"):
        headlens.roles(wired_run, settings={"alfa": 0.1})
    changes, params = headlens.compare(wired_run, wired_run, min_n=3, metrics=["role_delim"])
    assert params["metrics"] == ["role_delim"] and not changes.changed()
