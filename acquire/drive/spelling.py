"""The one spelling of a sense code in logs, the record, traces, profiles and reports: "03/11/05",
hex key/ASC/ASCQ. The real side (sense.py) and the simulated drive (its profiles and trace) both
use it: it is this project's convention, not a byte layout the simulator must check independently
(STYLE.md: sense written 03/11/05 everywhere)."""
from __future__ import annotations

import re

_SENSE_TEXT = re.compile(r"([0-9A-Fa-f]{1,2})/([0-9A-Fa-f]{1,2})/([0-9A-Fa-f]{1,2})")


def sense_text(key: int, asc: int, ascq: int) -> str:
    """(3, 0x11, 5) -> "03/11/05"."""
    return f"{key:02X}/{asc:02X}/{ascq:02X}"


def parse_sense_text(text: str) -> tuple[int, int, int]:
    """"03/11/05" -> (3, 0x11, 5); ValueError, saying what is wrong, for anything else."""
    match = _SENSE_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"sense {text!r} is not KEY/ASC/ASCQ in hex, e.g. 03/11/05")
    key, asc, ascq = (int(part, 16) for part in match.groups())
    if key > 0x0F:
        raise ValueError(f"sense key {key:02X}h in {text!r} is above 0Fh")
    return key, asc, ascq
