"""compare: a run against itself finds nothing; against a copy with shifted scores it finds the shift."""

import json
import os
import random
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tiny import WORDS

import headlens
from headlens.analyses.compare.changes import ChangeSettings, paired_changes
from headlens.analyses.compare.stats import compare_runs, save_compare
from headlens.store.outputs import read_outputs
from headlens.cli import main
from headlens.errors import ConfigError
from headlens.store import open_run
from headlens.store.integrity import record


def _corpus(path, n, seed):
    rng = random.Random(seed)
    plain = [w for w in WORDS if not w.startswith("##")]
    path.write_text("\n".join(" ".join(rng.choice(plain) for _ in range(rng.randint(5, 12))) for _ in range(n)) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("cmp")
    corpus = _corpus(root / "c.txt", 40, 0)
    return headlens.run(out=str(root / "base"), model=tiny_bert_dir, corpus=corpus, analyses=("surface",),
                        annotator="regex", progress=False)


def _shifted_copy(run, out, shifts, seed=1):
    """Copy the run; add shift + N(0, 0.002) noise to the scores of (metric, layer, head) in ``shifts``."""
    shutil.copytree(run.path, out)
    rng = np.random.default_rng(seed)
    folder = os.path.join(out, "scores")
    for name in os.listdir(folder):
        table = pq.read_table(os.path.join(folder, name))
        values = table["value"].to_numpy().copy()
        metric = np.asarray(pc.cast(table["metric"], pa.string()).to_pylist())
        for (m, layer, head), shift in shifts.items():
            hit = (metric == m) & (table["layer"].to_numpy() == layer) & (table["head"].to_numpy() == head)
            values[hit] += shift + rng.normal(0, 0.002, hit.sum())
        table = table.set_column(table.schema.get_field_index("value"), "value", pa.array(values.astype(table["value"].type.to_pandas_dtype())))
        pq.write_table(table, os.path.join(folder, name))
    manifest_path = os.path.join(out, "manifest.json")  # the new parts' checksums, as a run that computed them has
    manifest = json.load(open(manifest_path))
    manifest["files"].update(record(out, [f"scores/{name}" for name in os.listdir(folder)]))
    json.dump(manifest, open(manifest_path, "w"))
    return open_run(out)


def test_a_run_compared_with_itself_changes_nothing(base_run):
    changes, params = compare_runs(base_run, base_run)
    assert params["sentences_paired"] == 40 and "prev" in params["metrics"]
    assert not changes.changed("heads") and not changes.changed("layers")
    statuses = set(changes.heads.column("status").to_pylist())
    assert statuses <= {"zero variance", "not enough data"}
    assert changes.families["heads"]["t"]["n_rejected"] == 0


def test_shifted_scores_are_found_with_their_direction(base_run, tmp_path):
    shifted = _shifted_copy(base_run, str(tmp_path / "shifted"), {("prev", 1, 2): 0.06, ("cls", 0, 3): -0.06})
    changes, params = compare_runs(base_run, shifted)
    found = {(r["metric"], r["layer"], r["head"]): r for r in changes.changed("heads")}
    assert set(found) == {("prev", 1, 2), ("cls", 0, 3)}
    assert found[("prev", 1, 2)]["direction"] == "up" and found[("prev", 1, 2)]["delta"] == pytest.approx(0.06, abs=0.002)
    assert found[("cls", 0, 3)]["direction"] == "down" and found[("cls", 0, 3)]["ci_high"] < 0
    layers = {(r["metric"], r["layer"]): r["direction"] for r in changes.changed("layers")}
    assert layers == {("prev", 1): "up", ("cls", 0): "down"}  # the head mean moves by shift / 4 heads > 0.01
    path = save_compare(shifted, changes, params)
    tables, stored = read_outputs(shifted, "compare", "vs-base")
    assert path.endswith(os.path.join("compare", "vs-base"))
    assert stored["changed"]["prev"]["heads_up"] == 1 and stored["families"]["heads"]["t"]["size"] > 0
    assert tables["heads"].num_rows == changes.heads.num_rows


def test_runs_of_different_corpora_are_refused_unless_forced(base_run, tmp_path, tiny_bert_dir):
    other = headlens.run(out=str(tmp_path / "other"), model=tiny_bert_dir, corpus=_corpus(tmp_path / "o.txt", 40, 7),
                         analyses=("surface",), annotator="regex", progress=False)
    with pytest.raises(ConfigError, match="different corpora"):
        compare_runs(base_run, other)
    _, params = compare_runs(base_run, other, force=True)
    assert "different corpora" in params["forced_despite"][0]
    assert main(["compare", base_run.path, other.path]) == 2


def test_paired_changes_checks_shapes_and_needs_enough_sentences():
    x = np.zeros((5, 8))
    with pytest.raises(ValueError, match="not paired"):
        paired_changes({"m": (x, np.zeros((4, 8)))}, heads=4)
    rng = np.random.default_rng(0)
    changes = paired_changes({"m": (x, x + 1 + rng.normal(0, 0.1, x.shape))}, heads=4, settings=ChangeSettings(min_n=10))
    assert set(changes.heads.column("status").to_pylist()) == {"not enough data"}
    assert not changes.changed("heads")


def test_cli_compare_prints_and_stores(base_run, tmp_path, capsys):
    shifted = _shifted_copy(base_run, str(tmp_path / "s2"), {("self", 0, 0): 0.1})
    assert main(["compare", base_run.path, shifted.path, "--name", "t1"]) == 0
    out = capsys.readouterr().out
    assert "heads: 1 of" in out and "self" in out
    assert os.path.exists(os.path.join(shifted.path, "compare", "t1", "params.json"))
