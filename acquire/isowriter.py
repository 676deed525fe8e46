"""The ISO writer: sectors at their offsets, preallocated, and on the disk before the map says so;
and the ISO reader, for every command that only reads an image (verify, analyze, report).

The image holds the 2048-byte user data of LBA 0 .. capacity-1 in order; unreadable sectors are
zero-filled explicitly (never left as a hole that merely reads as zeros). Opening never truncates:
an existing image is a run to resume, and its sectors may already be recorded as read. The
reader opens O_RDONLY, so it cannot change the evidence whatever it is asked.
"""
from __future__ import annotations

import errno
import mmap
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .drive.mmc import USER_DATA_BYTES
from .errors import AcquireError, OutOfSpace

SECTOR_BYTES = USER_DATA_BYTES      # one sector of the image: the 2048 bytes of user data a READ(10) gives
_ZERO_CHUNK_BYTES = 1 << 20         # zero() writes at most this much per call
_RESUME_HINT = "free space or choose another place, then run the same command to resume"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class _SectorFile:
    """An image file opened once: whole sectors by LBA, every system call's failure in one line."""

    _flags = os.O_RDONLY

    def __init__(self, path: Path, sectors: int, *, sector_size: int = SECTOR_BYTES) -> None:
        if sectors < 0 or sector_size <= 0:
            raise ValueError(f"bad geometry: {sectors} sectors of {sector_size} bytes")
        self.path = Path(path)
        self.sectors = sectors
        self.sector_size = sector_size
        try:
            self._fd: int | None = os.open(self.path, self._flags | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise AcquireError(f"cannot open image {self.path} ({exc.strerror})",
                               hint="check the path and its permissions") from exc

    @property
    def size_bytes(self) -> int:
        """The size the image has when complete."""
        return self.sectors * self.sector_size

    def read(self, lba: int, count: int) -> bytes:
        """`count` sectors from `lba` as the file holds them (shorter only where the file ends)."""
        fd = self._require_fd()
        self._check_range(lba, count)
        offset, wanted = lba * self.sector_size, count * self.sector_size
        parts = []
        got = 0
        while got < wanted:
            part = self._translate(os.pread, fd, wanted - got, offset + got, what="read")
            if not part:
                break
            parts.append(part)
            got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        """Close; safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _require_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"image {self.path} is closed")
        return self._fd

    def _check_range(self, lba: int, count: int) -> None:
        if lba < 0 or count < 0 or lba + count > self.sectors:
            raise ValueError(f"sectors {lba}..{lba + count - 1} are outside the image's 0..{self.sectors - 1}")

    def _translate(self, call, *args, what: str):
        """Run one system call; a full disk becomes OutOfSpace, any other failure AcquireError."""
        try:
            return call(*args)
        except OSError as exc:
            raise self._failure(exc, what) from exc

    def _failure(self, exc: OSError, what: str) -> AcquireError:
        """A system call's OSError as the one line the user sees."""
        if exc.errno in _NO_SPACE:
            return _out_of_space(self.path, self.size_bytes, _allocated_bytes(self.path), _free_bytes(self.path))
        return AcquireError(f"cannot {what} image {self.path} ({exc.strerror})",
                            hint="check the disk holding it, then run the same command to resume")


class IsoReader(_SectorFile):
    """An image opened read-only (O_RDONLY): what verify, analyze and the volume label read."""


class IsoWriter(_SectorFile):
    """Writes sectors at their offsets; data reaches the disk (fdatasync) before the map may call it finished.

    Sectors that arrive in order are gathered into 2 MiB blocks and written with O_DIRECT by one
    worker thread, straight from page-aligned buffers: no page-cache copy, which on the 2-core VM
    here costs 2.2-2.8 CPU-seconds a GB of buffered pwrite (first touch of each page cache page)
    against 0.03-0.04 for the same GB written direct (benchmarks/write_modes.py, docs/benchmarks.md).
    Everything else (a sector out of order, an unaligned start, a file system without O_DIRECT)
    is written buffered, as before. `flush()` hands every gathered byte to the kernel; `sync()`
    flushes, then fdatasyncs.
    """

    _flags = os.O_RDWR | os.O_CREAT          # never O_TRUNC: an existing image is a run to resume

    def __init__(self, path: Path, sectors: int, *, sector_size: int = SECTOR_BYTES) -> None:
        super().__init__(path, sectors, sector_size=sector_size)
        self._dirty = False
        self._behind = _WriteBehind.open(self.path, self._fd, self._failure)

    # -- space -------------------------------------------------------------------------------------
    @staticmethod
    def check_space(path: Path, needed_bytes: int) -> None:
        """Raise OutOfSpace unless the file system holding `path` can take an image of `needed_bytes`.

        Blocks an existing (partial) image already holds count as available to it.
        """
        path = Path(path)
        allocated = _allocated_bytes(path)
        free = _free_bytes(path)
        if needed_bytes - allocated > free:
            raise _out_of_space(path, needed_bytes, allocated, free)

    def preallocate(self) -> None:
        """Reserve the whole image on disk; its size becomes sectors x sector_size."""
        fd = self._require_fd()
        size = self.size_bytes
        current = os.fstat(fd).st_size
        if current > size:
            raise AcquireError(f"image {self.path} holds {current} bytes, more than the disc's {size}",
                               hint="this image is not of this disc; choose another image path")
        if size == 0:
            return
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise _out_of_space(self.path, size, _allocated_bytes(self.path), _free_bytes(self.path)) from exc
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise AcquireError(f"cannot preallocate image {self.path} ({exc.strerror})",
                                   hint=_RESUME_HINT) from exc
            # a file system without fallocate: set the size; blocks are allocated as sectors arrive
            if current < size:
                self._translate(os.ftruncate, fd, size, what="set the size of")
        self._dirty = True

    # -- data --------------------------------------------------------------------------------------
    def write(self, lba: int, data: bytes | bytearray | memoryview) -> None:
        """Write whole sectors starting at `lba` (the full length, looping on short writes)."""
        fd = self._require_fd()
        view = memoryview(data).cast("B")
        count, rest = divmod(len(view), self.sector_size)
        if rest:
            raise ValueError(f"{len(view)} bytes is not a whole number of {self.sector_size}-byte sectors")
        self._check_range(lba, count)
        offset = lba * self.sector_size
        self._dirty = True
        with view:
            if self._behind is not None:
                if self._behind.take(offset, view):
                    return
                self._behind.flush()         # a write out of order never overtakes gathered bytes
                if self._behind.take(offset, view):
                    return
            self._translate(_pwrite_all, fd, view, offset, what="write to")

    def read(self, lba: int, count: int) -> bytes:
        """As `_SectorFile.read`, after every gathered byte is in the file."""
        self.flush()
        return super().read(lba, count)

    def zero(self, lba: int, count: int) -> None:
        """Zero-fill `count` sectors from `lba` (unreadable sectors are written as zeros, explicitly)."""
        self._check_range(lba, count)
        per_call = max(1, _ZERO_CHUNK_BYTES // self.sector_size)
        zeros = bytes(min(count, per_call) * self.sector_size)
        while count > 0:
            n = min(count, per_call)
            self.write(lba, memoryview(zeros)[:n * self.sector_size])
            lba += n
            count -= n

    def flush(self) -> None:
        """Every byte written so far is in the file (not yet on the disk: that is `sync`)."""
        if self._behind is not None:
            self._behind.flush()

    def datasync(self) -> None:
        """fdatasync only: what `flush` (or a buffered write) put in the file is on the disk on return.

        The checkpoint's background thread calls this after the copy's thread flushed."""
        self._translate(os.fdatasync, self._require_fd(), what="flush")

    def sync(self) -> None:
        """fdatasync: everything written so far is on the disk when this returns."""
        self.flush()
        self.datasync()
        self._dirty = False

    def close(self) -> None:
        """Flush what was written, then close; safe to call twice."""
        if self._fd is None:
            return
        try:
            if self._dirty:
                self.sync()
        finally:
            if self._behind is not None:
                self._behind.close()
            super().close()


class _WriteBehind:
    """In-order sectors gathered into page-aligned 2 MiB blocks, written with O_DIRECT by one thread.

    A block starts only at a 4 KiB-aligned offset (O_DIRECT wants offset, length and buffer aligned
    to the file system's block; 4 KiB covers 512- and 4096-byte devices) and its tail beyond the
    last whole 4 KiB goes buffered. Three buffers: one filling while two are being written.
    """

    BLOCK_BYTES = 2 << 20
    ALIGN = 4096
    BUFFERS = 3

    def __init__(self, direct_fd: int, buffered_fd: int, failure) -> None:
        self.direct_fd, self.buffered_fd, self.failure = direct_fd, buffered_fd, failure
        self.free = [mmap.mmap(-1, self.BLOCK_BYTES) for _ in range(self.BUFFERS)]
        self.in_flight: deque[Future] = deque()
        self.buffer: mmap.mmap | None = None
        self.start = self.length = 0          # the filling block: file offset and bytes gathered
        self.direct_ok = True                 # until the file system answers EINVAL to an aligned write
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="image-write")

    @classmethod
    def open(cls, path: Path, buffered_fd: int, failure) -> "_WriteBehind | None":
        """None where the file system refuses O_DIRECT (then every write is buffered)."""
        try:
            direct_fd = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(direct_fd, buffered_fd, failure)

    def take(self, offset: int, view: memoryview) -> bool:
        """Gather `view` (bytes at `offset`) if it continues the block or may start one; else False."""
        if self.buffer is not None and offset != self.start + self.length:
            return False
        if self.buffer is None and offset % self.ALIGN:
            return False
        done = 0
        while done < len(view):
            if self.buffer is None:
                self.buffer, self.start, self.length = self._free_buffer(), offset + done, 0
            n = min(len(view) - done, self.BLOCK_BYTES - self.length)
            self.buffer[self.length:self.length + n] = view[done:done + n]
            self.length += n
            done += n
            if self.length == self.BLOCK_BYTES:
                self._submit()
        return True

    def flush(self) -> None:
        """Submit the filling block and wait for every write; a write's failure is raised here."""
        if self.buffer is not None:
            self._submit()
        while self.in_flight:
            self._wait_oldest()

    def close(self) -> None:
        """Wait for the writes without raising again, then release the thread and the descriptor."""
        for done in self.in_flight:
            done.exception()
        self.in_flight.clear()
        self._thread.shutdown(wait=True)
        os.close(self.direct_fd)

    def _submit(self) -> None:
        buffer, start, length = self.buffer, self.start, self.length
        self.buffer = None
        self.in_flight.append(self._thread.submit(self._write_block, buffer, start, length))

    def _write_block(self, buffer: mmap.mmap, start: int, length: int) -> mmap.mmap:
        """In the worker: the aligned part direct, the tail (and all of it where EINVAL says the file
        system wants another alignment) buffered."""
        aligned = length - length % self.ALIGN if self.direct_ok else 0
        with memoryview(buffer) as view:
            try:
                try:
                    _pwrite_all(self.direct_fd, view[:aligned], start)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    self.direct_ok, aligned = False, 0
                _pwrite_all(self.buffered_fd, view[aligned:length], start + aligned)
            except OSError as exc:
                raise self.failure(exc, "write to") from exc
        return buffer

    def _free_buffer(self) -> mmap.mmap:
        while not self.free:
            self._wait_oldest()
        return self.free.pop()

    def _wait_oldest(self) -> None:
        done = self.in_flight.popleft()
        try:
            self.free.append(done.result())
        except BaseException:
            self.free.append(mmap.mmap(-1, self.BLOCK_BYTES))   # the failed write's buffer stays with it
            raise


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    """pwrite the whole view, looping on short writes (OSError as the kernel gave it)."""
    done = 0
    while done < len(view):
        written = os.pwrite(fd, view[done:], offset + done)
        if written == 0:   # not expected from a regular file; do not spin
            raise OSError(errno.EIO, f"no progress writing at byte {offset + done}")
        done += written


def _allocated_bytes(path: Path) -> int:
    try:
        return os.stat(path).st_blocks * 512      # st_blocks is always in 512-byte units
    except FileNotFoundError:
        return 0


def _free_bytes(path: Path) -> int:
    stat = os.statvfs(_existing_dir(path))
    return stat.f_bavail * stat.f_frsize          # what an unprivileged writer may use


def _existing_dir(path: Path) -> Path:
    directory = Path(os.path.abspath(path)).parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _mount_point(path: Path) -> Path:
    directory = _existing_dir(path)
    while not os.path.ismount(directory):
        directory = directory.parent
    return directory


def _out_of_space(path: Path, needed: int, allocated: int, free: int) -> OutOfSpace:
    missing = max(0, needed - allocated)
    return OutOfSpace(
        f"not enough space for {path}: needs {_human(needed)}, {_human(free)} free on {_mount_point(path)} "
        f"({missing} bytes still to allocate, {free} bytes available)",
        hint=_RESUME_HINT)


def _human(n: int) -> str:
    """Decimal units, as df -H and disc labels use them: 4.7 GB."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
