"""What is on the disc: READ CAPACITY(10), READ TOC/PMA/ATIP (formats 0, 1, 2), READ DISC
INFORMATION, READ TRACK INFORMATION.

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import MAX_LBA, READ_CAPACITY_10, READ_DISC_INFORMATION, READ_TOC, READ_TRACK_INFORMATION


# -- READ CAPACITY(10) ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Capacity:
    last_lba: int
    block_length: int

    @property
    def sectors(self) -> int:
        return self.last_lba + 1


def read_capacity_10() -> bytes:
    """READ CAPACITY(10): last LBA and block length (mind the TAO run-out, docs/reference/mmc.md)."""
    # byte 0 25h; bytes 1-9 zero (RelAdr, LBA and PMI are obsolete in MMC)
    return bytes([READ_CAPACITY_10]) + bytes(9)


def parse_read_capacity_10(data: bytes) -> Capacity:
    # bytes 0-3 last logical block address; bytes 4-7 block length in bytes
    _need(data, 8, "READ CAPACITY(10) data")
    return Capacity(*struct.unpack_from(">II", data, 0))


# -- READ TOC/PMA/ATIP ------------------------------------------------------------------------

TOC_FORMAT_TOC = 0
TOC_FORMAT_SESSION = 1
TOC_FORMAT_FULL = 2
LEADOUT_TRACK = 0xAA


def read_toc(format: int, *, msf: bool = False, track_or_session: int = 0,
             allocation_length: int = 0xFFFE) -> bytes:
    """READ TOC/PMA/ATIP in `format` (TOC_FORMAT_TOC, _SESSION, _FULL)."""
    # byte 1 bit 1 MSF (0: LBA); byte 2 bits 3-0 format; byte 6 track/session number;
    # bytes 7-8 allocation length; byte 9 control (its bits 7-6 are the SFF-8020 format: 0)
    return struct.pack(">BBB3xBHB", READ_TOC, 0x02 if msf else 0, _check("TOC format", format, 0, 0x0F),
                       _check("track/session", track_or_session, 0, 0xFF),
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def _toc_body(data: bytes, what: str, unit: int) -> tuple[bytes, int, int]:
    """(whole descriptors, first, last) of a READ TOC answer: 4-byte header, `unit`-byte descriptors.

    A response cut short by the allocation length loses its incomplete last descriptor.
    """
    # bytes 0-1 data length (excluding these 2); byte 2 first; byte 3 last
    _need(data, 4, what)
    length, first, last = struct.unpack_from(">HBB", data, 0)
    if length < 2 or (length - 2) % unit:
        raise MalformedResponse(f"{what}: data length {length} is not 2 + n x {unit}")
    end = min(len(data), 2 + length)
    whole = 4 + (end - 4) // unit * unit
    return bytes(data[4:whole]), first, last


@dataclass(frozen=True, slots=True)
class TocEntry:
    track: int              # AAh = lead-out
    adr: int
    control: int            # bit 2 set: data track
    start_lba: int

    @property
    def is_data(self) -> bool:
        return bool(self.control & 0x04)


@dataclass(frozen=True, slots=True)
class Toc:
    first_track: int
    last_track: int
    entries: tuple[TocEntry, ...]

    @property
    def leadout_lba(self) -> int | None:
        return next((e.start_lba for e in self.entries if e.track == LEADOUT_TRACK), None)

    @property
    def data_tracks(self) -> tuple[TocEntry, ...]:
        return tuple(e for e in self.entries if e.is_data and e.track != LEADOUT_TRACK)


def parse_toc(data: bytes) -> Toc:
    """READ TOC format 0, LBA addressing (MSF=0)."""
    # descriptors, 8 bytes: byte 0 reserved; byte 1 ADR (7-4) / CONTROL (3-0); byte 2 track
    # number; byte 3 reserved; bytes 4-7 start address, signed (MMC allows negative LBAs)
    body, first, last = _toc_body(data, "READ TOC format 0", 8)
    entries = tuple(TocEntry(track, adr_control >> 4, adr_control & 0x0F, lba)
                    for adr_control, track, lba in struct.iter_unpack(">xBBxi", body))
    return Toc(first, last, entries)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    first_session: int
    last_session: int
    first_track_in_last_session: int
    start_lba: int          # of that track


def parse_session_info(data: bytes) -> SessionInfo:
    """READ TOC format 1: the first track of the last session and where it starts."""
    # header as format 0 with first/last session; one 8-byte descriptor laid out as format 0's
    body, first, last = _toc_body(data, "READ TOC format 1", 8)
    if not body:
        raise MalformedResponse("READ TOC format 1: no session descriptor")
    _adr_control, track, lba = struct.unpack_from(">xBBxi", body, 0)
    return SessionInfo(first, last, track, lba)


def msf_to_lba(m: int, s: int, f: int) -> int:
    """LBA of an absolute MSF address: (M x 60 + S) x 75 + F - 150 (docs/reference/mmc.md)."""
    return (m * 60 + s) * 75 + f - 150


@dataclass(frozen=True, slots=True)
class FullTocEntry:
    session: int
    adr: int
    control: int
    tno: int
    point: int              # A0h first track, A1h last track, A2h lead-out start
    min: int
    sec: int
    frame: int
    zero: int
    pmin: int
    psec: int
    pframe: int


    @property
    def pmsf_lba(self) -> int:
        """PMIN/PSEC/PFRAME as an LBA (the track start, or A2h's lead-out start)."""
        return msf_to_lba(self.pmin, self.psec, self.pframe)

    @property
    def amsf_lba(self) -> int:
        """MIN/SEC/FRAME as an LBA (B0h: where the next session's program area may start)."""
        return msf_to_lba(self.min, self.sec, self.frame)


POINT_FIRST_TRACK, POINT_LAST_TRACK, POINT_LEADOUT, POINT_NEXT_SESSION = 0xA0, 0xA1, 0xA2, 0xB0


@dataclass(frozen=True, slots=True)
class FullTocSession:
    """One session as its full TOC entries describe it (Red Book Q mode 1; B0h is Q mode 5)."""

    number: int
    first_track: int | None
    last_track: int | None
    leadout_lba: int | None                     # A2h: where this session's lead-out starts
    tracks: tuple[tuple[int, int, int], ...]     # (track, CONTROL, start LBA)
    next_program_area_lba: int | None = None     # B0h: a further session may start there


@dataclass(frozen=True, slots=True)
class FullToc:
    first_session: int
    last_session: int
    entries: tuple[FullTocEntry, ...]

    def sessions(self) -> tuple[FullTocSession, ...]:
        """The entries grouped per session, in session order; track points are 01h-63h (1-99)."""
        out = []
        for number in sorted({e.session for e in self.entries}):
            mine = [e for e in self.entries if e.session == number and e.adr in (1, 5)]
            point = {e.point: e for e in mine}
            tracks = tuple((e.point, e.control, e.pmsf_lba) for e in mine if e.adr == 1 and 1 <= e.point <= 99)
            a0, a1, a2, b0 = (point.get(p) for p in (POINT_FIRST_TRACK, POINT_LAST_TRACK, POINT_LEADOUT,
                                                       POINT_NEXT_SESSION))
            out.append(FullTocSession(number, a0.pmin if a0 else None, a1.pmin if a1 else None,
                                      a2.pmsf_lba if a2 else None, tracks,
                                      b0.amsf_lba if b0 is not None and b0.adr == 5 else None))
        return tuple(out)


def parse_full_toc(data: bytes) -> FullToc:
    """READ TOC format 2 (CD only): the raw Q-subchannel TOC entries of every session."""
    # descriptors, 11 bytes: session, ADR (7-4) / CONTROL (3-0), TNO, POINT, MIN, SEC, FRAME,
    # ZERO, PMIN, PSEC, PFRAME
    body, first, last = _toc_body(data, "READ TOC format 2", 11)
    entries = tuple(FullTocEntry(session, adr_control >> 4, adr_control & 0x0F, *rest)
                    for session, adr_control, *rest in struct.iter_unpack(">11B", body))
    return FullToc(first, last, entries)


# -- READ DISC INFORMATION, READ TRACK INFORMATION ---------------------------------------------

@dataclass(frozen=True, slots=True)
class DiscInformation:
    erasable: bool
    last_session_state: int     # 0 empty, 1 incomplete, 2 reserved/damaged, 3 complete
    disc_status: int            # 0 empty, 1 incomplete, 2 complete, 3 other (ROM)
    first_track: int
    sessions: int               # counts an empty or incomplete last session (MMC-6 6.22.3.1.6)
    first_track_in_last_session: int
    last_track_in_last_session: int
    disc_type: int              # 00h CD-DA/CD-ROM, 10h CD-I, 20h CD-ROM XA
    last_session_lead_in: int | None = None     # bytes 16-19 as sent (CD: 00 M S F); None: FFFFFFFFh or absent
    last_possible_lead_out: int | None = None   # bytes 20-23 as sent; None: FFFFFFFFh or absent

    @property
    def appendable(self) -> bool:
        """Disc status incomplete (01b): a session may still be added, or the last is open."""
        return self.disc_status == 1


def disc_information_lba(value: int | None, *, cd: bool) -> int | None:
    """A disc information address as an LBA: on a CD bytes 1-3 are M, S, F (MMC-6 table 571)."""
    if value is None:
        return None
    if cd:
        return msf_to_lba((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)
    return value


def read_disc_information(allocation_length: int = 34) -> bytes:
    """READ DISC INFORMATION, standard disc information (data type 000b)."""
    # byte 1 bits 2-0 data type (0); bytes 7-8 allocation length
    return struct.pack(">BB5xHB", READ_DISC_INFORMATION, 0,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_disc_information(data: bytes) -> DiscInformation:
    # byte 2 bit 4 erasable, bits 3-2 last session state, bits 1-0 disc status; byte 3 first
    # track; bytes 4, 5, 6 LSBs of sessions, first and last track in last session; byte 8 disc
    # type; bytes 9, 10, 11 their MSBs (MMC-3 on; older drives stop earlier: MSB 0)
    # 16-19 last session lead-in start address, 20-23 last possible lead-out start address
    _need(data, 9, "disc information")
    msb = data[9:12] if len(data) >= 12 else bytes(3)

    def address(at: int) -> int | None:
        if len(data) < at + 4:
            return None
        value = struct.unpack_from(">I", data, at)[0]
        return None if value == 0xFFFF_FFFF else value

    return DiscInformation(bool(data[2] & 0x10), (data[2] >> 2) & 0x03, data[2] & 0x03, data[3],
                           msb[0] << 8 | data[4], msb[1] << 8 | data[5], msb[2] << 8 | data[6], data[8],
                           address(16), address(20))


@dataclass(frozen=True, slots=True)
class TrackInformation:
    track: int
    session: int
    track_mode: int         # CONTROL nibble: bit 2 data, bit 0 recorded incrementally (packet)
    data_mode: int          # 1 mode 1, 2 mode 2, Fh unknown
    start_lba: int
    size: int               # sectors
    damage: bool = False    # byte 5 bit 5: the track was not closed cleanly
    copy: bool = False
    rt: bool = False        # byte 6 bit 7: reserved track
    blank: bool = False     # byte 6 bit 6: nothing written in it yet (the invisible track)
    packet: bool = False    # byte 6 bit 5: written in packets (incremental)
    fp: bool = False        # byte 6 bit 4: fixed packets
    next_writable: int | None = None    # bytes 12-15 when NWA_V (byte 7 bit 0)
    free_blocks: int = 0
    fixed_packet_size: int = 0
    last_recorded: int | None = None    # bytes 28-31 when LRA_V (byte 7 bit 1)

    @property
    def end(self) -> int:
        """The first LBA after the track (its size counts a TAO track's run-out blocks)."""
        return self.start_lba + self.size


def read_track_information(address: int, *, address_type: int = 1, allocation_length: int = 48) -> bytes:
    """READ TRACK INFORMATION for an LBA (0), a track number (1) or a session number (2)."""
    # byte 1 bits 1-0 address/number type; bytes 2-5 address or number; bytes 7-8 allocation length
    return struct.pack(">BBIBHB", READ_TRACK_INFORMATION, _check("address type", address_type, 0, 2),
                       _check("address", address, 0, MAX_LBA), 0,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_track_information(data: bytes) -> TrackInformation:
    # byte 2 track number (LSB); byte 3 session number (LSB); byte 5 bits 3-0 track mode;
    # byte 6 bits 3-0 data mode; bytes 8-11 track start address; bytes 24-27 track size;
    # bytes 32, 33 track and session MSBs (MMC-3 on)
    # byte 5 bit 5 damage, bit 4 copy; byte 6 bit 7 RT, 6 blank, 5 packet/inc, 4 FP; byte 7 bit 1
    # LRA_V, bit 0 NWA_V; 12-15 next writable address; 16-19 free blocks; 20-23 fixed packet
    # size; 28-31 last recorded address (MMC-6 table 601)
    _need(data, 28, "track information")
    msb = data[32:34] if len(data) >= 34 else bytes(2)
    start, nwa, free, packet_size, size = struct.unpack_from(">IIIII", data, 8)
    lra = struct.unpack_from(">I", data, 28)[0] if len(data) >= 32 and data[7] & 0x02 else None
    b5, b6 = data[5], data[6]
    return TrackInformation(msb[0] << 8 | data[2], msb[1] << 8 | data[3], b5 & 0x0F, b6 & 0x0F, start, size,
                            bool(b5 & 0x20), bool(b5 & 0x10), bool(b6 & 0x80), bool(b6 & 0x40), bool(b6 & 0x20),
                            bool(b6 & 0x10), nwa if data[7] & 0x01 else None, free, packet_size, lra)
