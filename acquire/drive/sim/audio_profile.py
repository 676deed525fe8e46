"""[drive] keys of the simulated drive's audio side (sim/audio.py): its read offset, whether it
reports C2 error pointers and subchannel, whether it reads into the lead-out, whether raw data
sectors carry a real EDC. profile.py calls `parse_audio_drive` and keeps the result as Profile.audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from .checks import _get

KEYS = {"read_offset", "c2", "subchannel", "overread", "raw_edc", "read_sub_channel_isrc", "read_sub_channel_mcn"}
SUB_CHANNEL_ISRC = ("disc", "neighbour", "none")
MAX_OFFSET = 5 * 588           # AccurateRip's list has none past a few thousand samples


@dataclass(frozen=True, slots=True)
class AudioDrive:
    read_offset: int = 0        # samples: the AccurateRip correction; the drive delivers sample p - offset at p
    c2: bool = True             # READ CD may ask for C2 error pointers (else 05/24/00)
    subchannel: bool = True     # READ CD may ask for raw P-W or formatted Q (else 05/24/00)
    overread: bool = False      # READ CD of audio may name LBAs past the disc's end (the lead-out: silence)
    raw_edc: bool = False       # raw data sectors carry ECMA-130's EDC and L-EC (false: zero, as QEMU's ide-cd)
    # READ SUB-CHANNEL's answer, which MMC leaves to the drive's last Q frames: "disc" (the disc's codes),
    # "neighbour" (format 03h for track N gives track N+1's ISRC, the last track N-1's), "none" (no
    # ISRC); the MCN: "disc", "none", or 13 digits of another
    read_sub_channel_isrc: str = "disc"
    read_sub_channel_mcn: str = "disc"


def parse_audio_drive(fail, drive: dict) -> AudioDrive:
    values = {}
    if "read_offset" in drive:
        offset = _get(fail, drive, "read_offset", int, "[drive]")
        if abs(offset) > MAX_OFFSET:
            raise fail(f"[drive] read_offset {offset} is beyond ±{MAX_OFFSET} samples")
        values["read_offset"] = offset
    for key in ("c2", "subchannel", "overread", "raw_edc"):
        if key in drive:
            values[key] = _get(fail, drive, key, bool, "[drive]")
    if "read_sub_channel_isrc" in drive:
        value = _get(fail, drive, "read_sub_channel_isrc", str, "[drive]")
        if value not in SUB_CHANNEL_ISRC:
            raise fail(f"[drive] read_sub_channel_isrc {value!r} is one of {', '.join(SUB_CHANNEL_ISRC)}")
        values["read_sub_channel_isrc"] = value
    if "read_sub_channel_mcn" in drive:
        value = _get(fail, drive, "read_sub_channel_mcn", str, "[drive]")
        if value not in ("disc", "none") and not (len(value) == 13 and value.isdigit()):
            raise fail(f"[drive] read_sub_channel_mcn {value!r} is disc, none or a media catalogue number of 13 digits")
        values["read_sub_channel_mcn"] = value
    return AudioDrive(**values)
