"""MODE SENSE(10) and MODE SELECT(10): pages 01h (error recovery) and 2Ah (capabilities).

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import MODE_SELECT_10, MODE_SENSE_10


# -- MODE SENSE(10), MODE SELECT(10), pages 01h and 2Ah -----------------------------------------

PAGE_ERROR_RECOVERY = 0x01
PAGE_CAPABILITIES = 0x2A
MODE_HEADER_10_BYTES = 8


@dataclass(frozen=True, slots=True)
class ModePage:
    code: int
    saveable: bool          # PS
    body: bytes             # the page parameters after its 2-byte header: page byte n is body[n - 2]


def mode_sense_10(page_code: int, *, page_control: int = 0, dbd: bool = True,
                  allocation_length: int = 0xFFF8) -> bytes:
    """MODE SENSE(10) of one page: current (0), changeable mask (1), default (2) or saved (3) values."""
    # byte 1 bit 3 DBD; byte 2 bits 7-6 page control, bits 5-0 page code; byte 3 subpage (0);
    # bytes 7-8 allocation length
    return struct.pack(">BBBB3xHB", MODE_SENSE_10, 0x08 if dbd else 0,
                       _check("page control", page_control, 0, 3) << 6 | _check("page code", page_code, 0, 0x3F),
                       0, _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_mode_sense_10(data: bytes) -> ModePage:
    """The first mode page of a MODE SENSE(10) answer, block descriptors skipped."""
    # header: bytes 0-1 mode data length (after this field); byte 2 medium type; bytes 6-7 block
    # descriptor length. Then the descriptors, then the page: byte 0 bit 7 PS, bit 6 SPF,
    # bits 5-0 page code; byte 1 page length (SPF=1: subpage in byte 1, length in bytes 2-3)
    _need(data, MODE_HEADER_10_BYTES, "mode parameter header")
    mode_length, descriptors = struct.unpack_from(">H4xH", data, 0)
    end = min(len(data), 2 + mode_length)
    offset = MODE_HEADER_10_BYTES + descriptors
    if offset + 2 > end:
        raise MalformedResponse(f"MODE SENSE(10): no page after the header ({bytes(data[:16]).hex(' ')})")
    code = data[offset] & 0x3F
    if data[offset] & 0x40:
        if offset + 4 > end:
            raise MalformedResponse("MODE SENSE(10): subpage header cut short")
        header, length = 4, struct.unpack_from(">H", data, offset + 2)[0]
    else:
        header, length = 2, data[offset + 1]
    if offset + header + length > end:
        raise MalformedResponse(f"MODE SENSE(10): page {code:02X}h of {length} bytes is cut short")
    start = offset + header
    return ModePage(code, bool(data[offset] & 0x80), bytes(data[start:start + length]))


def _page_body(page: ModePage, code: int, length: int, what: str) -> bytes:
    if page.code != code:
        raise MalformedResponse(f"mode page {page.code:02X}h where {what} ({code:02X}h) was expected")
    if len(page.body) < length:
        raise MalformedResponse(f"{what}: {len(page.body) + 2} bytes, need {length + 2}")
    return page.body


@dataclass(frozen=True, slots=True)
class ErrorRecoveryPage:
    """Page 01h, read/write error recovery (MMC: 12 bytes, page length 0Ah)."""

    awre: bool
    arre: bool
    tb: bool
    rc: bool
    per: bool               # report recovered errors (sense key 1): marginal sectors become visible
    dte: bool
    dcr: bool
    read_retry_count: int   # lower: bad sectors fail faster
    write_retry_count: int
    recovery_time_limit: int

    # byte 0 bit 7 PS, bits 5-0 01h; byte 1 page length 0Ah; byte 2 bit 7 AWRE, 6 ARRE, 5 TB, 4 RC,
    # 2 PER, 1 DTE, 0 DCR; byte 3 read retry count; bytes 4-7 obsolete/reserved; byte 8 write retry
    # count; byte 9 reserved; bytes 10-11 recovery time limit
    _BITS = (("awre", 0x80), ("arre", 0x40), ("tb", 0x20), ("rc", 0x10), ("per", 0x04), ("dte", 0x02),
             ("dcr", 0x01))

    @classmethod
    def from_page(cls, page: ModePage) -> "ErrorRecoveryPage":
        body = _page_body(page, PAGE_ERROR_RECOVERY, 10, "error recovery page")
        flags = body[0]
        return cls(*(bool(flags & bit) for _name, bit in cls._BITS),
                   body[1], body[6], struct.unpack_from(">H", body, 8)[0])

    def to_bytes(self) -> bytes:
        """The 12-byte page with PS = 0, as MODE SELECT(10) takes it."""
        flags = sum(bit for name, bit in self._BITS if getattr(self, name))
        return struct.pack(">BBBB4xBxH", PAGE_ERROR_RECOVERY, 0x0A, flags,
                           _check("read retry count", self.read_retry_count, 0, 0xFF),
                           _check("write retry count", self.write_retry_count, 0, 0xFF),
                           _check("recovery time limit", self.recovery_time_limit, 0, 0xFFFF))


@dataclass(frozen=True, slots=True)
class CapabilitiesPage:
    """Page 2Ah, capabilities and mechanical status."""

    read_cd_r: bool
    read_cd_rw: bool
    read_dvd_rom: bool
    read_dvd_r: bool
    read_dvd_ram: bool
    c2_pointers: bool
    cd_da_commands: bool
    cd_da_accurate: bool
    max_read_speed_kbps: int    # obsolete from MMC-3 on: may be 0

    @classmethod
    def from_page(cls, page: ModePage) -> "CapabilitiesPage":
        # byte 2 bit 0 CD-R read, 1 CD-RW read, 3 DVD-ROM, 4 DVD-R, 5 DVD-RAM; byte 5 bit 4 C2
        # pointers, bit 1 CD-DA stream accurate, bit 0 CD-DA commands; bytes 8-9 max read speed
        body = _page_body(page, PAGE_CAPABILITIES, 8, "capabilities page")
        reads, audio = body[0], body[3]
        return cls(bool(reads & 0x01), bool(reads & 0x02), bool(reads & 0x08), bool(reads & 0x10),
                   bool(reads & 0x20), bool(audio & 0x10), bool(audio & 0x01), bool(audio & 0x02),
                   struct.unpack_from(">H", body, 6)[0])


def mode_select_10(parameter_list_length: int) -> bytes:
    """MODE SELECT(10) with PF=1 and SP=0: the drive's saved pages are never touched."""
    # byte 1 bit 4 PF, bit 0 SP; bytes 7-8 parameter list length
    return struct.pack(">BB5xHB", MODE_SELECT_10, 0x10,
                       _check("parameter list length", parameter_list_length, 0, 0xFFFF), 0)


def mode_select_10_parameters(page: bytes) -> bytes:
    """The MODE SELECT(10) parameter list: 8-byte header (all zero) then `page` with PS cleared."""
    # header: mode data length 0 (reserved in MODE SELECT), medium type 0, block descriptor length 0
    if len(page) < 2 or len(page) != 2 + page[1]:
        raise ValueError(f"mode page of {len(page)} bytes does not match its page length byte")
    return bytes(MODE_HEADER_10_BYTES) + bytes([page[0] & 0x7F]) + bytes(page[1:])
