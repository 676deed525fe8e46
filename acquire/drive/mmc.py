"""What the bytes are: one CDB builder and one response parser per MMC command we send.

Byte layouts from reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields. Parsers take whatever
the drive returned (possibly cut short by the allocation length, possibly zero-padded past the
structure's own length) and raise only MalformedResponse.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import MalformedResponse

# operation codes (reference/mmc.md "Commands we send")
TEST_UNIT_READY = 0x00
REQUEST_SENSE = 0x03
INQUIRY = 0x12
START_STOP_UNIT = 0x1B
PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
READ_CAPACITY_10 = 0x25
READ_10 = 0x28
READ_TOC = 0x43
GET_CONFIGURATION = 0x46
GET_EVENT_STATUS_NOTIFICATION = 0x4A
READ_DISC_INFORMATION = 0x51
READ_TRACK_INFORMATION = 0x52
MODE_SELECT_10 = 0x55
MODE_SENSE_10 = 0x5A
READ_12 = 0xA8
GET_PERFORMANCE = 0xAC
READ_DISC_STRUCTURE = 0xAD
SET_STREAMING = 0xB6
SET_CD_SPEED = 0xBB
READ_CD = 0xBE

USER_DATA_BYTES = 2048
MAX_LBA = 0xFFFF_FFFF


def _check(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} {value!r} out of range {low}..{high}")
    return value


def _need(data: bytes, length: int, what: str) -> None:
    if len(data) < length:
        raise MalformedResponse(f"{what}: {len(data)} bytes, need at least {length}"
                                f" ({bytes(data[:16]).hex(' ') or 'empty'})")


# -- TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL -----------

def test_unit_ready() -> bytes:
    """TEST UNIT READY: GOOD when a medium is present and ready."""
    # bytes 0-5: 00 00 00 00 00 00
    return bytes([TEST_UNIT_READY, 0, 0, 0, 0, 0])


test_unit_ready.__test__ = False    # a CDB builder, not a pytest test, when imported into tests


def request_sense(allocation_length: int = 252) -> bytes:
    """REQUEST SENSE: the sense of the last failure when autosense gave none (252 = SPC maximum)."""
    # byte 0 03h; byte 1 bit 0 DESC (0: fixed format); bytes 2-3 reserved; byte 4 allocation length
    return bytes([REQUEST_SENSE, 0, 0, 0, _check("allocation length", allocation_length, 0, 0xFF), 0])


def start_stop_unit(*, start: bool = True, load_eject: bool = False) -> bytes:
    """START STOP UNIT: spin up (start), spin down, or with load_eject load / eject the tray."""
    # byte 1 bit 0 IMMED (0: return when done); byte 4 bit 1 LoEj, bit 0 Start
    return bytes([START_STOP_UNIT, 0, 0, 0, (0x02 if load_eject else 0) | (0x01 if start else 0), 0])


def prevent_allow_medium_removal(prevent: bool) -> bytes:
    """PREVENT ALLOW MEDIUM REMOVAL: lock (True) or unlock the tray; always unlock at the end."""
    # byte 4 bits 1-0 prevent: 01b prevent, 00b allow (10b/11b are persistent prevent: never sent)
    return bytes([PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0x01 if prevent else 0x00, 0])


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


# -- READ CAPACITY(10) ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Capacity:
    last_lba: int
    block_length: int

    @property
    def sectors(self) -> int:
        return self.last_lba + 1


def read_capacity_10() -> bytes:
    """READ CAPACITY(10): last LBA and block length (mind the TAO run-out, reference/mmc.md)."""
    # byte 0 25h; bytes 1-9 zero (RelAdr, LBA and PMI are obsolete in MMC)
    return bytes([READ_CAPACITY_10]) + bytes(9)


def parse_read_capacity_10(data: bytes) -> Capacity:
    # bytes 0-3 last logical block address; bytes 4-7 block length in bytes
    _need(data, 8, "READ CAPACITY(10) data")
    return Capacity(*struct.unpack_from(">II", data, 0))


# -- READ(10), READ(12), READ CD --------------------------------------------------------------

def read_10(lba: int, count: int, *, fua: bool = False) -> bytes:
    """READ(10): `count` sectors of 2048-byte user data from `lba` (reference/mmc.md)."""
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


# READ CD byte 9 (reference/mmc.md): SYNC | header codes | user data | EDC & ECC | C2 | reserved
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
    """LBA of an absolute MSF address: (M x 60 + S) x 75 + F - 150 (reference/mmc.md)."""
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


@dataclass(frozen=True, slots=True)
class FullToc:
    first_session: int
    last_session: int
    entries: tuple[FullTocEntry, ...]


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
    sessions: int
    first_track_in_last_session: int
    last_track_in_last_session: int
    disc_type: int              # 00h CD-DA/CD-ROM, 10h CD-I, 20h CD-ROM XA


def read_disc_information(allocation_length: int = 34) -> bytes:
    """READ DISC INFORMATION, standard disc information (data type 000b)."""
    # byte 1 bits 2-0 data type (0); bytes 7-8 allocation length
    return struct.pack(">BB5xHB", READ_DISC_INFORMATION, 0,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_disc_information(data: bytes) -> DiscInformation:
    # byte 2 bit 4 erasable, bits 3-2 last session state, bits 1-0 disc status; byte 3 first
    # track; bytes 4, 5, 6 LSBs of sessions, first and last track in last session; byte 8 disc
    # type; bytes 9, 10, 11 their MSBs (MMC-3 on; older drives stop earlier: MSB 0)
    _need(data, 9, "disc information")
    msb = data[9:12] if len(data) >= 12 else bytes(3)
    return DiscInformation(bool(data[2] & 0x10), (data[2] >> 2) & 0x03, data[2] & 0x03, data[3],
                           msb[0] << 8 | data[4], msb[1] << 8 | data[5], msb[2] << 8 | data[6], data[8])


@dataclass(frozen=True, slots=True)
class TrackInformation:
    track: int
    session: int
    track_mode: int         # CONTROL nibble: bit 2 data
    data_mode: int          # 1 mode 1, 2 mode 2, Fh unknown
    start_lba: int
    size: int               # sectors


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
    _need(data, 28, "track information")
    msb = data[32:34] if len(data) >= 34 else bytes(2)
    start, size = struct.unpack_from(">I", data, 8)[0], struct.unpack_from(">I", data, 24)[0]
    return TrackInformation(msb[0] << 8 | data[2], msb[1] << 8 | data[3], data[5] & 0x0F, data[6] & 0x0F,
                            start, size)


# -- GET CONFIGURATION ------------------------------------------------------------------------

RT_ALL = 0          # every feature from starting_feature on
RT_CURRENT = 1      # only current ones
RT_ONE = 2          # the starting feature alone

# reference/mmc.md "Profiles"
PROFILE_NAMES: dict[int, str] = {
    0x0008: "CD-ROM",
    0x0009: "CD-R",
    0x000A: "CD-RW",
    0x0010: "DVD-ROM",
    0x0011: "DVD-R SL",
    0x0012: "DVD-RAM",
    0x0013: "DVD-RW restricted overwrite",
    0x0014: "DVD-RW sequential",
    0x0015: "DVD-R DL",
    0x001A: "DVD+RW",
    0x001B: "DVD+R",
    0x002B: "DVD+R DL",
    0x0040: "BD-ROM",
    0x0041: "BD-R SRM",
    0x0042: "BD-R RRM",
    0x0043: "BD-RE",
}
PROFILE_FAMILY: dict[int, str] = {
    **{p: "cd" for p in (0x0008, 0x0009, 0x000A)},
    **{p: "dvd" for p in (0x0010, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x001A, 0x001B, 0x002B)},
    **{p: "bd" for p in (0x0040, 0x0041, 0x0042, 0x0043)},
}
FEATURE_NAMES: dict[int, str] = {
    0x0000: "Profile List",
    0x0001: "Core",
    0x0002: "Morphing",
    0x0003: "Removable Medium",
    0x001D: "Multi-Read",
    0x001E: "CD Read",
    0x001F: "DVD Read",
    0x0040: "BD Read",
    0x0107: "Real Time Streaming",
    0x0108: "Drive Serial Number",
}


def profile_name(code: int) -> str:
    if code == 0:
        return "no current profile"      # 0000h: no medium, or none the drive recognises
    return PROFILE_NAMES.get(code, f"profile {code:04X}h")


def feature_name(code: int) -> str:
    return FEATURE_NAMES.get(code, f"feature {code:04X}h")


@dataclass(frozen=True, slots=True)
class Feature:
    code: int
    version: int
    persistent: bool
    current: bool
    data: bytes             # the feature-dependent bytes after the 4-byte descriptor header


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    profile: int
    current: bool


@dataclass(frozen=True, slots=True)
class Configuration:
    current_profile: int
    features: tuple[Feature, ...]

    def feature(self, code: int) -> Feature | None:
        return next((f for f in self.features if f.code == code), None)

    @property
    def profiles(self) -> tuple[ProfileEntry, ...]:
        # feature 0000h: 4 bytes a profile: number (2), byte 2 bit 0 CurrentP, byte 3 reserved
        listing = self.feature(0x0000)
        if listing is None:
            return ()
        whole = len(listing.data) // 4 * 4
        return tuple(ProfileEntry(number, bool(flags & 0x01))
                     for number, flags in struct.iter_unpack(">HBx", listing.data[:whole]))


def get_configuration(*, rt: int = RT_ALL, starting_feature: int = 0, allocation_length: int = 0xFFF8) -> bytes:
    """GET CONFIGURATION: the current profile and the features RT selects."""
    # byte 1 bits 1-0 RT; bytes 2-3 starting feature number; bytes 7-8 allocation length
    return struct.pack(">BBH3xHB", GET_CONFIGURATION, _check("RT", rt, 0, 2),
                       _check("starting feature", starting_feature, 0, 0xFFFF),
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_configuration(data: bytes) -> Configuration:
    # header: bytes 0-3 data length (bytes after this field); 4-5 reserved; 6-7 current profile.
    # feature descriptors from byte 8: bytes 0-1 code; byte 2 bits 5-2 version, bit 1 persistent,
    # bit 0 current; byte 3 additional length; then the feature's data
    _need(data, 8, "GET CONFIGURATION data")
    length, current_profile = struct.unpack_from(">I2xH", data, 0)
    if length < 4:
        raise MalformedResponse(f"GET CONFIGURATION data length {length} is shorter than its header")
    truncated = 4 + length > len(data)      # cut by the allocation length: the last one may be partial
    end = min(len(data), 4 + length)
    features, offset = [], 8
    while offset + 4 <= end:
        code, flags, extra = struct.unpack_from(">HBB", data, offset)
        if offset + 4 + extra > end:
            if truncated:
                break
            raise MalformedResponse(f"GET CONFIGURATION: feature {code:04X}h runs past the data length")
        features.append(Feature(code, (flags >> 2) & 0x0F, bool(flags & 0x02), bool(flags & 0x01),
                                bytes(data[offset + 4:offset + 4 + extra])))
        offset += 4 + extra
    return Configuration(current_profile, tuple(features))


# -- GET EVENT STATUS NOTIFICATION -----------------------------------------------------------

MEDIA_CLASS_REQUEST = 0x10      # class request byte: bit 4 media
MEDIA_CLASS = 4                 # notification class field of the answer


@dataclass(frozen=True, slots=True)
class MediaEvent:
    event: int              # 0 none, 1 eject request, 2 new media, 3 media removal, 4 media changed
    media_present: bool
    tray_open: bool


def get_event_status_notification(allocation_length: int = 8) -> bytes:
    """GET EVENT STATUS NOTIFICATION, polled, media class only."""
    # byte 1 bit 0 Polled; byte 4 notification class request (10h: media); bytes 7-8 allocation length
    return struct.pack(">BBBBB2xHB", GET_EVENT_STATUS_NOTIFICATION, 0x01, 0, 0, MEDIA_CLASS_REQUEST,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_media_event(data: bytes) -> MediaEvent:
    # header: bytes 0-1 event data length; byte 2 bit 7 NEA, bits 2-0 notification class;
    # byte 3 supported classes. media descriptor: byte 4 bits 3-0 media event code;
    # byte 5 bit 1 media present, bit 0 door or tray open
    _need(data, 4, "event status header")
    length, flags = struct.unpack_from(">HB", data, 0)
    if flags & 0x80:
        raise MalformedResponse("GET EVENT STATUS NOTIFICATION: no event available (NEA) for the media class")
    if flags & 0x07 != MEDIA_CLASS:
        raise MalformedResponse(f"GET EVENT STATUS NOTIFICATION: class {flags & 0x07}, not media ({MEDIA_CLASS})")
    if length < 4:
        raise MalformedResponse(f"GET EVENT STATUS NOTIFICATION: event data length {length}, a media event needs 4")
    _need(data, 8, "media event")
    return MediaEvent(data[4] & 0x0F, bool(data[5] & 0x02), bool(data[5] & 0x01))


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


# -- SET CD SPEED, SET STREAMING, GET PERFORMANCE --------------------------------------------

MAX_SPEED_KBPS = 0xFFFF


def set_cd_speed(read_kbps: int = MAX_SPEED_KBPS, write_kbps: int = MAX_SPEED_KBPS) -> bytes:
    """SET CD SPEED in kB/s (FFFFh: the drive's maximum); 1x CD = 176 kB/s."""
    # byte 1 bits 1-0 rotational control (0: CLV); bytes 2-3 read speed; bytes 4-5 write speed
    return struct.pack(">BBHH6x", SET_CD_SPEED, 0, _check("read speed", read_kbps, 0, 0xFFFF),
                       _check("write speed", write_kbps, 0, 0xFFFF))


def set_streaming(parameter_list_length: int = 28) -> bytes:
    """SET STREAMING with a performance descriptor (type 0) as its parameter list."""
    # bytes 1-7 reserved; byte 8 type (0: performance descriptor); bytes 9-10 parameter list length
    return struct.pack(">B7xBHB", SET_STREAMING, 0,
                       _check("parameter list length", parameter_list_length, 0, 0xFFFF), 0)


def performance_descriptor(start_lba: int, end_lba: int, read_kbps: int, *, restore_defaults: bool = False,
                           exact: bool = False) -> bytes:
    """The 28-byte SET STREAMING performance descriptor: read_kbps kB every 1000 ms over the range."""
    # byte 0 bits 4-3 WRC, bit 2 RDD (restore defaults), bit 1 Exact, bit 0 RA; bytes 1-3 reserved;
    # 4-7 start LBA; 8-11 end LBA; 12-15 read size kB; 16-19 read time ms; 20-23 write size kB;
    # 24-27 write time ms. The write pair mirrors the read pair, so no time field is ever zero.
    kb = _check("read speed", read_kbps, 0, 0xFFFF_FFFF)
    flags = (0x04 if restore_defaults else 0) | (0x02 if exact else 0)
    return struct.pack(">B3xIIIIII", flags, _check("start LBA", start_lba, 0, MAX_LBA),
                       _check("end LBA", end_lba, 0, MAX_LBA), kb, 1000, kb, 1000)


@dataclass(frozen=True, slots=True)
class Performance:
    start_lba: int
    start_kbps: int
    end_lba: int
    end_kbps: int


def get_performance(*, performance_type: int = 0, data_type: int = 0x10, start_lba: int = 0,
                    max_descriptors: int = 64) -> bytes:
    """GET PERFORMANCE; type 0 with data type 10h: nominal read performance (10% tolerance)."""
    # byte 1 data type (type 0: bits 4-3 tolerance, 10b = 10%; bit 2 write; bits 1-0 except);
    # bytes 2-5 starting LBA; bytes 8-9 maximum number of descriptors; byte 10 type
    return struct.pack(">BBI2xHBB", GET_PERFORMANCE, _check("data type", data_type, 0, 0x1F),
                       _check("start LBA", start_lba, 0, MAX_LBA),
                       _check("maximum descriptors", max_descriptors, 0, 0xFFFF),
                       _check("type", performance_type, 0, 0xFF), 0)


def parse_performance(data: bytes) -> tuple[Performance, ...]:
    """GET PERFORMANCE type 0 answer: one 16-byte descriptor per zone."""
    # header: bytes 0-3 performance data length (after this field); byte 4 bit 1 write, bit 0
    # except. descriptors: start LBA, start performance kB/s, end LBA, end performance kB/s
    _need(data, 8, "GET PERFORMANCE header")
    length = struct.unpack_from(">I", data, 0)[0]
    if length < 4:
        raise MalformedResponse(f"GET PERFORMANCE data length {length} is shorter than its header")
    end = min(len(data), 4 + length)
    whole = 8 + (end - 8) // 16 * 16
    return tuple(Performance(*fields) for fields in struct.iter_unpack(">IIII", data[8:whole]))


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
