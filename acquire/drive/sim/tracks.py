"""[[track]] in the simulated drive's profile: tracks that partition a [disc] image, or tracks that
bring their own images and lay the disc out (sim/layout.py); the [disc] keys that go with them
(capacity, finalized, the not-recorded senses, the disc structures). profile.py calls these.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..spelling import parse_sense_text
from .checks import MAKE_FIXTURES_HINT, _get, _tables
from .codes import SECTOR_BYTES

MODE1 = "mode1"
MODE2_FORM1 = "mode2-form1"
AUDIO = "audio"
TRACK_MODES = (MODE1, MODE2_FORM1, AUDIO)
WRITE_TYPES = ("tao", "sao", "dao")
AUDIO_SECTOR_BYTES = 2352                # CD-DA: 588 stereo samples of 16 bits
_TRACK_KEYS = {"number", "session", "mode", "start", "image", "sectors", "write", "open", "isrc", "pregap",
               "pregap_image", "title", "performer", "songwriter", "composer", "arranger", "message"}
CD_TEXT_KEYS = ("title", "performer", "songwriter", "composer", "arranger", "message")   # pack types 80h-85h


@dataclass(frozen=True, slots=True)
class Track:
    number: int
    start: int                           # first LBA of the track's data
    mode: str = MODE1                    # mode1 | mode2-form1 | audio
    session: int = 1
    sectors: int | None = None           # its data sectors; None: it runs to the next one's start
    image: Path | None = None            # absolute; None: generated content (or the [disc] image)
    write: str = "sao"                   # tao: a data track ends in 2 run-out blocks that fail
    open: bool = False                   # its session is not closed
    isrc: str | None = None              # READ SUB-CHANNEL 03h: 12 characters (ISO 3901)
    pregap: int = 0                      # audio: the sectors before `start` whose Q is this track's INDEX 00
    pregap_image: Path | None = None     # audio: their samples when no track holds them (track 1: HTOA)
    cd_text: tuple[tuple[str, str], ...] = ()   # (title | performer | songwriter, text): its CD-TEXT

    @property
    def runout(self) -> int:
        """TAO run-out blocks after the data (Orange Book: a TAO data track ends in 2 of them)."""
        return 2 if self.write == "tao" and self.mode != AUDIO else 0


def _tracks(fail, entries: Any, capacity: int, family: str) -> tuple[Track, ...]:
    out = []
    for position, label, entry in _tables(fail, entries, "track", _TRACK_KEYS, ("number", "start")):
        number, start = _get(fail, entry, "number", int, label), _get(fail, entry, "start", int, label)
        if number != position:
            raise fail(f"{label} number is {number}, not {position}", hint="number the tracks 1, 2, ... in LBA order")
        for key in ("image", "sectors", "write", "open", "pregap", "pregap_image"):
            if key in entry:
                raise fail(f"{label} {key}: tracks that partition a [disc] image bring no {key}",
                           hint="leave out the [disc] image and give each track its own image")
        if "session" in entry and _get(fail, entry, "session", int, label) != 1:
            raise fail(f"{label} session: tracks that partition a [disc] image are one session",
                       hint="give each track its own image to lay out sessions")
        mode = _get(fail, entry, "mode", str, label) if "mode" in entry else MODE1
        if mode not in (MODE1, MODE2_FORM1):
            raise fail(f"{label} mode {mode!r} is not modelled over a [disc] image", hint="give mode1 or mode2-form1")
        if mode != MODE1 and family != "cd":
            raise fail(f"{label} mode {mode} exists on a CD only")
        previous = out[-1].start if out else -1
        if (position == 1 and start != 0) or start <= previous or start >= capacity:
            raise fail(f"{label} start {start}: the first track starts at 0, each later one after the one "
                       f"before, all before the disc's end ({capacity})")
        out.append(Track(number, start, mode))
    return tuple(out)


def _own_tracks(fail, entries: Any, family: str, base: Path) -> tuple[Track, ...]:
    """Tracks that bring their own images: sessions 1, 2, ... in order, each track after the one
    before (its run-out included); gaps between them are the layout's (sim/layout.py)."""
    out: list[Track] = []
    for position, label, entry in _tables(fail, entries, "track", _TRACK_KEYS, ("number", "start")):
        number, start = _get(fail, entry, "number", int, label), _get(fail, entry, "start", int, label)
        if number != position:
            raise fail(f"{label} number is {number}, not {position}", hint="number the tracks 1, 2, ... in LBA order")
        session = _get(fail, entry, "session", int, label) if "session" in entry else 1
        mode = _get(fail, entry, "mode", str, label) if "mode" in entry else MODE1
        if mode not in TRACK_MODES:
            raise fail(f"{label} mode {mode!r} is unknown", hint="give mode1, mode2-form1 or audio")
        if mode != MODE1 and family != "cd":
            raise fail(f"{label} mode {mode} exists on a CD only")
        write = _get(fail, entry, "write", str, label) if "write" in entry else "sao"
        if write not in WRITE_TYPES:
            raise fail(f"{label} write {write!r} is unknown", hint="give tao, sao or dao")
        if write == "tao" and family != "cd":
            raise fail(f"{label} write tao exists on a CD only (a DVD or BD track has no run-out blocks)",
                       hint="leave write out (sao) for a DVD±R border")
        is_open = _get(fail, entry, "open", bool, label) if "open" in entry else False
        image, sectors = _track_content(fail, entry, base, label, mode)
        previous = out[-1] if out else None
        if previous is not None:
            if session not in (previous.session, previous.session + 1):
                raise fail(f"{label} session {session}: sessions run 1, 2, ... in order")
            if previous.open and session != previous.session:
                raise fail(f"{label}: session {previous.session} is open, so no session can follow it")
            end = previous.start + previous.sectors + previous.runout
            if start < end:
                raise fail(f"{label} start {start} is inside track {previous.number} (which ends at {end - 1})")
        elif session != 1:
            raise fail(f"{label} session {session}: the first track is in session 1")
        isrc = _get(fail, entry, "isrc", str, label) if "isrc" in entry else None
        if isrc is not None and (len(isrc) != 12 or not isrc.isalnum() or not isrc.isascii() or not isrc[5:].isdigit()):
            raise fail(f"{label} isrc {isrc!r} is not 5 letters or digits and 7 digits (ISO 3901)")
        pregap, pregap_image = _pregap(fail, entry, base, label, mode, start, previous)
        out.append(Track(number, start, mode, session, sectors, image, write, is_open, isrc, pregap, pregap_image,
                         _cd_text(fail, entry, label, family)))
    sessions: dict[int, set[bool]] = {}
    for t in out:
        sessions.setdefault(t.session, set()).add(t.open)
    if any(len(v) > 1 for v in sessions.values()):
        raise fail("[[track]] open must be the same for every track of a session")
    return tuple(out)


def _track_content(fail, entry: dict, base: Path, label: str, mode: str) -> tuple[Path | None, int]:
    if ("image" in entry) == ("sectors" in entry):
        raise fail(f"{label} needs exactly one of image and sectors (a disc laid out from tracks has no [disc] image)")
    if "sectors" in entry:
        sectors = _get(fail, entry, "sectors", int, label)
        if sectors < 1:
            raise fail(f"{label} sectors must be at least 1, not {sectors}")
        return None, sectors
    image = (base / _get(fail, entry, "image", str, label)).resolve()
    unit = AUDIO_SECTOR_BYTES if mode == AUDIO else SECTOR_BYTES
    try:
        size = image.stat().st_size
    except OSError:
        raise fail(f"{label} image {image} does not exist or cannot be read", hint=MAKE_FIXTURES_HINT) from None
    if mode == AUDIO and image.suffix.lower() == ".wav":
        size = max(size - 44, 0)          # a canonical 44-byte RIFF header before the samples
    if size == 0 or size % unit:
        raise fail(f"{label} image {image} is {size} bytes, not a positive multiple of {unit}")
    return image, size // unit


def _pregap(fail, entry: dict, base: Path, label: str, mode: str, start: int,
            previous: Track | None) -> tuple[int, Path | None]:
    """An audio track's INDEX 00 (sim/audio.py): inside the audio track before it (whose image holds
    its samples, gaps appended as on the disc), or before any track with its own pregap_image (a
    hidden track one audio: track 1 starting past LBA 0)."""
    if "pregap" not in entry:
        if "pregap_image" in entry:
            raise fail(f"{label} pregap_image needs pregap (its sectors)")
        return 0, None
    pregap = _get(fail, entry, "pregap", int, label)
    if mode != AUDIO or not 1 <= pregap <= start:
        raise fail(f"{label} pregap {pregap}: an audio track's INDEX 00, 1 to {start} sectors before its start")
    first = start - pregap
    if "pregap_image" not in entry:
        if previous is None or previous.mode != AUDIO or previous.start + previous.sectors != start \
                or first < previous.start:
            raise fail(f"{label} pregap {pregap} is not inside the audio track before it",
                       hint="give pregap_image: the pre-gap's own samples (track 1: hidden track one audio)")
        return pregap, None
    if previous is not None and previous.start + previous.sectors + previous.runout > first:
        raise fail(f"{label} pregap_image: the pre-gap overlaps track {previous.number}")
    image, sectors = _track_content(fail, {"image": entry["pregap_image"]}, base, f"{label} pregap_image", AUDIO)
    if sectors != pregap:
        raise fail(f"{label} pregap_image holds {sectors} sectors, not the pregap's {pregap}")
    return pregap, image


def _tracks_end(tracks: tuple[Track, ...]) -> int:
    last = tracks[-1]
    return last.start + last.sectors + last.runout


def _laid_out_capacity(fail, disc: dict, tracks: tuple[Track, ...]) -> int:
    """What READ CAPACITY reports: [disc] capacity, else the end of the last track (its run-out
    counted). More than that leaves an unrecorded area; less is a capacity that lies (open discs)."""
    if "capacity" not in disc:
        closed = [t for t in tracks if not t.open]
        if tracks[-1].open and closed:      # what the closed sessions' lead-out says: a capacity that lies
            return _tracks_end(tuple(closed))
        return _tracks_end(tracks)
    capacity = _get(fail, disc, "capacity", int, "[disc]")
    if capacity < 1:
        raise fail(f"[disc] capacity must be at least 1, not {capacity}")
    return capacity


def _not_recorded_sense(fail, disc: dict) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    out = []
    for key, kind in (("runout_sense", "run-out"), ("gap_sense", "gap"), ("unrecorded_sense", "unrecorded")):
        if key in disc:
            text = _get(fail, disc, key, str, "[disc]")
            try:
                out.append((kind, parse_sense_text(text)))
            except ValueError:
                raise fail(f"[disc] {key} {text!r} is not SK/ASC/ASCQ in hex", hint='e.g. "05/64/00"') from None
    return tuple(out)


def _cd_text(fail, entry: dict, label: str, family: str) -> tuple[tuple[str, str], ...]:
    """A [[track]]'s or [disc]'s CD-TEXT strings (title ... message: 1 to 160 characters)."""
    out = []
    for key in CD_TEXT_KEYS:
        name = key if label != "[disc]" else f"cd_text_{key}"
        if name in entry:
            text = _get(fail, entry, name, str, label)
            if family != "cd" or not 0 < len(text) <= 160:
                raise fail(f"{label} {name} is a CD's CD-TEXT {key} of 1 to 160 characters")
            out.append((key, text))
    return tuple(out)


def _structures(fail, disc: dict, family: str) -> dict[str, Any]:
    """[disc] cd_text_title, cd_text_performer, cd_text_songwriter (a CD's CD-TEXT of the disc), bca (a DVD's BCA, hex), and a DVD's
    linear_density and track_density codes (its physical format information), a BD's
    channel_length code (its disc information): sim/structures.py."""
    out: dict[str, Any] = {}
    disc_text = dict(_cd_text(fail, disc, "[disc]", family))
    if "title" in disc_text:
        out["cd_text_title"] = disc_text["title"]
    out["cd_text_disc"] = tuple(disc_text.items())
    if "mcn" in disc:
        mcn = _get(fail, disc, "mcn", str, "[disc]")
        if family != "cd" or len(mcn) != 13 or not mcn.isdigit():
            raise fail(f"[disc] mcn {mcn!r} is a CD's media catalogue number of 13 digits")
        out["mcn"] = mcn
    if "cd_text_packs" in disc:
        packs = _hex(fail, disc, "cd_text_packs")
        if family != "cd" or not packs or len(packs) % 18 or len(packs) > 0xFFFA:
            raise fail("[disc] cd_text_packs is a CD's CD-TEXT packs as READ TOC format 5 gives them after its "
                       "header: 18 bytes each (CRC included), at most 65,530 bytes, in hex")
        out["cd_text_packs"] = packs
    if "bca" in disc:
        bca = _hex(fail, disc, "bca")
        if family == "cd" or not 12 <= len(bca) <= 188:
            raise fail("[disc] bca is a DVD's or BD's burst cutting area of 12 to 188 bytes, in hex")
        out["bca"] = bca
    for key in ("linear_density", "track_density"):
        if key in disc:
            code = _get(fail, disc, key, int, "[disc]")
            if family != "dvd" or not 0 <= code <= 15:
                raise fail(f"[disc] {key} is a DVD's physical format code, 0 to 15 (ECMA-267), not {code}")
            out[key] = code
    if "channel_length" in disc:
        code = _get(fail, disc, "channel_length", int, "[disc]")
        if family != "bd" or not 0 <= code <= 15:
            raise fail(f"[disc] channel_length is a BD's disc information code, 0 to 15 (1: 25 GB, 2: 27 GB a layer), not {code}")
        out["channel_length"] = code
    return out


def _hex(fail, disc: dict, key: str) -> bytes:
    """A [disc] key given as hex, as bytes."""
    text = _get(fail, disc, key, str, "[disc]")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise fail(f"[disc] {key} {text[:20]!r} is not hex") from None
