"""Every session of a multisession disc: each one's ISO 9660 tree, and what a later session hid.

A CD-R or DVD±R burned in several sessions holds one volume descriptor set per session, 16 sectors
after the session's start; each later set's tree points back into the earlier sessions' extents
for the files it kept (genisoimage -M, xorriso). A drive and a mount show only the last session's
tree, but the earlier trees and the sectors of the files a later session dropped are still on the
disc: "removed in a later session" and "replaced" (same path, another extent) are what an
examiner looks for (docs/fs.md "Every session").

    starts = session_starts(reader, given)        # given (the disc's layout) or found in the image
    add_earlier_sessions(analysis, reader, starts, ids, last_fs_id, last_files)

The session starts come from the disc's layout (the TOC: the record's table, once acquisition
records it) or, without one, from the image: the first session at 0 (or 32, where xorriso's
overwriteable-media layout puts it, LBA 16 then holding a copy of the newest), and each next one by scanning a bounded window past the
previous session's end for a primary volume descriptor. Not-recorded sectors (gaps) cost nothing:
only sectors the map says were read are looked at.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..record.fs_tables import Analysis, FileEntry, SessionChange
from . import iso9660, volume
from .iso9660_records import parse_record
from .reader import SECTOR, SectorReader
from .volume import PVD_LBA, PrimaryVolume, STANDARD_IDENTIFIER, VD_PRIMARY

# how far past a session's declared end the next session's descriptors are looked for: a CD's
# 11,400-sector gap after the first session (6,900 later) plus 2 run-out blocks and the padding
# burners add (xorriso 150 sectors by default), and a DVD-R border zone; 64 MiB at most per session
SCAN_WINDOW_SECTORS = 32_768
SCAN_CHUNK_SECTORS = 512
MAX_SESSIONS = 99                      # a CD's limit (99 tracks, one track a session at least)
OVERWRITEABLE_FIRST_SESSION = 32       # libisoburn's emulated TOC: LBA 0-31 hold the newest descriptors
PVD_HEAD = bytes([VD_PRIMARY]) + STANDARD_IDENTIFIER + b"\x01"


@dataclass(frozen=True, slots=True)
class SessionVolume:
    """One session's primary volume descriptor and where the session says it ends."""

    start: int                # the session's first LBA (its descriptors at start + 16)
    descriptor_lba: int
    volume: PrimaryVolume
    root_lba: int

    @property
    def declared_end(self) -> int:
        """The first LBA after the session's volume space. genisoimage and xorriso record a later
        session's own size (relative to its start); a volume space holding the root directory is
        absolute (the copy at LBA 16 of xorriso's overwriteable media). When both readings fit, the
        smaller (absolute) one is taken: a completeness check must never claim sectors a disc lacks."""
        size = self.volume.volume_space_size
        return self.start + size if self.root_lba >= size else size


def read_session_volume(reader: SectorReader, start: int) -> SessionVolume | None:
    """The primary volume descriptor of the session starting at `start`, if one is readable there."""
    lba = start + PVD_LBA
    if not (0 <= lba < reader.sectors) or not reader.readable(lba):
        return None
    pvd = volume.parse_primary_volume(reader.read(lba))
    if pvd is None:
        return None
    root = parse_record(pvd.root_record, 0, joliet=False, entry_lba=lba)
    if root is None or root.lba < start:
        return None          # addresses of a later session are absolute: its root lies inside it
    return SessionVolume(start, lba, pvd, root.lba)


def session_starts(reader: SectorReader, given: Sequence[int] | None = None) -> list[int]:
    """The sessions' start LBAs: `given` (sorted, those inside the image), or found in the image."""
    if given:
        return sorted({s for s in given if 0 <= s < reader.sectors}) or [0]
    return find_sessions(reader)


def find_sessions(reader: SectorReader) -> list[int]:
    """Sessions found by their descriptor sets: 0, then each next one within SCAN_WINDOW_SECTORS
    past the previous one's end. [0] when the image holds one session."""
    at_zero = read_session_volume(reader, 0)
    at_32 = read_session_volume(reader, OVERWRITEABLE_FIRST_SESSION)
    if at_zero is not None and at_32 is not None:
        # xorriso's overwriteable media (DVD+RW, a file): sessions from LBA 32, and LBA 16 holding a
        # copy of the newest one's descriptors, which is no session of its own
        chain = _chain(reader, at_32)
        if chain[-1].root_lba == at_zero.root_lba:
            return [s.start for s in chain]
    if at_zero is None:
        return [0]
    return [s.start for s in _chain(reader, at_zero)]


def _chain(reader: SectorReader, first: SessionVolume) -> list[SessionVolume]:
    found = [first]
    while len(found) < MAX_SESSIONS:
        nxt = _next_session(reader, max(found[-1].declared_end, found[-1].start + 1))
        if nxt is None:
            break
        found.append(nxt)
    return found


def _next_session(reader: SectorReader, after: int) -> SessionVolume | None:
    """The first session whose primary volume descriptor lies in [after + 16, after + window)."""
    lo, hi = after + PVD_LBA, min(reader.sectors, after + SCAN_WINDOW_SECTORS)
    for run_lo, run_hi in _readable_runs(reader, lo, hi):
        for chunk in range(run_lo, run_hi, SCAN_CHUNK_SECTORS):
            count = min(SCAN_CHUNK_SECTORS, run_hi - chunk)
            data = reader.read(chunk, count)
            at = data.find(PVD_HEAD)
            while at >= 0:
                if at % SECTOR == 0:
                    found = read_session_volume(reader, chunk + at // SECTOR - PVD_LBA)
                    if found is not None:
                        return found
                at = data.find(PVD_HEAD, at + 1)
    return None


def _readable_runs(reader: SectorReader, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    if lo >= hi:
        return
    if reader.smap is None:
        yield lo, hi
        return
    from ..rescue.sectormap import State
    for run in reader.smap.runs(lo, min(hi, reader.smap.sectors)):
        if run.state == State.FINISHED:
            yield max(run.start, lo), min(run.start + run.count, hi)


# --- the earlier sessions' trees, and what changed ------------------------------------------------


def add_earlier_sessions(analysis: Analysis, reader: SectorReader, starts: Sequence[int], ids: Iterator[int],
                         last_fs_id: int | None, last_files: list[FileEntry]) -> None:
    """Walk each earlier session's primary tree (an `iso9660` filesystem, alternate_of the last
    session's, with `session` and `session_start` in its details) and list what the last session
    removed or replaced, by the names a user sees (_named_view). The last session's filesystem gets
    its session number too."""
    if len(starts) < 2:
        return
    last = next((fs for fs in analysis.filesystems if fs.id == last_fs_id), None)
    if last is not None:
        _mark(last.details, reader, len(starts), starts[-1], last_files)
    last_names = _named_view(analysis, last_fs_id, last_files)
    trees: list[tuple[int, int, list[FileEntry]]] = []
    for number, start in enumerate(starts[:-1], 1):
        descriptors = volume.read_descriptors(reader, start)
        if descriptors.primary is None:
            continue                     # analyze._usable_sessions named it already
        lba, vd = descriptors.primary
        tree = iso9660.walk(reader, lba, vd, fs_id=next(ids), kind="iso9660", alternate_of=last_fs_id)
        _mark(tree.filesystem.details, reader, number, start, tree.files)
        analysis.filesystems.append(tree.filesystem)
        analysis.files.extend(tree.files)
        analysis.unreadable.extend(tree.unreadable)
        names = (tree.filesystem.id, tree.files)
        if tree.rock_ridge is None:
            names = _joliet_view(analysis, reader, descriptors, next(ids), tree.filesystem.id, number, start) or names
        trees.append((number, *names))
    if last_fs_id is not None:
        trees.append((len(starts), *last_names))
        analysis.session_changes.extend(session_changes(trees))


def _named_view(analysis: Analysis, fs_id: int | None, files: list[FileEntry]) -> tuple[int | None, list[FileEntry]]:
    """The tree whose names a user sees: Rock Ridge's when the primary tree has it, else Joliet's
    (a disc burned on Windows has ISO 9660 8.3 names and Joliet), else the ISO 9660 names."""
    if any(fs.kind == "rockridge" and fs.details.get("names_in") == fs_id for fs in analysis.filesystems):
        return fs_id, files
    joliet = next((fs for fs in analysis.filesystems if fs.kind == "joliet" and fs.alternate_of == fs_id), None)
    return (joliet.id, analysis.files_of(joliet.id)) if joliet is not None else (fs_id, files)


def _joliet_view(analysis: Analysis, reader: SectorReader, descriptors: volume.Descriptors, fs_id: int,
                 primary_id: int, number: int, start: int) -> tuple[int, list[FileEntry]] | None:
    """An earlier session's Joliet tree, walked and kept (alternate_of its primary tree), when it has one."""
    for lba, svd in descriptors.supplementary:
        if svd.joliet_level is None:
            continue
        tree = iso9660.walk(reader, lba, svd, fs_id=fs_id, kind="joliet", alternate_of=primary_id)
        tree.filesystem.details.update(session=number, session_start=start)
        analysis.filesystems.append(tree.filesystem)
        analysis.files.extend(tree.files)
        analysis.unreadable.extend(tree.unreadable)
        return tree.filesystem.id, tree.files
    return None


def _mark(details: dict, reader: SectorReader, number: int, start: int, files: list[FileEntry]) -> None:
    details["session"] = number
    details["session_start"] = start
    sv = read_session_volume(reader, start)
    if sv is not None:
        details["declared_end"] = declared_end(sv, files)


def declared_end(sv: SessionVolume, files: list[FileEntry]) -> int:
    """The session's end as its volume space size says, read as relative when any of its own
    extents lies past the absolute reading (SessionVolume.declared_end)."""
    size = sv.volume.volume_space_size
    furthest = max((lba + count for f in files for lba, count in f.extents if lba >= sv.start), default=0)
    return sv.start + size if furthest > size else sv.declared_end


def session_changes(trees: list[tuple[int, int, list[FileEntry]]]) -> list[SessionChange]:
    """From (session number, filesystem id, files) in session order, the files an earlier session
    holds that a later one dropped ('removed', reported from the last session that still had it),
    holds under another name at the same extents ('renamed') or holds at another extent
    ('replaced', one row per superseded version)."""
    last_session = trees[-1][0]
    versions: dict[str, list[tuple[int, int, FileEntry]]] = {}
    present: dict[int, set[str]] = {}
    for number, fs_id, files in trees:
        present[number] = set()
        for f in files:
            if f.is_dir:
                continue
            present[number].add(f.path)
            versions.setdefault(f.path, []).append((number, fs_id, f))
    numbers = [n for n, _, _ in trees]
    at_extents = {number: {f.extents: f.path for f in files if not f.is_dir and f.extents} for number, _, files in trees}
    changes: list[SessionChange] = []
    for path, held in versions.items():
        for (number, fs_id, f), after in zip(held, [*held[1:], None]):
            if after is None:
                if number != last_session:
                    gone_in = next(n for n in numbers if n > number and path not in present[n])
                    # the same extents under another name: renamed, not removed (genisoimage -M keeps
                    # an earlier file under its ISO 9660 name in a later session's Joliet tree)
                    new_path = at_extents[gone_in].get(f.extents) if f.extents else None
                    changes.append(_change("renamed" if new_path else "removed", f, number, fs_id, gone_in,
                                           new_path=new_path))
            elif after[2].extents != f.extents:
                changes.append(_change("replaced", f, number, fs_id, after[0], after[2].extents))
    return sorted(changes, key=lambda c: (c.session, c.change, c.path))


def _change(kind: str, f: FileEntry, number: int, fs_id: int, later: int,
            new_extents: tuple[tuple[int, int], ...] = (), new_path: str | None = None) -> SessionChange:
    return SessionChange(kind, f.path, number, fs_id, f.size, f.extents, f.unreadable_sectors, later,
                         new_extents, f.mtime_utc, new_path)


# --- the layout in the record ---------------------------------------------------------------------

# where a record may hold the disc's layout: (table, start column, session column or None). The
# first that exists and has rows wins; without one the sessions are found in the image.
LAYOUT_SOURCES = (("layout_tracks", "start", "session"),          # acquisition's layout (docs/record.md "Layout")
                  ("sessions", "start_lba", None), ("sessions", "start", None),
                  ("tracks", "start_lba", "session"), ("tracks", "start", "session"))


def starts_from_record(conn) -> list[int] | None:
    """The session start LBAs a record's layout holds (a sessions table, or tracks with their
    session: a session starts at its first track), or the TOC entries when they name sessions;
    None when the record has no layout."""
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, start, session in LAYOUT_SOURCES:
        if table not in tables:
            continue
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if start not in columns or (session is not None and session not in columns):
            continue
        data_only = " AND NOT audio" if "audio" in columns else ""      # an audio session holds no file system
        if session is None:
            rows = conn.execute(f"SELECT {start} FROM {table} WHERE {start} IS NOT NULL{data_only} "
                                f"ORDER BY {start}").fetchall()
        else:
            rows = conn.execute(f"SELECT min({start}) FROM {table} WHERE {start} IS NOT NULL{data_only} "
                                f"GROUP BY {session} ORDER BY 1").fetchall()
        if rows:
            return [int(r[0]) for r in rows]
    return _starts_from_toc(conn, tables)


def _starts_from_toc(conn, tables: set[str]) -> list[int] | None:
    import json
    if "medium" not in tables:
        return None
    row = conn.execute("SELECT toc_json FROM medium ORDER BY id DESC LIMIT 1").fetchone()
    try:
        toc = json.loads(row[0]) if row and row[0] else []
    except ValueError:
        return None
    firsts: dict[int, int] = {}
    for entry in toc if isinstance(toc, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("session"), int) and isinstance(entry.get("start_lba"), int) \
                and entry.get("track") != 0xAA:
            firsts[entry["session"]] = min(entry["start_lba"], firsts.get(entry["session"], entry["start_lba"]))
    return sorted(firsts.values()) or None
