"""Planted effects on a synthetic run (benchmarks/synthetic.py, one seed): the statistics find the
planted role heads, changes and syntax heads, and nothing else."""

import os
import sys

import pytest

from headlens.analyses.compare.changes import ChangeSettings
from headlens.analyses.compare.stats import compare_runs
from headlens.analyses.roles.stats import RoleSettings, head_roles
from headlens.analyses.syntax.stats import SyntaxSettings, dependency_accuracy
from headlens.store import open_run

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from synthetic import CHANGED, ROLE_HEADS, SYNTAX_HEADS, write_synthetic_run  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    base = write_synthetic_run(str(root / "base"), 1500, seed=0, part_size=400)
    twin = write_synthetic_run(str(root / "twin"), 1500, seed=1, analyses=("roles",), shift=0.3, part_size=400)
    return open_run(base), open_run(twin)


def test_the_planted_role_heads_are_found_and_no_others(runs):
    result = head_roles(runs[0], RoleSettings(n_boot=200))
    found = {(r["metric"], r["layer"], r["head"]) for r in result.table.to_pylist() if r["is_role"]}
    assert found == {(m, a, b) for m, cells in ROLE_HEADS.items() for a, b in cells}


def test_the_planted_changes_are_found_and_no_others(runs):
    changes, _ = compare_runs(*runs, ChangeSettings(n_boot=200))
    changed = {(r["metric"], r["layer"], r["head"], r["direction"]) for r in changes.changed("heads")}
    assert changed == {(m, a, b, "up") for m, cells in CHANGED.items() for a, b in cells if m.startswith("role_")}


def test_the_planted_syntax_heads_beat_the_baseline_and_no_others(runs):
    result = dependency_accuracy(runs[0], SyntaxSettings(n_boot=200))
    beats = {(r["relation"], r["layer"], r["head"]) for r in result.heads.to_pylist() if r["beats_baseline"]}
    assert beats == {(rel, a, b) for rel, cells in SYNTAX_HEADS.items() for a, b in cells}
