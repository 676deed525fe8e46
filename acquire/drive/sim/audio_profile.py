"""[drive] keys of the simulated drive's audio side (sim/audio.py): its read offset, whether it
reports C2 error pointers and subchannel, whether it reads into the lead-out, whether raw data
sectors carry a real EDC. profile.py calls `parse_audio_drive` and keeps the result as Profile.audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from .checks import _get

KEYS = {"read_offset", "c2", "subchannel", "overread", "raw_edc"}
MAX_OFFSET = 5 * 588           # AccurateRip's list has none past a few thousand samples


@dataclass(frozen=True, slots=True)
class AudioDrive:
    read_offset: int = 0        # samples: the AccurateRip correction; the drive delivers sample p - offset at p
    c2: bool = True             # READ CD may ask for C2 error pointers (else 05/24/00)
    subchannel: bool = True     # READ CD may ask for raw P-W or formatted Q (else 05/24/00)
    overread: bool = False      # READ CD of audio may name LBAs past the disc's end (the lead-out: silence)
    raw_edc: bool = False       # raw data sectors carry ECMA-130's EDC and L-EC (false: zero, as QEMU's ide-cd)


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
    return AudioDrive(**values)
