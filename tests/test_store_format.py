"""Store format 2: score values in the compute precision (float32), recorded in the manifest; runs of
format 1 (float64 values, written before) still open and read the same numbers."""

import json
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tiny import WORDS

import headlens
from headlens.analyses.roles.stats import head_roles
from headlens.errors import RunStoreError
from headlens.store import open_run
from headlens.store.integrity import record


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("fmt")
    rng = random.Random(3)
    plain = [w for w in WORDS if not w.startswith("##")]
    corpus = root / "c.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(plain) for _ in range(rng.randint(6, 14))) for _ in range(30)) + "\n")
    return headlens.run(out=str(root / "run"), model=tiny_bert_dir, corpus=str(corpus), analyses=("surface", "roles"),
                        annotator="regex", progress=False)


def as_format_1(run, out: str):
    """A copy of ``run`` as headlens wrote it before store format 2: float64 values, no score_dtype."""
    import shutil

    shutil.copytree(run.path, out)
    folder = os.path.join(out, "scores")
    for name in os.listdir(folder):
        table = pq.read_table(os.path.join(folder, name))
        table = table.set_column(table.schema.get_field_index("value"), "value", table["value"].cast(pa.float64()))
        pq.write_table(table, os.path.join(folder, name))
    path = os.path.join(out, "manifest.json")
    manifest = json.load(open(path))
    manifest["format_version"] = 1
    del manifest["score_dtype"]
    manifest["files"].update(record(out, [f"scores/{name}" for name in os.listdir(folder)]))
    json.dump(manifest, open(path, "w"))
    return open_run(out)


def test_values_are_stored_as_float32_and_the_format_is_recorded(run):
    assert run.manifest["format_version"] == 2 and run.manifest["score_dtype"] == "float32"
    part = os.path.join(run.path, "scores", "part-00000.parquet")
    assert pq.read_schema(part).field("value").type == pa.float32()
    # nothing was rounded: the per-head means of the engine (float64 sums of the computed values)
    # equal those of the stored float32 values
    scores = run.scores("prev").to_pandas()
    scores["value"] = scores["value"].astype(np.float64)
    means = scores.groupby(["layer", "head"])["value"].mean()
    heads = run.heads("prev").to_pandas().set_index(["layer", "head"])["mean"]
    np.testing.assert_allclose(means.sort_index().to_numpy(), heads.sort_index().to_numpy(), rtol=1e-12)


def test_a_format_1_run_opens_and_reads_the_same_numbers(run, tmp_path):
    old = as_format_1(run, str(tmp_path / "old"))
    assert pq.read_schema(os.path.join(old.path, "scores", "part-00000.parquet")).field("value").type == pa.float64()
    new_scores, old_scores = run.scores().sort_by([("sentence_id", "ascending")]), old.scores().sort_by([("sentence_id", "ascending")])
    assert old_scores["value"].type == pa.float64()
    np.testing.assert_array_equal(new_scores["value"].to_numpy().astype(np.float64), old_scores["value"].to_numpy())
    a, b = head_roles(run).table, head_roles(old).table
    assert a.column("is_role").to_pylist() == b.column("is_role").to_pylist()
    np.testing.assert_allclose(np.asarray(a["p"].to_pylist(), dtype=float), np.asarray(b["p"].to_pylist(), dtype=float),
                               rtol=1e-12, equal_nan=True)


def test_a_newer_store_format_is_refused_with_a_clear_message(run, tmp_path):
    import shutil

    out = str(tmp_path / "future")
    shutil.copytree(run.path, out)
    path = os.path.join(out, "manifest.json")
    manifest = json.load(open(path))
    manifest["format_version"] = 99
    json.dump(manifest, open(path, "w"))
    with pytest.raises(RunStoreError, match="store format 99.*upgrade headlens"):
        open_run(out)
