"""Per-track checksums the online databases are keyed by, computed at acquisition and stored, so a
later check needs no network now.

AccurateRip (as the Hydrogenaudio/dBpoweramp descriptions give it): each stereo sample is read as a
32-bit little-endian word x_i with its position i from 1; v1 = sum(i * x_i) mod 2^32, v2 = sum of
the low and the high 32 bits of each 64-bit product, mod 2^32. The disc's first track leaves out
i < 5*588, its last track i > n - 5*588 (the drives' offsets disagree there).
CRC32 is zlib's over the track's bytes (what EAC and whipper call "Copy CRC").
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SKIP = 5 * 588
MASK = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class TrackSums:
    ar_v1: int
    ar_v2: int
    crc32: int

    def as_hex(self) -> dict[str, str]:
        return {"accuraterip_v1": f"{self.ar_v1:08x}", "accuraterip_v2": f"{self.ar_v2:08x}",
                "crc32": f"{self.crc32:08x}"}


def accuraterip(pcm: bytes, first: bool, last: bool) -> tuple[int, int]:
    """(v1, v2) of one track's 16-bit stereo PCM (a multiple of 4 bytes)."""
    if len(pcm) % 4:
        raise ValueError("CD-DA PCM is whole stereo samples (4 bytes each)")
    n = len(pcm) // 4
    low = SKIP if first else 1
    high = n - SKIP if last else n
    v1 = v2 = 0
    words = struct.unpack(f"<{n}I", pcm)
    for i in range(max(low, 1), min(high, n) + 1):
        product = words[i - 1] * i
        v1 += product
        v2 += (product & MASK) + (product >> 32)
    return v1 & MASK, v2 & MASK


def track_sums(pcm: bytes, first: bool, last: bool) -> TrackSums:
    v1, v2 = accuraterip(pcm, first, last)
    return TrackSums(v1, v2, zlib.crc32(pcm) & MASK)
