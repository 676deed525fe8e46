"""The rescue engine: ddrescue's phases (copy, trim, scrape, retry), adapted to optical media.

It decides which sectors to read next from the sector map and tells a Sink what happened; it
knows nothing about images, hashes, records or SG_IO. Copy reads are aligned to the medium's
error-correction unit, since a DVD or BD fails a whole ECC block together.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .sectormap import SectorMap, State

COPY, TRIM, SCRAPE, RETRY = "copy", "trim", "scrape", "retry"
FORWARD, REVERSE = "forward", "reverse"


class Result(Protocol):              # acquire.drive.device.ReadResult
    lba: int
    count: int
    data: bytes
    duration_s: float
    marginal: bool
    sense: object

    @property
    def ok(self) -> bool: ...


class Reader(Protocol):              # acquire.drive.device.Drive
    def read(self, lba: int, count: int, *, fua: bool = False) -> Result: ...


class Sink(Protocol):
    """Where the engine's results go: the image, the hashes, the record, the progress line."""

    def good(self, result: Result, phase: str, pass_no: int) -> None: ...
    def failed(self, result: Result, phase: str, pass_no: int, reason: str) -> None: ...
    def marginal(self, result: Result, phase: str, pass_no: int, reason: str) -> None: ...
    def pass_started(self, phase: str, pass_no: int, direction: str) -> None: ...
    def pass_ended(self, phase: str, pass_no: int) -> None: ...
    def progress(self, smap: SectorMap, phase: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Settings:
    cluster: int = 32                # sectors per copy read, and its alignment: 64 KiB, a multiple of
                                     # the DVD (16) and BD (32) ECC block, below every max_sectors_kb seen
    retries: int = 1                 # retry passes over bad sectors; one recovers a sector that fails twice
    trim: bool = True
    scrape: bool = True
    skip_initial: int = 64           # sectors skipped after a first failure in a copy pass ...
    skip_max: int = 1 << 16          # ... doubling per consecutive failure, up to this
    family: str = "cd"               # "cd" | "dvd" | "bd": the disc's geometry, for strategies that use it
    ecc_sectors: int = 1             # sectors that fail together (DVD 16, BD 32)

    @classmethod
    def for_medium(cls, capacity: int, ecc_sectors: int, family: str = "cd", **overrides) -> "Settings":
        cluster = max(32, ecc_sectors)
        skip_max = max(cluster * 4, min(1 << 16, capacity // 100))
        return cls(cluster=cluster, skip_max=skip_max, family=family, ecc_sectors=ecc_sectors, **overrides)


class Engine:
    def __init__(self, reader: Reader, smap: SectorMap, sink: Sink, settings: Settings) -> None:
        self.reader, self.smap, self.sink, self.settings = reader, smap, sink, settings

    def run(self) -> None:
        # copy: pass 1 forward and pass 2 reverse skip past failures, so one scratch costs a few
        # failed reads; pass 3 forward reads what the skips left, failing blocks become non-trimmed
        self._copy(1, FORWARD, skipping=True)
        self._copy(2, REVERSE, skipping=True)
        self._copy(3, FORWARD, skipping=False)
        if self.settings.trim:
            self._trim()
        if self.settings.scrape:
            states = (State.NON_SCRAPED,) if self.settings.trim else (State.NON_TRIMMED, State.NON_SCRAPED)
            self._sector_by_sector(SCRAPE, 1, FORWARD, states, "scrape: one sector at a time")
        for n in range(1, self.settings.retries + 1):
            direction = REVERSE if n % 2 else FORWARD
            self._sector_by_sector(RETRY, n, direction, (State.BAD,), f"retry pass {n}")

    # -- reads ----------------------------------------------------------------------------
    def _read(self, lba: int, count: int, phase: str, pass_no: int, reason: str, *,
              fail_state: State, fua: bool = False) -> Result:
        return read_and_report(self.reader, self.smap, self.sink, lba, count, phase, pass_no, reason,
                               fail_state=fail_state, fua=fua)

    def _copy(self, pass_no: int, direction: str, *, skipping: bool) -> None:
        if not self.smap.count(State.UNTRIED):
            return
        s = self.settings
        reverse = direction == REVERSE
        self.sink.pass_started(COPY, pass_no, direction)
        skip = s.skip_initial
        pos = self.smap.sectors if reverse else 0      # reverse: an exclusive upper bound
        while 0 < pos if reverse else pos < self.smap.sectors:
            run = self.smap.next_run_of(State.UNTRIED, at=pos - 1 if reverse else pos, reverse=reverse)
            if run is None:
                break
            if reverse:
                end = min(run.end, pos)
                start = max(run.start, align_down(end - 1, s.cluster))
            else:
                start = max(run.start, pos)
                end = min(run.end, align_down(start, s.cluster) + s.cluster)
            result = self._read(start, end - start, COPY, pass_no, "copy", fail_state=State.NON_TRIMMED)
            if result.ok:
                skip = s.skip_initial
                pos = start if reverse else end
                continue
            self._salvage_before_failure(result, pass_no)
            if not skipping:
                pos = start if reverse else end
                continue
            # jump past the damage; what we jump over stays untried for the next pass
            pos = align_down(start - skip if reverse else end + skip, s.cluster)
            pos = min(max(pos, 0), self.smap.sectors)
            skip = min(skip * 2, s.skip_max)
        self.sink.pass_ended(COPY, pass_no)

    def _salvage_before_failure(self, failed: Result, pass_no: int) -> None:
        """A drive that names the first bad LBA (sense INFORMATION) lets us read what precedes it
        now, while the head is near. A drive that names none (QEMU) leaves it to trimming."""
        info = getattr(failed.sense, "information", None)
        if info is None or not failed.lba < info < failed.lba + failed.count:
            return
        self._read(failed.lba, info - failed.lba, COPY, pass_no, "copy: before the LBA the drive reported",
                   fail_state=State.NON_TRIMMED)

    def _trim(self) -> None:
        if not self.smap.count(State.NON_TRIMMED):
            return
        self.sink.pass_started(TRIM, 1, FORWARD)
        pos = 0
        while (run := self.smap.next_run_of(State.NON_TRIMMED, at=pos)) is not None:
            lead = run.start
            while lead < run.end:        # leading edge, forward until a sector fails
                if not self._read(lead, 1, TRIM, 1, "trim: leading edge", fail_state=State.BAD).ok:
                    break
                lead += 1
            trail = run.end - 1
            while trail > lead:          # trailing edge, backward until a sector fails
                if not self._read(trail, 1, TRIM, 1, "trim: trailing edge", fail_state=State.BAD).ok:
                    break
                trail -= 1
            if lead + 1 < trail:
                self.smap.set(lead + 1, trail - lead - 1, State.NON_SCRAPED)
            pos = run.end
        self.sink.pass_ended(TRIM, 1)

    def _sector_by_sector(self, phase: str, pass_no: int, direction: str, states: tuple[State, ...],
                          reason: str) -> None:
        if not self.smap.count(*states):
            return
        self.sink.pass_started(phase, pass_no, direction)
        for lba in sectors_in_order(self.smap, states, reverse=direction == REVERSE):
            self._read(lba, 1, phase, pass_no, reason, fail_state=State.BAD, fua=phase == RETRY)
        self.sink.pass_ended(phase, pass_no)


def read_and_report(reader: Reader, smap: SectorMap, sink: Sink, lba: int, count: int, phase: str, pass_no: int,
                    reason: str, *, fail_state: State | None, fua: bool = False) -> Result:
    """One READ, its result to the sink and the map. A failure marks the sectors `fail_state`, or,
    with None, leaves the map to the caller, which says what it learnt."""
    result = reader.read(lba, count, fua=fua)
    if result.ok:
        sink.good(result, phase, pass_no)       # first the bytes go out, then the map says so
        smap.set(lba, count, State.FINISHED)
        if result.marginal:
            sink.marginal(result, phase, pass_no, reason)
    else:
        if fail_state is not None:
            smap.set(lba, count, fail_state)
        sink.failed(result, phase, pass_no, reason)
    sink.progress(smap, phase)
    return result


def sectors_in_order(smap: SectorMap, states: tuple[State, ...], *, reverse: bool):
    """Each sector in `states`, forward or backward, taking each run as it stood when reached:
    reading a sector changes the map under the loop."""
    pos = smap.sectors - 1 if reverse else 0
    while pos >= 0 and (run := smap.next_run_of(*states, at=pos, reverse=reverse)) is not None:
        yield from range(run.end - 1, run.start - 1, -1) if reverse else range(run.start, run.end)
        pos = run.start - 1 if reverse else run.end


def align_down(lba: int, unit: int) -> int:
    return lba - lba % unit


def align_up(lba: int, unit: int) -> int:
    return -(-lba // unit) * unit
