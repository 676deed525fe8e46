"""`acquire image --second-read`: after the engine, read again every finished sector that was hard to
read, past the drive's cache, and keep it only when both reads agree byte for byte.

Which sectors (docs/imaging.md "The second read"), each counted under the first cause that applies:
- unstable: an earlier `unstable-sectors` event names it (an earlier run found it unstable, and a
            later read finished it);
- failed:   a damage row of this acquisition (any run, any drive) with outcome `failed` covers it;
- marginal: a damage row with outcome `marginal` (SK 1: data after the drive's retries or ECC);
- slow:     a successful READ of this run took more than SLOW_FACTOR x the median drive time of this
            run's successful READs of the same length, and more than SLOW_FLOOR_S.

The cache defeat: before each re-read, one sector is read half the disc away (so the drive's
read-ahead cache holds another region), and the re-read itself is READ(10) with FUA (MMC: read the
medium, not the cache). A zero-length READ(10) with FUA is not used: MMC gives it no flushing
meaning, and the drives that honour it are the ones that honour FUA anyway.

Verdicts: agree -> stays finished. Differ -> unstable: the sector is marked bad (the image gets
zeros, a later run reads it again) and an `unstable-sectors` event holds its LBA and both SHA-256s.
The second read fails -> unconfirmed: marked bad too (two reads did not agree), with a damage row.
"""
from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from ..drive.device import SECTOR_BYTES
from ..isowriter import IsoWriter
from ..record import Record
from ..rescue.engine import Reader, Result
from ..rescue.sectormap import SectorMap, State
from .sink import RunSink

PHASE = "second-read"
SLOW_FACTOR = 10.0        # "far above the norm": ten times the median READ of the same length ...
SLOW_FLOOR_S = 1.0        # ... and over a second, more than any seek (a full stroke is ~0.2 s)
CHUNK_SECTORS = 32        # contiguous candidates are re-read 32 at a time (the copy pass's READ)
CAUSES = ("unstable", "failed", "marginal", "slow")   # a sector counts under the first that applies


class ReadTimes:
    """The engine's Reader, watched: the drive time of every successful READ, by length."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.durations: dict[int, list[float]] = defaultdict(list)
        self.long: list[tuple[int, int, float]] = []          # (lba, count, s) of reads over the floor

    def read(self, lba: int, count: int, *, fua: bool = False) -> Result:
        result = self.reader.read(lba, count, fua=fua)
        if result.ok:
            self.durations[count].append(result.duration_s)
            if result.duration_s > SLOW_FLOOR_S:
                self.long.append((lba, count, result.duration_s))
        return result

    def slow(self) -> list[tuple[int, int]]:
        """(lba, count) of each successful READ over SLOW_FACTOR x its length's median and SLOW_FLOOR_S."""
        medians = {count: statistics.median(d) for count, d in self.durations.items()}
        return [(lba, count) for lba, count, s in self.long if s > SLOW_FACTOR * medians[count]]


@dataclass
class SecondRead:
    """What the second read did: counted in `acquire image --json` and the `second-read` event."""

    candidates: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0))
    re_read: int = 0
    confirmed: int = 0
    unstable: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"candidates": self.candidates, "re_read": self.re_read, "confirmed": self.confirmed,
                "unstable": ranges(self.unstable), "unconfirmed": ranges(self.unconfirmed)}


def candidates(record: Record, smap: SectorMap, times: ReadTimes | None) -> dict[int, str]:
    """Each finished sector to read again -> its first cause (CAUSES order)."""
    found: dict[int, str] = {}

    def add(lba: int, count: int, cause: str) -> None:
        for x in range(max(lba, 0), min(lba + count, smap.sectors)):
            if x not in found and smap.state_at(x) == State.FINISHED:
                found[x] = cause

    for event in record.events("unstable-sectors"):
        for sector in event["details"].get("sectors", []):
            add(sector["lba"], 1, "unstable")
    for outcome in ("failed", "marginal"):
        for row in record.db["damage"].rows_where("outcome = ?", [outcome], select="lba, count"):
            add(row["lba"], row["count"], outcome)
    for lba, count in (times.slow() if times is not None else []):
        add(lba, count, "slow")
    return found


def second_read(reader: Reader, record: Record, run_id: int, smap: SectorMap, writer: IsoWriter, sink: RunSink,
                times: ReadTimes | None) -> SecondRead:
    """Re-read the candidates past the cache; mark bad what does not agree; record it all."""
    todo = candidates(record, smap, times)
    done = SecondRead()
    for cause in todo.values():
        done.candidates[cause] += 1
    if todo:
        sink.pass_started(PHASE, 1, "forward")
        for start, count in _chunks(sorted(todo)):
            _confirm(reader, record, run_id, smap, writer, sink, start, count, done)
        sink.pass_ended(PHASE, 1)
    record.log_event(run_id, "second-read", cache_defeat="distant read, then READ(10) with FUA",
                     slow_rule=f"> {SLOW_FACTOR:g} x median and > {SLOW_FLOOR_S:g} s", **done.as_json())
    return done


def _confirm(reader: Reader, record: Record, run_id: int, smap: SectorMap, writer: IsoWriter, sink: RunSink,
             start: int, count: int, done: SecondRead) -> None:
    distant = _distant(smap, start)
    if distant is not None:
        sink.counted(reader.read(distant, 1, fua=True))        # only to move the drive's cache away
    second = reader.read(start, count, fua=True)
    if not second.ok:
        if count > 1:                     # find which sector will not read, each past the cache again
            for lba in range(start, start + count):
                _confirm(reader, record, run_id, smap, writer, sink, lba, 1, done)
            sink.counted(second)
            return
        sink.failed(second, PHASE, 1, "second read: the sector read once and then failed; not accepted")
        smap.set(start, 1, State.BAD)
        done.re_read += 1
        done.unconfirmed.append(start)
        return
    sink.counted(second)
    first = writer.read(start, count)
    found = []
    for i in range(count):
        a, b = (bytes(x[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES]) for x in (first, second.data))
        done.re_read += 1
        if a == b:
            done.confirmed += 1
            continue
        smap.set(start + i, 1, State.BAD)
        done.unstable.append(start + i)
        found.append({"lba": start + i, "first_sha256": hashlib.sha256(a).hexdigest(),
                      "second_sha256": hashlib.sha256(b).hexdigest()})
    if found:
        # logged at once (chained and committed), so that an interrupted run still names them
        sink.stop_streaming()             # the streamed hash saw the first read's bytes
        record.log_event(run_id, "unstable-sectors", sectors=found)


def _distant(smap: SectorMap, lba: int) -> int | None:
    """A finished sector about half the disc away from `lba` (None when nothing is finished)."""
    target = (lba + smap.sectors // 2) % smap.sectors
    run = smap.next_run_of(State.FINISHED, at=target) or smap.next_run_of(State.FINISHED, at=target, reverse=True)
    if run is None:
        return None
    return run.start if run.start >= target else run.end - 1


def _chunks(lbas: list[int]):
    start = prev = None
    for lba in lbas:
        if start is not None and lba == prev + 1 and lba - start < CHUNK_SECTORS:
            prev = lba
            continue
        if start is not None:
            yield start, prev - start + 1
        start = prev = lba
    if start is not None:
        yield start, prev - start + 1


def ranges(lbas: list[int]) -> list[list[int]]:
    """Sorted LBAs -> inclusive [first, last] ranges."""
    out: list[list[int]] = []
    for lba in sorted(lbas):
        if out and out[-1][1] == lba - 1:
            out[-1][1] = lba
        else:
            out.append([lba, lba])
    return out
