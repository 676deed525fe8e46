"""ISO 9660 directory records (ECMA-119 9.1) and path table records (9.4): what their bytes are.

The walk over them, sector by sector against the map, is fs/iso9660.py; Rock Ridge's System Use
entries inside a directory record are fs/rockridge.py.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MULTI_EXTENT = 0x80                   # file flags bit 7: another record of this file follows (9.1.6)
DIRECTORY = 0x02                      # file flags bit 1


@dataclass
class DirectoryRecord:
    lba: int                     # extent location (file data starts ear sectors later)
    size: int
    flags: int
    name: str                    # the namespace's name (ISO stripped of ';1', Joliet decoded)
    raw_name: bytes
    mtime_utc: str | None
    system_use: bytes
    ear: int
    entry_lba: int


def record_date(raw: bytes) -> str | None:
    """A 7-byte recording date (ECMA-119 9.1.5) as UTC."""
    # years since 1900, month, day, hour, minute, second, offset from GMT in 15-minute units
    if len(raw) < 7 or raw[1] == 0:
        return None
    try:
        local = datetime(1900 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tzinfo=timezone.utc)
    except ValueError:
        return None
    offset = struct.unpack("b", raw[6:7])[0] * 15
    return (local - timedelta(minutes=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_name(raw: bytes, joliet: bool) -> str:
    if joliet:
        name = raw.decode("utf-16-be", errors="replace")
    else:
        name = raw.decode("latin-1")
    if ";" in name:
        name = name[: name.rindex(";")]
    if name.endswith(".") and not joliet:
        name = name[:-1]
    return name


def parse_record(data: bytes, offset: int, *, joliet: bool, entry_lba: int) -> DirectoryRecord | None:
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
        name = decode_name(raw_name, joliet)
    return DirectoryRecord(lba, size, flags, name, raw_name, record_date(data[offset + 18: offset + 25]),
                           data[offset + su_start: offset + length], ear, entry_lba)


def parse_path_table(data: bytes, order: str, joliet: bool) -> list[tuple[int, int, str]]:
    """(extent lba, parent directory number, name) of each path table record (ECMA-119 9.4);
    `order` is "<" for the L table, ">" for the M table. The root's name is ""."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        # byte 0 name length, 1 ear length, 2-5 extent, 6-7 parent directory number, 8.. name
        name_len = data[pos]
        if name_len == 0:
            break
        extent = struct.unpack_from(order + "I", data, pos + 2)[0]
        parent = struct.unpack_from(order + "H", data, pos + 6)[0]
        raw = data[pos + 8: pos + 8 + name_len]
        out.append((extent, parent, "" if raw == b"\x00" else decode_name(raw, joliet)))
        pos += 8 + name_len + (name_len % 2)
    return out
