"""The simulated drive's READ TOC (formats 0, 1, 2; 3, 4, 5 in structures.py), READ DISC INFORMATION
and READ TRACK INFORMATION, answered from the disc's layout (sim/layout.py).

Decisions where the spec is silent (docs/simulated-drive.md "Discs laid out from tracks"): every
closed session is in the TOC, an open one only in track and disc information; an appendable disc
has an empty last session and an invisible blank track after its last one (MMC-6 6.22, 6.26).
"""
from __future__ import annotations

import struct

from .codes import INVALID_FIELD_IN_CDB, LBA_OUT_OF_RANGE, Check, msf
from .state import DriveState
from . import structures

DATA_TRACK = 0x14        # ADR 1, CONTROL 4: a data track, recorded uninterrupted
AUDIO_TRACK = 0x10       # ADR 1, CONTROL 0: two-channel audio, no pre-emphasis
MODE5_B0 = 0x54          # ADR 5 (multisession pointers), CONTROL 4
LEADOUT = 0xAA
# the last possible lead-out start a blank disc's ATIP / PFI gives, by family: 79:59:74 on an
# 80-minute CD-R; 4.7 GB DVD-R (2,298,496 sectors); 25 GB BD-R
LAST_POSSIBLE_LEADOUT = {"cd": 359_849, "dvd": 2_298_496, "bd": 12_219_392}
# lead-out + lead-in + pre-gap a CD's next session starts after (Orange Book: 6750 + 4500 + 150
# after the first session, 2250 + 4500 + 150 after later ones)
FIRST_LEAD_OUT, LATER_LEAD_OUT, LEAD_IN, PRE_GAP = 6750, 2250, 4500, 150
NEXT_SESSION_GAP = (FIRST_LEAD_OUT + LEAD_IN + PRE_GAP, LATER_LEAD_OUT + LEAD_IN + PRE_GAP)   # 11,400 and 6,900
_RECORDABLE = {0x0009, 0x000A, 0x0011, 0x0013, 0x0014, 0x0015, 0x0016, 0x0017, 0x001A, 0x001B, 0x002A, 0x002B,
               0x0041, 0x0042, 0x0043}
_ERASABLE = {0x000A, 0x0013, 0x0014, 0x0017, 0x001A, 0x002A, 0x0043}


def _adr_control(span) -> int:
    return AUDIO_TRACK if span.mode == "audio" else DATA_TRACK


def read_toc(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 43 | MSF (bit 1) | format (bits 3-0) | 000000 | track/session | allocation (2) | control
    use_msf, fmt, track, length = cdb[1] & 0x02, cdb[2] & 0x0F, cdb[6], struct.unpack_from(">H", cdb, 7)[0]
    where = state.quirks.toc_format_from
    if where == "byte 9" or (where == "either" and fmt == 0 and cdb[9] >> 6):
        fmt = cdb[9] >> 6             # SFF-8020 drives (QEMU's ide-cd) take it from byte 9 bits 7-6
    layout = state.layout
    spans = layout.toc_spans            # an open session is in no TOC yet
    first, last = spans[0].number, spans[-1].number

    def address(lba: int) -> bytes:
        return bytes([0, *msf(lba)]) if use_msf else struct.pack(">I", lba)

    if fmt == 0:
        # header: length (2), first track, last track; 8-byte descriptors:
        # reserved, ADR/CONTROL, track, reserved, address (4); from the track asked for, then AAh
        # (the lead-out of the last session listed)
        if track > last and track != LEADOUT:
            raise Check(INVALID_FIELD_IN_CDB)
        starts = [(_adr_control(s), s.number, s.start) for s in spans if s.number >= track]
        starts.append((_adr_control(spans[-1]), LEADOUT, spans[-1].end))
        body = b"".join(bytes([0, ac, n, 0]) + address(lba) for ac, n, lba in starts)
        return (struct.pack(">HBB", len(body) + 2, first, last) + body)[:length]
    sessions = sorted({s.session for s in spans})
    if fmt == 1:
        # session info: first/last complete session; one descriptor for the first track of the last
        lead = [s for s in spans if s.session == sessions[-1]][0]
        body = bytes([0, _adr_control(lead), lead.number, 0]) + address(lead.start)
        return (struct.pack(">HBB", len(body) + 2, sessions[0], sessions[-1]) + body)[:length]
    if fmt == 2 and state.family == "cd":
        body = b"".join(_full_toc_session(state, n) for n in sessions)
        return (struct.pack(">HBB", len(body) + 2, sessions[0], sessions[-1]) + body)[:length]
    if fmt in (3, 4, 5) and state.family == "cd":      # PMA, ATIP, CD-TEXT
        return structures.toc_format(state, fmt, _pma_entries(state))[:length]
    raise Check(INVALID_FIELD_IN_CDB)


def _pma_entries(state: DriveState) -> bytes:
    """The PMA's track entries (11 bytes, as the full TOC's): what a recorder noted of each track."""
    return b"".join(bytes([0, _adr_control(s), 0, s.number, *msf(s.end), 0, *msf(s.start)])
                    for s in state.layout.spans)


def _full_toc_session(state: DriveState, session: int) -> bytes:
    """One session's full TOC entries (MMC-6 table 481; Red Book Q mode 1 and 5): A0h first track
    and disc type, A1h last track, A2h lead-out start, each track, then B0h (ADR 5) while a next
    session can follow: its program area start, pointers 1, the last possible lead-out."""
    # 11 bytes: session, ADR/CONTROL, TNO (0), POINT, MIN, SEC, FRAME, ZERO, PMIN, PSEC, PFRAME
    layout = state.layout
    spans = layout.session_spans(session)

    def entry(adr_control: int, point: int, amsf: tuple[int, int, int], zero: int, pmsf: tuple[int, int, int]) -> bytes:
        return bytes([session, adr_control, 0, point, *amsf, zero, *pmsf])

    ac = _adr_control(spans[0])
    out = [entry(ac, 0xA0, (0, 0, 0), 0, (spans[0].number, _disc_type(state), 0)),
           entry(ac, 0xA1, (0, 0, 0), 0, (spans[-1].number, 0, 0)),
           entry(ac, 0xA2, (0, 0, 0), 0, msf(spans[-1].end))]
    out += [entry(_adr_control(s), s.number, (0, 0, 0), 0, msf(s.start)) for s in spans]
    later = [s for s in layout.spans if s.session > session]
    if later or layout.appendable:
        next_start = later[0].start if later else spans[-1].end + NEXT_SESSION_GAP[session > 1]
        out.append(entry(MODE5_B0, 0xB0, msf(next_start), 1, msf(LAST_POSSIBLE_LEADOUT["cd"])))
    return b"".join(out)


def _disc_type(state: DriveState) -> int:
    """00h CD-ROM; 20h CD-ROM XA when any track is mode 2 (docs/reference/mmc.md, disc type)."""
    return 0x20 if state.layout.has_mode2 else 0x00


def _address_field(state: DriveState, lba: int | None) -> bytes:
    """A disc information address: FFFFFFFFh for none; on a CD the MSF in bytes 1-3."""
    if lba is None:
        return b"\xff" * 4
    if state.family == "cd":
        return bytes([0, *msf(lba % 450_000 if lba + 150 < 0 else lba)])   # lead-ins before 00:02:00 wrap (MMC)
    return struct.pack(">I", lba)


def read_disc_information(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 51 | data type (bits 2-0) | 00000000 | allocation (2) | control
    if cdb[1] & 0x07:
        raise Check(INVALID_FIELD_IN_CDB)
    length = struct.unpack_from(">H", cdb, 7)[0]
    layout, profile = state.layout, state.profile
    spans = layout.spans
    sessions, first_last, last_last = spans[-1].session, layout.session_spans(spans[-1].session)[0].number, spans[-1].number
    lead_in, possible = None, None
    if layout.last_open:                       # the last session is incomplete
        status, session_state = 0x01, 0x01
    elif layout.appendable:                    # closed, and an empty session may follow
        status, session_state = 0x01, 0x00
        sessions, first_last, last_last = sessions + 1, spans[-1].number + 1, spans[-1].number + 1
    else:
        status, session_state = 0x02, 0x03
    if status == 0x01:
        # the lead-in of the open session (4500 + 150 before its program area), or of the next one
        # (after this session's lead-out: 6750 sectors after the first session, 2250 after later ones)
        if layout.last_open:
            lead_in = layout.session_spans(spans[-1].session)[0].start - LEAD_IN - PRE_GAP
        else:
            lead_in = spans[-1].end + (FIRST_LEAD_OUT if spans[-1].session == 1 else LATER_LEAD_OUT)
        possible = LAST_POSSIBLE_LEADOUT[state.family]
    erasable = 0x10 if profile.profile_number in _ERASABLE else 0
    # byte 2: erasable (4), last session state (3-2), disc status (1-0); 3 first track; 4 sessions
    # LSB; 5 first, 6 last track in last session LSB; 7 DID_V/DBC_V/URU/DAC_V; 8 disc type;
    # 9-11 the MSBs of 4-6; 12-15 disc identification; 16-19 last session lead-in start;
    # 20-23 last possible lead-out start (FFFFFFFFh: none); 24-31 bar code; 32 application code;
    # 33 number of OPC tables
    data = (struct.pack(">HBBBBBBB", 32, erasable | session_state << 2 | status, 1, sessions & 0xFF,
                        first_last & 0xFF, last_last & 0xFF, 0, _disc_type(state))
            + bytes([sessions >> 8, first_last >> 8, last_last >> 8]) + bytes(4)
            + _address_field(state, lead_in) + _address_field(state, possible) + bytes(10))
    return data[:length]


def read_track_information(state: DriveState, cdb: bytes, out: bytes) -> bytes:
    # 52 | address type (bits 1-0) | address (4) | 00 | allocation (2) | control
    kind, address, length = cdb[1] & 0x03, struct.unpack_from(">I", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0]
    layout = state.layout
    spans = layout.spans
    blank = layout.appendable and not layout.last_open          # an invisible track follows the last
    if kind == 0:
        if address >= state.end:
            raise Check(LBA_OUT_OF_RANGE)
        span = layout.span_at(address)
        if span is None:
            if not (blank and address >= spans[-1].end):
                raise Check(INVALID_FIELD_IN_CDB)     # a gap between tracks belongs to none
            return _blank_track_information(state)[:length]
    elif kind == 1 and 1 <= address <= len(spans):
        span = spans[address - 1]
    elif kind == 1 and blank and address == len(spans) + 1:
        return _blank_track_information(state)[:length]
    elif kind == 2 and address in layout.sessions:
        span = layout.session_spans(address)[0]
    else:
        raise Check(INVALID_FIELD_IN_CDB)
    recordable = state.profile.profile_number in _RECORDABLE
    mode = 0x00 if span.mode == "audio" else 0x04           # CONTROL nibble: audio, or data uninterrupted
    data_mode = {"mode1": 0x01, "mode2-form1": 0x02}.get(span.mode, 0x0F)
    nwa_v = 1 if span.open else 0
    # LRA_V only off a CD: a closed CD-RW track reports none (xorriso's log in udftools PR 44)
    lra_v = 2 if recordable and state.family != "cd" else 0
    nwa = span.end if span.open else 0
    free = LAST_POSSIBLE_LEADOUT[state.family] - span.end if span.open else 0
    return _track_information(span.number, span.session, mode, data_mode, lra_v | nwa_v, span.start, nwa, free,
                              span.size, span.data_end - 1 if lra_v else 0)[:length]


def _blank_track_information(state: DriveState) -> bytes:
    """The invisible track of an appendable disc: blank, its next writable address valid."""
    spans = state.layout.spans
    gap = NEXT_SESSION_GAP[spans[-1].session > 1] if state.family == "cd" else 0
    start = spans[-1].end + gap
    free = max(LAST_POSSIBLE_LEADOUT[state.family] - start, 0)
    return _track_information(spans[-1].number + 1, spans[-1].session + 1, 0x04, 0x40 | 0x01, 0x01, start, start,
                              free, free, 0)


def _track_information(number, session, track_mode, data_mode, valid, start, nwa, free, size, lra) -> bytes:
    # 0-1 length (46); 2 track LSB; 3 session LSB; 5 damage (5), copy (4), track mode (3-0);
    # 6 RT (7), blank (6), packet (5), FP (4), data mode (3-0); 7 LRA_V (1), NWA_V (0); 8-11
    # track start; 12-15 next writable address; 16-19 free blocks; 20-23 fixed packet size;
    # 24-27 track size; 28-31 last recorded address; 32 track MSB; 33 session MSB; 36-39 read
    # compatibility LBA; 40-47 layer jump addresses
    return (struct.pack(">HBBBBBB", 46, number & 0xFF, session & 0xFF, 0, track_mode, data_mode, valid)
            + struct.pack(">IIIIII", start, nwa, free, 0, size, lra) + bytes([number >> 8, session >> 8]) + bytes(14))


