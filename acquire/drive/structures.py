"""The disc's identifying structures, read once before the copy: CD ATIP, PMA and CD-TEXT; DVD
physical format, copyright, DMI and BCA; BD disc information (docs/imaging.md "Disc structures").

Each is kept raw (the record stores its bytes and their SHA-256, under the seal) and parsed. A
structure the disc does not have (a pressed CD has no ATIP, most DVDs no BCA) is simply absent:
asking is no fallback, so nothing is noted. The identity check on resume compares the SHA-256 of
those that do not change when a session is added (IDENTITY_STRUCTURES).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any, Callable

from ..errors import MalformedResponse
from . import mmc
from .mmc.cdtext import summary as cd_text_summary
from .device import Drive, Medium

# the structures that stay when sessions are appended: what says "the same disc" on resume
IDENTITY_STRUCTURES = ("atip", "cd_text", "mcn", "isrc", "dvd_physical", "dvd_copyright", "dvd_dmi", "dvd_bca",
                       "bd_disc_information")
MAX_ISRC_TRACKS = 99


@dataclass(frozen=True, slots=True)
class Structure:
    name: str
    command: str                     # how it was asked for
    raw: bytes
    parsed: dict[str, Any] | None    # None: the bytes did not parse (kept raw all the same)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value), "hex": bytes(value[:64]).hex()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _cd_text(parsed: mmc.CdText) -> dict:
    return cd_text_summary(parsed)


# name -> (family, command name, CDB, parser, summary of the parsed value)
_ASK: list[tuple[str, str, str, Callable[[], bytes], Callable, Callable]] = [
    ("atip", "cd", "READ TOC format 4", lambda: mmc.read_toc(mmc.TOC_FORMAT_ATIP, allocation_length=256),
     mmc.parse_atip, _plain),
    ("pma", "cd", "READ TOC format 3", lambda: mmc.read_toc(mmc.TOC_FORMAT_PMA, allocation_length=4096),
     mmc.parse_pma, lambda entries: {"entries": len(entries)}),
    ("cd_text", "cd", "READ TOC format 5", lambda: mmc.read_toc(mmc.TOC_FORMAT_CD_TEXT, allocation_length=0xFFFE),
     mmc.parse_cd_text, _cd_text),
    ("dvd_physical", "dvd", "READ DISC STRUCTURE 00h",
     lambda: mmc.read_disc_structure(mmc.DISC_STRUCTURE_PHYSICAL, allocation_length=2052),
     mmc.parse_dvd_physical_format, _plain),
    ("dvd_copyright", "dvd", "READ DISC STRUCTURE 01h",
     lambda: mmc.read_disc_structure(mmc.DISC_STRUCTURE_COPYRIGHT, allocation_length=8), mmc.parse_copyright, _plain),
    ("dvd_dmi", "dvd", "READ DISC STRUCTURE 04h",
     lambda: mmc.read_disc_structure(mmc.DISC_STRUCTURE_DMI, allocation_length=2052), mmc.parse_dmi, _plain),
    ("dvd_bca", "dvd", "READ DISC STRUCTURE 03h",
     lambda: mmc.read_disc_structure(mmc.DISC_STRUCTURE_BCA, allocation_length=192), mmc.parse_bca, _plain),
    ("bd_disc_information", "bd", "READ DISC STRUCTURE BD 00h",
     lambda: mmc.read_disc_structure(mmc.BD_DISC_INFORMATION, media_type=mmc.BD_MEDIA, allocation_length=4100),
     mmc.parse_bd_disc_information, _plain),
]
_LENGTHS = {"READ TOC format 4": 256, "READ TOC format 3": 4096, "READ TOC format 5": 0xFFFE,
            "READ DISC STRUCTURE 00h": 2052, "READ DISC STRUCTURE 01h": 8, "READ DISC STRUCTURE 04h": 2052,
            "READ DISC STRUCTURE 03h": 192, "READ DISC STRUCTURE BD 00h": 4100}


def disc_geometry(structures: dict[str, Structure]) -> tuple[float | None, float | None, float | None]:
    """(start radius m, track pitch m, 1x velocity m/s) as the disc says them, any of them None:
    a DVD's physical format information names its track pitch and linear density (hence its
    velocity: a dual-layer disc runs at 3.83 m/s, not 3.49), a BD's disc information its channel
    bit length (a 27 GB layer runs at 4.55 m/s, not 4.92); nothing here names the start radius.
    The adaptive engine starts its spiral fit from this (Settings.spiral_hint)."""
    pfi, di = structures.get("dvd_physical"), structures.get("bd_disc_information")
    if pfi is not None and pfi.parsed is not None:
        parsed = mmc.parse_dvd_physical_format(pfi.raw)
        return (None, parsed.track_pitch_m, parsed.velocity_m_s)
    if di is not None and di.parsed is not None:
        return (None, None, mmc.parse_bd_disc_information(di.raw).velocity_m_s)
    return (None, None, None)


def read_structures(drive: Drive, medium: Medium) -> dict[str, Structure]:
    """Every structure of the disc's family the drive gives, raw and parsed."""
    out: dict[str, Structure] = {}
    toc0 = None
    if medium.family == "cd":
        toc0 = drive.data(mmc.read_toc(mmc.TOC_FORMAT_TOC, allocation_length=0xFFFE), 0xFFFE,
                          what="READ TOC format 0", note=False)
    for name, family, command, cdb, parser, summary in _ASK:
        if family != medium.family:
            continue
        raw = drive.data(cdb(), _LENGTHS[command], what=command, note=False)
        if not raw:
            continue
        if command.startswith("READ TOC") and toc0 and _same_answer(raw, toc0):
            continue          # an SFF-8020 drive (QEMU's ide-cd) answers format 0 whatever byte 2 asks
        try:
            parsed = summary(parser(raw))
        except MalformedResponse:
            parsed = None
        out[name] = Structure(name, command, bytes(raw), parsed)
    if medium.family == "cd":
        out.update(_sub_channel(drive, medium))
    return out


def _sub_channel(drive: Drive, medium: Medium) -> dict[str, Structure]:
    """The MCN, and each track's ISRC (READ SUB-CHANNEL 02h, 03h), where the disc has them."""
    out: dict[str, Structure] = {}
    raw = drive.data(mmc.read_sub_channel(mmc.SUB_CHANNEL_MCN), 24, what="READ SUB-CHANNEL 02h", note=False)
    mcn = _parsed_or_none(mmc.parse_mcn, raw)
    if mcn:
        out["mcn"] = Structure("mcn", "READ SUB-CHANNEL 02h", bytes(raw), {"mcn": mcn})
    tracks = [e.track for e in (medium.toc.entries if medium.toc else ()) if e.track != mmc.LEADOUT_TRACK]
    answers, isrc = b"", {}
    for track in tracks[:MAX_ISRC_TRACKS]:
        raw = drive.data(mmc.read_sub_channel(mmc.SUB_CHANNEL_ISRC, track=track), 24,
                         what=f"READ SUB-CHANNEL 03h track {track}", note=False)
        code = _parsed_or_none(mmc.parse_isrc, raw)
        if code:
            answers += bytes(raw)
            isrc[str(track)] = code
    if isrc:
        out["isrc"] = Structure("isrc", "READ SUB-CHANNEL 03h", answers, {"isrc": isrc})
    return out


def _parsed_or_none(parser, raw):
    if not raw:
        return None
    try:
        return parser(raw)
    except MalformedResponse:
        return None


def _same_answer(a: bytes, b: bytes) -> bool:
    """Two READ TOC answers alike up to their data length (padding past it is the drive's)."""
    def cut(x: bytes) -> bytes:
        return bytes(x[:2 + int.from_bytes(x[:2], "big")]) if len(x) >= 2 else bytes(x)
    return cut(a) == cut(b)


def identity_hashes(structures: dict[str, Structure]) -> dict[str, str]:
    """name -> SHA-256 of the structures that identify the disc (IDENTITY_STRUCTURES)."""
    return {name: s.sha256 for name, s in sorted(structures.items()) if name in IDENTITY_STRUCTURES}
