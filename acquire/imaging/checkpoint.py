"""The durability order of a run, as one unit: image bytes reach the disk before the map says so.

A checkpoint fdatasyncs the image, then commits the map with the staged damage and provenance rows
in one SQLite transaction. The background form snapshots the map and the staged rows first (every
sector that snapshot calls finished was written before it), fdatasyncs in a worker thread while
the copy goes on, and commits that snapshot only once the fdatasync returned. A kill at any
instant therefore loses at most the uncommitted batch, which is read again on resume.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Protocol

CHECKPOINT_BYTES = 32 << 20          # commit the map at least every 32 MiB of new data ...
CHECKPOINT_WALL_S = 2.0              # ... or every 2 s of wall time, whichever comes first


class Syncable(Protocol):            # acquire.isowriter.IsoWriter
    def flush(self) -> None: ...        # every byte written is in the file (the copy's thread)
    def datasync(self) -> None: ...     # what is in the file is on the disk (any thread)
    def sync(self) -> None: ...         # both


class Committable(Protocol):         # acquire.record.Record
    def save_map(self, runs: Iterable[tuple[int, int, int]]) -> None: ...
    def take_staged(self) -> object: ...                 # acquire.record.staging.Batch
    def commit_batch(self, batch: object) -> None: ...
    def commit(self) -> None: ...


class Checkpointer:
    """When and how the map is committed; `map_runs` gives the map as (start, count, state) rows and
    `before_snapshot` stages whatever rows are still held in memory (the open provenance range)."""

    def __init__(self, image: Syncable | None, record: Committable,
                 map_runs: Callable[[], Iterable[tuple[int, int, int]]],
                 before_snapshot: Callable[[], None] = lambda: None) -> None:
        self.image, self.record, self.map_runs, self.before_snapshot = image, record, map_runs, before_snapshot
        self.pending_bytes = 0
        self.last_checkpoint = time.monotonic()
        self.syncing: tuple[Future, object] | None = None     # a background fdatasync and its batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fdatasync")

    def wrote(self, nbytes: int) -> None:
        self.pending_bytes += nbytes

    def tick(self) -> None:
        """From the progress callback: commit a finished background sync; start one when due."""
        if self.syncing is not None and self.syncing[0].done():
            self._finish_sync()
        if self.syncing is None and (self.pending_bytes >= CHECKPOINT_BYTES
                                     or time.monotonic() - self.last_checkpoint >= CHECKPOINT_WALL_S):
            self.start_sync()

    def start_sync(self) -> None:
        """A checkpoint that does not stop the copy: snapshot now, fdatasync in the background."""
        if self.image is None:
            return
        self.image.flush()                   # the bytes the snapshot calls finished are in the file
        self.before_snapshot()
        self.record.save_map(self.map_runs())
        self.syncing = (self._thread.submit(self.image.datasync), self.record.take_staged())
        self._reset()

    def checkpoint(self) -> None:
        """fdatasync the image, then commit the map, provenance and damage in one transaction."""
        if self.syncing is not None:
            self._finish_sync()
        if self.image is not None:
            self.image.sync()
        self.before_snapshot()
        self.record.save_map(self.map_runs())
        self.record.commit()
        self._reset()

    def shutdown(self) -> None:
        """Wait for the background fdatasync: none may outlive the image's file descriptor."""
        self._thread.shutdown(wait=True)

    def _finish_sync(self) -> None:
        done, batch = self.syncing
        self.syncing = None
        done.result()                        # an fdatasync that failed raises here: nothing committed
        self.record.commit_batch(batch)

    def _reset(self) -> None:
        self.pending_bytes = 0
        self.last_checkpoint = time.monotonic()
