"""Reading sectors: READ(10), READ(12) and READ CD with its main-channel and subchannel selections.

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct

from ._fields import _check
from .opcodes import MAX_LBA, READ_10, READ_12, READ_CD, USER_DATA_BYTES


# -- READ(10), READ(12), READ CD --------------------------------------------------------------

def read_10(lba: int, count: int, *, fua: bool = False) -> bytes:
    """READ(10): `count` sectors of 2048-byte user data from `lba` (docs/reference/mmc.md)."""
    # byte 0     operation code 28h
    # byte 1     bit 4 DPO, bit 3 FUA (read the medium, not the drive's cache)
    # bytes 2-5  logical block address
    # byte 6     group number (0)
    # bytes 7-8  transfer length in sectors
    # byte 9     control (0)
    return struct.pack(">BBIBHB", READ_10, 0x08 if fua else 0, _check("LBA", lba, 0, MAX_LBA), 0,
                       _check("READ(10) count", count, 0, 0xFFFF), 0)


def read_12(lba: int, count: int, *, fua: bool = False, streaming: bool = False) -> bytes:
    """READ(12): as READ(10) with a 32-bit length; streaming lets the drive skip error recovery."""
    # byte 1 bit 3 FUA; bytes 2-5 LBA; bytes 6-9 transfer length; byte 10 bit 7 Streaming; byte 11 control
    return struct.pack(">BBIIBB", READ_12, 0x08 if fua else 0, _check("LBA", lba, 0, MAX_LBA),
                       _check("READ(12) count", count, 0, 0xFFFF_FFFF), 0x80 if streaming else 0, 0)


# READ CD byte 9 (docs/reference/mmc.md): SYNC | header codes | user data | EDC & ECC | C2 | reserved
READ_CD_USER_DATA = 0x10      # user data only: 2048 bytes of a mode 1 sector
READ_CD_RAW = 0xF8            # sync, all headers, user data, EDC/ECC: 2352
READ_CD_RAW_C2 = 0xFA         # raw + 294 bytes of C2 error bits: 2646
_CD_SYNC, _CD_USER_DATA, _CD_EDC_ECC = 0x80, 0x10, 0x08
_CD_HEADER_BYTES = {0: 0, 1: 4, 2: 0, 3: 4}        # mode 1 has a 4-byte header and no subheader
_CD_C2_BYTES = {0: 0, 1: 294, 2: 296}              # 296: C2 bits + block error byte + pad byte
_CD_SUBCHANNEL_BYTES = {0: 0, 1: 96, 2: 16, 4: 96}  # raw P-W, formatted Q, R-W


def read_cd(lba: int, count: int, *, sector_type: int = 0, main_channel: int = READ_CD_USER_DATA,
            subchannel: int = 0) -> bytes:
    """READ CD: CD sectors with the fields `main_channel` selects (READ_CD_USER_DATA, _RAW, _RAW_C2)."""
    # byte 1     bits 4-2 expected sector type (0 any, 1 CD-DA, 2 mode 1, 3 mode 2 formless,
    #            4 mode 2 form 1, 5 mode 2 form 2), bit 1 DAP (0)
    # bytes 2-5  starting LBA
    # bytes 6-8  transfer length in sectors (24 bits)
    # byte 9     main channel selection: SYNC, header codes, user data, EDC & ECC, C2 (bits 2-1)
    # byte 10    bits 2-0 subchannel: 000 none, 001 raw P-W, 010 formatted Q, 100 R-W
    _check("expected sector type", sector_type, 0, 5)
    _check("main channel selection", main_channel, 0, 0xFE)
    if main_channel & 0x01 or (main_channel >> 1) & 0x03 == 3:
        raise ValueError(f"main channel selection {main_channel:02X}h: bit 0 is reserved, C2 code 11b too")
    if subchannel not in _CD_SUBCHANNEL_BYTES:
        raise ValueError(f"subchannel selection {subchannel!r} is not 0, 1, 2 or 4")
    count = _check("READ CD count", count, 0, 0xFF_FFFF)
    return (struct.pack(">BBI", READ_CD, sector_type << 2, _check("LBA", lba, 0, MAX_LBA))
            + count.to_bytes(3, "big") + bytes([main_channel, subchannel, 0]))


def read_cd_sector_size(main_channel: int, subchannel: int = 0) -> int:
    """Bytes per sector READ CD returns for a mode 1 sector with these selections."""
    if not 0 <= main_channel <= 0xFE or main_channel & 0x01 or (main_channel >> 1) & 0x03 == 3:
        raise ValueError(f"main channel selection {main_channel!r} is not a valid byte 9")
    if subchannel not in _CD_SUBCHANNEL_BYTES:
        raise ValueError(f"subchannel selection {subchannel!r} is not 0, 1, 2 or 4")
    return ((12 if main_channel & _CD_SYNC else 0)
            + _CD_HEADER_BYTES[(main_channel >> 5) & 0x03]
            + (USER_DATA_BYTES if main_channel & _CD_USER_DATA else 0)
            + (288 if main_channel & _CD_EDC_ECC else 0)      # mode 1: EDC 4, zero 8, P 172, Q 104
            + _CD_C2_BYTES[(main_channel >> 1) & 0x03]
            + _CD_SUBCHANNEL_BYTES[subchannel])
