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
