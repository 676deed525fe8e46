"""DVD and BD structures: READ DISC STRUCTURE, physical format (00h) and copyright (01h).

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ._fields import _check, _need
from .opcodes import MAX_LBA, READ_DISC_STRUCTURE


# -- READ DISC STRUCTURE ------------------------------------------------------------------------

DISC_STRUCTURE_PHYSICAL = 0x00
DISC_STRUCTURE_COPYRIGHT = 0x01
DISC_STRUCTURE_MANUFACTURING = 0x04
DISC_STRUCTURE_LIST = 0xFF


def read_disc_structure(format: int, *, media_type: int = 0, address: int = 0, layer: int = 0,
                        allocation_length: int = 0xFFF8) -> bytes:
    """READ DISC STRUCTURE: DVD (media type 0) or BD (1) structures by format code."""
    # byte 1 bits 3-0 media type; bytes 2-5 address; byte 6 layer number; byte 7 format code;
    # bytes 8-9 allocation length; byte 10 bits 7-6 AGID (0); byte 11 control
    return struct.pack(">BBIBBHBB", READ_DISC_STRUCTURE, _check("media type", media_type, 0, 0x0F),
                       _check("address", address, 0, MAX_LBA), _check("layer", layer, 0, 0xFF),
                       _check("format", format, 0, 0xFF), _check("allocation length", allocation_length, 0, 0xFFFF),
                       0, 0)


# ECMA-267 (DVD-ROM) physical format information, byte 3: track density code -> track pitch (m),
# linear density code -> data bit length (m); other codes belong to other books (DVD-RAM, +RW)
DVD_TRACK_PITCH_M = {0: 0.74e-6, 1: 0.80e-6}
DVD_DATA_BIT_M = {0: 0.267e-6, 1: 0.293e-6}
DVD_CHANNEL_RATE_1X = 26.16e6       # channel bits per second at 1x; EFMPlus: two channel bits a data bit


@dataclass(frozen=True, slots=True)
class DvdPhysicalFormat:
    book_type: int          # 0 DVD-ROM, 1 DVD-RAM, 2 DVD-R, 3 DVD-RW, 9 DVD+RW, Ah DVD+R
    part_version: int
    disc_size: int          # 0 120 mm, 1 80 mm
    max_rate: int           # 0 2.52, 1 5.04, 2 10.08, 3 20.16, 4 30.24 Mbit/s, Fh not specified
    layers: int             # 1 or 2 (the field holds layers - 1)
    track_path: int         # 0 parallel (PTP), 1 opposite (OTP)
    layer_type: int         # bit 0 embossed, bit 1 recordable, bit 2 rewritable
    linear_density: int
    track_density: int
    data_start: int         # physical sector number, 30000h on a DVD-ROM
    data_end: int
    layer0_end: int

    @property
    def track_pitch_m(self) -> float | None:
        """The track pitch the track density code names (ECMA-267); None for codes of other books."""
        return DVD_TRACK_PITCH_M.get(self.track_density)

    @property
    def velocity_m_s(self) -> float | None:
        """The 1x scanning velocity: the 1x channel bit rate times the channel bit length, half the
        data bit length the linear density code names (ECMA-267: 0.267 um/bit -> 3.49 m/s, 0.293
        um/bit -> 3.83 m/s on a dual-layer disc); None for codes of other books."""
        bit = DVD_DATA_BIT_M.get(self.linear_density)
        return None if bit is None else DVD_CHANNEL_RATE_1X * bit / 2


def parse_dvd_physical_format(data: bytes) -> DvdPhysicalFormat:
    """READ DISC STRUCTURE format 00h on a DVD (ECMA-267 physical format information)."""
    # header: bytes 0-1 data length, 2-3 reserved. layer descriptor from byte 4: byte 0 book type
    # (7-4), part version (3-0); byte 1 disc size (7-4), maximum rate (3-0); byte 2 number of layers
    # (6-5), track path (4), layer type (3-0); byte 3 linear density (7-4), track density (3-0);
    # bytes 4-7 data area start; 8-11 data area end; 12-15 end sector in layer 0
    _need(data, 4 + 16, "DVD physical format")
    b0, b1, b2, b3, start, end, layer0_end = struct.unpack_from(">BBBBIII", data, 4)
    return DvdPhysicalFormat(b0 >> 4, b0 & 0x0F, b1 >> 4, b1 & 0x0F, ((b2 >> 5) & 0x03) + 1, (b2 >> 4) & 0x01,
                             b2 & 0x0F, b3 >> 4, b3 & 0x0F, start, end, layer0_end)


@dataclass(frozen=True, slots=True)
class Copyright:
    protection_type: int    # 0 none, 1 CSS/CPPM, 2 CPRM, 3 AACS
    region_mask: int        # a set bit: the disc does NOT play in that region


def parse_copyright(data: bytes) -> Copyright:
    """READ DISC STRUCTURE format 01h: copyright protection type and region management."""
    # header 4 bytes; byte 0 copyright protection system type; byte 1 region management information
    _need(data, 6, "copyright information")
    return Copyright(data[4], data[5])
