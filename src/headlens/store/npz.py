""".npz files written member by member, never held whole: the stored maps (``runner/maps.py``).

:class:`NpzWriter` writes what ``np.savez`` writes (a zip archive of ``<name>.npy`` members, not
compressed, zip64), and ``np.load`` reads the same arrays from it, but a large member can be given
a chunk at a time (``add``: chunk k of a member [count, *chunk.shape], in order), so that an
[L, H, T, T] map goes to disk a layer at a time as the engine makes it. One member is open at a time:
the first member that starts while none is open is written straight into the archive; chunks of a
member that starts while another is open go to an unnamed temporary file beside it and are copied
in at :meth:`NpzWriter.commit`. The archive goes out in one forward stream: its sha256 is computed
as it is written (the run's checksum index records it without reading the file again), and each
member's CRC and sizes follow its data (zip data descriptors) instead of being patched into its
header.

Atomic as ``store/atomic.py``'s writes: a hidden temporary file renamed over the path once complete;
:meth:`NpzWriter.abandon` (or an error) deletes it. :class:`MemoryNpz` takes the same calls and keeps
the arrays (a scaled-out run's worker sends them to the driver, which writes them).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile

import numpy as np

from .atomic import temporary_file, writing

COPY_BYTES = 16 * 2 ** 20  # a spooled member is copied into the archive this many bytes at a time


def _bytes(chunk: np.ndarray) -> memoryview:
    """The bytes of ``chunk`` in C order (a copy only where it is not C-contiguous)."""
    return memoryview(np.ascontiguousarray(chunk)).cast("B")


def _header(shape: tuple, dtype: np.dtype) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}


class _Hashed:
    """A forward-only file for ``zipfile``: it tells the position and hashes what goes through, and has
    no ``seek``, so ``zipfile`` writes data descriptors instead of seeking back."""

    def __init__(self, fh):
        self.fh, self.pos, self.sha256 = fh, 0, hashlib.sha256()
        self.dropped = False  # abandoned: what zipfile still writes while it closes goes nowhere

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if self.dropped:
            return view.nbytes
        self.sha256.update(view)
        self.fh.write(view)
        self.pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.fh.flush()


class _Member:
    """A member given in chunks: its header, how many chunks it has and has had, and its spool file."""

    def __init__(self, name: str, chunk: np.ndarray, count: int):
        self.name, self.count, self.done = name, count, 0
        self.chunk_shape, self.dtype = chunk.shape, chunk.dtype
        self.header = _header((count, *chunk.shape), chunk.dtype)
        self.spool = None  # an unnamed temporary file, while the archive is busy with another member

    def check(self, chunk: np.ndarray, count: int) -> None:
        if count != self.count or chunk.shape != self.chunk_shape or chunk.dtype != self.dtype or self.done >= count:
            raise ValueError(f"chunk {self.done} of member {self.name!r}: {chunk.dtype} {chunk.shape} of {count}, "
                             f"expected {self.dtype} {self.chunk_shape} of {self.count}")


class NpzWriter:
    """An .npz file at ``path``, written member by member (see the module doc)."""

    def __init__(self, path: str):
        self.path = path
        with writing(path):
            self.tmp = temporary_file(path)
            self._fh = open(self.tmp, "wb")
        self._out = _Hashed(self._fh)
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._members: dict[str, _Member] = {}
        self._open: tuple[_Member, object] | None = None  # the member being written into the archive

    def add(self, name: str, chunk: np.ndarray, count: int) -> None:
        """Chunk number k (the k-th call for ``name``) of member ``name``, an array [count, *chunk.shape]."""
        chunk = np.asarray(chunk)
        member = self._members.get(name)
        if member is None:
            member = self._members[name] = _Member(name, chunk, count)
            if self._open is None:
                self._start(member)
            else:
                member.spool = tempfile.TemporaryFile(dir=os.path.dirname(self.tmp))
        member.check(chunk, count)
        with writing(self.path):
            if self._open is not None and self._open[0] is member:
                self._open[1].write(_bytes(chunk))
            else:
                member.spool.write(_bytes(chunk))
        member.done += 1
        if self._open is not None and self._open[0] is member and member.done == member.count:
            self._close_open()

    def array(self, name: str, value) -> None:
        """A whole member, as ``np.savez`` writes it (``value``: anything ``np.asanyarray`` takes)."""
        if name in self._members:
            raise ValueError(f"member {name!r} is written already")
        with writing(self.path):
            self._wait()
            self._members[name] = None
            with self._zip.open(name + ".npy", "w", force_zip64=True) as fid:
                np.lib.format.write_array(fid, np.asanyarray(value), allow_pickle=False)

    def commit(self) -> dict:
        """Copy the spooled members in, close the archive, publish it under ``path``; its size, sha256
        and mtime_ns as ``integrity.digest`` gives them."""
        try:
            with writing(self.path):
                self._wait()
                for member in self._members.values():
                    if member is not None and member.spool is not None:
                        self._copy(member)
                short = [m.name for m in self._members.values() if m is not None and m.done != m.count]
                if short:
                    raise ValueError(f"members {short} of {self.path} got fewer chunks than they declared")
                self._zip.close()
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                os.replace(self.tmp, self.path)
                st = os.stat(self.path)
        except BaseException:
            self.abandon()
            raise
        return {"size": st.st_size, "sha256": self._out.sha256.hexdigest(), "mtime_ns": st.st_mtime_ns}

    def abandon(self) -> None:
        """Delete what was written (nothing of it is kept); nothing happens once committed."""
        self._out.dropped = True
        try:  # closed into nothing, so that nothing is left to write when it is collected
            if self._open is not None:
                self._open[1].close()
            self._zip.close()
        except (OSError, ValueError, RuntimeError):
            pass
        self._open = None
        for member in self._members.values():
            if member is not None and member.spool is not None:
                member.spool.close()
        if not self._fh.closed:
            self._fh.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def _start(self, member: _Member) -> None:
        with writing(self.path):
            handle = self._zip.open(member.name + ".npy", "w", force_zip64=True)
            np.lib.format.write_array_header_1_0(handle, member.header)
        self._open = (member, handle)

    def _close_open(self) -> None:
        with writing(self.path):
            self._open[1].close()
        self._open = None

    def _wait(self) -> None:
        if self._open is not None:
            member = self._open[0]
            raise ValueError(f"member {member.name!r} of {self.path} is open: it has had {member.done} of its "
                             f"{member.count} chunks")

    def _copy(self, member: _Member) -> None:
        """A spooled member into the archive, COPY_BYTES at a time."""
        spool, member.spool = member.spool, None
        self._start(member)
        buf = bytearray(min(COPY_BYTES, max(1, spool.tell())))
        spool.seek(0)
        while n := spool.readinto(buf):
            self._open[1].write(memoryview(buf)[:n])
        spool.close()
        self._close_open()


class MemoryNpz:
    """The calls of :class:`NpzWriter`, kept in memory: ``arrays`` (name -> array or value)."""

    def __init__(self):
        self.arrays: dict = {}
        self._done: dict[str, int] = {}

    def add(self, name: str, chunk: np.ndarray, count: int) -> None:
        chunk = np.asarray(chunk)
        if name not in self.arrays:
            self.arrays[name], self._done[name] = np.empty((count, *chunk.shape), dtype=chunk.dtype), 0
        self.arrays[name][self._done[name]] = chunk
        self._done[name] += 1

    def array(self, name: str, value) -> None:
        self.arrays[name] = value


def write_npz(path: str, arrays: dict) -> dict:
    """``arrays`` as the .npz file ``path`` (atomic), and the file's digest (:meth:`NpzWriter.commit`)."""
    out = NpzWriter(path)
    try:
        for name, value in arrays.items():
            out.array(name, value)
    except BaseException:
        out.abandon()
        raise
    return out.commit()
