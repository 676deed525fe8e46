"""ECMA-130 checks of a data sector read raw (2352 bytes): a sector is trusted only when its EDC holds.

EDC (ECMA-130 14.3): CRC-32 with P(x) = (x^16+x^15+x^2+1)(x^16+x^2+x+1), LSB first, init 0, no
final xor (reveng's CRC-32/CD-ROM-EDC, check value 6EC2EDC4h for "123456789"), stored little-endian.
Mode 1 (ECMA-130 14.3): sync 0-11, header 12-15, user data 16-2063, EDC 2064-2067 over bytes 0-2063.
Mode 2 form 1 (CD-ROM XA): sync, header, subheader 16-23, user data 24-2071, EDC 2072-2075 over 16-2071.
Mode 2 form 2: EDC 2348-2351 over 16-2347 (zero: not computed). L-EC (P 2076-2247, Q 2248-2351;
Annex A) is generated for rebuilt sectors and checked by lec_ok, not on every sector read (see
docs/audio.md: a pure-Python check costs milliseconds a sector).
"""
from __future__ import annotations

from dataclasses import dataclass

SYNC = b"\x00" + b"\xff" * 10 + b"\x00"
RAW_BYTES = 2352
_POLY = 0xD801_8001            # 8001801Bh reflected


def _table() -> tuple[int, ...]:
    out = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        out.append(crc)
    return tuple(out)


_TABLE = _table()


def edc(data: bytes, crc: int = 0) -> int:
    """ECMA-130's EDC of `data` (table-driven, a byte at a time)."""
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True, slots=True)
class RawCheck:
    mode: int                 # header byte 15: 1, 2 (0: a zero sector, no data)
    form: int                 # mode 2: 1 or 2 (subheader submode bit 5); 0 otherwise
    sync_ok: bool
    edc_ok: bool | None       # None: the sector carries no EDC (mode 2 form 2 with zero EDC)
    user_data: bytes

    @property
    def trusted(self) -> bool:
        return self.sync_ok and self.edc_ok is not False


def check_raw(sector: bytes) -> RawCheck:
    """Check one 2352-byte data sector read raw: its sync, its mode, its EDC."""
    if len(sector) != RAW_BYTES:
        raise ValueError(f"a raw sector is {RAW_BYTES} bytes, not {len(sector)}")
    sync_ok, mode = sector[:12] == SYNC, sector[15]
    if mode == 1:
        stored = int.from_bytes(sector[2064:2068], "little")
        return RawCheck(1, 0, sync_ok, edc(sector[:2064]) == stored, sector[16:2064])
    if mode == 2:
        form = 2 if sector[18] & 0x20 else 1
        if form == 1:
            stored = int.from_bytes(sector[2072:2076], "little")
            return RawCheck(2, 1, sync_ok, edc(sector[16:2072]) == stored, sector[24:2072])
        stored = int.from_bytes(sector[2348:2352], "little")
        return RawCheck(2, 2, sync_ok, None if stored == 0 else edc(sector[16:2348]) == stored, sector[24:2348])
    return RawCheck(mode, 0, sync_ok, False, b"")


def bcd(n: int) -> int:
    return (n // 10) << 4 | n % 10


def mode1_sector(lba: int, user_data: bytes) -> bytes:
    """A mode 1 sector for the BIN from its 2048 bytes: sync, BCD header (LBA + 150), data, EDC,
    zero intermediate, L-EC parity: what a drive reads raw from a sound sector."""
    if len(user_data) != 2048:
        raise ValueError("mode 1 user data is 2048 bytes")
    x = lba + 150
    head = SYNC + bytes([bcd(x // 4500), bcd(x // 75 % 60), bcd(x % 75), 1]) + user_data
    return lec_fill(head + edc(head).to_bytes(4, "little") + bytes(RAW_BYTES - 2068))


def mode2_form1_sector(lba: int, user_data: bytes, subheader: bytes = bytes([0, 0, 0x08, 0]) * 2) -> bytes:
    """A mode 2 form 1 sector from its 2048 bytes: sync, header (mode 2), subheader (data, unless the
    caller knows the real one), data, EDC over subheader + data, L-EC parity."""
    if len(user_data) != 2048 or len(subheader) != 8:
        raise ValueError("mode 2 form 1 user data is 2048 bytes, its subheader 8")
    x = lba + 150
    body = subheader + user_data
    return lec_fill(SYNC + bytes([bcd(x // 4500), bcd(x // 75 % 60), bcd(x % 75), 2]) + body
                    + edc(body).to_bytes(4, "little") + bytes(RAW_BYTES - 2076))


# -- L-EC (ECMA-130 Annex A) ----------------------------------------------------------------------
# The host's generator is the shift-register form (Horner's rule with alpha, one table for x*alpha,
# one for x/(1+alpha)); the check evaluates the parity-check matrices H_P and H_Q of Annex A
# directly. The simulated drive's own generator solves the two equations instead (sim/ecma130.py).
_ALPHA = [((i << 1) ^ (0x11D if i & 0x80 else 0)) & 0xFF for i in range(256)]     # x * alpha
_OVER_1_PLUS_ALPHA = [0] * 256                                                     # x / (1 + alpha)
for _i in range(256):
    _OVER_1_PLUS_ALPHA[_i ^ _ALPHA[_i]] = _i
_P = (86, 24, 2, 86)      # vectors, length, step between vectors' starts (words), step within (bytes)
_Q = (52, 43, 86, 88)


def _parity(src: bytes | bytearray, count: int, length: int, major_step: int, minor_step: int) -> bytes:
    size = count * length
    out = bytearray(2 * count)
    for major in range(count):
        index = (major >> 1) * major_step + (major & 1)
        a = b = 0
        for _ in range(length):
            byte = src[index]
            index += minor_step
            if index >= size:
                index -= size
            a = _ALPHA[a ^ byte]
            b ^= byte
        p = _OVER_1_PLUS_ALPHA[_ALPHA[a] ^ b]
        out[major], out[major + count] = p, p ^ b
    return bytes(out)


def _lec_body(sector: bytes) -> bytearray:
    body = bytearray(sector[12:])
    if sector[15] == 2:
        body[0:4] = bytes(4)              # mode 2: the header is not covered
    return body


def lec_fill(sector: bytes) -> bytes:
    """`sector` (2352 bytes, EDC in place) with its P and Q parity computed."""
    body = _lec_body(sector)
    body[2064:2236] = _parity(body, *_P)
    body[2236:2340] = _parity(body, *_Q)
    return sector[:16] + bytes(body[4:]) if sector[15] == 2 else sector[:12] + bytes(body)


def _times_alpha_to(k: int) -> list[int]:
    table = list(range(256))
    for _ in range(k):
        table = [_ALPHA[x] for x in table]
    return table


_WEIGHT = [_times_alpha_to(k) for k in range(45)]       # x * alpha^k


def lec_ok(sector: bytes) -> bool:
    """Whether every P and Q vector of `sector` has zero syndromes (H_P, H_Q of ECMA-130 Annex A)."""
    body = _lec_body(sector)
    for plane in (0, 1):
        vectors = [[body[2 * (43 * m + n) + plane] for m in range(26)] for n in range(43)]
        vectors += [[body[2 * ((44 * m + 43 * n) % 1118) + plane] for m in range(43)]
                    + [body[2 * (1118 + n) + plane], body[2 * (1144 + n) + plane]] for n in range(26)]
        for v in vectors:
            s0 = s1 = 0
            for i, byte in enumerate(v):
                s0 ^= byte
                s1 ^= _WEIGHT[len(v) - 1 - i][byte]
            if s0 or s1:
                return False
    return True
