"""What identifies a disc beside its data: READ TOC formats 3 (PMA), 4 (ATIP), 5 (CD-TEXT), and READ
DISC STRUCTURE 03h (BCA), 04h (DMI) and the BD disc information (media type 1, format 00h).

Byte layouts from docs/reference/mmc.md "Disc structures" (MMC-6; Red Book for CD-TEXT packs);
every multi-byte field is big-endian. Parsers take what the drive returned and raise only
MalformedResponse; the raw bytes are what the record keeps and hashes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .cdtext import CD_TEXT_PACK_BYTES, CD_TEXT_TYPES, CdText, CdTextPack, crc16, from_body  # noqa: F401
from .disc import FullTocEntry, msf_to_lba
from .opcodes import READ_SUB_CHANNEL

TOC_FORMAT_PMA = 3
TOC_FORMAT_ATIP = 4
TOC_FORMAT_CD_TEXT = 5
DISC_STRUCTURE_BCA = 0x03
DISC_STRUCTURE_DMI = 0x04            # disc manufacturing information
BD_MEDIA = 1                         # READ DISC STRUCTURE byte 1: media type 1, a BD
BD_DISC_INFORMATION = 0x00


def _body(data: bytes, what: str) -> bytes:
    """The bytes after a 4-byte header whose bytes 0-1 are the data length (not counting themselves)."""
    _need(data, 4, what)
    length = struct.unpack_from(">H", data, 0)[0]
    if length < 2:
        raise MalformedResponse(f"{what}: data length {length} is less than 2")
    return bytes(data[4:min(len(data), 2 + length)])


@dataclass(frozen=True, slots=True)
class Atip:
    writing_power: int          # indicative target writing power (byte 4 bits 6-4)
    ddcd: bool
    reference_speed: int
    unrestricted_use: bool      # URU
    rewritable: bool            # disc type: 0 CD-R, 1 CD-RW
    sub_type: int
    a1_valid: bool
    a2_valid: bool
    a3_valid: bool
    lead_in_lba: int            # start time of the lead-in (a negative LBA: before 00:02:00, wrapped)
    lead_out_lba: int           # last possible start of the lead-out


def parse_atip(data: bytes) -> Atip:
    """READ TOC format 4 (CD-R/RW only)."""
    # header 4 bytes; descriptor from byte 4: byte 4 ITWP (6-4), DDCD (3), reference speed (2-0);
    # byte 5 URU (6); byte 6 disc type (6), sub-type (5-3), A1 (2), A2 (1), A3 (0) valid;
    # bytes 8-10 lead-in start M S F; bytes 12-14 last possible lead-out start M S F
    _need(data, 4 + 11, "ATIP")
    body = _body(data, "ATIP")
    _need(body, 11, "ATIP descriptor")
    b0, b1, b2 = body[0], body[1], body[2]
    lead_in = msf_to_lba(*body[4:7])
    return Atip((b0 >> 4) & 0x07, bool(b0 & 0x08), b0 & 0x07, bool(b1 & 0x40), bool(b2 & 0x40), (b2 >> 3) & 0x07,
                bool(b2 & 0x04), bool(b2 & 0x02), bool(b2 & 0x01),
                lead_in - 450_000 if lead_in > 400_000 else lead_in, msf_to_lba(*body[8:11]))


def parse_pma(data: bytes) -> tuple[FullTocEntry, ...]:
    """READ TOC format 3: the PMA's entries, 11 bytes each laid out as the full TOC's."""
    body = _body(data, "PMA")
    whole = len(body) // 11 * 11
    return tuple(FullTocEntry(session, adr_control >> 4, adr_control & 0x0F, *rest)
                 for session, adr_control, *rest in struct.iter_unpack(">11B", body[:whole]))


def parse_cd_text(data: bytes) -> CdText:
    """READ TOC format 5: 18-byte packs (type, track, sequence, block/position, 12 text, CRC): cdtext.py."""
    return from_body(_body(data, "CD-TEXT"))


def parse_bca(data: bytes) -> bytes:
    """READ DISC STRUCTURE 03h: the BCA's bytes after the 4-byte header."""
    return _body(data, "BCA")


def parse_dmi(data: bytes) -> bytes:
    """READ DISC STRUCTURE 04h: the 2048 bytes of disc manufacturing information."""
    return _body(data, "DMI")


# a DI unit's channel length code -> channel bit length (m): 74.5 nm holds 25 GB a layer, 69.0 nm
# 27 GB; the BD books are not public: the field's place and codes are as two independent public
# decoders read them (Aaru's Decoders/Bluray/DI.cs, redumper's BLURAY_CHANNEL_LENGTH)
BD_CHANNEL_BIT_M = {1: 74.5e-9, 2: 69.0e-9}
BD_CHANNEL_RATE_1X = 66.0e6     # channel bits per second at 1x (4.917 m/s at 74.5 nm)


@dataclass(frozen=True, slots=True)
class BdDiscInformation:
    unit_format: int
    units: int
    disc_type: str              # "BDO" (ROM), "BDR", "BDW" (RE)
    size_class_version: int
    layers: int
    channel_length: int = 0     # 0 not given, 1 74.5 nm (25 GB a layer), 2 69.0 nm (27 GB)

    @property
    def velocity_m_s(self) -> float | None:
        """The 1x scanning velocity: 66 Mbit/s of channel bits times the channel bit length (a
        27 GB layer runs at 4.55 m/s, a 25 GB one at 4.92); None for another code."""
        bit = BD_CHANNEL_BIT_M.get(self.channel_length)
        return None if bit is None else BD_CHANNEL_RATE_1X * bit


def parse_bd_disc_information(data: bytes) -> BdDiscInformation:
    """READ DISC STRUCTURE media type 1, format 00h: the first DI unit ("DI", bytes 8-10 the type)."""
    # unit: bytes 0-1 "DI"; 2 unit format number; 3 number of DI units in the block; 8-10 disc type
    # identifier; 11 disc size (7-6), class (5-4), version (3-0); 12 bits 7-4 layers; 13 bits 7-6
    # a hybrid DVD layer, 5-4 a hybrid CD layer, 3-0 the channel length code
    body = _body(data, "BD disc information")
    _need(body, 13, "BD disc information unit")
    if body[0:2] != b"DI":
        raise MalformedResponse(f"BD disc information: no DI unit ({body[:4].hex(' ')})")
    channel = body[13] & 0x0F if len(body) > 13 else 0
    return BdDiscInformation(body[2], body[3], body[8:11].decode("ascii", "replace"), body[11], body[12] >> 4,
                             channel)


# -- READ SUB-CHANNEL: the media catalogue number and the ISRCs --------------------------------------

SUB_CHANNEL_MCN = 0x02
SUB_CHANNEL_ISRC = 0x03


def read_sub_channel(format: int, *, track: int = 0, allocation_length: int = 24) -> bytes:
    """READ SUB-CHANNEL of the Q subchannel data in `format` (02h MCN, 03h ISRC of `track`)."""
    # byte 1 bit 1 MSF (0); byte 2 bit 6 SubQ (1: return the data); byte 3 format; byte 6 track
    # number (ISRC); bytes 7-8 allocation length; byte 9 control
    return struct.pack(">BBBB2xBHB", READ_SUB_CHANNEL, 0, 0x40, _check("sub-channel format", format, 1, 3),
                       _check("track", track, 0, 99), _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def _sub_channel_text(data: bytes, fmt: int, at: int, size: int, what: str) -> str | None:
    # header: byte 1 audio status, bytes 2-3 sub-channel data length; data from byte 4: byte 0 the
    # format code, then (MCN) byte 4 bit 7 MCVal, bytes 5-17 the 13 digits; (ISRC) byte 4 bit 7
    # TCVal, bytes 5-16 the 12 characters
    _need(data, 4 + at + size, what)
    if data[4] != fmt:
        raise MalformedResponse(f"{what}: format code {data[4]:02X}h, asked for {fmt:02X}h")
    if not data[8] & 0x80:
        return None                      # not valid: the disc has none
    return bytes(data[4 + at:4 + at + size]).decode("ascii", "replace").rstrip("\x00 ")


def parse_mcn(data: bytes) -> str | None:
    """READ SUB-CHANNEL format 02h: the media catalogue number (UPC/EAN), None when MCVal is 0."""
    return _sub_channel_text(data, SUB_CHANNEL_MCN, 5, 13, "MCN")


def parse_isrc(data: bytes) -> str | None:
    """READ SUB-CHANNEL format 03h: the track's ISRC, None when TCVal is 0."""
    return _sub_channel_text(data, SUB_CHANNEL_ISRC, 5, 12, "ISRC")
