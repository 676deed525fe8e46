"""The Q subchannel of a CD sector: its CRC and its position (IEC 60908 / ECMA-130 22.3).

Formatted Q from READ CD (subchannel 010b, 16 bytes): Q bytes 0-9, CRC 10-11, bytes 12-15 reserved.
Raw P-W (001b, 96 bytes): bit 7 of each byte is P, bit 6 is Q, ... bit 0 is W; the 96 Q bits are the
12 Q bytes (10 data + CRC), most significant bit first.
Q mode 1 (ADR 1): byte 0 CONTROL (bits 7-4) ADR (3-0); 1 TNO (BCD, AAh lead-out); 2 INDEX (BCD);
3-5 relative MIN SEC FRAME (BCD); 6 zero; 7-9 absolute AMIN ASEC AFRAME (BCD).
CRC: x^16 + x^12 + x^5 + 1 over bytes 0-9, init 0, inverted, big-endian (reveng's CRC-16/GSM).
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass

from ..errors import MalformedResponse

FORMATTED_Q_BYTES = 16
RAW_PW_BYTES = 96


def q_crc(body: bytes) -> int:
    """The Q CRC of the 10 Q data bytes (binascii's CRC-CCITT with init 0, inverted)."""
    return binascii.crc_hqx(body, 0) ^ 0xFFFF


def _unbcd(b: int) -> int:
    return (b >> 4) * 10 + (b & 0x0F)


@dataclass(frozen=True, slots=True)
class QFrame:
    control: int
    adr: int
    track: int              # 0xAA: lead-out
    index: int
    relative: int           # frames from the track's index 1 (MSF as frames)
    absolute: int           # absolute frames (MSF; LBA + 150)
    crc_ok: bool

    @property
    def lba(self) -> int:
        return self.absolute - 150

    @property
    def audio(self) -> bool:
        return not self.control & 0x4

    @property
    def preemphasis(self) -> bool:
        return bool(self.control & 0x1)


def parse_q(q: bytes) -> QFrame:
    """12 Q bytes (or 16 formatted Q bytes) -> QFrame; bounded, raises MalformedResponse when short."""
    if len(q) < 12:
        raise MalformedResponse(f"a Q subchannel frame is 12 bytes, not {len(q)}")
    track = q[1] if q[1] == 0xAA else _unbcd(q[1])

    def frames(m: int, s: int, f: int) -> int:
        return (_unbcd(m) * 60 + _unbcd(s)) * 75 + _unbcd(f)
    return QFrame(q[0] >> 4, q[0] & 0x0F, track, _unbcd(q[2]), frames(q[3], q[4], q[5]),
                  frames(q[7], q[8], q[9]), q_crc(q[:10]) == int.from_bytes(q[10:12], "big"))


def q_from_raw(pw: bytes) -> bytes:
    """The 12 Q bytes in 96 raw P-W bytes."""
    if len(pw) != RAW_PW_BYTES:
        raise MalformedResponse(f"raw P-W subchannel is 96 bytes, not {len(pw)}")
    out = bytearray(12)
    for i, byte in enumerate(pw):
        if byte & 0x40:
            out[i >> 3] |= 0x80 >> (i & 7)
    return bytes(out)


def q_ok(sub: bytes, lba: int, selection: int) -> bool:
    """Whether a sector's subchannel (formatted Q: 2, raw P-W: 1) has a sound CRC and names `lba`
    (a mode 1 position; other ADR modes, ISRC and MCN frames, are not positions and pass)."""
    try:
        frame = parse_q(sub[:12] if selection == 2 else q_from_raw(sub))
    except MalformedResponse:
        return False
    if not frame.crc_ok:
        return False
    return frame.adr != 1 or frame.lba == lba


def clonecd_sub(sub: bytes | None, selection: int) -> bytes:
    """96 bytes of a `.sub` file (CloneCD's layout, which redump keeps: 12 bytes each of P, Q, R ... W)
    from what READ CD gave: raw P-W deinterleaved as read; from formatted Q, Q as read, P set from
    its index (FFh in a pause, index 0) and R-W zero (not read); all zero where nothing sound was read."""
    if not sub:
        return bytes(96)
    if selection == 1:
        out = bytearray(96)
        for i, byte in enumerate(sub[:96]):
            for channel in range(8):
                if byte & (0x80 >> channel):
                    out[channel * 12 + (i >> 3)] |= 0x80 >> (i & 7)
        return bytes(out)
    q = sub[:12]
    pause = parse_q(q).index == 0
    return (b"\xff" * 12 if pause else bytes(12)) + q + bytes(72)


# -- ISRC and MCN in Q (ECMA-130 22.3.3, q-Data field of Mode 2 and Mode 3) --------------------------
# The 72 q-Data bits follow CONTROL/ADR (bits 0-7 of the 80 Q data bits, before the CRC):
#   Mode 2 (ADR 2), media catalogue number: N1..N13, 13 BCD digits (bits 8-59), 12 zero bits,
#     AFRAME (bits 72-79, BCD).
#   Mode 3 (ADR 3), ISRC: I1..I5 (country, owner) in 6 bits each (bits 8-37), 2 zero bits, I6..I12
#     (year, serial) in 4-bit BCD (bits 40-67), 4 zero bits, AFRAME (bits 72-79).
# The 6-bit characters (ECMA-130's table in 22.3.3): 00h-09h are '0'-'9', 11h-2Ah 'A'-'Z'.
# (Aaru's Subchannel decoder reads them the same way; read, not copied.)
MCN_ADR, ISRC_ADR = 2, 3
_LETTER_A = 0x11


def _q_bits(q: bytes, start: int, width: int) -> int:
    """`width` bits of the 80 Q data bits from bit `start` (bit 0 the MSB of byte 0)."""
    return (int.from_bytes(q[:10], "big") >> (80 - start - width)) & ((1 << width) - 1)


def _six_bit(code: int) -> str | None:
    if code <= 9:
        return chr(ord("0") + code)
    if _LETTER_A <= code < _LETTER_A + 26:
        return chr(ord("A") + code - _LETTER_A)
    return None


def _bcd_digits(q: bytes, start: int, count: int) -> str | None:
    digits = [_q_bits(q, start + 4 * i, 4) for i in range(count)]
    return None if any(d > 9 for d in digits) else "".join(map(str, digits))


def mcn_of(q: bytes) -> str | None:
    """The 13-digit catalogue number of a Mode 2 Q frame (10 data bytes), else None."""
    if len(q) < 10 or q[0] & 0x0F != MCN_ADR:
        return None
    return _bcd_digits(q, 8, 13)


def isrc_of(q: bytes) -> str | None:
    """The 12-character ISRC of a Mode 3 Q frame (10 data bytes), else None."""
    if len(q) < 10 or q[0] & 0x0F != ISRC_ADR:
        return None
    chars = [_six_bit(_q_bits(q, 8 + 6 * i, 6)) for i in range(5)]
    digits = _bcd_digits(q, 40, 7)
    if digits is None or None in chars:
        return None
    return "".join(c for c in chars if c) + digits


@dataclass(frozen=True, slots=True)
class QCodes:
    """What a track's sound Q frames said: the most frequent MCN and ISRC, how many frames gave
    each, and how many gave another value (a disc mastered with one code a track gives one)."""
    mcn: str | None
    mcn_frames: int
    isrc: str | None
    isrc_frames: int
    other_frames: int


def q_codes(subs, selection: int) -> QCodes:
    """QCodes of the subchannel reads `subs` (formatted Q: 2, raw P-W: 1); CRC-failed frames skipped."""
    mcns: dict[str, int] = {}
    isrcs: dict[str, int] = {}
    for sub in subs:
        q = _q12(sub, selection)
        if q is None:
            continue
        for decode, seen in ((mcn_of, mcns), (isrc_of, isrcs)):
            code = decode(q)
            if code is not None:
                seen[code] = seen.get(code, 0) + 1
    mcn = max(mcns, key=mcns.__getitem__, default=None)
    isrc = max(isrcs, key=isrcs.__getitem__, default=None)
    other = sum(mcns.values()) - mcns.get(mcn, 0) + sum(isrcs.values()) - isrcs.get(isrc, 0)
    return QCodes(mcn, mcns.get(mcn, 0), isrc, isrcs.get(isrc, 0), other)


def _q12(sub: bytes | None, selection: int) -> bytes | None:
    """The 12 Q bytes of one sector's subchannel when its CRC holds, else None."""
    if not sub or selection not in (1, 2):
        return None
    try:
        q = sub[:12] if selection == 2 else q_from_raw(sub)
    except MalformedResponse:
        return None
    return q if len(q) == 12 and q_crc(q[:10]) == int.from_bytes(q[10:12], "big") else None
