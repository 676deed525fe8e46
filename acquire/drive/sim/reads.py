"""The READ-type commands of the simulated drive: READ(10), READ(12), READ CD; damage; the clock.

Each function takes the DriveState. `answer_read` raises Check for a READ refused before it
touches the medium (target.py charges overhead_s for that) and returns a ReadAnswer otherwise.
Decisions where MMC is silent (docs/simulated-drive.md, keep it in step):
- A READ refused before touching the medium (05/2x, 05/64) leaves the head where it was and
  counts no flaky attempt. A READ of 0 sectors is GOOD and costs overhead_s.
- A slow sector's delay_s is charged whenever a READ touches it, also when that READ fails.
- Tracks ([[track]]): READ(10)/(12) touching a mode2-form1 sector is 05/64/00, as drives answer
  READ(10) on a mode 2 track; READ CD with sector type "any" (0) or the track's own type reads it.
- READ CD raw sectors: sync, BCD MSF header (LBA + 150) with mode byte 1 or 2, the mode 2 form 1
  subheader (data, twice), user data, EDC/ECC zero (as QEMU's ide-cd does, but QEMU's header MSF
  is binary). C2 bits (294 or 296 bytes) are zero, all ones for an unstable sector (the drive saw
  errors it could not correct but delivered). No subchannel (05/24/00). Sector types Mode 2
  formless and form 2 give 05/64/00, as does READ CD on dvd/bd; CD-DA (1) reads audio tracks only.
- Audio tracks: READ(10)/(12) there is 05/64/00; READ CD (type 0 or 1) returns each audio
  sector's 2352 bytes whenever user data is asked for (CD-DA has no sync, header or EDC/ECC).
- Not recorded (sim/layout.py: run-out, link, session gap, unrecorded): a READ touching one
  fails with the kind's sense and the first such LBA in INFORMATION, after its seek; only a
  medium-error sense (SK 3) also costs error_delay_s (an illegal request is not retried).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..profiles import ECC_SECTORS
from . import audio
from .codes import (CDB_LENGTH, ILLEGAL_MODE_FOR_THIS_TRACK, INVALID_FIELD_IN_CDB, LBA_OUT_OF_RANGE, READ_10,
                    READ_12, SECTOR_BYTES, Check, bcd, msf)
from .ecma130 import edc_bitwise, lec_parity
from .profile import AUDIO, MODE1, MODE2_FORM1
from .state import DriveState

SYNC = b"\x00" + b"\xff" * 10 + b"\x00"
C2_BYTES = 294
# READ CD byte 1 bits 4-2, expected sector type -> the track mode it reads (None: any)
SECTOR_TYPES: dict[int, str | None] = {0: None, 1: AUDIO, 2: MODE1, 4: MODE2_FORM1}
_NO_SUCH_SECTORS = (3, 5)             # Mode 2 formless, Mode 2 form 2: none on these discs
AUDIO_BYTES = 2352
MODE_BYTE = {MODE1: 0x01, MODE2_FORM1: 0x02}
SUBHEADER_FORM1 = bytes([0, 0, 0x08, 0]) * 2      # file, channel, submode (data), coding; twice
EDC_ECC_BYTES = {MODE1: 288, MODE2_FORM1: 280}    # mode 1: EDC 4, zero 8, ECC 276; form 1: EDC 4, ECC 276

_GENERATED_SEED = 0x5EED_AC0D_15C0_0001
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E37_79B9_7F4A_7C15
_PAIR = struct.Struct(">QQ")          # (LBA, mixed LBA), big-endian

def generated_sector(lba: int) -> bytes:
    """The 2048 bytes of `lba` on a `sectors = N` disc: 16 bytes (LBA, mixed LBA) repeated.

    Distinct per LBA, deterministic, about a microsecond. Byte 0..5 of any LBA below 2^40 are
    zero, so no generated sector is an ISO 9660 or UDF descriptor ("CD001", "BEA01" at byte 1).
    """
    return _PAIR.pack(lba, ((lba ^ _GENERATED_SEED) * _GOLDEN) & _MASK64) * 128


def generated_sectors(lba: int, count: int) -> bytes:
    """`count` generated sectors from `lba`, as one READ returns them (a third cheaper than joining
    `generated_sector` calls: the simulated drive's share of an undamaged acquisition)."""
    pack = _PAIR.pack
    return b"".join([pack(n, ((n ^ _GENERATED_SEED) * _GOLDEN) & _MASK64) * 128 for n in range(lba, lba + count)])


@dataclass(frozen=True, slots=True)
class ReadRequest:
    lba: int
    count: int
    wants: str | None          # the track mode every sector must have; None: any
    fields: int | None         # READ CD byte 9 when not plain user data; None: 2048-byte user data
    subchannel: int = 0        # READ CD byte 10: 1 raw P-W, 2 formatted Q (sim/audio.py)


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """What a READ that reached the medium did: its data or its failure, and what it cost."""

    cost_s: float
    data: bytes = b""
    check: Check | None = None


def read_extent(cdb: bytes) -> tuple[int, int]:
    """LBA and length of a READ-type CDB, unchecked, for the trace (0, 0 when too short)."""
    if len(cdb) < CDB_LENGTH[cdb[0] >> 5]:
        return 0, 0
    lba = struct.unpack_from(">I", cdb, 2)[0]
    if cdb[0] == READ_10:
        return lba, struct.unpack_from(">H", cdb, 7)[0]
    if cdb[0] == READ_12:
        return lba, struct.unpack_from(">I", cdb, 6)[0]
    return lba, int.from_bytes(cdb[6:9], "big")


def decode_read(state: DriveState, cdb: bytes) -> ReadRequest:
    opcode = cdb[0]
    if len(cdb) < CDB_LENGTH[opcode >> 5]:
        raise Check(INVALID_FIELD_IN_CDB)
    if opcode == READ_10:
        # 28 | flags | LBA (4) | group | length (2) | control
        return ReadRequest(struct.unpack_from(">I", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0], MODE1, None)
    if opcode == READ_12:
        # A8 | flags | LBA (4) | length (4) | streaming/group | control
        lba, count = struct.unpack_from(">II", cdb, 2)
        return ReadRequest(lba, count, MODE1, None)
    # READ CD: BE | sector type (bits 4-2) | LBA (4) | length (3) | fields | subchannel | control
    if state.family != "cd":
        raise Check(ILLEGAL_MODE_FOR_THIS_TRACK)
    sector_type = (cdb[1] >> 2) & 0x07
    if sector_type in _NO_SUCH_SECTORS:
        raise Check(ILLEGAL_MODE_FOR_THIS_TRACK)
    if sector_type not in SECTOR_TYPES:
        raise Check(INVALID_FIELD_IN_CDB)
    fields, subchannel = cdb[9], cdb[10] & 0x07
    if (fields >> 1) & 0x03 == 3 or fields & 0x01:
        raise Check(INVALID_FIELD_IN_CDB)
    if (subchannel and (subchannel not in (1, 2) or not state.profile.audio.subchannel)
            or (fields >> 1) & 0x03 and not state.profile.audio.c2):    # a drive without them: 05/24/00
        raise Check(INVALID_FIELD_IN_CDB)
    return ReadRequest(struct.unpack_from(">I", cdb, 2)[0], int.from_bytes(cdb[6:9], "big"),
                       SECTOR_TYPES[sector_type], None if fields == 0x10 and not subchannel else fields,
                       subchannel)


def mode_at(state: DriveState, lba: int) -> str:
    """The mode of the track holding `lba` (a hidden track one audio before track 1: audio)."""
    span = state.layout.span_at(lba)
    if span is None and audio.pregap_at(state, lba) is not None:
        return AUDIO
    return span.mode


def _check_modes(state: DriveState, request: ReadRequest) -> None:
    """05/64/00 unless every sector's track mode is the one the command expects."""
    if request.wants is None or not request.count:
        return
    last = request.lba + request.count
    if any(mode != request.wants and first < last and end > request.lba for _n, first, end, mode in state.tracks()):
        raise Check(ILLEGAL_MODE_FOR_THIS_TRACK)
    if request.wants != AUDIO and audio.in_pregap_image(state, request.lba, last):     # a hidden track one audio
        raise Check(ILLEGAL_MODE_FOR_THIS_TRACK)


def answer_read(state: DriveState, cdb: bytes) -> ReadAnswer:
    """Decode, check, charge and read one READ-type command (see the module docstring)."""
    request = decode_read(state, cdb)
    if cdb[0] not in (READ_10, READ_12) and request.count and audio.serves(state, request.lba, request.count):
        cost, data, check = audio.answer(state, request.lba, request.count, 0x10 if request.fields is None
                                         else request.fields, request.subchannel,
                                         seek_s(state, request.lba, state.speed_x * state.profile.rate_1x))
        return ReadAnswer(cost, data, check)
    if request.lba + request.count > state.end:
        raise Check(LBA_OUT_OF_RANGE)
    _check_modes(state, request)
    p = state.profile
    if request.count == 0:
        return ReadAnswer(p.overhead_s)
    lba, count = request.lba, request.count
    rate = state.speed_x * p.rate_1x
    cost = p.overhead_s + seek_s(state, lba, rate)
    gap = state.layout.not_recorded(lba, count)
    if gap is not None:                    # nothing written there: the drive finds no data
        first, kind = gap
        sense = state.layout.sense[kind]
        state.head = None
        return ReadAnswer(cost + (p.error_delay_s if sense[0] == 0x03 else 0.0), check=Check(sense, first))
    cost += count * SECTOR_BYTES / rate
    delay_s, failing, unstable = touch_damage(state, lba, count)
    cost += delay_s
    if failing is not None:
        first_bad, sense = failing
        if state.quirks.medium_error_sense is not None:     # QEMU's ide-cd: every I/O error is 05/21/00
            sense = state.quirks.medium_error_sense
        state.head = None
        return ReadAnswer(cost + p.error_delay_s, check=Check(sense, first_bad))
    state.head = lba + count
    return ReadAnswer(cost, deliver(state, request, unstable))


def touch_damage(state: DriveState, lba: int, count: int
                 ) -> tuple[float, tuple[int, tuple[int, int, int]] | None, list[tuple[int, int]]]:
    """(slow delay, (first failing LBA, sense) or None, unstable spans) of a READ that reaches the
    medium. The drive reads in LBA order and ends the command at the first sector it cannot read
    (its LBA in the sense INFORMATION field, SPC-4), so a flaky sector counts an attempt only when
    the READ reaches it: on or before that first failing sector, never after; and a DVD or BD
    drive decodes whole ECC blocks (16 sectors, ECMA-267 §18; 32, a BD cluster), so every flaky
    sector of a block the READ reached counts one, also those outside the sectors it asked for."""
    delay_s = 0.0
    failing: tuple[int, tuple[int, int, int]] | None = None
    unstable: list[tuple[int, int]] = []
    flaky: list[tuple[int, int, object]] = []
    for first, last, damage in state.damage.touched(lba, count):
        if damage.kind == "slow":
            delay_s += damage.delay_s * (last - first + 1)
        elif damage.kind == "unstable":
            unstable.append((first, last))
        elif damage.kind == "unreadable" or too_fast(state, damage):   # speed-dependent flaky: fails when read faster
            if failing is None or first < failing[0]:
                failing = (first, damage.sense)
        else:
            flaky.append((first, last, damage))
    for first, last, damage in flaky:       # the first of them still owed a failure, if before
        for sector in range(first, last + 1):
            if failing is not None and sector >= failing[0]:
                break
            if state.flaky_attempts.get(sector, 0) < damage.failures:
                failing = (sector, damage.sense)
                break
    last_reached = lba + count - 1 if failing is None else failing[0]
    start, end = block_span(lba, last_reached, ECC_SECTORS.get(state.family, 1))
    end = min(state.end, end)
    for first, last, damage in state.damage.touched(start, end - start):   # an attempt on each one reached
        if damage.kind == "flaky" and not too_fast(state, damage):
            for sector in range(first, last + 1):
                state.flaky_attempts[sector] = state.flaky_attempts.get(sector, 0) + 1
    return delay_s, failing, unstable


def block_span(first: int, last: int, unit: int) -> tuple[int, int]:
    """[start, end) of the whole ECC blocks of `unit` sectors that hold LBAs first..last: what a
    DVD or BD drive decodes to read them (unit 1: a CD, the sectors themselves)."""
    return first - first % unit, last - last % unit + unit


def too_fast(state: DriveState, damage) -> bool:
    """A flaky sector with `max_speed_x` read above that speed: it fails, and counts no attempt."""
    return damage.max_speed_x is not None and state.speed_x > damage.max_speed_x


def fua_token(cdb: bytes) -> str:
    """" fua" for a READ(10)/(12) with FUA (byte 1 bit 3) set, for the trace; "" otherwise."""
    return " fua" if cdb[0] in (READ_10, READ_12) and len(cdb) > 1 and cdb[1] & 0x08 else ""


def deliver(state: DriveState, request: ReadRequest, unstable: list[tuple[int, int]]) -> bytes:
    """The bytes a successful READ returns: user data, garbled where unstable, formatted for READ CD."""
    lba, count = request.lba, request.count
    data = state.true_bytes(lba, count)
    bad = {s for first, last in unstable for s in range(first, last + 1)}
    if bad:
        data = bytearray(data)
        for sector in sorted(bad):
            at = (sector - lba) * SECTOR_BYTES
            data[at:at + SECTOR_BYTES] = garble(state, bytes(data[at:at + SECTOR_BYTES]))
        data = bytes(data)
    if any(mode_at(state, lba + i) == AUDIO for i in range(count)):
        return b"".join(_audio_sector(state, request.fields, lba + i, data[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES],
                                      lba + i in bad) for i in range(count))
    if request.fields is None:
        return data
    edc = state.profile.audio.raw_edc
    return b"".join(format_raw(request.fields, mode_at(state, lba + i), lba + i,
                               data[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES], lba + i in bad, edc)
                    + (audio.subchannel_bytes(state, lba + i, request.subchannel) if request.subchannel else b"")
                    for i in range(count))


def _audio_sector(state: DriveState, fields: int | None, lba: int, data: bytes, unstable: bool) -> bytes:
    """One READ CD sector of an audio track: its 2352 bytes when user data is asked for, then C2."""
    if mode_at(state, lba) != AUDIO:
        return format_raw(0x10 if fields is None else fields, mode_at(state, lba), lba, data, unstable)
    fields = 0x10 if fields is None else fields
    parts = [state.raw_audio(lba, 1)] if fields & 0x10 else []
    c2 = (fields >> 1) & 0x03
    if c2:
        bits = b"\xff" * C2_BYTES if unstable else bytes(C2_BYTES)
        parts.append(bits if c2 == 1 else bits + bytes(2))
    return b"".join(parts)


def format_raw(fields: int, mode: str, lba: int, data: bytes, unstable: bool, edc: bool = False) -> bytes:
    """One READ CD sector with the fields of byte 9: SYNC, header codes, user data, EDC/ECC, C2."""
    headers = (fields >> 5) & 0x03            # 00 none, 01 header, 10 subheader, 11 both
    c2 = (fields >> 1) & 0x03
    parts = []
    if fields & 0x80:
        parts.append(SYNC)
    if headers in (1, 3):
        m, s, f = msf(lba)
        parts.append(bytes([bcd(m), bcd(s), bcd(f), MODE_BYTE[mode]]))
    if headers in (2, 3) and mode == MODE2_FORM1:    # mode 1 has no subheader
        parts.append(SUBHEADER_FORM1)
    if fields & 0x10:
        parts.append(data)
    if fields & 0x08:
        parts.append(_edc_field(mode, lba, data) if edc else bytes(EDC_ECC_BYTES[mode]))   # else left zero
    if c2:
        bits = b"\xff" * C2_BYTES if unstable else bytes(C2_BYTES)
        parts.append(bits if c2 == 1 else bits + (b"\x01\x00" if unstable else b"\x00\x00"))
    return b"".join(parts)


def _edc_field(mode: str, lba: int, data: bytes) -> bytes:
    """EDC (ECMA-130 14.3, little-endian), the zero intermediate field (mode 1), then the L-EC P and
    Q parity (Annex A; over a mode 2 sector's header taken as zero): mode 1's EDC over sync + header
    + data, form 1's over subheader + data."""
    m, s, f = msf(lba)
    header = bytes([bcd(m), bcd(s), bcd(f), 0x01 if mode == MODE1 else 0x02])
    if mode == MODE1:
        edc = edc_bitwise(SYNC + header + data).to_bytes(4, "little")
        body = bytearray(header + data + edc + bytes(8) + bytes(276))
    else:
        edc = edc_bitwise(SUBHEADER_FORM1 + data).to_bytes(4, "little")
        body = bytearray(bytes(4) + SUBHEADER_FORM1 + data + edc + bytes(276))
    lec_parity(body)
    return bytes(body[4 + (0 if mode == MODE1 else 8) + 2048:])


def garble(state: DriveState, true: bytes) -> bytes:
    """An unstable sector's bytes this time: XOR with a never-zero pattern unique to this read."""
    state.unstable_reads += 1
    pattern = struct.pack(">Q", (1 << 63) | state.unstable_reads) * (SECTOR_BYTES // 8)
    return (int.from_bytes(true, "big") ^ int.from_bytes(pattern, "big")).to_bytes(SECTOR_BYTES, "big")


def seek_s(state: DriveState, lba: int, rate: float) -> float:
    """The seek of docs/reference/contracts.md "The clock": 0 in place, a short forward gap spun past, else a jump."""
    p = state.profile
    if state.head is None:
        return p.seek_base_s + p.seek_full_s / 2
    distance = lba - state.head
    if distance == 0:
        return 0.0
    if distance > 0:
        spin_s = distance * SECTOR_BYTES / rate     # the disc turns past a short forward gap
        if spin_s < p.seek_base_s:
            return spin_s
    return p.seek_base_s + p.seek_full_s * abs(distance) / state.end
