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
