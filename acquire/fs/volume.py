"""ISO 9660 volume descriptors (ECMA-119 8): the one place their bytes are decoded.

    descriptors = read_descriptors(reader)           # the set from LBA 16, and a UDF recognition sequence
    pvd = parse_primary_volume(sector)               # the label and dates an examiner notes (acquire, info)

Every descriptor starts with the same 7 bytes (ECMA-119 8.1; ECMA-167 2/9.1 reuses them for the UDF
volume recognition sequence). All multi-byte numbers of a primary or supplementary descriptor are
recorded both-endian (7.2.3, 7.3.3); we read the little-endian half.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..volume_space import volume_space_size
from .reader import SECTOR, SectorReader

PVD_LBA = 16                          # the descriptor set starts after the 16-sector system area (6.2.1)
STANDARD_IDENTIFIER = b"CD001"
VD_BOOT, VD_PRIMARY, VD_SUPPLEMENTARY, VD_PARTITION, VD_TERMINATOR = 0, 1, 2, 3, 255
MAX_DESCRIPTORS = 64                  # a sanity bound: real discs have 2 to 5
JOLIET_ESCAPES = {b"%/@": 1, b"%/C": 2, b"%/E": 3}   # UCS-2 level 1, 2, 3 (Joliet spec 4.2)
UDF_VRS_IDS = (b"BEA01", b"NSR02", b"NSR03", b"TEA01", b"BOOT2", b"CDW02")  # ECMA-167 2/9.1
ROOT_RECORD_OFFSET, ROOT_RECORD_BYTES = 156, 34


@dataclass(frozen=True, slots=True)
class DescriptorHeader:
    """The first 7 bytes of every volume descriptor (ECMA-119 8.1) and volume structure
    descriptor (ECMA-167 2/9.1)."""

    # byte 0     volume descriptor type (0 boot record, 1 primary, 2 supplementary, 3 partition, 255 terminator)
    # bytes 1-5  standard identifier: "CD001" (ISO 9660), or BEA01 NSR02 NSR03 TEA01 ... (ECMA-167)
    # byte 6     version
    type: int
    identifier: bytes
    version: int


def parse_header(sector: bytes) -> DescriptorHeader:
    return DescriptorHeader(sector[0], bytes(sector[1:6]), sector[6])


@dataclass(frozen=True, slots=True)
class BootRecord:
    """A boot record (ECMA-119 8.2). El Torito reads its system use (fs/eltorito.py)."""

    # bytes 0-6     header: type 0, "CD001", version 1
    # bytes 7-38    boot system identifier (a-characters; El Torito: "EL TORITO SPECIFICATION")
    # bytes 39-70   boot identifier
    # bytes 71-2047 boot system use
    boot_system_id: str
    boot_id: str
    boot_system_use: bytes


def parse_boot_record(sector: bytes) -> BootRecord | None:
    """The boot record in a 2048-byte sector, or None when the sector is not one."""
    if len(sector) < SECTOR or sector[0] != VD_BOOT or sector[1:6] != STANDARD_IDENTIFIER:
        return None
    return BootRecord(_ascii(sector[7:39]), _ascii(sector[39:71]), bytes(sector[71:SECTOR]))


# the fields an examiner notes, in the order the record's volume_json holds them
IDENTIFICATION = ("system_id", "volume_id", "volume_space_size", "volume_set_id", "publisher_id",
                  "data_preparer_id", "application_id", "creation", "modification", "expiration", "effective")


@dataclass(frozen=True, slots=True)
class _VolumeFields:
    """The layout a primary (ECMA-119 8.4) and a supplementary (8.5) volume descriptor share."""

    # bytes 0-6     header: type 1 (primary) or 2 (supplementary), "CD001", version 1
    # byte 7        volume flags (supplementary only; 0 in a primary)
    # bytes 8-39    system identifier, 40-71 volume identifier (a-/d-characters, space padded;
    #               UCS-2 big-endian in a Joliet supplementary)
    # bytes 80-87   volume space size, both-endian
    # bytes 88-119  escape sequences (supplementary only: Joliet's %/@ %/C %/E)
    # bytes 128-131 logical block size, both-endian 16-bit
    # bytes 132-139 path table size in bytes, both-endian
    # bytes 140-143 L path table location (LE), 144-147 optional L, 148-151 M (BE), 152-155 optional M
    # bytes 156-189 the root directory's record (9.1)
    # bytes 190-317 volume set id, 318-445 publisher, 446-573 data preparer, 574-701 application
    # bytes 813-829 creation, 830-846 modification, 847-863 expiration, 864-880 effective (8.4.26.1)
    system_id: str
    volume_id: str
    volume_space_size: int           # sectors the file system says the volume has
    volume_set_id: str
    publisher_id: str
    data_preparer_id: str
    application_id: str
    creation: str | None             # ISO 8601 with the recorded offset, None when unset
    modification: str | None
    expiration: str | None
    effective: str | None
    logical_block_size: int
    path_table_size: int
    path_tables: tuple[tuple[int, str], ...]   # (lba, struct byte order) of L, optional L, M, optional M
    root_record: bytes                         # decoded by iso9660.parse_record

    def as_dict(self) -> dict:
        """The identification fields (IDENTIFICATION), as the record and the reports hold them."""
        return {name: getattr(self, name) for name in IDENTIFICATION}


@dataclass(frozen=True, slots=True)
class PrimaryVolume(_VolumeFields):
    """A primary volume descriptor (ECMA-119 8.4)."""


@dataclass(frozen=True, slots=True)
class SupplementaryVolume(_VolumeFields):
    """A supplementary volume descriptor (ECMA-119 8.5); Joliet when its escape sequences say so."""

    joliet_level: int | None         # 1, 2 or 3 (UCS-2 levels), None: not Joliet

    def as_dict(self) -> dict:
        return {**_VolumeFields.as_dict(self), "joliet_level": self.joliet_level}


def parse_primary_volume(sector: bytes) -> PrimaryVolume | None:
    """The PVD in a 2048-byte sector, or None when the sector is not one."""
    if len(sector) < SECTOR or sector[0] != VD_PRIMARY or sector[1:6] != STANDARD_IDENTIFIER:
        return None
    return PrimaryVolume(**_volume_fields(sector, _ascii))


def parse_supplementary_volume(sector: bytes) -> SupplementaryVolume | None:
    """The SVD in a 2048-byte sector, or None when the sector is not one."""
    if len(sector) < SECTOR or sector[0] != VD_SUPPLEMENTARY or sector[1:6] != STANDARD_IDENTIFIER:
        return None
    level = JOLIET_ESCAPES.get(bytes(sector[88:91]))      # Joliet puts its escape sequence first (8.5.6)
    return SupplementaryVolume(**_volume_fields(sector, _ascii if level is None else _ucs2), joliet_level=level)


def _volume_fields(sector: bytes, text: Callable[[bytes], str]) -> dict:
    le32 = lambda offset: struct.unpack_from("<I", sector, offset)[0]  # noqa: E731
    return {
        "system_id": text(sector[8:40]), "volume_id": text(sector[40:72]), "volume_space_size": volume_space_size(sector),
        "volume_set_id": text(sector[190:318]), "publisher_id": text(sector[318:446]),
        "data_preparer_id": text(sector[446:574]), "application_id": text(sector[574:702]),
        "creation": iso_date(sector[813:830]), "modification": iso_date(sector[830:847]),
        "expiration": iso_date(sector[847:864]), "effective": iso_date(sector[864:881]),
        "logical_block_size": struct.unpack_from("<H", sector, 128)[0], "path_table_size": le32(132),
        "path_tables": ((le32(140), "<"), (le32(144), "<"), (struct.unpack_from(">I", sector, 148)[0], ">"),
                        (struct.unpack_from(">I", sector, 152)[0], ">")),
        "root_record": bytes(sector[ROOT_RECORD_OFFSET:ROOT_RECORD_OFFSET + ROOT_RECORD_BYTES]),
    }


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace").rstrip(" \x00")


def _ucs2(raw: bytes) -> str:
    return raw.decode("utf-16-be", errors="replace").rstrip(" \x00")


def iso_date(raw: bytes) -> str | None:
    """A 17-byte date and time (ECMA-119 8.4.26.1) as ISO 8601 with the recorded offset."""
    if (parts := _long_date_parts(raw)) is None:
        return None
    d, offset_min = parts
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}.{d[14:16]}{sign}{hours:02d}:{minutes:02d}"


def utc_date(raw: bytes) -> str | None:
    """The same 17-byte form as UTC to the second, None when it is no real time (Rock Ridge TF uses it)."""
    if (parts := _long_date_parts(raw)) is None:
        return None
    d, offset_min = parts
    try:
        local = datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14]),
                         tzinfo=timezone.utc)
    except ValueError:
        return None
    return (local - timedelta(minutes=offset_min)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _long_date_parts(raw: bytes) -> tuple[str, int] | None:
    # 16 ASCII digits YYYYMMDDHHMMSSCC, then the offset from GMT in 15-minute units (signed byte);
    # all digits zero: not specified
    digits = raw[:16]
    if len(raw) < 17 or not digits.isdigit() or digits == b"0" * 16:
        return None
    return digits.decode(), struct.unpack("b", raw[16:17])[0] * 15


# --- the descriptor set --------------------------------------------------------------------------


@dataclass
class Descriptors:
    """What a volume descriptor set (at LBA 16, or 16 after a session's start) holds, each with the
    LBA it was read at."""

    primary: tuple[int, PrimaryVolume] | None = None
    supplementary: list[tuple[int, SupplementaryVolume]] = field(default_factory=list)
    boot_record: tuple[int, BootRecord] | None = None
    udf_vrs: list[str] = field(default_factory=list)             # BEA01, NSR02/03, TEA01 seen
    unreadable: list[int] = field(default_factory=list)
    end_lba: int = PVD_LBA


def read_descriptors(reader: SectorReader, session_start: int = 0) -> Descriptors:
    """The volume descriptor set (ECMA-119 8.1) and, after it, a UDF volume recognition sequence.
    A later session of a multisession disc has its own set 16 sectors after its start (its
    addresses are absolute LBAs of the disc, so nothing else shifts)."""
    found = Descriptors()
    first = session_start + PVD_LBA
    lba = first
    terminated = False
    for lba in range(first, first + MAX_DESCRIPTORS):
        if lba >= reader.sectors:
            break
        if not reader.readable(lba):
            found.unreadable.append(lba)          # unknown type: keep looking, a terminator may follow
            continue
        sector = reader.read(lba)
        header = parse_header(sector)
        if header.identifier == STANDARD_IDENTIFIER and not terminated:
            terminated = _take(found, lba, header, sector)
            continue
        if header.identifier in UDF_VRS_IDS:
            found.udf_vrs.append(header.identifier.decode())
            if header.identifier == b"TEA01":
                break
            continue
        if terminated or sector == bytes(SECTOR):
            break
    found.end_lba = lba
    return found


def _take(found: Descriptors, lba: int, header: DescriptorHeader, sector: bytes) -> bool:
    """Keep one ISO 9660 descriptor of the set; True at the set terminator (8.3)."""
    if header.type == VD_PRIMARY and found.primary is None:
        found.primary = (lba, parse_primary_volume(sector))
    elif header.type == VD_SUPPLEMENTARY:
        found.supplementary.append((lba, parse_supplementary_volume(sector)))
    elif header.type == VD_BOOT and found.boot_record is None:
        found.boot_record = (lba, parse_boot_record(sector))
    return header.type == VD_TERMINATOR

