"""Pre-gaps (INDEX 00) and the hidden track one audio, from the Q subchannel as read.

The TOC gives each track's INDEX 01 only. Where a track's pre-gap begins is in Q alone: the
sectors before INDEX 01 carry the track's number with INDEX 00 (IEC 60908; ECMA-130 22.3.3).
The audio rip reads every sector's Q anyway (rip.TrackRip.subchannel), so a track's pre-gap is
found in the Q of the track before it, with no extra reads: the lowest LBA of the unbroken run of
sound INDEX 00 frames of that track ending at its start (frames whose CRC fails are skipped,
a sound frame of anything else ends the run).

A hidden track one audio (HTOA) is audio in track 1's pre-gap on a disc whose track 1 starts
past LBA 0 (what lies before track 1's INDEX 01 is its pre-gap: no other track is there; the Q of
the sector before track 1, track 1 INDEX 00, confirms it where the drive gives Q). It is ripped as "track 0"
(LBA 0 to track 1's start) into the BIN before track 1 and its own WAV, and the CUE gives track 1
INDEX 00 at 00:00:00 (the layout CDRWIN, EAC and whipper write for it).
"""
from __future__ import annotations

from ..errors import MalformedResponse
from .subq import QFrame, parse_q, q_from_raw

SUB_RAW, SUB_Q = 1, 2


def q_of(sub: bytes | None, selection: int) -> QFrame | None:
    """The sound mode 1 (position) Q frame in one sector's subchannel, else None."""
    if not sub or selection not in (SUB_RAW, SUB_Q):
        return None
    try:
        frame = parse_q(sub[:12] if selection == SUB_Q else q_from_raw(sub))
    except MalformedResponse:
        return None
    return frame if frame.crc_ok and frame.adr == 1 else None


def pregap_from_q(subs: dict[int, bytes], selection: int, track: int, start: int, floor: int) -> int:
    """Sectors of `track`'s INDEX 00 before its `start`, from the Q frames `subs` (LBA -> the
    sector's subchannel) of [floor, start); 0 when none says so."""
    if selection not in (SUB_RAW, SUB_Q):
        return 0
    first = start
    for lba in range(start - 1, floor - 1, -1):
        frame = q_of(subs.get(lba), selection)
        if frame is None:
            continue
        if frame.track != track or frame.index != 0:
            break
        first = lba
    return start - first


def htoa_at(reader, track1_start: int, sector_type: int) -> bool:
    """Whether the sector before track 1 is its INDEX 00 (READ CD of that one sector with its Q)."""
    if track1_start <= 0 or not reader.subchannel:
        return False
    got = reader.read(track1_start - 1, 1, sector_type=sector_type)
    frame = q_of(got.sub[0] if got.ok and got.sub else None, reader.subchannel)
    return frame is not None and frame.track == 1 and frame.index == 0


def is_silent(pcm: bytes) -> bool:
    """Digital silence: every sample zero (an HTOA of silence is a pre-gap, not a hidden track)."""
    return not pcm.strip(b"\0")
