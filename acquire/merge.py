"""`acquire merge`: one image from acquisitions of several physical copies of one pressing (or of
one disc imaged by different examiners or on different days), with every sector's source recorded.

The copies must agree wherever they can be compared, or nothing is written (docs/merge.md):

1. each source record verifies (chain and seal) and its image has the recorded size;
2. the media agree: capacity, profile, TOC, disc information and the volume descriptor the
   records hold (where both hold one);
3. a seeded sample of the sectors two or more copies finished is identical (refuses fast);
4. one streaming pass, a 1 MiB window at a time, compares ALL such sectors, checks every source
   window against the xxh128 its record holds, and writes the merged window to a temporary image
   while hashing it. Only when the pass found no difference is the image renamed into place and
   its record created.

Each output sector comes from the first copy (in argument order) whose map calls it finished;
a sector no copy finished is zero-filled and keeps the furthest state any copy reached.
Sources are opened read-only (their files' bytes never change).
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from . import __version__
from .durable import sync_path
from .errors import MergeRefused, UsageError
from .hashing import WINDOW_BYTES, StreamHasher
from .isowriter import SECTOR_BYTES, IsoReader, IsoWriter
from .record import Record
from .record.layout_tables import load_layout, raw_responses, save_layout
from .rescue.sectormap import SectorMap, State
from .seal import Sealed, resolve as resolve_signer, write_seal
from .sumfiles import write_sfv, write_sum_files
from .verify import MAX_LISTED, image_of

WINDOW_SECTORS = WINDOW_BYTES // SECTOR_BYTES      # 512: the record's piecewise windows
SAMPLE_SECTORS = 256                               # the fast refusal: 256 random common sectors
PHASE = "merge"
# what two copies of one pressing share, as the records hold them (medium columns)
MEDIUM_FIELDS = (("capacity", "capacity"), ("profile", "profile"), ("toc_json", "TOC"),
                 ("disc_information_json", "disc information"), ("volume_json", "volume descriptor"))


@dataclass(frozen=True, slots=True)
class MergeOptions:
    record: Path | None = None        # default IMAGE.custody.sqlite
    case_id: str | None = None        # each None: the first source's
    evidence_id: str | None = None
    examiner: str | None = None
    notes: str | None = None
    command: str = ""
    sign_key: str | None = None       # None: ACQUIRE_SIGN_KEY, else unsigned


@dataclass
class _Source:
    copy: int                         # 1-based, in argument order
    record_path: Path
    image_path: Path
    record: Record                    # read-only
    head: str
    hashes: dict[str, str]
    medium: dict
    smap: SectorMap
    drive: dict                       # the drive that read most of this copy
    case: dict                        # its case_info row
    layout: dict | None = None        # its recorded layout (tracks, sessions, not-recorded extents)
    responses: list = field(default_factory=list)   # (command, name, hex, parsed_json) the layout came from
    reader: IsoReader | None = None
    given: int = 0                    # output sectors taken from this copy
    only: int = 0                     # sectors no other copy had

    def as_json(self) -> dict:
        return {"copy": self.copy, "record": str(self.record_path), "chain_head": self.head,
                "image": str(self.image_path), "image_hashes": self.hashes,
                "finished": self.smap.count(State.FINISHED), "given": self.given, "only_this_copy": self.only}


@dataclass
class MergeOutcome:
    image: Path
    record: Path
    sectors: int
    status: str                       # complete | partial
    finished: int
    unread_ranges: list[tuple[int, int]]
    agreed: int                       # finished in two or more copies, identical in all of them
    single: int                       # finished in exactly one copy
    sources: list[dict]
    hashes: dict[str, str]
    head_hash: str | None
    elapsed_s: float
    sample: dict = field(default_factory=dict)
    seal: Sealed | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "complete" else 3

    @property
    def mb_per_s(self) -> float:
        return self.sectors * SECTOR_BYTES / self.elapsed_s / 1e6 if self.elapsed_s else 0.0

    def as_json(self) -> dict:
        return {"image": str(self.image), "record": str(self.record), "sectors": self.sectors,
                "sector_size": SECTOR_BYTES, "status": self.status, "finished": self.finished,
                "unread": sum(b - a + 1 for a, b in self.unread_ranges), "unread_ranges": [list(r) for r in self.unread_ranges],
                "agreed": self.agreed, "single": self.single, "sources": self.sources, "sample": self.sample,
                "hashes": self.hashes, "chain_head": self.head_hash, "elapsed_s": round(self.elapsed_s, 3),
                "seal": str(self.seal.path) if self.seal else None,
                "seal_code": self.seal.code if self.seal else None}


def merge(records: list[Path], image: Path, options: MergeOptions = MergeOptions()) -> MergeOutcome:
    """Merge the acquisitions in `records` into `image` and its new, sealed record; MergeRefused
    (nothing written) unless the copies agree wherever two of them read the same sector."""
    started = time.perf_counter()
    image = Path(image)
    record_path = Path(options.record or image.with_name(image.name + ".custody.sqlite"))
    _check_paths(records, image, record_path)
    signer = resolve_signer(options.sign_key)        # a key that cannot sign is found before the pass
    sources: list[_Source] = []
    try:
        for copy, path in enumerate(records, 1):
            sources.append(_open_source(copy, Path(path)))
        _compare_media(sources)
        capacity = sources[0].medium["capacity"]
        sample = _sample(sources, capacity)
        merged, provenance, counts, hashes = _pass(sources, capacity, image)
    finally:
        for source in sources:
            if source.reader is not None:
                source.reader.close()
            source.record.close()
    try:
        outcome = _write_record(sources, image, record_path, options, merged, provenance, counts, hashes,
                                sample, signer)
    except BaseException:
        # an image with no record is one nobody can account for: never leave it
        if not record_path.exists():
            image.unlink(missing_ok=True)
        raise
    outcome.elapsed_s = time.perf_counter() - started
    return outcome


# -- the sources --------------------------------------------------------------------------------

def _check_paths(records: list[Path], image: Path, record_path: Path) -> None:
    if len(records) < 2:
        raise UsageError("acquire merge needs two or more records", hint="e.g. acquire merge a.iso.custody.sqlite "
                         "b.iso.custody.sqlite -o merged.iso")
    resolved = [Path(r).resolve() for r in records]
    if len(set(resolved)) != len(resolved):
        raise UsageError("the same record is given twice", hint="give each copy's record once")
    for path in (image, record_path):
        if path.exists():
            raise UsageError(f"{path} exists", hint="choose a new -o path (acquire merge never overwrites)")
        if path.resolve() in resolved or any(path.resolve() == image_of(r).resolve() for r in resolved
                                             if r.name.endswith(".custody.sqlite")):
            raise UsageError(f"{path} is one of the sources")
    if not image.parent.is_dir():
        raise UsageError(f"cannot write {image}: no directory {image.parent}")


def _open_source(copy: int, path: Path) -> _Source:
    record = Record.open_readonly(path)
    try:
        findings = record.verify()
        if findings:
            raise MergeRefused(f"copy {copy}: {path} does not verify, so it cannot be merged",
                               details=[f"{f.severity}: {f.table}{' ' + f.row if f.row else ''}: {f.message}"
                                        for f in findings][:MAX_LISTED],
                               hint="run acquire verify on it; resume an interrupted run first")
        medium = record.medium()
        hashes = record.image_hashes()
        if medium is None or not hashes:
            raise MergeRefused(f"copy {copy}: {path} holds no finished acquisition (no medium or no image hashes)")
        image_path = image_of(path)
        expected = medium["capacity"] * SECTOR_BYTES
        size = image_path.stat().st_size if image_path.exists() else None
        if size != expected:
            raise MergeRefused(f"copy {copy}: its image {image_path} is "
                               f"{'missing' if size is None else f'{size} bytes'}, the record says {expected}")
        smap = SectorMap.from_runs(medium["capacity"], record.load_map())
        source = _Source(copy, path, image_path, record, record.head_hash(), hashes, medium, smap,
                         _main_drive(record), record.case(), load_layout(record))
        if source.layout is not None:     # read now: the sources are closed before the new record is written
            source.responses = raw_responses(record)
        source.reader = IsoReader(image_path, medium["capacity"])
        return source
    except BaseException:
        record.close()
        raise


def _main_drive(record: Record) -> dict:
    """The drive that finished most of this copy's sectors (a copy may have been read in several)."""
    row = record.db.conn.execute(
        "SELECT d.vendor, d.product, d.revision, d.serial FROM provenance p JOIN drives d ON d.id = p.drive_id "
        "GROUP BY d.id ORDER BY sum(p.count) DESC, d.id LIMIT 1").fetchone()
    row = row or record.db.conn.execute("SELECT vendor, product, revision, serial FROM drives ORDER BY id LIMIT 1"
                                        ).fetchone() or (None,) * 4
    return dict(zip(("vendor", "product", "revision", "serial"), row))


def _compare_media(sources: list[_Source]) -> None:
    first = sources[0]
    for other in sources[1:]:
        details = []
        for column, name in MEDIUM_FIELDS:
            a, b = first.medium.get(column), other.medium.get(column)
            # a volume descriptor only one record holds cannot be compared (its copy could not read it)
            if column == "volume_json" and (a is None or b is None):
                continue
            if a != b:
                details.append(f"{name}: copy {first.copy} {a}, copy {other.copy} {b}")
        # a layout only one record holds (made before layouts were recorded) cannot be compared
        if first.layout is not None and other.layout is not None and _layout_key(first.layout) != _layout_key(other.layout):
            details.append(f"layout: copy {first.copy} {_layout_line(first.layout)}, "
                           f"copy {other.copy} {_layout_line(other.layout)}")
        if details:
            raise MergeRefused(f"copy {other.copy} ({other.record_path}) is not of the same pressing as copy "
                               f"{first.copy}: it differs in {', '.join(d.split(':')[0] for d in details)}; "
                               "nothing written", details=details)


def _layout_key(layout: dict) -> tuple:
    """What two reads of one disc share in its layout: the tracks and the not-recorded extents (not
    how each was found, nor the sizes the file systems gave after the copy)."""
    tracks = tuple((t["track"], t["session"], t["start"], t["end"], t["audio"], t["data_mode"])
                   for t in layout["tracks"])
    extents = tuple((n["start"], n["count"], n["kind"]) for n in layout["not_recorded"])
    return layout["sectors"], tracks, extents


def _layout_line(layout: dict) -> str:
    tracks = ", ".join(f"s{t['session']}t{t['track']} {t['start']}-{t['end']}" for t in layout["tracks"])
    gaps = ", ".join(f"{n['kind']} {n['start']}+{n['count']}" for n in layout["not_recorded"]) or "no gaps"
    return f"[{tracks}; {gaps}]"


def _copy_layout(sources: list[_Source], record: Record, run_id: int) -> None:
    """Carry the layout (and the raw answers it came from) of the first copy that holds one."""
    source = next((s for s in sources if s.layout is not None), None)
    if source is None:
        return
    rows = source.responses
    raw = {c: h for c, n, h, _ in rows if n == "layout"}
    structures = {n: (c, h, json.loads(p) if p else None) for c, n, h, p in rows if n != "layout"}
    save_layout(record, source.layout, raw, run_id=run_id, structures=structures)


# -- comparing --------------------------------------------------------------------------------

def _common_runs(sources: list[_Source]) -> list[tuple[int, int]]:
    """[start, end) ranges two or more copies finished, in LBA order."""
    edges = []
    for source in sources:
        for run in source.smap.runs_of(State.FINISHED):
            edges += [(run.start, 1), (run.end, -1)]
    edges.sort()
    out, depth, opened = [], 0, None
    for lba, step in edges:
        before, depth = depth, depth + step
        if before < 2 <= depth:
            opened = lba
        elif before >= 2 > depth:
            if lba > opened:
                out.append((opened, lba))
    return out


def _sample(sources: list[_Source], capacity: int) -> dict:
    """Compare a seeded sample of the sectors two or more copies read: a different pressing is
    usually refused here, after a few hundred reads instead of the whole disc."""
    common = _common_runs(sources)
    total = sum(end - start for start, end in common)
    seed = "merge:" + ":".join(s.head for s in sources)      # reproducible from the sources' chain heads
    picks = sorted(random.Random(seed).sample(range(total), min(SAMPLE_SECTORS, total)))
    lbas, at, base = [], 0, 0
    for offset in picks:
        while offset >= base + common[at][1] - common[at][0]:
            base += common[at][1] - common[at][0]
            at += 1
        lbas.append(common[at][0] + offset - base)
    differing = []
    for lba in lbas:
        having = [s for s in sources if s.smap.state_at(lba) == State.FINISHED]
        first = having[0].reader.read(lba, 1)
        differing += [f"LBA {lba}: copy {s.copy} differs from copy {having[0].copy}"
                      for s in having[1:] if s.reader.read(lba, 1) != first]
    if differing:
        raise MergeRefused(f"the copies differ in sectors both read ({len(differing)} of {len(lbas)} sampled): "
                           "not one pressing; nothing written", details=differing[:MAX_LISTED])
    return {"seed": seed, "sectors": len(lbas), "common_sectors": total}


def _segments(sources: list[_Source], lo: int, hi: int):
    """(start, end, copies that finished it, furthest state) for the pieces of [lo, hi) on which
    every copy's map is constant."""
    cuts = {lo, hi}
    for source in sources:
        cuts.update(run.start for run in source.smap.runs(lo, hi))
    cuts = sorted(cuts)
    for a, b in zip(cuts, cuts[1:]):
        states = [s.smap.state_at(a) for s in sources]
        yield a, b, [s for s, st in zip(sources, states) if st == State.FINISHED], max(states)


def _pass(sources: list[_Source], capacity: int, image: Path):
    """Compare every common sector, check every source window, and write and hash the merged image
    under a temporary name; (map, provenance, counts, hashes) or MergeRefused with nothing left."""
    temp = image.with_name(f".{image.name}.merging")
    temp.unlink(missing_ok=True)                     # from a merge that was killed: never an image
    merge = _Merge(SectorMap(capacity))
    hasher = StreamHasher()
    try:
        with IsoWriter(temp, capacity) as writer:
            writer.preallocate()
            for lo in range(0, capacity, WINDOW_SECTORS):
                out = merge.window(sources, lo, min(lo + WINDOW_SECTORS, capacity))
                if not merge.differing_count:
                    writer.write(lo, out)
                    hasher.update(out)
            if merge.differing_count:
                raise merge.refusal()
            writer.sync()
        hashes = hasher.finish()
        os.replace(temp, image)
        sync_path(image.parent)
    except BaseException:
        hasher.abort()
        temp.unlink(missing_ok=True)
        raise
    return merge.merged, merge.provenance, merge.counts, hashes


@dataclass
class _Merge:
    """The merged map and provenance so far, and the evidence against merging once any differs."""

    merged: SectorMap
    provenance: list[list[int]] = field(default_factory=list)      # [start, count, copy]
    counts: dict[str, int] = field(default_factory=lambda: {"agreed": 0, "single": 0})
    differing: list[str] = field(default_factory=list)             # the first MAX_LISTED, in words
    differing_count: int = 0
    differing_windows: list[int] = field(default_factory=list)

    def window(self, sources: list[_Source], lo: int, hi: int) -> bytearray:
        """Sectors lo..hi-1 of the merged image (zeros where no copy read them)."""
        window = lo // WINDOW_SECTORS
        data = {s.copy: s.reader.read(lo, hi - lo) for s in sources}
        for s in sources:
            _check_window(s, window, data[s.copy])
        out = bytearray((hi - lo) * SECTOR_BYTES)
        window_differs = 0
        for a, b, having, state in _segments(sources, lo, hi):
            self.merged.set(a, b - a, State.FINISHED if having else state)
            if not having:
                continue                             # zero-filled: no copy read it
            x, y = (a - lo) * SECTOR_BYTES, (b - lo) * SECTOR_BYTES
            window_differs += self._differences(data, having, lo, a, b)
            if self.differing_count or window_differs:
                continue                             # refusing: only the evidence is gathered now
            out[x:y] = data[having[0].copy][x:y]
            self._credit(having, a, b)
        if window_differs:
            self.differing_count += window_differs
            self.differing_windows.append(window)
        return out

    def _differences(self, data: dict, having: list[_Source], lo: int, a: int, b: int) -> int:
        """How many sectors of a..b-1 another copy holds differently from the first that read them."""
        x, y = (a - lo) * SECTOR_BYTES, (b - lo) * SECTOR_BYTES
        first = having[0]
        found = 0
        for other in having[1:]:
            if data[other.copy][x:y] == data[first.copy][x:y]:
                continue
            lbas = [lba for lba in range(a, b) if _sector(data[other.copy], lba - lo) != _sector(data[first.copy], lba - lo)]
            found += len(lbas)
            self.differing += [f"LBA {lba}: copy {other.copy} differs from copy {first.copy}"
                               for lba in lbas][:MAX_LISTED - len(self.differing)]
        return found

    def _credit(self, having: list[_Source], a: int, b: int) -> None:
        """Sectors a..b-1 come from the first copy that read them."""
        giver = having[0]
        self.counts["agreed" if len(having) > 1 else "single"] += b - a
        giver.given += b - a
        if len(having) == 1:
            giver.only += b - a
        if self.provenance and self.provenance[-1][2] == giver.copy and sum(self.provenance[-1][:2]) == a:
            self.provenance[-1][1] += b - a
        else:
            self.provenance.append([a, b - a, giver.copy])

    def refusal(self) -> MergeRefused:
        windows = ", ".join(map(str, self.differing_windows[:MAX_LISTED]))
        more = " ..." if len(self.differing_windows) > MAX_LISTED else ""
        return MergeRefused(f"the copies differ in {self.differing_count} sectors both read: not one pressing; "
                            "nothing written", details=self.differing + [f"1 MiB windows {windows}{more}"])


def _sector(data: bytes, index: int) -> bytes:
    return data[index * SECTOR_BYTES:(index + 1) * SECTOR_BYTES]


def _check_window(source: _Source, window: int, data: bytes) -> None:
    row = source.record.db.conn.execute("SELECT length, xxh128 FROM windows WHERE idx = ?", (window,)).fetchone()
    if row is None or row[0] != len(data) or xxhash.xxh3_128_hexdigest(data) != row[1]:
        raise MergeRefused(f"copy {source.copy}: its image {source.image_path} does not match its record in "
                           f"1 MiB window {window} (bytes {window * WINDOW_BYTES}-{window * WINDOW_BYTES + len(data) - 1}); "
                           "nothing written", hint=f"run acquire verify {source.record_path}")


# -- the new record --------------------------------------------------------------------------------

def _write_record(sources, image, record_path, options, merged: SectorMap, provenance, counts, hashes,
                  sample, signer) -> MergeOutcome:
    first = sources[0]
    case = first.case
    medium = {k: v for k, v in first.medium.items() if k not in ("id", "toc", "disc_information", "volume")}
    with_volume = next((s for s in sources if s.medium.get("volume_json")), first)
    medium["volume_label"], medium["volume_json"] = with_volume.medium["volume_label"], with_volume.medium["volume_json"]
    record = Record.create(record_path, case_id=options.case_id or case.get("case_id"),
                           evidence_id=options.evidence_id or case.get("evidence_id"),
                           examiner=options.examiner or case.get("examiner"),
                           notes=options.notes if options.notes is not None else case.get("notes"),
                           tool_version=__version__, medium=medium)
    try:
        capacity = merged.sectors
        finished = merged.count(State.FINISHED)
        settled = finished + merged.count(State.NOT_RECORDED)     # a gap between sessions is nothing to read
        status = "complete" if settled == capacity else "partial"
        run_id = record.begin_run(command=options.command,
                                  device="merge:" + ",".join(str(s.record_path) for s in sources))
        drive_ids = {s.copy: record.add_drive(device=f"copy {s.copy}: {s.record_path}", inquiry_hex=None, **s.drive)
                     for s in sources}
        record.log_event(run_id, "merge", sources=[s.as_json() for s in sources], sample=sample,
                         agreed=counts["agreed"], single=counts["single"], unread=capacity - settled,
                         drive_ids={str(k): v for k, v in drive_ids.items()})
        _copy_layout(sources, record, run_id)
        pass_id = record.begin_pass(run_id, PHASE, 1, "forward")
        record.save_map((r.start, r.count, int(r.state)) for r in merged.runs())
        for start, count, copy in provenance:
            record.add_provenance(start, count, run_id=run_id, drive_id=drive_ids[copy], phase=PHASE, pass_no=1)
        record.commit()                          # the image was fdatasynced and renamed before
        record.end_pass(pass_id, reads=0, failed_reads=0, sectors_finished=finished,
                        sectors_bad=capacity - settled, drive_time_s=0.0)
        record.set_hashes(hashes.as_dict(), hashes.size,
                          (w.row() for w in hashes.windows))
        record.log_event(run_id, "hashes", **hashes.as_dict())
        record.end_run(run_id, status)
        sealed = write_seal(record, run_id, image, signer)
        head = record.head_hash()
        comments = (f"acquire {__version__} merge of {len(sources)} copies, {capacity} sectors, status {status}",
                    f"record {record_path.name} chain head {head}")
        write_sum_files(image, hashes, comment_lines=comments)
        write_sfv(image, hashes, comment_lines=comments)
    finally:
        record.close()
    unread = [(r.start, r.end - 1) for r in merged.runs() if r.state not in (State.FINISHED, State.NOT_RECORDED)]
    return MergeOutcome(image, record_path, capacity, status, finished, unread, counts["agreed"], counts["single"],
                        [s.as_json() for s in sources], hashes.as_dict(), head, 0.0, sample, sealed)
