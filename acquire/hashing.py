"""Image hashes: MD5, SHA-1, SHA-256, XXH3-128 and CRC32 of the whole stream, and piecewise windows.

Where the time goes (measured on the 2-core Xeon with SHA-NI and AVX-512, OpenSSL 3.0, per GiB,
one thread, `python benchmarks/hash_primitives.py`):

    md5 1.42 s   sha1 0.55 s   sha256 0.62 s   window blake3 0.15 s (window sha256 0.59 s)
    xxh128 (whole + windows) 0.05 s   crc32: ISA-L 0.02 s (zlib 1.2.13 0.22 s)

The windows' strong digest is BLAKE3 (a 256-bit, collision-resistant hash, four times cheaper
than a second SHA-256 pass here); records written before it hold SHA-256 windows, and
`StreamHasher(window_hash="sha256")` still computes those, so an old record verifies as written.
CRC32 comes from ISA-L (the `isal` package; zlib's as a fallback), the same ISO-HDLC polynomial.

MD5 cannot be split and is the longest single chain, so no static one-thread-per-algorithm split
balances two cores. Instead every chunk becomes a set of tasks taken by a small pool of worker
threads: one task per (algorithm, chunk) for the five whole-stream digests, which must run in
chunk order within their algorithm (a "lane"), and one task per window (BLAKE3 + XXH3-128 of
1 MiB), which are independent and fill whichever core the lanes leave idle. hashlib, xxhash, blake3
and ISA-L release the GIL on large buffers, so the threads really run in parallel. Chunks live in a fixed
pool of buffers that the caller fills (one copy) and the workers only read; the caller blocks when
every buffer is still in use, which bounds memory and how far hashing may fall behind.
"""
from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import blake3
import xxhash

from .errors import AcquireError

try:                    # ISA-L's CRC32 (PCLMULQDQ folding): ~10x zlib 1.2's on this machine
    from isal.isal_zlib import crc32 as _crc32
except ImportError:     # pragma: no cover - isal is a dependency; zlib gives the same values
    _crc32 = zlib.crc32

# crc32: zlib's (ISO-HDLC, as in gzip, PNG, SFV), the one Redump and No-Intro DAT files carry
ALGORITHMS = ("md5", "sha1", "sha256", "xxh128", "crc32")
# the windows' strong digest: "blake3" for new records; "sha256" in records written before it
WINDOW_HASHES = ("blake3", "sha256")
WINDOW_HASH = "blake3"
WINDOW_BYTES = 1 << 20          # piecewise windows: 1 MiB = 512 sectors of 2048 bytes
# hashlib releases the GIL above 2 KiB. Measured on the 2-core EPYC (1 MiB L2 a core): 2 MiB chunks
# beat 4 MiB by ~5% when fed in 64 KiB..1 MiB pieces (the freshly copied chunk is still in cache when
# the lanes read it) and 8 MiB by ~8%; below 1 MiB the per-task overhead starts to show.
CHUNK_BYTES = 2 << 20

# Lanes in the order a free worker looks at them: longest chain first (critical-path scheduling).
_LANE_ORDER = ("md5", "sha256", "sha1", "crc32", "xxh128")


@dataclass(frozen=True, slots=True)
class Window:
    """One piecewise window: bytes [offset, offset + length) of the image."""

    index: int
    offset: int
    length: int
    xxh128: str
    sha256: str | None                 # records written before BLAKE3 windows
    blake3: str | None = None          # new records; exactly one of the two is set

    @property
    def strong(self) -> tuple[str, str]:
        """(algorithm, hex) of the window's collision-resistant digest."""
        return ("blake3", self.blake3) if self.blake3 is not None else ("sha256", self.sha256)

    def row(self) -> tuple:
        """The `windows` row: idx, offset, length, xxh128, sha256, blake3."""
        return (self.index, self.offset, self.length, self.xxh128, self.sha256, self.blake3)


class WindowDigests(Sequence):
    """The piecewise windows as raw digests, 48 bytes a window (xxh128, then the strong digest); a Window is
    made only when asked for. A 100 GB disc has 95,367 windows: as Window objects they would cost
    ~35 MiB and grow with the disc; this way ~4.6 MiB."""

    _DIGEST_BYTES = 16 + 32

    def __init__(self, size: int = 0, window_bytes: int = WINDOW_BYTES, algorithm: str = WINDOW_HASH) -> None:
        self.size, self.window_bytes, self.algorithm = size, window_bytes, algorithm
        self._raw = bytearray()

    def put(self, index: int, xxh128: bytes, strong: bytes) -> None:
        at = index * self._DIGEST_BYTES
        if len(self._raw) < at + self._DIGEST_BYTES:
            self._raw.extend(bytes(at + self._DIGEST_BYTES - len(self._raw)))
        self._raw[at:at + self._DIGEST_BYTES] = xxh128 + strong

    def __len__(self) -> int:
        return -(-self.size // self.window_bytes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        raw = self._raw[index * self._DIGEST_BYTES:(index + 1) * self._DIGEST_BYTES]
        offset = index * self.window_bytes
        length = min(self.window_bytes, self.size - offset)
        if self.algorithm == "sha256":
            return Window(index, offset, length, raw[:16].hex(), raw[16:].hex())
        return Window(index, offset, length, raw[:16].hex(), None, raw[16:].hex())

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None


@dataclass(frozen=True, slots=True)
class Hashes:
    size: int
    md5: str
    sha1: str
    sha256: str
    xxh128: str
    crc32: str                         # 8 lowercase hex digits
    windows: Sequence[Window]          # a WindowDigests: Window objects made on demand

    @property
    def window_hash(self) -> str:
        """The windows' strong digest: "blake3", or "sha256" when asked for (an older record)."""
        return getattr(self.windows, "algorithm", WINDOW_HASH)

    def as_dict(self) -> dict[str, str]:
        """The five whole-image digests, hex, keyed by algorithm name."""
        return {name: getattr(self, name) for name in ALGORITHMS}


class _Crc32:
    """zlib.crc32 with hashlib's update()/hexdigest(), so it runs as one more lane."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data) -> None:
        self.value = _crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


def _new_digest(name: str):
    if name == "crc32":
        return _Crc32()
    return xxhash.xxh3_128() if name == "xxh128" else hashlib.new(name)


def _default_workers() -> int:
    # four lanes and any number of windows: more than 4 threads cannot shorten the MD5 chain. At least
    # 3: on 2 cores a third worker fills the gaps while the copy's thread holds the GIL (a 1 GB
    # acquisition, quiet machine, four runs each: 2.70-2.86 s with 3 workers, 2.90-3.01 s with 2)
    return max(3, min(4, os.cpu_count() or 2))


class _Chunk:
    __slots__ = ("buffer", "view", "offset", "length", "pending")

    def __init__(self, buffer: bytearray, offset: int, length: int) -> None:
        self.buffer = buffer
        self.view = memoryview(buffer)[:length]
        self.offset = offset
        self.length = length
        self.pending = 0            # tasks still reading this chunk; at 0 the buffer goes back to the pool


class _Lane:
    __slots__ = ("name", "digest", "queue", "busy")

    def __init__(self, name: str) -> None:
        self.name = name
        self.digest = _new_digest(name)
        self.queue: deque[_Chunk] = deque()
        self.busy = False


class StreamHasher:
    """Hashes bytes fed in order, in worker threads (hashlib and xxhash release the GIL on large buffers).

        hasher = StreamHasher()
        hasher.update(sectors)          # as many times as needed, in stream order
        hashes = hasher.finish()        # or hasher.abort(): every StreamHasher ends with one of the two
    """

    def __init__(self, *, window_bytes: int = WINDOW_BYTES, chunk_bytes: int = CHUNK_BYTES,
                 workers: int | None = None, buffers: int | None = None,
                 window_hash: str = WINDOW_HASH) -> None:
        if window_hash not in WINDOW_HASHES:
            raise ValueError(f"window_hash must be one of {WINDOW_HASHES}, not {window_hash!r}")
        if window_bytes <= 0 or chunk_bytes <= 0 or chunk_bytes % window_bytes:
            raise ValueError(f"chunk_bytes ({chunk_bytes}) must be a positive multiple of window_bytes ({window_bytes})")
        self.window_bytes = window_bytes
        self.chunk_bytes = chunk_bytes
        workers = workers or _default_workers()
        # one being filled by the caller, the rest queued or in the workers' hands: enough backlog for the
        # pool to find window work while the MD5 lane is busy, and at most buffers x chunk_bytes of memory
        buffers = buffers or workers + 2
        self._free: list[bytearray] = [bytearray(chunk_bytes) for _ in range(buffers)]
        self._cond = threading.Condition()
        self._lanes = [_Lane(name) for name in _LANE_ORDER]
        self._window_tasks: deque[tuple[_Chunk, int]] = deque()      # (chunk, start within the chunk)
        self._windows = WindowDigests(window_bytes=window_bytes, algorithm=window_hash)
        self._strong = _blake3_digest if window_hash == "blake3" else _sha256_digest
        self._fill: bytearray | None = None
        self._fill_len = 0
        self._submitted = 0         # bytes handed to the workers
        self._closing = False
        self._stopped = False       # finished or aborted: no more input
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, name=f"hasher-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    # -- the caller's side -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._submitted + self._fill_len

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add the next bytes of the stream; copies them, so the caller may reuse its buffer."""
        if self._stopped or self._error is not None:
            self._check_running()
        fill, used = self._fill, self._fill_len
        if fill is not None and type(data) in (bytes, bytearray) and used + len(data) < self.chunk_bytes:
            fill[used:used + len(data)] = data      # the common case: one READ's worth into the open chunk
            self._fill_len = used + len(data)
            return
        view = memoryview(data).cast("B")
        while view:
            if self._fill is None:
                self._fill = self._take_buffer()
                self._fill_len = 0
            n = min(len(view), self.chunk_bytes - self._fill_len)
            self._fill[self._fill_len:self._fill_len + n] = view[:n]
            self._fill_len += n
            view = view[n:]
            if self._fill_len == self.chunk_bytes:
                self._submit(self._fill, self._fill_len)
                self._fill, self._fill_len = None, 0

    def finish(self) -> Hashes:
        """Hash what is left, join the workers and return the digests."""
        self._check_running()
        if self._fill is not None:
            if self._fill_len:
                self._submit(self._fill, self._fill_len)
            self._fill, self._fill_len = None, 0
        self._shutdown()
        if self._error is not None:
            raise self._error
        digests = {lane.name: lane.digest.hexdigest() for lane in self._lanes}
        self._windows.size = self._submitted
        return Hashes(self._submitted, digests["md5"], digests["sha1"], digests["sha256"], digests["xxh128"],
                      digests["crc32"], self._windows)

    def abort(self) -> None:
        """Stop the workers without a result (on errors); safe to call more than once."""
        if self._stopped:
            return
        with self._cond:
            self._window_tasks.clear()
            for lane in self._lanes:
                lane.queue.clear()
        self._fill = None
        self._shutdown()

    def __enter__(self) -> StreamHasher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.abort()

    # -- shared with hash_file, which reads straight into pool buffers ---------------------------
    def _take_buffer(self) -> bytearray:
        with self._cond:
            while not self._free and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            return self._free.pop()

    def _give_back(self, buffer: bytearray) -> None:
        with self._cond:
            self._free.append(buffer)
            self._cond.notify_all()

    def _submit(self, buffer: bytearray, length: int) -> None:
        """Hand `length` bytes of `buffer` to the workers; the caller must not touch it again."""
        chunk = _Chunk(buffer, self._submitted, length)
        starts = range(0, length, self.window_bytes)
        with self._cond:
            chunk.pending = len(self._lanes) + len(starts)
            for lane in self._lanes:
                lane.queue.append(chunk)
            self._window_tasks.extend((chunk, start) for start in starts)
            self._cond.notify_all()
        self._submitted += length

    def _check_running(self) -> None:
        if self._error is not None:
            raise self._error
        if self._stopped:
            raise RuntimeError("this StreamHasher has finished or was aborted")

    def _shutdown(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        self._stopped = True

    # -- the workers' side -------------------------------------------------------------------------
    def _next_task(self):
        for lane in self._lanes:
            if lane.queue and not lane.busy:
                lane.busy = True
                return lane, lane.queue.popleft()
        if self._window_tasks:
            chunk, start = self._window_tasks.popleft()
            return None, (chunk, start)
        return None

    def _idle(self) -> bool:
        """True when no task is queued (tasks in progress queue nothing new)."""
        return not self._window_tasks and not any(lane.queue for lane in self._lanes)

    def _work(self) -> None:
        cond = self._cond
        while True:
            with cond:
                task = self._next_task()
                while task is None:
                    if self._error is not None or (self._closing and self._idle()):
                        return
                    cond.wait()
                    task = self._next_task()
            lane, item = task
            window = None
            try:
                if lane is not None:
                    chunk = item
                    lane.digest.update(chunk.view)
                else:
                    chunk, start = item
                    piece = chunk.view[start:start + self.window_bytes]
                    offset = chunk.offset + start
                    window = (offset // self.window_bytes, xxhash.xxh3_128_digest(piece), self._strong(piece))
            except BaseException as exc:  # a bug, not a disc problem: surface it in the caller's thread
                with cond:
                    self._error = exc
                    cond.notify_all()
                return
            with cond:
                if lane is not None:
                    lane.busy = False
                else:
                    self._windows.put(*window)
                chunk.pending -= 1
                if chunk.pending == 0:
                    chunk.view.release()
                    self._free.append(chunk.buffer)
                cond.notify_all()


def _blake3_digest(piece) -> bytes:
    return blake3.blake3(piece).digest()


def _sha256_digest(piece) -> bytes:
    return hashlib.sha256(piece).digest()


def hash_file(path: str | os.PathLike, *, window_bytes: int = WINDOW_BYTES, chunk_bytes: int = CHUNK_BYTES,
              window_hash: str = WINDOW_HASH, workers: int | None = None, progress=None) -> Hashes:
    """The same result as feeding the file through StreamHasher; reads straight into the hasher's buffers.
    `progress(n)` is called with each chunk's byte count as it is read (a progress bar's advance)."""
    hasher = StreamHasher(window_bytes=window_bytes, chunk_bytes=chunk_bytes, window_hash=window_hash,
                          workers=workers)
    try:
        with open(path, "rb", buffering=0) as file:
            try:
                os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:      # advice only
                pass
            while True:
                buffer = hasher._take_buffer()
                length = _read_full(file, memoryview(buffer))
                if length:
                    hasher._submit(buffer, length)
                    if progress is not None:
                        progress(length)
                else:
                    hasher._give_back(buffer)
                if length < chunk_bytes:
                    break
        return hasher.finish()
    except OSError as exc:
        hasher.abort()
        raise AcquireError(f"cannot read image {path} ({exc.strerror})",
                           hint="check the file and the disk holding it") from exc
    except BaseException:
        hasher.abort()
        raise


def _read_full(file, view: memoryview) -> int:
    """Fill `view` unless the file ends first; returns the bytes read."""
    total = 0
    with view:
        while total < len(view):
            n = file.readinto(view[total:])
            if not n:
                break
            total += n
    return total


def compare_windows(a: Sequence[Window], b: Sequence[Window]) -> list[Window]:
    """Windows of `b` whose digests (or extent) differ from the window of the same index in `a`.

    XXH3-128 is compared always, the strong digest (BLAKE3 or SHA-256) where both hold the same one.

    A window of `b` with no counterpart in `a` counts as changed; windows only `a` has cannot be
    returned (compare the sizes for a truncated image).
    """
    by_index = {w.index: w for w in a}
    changed = []
    for window in b:
        old = by_index.get(window.index)
        if old is None or (old.offset, old.length, old.xxh128) != (window.offset, window.length, window.xxh128):
            changed.append(window)
        elif old.strong[0] == window.strong[0] and old.strong != window.strong:
            changed.append(window)
    return changed
