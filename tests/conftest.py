import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tiny import make_tiny_bert  # noqa: E402

SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
UD_DEV = os.path.join(SHARED, "ud-english-ewt", "en_ewt-ud-dev.conllu")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> str:
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="session")
def tiny_model(tiny_bert_dir):
    from headlens.models import load_model

    return load_model(tiny_bert_dir, dtype="float64")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADLENS_CACHE_DIR", str(tmp_path / "cache"))


def write(tmp_path, name: str, content: str | bytes) -> str:
    """Write a test input file (text as UTF-8, bytes as they are) and return its path."""
    p = tmp_path / name
    if isinstance(content, str):
        p.write_text(content, encoding="utf-8")
    else:
        p.write_bytes(content)
    return str(p)


def require_shared(path: str) -> str:
    if not os.path.exists(path):
        if os.environ.get("CI") or os.environ.get("HEADLENS_CI"):
            raise AssertionError(f"{path} is missing: CI runs with ../shared beside the repo")
        pytest.skip(f"{path} not available (../shared/data is not beside this checkout)")
    return path
