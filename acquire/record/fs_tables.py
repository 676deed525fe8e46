"""File-system findings in the record: what is on the disc, and what the damage hit (docs/fs.md).

The rows are declared here as frozen dataclasses (the analysis in acquire/fs/ builds them; the
reports read them back) and as tables in FS_SCHEMA, in schema.TABLES' format. The tables are created
by the first save_analysis() (CREATE TABLE IF NOT EXISTS), so a record made before them gains them;
the seal covers them from then on like every other table (chain.sealed_tables).

save_analysis() replaces every earlier finding in one transaction and logs an 'fs-analysis' event;
the caller's seal (end_run, or Record.seal outside a run) then covers the new rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from .store import Record

FS_TABLES = ("filesystems", "files", "boot_images", "unreadable_tree", "session_changes")
FS_KINDS = ("iso9660", "joliet", "rockridge", "udf", "eltorito", "mbr", "gpt", "apm", "hfs", "hfsplus")


@dataclass(frozen=True, slots=True)
class Filesystem:
    id: int
    kind: str                                   # one of FS_KINDS
    label: str | None
    details: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()              # what could not be read, one sentence each
    alternate_of: int | None = None             # another view (Joliet, a bridge's UDF) of that filesystem's files


@dataclass(frozen=True, slots=True)
class FileEntry:
    filesystem_id: int
    path: str
    size: int
    is_dir: bool
    extents: tuple[tuple[int, int], ...]        # (lba, sectors) in file order
    mtime_utc: str | None = None
    mode: str | None = None                     # e.g. '-rw-r--r--' from Rock Ridge PX or UDF permissions
    unreadable_sectors: int = 0                 # sectors of the extents (or of an embedding entry) not read
    entry_lba: int | None = None                # the sector holding its directory record / file entry
    embedded: bool = False                      # UDF: the data lives inside the file entry (no extent)
    link_target: str | None = None              # a symbolic link's target
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True, slots=True)
class BootImage:
    entry_no: int                               # 1-based, catalog order (xorriso's N)
    platform: str                               # 'x86' | 'efi' | 'mac' | 'ppc' | hex
    emulation: str                              # 'none' | '1.2m' | '1.44m' | '2.88m' | 'hdd'
    load_segment: int                           # as recorded (0 means the default 0x07C0)
    sector_count: int                           # 512-byte virtual sectors loaded at boot
    lba: int
    size_bytes: int                             # what was hashed: see size_source
    sha256: str | None                          # None when the image could not be read at all
    bootable: bool
    unreadable_sectors: int = 0
    system_type: int = 0
    size_source: str = ""                       # 'file /path', 'emulation', 'partition table', 'load size'
    path: str | None = None                     # the file in the ISO tree starting at lba, if any


@dataclass(frozen=True, slots=True)
class Unreadable:
    filesystem_id: int | None
    path: str | None                            # the directory / file whose structure is lost
    lba: int
    count: int
    what: str                                   # 'directory' | 'path table' | 'descriptor' | 'file entry' | ...


@dataclass(frozen=True, slots=True)
class SessionChange:
    """A file an earlier session of a multisession disc holds that the last session no longer shows
    as it was: 'removed' (its path is gone from a later session's tree), 'renamed' (gone, but its
    extents are there under another path) or 'replaced' (a later session has the same path at
    another extent). Its sectors are still on the disc."""

    change: str                                 # 'removed' | 'renamed' | 'replaced'
    path: str
    session: int                                # the session (1-based) whose tree holds this version
    filesystem_id: int                          # that session's iso9660 filesystem
    size: int
    extents: tuple[tuple[int, int], ...]        # (lba, sectors) of this version
    unreadable_sectors: int                     # of those extents, not read (the map)
    later_session: int                          # removed: the first session without it; replaced: the one with the new version
    new_extents: tuple[tuple[int, int], ...] = ()   # replaced: the later version's extents
    mtime_utc: str | None = None
    new_path: str | None = None                 # renamed: the path the later session gives these extents


@dataclass(slots=True)
class Analysis:
    image_sectors: int
    filesystems: list[Filesystem] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    boot_images: list[BootImage] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    session_changes: list[SessionChange] = field(default_factory=list)

    def files_of(self, filesystem_id: int) -> list[FileEntry]:
        return [f for f in self.files if f.filesystem_id == filesystem_id]

    def damaged_files(self) -> list[FileEntry]:
        """Files of the primary views (not alternates) with unreadable sectors, most loss first."""
        alternates = {fs.id for fs in self.filesystems if fs.alternate_of is not None}
        hit = [f for f in self.files if f.unreadable_sectors and not f.is_dir and f.filesystem_id not in alternates]
        return sorted(hit, key=lambda f: (-f.unreadable_sectors, f.path))

    def summary(self) -> dict[str, Any]:
        return {
            "filesystems": [fs.kind for fs in self.filesystems], "files": len(self.files),
            "damaged_files": len(self.damaged_files()), "boot_images": len(self.boot_images),
            "unreadable_structures": len(self.unreadable),
            "sessions": sum(1 for fs in self.filesystems if "session" in fs.details and fs.kind == "iso9660") or 1,
            "removed_in_later_session": sum(1 for c in self.session_changes if c.change == "removed"),
            "replaced_in_later_session": sum(1 for c in self.session_changes if c.change == "replaced"),
        }


# --- tables ---------------------------------------------------------------------------------------

# name -> (columns in order, pk, foreign keys, not null), as schema.TABLES; parents first
FS_SCHEMA: dict[str, tuple[dict[str, type], str, list[tuple[str, str, str]], set[str]]] = {
    "filesystems": (
        {"id": int, "kind": str, "label": str, "details_json": str, "problems_json": str, "alternate_of": int},
        "id", [], {"kind"},
    ),
    "files": (
        {
            "id": int, "filesystem_id": int, "path": str, "size": int, "is_dir": int, "extents_json": str,
            "mtime_utc": str, "mode": str, "unreadable_sectors": int, "entry_lba": int, "embedded": int,
            "link_target": str, "uid": int, "gid": int,
        },
        "id", [("filesystem_id", "filesystems", "id")], {"filesystem_id", "path", "extents_json"},
    ),
    "boot_images": (
        {
            "id": int, "entry_no": int, "platform": str, "emulation": str, "load_segment": int,
            "sector_count": int, "lba": int, "size_bytes": int, "sha256": str, "bootable": int,
            "unreadable_sectors": int, "system_type": int, "size_source": str, "path": str,
        },
        "id", [], {"entry_no", "lba"},
    ),
    "unreadable_tree": (
        {"id": int, "filesystem_id": int, "path": str, "lba": int, "count": int, "what": str},
        "id", [("filesystem_id", "filesystems", "id")], {"lba", "count", "what"},
    ),
    "session_changes": (
        {
            "id": int, "change": str, "path": str, "session": int, "filesystem_id": int, "size": int,
            "extents_json": str, "unreadable_sectors": int, "later_session": int, "new_extents_json": str,
            "mtime_utc": str, "new_path": str,
        },
        "id", [("filesystem_id", "filesystems", "id")], {"change", "path", "session", "extents_json"},
    ),
}
_COLUMNS = {name: list(FS_SCHEMA[name][0]) for name in FS_TABLES}


def ensure_tables(db) -> None:
    """Create the file-system tables unless they exist (inside the caller's transaction)."""
    for name in FS_TABLES:
        columns, pk, foreign_keys, not_null = FS_SCHEMA[name]
        db[name].create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null, if_not_exists=True)
    db["files"].create_index(["filesystem_id"], index_name="idx_files_filesystem_id", if_not_exists=True)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def save_analysis(record: Record, analysis: Analysis, *, run_id: int | None = None) -> None:
    """Replace the record's file-system findings with `analysis`, in one transaction, with an
    'fs-analysis' event. Seal afterwards (end_run does) so that verify covers the new rows."""
    fs_rows = [
        (fs.id, fs.kind, fs.label, _json(fs.details), _json(list(fs.problems)), fs.alternate_of)
        for fs in analysis.filesystems
    ]
    file_rows = [
        (f.filesystem_id, f.path, f.size, int(f.is_dir), _json([list(e) for e in f.extents]), f.mtime_utc, f.mode,
         f.unreadable_sectors, f.entry_lba, int(f.embedded), f.link_target, f.uid, f.gid)
        for f in analysis.files
    ]
    boot_rows = [
        (b.entry_no, b.platform, b.emulation, b.load_segment, b.sector_count, b.lba, b.size_bytes, b.sha256,
         int(b.bootable), b.unreadable_sectors, b.system_type, b.size_source, b.path)
        for b in analysis.boot_images
    ]
    tree_rows = [(u.filesystem_id, u.path, u.lba, u.count, u.what) for u in analysis.unreadable]
    change_rows = [
        (c.change, c.path, c.session, c.filesystem_id, c.size, _json([list(e) for e in c.extents]),
         c.unreadable_sectors, c.later_session, _json([list(e) for e in c.new_extents]), c.mtime_utc, c.new_path)
        for c in analysis.session_changes
    ]
    with record._write() as conn:
        ensure_tables(record.db)
        for name in ("session_changes", "unreadable_tree", "files", "boot_images", "filesystems"):  # children first
            conn.execute(f"DELETE FROM {name}")
        _insert(conn, "filesystems", fs_rows, with_id=True)
        _insert(conn, "files", file_rows)
        _insert(conn, "boot_images", boot_rows)
        _insert(conn, "unreadable_tree", tree_rows)
        _insert(conn, "session_changes", change_rows)
        record._append_event(run_id, "fs-analysis", {"image_sectors": analysis.image_sectors, **analysis.summary()})


def _insert(conn, table: str, rows: list[tuple], *, with_id: bool = False) -> None:
    columns = _COLUMNS[table] if with_id else [c for c in _COLUMNS[table] if c != "id"]
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
    )


def load_analysis(record: Record) -> Analysis | None:
    """The stored findings, or None when the record has none (then analyse and save)."""
    conn = record.db.conn
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'filesystems'").fetchone():
        return None
    events = conn.execute(
        "SELECT details_json FROM events WHERE kind = 'fs-analysis' ORDER BY id DESC LIMIT 1").fetchone()
    if events is None:
        return None
    analysis = Analysis(image_sectors=json.loads(events[0]).get("image_sectors", 0))
    for id, kind, label, details, problems, alternate_of in conn.execute(
            "SELECT id, kind, label, details_json, problems_json, alternate_of FROM filesystems ORDER BY id"):
        analysis.filesystems.append(Filesystem(id, kind, label, json.loads(details or "{}"),
                                               tuple(json.loads(problems or "[]")), alternate_of))
    for row in conn.execute(
            "SELECT filesystem_id, path, size, is_dir, extents_json, mtime_utc, mode, unreadable_sectors, entry_lba, "
            "embedded, link_target, uid, gid FROM files ORDER BY id"):
        (fs_id, path, size, is_dir, extents, mtime, mode, bad, entry_lba, embedded, link, uid, gid) = row
        analysis.files.append(FileEntry(fs_id, path, size, bool(is_dir), tuple(tuple(e) for e in json.loads(extents)),
                                        mtime, mode, bad, entry_lba, bool(embedded), link, uid, gid))
    for row in conn.execute(
            "SELECT entry_no, platform, emulation, load_segment, sector_count, lba, size_bytes, sha256, bootable, "
            "unreadable_sectors, system_type, size_source, path FROM boot_images ORDER BY id"):
        analysis.boot_images.append(BootImage(*row[:8], bool(row[8]), *row[9:]))
    for row in conn.execute("SELECT filesystem_id, path, lba, count, what FROM unreadable_tree ORDER BY id"):
        analysis.unreadable.append(Unreadable(*row))
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session_changes'").fetchone():
        for row in conn.execute(
                "SELECT change, path, session, filesystem_id, size, extents_json, unreadable_sectors, later_session, "
                "new_extents_json, mtime_utc, new_path FROM session_changes ORDER BY id"):
            change, path, session, fs_id, size, extents, bad, later, new, mtime, new_path = row
            analysis.session_changes.append(SessionChange(
                change, path, session, fs_id, size, tuple(tuple(e) for e in json.loads(extents)), bad, later,
                tuple(tuple(e) for e in json.loads(new or "[]")), mtime, new_path))
    return analysis
