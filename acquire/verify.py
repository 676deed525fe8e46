"""`acquire verify`: the record against itself, the image against the record, and both against the disc.

Verify never changes the image. It appends its result to the record as one chained
'verification' event (and a seal), and only to a record that checked intact: sealing an edited
record would bless it. With record_result=False (`--no-record`) the record is opened read-only and
its file's bytes stay exactly as they were.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .drive.device import SECTOR_BYTES, open_drive
from .drive.layout import layout_of
from .errors import RecordError
from .fs import declared
from .fs.sessions import starts_from_record
from .hashing import ALGORITHMS, WINDOW_BYTES, Window, compare_windows, hash_file
from .isowriter import IsoReader
from .record import Record
from .record.audio_tables import check_audio_files
from .record.chain import EVENTS
from .record.fs_tables import load_analysis
from .rescue.sectormap import SectorMap, State
from .seal.check import check_seal_file, check_signature, seal_paths

SOURCE_READ_SECTORS = 32
SQLITE_HEADER = b"SQLite format 3\x00"      # the first 16 bytes of every SQLite database file
MAX_LISTED = 50


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "summary": self.summary, "details": self.details}


@dataclass
class Verification:
    record: Path
    image: Path | None
    checks: list[Check]
    recorded: str = ""               # what became of the result in the record, said on its own line
    head: str | None = None          # the record's chain head when it was checked

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_json(self) -> dict:
        return {"record": str(self.record), "image": str(self.image) if self.image else None, "ok": self.ok,
                "checks": [c.as_json() for c in self.checks], "recorded": self.recorded}


def verify(record_path: Path, *, source: str | None = None, image: Path | None = None,
           record_result: bool = True, allowed_signers: Path | None = None, identity: str | None = None,
           signer_fingerprint: str | None = None, against: Path | None = None, progress=None) -> Verification:
    """Every check, then (unless `record_result` is False) the result appended to an intact record.

    The layers, each its own check: record (chain and table seal), seal (IMAGE.seal.json against
    the record), signature (its SSHSIG, and with `allowed_signers` or `signer_fingerprint` the
    signer's trust), image (hashes against the record), provenance, with `source` the disc, and
    with `against` another acquisition (a record, or an image file) sector by sector. `progress(n)` is
    told the bytes of the image as they are hashed (acquire audit's progress bar)."""
    record = Record.open_readonly(record_path)
    try:
        head = record.head_hash()
        image_path = image or image_of(record_path)
        seal_path, sig_path = seal_paths(image_path)
        seal = check_seal_file(record, seal_path)
        signature = check_signature(record, seal_path, sig_path, allowed_signers=allowed_signers,
                                    identity=identity, fingerprint=signer_fingerprint)
        signed = Check("signature", signature.ok, signature.summary, signature.details)
        if signature.ok and not seal.ok and sig_path.exists():
            # the key vouches for the seal file, and the seal file no longer describes this record:
            # a record edited and re-hashed after signing fails here, by name
            signed = Check("signature", False, f"the signature over {seal_path.name} is valid, but what it signed "
                           "is not this record: it was changed after it was signed", [seal.summary, *seal.details])
        checks = [*_check_record(record), Check("seal", seal.ok, seal.summary, seal.details), signed,
                  _check_image(record, image_path, progress), _provenance(record), _check_completeness(record, image_path)]
        audio = check_audio_files(record, image_path.parent)
        if audio is not None:                  # an audio CD's files (docs/audio.md)
            checks.append(Check("audio", *audio))
        if source is not None:
            checks.append(_check_source(record, image_path, source))
        compared = None
        if against is not None:
            check, compared = _check_against(record, image_path, Path(against))
            checks.append(check)
    finally:
        record.close()
    result = Verification(record_path, image_path, checks, head=head)
    if not record_result:
        result.recorded = "not recorded (--no-record): the record file is unchanged"
    elif not (checks[0].ok and checks[1].ok):
        result.recorded = "not recorded: the record itself did not verify, so nothing is added to it"
    else:
        result.recorded = _append_result(record_path, head, source, checks, compared)
    return result


def _append_result(record_path: Path, head: str | None, source: str | None, checks: list[Check],
                   against: dict | None = None, *, kind: str = "verification", **extra) -> str:
    """The verification as a chained event and a new seal, if the record is still the one checked.
    `kind` and `extra`: acquire audit's 'audit' event, the same checks with the audit's id."""
    record = Record.open(record_path)
    try:
        if record.head_hash() != head:
            return "not recorded: the record changed while it was being verified; run verify again"
        if against is not None:                                     # older events stay as they were
            extra["against"] = against
        record.log_event(None, kind, source=source, ok=all(c.ok for c in checks),
                         checks={c.name: c.summary for c in checks}, **extra)
        record.seal(None)
        return f"recorded: a chained '{kind}' event and a new seal (chain head {record.head_hash()})"
    finally:
        record.close()


def image_of(record_path: Path) -> Path:
    name = record_path.name
    suffix = ".custody.sqlite"
    if not name.endswith(suffix):
        raise RecordError(f"cannot tell the image of {record_path}", hint="name the record IMAGE.custody.sqlite")
    return record_path.with_name(name[: -len(suffix)])


def _check_record(record: Record) -> tuple[Check, Check]:
    """Two lines: the chain (the events table: each hash recomputes and links to the one before,
    every run's seal is there) and the record (every other table against the latest seal)."""
    findings = record.verify()
    line = lambda f: f"{f.severity}: {f.table}{' ' + f.row if f.row else ''}: {f.message}"  # noqa: E731
    chain = [f for f in findings if f.table == EVENTS and f.severity == "tampered"]
    rest = [f for f in findings if f not in chain]
    count = record.db.conn.execute("SELECT count(*) FROM events").fetchone()[0]
    chain_check = (Check("chain", True, f"{count} events, each hash recomputes and links to the one before "
                         f"(head {record.head_hash()})") if not chain else
                   Check("chain", False, f"the event log was edited ({len(chain)} finding(s))", [line(f) for f in chain]))
    tampered = [f for f in rest if f.severity == "tampered"]
    if not rest:
        return chain_check, Check("record", True, "the seal matches every table")
    if tampered:
        tables = sorted({f.table for f in tampered})
        return chain_check, Check("record", False, f"edited after sealing: {', '.join(tables)}", [line(f) for f in rest])
    return chain_check, Check("record", False, "the last run was interrupted (unsealed)", [line(f) for f in rest])


def _provenance(record: Record) -> Check:
    """Which drive read how many sectors, in which runs and phases: an acquisition may span drives."""
    rows = record.db.conn.execute(
        "SELECT d.id, d.vendor, d.product, d.serial, d.device, sum(p.count), "
        "group_concat(DISTINCT p.run_id), group_concat(DISTINCT p.phase) "
        "FROM provenance p JOIN drives d ON d.id = p.drive_id GROUP BY d.id ORDER BY d.id").fetchall()
    details = [f"drive {i} ({vendor} {product}, serial {serial or 'unknown'}, {device}): {sectors} sectors "
               f"in run {runs}, phases {phases}" for i, vendor, product, serial, device, sectors, runs, phases in rows]
    return Check("provenance", True, f"finished sectors were read by {len(rows)} drive(s)", details)


def record_result(result: Verification, *, kind: str = "verification", **extra) -> str:
    """Append a finished (--no-record) verification to its record as `kind`, under the same rule as
    verify's own: only to a record whose chain and seal checked, and only if it has not changed since."""
    if not (result.checks[0].ok and result.checks[1].ok):
        return "not recorded: the record itself did not verify, so nothing is added to it"
    return _append_result(result.record, result.head, None, result.checks, kind=kind, **extra)


def _check_image(record: Record, image_path: Path, progress=None) -> Check:
    expected = record.image_hashes()
    if not expected:
        return Check("image", False, "the record holds no image hashes (the run did not finish)")
    if not image_path.exists():
        return Check("image", False, f"{image_path} is missing")
    actual = hash_file(image_path, window_hash=record.window_hash(), progress=progress)
    differing = [name for name, value in expected.items() if actual.as_dict().get(name) != value]
    if not differing and actual.size == record.image_size():
        # a record made before crc32 existed holds four: name what was compared
        names = [name for name in ALGORITHMS if name in expected]
        return Check("image", True, f"{', '.join(names[:-1])} and {names[-1]} equal the recorded ones")
    recorded_windows = [Window(*row) for row in record.windows()]
    changed = compare_windows(recorded_windows, actual.windows)
    details = [f"window {w.index}: bytes {w.offset}-{w.offset + w.length - 1} differ" for w in changed[:MAX_LISTED]]
    if actual.size != record.image_size():
        details.insert(0, f"size {actual.size} bytes, recorded {record.image_size()}")
    return Check("image", False, f"{', '.join(differing) or 'size'} differ from the record; "
                 f"{len(changed)} of {len(recorded_windows)} 1 MiB windows changed", details)


def _check_completeness(record: Record, image_path: Path) -> Check:
    """The image against every file system's own size (acquire.fs.declared): an image cut short
    whose hashes were taken (or rewritten) after the cut still fails here, with the numbers."""
    if not image_path.exists():
        return Check("completeness", False, f"{image_path} is missing")
    size = image_path.stat().st_size
    analysis = load_analysis(record)
    stored = declared.from_filesystems((fs.kind, fs.details) for fs in (analysis.filesystems if analysis else ()))
    try:
        now = declared.from_image(image_path, starts_from_record(record.db.conn))
    except Exception as exc:  # noqa: BLE001 - arbitrary image bytes: the record's figures still stand
        now, stored = [], [*stored, declared.DeclaredSize("(reading the image's structures failed)", 0, str(exc))]
    sizes = [s for s in declared.merged([*now, *stored]) if s.end_bytes]
    sectors = size // SECTOR_BYTES
    if not sizes:
        return Check("completeness", True, "no file system on the image states a size")
    short = [s for s in sizes if s.end_bytes > size]
    if not short:
        return Check("completeness", True, f"the image's {sectors} sectors hold all {len(sizes)} extents its file systems "
                     f"declare (the furthest: {sizes[0].structure}, to sector {sizes[0].end_sectors})")
    worst = short[0]
    return Check("completeness", False, f"the image holds {sectors} sectors ({size} bytes), but {worst.structure} "
                 f"ends at sector {worst.end_sectors}: {worst.end_sectors - sectors} sectors missing",
                 [f"{s.structure}: {s.end_bytes} bytes (sector {s.end_sectors}) > {size}: {s.how}" for s in short])


def _check_source(record: Record, image_path: Path, source: str) -> Check:
    medium = record.medium()
    smap = SectorMap.from_runs(medium["capacity"], record.load_map())
    drive = open_drive(source)
    try:
        drive.wait_ready()
        now = drive.medium()
        identity = json.loads(medium["identity"])
        sectors = now.capacity
        if sectors != identity["capacity"]:   # an open session: the image runs past READ CAPACITY
            sectors = layout_of(drive, now).sectors
            drive.allow_reads_to(sectors)
        if (sectors, now.profile, now.toc_summary()) != (identity["capacity"], identity["profile"], identity["toc"]):
            return Check("source", False, f"the disc in {source} is not the disc of this record "
                         f"(capacity {now.capacity} vs {identity['capacity']}, profile {now.profile_name})")
        differing, now_unreadable, now_readable = [], [], []
        with IsoReader(image_path, medium["capacity"]) as image:
            for run in smap.runs_of(State.FINISHED):
                for lba in range(run.start, run.end, SOURCE_READ_SECTORS):
                    count = min(SOURCE_READ_SECTORS, run.end - lba)
                    result = drive.read(lba, count, fua=True)
                    if not result.ok:
                        # name the sectors, not the read: each is tried once on its own
                        now_unreadable += [x for x in range(lba, lba + count) if not drive.read(x, 1, fua=True).ok]
                        continue
                    stored = image.read(lba, count)
                    if stored != result.data:
                        differing += [lba + i for i in range(count)
                                      if stored[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES]
                                      != result.data[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES]]
            for run in smap.runs():
                if run.state in (State.FINISHED, State.NOT_RECORDED):    # nothing to read in a gap
                    continue
                for lba in range(run.start, run.end):
                    if drive.read(lba, 1, fua=True).ok:
                        now_readable.append(lba)
    finally:
        drive.close()
    finished = smap.count(State.FINISHED)
    unreadable = smap.sectors - finished - smap.count(State.NOT_RECORDED)
    details = []
    if differing:
        details.append("sectors that differ from the image now (an unstable disc?): " + _lbas(differing))
    if now_unreadable:
        details.append("finished sectors that failed to read now: " + _lbas(now_unreadable))
    if now_readable:
        details.append("sectors unreadable at acquisition that read now (the image is unchanged): " + _lbas(now_readable))
    ok = not differing and not now_unreadable
    summary = (f"same disc; {finished} finished sectors re-read, {len(differing)} differ, "
               f"{len(now_unreadable)} failed to read; {len(now_readable)} of {unreadable} unreadable sectors read now")
    return Check("source", ok, summary, details)


def _check_against(record: Record, image_path: Path, other: Path) -> tuple[Check, dict]:
    """Another acquisition of the same disc (or title), sector by sector: Redump's rule that two
    independent dumps must match. OTHER is a record (its map says which sectors it read) or an
    image file (every sector counts as read). Streams a 1 MiB window of each at a time."""
    medium = record.medium()
    capacity = medium["capacity"]
    mine = SectorMap.from_runs(capacity, record.load_map())
    facts: dict = {"path": str(other)}
    side = _other_side(medium, other, facts)
    if isinstance(side, Check):
        return side, {**facts, "ok": False}
    theirs, other_image = side
    for path in (image_path, other_image):
        if not path.exists():
            return Check("against", False, f"{path} is missing"), {**facts, "ok": False}
    tally = _Tally()
    with IsoReader(image_path, capacity) as a, IsoReader(other_image, capacity) as b:
        window_sectors = WINDOW_BYTES // SECTOR_BYTES
        for lo in range(0, capacity, window_sectors):
            tally.window(a, b, lo, min(lo + window_sectors, capacity), mine, theirs, lo // window_sectors)
    details = []
    if tally.differ:
        details.append("differing sectors: " + _lbas(tally.listed) +
                       (f" ... ({tally.differ} in all)" if tally.differ > len(tally.listed) else ""))
        details.append("in 1 MiB windows: " + _lbas(tally.windows))
    summary = (f"{tally.agree} sectors agree, {tally.differ} differ; {tally.only_mine} only in this record, "
               f"{tally.only_theirs} only in {other.name}")
    facts.update(ok=not tally.differ, agree=tally.agree, differ=tally.differ, differing_lbas=tally.listed,
                 differing_windows=tally.windows[:MAX_LISTED], only_this=tally.only_mine, only_other=tally.only_theirs)
    return Check("against", not tally.differ, summary, details), facts


def _other_side(medium: dict, other: Path, facts: dict) -> tuple[SectorMap, Path] | Check:
    """OTHER's map and image, or the Check that says why it is not an acquisition of this disc."""
    capacity = medium["capacity"]
    with open(other, "rb") as file:
        is_record = file.read(16) == SQLITE_HEADER
    if not is_record:
        size = other.stat().st_size
        facts["size"] = size
        if size != capacity * SECTOR_BYTES:
            return Check("against", False, f"{other.name} holds {size} bytes, this disc's image {capacity * SECTOR_BYTES}")
        return SectorMap(capacity, State.FINISHED), other           # an image alone claims every sector
    other_record = Record.open_readonly(other)
    try:
        other_medium = other_record.medium() or {}
        facts["chain_head"] = other_record.head_hash()
        facts["image_hashes"] = other_record.image_hashes()
        theirs = SectorMap.from_runs(other_medium.get("capacity") or 0, other_record.load_map())
    finally:
        other_record.close()
    differs = [name for name, column in (("capacity", "capacity"), ("profile", "profile"), ("TOC", "toc_json"))
               if other_medium.get(column) != medium.get(column)]
    if differs:
        facts["differs_in"] = differs
        return Check("against", False, f"{other.name} is not an acquisition of this disc (differs in "
                     f"{', '.join(differs)})")
    return theirs, image_of(other)


@dataclass
class _Tally:
    """What a sector-by-sector comparison found so far."""

    agree: int = 0
    differ: int = 0
    only_mine: int = 0
    only_theirs: int = 0
    listed: list[int] = field(default_factory=list)      # the first MAX_LISTED differing LBAs
    windows: list[int] = field(default_factory=list)     # the 1 MiB windows holding a difference

    def window(self, a: IsoReader, b: IsoReader, lo: int, hi: int, mine: SectorMap, theirs: SectorMap,
               index: int) -> None:
        """Sectors lo..hi-1: compared where both read them, counted where only one did."""
        cuts = sorted({lo, hi, *(r.start for r in mine.runs(lo, hi)), *(r.start for r in theirs.runs(lo, hi))})
        data_a = data_b = None
        before = self.differ
        for start, end in zip(cuts, cuts[1:]):
            here, there = mine.state_at(start) == State.FINISHED, theirs.state_at(start) == State.FINISHED
            if here and there:
                if data_a is None:
                    data_a, data_b = a.read(lo, hi - lo), b.read(lo, hi - lo)
                self._compare(data_a, data_b, lo, start, end)
            elif here:
                self.only_mine += end - start
            elif there:
                self.only_theirs += end - start
        if self.differ > before:
            self.windows.append(index)

    def _compare(self, data_a: bytes, data_b: bytes, lo: int, start: int, end: int) -> None:
        x, y = (start - lo) * SECTOR_BYTES, (end - lo) * SECTOR_BYTES
        if data_a[x:y] == data_b[x:y]:
            self.agree += end - start
            return
        for lba in range(start, end):
            at = (lba - lo) * SECTOR_BYTES
            if data_a[at:at + SECTOR_BYTES] == data_b[at:at + SECTOR_BYTES]:
                self.agree += 1
            else:
                self.differ += 1
                if len(self.listed) < MAX_LISTED:
                    self.listed.append(lba)


def _lbas(lbas: list[int]) -> str:
    shown = ", ".join(str(x) for x in lbas[:MAX_LISTED])
    return shown + (f" ... ({len(lbas)} in all)" if len(lbas) > MAX_LISTED else "")
