"""The ISO writer: sectors at their offsets, preallocated, and on the disk before the map says so;
and the ISO reader, for every command that only reads an image (verify, analyze, report).

The image holds the 2048-byte user data of LBA 0 .. capacity-1 in order; unreadable sectors are
zero-filled explicitly (never left as a hole that merely reads as zeros). Opening never truncates:
an existing image is a run to resume, and its sectors may already be recorded as read. The
reader opens O_RDONLY, so it cannot change the evidence whatever it is asked.
"""
from __future__ import annotations

import errno
import os
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
            if exc.errno in _NO_SPACE:
                raise _out_of_space(self.path, self.size_bytes, _allocated_bytes(self.path),
                                    _free_bytes(self.path)) from exc
            raise AcquireError(f"cannot {what} image {self.path} ({exc.strerror})",
                               hint="check the disk holding it, then run the same command to resume") from exc


class IsoReader(_SectorFile):
    """An image opened read-only (O_RDONLY): what verify, analyze and the volume label read."""


class IsoWriter(_SectorFile):
    """Writes sectors at their offsets; data reaches the disk (fdatasync) before the map may call it finished."""

    _flags = os.O_RDWR | os.O_CREAT          # never O_TRUNC: an existing image is a run to resume

    def __init__(self, path: Path, sectors: int, *, sector_size: int = SECTOR_BYTES) -> None:
        super().__init__(path, sectors, sector_size=sector_size)
        self._dirty = False

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
        with view:
            done = 0
            while done < len(view):
                written = self._translate(os.pwrite, fd, view[done:], offset + done, what="write to")
                if written == 0:   # not expected from a regular file; do not spin
                    raise AcquireError(f"writing image {self.path} made no progress at byte {offset + done}",
                                       hint=_RESUME_HINT)
                done += written
        self._dirty = True

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

    def sync(self) -> None:
        """fdatasync: everything written so far is on the disk when this returns."""
        self._translate(os.fdatasync, self._require_fd(), what="flush")
        self._dirty = False

    def close(self) -> None:
        """Flush what was written, then close; safe to call twice."""
        if self._fd is None:
            return
        try:
            if self._dirty:
                self.sync()
        finally:
            super().close()


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
