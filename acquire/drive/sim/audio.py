"""READ CD of audio sectors in the simulated drive: its read offset, C2 error pointers, Q
subchannel, damage that corrupts samples with or without C2 flags, and the lead-out overread.

reads.py hands a READ CD here when it touches an audio track (or, on a drive that overreads, the
lead-out). Decisions (docs/simulated-drive.md "Audio", keep it in step):
- The read offset (Profile.audio.read_offset, the AccurateRip correction c): a READ CD of LBA L
  delivers the disc's samples from L*588 - c on, so the host finds the true sample s at s + c.
  Outside an audio track's data (pre-gaps, a data track, lead-in, lead-out) the samples are silence.
- LBAs at or past the disc's end are 05/21/00 unless the drive overreads (then silence, Q track AAh);
  such a drive also reads the first 100 LBAs after a session whose last track is audio (CD-Extra).
- Damage on audio sectors never fails the READ (unreadable does): flaky delivers corrupted samples
  on its first `failures` reads, unstable on every read, each time a different corruption of
  CORRUPT_BYTES at CORRUPT_AT; C2 marks those bytes unless the damage says c2 = false.
- C2 bits are one per main-channel byte, most significant bit first (294 bytes); 296 adds the
  block error byte (01h when any bit is set) and a pad byte.
- Subchannel: formatted Q (16 bytes: Q 0-9, CRC 10-11, zero 12-15) or raw P-W (96 bytes, Q in
  bit 6 of each, P zero), for the LBA asked (subchannel is not shifted by the read offset).
- Pre-gaps ([[track]] pregap): the sectors before a track's start are its INDEX 00 in Q (track
  number the next track's, relative time counting down to 0 at the last pre-gap sector); the TOC
  still gives the start (INDEX 01). Their samples are the track before's (gaps appended, as on the
  disc), or the pregap_image's where no track holds them: track 1 starting past LBA 0 with audio
  before it is a hidden track one audio (HTOA).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .codes import ILLEGAL_MODE_FOR_THIS_TRACK, LBA_OUT_OF_RANGE, SECTOR_BYTES, Check, bcd, msf
from .ecma130 import q_crc_bitwise
from .state import DriveState

AUDIO_BYTES = 2352
SAMPLES = 588                    # stereo 16-bit samples (4 bytes) a sector
C2_BYTES = 294
CORRUPT_AT, CORRUPT_BYTES = 1000, 200
LEAD_OUT_TRACK = 0xAA
OVERREAD_SECTORS = 100           # how far past the end an overreading drive goes


def serves(state: DriveState, lba: int, count: int) -> bool:
    """Whether a READ CD of [lba, lba+count) is an audio read (touches audio, or the lead-out when
    this drive overreads)."""
    if state.profile.audio.overread and _has_audio(state) and (lba + count > state.end or _lead_out(state, lba)):
        return True
    if in_pregap_image(state, lba, lba + count):
        return True
    return any(s.mode == "audio" and s.start < lba + count and s.end > lba for s in state.layout.spans)


def in_pregap_image(state: DriveState, first: int, last: int) -> bool:
    """Whether [first, last) touches a pre-gap with its own image (a hidden track one audio)."""
    return any(t.pregap_image is not None and t.start - t.pregap < last and t.start > first
               for t in state.profile.tracks)


def pregap_at(state: DriveState, lba: int):
    """The track whose INDEX 00 holds `lba` ([[track]] pregap), or None."""
    return next((t for t in state.profile.tracks if t.pregap and t.start - t.pregap <= lba < t.start), None)


def pregap_sector(state: DriveState, lba: int) -> bytes:
    """One sector of a hidden track one audio (silence outside any pre-gap image)."""
    held = pregap_at(state, lba)
    return _pregap_samples(held, lba) if held is not None and held.pregap_image else bytes(AUDIO_BYTES)


def _pregap_samples(track, lba: int) -> bytes:
    """One sector of a pre-gap's own image (a WAV's 44-byte header skipped)."""
    skip = 44 if track.pregap_image.suffix.lower() == ".wav" else 0
    with open(Path(track.pregap_image), "rb") as f:
        f.seek(skip + (lba - track.start + track.pregap) * AUDIO_BYTES)
        return f.read(AUDIO_BYTES)


def _lead_out(state: DriveState, lba: int) -> bool:
    """Whether `lba` is in a lead-out an overreading drive reads as silence: past the disc's end, or
    the first OVERREAD_SECTORS of the gap after a session whose last track is audio (a CD-Extra)."""
    if lba >= state.end:
        return True
    if state.layout.span_at(lba) is not None:
        return False
    before = [s for s in state.layout.spans if s.end <= lba]
    after = [s for s in state.layout.spans if s.start > lba]
    return bool(before and after and before[-1].mode == "audio" and after[0].session != before[-1].session
                and lba < before[-1].end + OVERREAD_SECTORS)


def _has_audio(state: DriveState) -> bool:
    return any(s.mode == "audio" for s in state.layout.spans)


def answer(state: DriveState, lba: int, count: int, fields: int, subchannel: int,
           seek_s: float) -> tuple[float, bytes, Check | None]:
    """(cost, data, check) of one audio READ CD; fields is byte 9 (user data, C2 bits)."""
    p = state.profile
    limit = state.end + (OVERREAD_SECTORS if p.audio.overread else 0)
    if lba + count > limit:
        raise Check(LBA_OUT_OF_RANGE)
    for i in range(count):
        span = state.layout.span_at(lba + i)
        held = pregap_at(state, lba + i)
        if lba + i < state.end and (span is None or span.mode != "audio") and not (
                p.audio.overread and _lead_out(state, lba + i)) and not (held and held.pregap_image):
            raise Check(ILLEGAL_MODE_FOR_THIS_TRACK)      # a data sector or a gap inside an audio read
    rate = state.speed_x * p.rate_1x
    cost = p.overhead_s + seek_s + count * SECTOR_BYTES / rate
    corrupt: dict[int, bool] = {}                          # LBA -> C2 flagged
    for first, last, damage in state.damage.touched(lba, count):
        if damage.kind == "slow":
            cost += damage.delay_s * (last - first + 1)
        elif damage.kind == "unreadable":
            state.head = None
            return cost + p.error_delay_s, b"", Check(damage.sense, first)
        for sector in range(first, last + 1):
            if damage.kind == "flaky":
                state.flaky_attempts[sector] = state.flaky_attempts.get(sector, 0) + 1
                if state.flaky_attempts[sector] > damage.failures:
                    continue
            corrupt[sector] = damage.c2
    state.head = lba + count
    return cost, b"".join(_sector(state, lba + i, fields, subchannel, corrupt.get(lba + i)) for i in range(count)), None


def _corruption(n: int) -> bytes:
    """CORRUPT_BYTES non-zero bytes (every byte changes) unique to unstable read `n`: a hash, where
    (n * 37 + i) % 255 repeated every 255 reads, and two processes (a killed run's journal and its
    resume) agreed on a read about once in 255 pairs, so that a resume took garbled samples as
    confirmed."""
    out = bytearray()
    block = 0
    while len(out) < CORRUPT_BYTES:
        out += hashlib.blake2b(n.to_bytes(16, "big") + block.to_bytes(4, "big"), digest_size=64).digest()
        block += 1
    return bytes(b % 255 + 1 for b in out[:CORRUPT_BYTES])


def _sector(state: DriveState, lba: int, fields: int, subchannel: int, corrupt: bool | None) -> bytes:
    data = bytearray(samples_at(state, lba * SAMPLES - state.profile.audio.read_offset, SAMPLES))
    flagged = bytearray(C2_BYTES)
    if corrupt is not None:
        state.unstable_reads += 1
        for i, b in enumerate(_corruption(state.unstable_reads), CORRUPT_AT):
            data[i] ^= b
        if corrupt:
            for i in range(CORRUPT_AT, CORRUPT_AT + CORRUPT_BYTES):
                flagged[i >> 3] |= 0x80 >> (i & 7)
    parts = [bytes(data)] if fields & 0x10 else []
    c2 = (fields >> 1) & 0x03
    if c2:
        parts.append(bytes(flagged))
        if c2 == 2:
            parts.append(bytes([1 if any(flagged) else 0, 0]))
    if subchannel:
        parts.append(subchannel_bytes(state, lba, subchannel))
    return b"".join(parts)


def samples_at(state: DriveState, first: int, count: int) -> bytes:
    """`count` stereo samples of the disc from absolute sample `first` (LBA * 588): each audio
    track's data, silence everywhere else."""
    out = bytearray(count * 4)
    pos = first
    while pos < first + count:
        lba = pos // SAMPLES
        end = min(first + count, (lba + 1) * SAMPLES)
        span = state.layout.span_at(lba) if lba >= 0 else None
        held = pregap_at(state, lba) if lba >= 0 else None
        sector = None
        if span is not None and span.mode == "audio" and lba < span.data_end and state.raw_audio is not None:
            sector = state.raw_audio(lba, 1)
        elif held is not None and held.pregap_image is not None:
            sector = _pregap_samples(held, lba)
        if sector is not None:
            at = (pos - lba * SAMPLES) * 4
            out[(pos - first) * 4:(end - first) * 4] = sector[at:at + (end - pos) * 4]
        pos = end
    return bytes(out)


MCN_AT, ISRC_AT = 25, 50         # the frame in each 100 of a track (past INDEX 01) that carries mode 2 / 3


def q_frame(state: DriveState, lba: int) -> bytes:
    """The 12 Q bytes (10 data + CRC) of `lba`: a mode 1 position (ADR 1), or, once in every 100
    frames of an audio track's INDEX 01 part, the disc's MCN (mode 2) or the track's ISRC (mode 3)."""
    span = state.layout.span_at(lba) if lba < state.end else None
    held = pregap_at(state, lba) if lba < state.end else None
    if span is not None and held is None and span.mode == "audio":
        code = _code_frame(state, span.number, (lba - span.start) % 100, lba)
        if code is not None:
            return code + q_crc_bitwise(code).to_bytes(2, "big")
    index = 0x01
    if held is not None:                     # INDEX 00: counting down to the track's start
        track, control, relative, index = held.number, 0x0, held.start - 1 - lba, 0x00
    elif span is None:
        track, control, relative = LEAD_OUT_TRACK, 0x0, max(lba - state.end, 0)
    else:
        track, control, relative = span.number, (0x0 if span.mode == "audio" else 0x4), lba - span.start
    rm, rs, rf = msf(relative - 150) if relative >= 0 else (0, 0, 0)
    am, as_, af = msf(lba)
    body = bytes([(control << 4) | 0x01, bcd(track) if track != LEAD_OUT_TRACK else track, index,
                  bcd(rm), bcd(rs), bcd(rf), 0, bcd(am), bcd(as_), bcd(af)])
    return body + q_crc_bitwise(body).to_bytes(2, "big")


def _code_frame(state: DriveState, track: int, phase: int, lba: int) -> bytes | None:
    """The 10 Q data bytes of a mode 2 (MCN) or mode 3 (ISRC) frame at this phase, if the profile gives that code."""
    mcn, isrc = state.profile.mcn, state.profile.isrc.get(track)
    if phase == MCN_AT and mcn:
        return mcn_q(mcn, msf(lba)[2])
    if phase == ISRC_AT and isrc:
        return isrc_q(isrc, msf(lba)[2])
    return None


def mcn_q(mcn: str, aframe: int) -> bytes:
    """ECMA-130 22.3.3 mode 2: ADR 2, N1-N13 in BCD, 12 zero bits, AFRAME (BCD)."""
    return ((0x02 << 72) | (int(mcn, 16) << 20) | bcd(aframe)).to_bytes(10, "big")


def isrc_q(isrc: str, aframe: int) -> bytes:
    """ECMA-130 22.3.3 mode 3: ADR 3, I1-I5 in 6 bits ('0'-'9' 00h-09h, 'A'-'Z' 11h-2Ah), 2 zero
    bits, I6-I12 in BCD, 4 zero bits, AFRAME (BCD)."""
    six = 0
    for ch in isrc[:5].upper():
        six = (six << 6) | (int(ch) if ch.isdigit() else 0x11 + ord(ch) - ord("A"))
    return ((0x03 << 72) | (six << 42) | (int(isrc[5:], 16) << 12) | bcd(aframe)).to_bytes(10, "big")


def subchannel_bytes(state: DriveState, lba: int, selection: int) -> bytes:
    q = q_frame(state, lba)
    if selection == 2:                       # formatted Q
        return q[:10] + q[10:12] + bytes(4)
    raw = bytearray(96)                      # raw P-W: Q in bit 6 of each of the 96 bytes
    for i in range(96):
        if q[i >> 3] & (0x80 >> (i & 7)):
            raw[i] = 0x40
    return bytes(raw)
