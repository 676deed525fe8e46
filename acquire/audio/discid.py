"""Disc IDs from a CD's table of contents: MusicBrainz's and FreeDB's, computed offline so that
they can be looked up later (no network at acquisition time).

MusicBrainz (musicbrainz.org/doc/Disc_ID_Calculation): SHA-1 of the text "%02X" first track,
"%02X" last track, "%08X" the lead-out offset, then 99 "%08X" track offsets (0 past the last),
offsets in frames from MSF 00:00:00 (LBA + 150); base64 with + / = spelled . _ -. Only the first
session's audio tracks count: a CD-Extra's data session is left out, its lead-out taken as the
data track's start - 11,400 (libdiscid does the same).
FreeDB (CDDB1): (sum of the digit sums of each track's start in seconds) % 255 << 24 |
(lead-out seconds - first track's seconds) << 8 | the number of tracks, over every track.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

PREGAP_FRAMES = 150                 # LBA 0 is MSF 00:02:00
SESSION_GAP = 11_400                # lead-out + lead-in + pre-gap between a CD-Extra's sessions


@dataclass(frozen=True, slots=True)
class TocTrack:
    number: int
    start: int                      # LBA
    audio: bool
    session: int = 1


def musicbrainz_id(first: int, last: int, lead_out_lba: int, starts: list[int]) -> str:
    """The MusicBrainz disc ID of audio tracks first..last starting at `starts` (LBAs)."""
    if not 1 <= first <= last <= 99 or len(starts) != last - first + 1:
        raise ValueError("tracks first..last, one start each, at most 99")
    offsets = [lead_out_lba + PREGAP_FRAMES] + [s + PREGAP_FRAMES for s in starts]
    text = f"{first:02X}{last:02X}" + "".join(f"{o:08X}" for o in offsets)
    text += "0" * 8 * (100 - len(offsets))
    digest = hashlib.sha1(text.encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii").replace("+", ".").replace("/", "_").replace("=", "-")


def musicbrainz_for(tracks: list[TocTrack], lead_out: int) -> str | None:
    """The disc ID by MusicBrainz's rules: a data track after the audio (CD-Extra) is left out."""
    chosen = list(tracks)
    end = lead_out
    while len(chosen) > 1 and not chosen[-1].audio and chosen[-1].session > chosen[0].session:
        end = chosen[-1].start - SESSION_GAP
        chosen.pop()
    if not any(t.audio for t in chosen):
        return None
    return musicbrainz_id(chosen[0].number, chosen[-1].number, end, [t.start for t in chosen])


def freedb_id(tracks: list[TocTrack], lead_out: int) -> str:
    def digit_sum(n: int) -> int:
        return sum(int(d) for d in str(n))
    seconds = [(t.start + PREGAP_FRAMES) // 75 for t in tracks]
    n = sum(digit_sum(s) for s in seconds)
    total = (lead_out + PREGAP_FRAMES) // 75 - seconds[0]
    return f"{(n % 255) << 24 | total << 8 | len(tracks):08x}"
