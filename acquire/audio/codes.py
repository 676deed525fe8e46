"""The MCN and the ISRCs from two independent sources, and which one the record keeps.

READ SUB-CHANNEL (02h, 03h; acquire/drive/structures.py) is the drive's own summary of the Q
frames it met somewhere near the head: MMC does not say which frames, and drives are known to
answer with a neighbouring track's ISRC or none at all (docs/audio.md "ISRC and MCN"). The Q frames
the rip reads (subq.q_codes) are CRC-checked and come from the track's own sectors, so where they
give a code it is kept; READ SUB-CHANNEL's fills in where they give none (a drive without subchannel).
Both are recorded; where both give a code and they differ, that is a disagreement in the record.
"""
from __future__ import annotations

from .subq import QCodes


def preferred(from_q: str | None, from_sub_channel: str | None) -> str | None:
    """The code kept: the Q frames', else READ SUB-CHANNEL's."""
    return from_q or from_sub_channel


def disc_mcn(per_track: dict[int, QCodes]) -> str | None:
    """The MCN the most Q frames of all tracks gave."""
    votes: dict[str, int] = {}
    for codes in per_track.values():
        if codes.mcn:
            votes[codes.mcn] = votes.get(codes.mcn, 0) + codes.mcn_frames
    return max(votes, key=votes.__getitem__, default=None)


def disagreements(mcn_q: str | None, mcn_sub: str | None, isrc_q: dict[str, str],
                  isrc_sub: dict[str, str]) -> list[dict]:
    """Each code both sources give and differ on: {"code", "track", "q", "read_sub_channel"}."""
    out = []
    if mcn_q and mcn_sub and mcn_q != mcn_sub:
        out.append({"code": "mcn", "track": None, "q": mcn_q, "read_sub_channel": mcn_sub})
    for track in sorted(set(isrc_q) & set(isrc_sub), key=int):
        if isrc_q[track] != isrc_sub[track]:
            out.append({"code": "isrc", "track": int(track), "q": isrc_q[track], "read_sub_channel": isrc_sub[track]})
    return out
