"""The Sink of a run: what the engine reports becomes image writes, damage rows, provenance ranges,
pass figures, streamed hashes and progress (acquire.rescue.engine.Sink)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ..drive.device import ReadResult
from ..hashing import StreamHasher
from ..isowriter import IsoWriter
from ..record import Record
from ..rescue.sectormap import SectorMap, State
from .checkpoint import Checkpointer

PROGRESS_WALL_S = 0.2
NO_SENSE_NAME = "no sense data (transport failure)"


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str
    pass_no: int
    sectors: int
    finished: int
    bad: int
    untried: int
    drive_time_s: float
    bytes_read: int
    to_good_s: float | None = None   # estimated drive time to the recoverable data (rescue/budget.py Estimate)
    to_end_s: float | None = None    # ... and to the end of the run


class RunSink:
    """One run's receiver of engine results; the map itself is the engine's to change."""

    def __init__(self, record: Record, run_id: int, drive_id: int, smap: SectorMap, writer: IsoWriter,
                 checkpoints: Checkpointer, clock: Callable[[], float], *, stream_hash: bool,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.record, self.run_id, self.drive_id, self.smap, self.writer = record, run_id, drive_id, smap, writer
        self.checkpoints, self.clock, self.on_progress = checkpoints, clock, on_progress
        self.clock_at_start = clock()
        # hash while streaming only when the disc will be read in order from LBA 0: a fresh run
        self.hasher: StreamHasher | None = StreamHasher() if stream_hash else None
        self.hashed_upto = 0
        self.bytes_read = 0
        self.last_progress = 0.0
        self.pass_id: int | None = None
        self.pass_figures: dict = {}
        self.phase, self.pass_no = "start", 0
        self.provenance: list[int] | None = None     # [start, count] of the finished range being extended
        self.provenance_key: tuple[str, int] | None = None
        self.estimate = None             # a rescue.budget.Estimate, when the run keeps one

    # -- what the engine tells us ----------------------------------------------------------------
    def good(self, result: ReadResult, phase: str, pass_no: int) -> None:
        self.writer.write(result.lba, result.data)
        self.bytes_read += len(result.data)
        self.checkpoints.wrote(len(result.data))
        self._count(result, sectors_finished=result.count)
        self._feed_hasher(result)
        self._extend_provenance(result.lba, result.count, phase, pass_no)

    def failed(self, result: ReadResult, phase: str, pass_no: int, reason: str) -> None:
        self._count(result, failed_reads=1)
        self._damage(result, phase, pass_no, reason, "failed")
        self.stop_streaming()            # the image will not be written in order: hash the file at the end

    def marginal(self, result: ReadResult, phase: str, pass_no: int, reason: str) -> None:
        self._damage(result, phase, pass_no, reason, "marginal")

    def action(self, action: str, result, phase: str, pass_no: int, reason: str) -> None:
        """A retry-hygiene action (pause, speed, cache flush, drive check): a row of `actions`."""
        self.record.add_action(run_id=self.run_id, drive_id=self.drive_id, phase=phase, pass_no=pass_no,
                               action=action, lba=result.lba, count=result.count, fua=int(result.fua),
                               duration_s=round(result.duration_s, 6), reason=reason)

    def counted(self, result: ReadResult) -> None:
        """A READ that only checks (the second read): in the pass's figures, not in the image."""
        self._count(result, **({} if result.ok else {"failed_reads": 1}))

    def pass_started(self, phase: str, pass_no: int, direction: str) -> None:
        self.end_pass()
        self.phase, self.pass_no = phase, pass_no
        self.pass_id = self.record.begin_pass(self.run_id, phase, pass_no, direction)
        self.pass_figures = {"reads": 0, "failed_reads": 0, "sectors_finished": 0, "drive_time_s": 0.0}
        self.record.log_event(self.run_id, "pass-start", phase=phase, pass_no=pass_no, direction=direction)

    def pass_ended(self, phase: str, pass_no: int) -> None:
        self.end_pass()

    def progress(self, smap: SectorMap, phase: str) -> None:
        self.checkpoints.tick()
        now = time.monotonic()
        if self.on_progress is not None and now - self.last_progress >= PROGRESS_WALL_S:
            self.last_progress = now
            self.on_progress(self.snapshot())

    # -- the run's bookkeeping -----------------------------------------------------------------------
    def end_pass(self) -> None:
        """Close the open pass with its figures, after a checkpoint (its rows describe durable data)."""
        if self.pass_id is None:
            return
        figures = dict(self.pass_figures, sectors_bad=self.smap.count(State.BAD),
                       drive_time_s=round(self.pass_figures.get("drive_time_s", 0.0), 6))
        self.checkpoints.checkpoint()
        self.record.end_pass(self.pass_id, **figures)
        self.record.log_event(self.run_id, "pass-end", phase=self.phase, pass_no=self.pass_no, **figures)
        self.pass_id = None

    def forget_pass(self) -> None:
        """After a failed commit: the open pass's rows were discarded with the batch."""
        self.pass_id = None

    def snapshot(self) -> Progress:
        counts = self.smap.counts()
        to_good, to_end = self.estimate.remaining(self.smap) if self.estimate is not None else (None, None)
        return Progress(self.phase, self.pass_no, self.smap.sectors, counts[State.FINISHED], counts[State.BAD],
                        counts[State.UNTRIED], self.clock() - self.clock_at_start, self.bytes_read, to_good, to_end)

    def flush_provenance(self) -> None:
        if self.provenance is None:
            return
        self.record.add_provenance(self.provenance[0], self.provenance[1], run_id=self.run_id,
                                   drive_id=self.drive_id, phase=self.provenance_key[0],
                                   pass_no=self.provenance_key[1])
        self.provenance = None

    def stop_streaming(self) -> None:
        if self.hasher is not None:
            self.hasher.abort()
            self.hasher = None

    def streamed_hasher(self, capacity: int) -> StreamHasher | None:
        """The streaming hasher when it saw every sector in order, else None (and it is stopped)."""
        if self.hasher is not None and self.hashed_upto == capacity:
            hasher, self.hasher = self.hasher, None
            return hasher
        self.stop_streaming()
        return None

    # -- helpers ----------------------------------------------------------------------------------------
    def _count(self, result: ReadResult, **more: int) -> None:
        if self.estimate is not None:
            self.estimate.saw(result.ok, result.count, result.duration_s)
        figures = self.pass_figures
        figures["reads"] = figures.get("reads", 0) + 1
        figures["drive_time_s"] = figures.get("drive_time_s", 0.0) + result.duration_s
        for key, value in more.items():
            figures[key] = figures.get(key, 0) + value

    def _damage(self, result: ReadResult, phase: str, pass_no: int, reason: str, outcome: str) -> None:
        sense = result.sense
        self.record.add_damage(run_id=self.run_id, drive_id=self.drive_id, lba=result.lba, count=result.count,
                               phase=phase, pass_no=pass_no, outcome=outcome,
                               sense=str(sense) if sense else None,
                               sense_name=sense.name if sense else NO_SENSE_NAME,
                               duration_s=round(result.duration_s, 6), reason=reason,
                               fua=int(getattr(result, "fua", False)))

    def _feed_hasher(self, result: ReadResult) -> None:
        if self.hasher is None:
            return
        if result.lba != self.hashed_upto:
            self.stop_streaming()
            return
        self.hasher.update(result.data)
        self.hashed_upto = result.lba + result.count

    def _extend_provenance(self, lba: int, count: int, phase: str, pass_no: int) -> None:
        key = (phase, pass_no)
        if self.provenance is not None and self.provenance_key == key and self.provenance[0] + self.provenance[1] == lba:
            self.provenance[1] += count
            return
        self.flush_provenance()
        self.provenance, self.provenance_key = [lba, count], key
