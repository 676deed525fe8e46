"""Retry hygiene: what is done around an engine's reads so that a retry asks the medium again, and
a confused drive is caught before it writes zeros into the image (docs/rescue.md "Retry hygiene").

The engines stay as they are: `Hygiene` wraps their Reader and their Sink. As a Reader it sets FUA
on every re-read (a read touching a sector that failed, in the map or in a failed READ of this
run), stops the run when the time budget is spent, and watches for a confused drive. As a Sink
it schedules, when a pass starts that re-reads: a pause (retry passes), a different read speed
(retry passes), and a cache flush (a zero-length READ(10) with FUA). Each action is a row of the
damage log's `actions` table with its reason; every `damage` row says in `fua` whether its READ had FUA.

A confused drive: after failed reads, a "good" read of all zeros; or `failures_in_row` failed
reads in a row. Either makes Hygiene re-read a reference area of known content (the record's
identity probe, else the last non-zero sector read in this run) with FUA, twice with a pause and
a flush between: when it does not read back as it was, the run stops with DriveConfused (exit 4).
The suspicious read is never handed to the engine, and the sectors the failures in a row marked
are put back as they were before them, so nothing the confused drive said is trusted on resume.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..errors import AcquireError, DriveConfused
from .budget import MAX_DRIVE_TIME, UNTIL_GOOD, WHY_UNREADABLE, Budget, Stopped, format_duration, until_good_stops_at
from .sectormap import SectorMap, State

FAILED = frozenset({State.NON_TRIMMED, State.NON_SCRAPED, State.BAD})
REREAD_PHASES = frozenset({"trim", "scrape", "flaky", "retry"})   # passes whose reads are re-reads: a flush first
RETRY_PHASES = frozenset({"retry"})                                # and a pause and another speed too
TOP_SPEED_X = {"cd": 24.0, "dvd": 8.0, "bd": 6.0}                   # when the drive does not say its own


@dataclass(frozen=True, slots=True)
class HygieneSettings:
    enabled: bool = True             # False: only the budget (no FUA, flush, pause, speed, drive check)
    pause_s: float = 2.0             # drive rest before each retry pass (Transport.wait: the clock on sim:)
    change_speed: bool = True        # each retry pass at another read speed than the pass before
    failures_in_row: int = 32        # failed reads in a row before the drive is checked
    reference: tuple[int, int, str] | None = None   # (lba, count, sha256) of known content: the identity probe
    family: str = "cd"
    top_speed_x: float | None = None  # the speed of the copy (None: ask the drive at the first retry pass)
    base_speed_x: float | None = None  # what to restore at the end (None: the drive's maximum)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action's row shows: the extent it concerns (0, 0: the whole drive) and its cost."""

    lba: int
    count: int
    duration_s: float
    data: bytes = b""
    sense: object = None
    marginal: bool = False
    protected: bool = False
    fua: bool = False                # the cache flush: a zero-length READ(10) with FUA

    @property
    def ok(self) -> bool:
        return True


class Hygiene:
    """The Reader and the Sink an engine is given: see the module docstring."""

    def __init__(self, drive: Any, reader: Any, smap: SectorMap, sink: Any, settings: HygieneSettings,
                 *, strategy: str, budget: Budget = Budget()) -> None:
        self.drive, self.inner, self.smap, self.sink = drive, reader, smap, sink
        self.settings, self.strategy, self.budget = settings, strategy, budget
        self.clock_at_start = drive.clock_s
        self.failed_here = SectorMap(smap.sectors)     # BAD where a READ of this run failed (the engine's map
                                                       # may still call those sectors untried, as bisection does)
        self.errors_seen = False
        self.failed_before = smap.count(*FAILED) > 0   # a resumed map with failures: re-reads from the start
        self.zero_checked = False
        self.failures: list[tuple[int, int, list[tuple[int, int, State]]]] = []   # failed reads since a good one
        self.failures_in_row = 0                                                    # ... or since a check passed
        self.canary: tuple[int, int, str] | None = None
        self.speed_x: float | None = None    # set by this run; None: as the run found it
        self.speed_refused = False
        self.top_speed_x: float | None = None
        self.flush_due: str | None = None    # a pass began that re-reads: flush before its first READ
        self.phase, self.pass_no = "start", 0
        self.reader = _Reader(self)
        self.wrapped_sink = _Sink(self)

    # -- as a Reader -----------------------------------------------------------------------------
    def read(self, lba: int, count: int, *, fua: bool = False):
        self._check_time()
        if not self.settings.enabled:
            return self.inner.read(lba, count, fua=fua)
        if self.flush_due is not None:
            why, self.flush_due = self.flush_due, None
            self._flush(why, lba)
        reread = fua or self._is_reread(lba, count)
        before = list(self._states(lba, count))
        result = self.inner.read(lba, count, fua=reread)
        if result.ok:
            self._after_good(result)
        else:
            self._after_failure(result, before)
        return result

    def _is_reread(self, lba: int, count: int) -> bool:
        if not (self.errors_seen or self.failed_before):      # a healthy disc so far: nothing to re-read
            return False
        end = min(lba + count, self.smap.sectors)
        if any(run.state is not State.UNTRIED for run in self.failed_here.runs(lba, end)):
            return True
        return any(run.state in FAILED for run in self.smap.runs(lba, end))

    def _states(self, lba: int, count: int):
        for run in self.smap.runs(lba, min(lba + count, self.smap.sectors)):
            yield run.start, run.count, run.state

    def _after_good(self, result) -> None:
        # the cost on a healthy disc: two flags; the bytes are looked at only after a failure
        if self.errors_seen and not self.zero_checked and _all_zero(result.data):
            self.zero_checked = True
            self._check_drive(f"LBA {_span(result.lba, result.count)} read \"good\" as all zeros right after "
                              f"failed reads")
        self.failures.clear()
        self.failures_in_row = 0
        if self.settings.reference is None:
            sector = result.data[:2048]
            if not _all_zero(sector):
                self.canary = (result.lba, 1, hashlib.sha256(sector).hexdigest())

    def _after_failure(self, result, before) -> None:
        self.errors_seen, self.zero_checked = True, False
        self.failed_here.set(result.lba, min(result.count, self.smap.sectors - result.lba), State.BAD)
        self.failures.append((result.lba, result.count, before))
        self.failures_in_row += 1
        if len(self.failures) >= self.settings.failures_in_row:
            self._check_drive(f"{self.failures_in_row} failed reads in a row, the last at LBA "
                              f"{_span(result.lba, result.count)}", undo=True)
            self.failures.clear()           # the drive passed: those failures are the disc's

    # -- the confused drive ----------------------------------------------------------------------
    def _check_drive(self, why: str, *, undo: bool = False) -> None:
        reference = self.settings.reference or self.canary
        if reference is None:
            self._action("drive-check", f"drive check skipped after {why}: no area of known content read yet")
            return
        lba, count, digest = reference
        for attempt in (1, 2):
            started = self.drive.clock_s
            again = self.drive.read(lba, count, fua=True)
            same = again.ok and hashlib.sha256(again.data).hexdigest() == digest
            if same:
                self._action("drive-check", f"drive check after {why}: LBA {_span(lba, count)} (known content) "
                             f"re-read with FUA reads as before", lba, count, self.drive.clock_s - started, fua=True)
                return
            if attempt == 1:
                self._pause(f"before checking the drive again (LBA {_span(lba, count)} did not read as before)")
                self._flush("before checking the drive again", lba)
        put_back = len(self.failures) if undo else 0
        if undo:
            self._put_back()
        what = "fails" if not again.ok else "reads different bytes"
        self._action("drive-confused", f"drive confused: after {why}, LBA {_span(lba, count)} (known content) "
                     f"{what} twice" + (f"; the map under the last {put_back} failed reads is put back as it was "
                                        f"before them" if put_back else ""), lba, count, fua=True)
        raise DriveConfused(f"{self.drive.name} looks confused: after {why}, an area it read before "
                            f"(LBA {_span(lba, count)}) {what}",
                            hint="eject the disc and reinsert it (or move it to another drive), then run the "
                                 "same command to resume")

    def _put_back(self) -> None:
        """The map as it was before the failed reads since the last good read or passed check (they
        may be the drive's failures, not the disc's)."""
        for _lba, _count, before in reversed(self.failures):
            for start, count, state in before:
                self.smap.set(start, count, state)
        self.failures.clear()

    # -- as a Sink: the scheduled actions ----------------------------------------------------------
    def pass_started(self, phase: str, pass_no: int, direction: str) -> None:
        self.phase, self.pass_no = phase, pass_no
        if self.budget.until == "good" and until_good_stops_at(self.strategy, phase, pass_no):
            raise Stopped(UNTIL_GOOD, f"before {phase} pass {pass_no}: "
                                      f"{WHY_UNREADABLE.get(self.strategy, 'only unreadable sectors are predicted')}")
        self._check_time()
        if self.settings.enabled:
            self._before_pass(phase, pass_no)
        self.sink.pass_started(phase, pass_no, direction)

    def _before_pass(self, phase: str, pass_no: int) -> None:
        """The scheduled actions: pause and speed before a retry pass, then a flush before any re-reading pass."""
        if phase in RETRY_PHASES:
            self._pause(f"before {phase} pass {pass_no}: the drive rests after its own retries")
            if self.settings.change_speed:
                self._change_speed(pass_no)
        if phase in REREAD_PHASES:
            # sent just before the pass's first READ, at its LBA: the head goes nowhere it would not
            self.flush_due = f"before {phase} pass {pass_no}, so that no re-read is answered from the drive's cache"

    def _pause(self, why: str) -> None:
        seconds = self.settings.pause_s
        if seconds <= 0:
            return
        self.drive.wait(seconds)
        self._action("pause", f"pause {seconds:g} s {why}", duration_s=seconds)

    def _flush(self, why: str, lba: int) -> None:
        started = self.drive.clock_s
        took = self.drive.flush_cache(lba)
        self._action("cache-flush", f"cache flush (a zero-length READ(10) with FUA at LBA {lba}) {why}"
                     + ("" if took else "; the drive refused it"), lba, 0, self.drive.clock_s - started, fua=True)

    def _change_speed(self, pass_no: int) -> None:
        if self.speed_refused:
            return
        if self.top_speed_x is None:        # asked only now: a healthy disc sends no extra command
            self.top_speed_x = (self.settings.top_speed_x or self.drive.read_speed_x()
                                or TOP_SPEED_X.get(self.settings.family, 8.0))
        top = self.top_speed_x
        previous = self.speed_x if self.speed_x is not None else top
        # halving on each pass down to 1x (the exponent held: the yield order numbers many passes)
        target = max(1.0, top / 2 ** min(pass_no + 1, 16))
        if target == previous:
            target = top
        started = self.drive.clock_s
        command = self.drive.set_read_speed(target)
        if command is None:
            self.speed_refused = True
            self._action("read-speed", f"read speed not changed before retry pass {pass_no}: the drive refused "
                         f"SET CD SPEED and SET STREAMING", duration_s=self.drive.clock_s - started)
            return
        self.speed_x = target
        now = self.drive.read_speed_x()          # a drive may answer GOOD and keep its speed (QEMU's ide-cd)
        kept = f"; the drive answered GOOD but reports {now:g}x" if now and abs(now - target) > 0.1 * target else ""
        self._action("read-speed", f"read speed {target:g}x ({command}) before retry pass {pass_no}, the pass "
                     f"before at {previous:g}x: a sector that fails at one speed may read at another{kept}",
                     duration_s=self.drive.clock_s - started)

    def close(self) -> None:
        """The read speed as the run found it (or as --speed set it): after the engine, however it ended."""
        if self.speed_x is None:
            return
        base = self.settings.base_speed_x
        self.speed_x = None
        try:
            command = self.drive.set_read_speed(base)
            self._action("read-speed", f"read speed restored to {f'{base:g}x' if base else 'the maximum'} "
                         f"({command or 'refused'}) after the retry passes")
        except Exception:                 # noqa: BLE001  best effort (the drive or the disk may be gone):
            pass                          # never hide why the run stopped

    # -- helpers --------------------------------------------------------------------------------------
    def _check_time(self) -> None:
        limit = self.budget.max_drive_time_s
        if limit is None:
            return
        used = self.drive.clock_s - self.clock_at_start
        if used >= limit:
            raise Stopped(MAX_DRIVE_TIME, f"the drive-time budget of {format_duration(limit)} is spent "
                                          f"({used:.1f} s used) during {self.phase} pass {self.pass_no}")

    def _action(self, action: str, reason: str, lba: int = 0, count: int = 0, duration_s: float = 0.0, *,
                fua: bool = False) -> None:
        log = getattr(self.sink, "action", None)       # a Sink without it (a test's) just does not log
        if log is not None:
            log(action, ActionResult(lba, count, duration_s, fua=fua), self.phase, self.pass_no, reason)


class _Reader:
    def __init__(self, hygiene: Hygiene) -> None:
        self.hygiene = hygiene

    def read(self, lba: int, count: int, *, fua: bool = False):
        return self.hygiene.read(lba, count, fua=fua)

    def __getattr__(self, name: str):
        return getattr(self.hygiene.inner, name)


class _Sink:
    def __init__(self, hygiene: Hygiene) -> None:
        self.hygiene = hygiene

    def pass_started(self, phase: str, pass_no: int, direction: str) -> None:
        self.hygiene.pass_started(phase, pass_no, direction)

    def __getattr__(self, name: str):
        return getattr(self.hygiene.sink, name)


def _all_zero(data: bytes) -> bool:
    return data.count(0) == len(data)             # in C: no Python loop over the bytes


def _span(lba: int, count: int) -> str:
    return f"{lba}" if count <= 1 else f"{lba}-{lba + count - 1}"

