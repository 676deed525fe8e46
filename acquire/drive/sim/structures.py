"""The simulated drive's disc structures: READ TOC formats 3 (PMA), 4 (ATIP), 5 (CD-TEXT) and READ
DISC STRUCTURE 03h (BCA), 04h (DMI) and the BD disc information (media type 1, format 00h).

What they hold (docs/simulated-drive.md "Disc structures"): an ATIP and a PMA on a CD-R/RW only
(a pressed disc has neither: 05/24/00); CD-TEXT when [disc] cd_text_* or a [[track]]'s title ... message is given (packs 80h-85h of block 0),
or [disc] cd_text_packs (the packs verbatim: any type and block); a BCA when
[disc] bca is given; a DMI on every DVD (zeros on a DVD-ROM, a pattern from the profile number on a
recordable one); the BD disc information on every BD. Byte layouts from docs/reference/mmc.md
"Disc structures"; no code shared with mmc.
"""
from __future__ import annotations

import binascii

import struct
from typing import Callable

from .codes import INVALID_FIELD_IN_CDB, Check
from .state import DriveState

_RECORDABLE_CD = {0x0009, 0x000A}
ATIP_LEAD_IN = (97, 17, 6)            # the first lead-in a CD-R's ATIP gave (docs/reference/mmc.md capture)
ATIP_LEAD_OUT = (79, 59, 74)          # 80 minutes
CD_TEXT_PACK = 18
DMI_BYTES = 2048
BD_DI_UNIT = 112


def toc_format(state: DriveState, fmt: int, pma_entries: bytes) -> bytes:
    """READ TOC format 3, 4 or 5: header (length, two bytes) + body; 05/24/00 where there is none."""
    profile = state.profile
    if fmt in (3, 4) and profile.profile_number not in _RECORDABLE_CD:
        raise Check(INVALID_FIELD_IN_CDB)
    if fmt == 3:
        body, first_last = pma_entries, (0, 0)
    elif fmt == 4:
        # descriptor: byte 0 ITWP (6-4), DDCD (3), reference speed (2-0); byte 1 URU (6); byte 2 bit 7
        # one, disc type (6: CD-RW), sub-type (5-3), A1/A2/A3 valid (2-0); 4-6 lead-in start MSF;
        # 8-10 last possible lead-out start MSF; 12-14 A1, 16-18 A2, 20-22 A3
        rw = 0x40 if profile.profile_number == 0x000A else 0x00
        body = (bytes([0xD2, 0x00, 0x80 | rw, 0, *ATIP_LEAD_IN, 0, *ATIP_LEAD_OUT, 0]) + bytes(12))
        first_last = (0, 0)
    else:
        if profile.cd_text_packs is not None:
            body, first_last = profile.cd_text_packs, (0, 0)     # given whole: any pack type and block
        elif not profile.cd_text:
            raise Check(INVALID_FIELD_IN_CDB)
        else:
            last = max((t.number for t in profile.tracks), default=0)
            body, first_last = cd_text_packs(profile.cd_text, last), (0, 0)
    return struct.pack(">HBB", len(body) + 2, *first_last) + body


CD_TEXT_TYPES = {"title": 0x80, "performer": 0x81, "songwriter": 0x82, "composer": 0x83, "arranger": 0x84,
                 "message": 0x85}


def cd_text_packs(strings: dict[str, dict[int, str]], last_track: int) -> bytes:
    """CD-TEXT packs (block 0, ISO 8859-1) with their CRC: per pack type, the strings of the disc
    (track 0) and of tracks 1..last_track, each ended by a NUL, cut into 12-byte packs; a pack's
    track is the one whose string its first byte belongs to, its character position how many of
    that string's characters earlier packs hold (15 at most). Sequence numbers run over all packs."""
    packs: list[bytes] = []
    for key, kind in CD_TEXT_TYPES.items():
        if key not in strings:
            continue
        text, owner, position = bytearray(), [], []
        for track in range(last_track + 1 if last_track else 1):
            piece = strings[key].get(track, "").encode("latin-1", "replace") + b"\x00"
            text += piece
            owner += [track] * len(piece)
            position += list(range(len(piece)))
        for at in range(0, len(text), 12):
            payload = bytes(text[at:at + 12]).ljust(12, b"\x00")
            # pack: type, track (bit 7 extension), sequence, block (6-4) and character position (3-0),
            # 12 text bytes, CRC-16 (x^16 + x^12 + x^5 + 1) over the 16 bytes, inverted, big-endian
            head = bytes([kind, owner[at], len(packs) & 0xFF, min(position[at], 15)]) + payload
            packs.append(head + struct.pack(">H", crc16(head) ^ 0xFFFF))
    return b"".join(packs)


def crc16(data: bytes) -> int:
    """The CD-TEXT pack CRC (x^16 + x^12 + x^5 + 1, initial 0), from the standard library's
    CRC-CCITT: an implementation of its own, apart from the host parser's, so that a mistake in one
    shows against the other."""
    return binascii.crc_hqx(data, 0)


def _bca(state: DriveState, layer: int) -> bytes:
    if state.profile.bca is None:
        raise Check(INVALID_FIELD_IN_CDB)     # no BCA on this disc (MMC: 05/24/00)
    return state.profile.bca


def _dmi(state: DriveState, layer: int) -> bytes:
    number = state.profile.profile_number
    if number == 0x0010:
        return bytes(DMI_BYTES)                # a pressed DVD's DMI holds nothing
    return (b"ACQUIRE-SIM-DMI" + struct.pack(">H", number)).ljust(DMI_BYTES, b"\x00")


def _bd_disc_information(state: DriveState, layer: int) -> bytes:
    # one DI unit: 0-1 "DI", 2 unit format 1, 3 units in the block 1, 8-10 disc type identifier
    # ("BDO" ROM, "BDR" recordable, "BDW" rewritable), 11 disc size (7-6) / class (5-4) / version
    # (3-0), 12 layers in the unit (7-4), this layer (3-0), 13 no hybrid layers (7-4), the channel
    # length code (3-0: 1 74.5 nm, 2 69.0 nm) from the profile
    kind = {0x0040: b"BDO", 0x0041: b"BDR", 0x0042: b"BDR", 0x0043: b"BDW"}.get(state.profile.profile_number, b"BDO")
    unit = b"DI" + bytes([1, 1, 0, 0, 0, 0]) + kind + bytes([0x01, 0x10, state.profile.channel_length & 0x0F])
    return unit.ljust(BD_DI_UNIT, b"\x00")


# (media type, format) -> the structure's body (after the 4-byte header)
DISC_STRUCTURES: dict[tuple[int, int], Callable[[DriveState, int], bytes]] = {
    (0, 0x03): _bca, (0, 0x04): _dmi, (1, 0x00): _bd_disc_information,
}


def listed(state: DriveState) -> list[tuple[int, int]]:
    """(format, length) of the structures format FFh lists beside 00h, 01h and FFh."""
    out = []
    if state.family == "dvd":
        out.append((0x04, DMI_BYTES))
        if state.profile.bca is not None:
            out.append((0x03, len(state.profile.bca)))
    return out


def read_sub_channel(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    """READ SUB-CHANNEL formats 02h (MCN: [disc] mcn) and 03h (ISRC: a [[track]]'s isrc), SubQ set;
    the valid bit clear where the disc has none; what [drive] read_sub_channel_isrc / _mcn make the
    drive answer instead. Format 01h (the current position) is 05/24/00."""
    # 42 | MSF (1) | SubQ (byte 2 bit 6) | format | 00 00 | track | allocation (2) | control
    fmt, track, length = cdb[3], cdb[6], struct.unpack_from(">H", cdb, 7)[0]
    if state.family != "cd" or not cdb[2] & 0x40 or fmt not in (0x02, 0x03):
        raise Check(INVALID_FIELD_IN_CDB)
    answer = state.profile.audio
    if fmt == 0x02:
        mcn = {"disc": state.profile.mcn, "none": None}.get(answer.read_sub_channel_mcn, answer.read_sub_channel_mcn)
        # format 02h, 3 reserved, MCVal (bit 7), 13 digits, zero, AFRAME
        body = bytes([0x02, 0, 0, 0, 0x80 if mcn else 0]) + (mcn or "").encode("ascii").ljust(13, b"\x00") + bytes(2)
    else:
        spans = {s.number: s for s in state.layout.spans}
        if track not in spans:
            raise Check(INVALID_FIELD_IN_CDB)
        isrc = _isrc_answer(state, track, answer.read_sub_channel_isrc)
        adr_control = 0x10 if spans[track].mode == "audio" else 0x14
        # format 03h, ADR/CONTROL, track, reserved, TCVal (bit 7), 12 characters, zero, AFRAME, reserved
        body = (bytes([0x03, adr_control, track, 0, 0x80 if isrc else 0]) + (isrc or "").encode("ascii").ljust(12, b"\x00")
                + bytes(3))
    # header: reserved, audio status 15h (no current status), sub-channel data length (2)
    return (struct.pack(">BBH", 0, 0x15, len(body)) + body)[:length]


def _isrc_answer(state: DriveState, track: int, mode: str) -> str | None:
    """The ISRC a drive gives for `track`: the disc's, none, or a neighbour's (the next track's, the
    last track the one before: a drive that reports the ISRC of the Q frames it met last)."""
    codes = state.profile.isrc
    if mode == "none":
        return None
    if mode == "neighbour":
        numbers = sorted(s.number for s in state.layout.spans)
        later = [n for n in numbers if n > track]
        return codes.get(later[0] if later else max([n for n in numbers if n < track], default=track))
    return codes.get(track)
