"""ISO 9660 (ECMA-119), Joliet and Rock Ridge (SUSP 1.12, RRIP 1.12) read sector by sector against the map.

Why not list through pycdlib: it parses the whole tree when it opens an image, and a zero-filled
(unreadable) directory sector parses as an empty directory, so it fails whole or silently drops a
subtree (DESIGN.md). Here every sector is checked against the map before its bytes are trusted;
an unreadable directory sector is reported, and the subdirectories it hid are still found through
the path table. pycdlib stays an oracle in the tests.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from .reader import SECTOR, SectorReader
from .volume import PVD_LBA, STANDARD_IDENTIFIER, parse_primary_volume

VD_BOOT, VD_PRIMARY, VD_SUPPLEMENTARY, VD_PARTITION, VD_TERMINATOR = 0, 1, 2, 3, 255
MAX_DESCRIPTORS = 64                  # a sanity bound: real discs have 2 to 5
JOLIET_ESCAPES = {b"%/@": 1, b"%/C": 2, b"%/E": 3}   # UCS-2 level 1, 2, 3 (Joliet spec 4.2)
UDF_VRS_IDS = (b"BEA01", b"NSR02", b"NSR03", b"TEA01", b"BOOT2", b"CDW02")  # ECMA-167 2/9.1
MULTI_EXTENT = 0x80
DIRECTORY = 0x02


@dataclass
class Descriptors:
    """What the volume descriptor set at LBA 16 holds."""

    primary: tuple[int, bytes] | None = None                     # (lba, sector)
    supplementary: list[tuple[int, bytes]] = field(default_factory=list)
    boot_record: tuple[int, bytes] | None = None
    udf_vrs: list[str] = field(default_factory=list)             # BEA01, NSR02/03, TEA01 seen
    unreadable: list[int] = field(default_factory=list)
    end_lba: int = PVD_LBA


def read_descriptors(reader: SectorReader) -> Descriptors:
    """The volume descriptor set (ECMA-119 8.1) and, after it, a UDF volume recognition sequence."""
    found = Descriptors()
    lba = PVD_LBA
    terminated = False
    for lba in range(PVD_LBA, PVD_LBA + MAX_DESCRIPTORS):
        if lba >= reader.sectors:
            break
        if not reader.readable(lba):
            found.unreadable.append(lba)          # unknown type: keep looking, a terminator may follow
            continue
        sector = reader.read(lba)
        # byte 0 type, bytes 1-5 standard identifier, byte 6 version
        kind, ident = sector[0], sector[1:6]
        if ident == STANDARD_IDENTIFIER and not terminated:
            if kind == VD_PRIMARY and found.primary is None:
                found.primary = (lba, sector)
            elif kind == VD_SUPPLEMENTARY:
                found.supplementary.append((lba, sector))
            elif kind == VD_BOOT and found.boot_record is None:
                found.boot_record = (lba, sector)
            elif kind == VD_TERMINATOR:
                terminated = True
            continue
        if ident in UDF_VRS_IDS:
            found.udf_vrs.append(ident.decode())
            if ident == b"TEA01":
                break
            continue
        if terminated or sector == bytes(SECTOR):
            break
    found.end_lba = lba
    return found


def joliet_level(svd: bytes) -> int | None:
    # bytes 88-119 escape sequences (ECMA-119 8.5.6); Joliet puts one of %/@ %/C %/E first
    return JOLIET_ESCAPES.get(svd[88:91])


# --- directory records -------------------------------------------------------------------------


@dataclass
class _Record:
    lba: int                     # extent location (file data starts ear sectors later)
    size: int
    flags: int
    name: str                    # the namespace's name (ISO stripped of ';1', Joliet decoded)
    raw_name: bytes
    mtime_utc: str | None
    system_use: bytes
    ear: int
    entry_lba: int


def _record_date(raw: bytes) -> str | None:
    # ECMA-119 9.1.5: years since 1900, month, day, hour, minute, second, offset from GMT in 15-minute units
    if len(raw) < 7 or raw[1] == 0:
        return None
    try:
        local = datetime(1900 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tzinfo=timezone.utc)
    except ValueError:
        return None
    offset = struct.unpack("b", raw[6:7])[0] * 15
    return (local - timedelta(minutes=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _long_date(raw: bytes) -> str | None:
    # ECMA-119 8.4.26.1: 16 digits YYYYMMDDHHMMSSCC, offset in 15-minute units
    digits = raw[:16]
    if not digits.isdigit() or digits == b"0" * 16:
        return None
    d = digits.decode()
    try:
        local = datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14]),
                         tzinfo=timezone.utc)
    except ValueError:
        return None
    offset = struct.unpack("b", raw[16:17])[0] * 15
    return (local - timedelta(minutes=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_name(raw: bytes, joliet: bool) -> str:
    if joliet:
        name = raw.decode("utf-16-be", errors="replace")
    else:
        name = raw.decode("latin-1")
    if ";" in name:
        name = name[: name.rindex(";")]
    if name.endswith(".") and not joliet:
        name = name[:-1]
    return name


def parse_record(data: bytes, offset: int, *, joliet: bool, entry_lba: int) -> _Record | None:
    """The directory record at `offset` (ECMA-119 9.1), or None at a zero length byte."""
    # byte 0 length, 1 extended attribute record length, 2-9 extent both-endian, 10-17 data length
    # both-endian, 18-24 recording date, 25 flags, 26 unit size, 27 gap, 28-31 volume seq, 32 name length
    length = data[offset]
    if length < 34 or offset + length > len(data):
        return None
    ear = data[offset + 1]
    (lba,) = struct.unpack_from("<I", data, offset + 2)
    (size,) = struct.unpack_from("<I", data, offset + 10)
    flags = data[offset + 25]
    name_len = data[offset + 32]
    raw_name = data[offset + 33: offset + 33 + name_len]
    su_start = 33 + name_len + (1 - name_len % 2)          # a pad byte keeps the system use area even
    if raw_name in (b"\x00", b"\x01"):
        name = "." if raw_name == b"\x00" else ".."
    else:
        name = _decode_name(raw_name, joliet)
    return _Record(lba, size, flags, name, raw_name, _record_date(data[offset + 18: offset + 25]),
                   data[offset + su_start: offset + length], ear, entry_lba)


# --- Rock Ridge --------------------------------------------------------------------------------


@dataclass
class _RockRidge:
    name: str | None = None
    mode: int | None = None
    nlink: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_utc: str | None = None
    link_target: str | None = None
    child_link: int | None = None          # CL: a relocated directory's extent
    relocated: bool = False                # RE: this directory is shown elsewhere (CL)
    problems: list[str] = field(default_factory=list)


def _susp_entries(area: bytes, reader: SectorReader, unreadable: list[tuple[int, int]]):
    """(signature, entry bytes) of a System Use area, following CE continuation areas (SUSP 5.1)."""
    seen = 0
    while area and seen < 16:
        seen += 1
        pos, next_area = 0, b""
        while pos + 4 <= len(area):
            sig, length = area[pos:pos + 2], area[pos + 2]
            if length < 4 or pos + length > len(area):
                break
            entry = area[pos:pos + length]
            if sig == b"ST":
                break
            if sig == b"CE" and length >= 28:
                # bytes 4-11 block both-endian, 12-19 offset, 20-27 length
                (block,), (off,), (size,) = (struct.unpack_from("<I", entry, i) for i in (4, 12, 20))
                sectors = (off + size + SECTOR - 1) // SECTOR
                if reader.readable(block, sectors):
                    next_area = reader.read(block, sectors)[off: off + size]
                else:
                    unreadable.append((block, sectors))
            else:
                yield sig, entry
            pos += length
        area = next_area


def _rock_ridge(rec: _Record, skip: int, reader: SectorReader) -> _RockRidge:
    rr = _RockRidge()
    name_parts: list[bytes] = []
    link_parts: list[str] = []
    lost: list[tuple[int, int]] = []
    for sig, e in _susp_entries(rec.system_use[skip:], reader, lost):
        if sig == b"NM" and len(e) >= 5:
            # byte 4 flags: 1 continue, 2 current, 4 parent; then the name bytes
            name_parts.append(e[5:])
        elif sig == b"PX" and len(e) >= 36:
            # modes, links, uid, gid: each both-endian 8 bytes from byte 4
            rr.mode, rr.nlink, rr.uid, rr.gid = (struct.unpack_from("<I", e, i)[0] for i in (4, 12, 20, 28))
        elif sig == b"TF" and len(e) >= 5:
            flags, pos = e[4], 5
            width = 17 if flags & 0x80 else 7
            for bit in range(7):                    # creation, modify, access, attributes, backup, expiration, effective
                if flags & (1 << bit):
                    stamp = e[pos: pos + width]
                    if bit == 1:
                        rr.mtime_utc = _long_date(stamp) if width == 17 else _record_date(stamp)
                    pos += width
        elif sig == b"SL" and len(e) >= 5:
            pos = 5
            while pos + 2 <= len(e):
                cflags, clen = e[pos], e[pos + 1]
                text = e[pos + 2: pos + 2 + clen].decode("utf-8", "replace")
                part = {0x02: ".", 0x04: "..", 0x08: ""}.get(cflags & 0x0E, text)
                if link_parts and link_parts[-1].endswith("\0"):   # continued component
                    link_parts[-1] = link_parts[-1][:-1] + part
                else:
                    link_parts.append(part)
                if cflags & 0x01:
                    link_parts[-1] += "\0"
                pos += 2 + clen
        elif sig == b"CL" and len(e) >= 12:
            rr.child_link = struct.unpack_from("<I", e, 4)[0]
        elif sig == b"RE":
            rr.relocated = True
    if name_parts:
        rr.name = b"".join(name_parts).decode("utf-8", "replace")
    if link_parts:
        target = "/".join(p.rstrip("\0") for p in link_parts)
        rr.link_target = "/" + target.lstrip("/") if link_parts[0] == "" else target
    for lba, count in lost:
        rr.problems.append(f"Rock Ridge continuation area at LBA {lba} (+{count}) is unreadable")
    return rr


def mode_string(mode: int | None) -> str | None:
    if mode is None:
        return None
    kinds = {0o040000: "d", 0o120000: "l", 0o100000: "-", 0o020000: "c", 0o060000: "b", 0o010000: "p",
             0o140000: "s"}
    out = kinds.get(mode & 0o170000, "?")
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out


# --- the tree ----------------------------------------------------------------------------------


@dataclass
class Tree:
    """One namespace (the primary tree, or Joliet) walked against the map."""

    filesystem: Filesystem
    files: list[FileEntry]
    unreadable: list[Unreadable]
    rock_ridge: dict | None = None


def _path_table(reader: SectorReader, vd: bytes, joliet: bool, fs_id: int, unreadable: list[Unreadable],
                problems: list[str]) -> list[tuple[int, int, str]] | None:
    """(extent lba, parent number, name) of each directory, from the L or M path table (ECMA-119 9.4)."""
    (size,) = struct.unpack_from("<I", vd, 132)
    sectors = (size + SECTOR - 1) // SECTOR
    # bytes 140 L table, 144 optional L, 148 M table (big-endian), 152 optional M
    tables = [(struct.unpack_from("<I", vd, 140)[0], "<"), (struct.unpack_from("<I", vd, 144)[0], "<"),
              (struct.unpack_from(">I", vd, 148)[0], ">"), (struct.unpack_from(">I", vd, 152)[0], ">")]
    for lba, order in tables:
        if not lba or not size:
            continue
        if not reader.readable(lba, sectors):
            unreadable.append(Unreadable(fs_id, None, lba, sectors, "path table"))
            problems.append(f"path table at LBA {lba} ({sectors} sectors) is unreadable")
            continue
        data = reader.read(lba, sectors)[:size]
        out, pos = [], 0
        while pos + 8 <= len(data):
            # byte 0 name length, 1 ear length, 2-5 extent, 6-7 parent directory number, 8.. name
            name_len = data[pos]
            if name_len == 0:
                break
            extent = struct.unpack_from(order + "I", data, pos + 2)[0]
            parent = struct.unpack_from(order + "H", data, pos + 6)[0]
            raw = data[pos + 8: pos + 8 + name_len]
            out.append((extent, parent, "" if raw == b"\x00" else _decode_name(raw, joliet)))
            pos += 8 + name_len + (name_len % 2)
        return out
    return None


def walk(reader: SectorReader, vd_lba: int, vd: bytes, *, fs_id: int, kind: str,
         alternate_of: int | None = None) -> Tree:
    """The tree of a primary or Joliet supplementary descriptor, as far as the map lets it be read."""
    joliet = kind == "joliet"
    problems: list[str] = []
    unreadable: list[Unreadable] = []
    files: list[FileEntry] = []
    details = _descriptor_details(vd, joliet, reader)
    if (details.get("logical_block_size") or SECTOR) != SECTOR:
        problems.append(f"logical block size {details['logical_block_size']} is not 2048; read as 2048")
    root = parse_record(vd, 156, joliet=joliet, entry_lba=vd_lba)

    # Rock Ridge: an SP entry at the start of the root's "." system use area (SUSP 5.3)
    susp_skip, rr_info = None, None
    if root is not None and not joliet and reader.readable(root.lba):
        first = parse_record(reader.read(root.lba), 0, joliet=False, entry_lba=root.lba)
        if first is not None and first.system_use[:2] == b"SP" and first.system_use[4:6] == b"\xbe\xef":
            susp_skip = first.system_use[6]
            rr_info = {"susp_skip": susp_skip}
            for sig, e in _susp_entries(first.system_use, reader, []):
                if sig == b"ER" and len(e) >= 8:
                    id_len = e[4]
                    rr_info["extension"] = e[8: 8 + id_len].decode("ascii", "replace")
                    rr_info["extension_version"] = e[7]

    visited: set[int] = set()
    dirs_by_lba: dict[int, str] = {}

    def list_directory(lba: int, size: int, path: str) -> None:
        """List one directory's records and recurse into its subdirectories."""
        if lba in visited:
            return
        visited.add(lba)
        dirs_by_lba[lba] = path
        sectors = max(1, (size + SECTOR - 1) // SECTOR)
        pending: list[_Record] = []             # the parts of a multi-extent file so far
        for i in range(sectors):
            sector_lba = lba + i
            if not reader.readable(sector_lba):
                unreadable.append(Unreadable(fs_id, path, sector_lba, 1, "directory"))
                problems.append(f"directory {path}: sector {sector_lba} is unreadable; its entries are lost")
                pending = []
                continue
            data = reader.read(sector_lba)
            pos = 0
            while pos < SECTOR and data[pos]:
                rec = parse_record(data, pos, joliet=joliet, entry_lba=sector_lba)
                if rec is None:
                    problems.append(f"directory {path}: malformed record at LBA {sector_lba} offset {pos}")
                    break
                pos += data[pos]
                if rec.name in (".", ".."):
                    continue
                pending.append(rec)
                if rec.flags & MULTI_EXTENT:
                    continue
                add_entry(pending, path)
                pending = []
        if pending:
            add_entry(pending, path)

    def add_entry(parts: list[_Record], parent: str) -> None:
        first, last = parts[0], parts[-1]
        rr = _rock_ridge(first, susp_skip, reader) if susp_skip is not None else None
        if rr is not None and rr.relocated:
            return                              # shown where its CL entry points
        name = rr.name if rr is not None and rr.name else first.name
        path = f"{parent.rstrip('/')}/{name}"
        is_dir = bool(last.flags & DIRECTORY)
        if rr is not None:
            for problem in rr.problems:
                problems.append(f"{path}: {problem}")
            if rr.child_link is not None:
                is_dir = True
                first = _dot_record(rr.child_link) or first
                parts = [first]
        extents = tuple(
            (p.lba + p.ear, (p.size + SECTOR - 1) // SECTOR) for p in parts if p.size
        )
        size = sum(p.size for p in parts)
        bad = sum(reader.unreadable_count(lba, count) for lba, count in extents)
        files.append(FileEntry(
            fs_id, path, size, is_dir, extents,
            mtime_utc=(rr.mtime_utc if rr and rr.mtime_utc else first.mtime_utc),
            mode=mode_string(rr.mode) if rr else None, unreadable_sectors=bad, entry_lba=first.entry_lba,
            link_target=rr.link_target if rr else None, uid=rr.uid if rr else None, gid=rr.gid if rr else None,
        ))
        if is_dir:
            queue.append((first.lba, first.size, path))

    def _dot_record(lba: int) -> _Record | None:
        if not reader.readable(lba):
            return None
        return parse_record(reader.read(lba), 0, joliet=joliet, entry_lba=lba)

    queue: list[tuple[int, int, str]] = []
    if root is None:
        problems.append("the root directory record in the volume descriptor is malformed")
    else:
        files.append(FileEntry(fs_id, "/", root.size, True, ((root.lba, (root.size + SECTOR - 1) // SECTOR),),
                               mtime_utc=root.mtime_utc, entry_lba=vd_lba,
                               unreadable_sectors=reader.unreadable_count(root.lba, (root.size + SECTOR - 1) // SECTOR)))
        queue.append((root.lba, root.size, "/"))
    _drain(queue, list_directory)

    # Directories the tree could not reach (their parent's sector is unreadable): the path table
    # still names them, with their extents; list them under the path it gives.
    table = _path_table(reader, vd, joliet, fs_id, unreadable, problems)
    if table:
        paths: list[str] = []
        for number, (extent, parent, name) in enumerate(table, 1):
            if number == 1:
                paths.append("/")
                continue
            parent_path = paths[parent - 1] if 0 < parent <= len(paths) else "/?"
            paths.append(dirs_by_lba.get(extent) or f"{parent_path.rstrip('/')}/{name}")
            if extent in visited:
                continue
            dot = _dot_record(extent)
            if dot is None:
                unreadable.append(Unreadable(fs_id, paths[-1], extent, 1, "directory"))
                problems.append(f"directory {paths[-1]}: its first sector {extent} is unreadable")
                visited.add(extent)
                continue
            problems.append(f"directory {paths[-1]} was found through the path table only "
                            "(the record naming it is unreadable)")
            files.append(FileEntry(fs_id, paths[-1], dot.size, True, ((extent, (dot.size + SECTOR - 1) // SECTOR),),
                                   mtime_utc=dot.mtime_utc, entry_lba=None,
                                   unreadable_sectors=reader.unreadable_count(extent, (dot.size + SECTOR - 1) // SECTOR)))
            queue.append((extent, dot.size, paths[-1]))
            _drain(queue, list_directory)
    if rr_info is not None:
        details["rock_ridge"] = rr_info
    label = details.get("volume_id")
    fs = Filesystem(fs_id, kind, label, details, tuple(problems), alternate_of)
    return Tree(fs, files, unreadable, rr_info)


def _drain(queue: list, list_directory: Callable) -> None:
    while queue:
        list_directory(*queue.pop(0))


def _descriptor_details(vd: bytes, joliet: bool, reader: SectorReader) -> dict:
    if joliet:
        text = lambda raw: raw.decode("utf-16-be", "replace").rstrip(" \x00")  # noqa: E731
        details = {
            "system_id": text(vd[8:40]), "volume_id": text(vd[40:72]), "volume_set_id": text(vd[190:318]),
            "publisher_id": text(vd[318:446]), "data_preparer_id": text(vd[446:574]),
            "application_id": text(vd[574:702]), "joliet_level": joliet_level(vd),
        }
        for name, start in (("creation", 813), ("modification", 830), ("expiration", 847), ("effective", 864)):
            details[name] = _long_date(vd[start:start + 17])
        details["volume_space_size"] = struct.unpack_from("<I", vd, 80)[0]
    else:
        pvd = parse_primary_volume(vd)
        details = pvd.as_dict() if pvd else {}
    details["logical_block_size"] = struct.unpack_from("<H", vd, 128)[0]
    details["path_table_size"] = struct.unpack_from("<I", vd, 132)[0]
    space = details.get("volume_space_size")
    if space is not None:
        details["image_sectors"] = reader.sectors
        if space != reader.sectors:
            beyond = reader.sectors - space
            details["capacity_mismatch"] = (
                f"the volume claims {space} sectors, the image has {reader.sectors} "
                + (f"({beyond} after the volume's end: an appended partition or session?)" if beyond > 0
                   else f"({-beyond} missing: the image is shorter than the volume)")
            )
    return details
