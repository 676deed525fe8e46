"""What every rescue engine shares: the Reader it reads from, the Sink it reports to, its Settings,
and the one read-and-report step.

An engine decides which sectors to read next from the sector map and tells a Sink what happened;
it knows nothing about images, hashes, records or SG_IO. The engines: adaptive.py (the default)
and linear.py (ddrescue's phases).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .sectormap import SectorMap, State

FORWARD, REVERSE = "forward", "reverse"
OTHER_DRIVE = "other-drive"


class Result(Protocol):              # acquire.drive.device.ReadResult
    lba: int
    count: int
    data: bytes
    duration_s: float
    marginal: bool
    sense: object
    protected: bool                  # the drive refused it as copy-protected (05/6F/xx)

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
    # (start, count, who): sectors another drive failed that this drive has not yet tried; `who`
    # names that drive for the damage log. Read first, in the phase OTHER_DRIVE (docs/rescue.md)
    prior_failures: tuple[tuple[int, int, str], ...] = ()
    # (start radius m, track pitch m, 1x linear velocity m/s) from the disc's own structure (DVD PFI,
    # BD disc information), any of them None: the adaptive engine's spiral prior (geometry.py)
    spiral_hint: tuple[float | None, float | None, float | None] = (None, None, None)

    @classmethod
    def for_medium(cls, capacity: int, ecc_sectors: int, family: str = "cd", **overrides) -> "Settings":
        cluster = max(32, ecc_sectors)
        skip_max = max(cluster * 4, min(1 << 16, capacity // 100))
        return cls(cluster=cluster, skip_max=skip_max, family=family, ecc_sectors=ecc_sectors, **overrides)


@dataclass(frozen=True, slots=True)
class NotRead:
    """A read the engine did not send: every sector in it is one the drive already refused as
    copy-protected, alone (05/6F/xx). Retrying cannot help (the drive lacks the key, the sector is
    not damaged), so it costs no drive time and leaves no damage row: none was read."""

    lba: int
    count: int
    data: bytes = b""
    duration_s: float = 0.0
    marginal: bool = False
    sense: object = None
    protected: bool = True

    @property
    def ok(self) -> bool:
        return False


def read_and_report(reader: Reader, smap: SectorMap, sink: Sink, lba: int, count: int, phase: str, pass_no: int,
                    reason: str, *, fail_state: State | None, fua: bool = False,
                    protected: set[int] | None = None) -> Result:
    """One READ, its result to the sink and the map. A failure marks the sectors `fail_state`, or,
    with None, leaves the map to the caller, which says what it learnt. `protected`: the engine's
    set of sectors the drive refused alone as copy-protected; they are marked bad and never read again."""
    if protected and all(x in protected for x in range(lba, lba + count)):
        smap.set(lba, count, State.BAD)
        return NotRead(lba, count)
    result = reader.read(lba, count, fua=fua)
    if result.ok:
        sink.good(result, phase, pass_no)       # first the bytes go out, then the map says so
        smap.set(lba, count, State.FINISHED)
        if result.marginal:
            sink.marginal(result, phase, pass_no, reason)
    else:
        if getattr(result, "protected", False) and protected is not None and count == 1:
            protected.add(lba)
            reason = f"{reason}; copy-protected (the drive refused it, {result.sense}): not read again"
            fail_state = State.BAD
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


def read_other_drive_failures(reader: Reader, smap: SectorMap, sink: Sink, settings: Settings,
                              protected: set[int] | None = None) -> None:
    """Phase OTHER_DRIVE: the sectors earlier drives failed, first, in this drive. Another drive's
    failure is evidence, not a verdict: those sectors go back to UNTRIED, so no engine plans from
    them (the damage model learns only this drive's failures), and are read in ECC-aligned reads of
    up to `cluster` sectors. A read of several units that fails is settled unit by unit (an ECC
    unit, a sector on a CD); what fails alone is BAD when it is one sector (the retry passes owe it
    more) and NON_SCRAPED otherwise (scrape reads each sector of it alone)."""
    if not settings.prior_failures:
        return
    unit = max(1, settings.ecc_sectors)
    cluster = max(settings.cluster, unit)
    for start, count, _ in settings.prior_failures:
        for run in list(smap.runs(start, start + count)):
            if run.state != State.FINISHED:
                smap.set(run.start, run.count, State.UNTRIED)
    sink.pass_started(OTHER_DRIVE, 1, FORWARD)
    for start, count, who in settings.prior_failures:
        reason = f"{OTHER_DRIVE}: failed in {who}, read first in this drive"
        for lo, hi in _pieces(start, start + count, cluster):
            if _read_piece(reader, smap, sink, lo, hi, reason, protected):
                continue
            if align_down(lo, unit) != align_down(hi - 1, unit):     # more than one unit: settle each
                for u_lo, u_hi in _pieces(lo, hi, unit):
                    _read_piece(reader, smap, sink, u_lo, u_hi, f"{reason}: unit by unit", protected)
    sink.pass_ended(OTHER_DRIVE, 1)


def _pieces(lo: int, hi: int, size: int):
    """[lo, hi) cut at multiples of `size`."""
    while lo < hi:
        stop = min(hi, align_down(lo, size) + size)
        yield lo, stop
        lo = stop


def _read_piece(reader, smap, sink, lo, hi, reason, protected) -> bool:
    fail = State.BAD if hi - lo == 1 else State.NON_SCRAPED
    return read_and_report(reader, smap, sink, lo, hi - lo, OTHER_DRIVE, 1, reason, fail_state=fail,
                           protected=protected).ok
