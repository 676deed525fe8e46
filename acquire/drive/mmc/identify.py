"""Who the drive is: INQUIRY, standard data and VPD page 80h (unit serial number).

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import INQUIRY


# -- INQUIRY ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Inquiry:
    device_type: int        # peripheral device type; 05h = CD/DVD/BD
    removable: bool         # RMB
    vendor: str
    product: str
    revision: str


def inquiry(*, evpd: bool = False, page_code: int = 0, allocation_length: int = 96) -> bytes:
    """INQUIRY: standard data, or with evpd a vital product data page (80h: unit serial number)."""
    # byte 1 bit 0 EVPD; byte 2 page code (0 unless EVPD); bytes 3-4 allocation length; byte 5 control
    _check("page code", page_code, 0, 0xFF)
    if page_code and not evpd:
        raise ValueError("an INQUIRY page code needs evpd=True (SPC-4: page code 0 without EVPD)")
    return struct.pack(">BBBHB", INQUIRY, 0x01 if evpd else 0, page_code,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def _text(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace").strip(" \x00")


def parse_inquiry(data: bytes) -> Inquiry:
    """Standard INQUIRY data (SPC-4 6.4.2): 36 bytes at least."""
    # byte 0 bits 4-0 peripheral device type; byte 1 bit 7 RMB; bytes 8-15 vendor,
    # 16-31 product, 32-35 revision: ASCII, space padded
    _need(data, 36, "INQUIRY data")
    return Inquiry(data[0] & 0x1F, bool(data[1] & 0x80), _text(data[8:16]), _text(data[16:32]),
                   _text(data[32:36]))


def parse_unit_serial_number(data: bytes) -> str:
    """VPD page 80h: the unit serial number ("" when the drive has none to tell)."""
    # byte 1 page code 80h; bytes 2-3 page length n; bytes 4..4+n-1 serial (ASCII)
    _need(data, 4, "VPD page 80h")
    if data[1] != 0x80:
        raise MalformedResponse(f"VPD page {data[1]:02X}h where 80h (unit serial number) was asked for")
    length = struct.unpack_from(">H", data, 2)[0]
    _need(data, 4 + length, "VPD page 80h")
    return _text(data[4:4 + length])
