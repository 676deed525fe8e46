"""Per-track checksums the online databases are keyed by, computed at acquisition and stored, so a
later check needs no network now.

AccurateRip (as the Hydrogenaudio/dBpoweramp descriptions give it): each stereo sample is read as a
32-bit little-endian word x_i with its position i from 1; v1 = sum(i * x_i) mod 2^32, v2 = sum of
the low and the high 32 bits of each 64-bit product, mod 2^32. The disc's first track leaves out
i < 5*588, its last track i > n - 5*588 (the drives' offsets disagree there).
CRC32 is zlib's over the track's bytes (what EAC and whipper call "Copy CRC").

CTDB (the CUETools database, cue.tools/wiki/CUETools_Database; CUETools' AccurateRip.cs CTDBCRC
and CDRepair.cs, gchudov/cuetools.net): zlib's CRC32 over the disc's audio, track 1's INDEX 01 to
the last audio track's end (an HTOA and a data track left out), less a guard band at each end for
the drives' offsets: stride = 10 * 588 * 2 16-bit words, so the first 5,880 samples (10 sectors)
and the last 5,880 + (N mod 5,880) samples of the N (laststride/2: stride + 2N mod stride words).
Each track's CRC (CTDB's "trackcrcs") is the same CRC over its own part of that range, INDEX 01
to the next INDEX 01; the disc's (its CTDBID) over the whole range.
"""
from __future__ import annotations

import array
import sys
import zlib
from operator import mul
from dataclasses import dataclass, field

SKIP = 5 * 588
MASK = 0xFFFF_FFFF
CTDB_GUARD = 10 * 588            # stride / 2 (CUETools.CTDB: stride = 10 * 588 * 2 words)


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


def ctdb_span(samples: int, first: bool, last: bool, disc_samples: int) -> tuple[int, int]:
    """[lo, hi) samples of a track (`samples` long) that CTDB's CRCs cover, on a disc of
    `disc_samples` audio samples (CUETools' prefix stride/2 and suffix laststride/2)."""
    lo = CTDB_GUARD if first else 0
    hi = samples - (CTDB_GUARD + disc_samples % CTDB_GUARD if last else 0)
    return min(lo, samples), max(hi, min(lo, samples))


@dataclass
class CtdbSums:
    """The CTDB CRCs of a disc, fed one audio track at a time in disc order (no track kept): a
    running CRC, so not frozen."""
    disc_samples: int
    disc_crc: int = 0
    tracks: dict[int, int] = field(default_factory=dict)

    def add(self, number: int, pcm: bytes, first: bool, last: bool) -> int:
        lo, hi = ctdb_span(len(pcm) // 4, first, last, self.disc_samples)
        part = memoryview(pcm)[4 * lo:4 * hi]
        self.disc_crc = zlib.crc32(part, self.disc_crc)
        crc = zlib.crc32(part) & MASK
        self.tracks[number] = crc
        return crc

    def as_dict(self) -> dict:
        return {"crc": f"{self.disc_crc & MASK:08x}",
                "track_crcs": {str(n): f"{c:08x}" for n, c in sorted(self.tracks.items())}}
