"""Reading one audio track sample-exact: every sector read at least twice with a cache defeat
between, samples accepted when `agree` reads without a C2 flag on them give the same value, and
only the sectors still in doubt read again, until the track's time budget is spent.

Positions: the track's true samples [first*588, end*588) are read at drive positions + offset
(acquire/audio/offset.py). A drive sector that cannot be read (before LBA 0, past the end on a
drive that does not overread, a READ that fails) leaves its samples zero and unresolved, with the
reason. Times are the clock the caller gives (imaging/audio_step.py: the drive time of the track's reads).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..drive.cdda import C2_BYTES, MAX_SECTORS, RAW_BYTES, CddaReader
from .subq import q_ok

SAMPLES = 588
CDDA = 1                         # READ CD byte 1 expected sector type: CD-DA
UNREADABLE, NOT_OVERREAD, C2, MISMATCH = "unreadable", "not-overread", "c2", "mismatch"


@dataclass
class _Sector:
    reads: list[bytes] = field(default_factory=list)
    c2: list[bytes | None] = field(default_factory=list)
    failures: int = 0
    value: bytearray | None = None          # the accepted samples
    open: set[int] = field(default_factory=set)   # sample indexes not yet accepted
    reason: dict[int, str] = field(default_factory=dict)
    flagged: list[int] = field(default_factory=list)   # samples some read's C2 flagged (kept once settled)


@dataclass(frozen=True, slots=True)
class Unresolved:
    first: int            # sample index within the track
    last: int             # inclusive
    reason: str           # unreadable | not-overread | c2 | mismatch

    def time(self) -> str:
        return sample_time(self.first)


@dataclass(frozen=True, slots=True)
class TrackRip:
    pcm: bytes
    unresolved: tuple[Unresolved, ...]
    reads: int              # sectors read in all
    rereads: int            # sectors read again after the first two passes
    c2_samples: int         # samples some read flagged by C2
    q_errors: int           # Q subchannel frames whose CRC failed or whose position was not the LBA asked
    budget_spent: bool
    elapsed_s: float
    subchannel: dict[int, bytes] = field(default_factory=dict)   # LBA -> the first sound subchannel read there


def sample_time(sample: int) -> str:
    """mm:ss.ff of a sample within its track (75 frames of 588 samples a second)."""
    frame = sample // SAMPLES
    return f"{frame // 4500:02d}:{frame // 75 % 60:02d}.{frame % 75:02d}"


@dataclass
class TrackRipper:
    reader: CddaReader
    clock: Callable[[], float]
    disc_end: int                          # first LBA past the disc (the lead-out's)
    far_lba: int                           # a readable LBA far away: the cache defeat
    agree: int = 2
    budget_s: float = 600.0
    max_rereads: int = 16
    recorded: Callable[[int], bool] | None = None   # LBA -> in a track (else a lead-in, lead-out or gap side)
    sectors: dict[int, _Sector] = field(default_factory=dict)
    reads: int = 0
    q_errors: int = 0
    subs: dict[int, bytes] = field(default_factory=dict)

    def rip(self, first_lba: int, end_lba: int, offset: int) -> TrackRip:
        start_s = self.clock()
        d_first = (first_lba * SAMPLES + offset) // SAMPLES
        d_last = ((end_lba * SAMPLES + offset) - 1) // SAMPLES
        self.sectors = {lba: _Sector() for lba in range(d_first, d_last + 1)}
        self.reads = self.q_errors = 0
        self.subs = {}
        for _pass in range(self.agree):
            self._defeat_cache()
            self._read_all(list(self.sectors))
        for lba in self.sectors:
            self._settle(lba)
        rereads, spent = 0, False
        for _round in range(self.max_rereads):
            doubtful = [lba for lba, s in self.sectors.items() if s.open and self._readable(lba)]
            if not doubtful:
                break
            if self.clock() - start_s > self.budget_s:
                spent = True
                break
            self._defeat_cache()
            self._read_all(doubtful)
            rereads += len(doubtful)
            for lba in doubtful:
                self._settle(lba)
        return self._assemble(first_lba, end_lba, offset, rereads, spent, self.clock() - start_s)

    # -- reading -----------------------------------------------------------------------------
    def _in_track(self, lba: int) -> bool:
        if self.recorded is not None:
            return self.recorded(lba)
        return 0 <= lba < self.disc_end

    def _readable(self, lba: int) -> bool:
        return 0 <= lba and (lba < self.disc_end or self.reader.overread_ok)

    def _defeat_cache(self) -> None:
        """Read far away, so that the next read of the track comes from the disc, not the cache."""
        self.reader.read(self.far_lba, 1)

    def _read_all(self, lbas: list[int]) -> None:
        runs: list[list[int]] = []
        for lba in lbas:
            if not self._readable(lba):
                self.sectors[lba].failures += 1
                continue
            if runs and runs[-1][-1] == lba - 1 and len(runs[-1]) < MAX_SECTORS:
                runs[-1].append(lba)
            else:
                runs.append([lba])
        for run in runs:
            # expected sector type CD-DA: a drive refuses a data sector (05/64/00) rather than hand
            # its raw bytes up as samples (a track that follows a data track with no audio pre-gap)
            got = self.reader.read(run[0], len(run), sector_type=CDDA)
            if not got.ok and len(run) > 1:           # find the failing sector: one at a time
                for lba in run:
                    self._take(lba, self.reader.read(lba, 1, sector_type=CDDA), 0)
                continue
            for i, lba in enumerate(run):
                self._take(lba, got, i)

    def _take(self, lba: int, got, i: int) -> None:
        self.reads += 1
        sector = self.sectors[lba]
        if not got.ok:
            sector.failures += 1
            if lba >= self.disc_end:
                self.reader.overread_ok = False
            return
        sector.reads.append(got.data[i * RAW_BYTES:(i + 1) * RAW_BYTES])
        sector.c2.append(got.c2[i * C2_BYTES:(i + 1) * C2_BYTES] if got.c2 is not None else None)
        if got.sub:
            if not q_ok(got.sub[i], lba, self.reader.subchannel):
                self.q_errors += 1
            elif lba not in self.subs:
                self.subs[lba] = got.sub[i]

    # -- deciding -----------------------------------------------------------------------------
    def _settle(self, lba: int) -> None:
        """Accept each sample `agree` clean reads agree on; the rest stay open, with why."""
        s = self.sectors[lba]
        if s.value is None:
            s.value, s.open = bytearray(RAW_BYTES), set(range(SAMPLES))
        if not s.reads:
            for j in s.open:
                s.reason[j] = UNREADABLE if self._in_track(lba) else NOT_OVERREAD
            return
        whole = Counter(r for r, c in zip(s.reads, s.c2) if c is None or not any(c)).most_common(1)
        if whole and whole[0][1] >= self.agree:          # the common case: whole sectors agree
            s.value[:] = whole[0][0]
            s.open.clear()
            s.reason.clear()
            self._forget(s)
            return
        for j in sorted(s.open):
            votes: Counter[bytes] = Counter()
            flagged = False
            for r, c in zip(s.reads, s.c2):
                if c is not None and _c2_marks(c, j):
                    flagged = True
                    continue
                votes[r[4 * j:4 * j + 4]] += 1
            best = votes.most_common(1)
            if best and best[0][1] >= self.agree:
                s.value[4 * j:4 * j + 4] = best[0][0]
                s.open.discard(j)
                s.reason.pop(j, None)
            else:
                s.reason[j] = C2 if flagged else MISMATCH
        if not s.open:
            self._forget(s)

    @staticmethod
    def _forget(s: _Sector) -> None:
        """A settled sector keeps its value and whether any read was C2-flagged, not its reads."""
        if not s.flagged and any(c and any(c) for c in s.c2):
            s.flagged = [j for j in range(SAMPLES) if any(c is not None and _c2_marks(c, j) for c in s.c2)]
        s.reads, s.c2 = [], []

    def _assemble(self, first_lba: int, end_lba: int, offset: int, rereads: int, spent: bool,
                  elapsed: float) -> TrackRip:
        base = min(self.sectors)
        stream = b"".join(bytes(self.sectors[lba].value or bytearray(RAW_BYTES)) for lba in sorted(self.sectors))
        at = first_lba * SAMPLES + offset - base * SAMPLES
        count = (end_lba - first_lba) * SAMPLES
        pcm = stream[4 * at:4 * (at + count)]
        marks: list[tuple[int, str]] = []
        for lba in sorted(self.sectors):
            s = self.sectors[lba]
            for j in sorted(s.open):
                track_sample = lba * SAMPLES + j - offset - first_lba * SAMPLES
                if 0 <= track_sample < count:
                    marks.append((track_sample, s.reason.get(j, MISMATCH)))
        for s in self.sectors.values():
            if s.reads:
                self._forget(s)
        c2_samples = sum(len(s.flagged) for s in self.sectors.values())
        subs = {lba: sub for lba, sub in self.subs.items() if first_lba <= lba < end_lba}
        return TrackRip(pcm, tuple(_ranges(marks)), self.reads, rereads, c2_samples, self.q_errors, spent, elapsed,
                        subs)


def _c2_marks(c2: bytes, sample: int) -> bool:
    """Whether any of the 4 C2 bits of `sample` (main bytes 4j..4j+3) is set."""
    bit = sample * 4
    return bool((c2[bit >> 3] >> (4 - (bit & 7))) & 0x0F)


def _ranges(marks: list[tuple[int, str]]) -> list[Unresolved]:
    out: list[Unresolved] = []
    for sample, reason in sorted(marks):
        if out and out[-1].last == sample - 1 and out[-1].reason == reason:
            out[-1] = Unresolved(out[-1].first, sample, reason)
        else:
            out.append(Unresolved(sample, sample, reason))
    return out
