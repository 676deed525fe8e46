"""The simulated drive's own ECMA-130 codes, written from the standard's definitions (not from the
host's acquire/audio/ecma130.py, which is table-driven: the two check each other in the tests).

EDC (ECMA-130 14.3): P(x) = (x^16 + x^15 + x^2 + 1)(x^16 + x^2 + x + 1)
                          = x^32 + x^31 + x^16 + x^15 + x^4 + x^3 + x + 1,
computed LSB first over the bytes it covers (reveng's CRC-32/CD-ROM-EDC: poly 8001801Bh reflected,
init 0, xorout 0). Q subchannel CRC (IEC 60908): x^16 + x^12 + x^5 + 1 over the 80 Q bits, inverted.
"""
from __future__ import annotations

_EDC_POLY_REFLECTED = 0xD801_8001      # 8001801Bh bit-reversed


def edc_bitwise(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_EDC_POLY_REFLECTED if crc & 1 else 0)
    return crc


def q_crc_bitwise(data: bytes) -> int:
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) & 1
            crc = (crc << 1) & 0xFFFF
            if top ^ ((byte >> bit) & 1):
                crc ^= 0x1021
    return crc ^ 0xFFFF


# -- L-EC (ECMA-130 Annex A): RSPC over GF(2^8), x^8 + x^4 + x^3 + x^2 + 1, alpha = 2 ---------------
# The 2340 bytes from the header on (a mode 2 sector's header counted as zero) are 1170 16-bit words
# in two byte planes. P vectors (43 per plane): words 43*M + N, M = 0..25, the last two parity;
# Q vectors (26 per plane): words (44*M + 43*N) mod 1118, M = 0..42, then words 1118 + N, 1144 + N.
# Each vector v satisfies sum v_i = 0 and sum alpha^(len-1-i) v_i = 0; the two parity bytes solve
# these two equations: p = (S0 + S1) / (1 + alpha), q = S0 + p, over the data's sums S0, S1.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x = (_x << 1) ^ (0x11D if _x & 0x80 else 0)
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[(_LOG[a] - _LOG[b]) % 255]


def _solve(data: list[int]) -> tuple[int, int]:
    n = len(data) + 2
    s0 = s1 = 0
    for i, v in enumerate(data):
        s0 ^= v
        s1 ^= _mul(_EXP[n - 1 - i], v)
    p = _div(s0 ^ s1, 1 ^ 2)
    return p, s0 ^ p


def lec_parity(body: bytearray) -> None:
    """Fill P (bytes 2064-2235) and Q (2236-2339) parity of `body`, the 2340 bytes from the header on."""
    for plane in (0, 1):
        for n in range(43):
            p, q = _solve([body[2 * (43 * m + n) + plane] for m in range(24)])
            body[2 * (43 * 24 + n) + plane], body[2 * (43 * 25 + n) + plane] = p, q
        for n in range(26):
            p, q = _solve([body[2 * ((44 * m + 43 * n) % 1118) + plane] for m in range(43)])
            body[2 * (1118 + n) + plane], body[2 * (1144 + n) + plane] = p, q
