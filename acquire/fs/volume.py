"""The ISO 9660 primary volume descriptor (ECMA-119 8.4): the label and dates an examiner notes."""
from __future__ import annotations

import struct
from dataclasses import asdict, dataclass

PVD_LBA = 16
STANDARD_IDENTIFIER = b"CD001"


@dataclass(frozen=True, slots=True)
class PrimaryVolume:
    system_id: str
    volume_id: str
    volume_space_size: int           # sectors the file system says the volume has
    volume_set_id: str
    publisher_id: str
    data_preparer_id: str
    application_id: str
    creation: str | None             # ISO 8601 with offset, None when unset
    modification: str | None
    expiration: str | None
    effective: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def parse_primary_volume(sector: bytes) -> PrimaryVolume | None:
    """The PVD in a 2048-byte sector, or None when the sector is not one."""
    # byte 0 type (1 = primary), bytes 1-5 "CD001", byte 6 version (1)
    # bytes 8-39 system id, 40-71 volume id (a-/d-characters, space padded)
    # bytes 80-87 volume space size, both-endian (little-endian half first)
    # bytes 190-317 volume set id, 318-445 publisher, 446-573 data preparer, 574-701 application
    # bytes 813-829 creation, 830-846 modification, 847-863 expiration, 864-880 effective (8.4.26.1)
    if len(sector) < 2048 or sector[0] != 1 or sector[1:6] != STANDARD_IDENTIFIER:
        return None
    (space,) = struct.unpack_from("<I", sector, 80)
    return PrimaryVolume(
        _text(sector[8:40]), _text(sector[40:72]), space, _text(sector[190:318]), _text(sector[318:446]),
        _text(sector[446:574]), _text(sector[574:702]), _date(sector[813:830]), _date(sector[830:847]),
        _date(sector[847:864]), _date(sector[864:881]),
    )


def _text(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace").rstrip(" \x00")


def _date(raw: bytes) -> str | None:
    # 16 ASCII digits YYYYMMDDHHMMSSCC, then the offset from GMT in 15-minute units (signed byte)
    digits = raw[:16]
    if not digits.isdigit() or digits == b"0" * 16:
        return None
    d = digits.decode()
    offset_min = struct.unpack("b", raw[16:17])[0] * 15
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}.{d[14:16]}{sign}{hours:02d}:{minutes:02d}"
