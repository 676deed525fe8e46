"""Per-track checksums the online databases are keyed by, computed at acquisition and stored, so a
later check needs no network now.

AccurateRip (as the Hydrogenaudio/dBpoweramp descriptions give it): each stereo sample is read as a
32-bit little-endian word x_i with its position i from 1; v1 = sum(i * x_i) mod 2^32, v2 = sum of
the low and the high 32 bits of each 64-bit product, mod 2^32. The disc's first track leaves out
i < 5*588, its last track i > n - 5*588 (the drives' offsets disagree there).
CRC32 is zlib's over the track's bytes (what EAC and whipper call "Copy CRC").
"""
from __future__ import annotations

import array
import sys
import zlib
from operator import mul
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
    low = max(SKIP if first else 1, 1)
    high = min(n - SKIP if last else n, n)
    if high < low:
        return 0, 0
    words = array.array("I")
    words.frombytes(pcm)
    if sys.byteorder == "big":
        words.byteswap()
    # sum(p) = sum(p mod 2^32) + 2^32 sum(p >> 32) for the products p = i * x_i: two C-speed sums
    # give v1 (the low words' sum) and v2 (the low and the high words' sum) without a Python loop
    chosen = words[low - 1:high]
    total = sum(map(mul, range(low, high + 1), chosen))
    low_words = sum(map(MASK.__and__, map(mul, range(low, high + 1), chosen)))
    high_words = (total - low_words) >> 32
    return low_words & MASK, (low_words + high_words) & MASK


def track_sums(pcm: bytes, first: bool, last: bool) -> TrackSums:
    v1, v2 = accuraterip(pcm, first, last)
    return TrackSums(v1, v2, zlib.crc32(pcm) & MASK)
