"""ISO 9660 (ECMA-119), Joliet and Rock Ridge trees, walked sector by sector against the map.

Why not list through pycdlib: it parses the whole tree when it opens an image, and a zero-filled
(unreadable) directory sector parses as an empty directory, so it fails whole or silently drops a
subtree (docs/fs.md). Here every sector is checked against the map before its bytes are trusted;
an unreadable directory sector is reported, and the subdirectories it hid are still found through
the path table. pycdlib stays an oracle in the tests.

The bytes: volume descriptors in fs/volume.py, directory and path table records in
fs/iso9660_records.py, Rock Ridge in fs/rockridge.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from .iso9660_records import DIRECTORY, MULTI_EXTENT, DirectoryRecord, parse_path_table, parse_record
from .reader import SECTOR, SectorReader
from .rockridge import mode_string, rock_ridge, susp_in_use
from .volume import PrimaryVolume, SupplementaryVolume


@dataclass
class Tree:
    """One namespace (the primary tree, or Joliet) walked against the map."""

    filesystem: Filesystem
    files: list[FileEntry]
    unreadable: list[Unreadable]
    rock_ridge: dict | None = None


def walk(reader: SectorReader, vd_lba: int, vd: PrimaryVolume | SupplementaryVolume, *, fs_id: int, kind: str,
         alternate_of: int | None = None, start: int | None = None) -> Tree:
    """The tree of a primary or Joliet supplementary descriptor, as far as the map lets it be read.
    `start`: the first LBA of the session the descriptor is in (its set at start + 16; by default
    the descriptor's own LBA less 16, right for a primary)."""
    joliet = kind == "joliet"
    details = _descriptor_details(vd, reader, vd_lba - 16 if start is None else start)
    tree = _Walk(reader, fs_id, joliet)
    if (vd.logical_block_size or SECTOR) != SECTOR:
        tree.problems.append(f"logical block size {vd.logical_block_size} is not 2048; read as 2048")
    root = parse_record(vd.root_record, 0, joliet=joliet, entry_lba=vd_lba)
    susp = None if joliet else susp_in_use(reader, root)
    tree.susp_skip = susp[0] if susp else None
    tree.from_root(root, vd_lba)
    table, tree.path_table_via = _path_table(reader, vd, joliet, fs_id, tree.unreadable, tree.problems)
    tree.from_path_table(table)
    rr_info = susp[1] if susp else None
    if rr_info is not None:
        details["rock_ridge"] = rr_info
    fs = Filesystem(fs_id, kind, details.get("volume_id"), details, tuple(tree.problems), alternate_of)
    return Tree(fs, tree.files, tree.unreadable, rr_info)


def _sectors(size: int) -> int:
    return (size + SECTOR - 1) // SECTOR


class _Walk:
    """One namespace's files, found breadth first from the root, then through the path table."""

    def __init__(self, reader: SectorReader, fs_id: int, joliet: bool) -> None:
        self.reader, self.fs_id, self.joliet = reader, fs_id, joliet
        self.susp_skip: int | None = None          # Rock Ridge in use: bytes to skip in each System Use area
        self.problems: list[str] = []
        self.unreadable: list[Unreadable] = []
        self.files: list[FileEntry] = []
        self.queue: list[tuple[int, int, str]] = []  # directories to list: (lba, size, path)
        self.path_table_via = "path table"
        self.visited: set[int] = set()
        self.dirs_by_lba: dict[int, str] = {}
        self.via_of: dict[str, str] = {}            # directory path -> the copy it was found through

    def from_root(self, root: DirectoryRecord | None, vd_lba: int) -> None:
        if root is None:
            self.problems.append("the root directory record in the volume descriptor is malformed")
            return
        self.files.append(FileEntry(self.fs_id, "/", root.size, True, ((root.lba, _sectors(root.size)),),
                                    mtime_utc=root.mtime_utc, entry_lba=vd_lba,
                                    unreadable_sectors=self.reader.unreadable_count(root.lba, _sectors(root.size))))
        self.queue.append((root.lba, root.size, "/"))
        self._drain()

    def from_path_table(self, table: list[tuple[int, int, str]] | None) -> None:
        """Directories the tree could not reach (their parent's sector is unreadable): the path table
        still names them, with their extents; list them under the path it gives."""
        paths: list[str] = []
        for number, (extent, parent, name) in enumerate(table or (), 1):
            if number == 1:
                paths.append("/")
                continue
            parent_path = paths[parent - 1] if 0 < parent <= len(paths) else "/?"
            paths.append(self.dirs_by_lba.get(extent) or f"{parent_path.rstrip('/')}/{name}")
            if extent in self.visited:
                continue
            dot = self._dot_record(extent)
            if dot is None:
                self.unreadable.append(Unreadable(self.fs_id, paths[-1], extent, 1, "directory"))
                self.problems.append(f"directory {paths[-1]}: its first sector {extent} is unreadable")
                self.visited.add(extent)
                continue
            self.problems.append(f"directory {paths[-1]} was found through the path table only "
                                 "(the record naming it is unreadable)")
            self.via_of[paths[-1]] = self.path_table_via
            self.files.append(FileEntry(self.fs_id, paths[-1], dot.size, True, ((extent, _sectors(dot.size)),),
                                        mtime_utc=dot.mtime_utc, entry_lba=None,
                                        unreadable_sectors=self.reader.unreadable_count(extent, _sectors(dot.size)),
                                        read_via=self.path_table_via))
            self.queue.append((extent, dot.size, paths[-1]))
            self._drain()

    def _drain(self) -> None:
        while self.queue:
            self._list_directory(*self.queue.pop(0))

    def _list_directory(self, lba: int, size: int, path: str) -> None:
        """List one directory's records; its subdirectories join the queue."""
        if lba in self.visited:
            return
        self.visited.add(lba)
        self.dirs_by_lba[lba] = path
        pending: list[DirectoryRecord] = []             # the parts of a multi-extent file so far
        end = lba + max(1, _sectors(size))
        inside = min(end, max(lba, self.reader.sectors))   # a size past the image: one finding, not one a sector
        for sector_lba in range(lba, inside):
            if not self.reader.readable(sector_lba):
                self.unreadable.append(Unreadable(self.fs_id, path, sector_lba, 1, "directory"))
                self.problems.append(f"directory {path}: sector {sector_lba} is unreadable; its entries are lost")
                pending = []
                continue
            for rec in self._records(self.reader.read(sector_lba), sector_lba, path):
                pending.append(rec)
                if rec.flags & MULTI_EXTENT:
                    continue
                self._add_entry(pending, path)
                pending = []
        if end > inside:
            self.unreadable.append(Unreadable(self.fs_id, path, inside, end - inside, "directory"))
            self.problems.append(f"directory {path}: sectors {inside}..{end - 1} are past the image's end; "
                                 "their entries are lost")
            pending = []
        if pending:
            self._add_entry(pending, path)

    def _records(self, data: bytes, sector_lba: int, path: str) -> Iterator[DirectoryRecord]:
        """The records of one directory sector but "." and ".."; a record may not cross a sector (9.1)."""
        pos = 0
        while pos < SECTOR and data[pos]:
            rec = parse_record(data, pos, joliet=self.joliet, entry_lba=sector_lba)
            if rec is None:
                self.problems.append(f"directory {path}: malformed record at LBA {sector_lba} offset {pos}")
                return
            pos += data[pos]
            if rec.name not in (".", ".."):
                yield rec

    def _add_entry(self, parts: list[DirectoryRecord], parent: str) -> None:
        first, last = parts[0], parts[-1]
        rr = rock_ridge(first, self.susp_skip, self.reader) if self.susp_skip is not None else None
        if rr is not None and rr.relocated:
            return                              # shown where its CL entry points
        name = rr.name if rr is not None and rr.name else first.name
        path = f"{parent.rstrip('/')}/{name}"
        is_dir = bool(last.flags & DIRECTORY)
        if rr is not None:
            self.problems.extend(f"{path}: {problem}" for problem in rr.problems)
            if rr.child_link is not None:
                is_dir = True
                first = self._dot_record(rr.child_link) or first
                parts = [first]
        extents = tuple((p.lba + p.ear, _sectors(p.size)) for p in parts if p.size)
        bad = sum(self.reader.unreadable_count(lba, count) for lba, count in extents)
        via = self.via_of.get(parent)
        if is_dir and via:
            self.via_of[path] = via
        self.files.append(FileEntry(
            self.fs_id, path, sum(p.size for p in parts), is_dir, extents,
            mtime_utc=(rr.mtime_utc if rr and rr.mtime_utc else first.mtime_utc),
            mode=mode_string(rr.mode) if rr else None, unreadable_sectors=bad, entry_lba=first.entry_lba,
            link_target=rr.link_target if rr else None, uid=rr.uid if rr else None, gid=rr.gid if rr else None,
            read_via=via,
        ))
        if is_dir:
            self.queue.append((first.lba, first.size, path))

    def _dot_record(self, lba: int) -> DirectoryRecord | None:
        if not self.reader.readable(lba):
            return None
        return parse_record(self.reader.read(lba), 0, joliet=self.joliet, entry_lba=lba)


PATH_TABLE_NAMES = ("L path table", "optional L path table", "M path table", "optional M path table")


def _path_table(reader: SectorReader, vd: PrimaryVolume | SupplementaryVolume, joliet: bool, fs_id: int,
                unreadable: list[Unreadable], problems: list[str]) -> tuple[list[tuple[int, int, str]] | None, str]:
    """The first readable of the L, optional L, M and optional M path tables (ECMA-119 9.4), and its
    name; every readable copy is compared with it, and a disagreement is a problem."""
    size = vd.path_table_size
    sectors = _sectors(size)
    chosen, name = None, "path table"
    for (lba, order), which in zip(vd.path_tables, PATH_TABLE_NAMES):
        if not lba or not size:
            continue
        if not reader.readable(lba, sectors):
            unreadable.append(Unreadable(fs_id, None, lba, sectors, "path table"))
            problems.append(f"{which} at LBA {lba} ({sectors} sectors) is unreadable")
            continue
        table = parse_path_table(reader.read(lba, sectors)[:size], order, joliet)
        if chosen is None:
            chosen, name = table, which
        elif table != chosen:
            problems.append(f"the {which} at LBA {lba} disagrees with the {name}; directories were found through the {name}")
    return chosen, name


def volume_end(space: int, start: int, root_lba: int | None) -> int:
    """The first LBA after a volume's space. A later session's volume (a CD-Extra's data session,
    genisoimage/xorriso -C) counts its space from its own start while its extents are absolute, so
    a root directory at or past `space` says the space is relative (as sessions.declared_end)."""
    return start + space if start > 0 and root_lba is not None and root_lba >= space else space


def _descriptor_details(vd: PrimaryVolume | SupplementaryVolume, reader: SectorReader, start: int = 0) -> dict:
    """The descriptor's fields as the record's filesystems.details_json holds them."""
    details = vd.as_dict()
    details["logical_block_size"] = vd.logical_block_size
    details["path_table_size"] = vd.path_table_size
    space = vd.volume_space_size
    details["image_sectors"] = reader.sectors
    root = parse_record(vd.root_record, 0, joliet=False, entry_lba=start + 16)
    end = volume_end(space, start, root.lba if root is not None else None)
    if end != space:
        details["volume_start"], details["volume_end"] = start, end
    if end != reader.sectors:
        beyond = reader.sectors - end
        details["capacity_mismatch"] = (
            f"the volume claims {space} sectors"
            + (f" from LBA {start} (to {end})" if end != space else "") + f", the image has {reader.sectors} "
            + (f"({beyond} after the volume's end: an appended partition or session?)" if beyond > 0
               else f"({-beyond} missing: the image is shorter than the volume)")
        )
    return details
