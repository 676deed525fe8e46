"""The linear engine: ddrescue's phases (copy, trim, scrape, retry), adapted to optical media.

Copy reads are aligned to the medium's error-correction unit, since a DVD or BD fails a whole ECC
block together. `--strategy linear`; the default is adaptive.py.
"""
from __future__ import annotations

from .engine import (FORWARD, REVERSE, Reader, Result, Settings, Sink, align_down, read_and_report,
                     read_other_drive_failures, sectors_in_order)
from .sectormap import SectorMap, State

COPY, TRIM, SCRAPE, RETRY = "copy", "trim", "scrape", "retry"


class LinearEngine:
    def __init__(self, reader: Reader, smap: SectorMap, sink: Sink, settings: Settings) -> None:
        self.reader, self.smap, self.sink, self.settings = reader, smap, sink, settings
        self.protected: set[int] = set()       # sectors the drive refused alone as copy-protected

    def run(self) -> None:
        read_other_drive_failures(self.reader, self.smap, self.sink, self.settings, self.protected)
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
                               fail_state=fail_state, fua=fua, protected=self.protected)

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
