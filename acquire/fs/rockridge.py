"""Rock Ridge (SUSP 1.12, RRIP 1.12): POSIX names, modes, owners, times and links carried in the
System Use area of ISO 9660 directory records."""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from .iso9660_records import DirectoryRecord, parse_record, record_date
from .reader import SECTOR, SectorReader
from .volume import utc_date

MAX_CONTINUATIONS = 16                # CE areas followed per record: a loop of CEs stops here
TF_LONG_FORM = 0x80                   # TF flags bit 7: 17-byte (ECMA-119 8.4.26.1) stamps, else 7-byte (9.1.5)
TF_MODIFY = 1                         # TF flags bit 1: the modification time is recorded
SL_CONTINUE, SL_CURRENT, SL_PARENT, SL_ROOT = 0x01, 0x02, 0x04, 0x08    # SL component flags (RRIP 4.1.3.1)
FILE_KINDS = {0o040000: "d", 0o120000: "l", 0o100000: "-", 0o020000: "c", 0o060000: "b", 0o010000: "p",
              0o140000: "s"}


@dataclass
class RockRidge:
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


def susp_in_use(reader: SectorReader, root: DirectoryRecord | None) -> tuple[int, dict] | None:
    """(bytes to skip in each System Use area, what the extension reference says), when the root's
    "." record starts with an SP entry (SUSP 5.3); None when the tree has no Rock Ridge."""
    if root is None or not reader.readable(root.lba):
        return None
    first = parse_record(reader.read(root.lba), 0, joliet=False, entry_lba=root.lba)
    # SP: bytes 0-1 "SP", 2 length, 3 version, 4-5 check bytes BEh EFh, 6 bytes skipped
    if first is None or first.system_use[:2] != b"SP" or first.system_use[4:6] != b"\xbe\xef" \
            or len(first.system_use) < 7:
        return None
    skip = first.system_use[6]
    info: dict = {"susp_skip": skip}
    for sig, e in susp_entries(first.system_use, reader, []):
        if sig == b"ER" and len(e) >= 8:
            # ER: 4 identifier length, 5 descriptor length, 6 source length, 7 extension version, 8.. identifier
            id_len = e[4]
            info["extension"] = e[8: 8 + id_len].decode("ascii", "replace")
            info["extension_version"] = e[7]
    return skip, info


def susp_entries(area: bytes, reader: SectorReader, unreadable: list[tuple[int, int]]) -> Iterator[tuple[bytes, bytes]]:
    """(signature, entry bytes) of a System Use area, following CE continuation areas (SUSP 5.1)."""
    seen = 0
    while area and seen < MAX_CONTINUATIONS:
        seen += 1
        pos, next_area = 0, b""
        while pos + 4 <= len(area):
            # every entry: bytes 0-1 signature, 2 length, 3 version
            sig, length = area[pos:pos + 2], area[pos + 2]
            if length < 4 or pos + length > len(area):
                break
            entry = area[pos:pos + length]
            if sig == b"ST":
                break
            if sig == b"CE" and length >= 28:
                next_area = _continuation(entry, reader, unreadable)
            else:
                yield sig, entry
            pos += length
        area = next_area


def _continuation(entry: bytes, reader: SectorReader, unreadable: list[tuple[int, int]]) -> bytes:
    # CE: bytes 4-11 block both-endian, 12-19 offset, 20-27 length
    (block,), (off,), (size,) = (struct.unpack_from("<I", entry, i) for i in (4, 12, 20))
    sectors = (off + size + SECTOR - 1) // SECTOR
    if reader.readable(block, sectors):
        return reader.read(block, sectors)[off: off + size]
    unreadable.append((block, sectors))
    return b""


def rock_ridge(rec: DirectoryRecord, skip: int, reader: SectorReader) -> RockRidge:
    """What the Rock Ridge entries of one directory record say about its file."""
    rr = RockRidge()
    name_parts: list[bytes] = []
    link_parts: list[str] = []
    lost: list[tuple[int, int]] = []
    for sig, e in susp_entries(rec.system_use[skip:], reader, lost):
        if sig == b"NM" and len(e) >= 5:
            # byte 4 flags: 1 continue, 2 current, 4 parent; then the name bytes
            name_parts.append(e[5:])
        elif sig == b"PX" and len(e) >= 36:
            # modes, links, uid, gid: each both-endian 8 bytes from byte 4
            rr.mode, rr.nlink, rr.uid, rr.gid = (struct.unpack_from("<I", e, i)[0] for i in (4, 12, 20, 28))
        elif sig == b"TF" and len(e) >= 5:
            if (stamp := _tf_stamp(e, TF_MODIFY)) is not None:
                rr.mtime_utc = utc_date(stamp[0]) if stamp[1] else record_date(stamp[0])
        elif sig == b"SL" and len(e) >= 5:
            _sl_components(e, link_parts)
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


def _tf_stamp(e: bytes, which: int) -> tuple[bytes, bool] | None:
    """(stamp, long form) of time `which` in a TF entry (RRIP 4.1.6), None when it records none."""
    # byte 4 flags; from byte 5 one stamp per flag bit set, in bit order: creation, modify, access,
    # attributes, backup, expiration, effective
    flags, pos = e[4], 5
    long_form = bool(flags & TF_LONG_FORM)
    width = 17 if long_form else 7
    for bit in range(which):
        if flags & (1 << bit):
            pos += width
    return (e[pos: pos + width], long_form) if flags & (1 << which) else None


def _sl_components(e: bytes, link_parts: list[str]) -> None:
    """Add an SL entry's components (RRIP 4.1.3) to `link_parts`; a part ending in NUL continues."""
    # from byte 5: components, each byte 0 flags, 1 length, 2.. content
    pos = 5
    while pos + 2 <= len(e):
        cflags, clen = e[pos], e[pos + 1]
        text = e[pos + 2: pos + 2 + clen].decode("utf-8", "replace")
        part = {SL_CURRENT: ".", SL_PARENT: "..", SL_ROOT: ""}.get(cflags & 0x0E, text)
        if link_parts and link_parts[-1].endswith("\0"):   # continued component
            link_parts[-1] = link_parts[-1][:-1] + part
        else:
            link_parts.append(part)
        if cflags & SL_CONTINUE:
            link_parts[-1] += "\0"
        pos += 2 + clen


def mode_string(mode: int | None) -> str | None:
    """A PX file mode as ls prints it (-rw-r--r--)."""
    if mode is None:
        return None
    out = FILE_KINDS.get(mode & 0o170000, "?")
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out
