"""The simulated drive's answers to every command but the READs: plain functions over DriveState.

Each answer takes the state, the CDB and the data-out bytes and returns its data cut to the CDB's
allocation length (target.py then cuts it to data_in_length, as the HBA would), or raises Check.
Byte layouts from docs/reference/mmc.md; no code shared with mmc or sense.py.

Decisions where the spec is silent (docs/simulated-drive.md):
- REQUEST SENSE returns the sense of the previous command (empty 70h sense after a GOOD one),
  or with request_sense_sticky the last CHECK CONDITION's.
- The error-recovery page's read retry count is kept and reported but does not change the clock:
  error_delay_s is the profile's, as the formula of docs/reference/contracts.md "The clock" says.
- SET CD SPEED / SET STREAMING clamp the speed to [1x, speed_x] and trace `speed X` every time
  they succeed. READ DISC STRUCTURE on a cd-rom is 05/24/00 (QEMU says 05/30/00).
- MODE SENSE page control 3 (saved) is 05/39/00 (saving parameters not supported).
- READ TOC, READ TRACK INFORMATION and READ DISC INFORMATION answer from the layout
  (sim/layout.py): every closed session in the TOC (formats 0, 1, 2), an open one only in track
  and disc information; an appendable disc has an empty last session and an invisible blank track
  after its last one (MMC-6 6.22, 6.26); a mode2-form1 track is data mode 2, and the disc type CD-ROM XA.
"""
from __future__ import annotations

import struct
from typing import Callable

from .codes import (GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION, GET_PERFORMANCE, INQUIRY,
                    INVALID_FIELD_IN_CDB, INVALID_FIELD_IN_PARAMETER_LIST, LBA_OUT_OF_RANGE, MEDIUM_REMOVAL_PREVENTED,
                    MODE_SELECT_10, MODE_SENSE_10, PARAMETER_LIST_LENGTH_ERROR, PREVENT_ALLOW_MEDIUM_REMOVAL,
                    READ_CAPACITY_10, READ_DISC_INFORMATION, READ_DISC_STRUCTURE, READ_SUB_CHANNEL, READ_TOC, READ_TRACK_INFORMATION,
                    REQUEST_SENSE, SAVING_PARAMETERS_NOT_SUPPORTED, SECTOR_BYTES, SET_CD_SPEED, SET_STREAMING,
                    START_STOP_UNIT, TEST_UNIT_READY, Check, msf, sense_bytes)
from .state import ERROR_RECOVERY_DEFAULT, PAGE_ERROR_RECOVERY, DriveState
from . import structures
from .toc import read_disc_information, read_toc, read_track_information

# SET CD SPEED kB/s that make 1x (docs/reference/mmc.md "SET CD SPEED")
KBPS_1X = {"cd": 176, "dvd": 1385, "bd": 4496}
MAX_SPEED = 0xFFFF

PAGE_CAPABILITIES = 0x2A
ALL_PAGES = 0x3F
# page 01h: byte 2 bits TB 20h, RC 10h, PER 04h, DCR 01h and byte 3 (read retry count) may change
_ERROR_RECOVERY_CHANGEABLE = bytes([PAGE_ERROR_RECOVERY, 0x0A, 0x35, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0])
DVD_DATA_AREA_START = 0x030000                     # first physical sector number of a DVD-ROM


def test_unit_ready(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    return b""                  # GOOD: a pending not-ready spell or unit attention answered it before


test_unit_ready.__test__ = False    # an answer, not a pytest test, when imported into tests


def request_sense(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 03 | DESC (bit 0) | 00 | 00 | allocation length | control. Fixed format only.
    sense = state.last_sense or sense_bytes((0, 0, 0))
    return sense[:cdb[4]]


def inquiry(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 12 | EVPD (bit 0) | page code | allocation length (2) | control
    evpd, page, length = cdb[1] & 0x01, cdb[2], struct.unpack_from(">H", cdb, 3)[0]
    p = state.profile
    if not evpd:
        if page:
            raise Check(INVALID_FIELD_IN_CDB)
        # byte 0 device type 05h; byte 1 bit 7 RMB; byte 2 version; byte 3 response format 2;
        # byte 4 additional length; 8-15 vendor, 16-31 product, 32-35 revision
        data = (bytes([0x05, 0x80, 0x05, 0x02, 31, 0, 0, 0]) + p.vendor.ljust(8).encode("ascii")
                + p.product.ljust(16).encode("ascii") + p.revision.ljust(4).encode("ascii"))
        return data[:length]
    pages = [0x00, 0x80] if p.serial else [0x00]
    if page not in pages:
        raise Check(INVALID_FIELD_IN_CDB)
    body = bytes(pages) if page == 0x00 else p.serial.encode("ascii")
    # byte 0 device type; byte 1 page code; byte 3 page length
    return (bytes([0x05, page, 0, len(body)]) + body)[:length]


def start_stop_unit(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 1B | IMMED | 00 | 00 | power condition (7-4), LoEj (bit 1), Start (bit 0) | control
    if cdb[4] & 0x03 == 0x02 and state.prevent:      # eject while removal is prevented
        raise Check(MEDIUM_REMOVAL_PREVENTED)
    return b""


def prevent_allow(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 1E | 00 | 00 | 00 | prevent (bits 1-0: 00b allow, 01b prevent) | control
    if cdb[4] & 0x03 > 1:
        raise Check(INVALID_FIELD_IN_CDB)
    state.prevent = bool(cdb[4] & 0x01)
    return b""


def read_capacity(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 8 bytes: last LBA, block length
    return struct.pack(">II", state.capacity - 1, SECTOR_BYTES)


def _features(state: DriveState) -> list[tuple[int, bool, bytes]]:
    """(code, current, descriptor) for every feature, sorted by code."""
    p = state.profile
    # the current profile first, then the ROM profiles this drive also reads
    base = {"cd": [0x0008], "dvd": [0x0010, 0x0008], "bd": [0x0040, 0x0010, 0x0008]}[state.family]
    order = [p.profile_number] + [n for n in base if n != p.profile_number]
    profiles = b"".join(struct.pack(">HBB", n, 1 if n == p.profile_number else 0, 0) for n in order)

    def feature(code: int, version: int, persistent: bool, current: bool, body: bytes) -> tuple[int, bool, bytes]:
        # bytes 0-1 code; byte 2 version (5-2), persistent (1), current (0); byte 3 length
        flags = version << 2 | (0x02 if persistent else 0) | (0x01 if current else 0)
        return code, current, struct.pack(">HBB", code, flags, len(body)) + body

    family = state.family
    out = [feature(0x0000, 0, True, True, profiles),
           # core: physical interface 1 (SCSI family), byte 8 bit 0 DBE
           feature(0x0001, 2, True, True, struct.pack(">IBBBB", 1, 0x01, 0, 0, 0)),
           # CD read: byte 4 bit 1 C2 flags
           feature(0x001E, 2, False, family == "cd", bytes([0x02 if state.profile.audio.c2 else 0, 0, 0, 0]))]
    if family in ("dvd", "bd"):
        out.append(feature(0x001F, 1, False, family == "dvd", bytes(4)))
    if family == "bd":
        # BD read: 4 reserved, BD-RE (8), BD-R (8), BD-ROM class 0-3 (8): BD-ROM class 0 version 1
        out.append(feature(0x0040, 1, False, True, bytes(20) + struct.pack(">HHHH", 0x0002, 0, 0, 0)))
    if p.serial:
        serial = p.serial.encode("ascii")
        serial += b" " * (-len(serial) % 4)
        out.append(feature(0x0108, 0, True, True, serial))
    return out


def get_configuration(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 46 | RT (bits 1-0) | starting feature (2) | 000000 | allocation (2) | control
    rt, start, length = cdb[1] & 0x03, struct.unpack_from(">H", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0]
    if rt == 3:
        raise Check(INVALID_FIELD_IN_CDB)
    chosen = [d for code, current, d in _features(state)
              if (rt == 0 and code >= start) or (rt == 1 and code >= start and current)
              or (rt == 2 and code == start)]
    body = b"".join(chosen)
    # header: 0-3 data length (bytes after this field), 4-5 reserved, 6-7 current profile
    return (struct.pack(">IHH", len(body) + 4, 0, state.profile.profile_number) + body)[:length]


def get_event_status(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 4A | polled (bit 0) | 0000 | class request | 0000 | allocation (2) | control
    if not cdb[1] & 0x01:
        raise Check(INVALID_FIELD_IN_CDB)     # asynchronous notification is not supported
    length = struct.unpack_from(">H", cdb, 7)[0]
    media_class = 0x10
    if not cdb[4] & media_class:
        # header only: length 2, NEA (bit 7) with class 0, supported classes: media
        return struct.pack(">HBB", 2, 0x80, media_class)[:length]
    event = 4 if state.media_event else 0     # 4: media changed, reported once
    state.media_event = False
    # header: length, class 4 (media), supported classes; descriptor: event code,
    # media status (bit 1 present, bit 0 tray open), start slot, end slot
    return struct.pack(">HBBBBBB", 6, 0x04, media_class, event, 0x02, 0, 0)[:length]


def _error_recovery_page(state: DriveState, pc: int) -> bytes:
    return bytes(state.error_recovery if pc == 0 else
                 _error_recovery_mask(state) if pc == 1 else ERROR_RECOVERY_DEFAULT)


def _error_recovery_mask(state: DriveState) -> bytes:
    # QEMU's scsi-cd reports nothing changeable, and refuses any change with 05/26/00
    return _ERROR_RECOVERY_CHANGEABLE if state.quirks.mode_select_changes else _ERROR_RECOVERY_CHANGEABLE[:2] + bytes(10)


def _capabilities_page(state: DriveState, pc: int) -> bytes:
    # 22 bytes (page length 14h): byte 2 read CD-R/CD-RW (bits 0-1), DVD-ROM (3), DVD-R (4);
    # byte 5 bit 4 C2 pointers; byte 6 tray (001b in 7-5), eject (3), lock state (1), lock (0);
    # 8-9 maximum read speed kB/s; 12-13 buffer kB; 14-15 current read speed kB/s
    if pc == 1:
        return bytes([PAGE_CAPABILITIES, 0x14]) + bytes(20)
    unit = KBPS_1X[state.family]
    top = round(state.profile.speed_x * unit)
    current = top if pc == 2 else round(state.speed_x * unit)
    reads = 0x03 if state.family == "cd" else 0x1B
    mechanism = 0x29 | (0x02 if state.prevent and pc == 0 else 0)
    return (bytes([PAGE_CAPABILITIES, 0x14, reads, 0, 0, 0x10, mechanism, 0])
            + struct.pack(">HHHH", min(top, 0xFFFF), 0, 2048, min(current, 0xFFFF)) + bytes(6))


def mode_sense(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 5A | DBD (bit 3) | PC (7-6), page (5-0) | subpage | 000000 | allocation (2) | control
    pc, page, length = cdb[2] >> 6, cdb[2] & 0x3F, struct.unpack_from(">H", cdb, 7)[0]
    if pc == 3:
        raise Check(SAVING_PARAMETERS_NOT_SUPPORTED)
    if pc in (1, 2) and state.quirks.mode_sense_current_only:    # QEMU's ide-cd (hw/ide/atapi.c)
        raise Check(INVALID_FIELD_IN_CDB)
    if cdb[3] or page not in (PAGE_ERROR_RECOVERY, PAGE_CAPABILITIES, ALL_PAGES):
        raise Check(INVALID_FIELD_IN_CDB)
    pages = b""
    if page in (PAGE_ERROR_RECOVERY, ALL_PAGES):
        pages += _error_recovery_page(state, pc)
    if page in (PAGE_CAPABILITIES, ALL_PAGES):
        pages += _capabilities_page(state, pc)
    # header: 0-1 mode data length (after this field), 2 medium type, 6-7 block descriptor length 0
    return (struct.pack(">HBBHH", len(pages) + 6, 0, 0, 0, 0) + pages)[:length]


def mode_select(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 55 | PF (bit 4), SP (bit 0) | 0000000000 | parameter list length (2) | control
    if cdb[1] & 0x01:
        raise Check(INVALID_FIELD_IN_CDB)
    length = struct.unpack_from(">H", cdb, 7)[0]
    if len(out) < length or length < 8:
        raise Check(PARAMETER_LIST_LENGTH_ERROR)
    params = out[:length]
    offset = 8 + struct.unpack_from(">H", params, 6)[0]
    changes: list[bytes] = []
    while offset < len(params):
        if offset + 2 > len(params):
            raise Check(PARAMETER_LIST_LENGTH_ERROR)
        code, size = params[offset] & 0x3F, params[offset + 1]
        page = params[offset:offset + 2 + size]
        if len(page) != 2 + size:
            raise Check(PARAMETER_LIST_LENGTH_ERROR)
        if code == PAGE_ERROR_RECOVERY:
            current, mask = bytes(state.error_recovery), _error_recovery_mask(state)
        elif code == PAGE_CAPABILITIES:
            current, mask = _capabilities_page(state, 0), bytes(22)
        else:
            raise Check(INVALID_FIELD_IN_PARAMETER_LIST)
        if size != current[1] or any((new ^ old) & ~m & 0xFF for new, old, m in
                                     zip(page[2:], current[2:], mask[2:])):
            raise Check(INVALID_FIELD_IN_PARAMETER_LIST)
        if code == PAGE_ERROR_RECOVERY:
            changes.append(page)
        offset += 2 + size
    for page in changes:      # all or nothing: applied only once every page is checked
        state.error_recovery[2:] = page[2:]
    return b""


def _set_speed(state: DriveState, speed_x: float) -> None:
    if state.quirks.set_speed_ignored:      # QEMU's ide-cd: GOOD, and the speed stays
        return
    state.speed_x = min(max(speed_x, 1.0), float(state.profile.speed_x))
    state.log(f"speed {state.speed_x:g}")


def set_cd_speed(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # BB | rotational control | read speed kB/s (2) | write speed kB/s (2) | 000000 | control
    kbps = struct.unpack_from(">H", cdb, 2)[0]
    _set_speed(state, float(state.profile.speed_x) if kbps == MAX_SPEED else kbps / KBPS_1X[state.family])
    return b""


def set_streaming(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # B6 | 00 x7 | type | parameter list length (2) | control; type 0: performance descriptor
    # (28 bytes): byte 0 bit 2 RDD; 4-7 start LBA; 8-11 end LBA; 12-15 read size kB;
    # 16-19 read time ms; 20-23 write size; 24-27 write time
    if cdb[8] != 0:
        raise Check(INVALID_FIELD_IN_CDB)
    length = struct.unpack_from(">H", cdb, 9)[0]
    if length < 28 or len(out) < 28:
        raise Check(PARAMETER_LIST_LENGTH_ERROR)
    flags, _start, _end, read_kb, read_ms = struct.unpack_from(">B3xIIII", out, 0)
    if flags & 0x04:
        _set_speed(state, float(state.profile.speed_x))
        return b""
    if read_ms == 0:
        raise Check(INVALID_FIELD_IN_PARAMETER_LIST)
    _set_speed(state, read_kb * 1000 / read_ms / KBPS_1X[state.family])
    return b""


def get_performance(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # AC | data type | start LBA (4) | 0000 | maximum descriptors (2) | type | control
    most, kind = struct.unpack_from(">H", cdb, 8)[0], cdb[10]
    if kind == 0x00:
        if cdb[1] & 0x04:                       # write performance: a ROM drive has none
            descriptors = b""
        else:
            kbps = round(state.speed_x * KBPS_1X[state.family])
            # start LBA, start performance kB/s, end LBA, end performance kB/s
            descriptors = struct.pack(">IIII", 0, kbps, state.capacity - 1, kbps)[:16 * most]
    elif kind == 0x03:                          # write speed descriptors: none
        descriptors = b""
    else:
        raise Check(INVALID_FIELD_IN_CDB)
    # header: 0-3 performance data length (after this field), byte 4 bit 1 write, bit 0 except
    write = 0x02 if cdb[1] & 0x04 else 0x00
    return struct.pack(">IBxxx", len(descriptors) + 4, write) + descriptors


def read_disc_structure(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # AD | media type (3-0) | address (4) | layer | format | allocation (2) | AGID | control
    media, layer, fmt = cdb[1] & 0x0F, cdb[6], cdb[7]
    length = struct.unpack_from(">H", cdb, 8)[0]
    allowed_media = {"cd": (), "dvd": (0,), "bd": (0, 1)}[state.family]
    if media not in allowed_media:
        raise Check(INVALID_FIELD_IN_CDB)
    if (media, fmt) in structures.DISC_STRUCTURES:     # BCA, DMI, BD disc information
        body = structures.DISC_STRUCTURES[media, fmt](state, layer)
    elif fmt == 0x00:
        if layer:
            raise Check(INVALID_FIELD_IN_CDB)
        # byte 0 book type 0 (DVD-ROM), part version 1; byte 1 disc size 0 (120 mm), maximum
        # rate Fh (not specified); byte 2 one layer, PTP, layer type 1 (embossed); byte 3
        # linear density (7-4) and track density (3-0) from the profile; 4-7 data area start; 8-11 data area end; 12-15 end in layer 0; byte 16 BCA
        densities = (state.profile.linear_density << 4) | state.profile.track_density
        body = (bytes([0x01, 0x0F, 0x01, densities]) + struct.pack(">III", DVD_DATA_AREA_START,
                DVD_DATA_AREA_START + state.capacity - 1, 0) + bytes(2048 - 16))
    elif fmt == 0x01:
        body = bytes(4)     # copyright protection type 0 (none), region mask 0 (all regions)
    elif fmt == 0xFF:
        # list of structures: format, byte 1 bit 6 RDS (readable), length (2)
        listed = [(0x00, 2048), (0x01, 4), *structures.listed(state), (0xFF, 12)]
        body = b"".join(struct.pack(">BBH", f, 0x40, n) for f, n in listed)
    else:
        raise Check(INVALID_FIELD_IN_CDB)
    # header: 0-1 data length (after this field), 2-3 reserved
    return (struct.pack(">HH", len(body) + 2, 0) + body)[:length]


Answer = Callable[[DriveState, bytes, bytes], bytes]
# opcode -> its answer; target.py dispatches the non-READ commands through this table
ANSWERS: dict[int, Answer] = {
    TEST_UNIT_READY: test_unit_ready,
    REQUEST_SENSE: request_sense,
    INQUIRY: inquiry,
    START_STOP_UNIT: start_stop_unit,
    PREVENT_ALLOW_MEDIUM_REMOVAL: prevent_allow,
    READ_CAPACITY_10: read_capacity,
    READ_TOC: read_toc,
    GET_CONFIGURATION: get_configuration,
    GET_EVENT_STATUS_NOTIFICATION: get_event_status,
    READ_DISC_INFORMATION: read_disc_information,
    READ_TRACK_INFORMATION: read_track_information,
    MODE_SENSE_10: mode_sense,
    MODE_SELECT_10: mode_select,
    SET_CD_SPEED: set_cd_speed,
    SET_STREAMING: set_streaming,
    GET_PERFORMANCE: get_performance,
    READ_DISC_STRUCTURE: read_disc_structure,
    READ_SUB_CHANNEL: structures.read_sub_channel,
}
