"""The simulated drive's profile (TOML): load, check, and hold it (docs/reference/contracts.md "The simulated drive's profile").

Every mistake in a profile is one ProfileError line naming the file and the key (or, for a TOML
syntax error, tomllib's line and column). Damage is kept as sorted inclusive ranges searched with
bisect, never as per-sector sets: a profile may say "0-3000000".

Decisions where docs/reference/contracts.md is silent (keep docs/ in step):
- Damage ranges may not overlap, within one entry or across entries: the profile is refused, naming
  both entries. A sector has exactly one kind, so "which entry wins" never needs answering.
- `sense` is accepted for unreadable and flaky damage only, `failures` for flaky only, `delay_s` for
  slow only (and required there); anything else is a ProfileError rather than silently ignored.
- `[disc] profile` is required; exactly one of `image` and `sectors` must be given.
- [timing] defaults are the example values of docs/simulated-drive.md "The profile"; `speed_x` defaults per profile (24/8/6).
- The [drive] quirk keys and `emulate` presets are checked in quirks.py; a preset's
  INQUIRY strings apply unless the profile gives its own. docs/simulated-drive.md lists them all.
- [[track]] (docs/reference/contracts.md "The simulated drive's profile"): two ways. Beside a [disc]
  image or sectors, the tracks partition it (one session, no gaps: each runs to the next one's
  start). Without them, each track brings its own `image` (or `sectors` of generated content), and
  the disc is laid out from the tracks (sessions, gaps, TAO run-out, an open last session, an
  unrecorded area up to [disc] capacity): sim/layout.py.
"""
from __future__ import annotations

import bisect
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ProfileError
from ..profiles import family_of
from ..spelling import parse_sense_text, sense_text
from .codes import SECTOR_BYTES
from .quirks import KEYS as _QUIRK_KEYS, Quirks, parse_quirks

# profile name -> GET CONFIGURATION profile number (MMC-6 5.3.1, docs/reference/mmc.md "Profiles and families");
# the family comes from the tool's one table (drive/profiles.py), so the simulated disc is read as the
# real one would be. A profile may also be given as its number (profile = 0x0016).
DISC_PROFILES: dict[str, int] = {
    "cd-rom": 0x0008, "cd-r": 0x0009, "cd-rw": 0x000A,
    "dvd-rom": 0x0010, "dvd-r": 0x0011, "dvd-ram": 0x0012, "dvd-rw": 0x0014, "dvd-r-dl": 0x0015,
    "dvd-r-dl-jump": 0x0016, "dvd-rw-dl": 0x0017, "dvd+rw": 0x001A, "dvd+r": 0x001B,
    "dvd+rw-dl": 0x002A, "dvd+r-dl": 0x002B,
    "bd-rom": 0x0040, "bd-r": 0x0041, "bd-r-rrm": 0x0042, "bd-re": 0x0043,
}
DEFAULT_SPEED_X = {"cd": 24, "dvd": 8, "bd": 6}
# bytes/s at 1x (docs/reference/contracts.md "The clock"): CD 75 sectors/s x 2048
RATE_1X = {"cd": 153_600, "dvd": 1_385_000, "bd": 4_495_500}

MODE1 = "mode1"
MODE2_FORM1 = "mode2-form1"
AUDIO = "audio"
TRACK_MODES = (MODE1, MODE2_FORM1, AUDIO)
WRITE_TYPES = ("tao", "sao", "dao")
AUDIO_SECTOR_BYTES = 2352                # CD-DA: 588 stereo samples of 16 bits
DAMAGE_KINDS = ("unreadable", "flaky", "slow", "unstable")
EVENT_KINDS = ("disconnect", "media-change", "not-ready")
DEFAULT_SENSE = (0x03, 0x11, 0x00)       # MEDIUM ERROR, unrecovered read error
DEFAULT_NOT_READY_COUNT = 3
MAKE_FIXTURES_HINT = ("check the path (relative to the profile); the fixture images are made by "
                      "`python fixtures/make_fixtures.py`")

_SECTIONS = {"drive", "disc", "timing", "damage", "event", "track"}
_DRIVE_KEYS = {"vendor", "product", "revision", "serial", "trace", *_QUIRK_KEYS}
_DISC_KEYS = {"profile", "image", "sectors", "capacity", "finalized", "runout_sense", "gap_sense",
              "unrecorded_sense", "cd_text_title", "bca"}
_TIMING_KEYS = {"speed_x", "error_delay_s", "seek_base_s", "seek_full_s", "overhead_s", "sleep_scale"}
_DAMAGE_KEYS = {"lbas", "kind", "sense", "failures", "delay_s", "readable_by"}
# a [[damage]] key of one kind only -> (that kind, its type, its least value, how that is said)
_KIND_KEYS = {"failures": ("flaky", int, 1, "at least 1"), "delay_s": ("slow", float, 0, "zero or more")}
_EVENT_KEYS = {"after_commands", "kind", "count"}
_TRACK_KEYS = {"number", "session", "mode", "start", "image", "sectors", "write", "open"}
_TIMING_DEFAULTS = {"error_delay_s": 8.0, "seek_base_s": 0.08, "seek_full_s": 0.12, "overhead_s": 0.0005,
                    "sleep_scale": 0.0}
# INQUIRY field widths (docs/reference/mmc.md: bytes 8-15 vendor, 16-31 product, 32-35 revision)
_INQUIRY_WIDTHS = {"vendor": 8, "product": 16, "revision": 4, "serial": 248}
_RANGE_RE = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")


@dataclass(frozen=True, slots=True)
class Damage:
    """One [[damage]] entry: its inclusive LBA ranges and what reading them does."""

    number: int                          # 1-based position among the [[damage]] entries
    ranges: tuple[tuple[int, int], ...]  # inclusive (first, last), sorted
    kind: str                            # unreadable | flaky | slow | unstable
    sense: tuple[int, int, int] = DEFAULT_SENSE
    failures: int = 1                    # flaky: attempts that fail before the sector reads
    delay_s: float = 0.0                 # slow: extra cost of each READ touching the sector
    readable_by: tuple[str, ...] = ()    # drives (serial or product) in which these sectors are sound;
                                         # empty: damaged in every drive

    def in_drive(self, serial: str | None, product: str) -> bool:
        """Whether this damage is there in the drive so named: a disc read in two drives differs."""
        return not any(name in (serial, product) for name in self.readable_by)

    @property
    def sense_text(self) -> str:
        return sense_text(*self.sense)


@dataclass(frozen=True, slots=True)
class Event:
    after_commands: int
    kind: str                            # disconnect | media-change | not-ready
    count: int = DEFAULT_NOT_READY_COUNT  # not-ready: commands answered 02/04/01


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

    @property
    def runout(self) -> int:
        """TAO run-out blocks after the data (Orange Book: a TAO data track ends in 2 of them)."""
        return 2 if self.write == "tao" and self.mode != AUDIO else 0


@dataclass(frozen=True, slots=True)
class Profile:
    path: Path
    disc_profile: str                    # a DISC_PROFILES name, or a profile number as hex text
    capacity: int                        # sectors
    image: Path | None = None            # absolute; None for a generated disc
    sectors: int | None = None
    vendor: str = "ACQUIRE"
    product: str = "SIMULATED"
    revision: str = "1.00"
    serial: str | None = None
    trace: Path | None = None            # absolute
    quirks: Quirks = Quirks()             # quirks.py; docs/simulated-drive.md
    speed_x: float = 24
    error_delay_s: float = 8.0
    seek_base_s: float = 0.08
    seek_full_s: float = 0.12
    overhead_s: float = 0.0005
    sleep_scale: float = 0.0             # really sleep cost x this (0: never): lets tests interrupt a run mid-way
    damage: tuple[Damage, ...] = ()
    events: tuple[Event, ...] = ()
    tracks: tuple[Track, ...] = ()       # empty: one mode 1 track over the whole disc
    finalized: bool = True               # false: sessions may be appended (the disc is appendable)
    not_recorded_sense: tuple[tuple[str, tuple[int, int, int]], ...] = ()   # kind -> sense overrides
    laid_out: bool = False               # the tracks bring their own images: sim/layout.py
    cd_text_title: str | None = None     # READ TOC format 5 (CD-TEXT): the album title; None: no CD-TEXT
    bca: bytes | None = None             # READ DISC STRUCTURE 03h: the DVD's BCA; None: none

    @property
    def damage_here(self) -> tuple[Damage, ...]:
        """The damage this drive sees: every entry but those `readable_by` names it."""
        return tuple(d for d in self.damage if d.in_drive(self.serial, self.product))

    @property
    def addressable(self) -> int:
        """LBAs a READ may name without 05/21/00: READ CAPACITY's, or past it up to the last
        track's end when the capacity lies (an open session)."""
        if not self.laid_out:
            return self.capacity
        return max(self.capacity, _tracks_end(self.tracks))

    @property
    def report_information(self) -> bool:
        return self.quirks.information == "first-bad-lba"

    @property
    def profile_number(self) -> int:
        return DISC_PROFILES.get(self.disc_profile) or int(self.disc_profile, 0)

    @property
    def family(self) -> str:
        return family_of(self.profile_number)

    @property
    def rate_1x(self) -> int:
        return RATE_1X[self.family]


class DamageMap:
    """Sorted, non-overlapping inclusive ranges -> Damage, searched with bisect."""

    def __init__(self, damage: tuple[Damage, ...]) -> None:
        spans = sorted((first, last, d) for d in damage for first, last in d.ranges)
        self._firsts = [s[0] for s in spans]
        self._spans = spans

    def touched(self, lba: int, count: int) -> list[tuple[int, int, Damage]]:
        """The damaged spans (first, last, entry) clipped to [lba, lba + count - 1], in LBA order."""
        if count <= 0 or not self._spans:
            return []
        end = lba + count - 1
        i = max(bisect.bisect_right(self._firsts, lba) - 1, 0)
        out = []
        while i < len(self._spans) and self._spans[i][0] <= end:
            first, last, d = self._spans[i]
            if last >= lba:
                out.append((max(first, lba), min(last, end), d))
            i += 1
        return out

    def kind_at(self, lba: int) -> Damage | None:
        hit = self.touched(lba, 1)
        return hit[0][2] if hit else None


def load_profile(path: str | os.PathLike) -> Profile:
    """Read and check a profile; any mistake raises ProfileError (one line, naming file and key)."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{where}: no such profile", hint="give the path of a simulated drive's TOML profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{where}: cannot read the profile ({exc})") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:   # its message ends "(at line L, column C)"
        raise ProfileError(f"{where}: TOML syntax error: {exc}") from exc
    return _build(path, doc)


def _build(path: Path, doc: dict[str, Any]) -> Profile:
    where = str(path)
    base = path.parent

    def fail(message: str, hint: str = "") -> ProfileError:
        return ProfileError(f"{where}: {message}", hint=hint)

    _no_unknown(fail, doc, _SECTIONS, "top level")
    drive = _table(fail, doc, "drive")
    disc = _table(fail, doc, "disc")
    timing = _table(fail, doc, "timing")
    _no_unknown(fail, drive, _DRIVE_KEYS, "[drive]")
    _no_unknown(fail, disc, _DISC_KEYS, "[disc]")
    _no_unknown(fail, timing, _TIMING_KEYS, "[timing]")

    fields = _drive_section(fail, drive, base)
    if "profile" not in disc:
        raise fail("[disc] profile is missing", hint="give profile = \"cd-rom\", \"dvd-rom\" or \"bd-rom\"")
    disc_profile = _disc_profile(fail, disc["profile"])
    family = family_of(DISC_PROFILES.get(disc_profile) or int(disc_profile, 0))
    entries = doc.get("track", [])
    laid_out = ("image" not in disc and "sectors" not in disc and isinstance(entries, list) and bool(entries))
    if laid_out:
        fields["tracks"] = _own_tracks(fail, entries, family, base)
        capacity = _laid_out_capacity(fail, disc, fields["tracks"])
        fields["laid_out"] = True
    else:
        for key in ("capacity", "finalized"):
            if key in disc:
                raise fail(f"[disc] {key} applies to a disc laid out from [[track]]s with their own images")
        capacity = _disc_content(fail, disc, base, fields)
        fields["tracks"] = _tracks(fail, entries, capacity, family)
    if "finalized" in disc:
        fields["finalized"] = _get(fail, disc, "finalized", bool, "[disc]")
    fields["not_recorded_sense"] = _not_recorded_sense(fail, disc)
    fields.update(_structures(fail, disc, family))
    fields.update(_timing_section(fail, timing, family))
    recorded_end = max(capacity, _tracks_end(fields["tracks"])) if laid_out else capacity
    fields["damage"] = _damage(fail, doc.get("damage", []), recorded_end)
    fields["events"] = _events(fail, doc.get("event", []))
    return Profile(path=path, disc_profile=disc_profile, capacity=capacity, **fields)


def _drive_section(fail, drive: dict, base: Path) -> dict[str, Any]:
    """[drive]: the quirks (an emulated drive's INQUIRY strings unless given), identity, trace."""
    fields: dict[str, Any] = {}
    fields["quirks"], identity = parse_quirks(fail, drive, lambda t, k, kind, label: _get(fail, t, k, kind, label))
    fields.update(identity)
    for key in ("vendor", "product", "revision", "serial"):
        if key in drive:
            value = _get(fail, drive, key, str, "[drive]")
            if not value.isascii() or not value.isprintable() or len(value) > _INQUIRY_WIDTHS[key]:
                raise fail(f"[drive] {key} must be printable ASCII of at most {_INQUIRY_WIDTHS[key]} characters, "
                           f"not {value!r}")
            if key == "serial" and not value:
                raise fail("[drive] serial must not be empty (leave it out for a drive without one)")
            fields[key] = value
    if "trace" in drive:
        fields["trace"] = (base / _get(fail, drive, "trace", str, "[drive]")).resolve()
    return fields


def _disc_content(fail, disc: dict, base: Path, fields: dict[str, Any]) -> int:
    """[disc] image or sectors -> the capacity; sets fields["image"] or fields["sectors"]."""
    if ("image" in disc) == ("sectors" in disc):
        raise fail("[disc] needs exactly one of image and sectors")
    if "sectors" in disc:
        capacity = _get(fail, disc, "sectors", int, "[disc]")
        if capacity < 1:
            raise fail(f"[disc] sectors must be at least 1, not {capacity}")
        fields["sectors"] = capacity
        return capacity
    image = (base / _get(fail, disc, "image", str, "[disc]")).resolve()
    try:
        size = image.stat().st_size
    except FileNotFoundError:
        raise fail(f"[disc] image {image} does not exist", hint=MAKE_FIXTURES_HINT) from None
    except OSError as exc:
        raise fail(f"[disc] image {image} cannot be read ({exc.strerror})") from exc
    if not image.is_file():
        raise fail(f"[disc] image {image} is not a regular file")
    if size == 0 or size % SECTOR_BYTES:
        raise fail(f"[disc] image {image} is {size} bytes, not a positive multiple of {SECTOR_BYTES}")
    fields["image"] = image
    return size // SECTOR_BYTES


def _timing_section(fail, timing: dict, family: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"speed_x": DEFAULT_SPEED_X[family], **_TIMING_DEFAULTS}
    for key in _TIMING_KEYS:
        if key in timing:
            value = _get(fail, timing, key, float, "[timing]")
            if value < 0 or (key == "speed_x" and value <= 0):
                raise fail(f"[timing] {key} must be {'positive' if key == 'speed_x' else 'zero or more'}, not {value}")
            fields[key] = value
    return fields


def _damage(fail, entries: Any, capacity: int) -> tuple[Damage, ...]:
    out: list[Damage] = []
    for number, label, entry in _tables(fail, entries, "damage", _DAMAGE_KEYS, ("lbas", "kind")):
        kind = _get(fail, entry, "kind", str, label)
        if kind not in DAMAGE_KINDS:
            raise fail(f"{label} kind {kind!r} is unknown", hint="give unreadable, flaky, slow or unstable")
        ranges = _lbas(fail, entry["lbas"], capacity, label)
        extra: dict[str, Any] = {}
        if "sense" in entry:
            if kind not in ("unreadable", "flaky"):
                raise fail(f"{label} sense applies to unreadable and flaky damage only, not {kind}")
            text = _get(fail, entry, "sense", str, label)
            try:
                extra["sense"] = parse_sense_text(text)
            except ValueError:
                raise fail(f"{label} sense {text!r} is not SK/ASC/ASCQ in hex", hint='e.g. sense = "03/11/05"') from None
        for key, (only, kind_type, least, said) in _KIND_KEYS.items():
            if key in entry:
                if kind != only:
                    raise fail(f"{label} {key} applies to {only} damage only, not {kind}")
                extra[key] = _get(fail, entry, key, kind_type, label)
                if extra[key] < least:
                    raise fail(f"{label} {key} must be {said}, not {extra[key]}")
        if "readable_by" in entry:
            extra["readable_by"] = _drive_names(fail, entry["readable_by"], label)
        if kind == "slow" and "delay_s" not in extra:
            raise fail(f"{label} slow damage needs delay_s", hint="e.g. delay_s = 2.5")
        out.append(Damage(number, ranges, kind, **extra))
    _no_overlap(fail, out)
    return tuple(out)


def _drive_names(fail, value: Any, label: str) -> tuple[str, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v and v.isascii() and v.isprintable() for v in value)):
        raise fail(f"{label} readable_by must be a non-empty list of drive serials or products, not {value!r}",
                   hint='e.g. readable_by = ["SIM-B"]')
    return tuple(value)


def _lbas(fail, value: Any, capacity: int, label: str) -> tuple[tuple[int, int], ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise fail(f"{label} lbas must be a string like \"1000-1031, 5000\", not {type(value).__name__}")
    ranges = []
    for part in value.split(","):
        m = _RANGE_RE.match(part.strip())
        if not m:
            raise fail(f"{label} lbas {value!r}: {part.strip()!r} is not N or N-M",
                       hint='e.g. lbas = "1000-1031, 5000"')
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise fail(f"{label} lbas {value!r}: range {first}-{last} runs backwards")
        if last >= capacity:
            raise fail(f"{label} lbas {value!r}: LBA {last} is past the disc's last LBA {capacity - 1}")
        ranges.append((first, last))
    return tuple(sorted(ranges))


def _no_overlap(fail, damage: list[Damage]) -> None:
    spans = sorted((first, last, d.number) for d in damage for first, last in d.ranges)
    for (f1, l1, n1), (f2, l2, n2) in zip(spans, spans[1:]):
        if f2 <= l1:
            which = f"[[damage]] #{n1}" if n1 == n2 else f"[[damage]] #{n1} and #{n2}"
            raise fail(f"{which} overlap at LBA {f2}-{min(l1, l2)}",
                       hint="give each sector one kind of damage")


def _events(fail, entries: Any) -> tuple[Event, ...]:
    out = []
    for number, label, entry in _tables(fail, entries, "event", _EVENT_KEYS, ("after_commands", "kind")):
        after = _get(fail, entry, "after_commands", int, label)
        if after < 0:
            raise fail(f"{label} after_commands must be zero or more, not {after}")
        kind = _get(fail, entry, "kind", str, label)
        if kind not in EVENT_KINDS:
            raise fail(f"{label} kind {kind!r} is unknown", hint="give disconnect, media-change or not-ready")
        count = DEFAULT_NOT_READY_COUNT
        if "count" in entry:
            if kind != "not-ready":
                raise fail(f"{label} count applies to not-ready events only, not {kind}")
            count = _get(fail, entry, "count", int, label)
            if count < 1:
                raise fail(f"{label} count must be at least 1, not {count}")
        out.append(Event(after, kind, count))
    return tuple(sorted(out, key=lambda e: e.after_commands))


def _tracks(fail, entries: Any, capacity: int, family: str) -> tuple[Track, ...]:
    out = []
    for position, label, entry in _tables(fail, entries, "track", _TRACK_KEYS, ("number", "start")):
        number, start = _get(fail, entry, "number", int, label), _get(fail, entry, "start", int, label)
        if number != position:
            raise fail(f"{label} number is {number}, not {position}", hint="number the tracks 1, 2, ... in LBA order")
        for key in ("image", "sectors", "write", "open"):
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
        out.append(Track(number, start, mode, session, sectors, image, write, is_open))
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


def _structures(fail, disc: dict, family: str) -> dict[str, Any]:
    """[disc] cd_text_title (a CD's CD-TEXT album title) and bca (a DVD's BCA, hex): sim/structures.py."""
    out: dict[str, Any] = {}
    if "cd_text_title" in disc:
        title = _get(fail, disc, "cd_text_title", str, "[disc]")
        if family != "cd" or not title or len(title) > 160:
            raise fail("[disc] cd_text_title is a CD's album title of 1 to 160 characters")
        out["cd_text_title"] = title
    if "bca" in disc:
        text = _get(fail, disc, "bca", str, "[disc]")
        try:
            bca = bytes.fromhex(text)
        except ValueError:
            raise fail(f"[disc] bca {text[:20]!r} is not hex") from None
        if family == "cd" or not 12 <= len(bca) <= 188:
            raise fail("[disc] bca is a DVD's or BD's burst cutting area of 12 to 188 bytes, in hex")
        out["bca"] = bca
    return out


def _table(fail, doc: dict, name: str) -> dict:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise fail(f"{name} must be a [{name}] table")
    return value


def _no_unknown(fail, table: dict, known: set[str], label: str) -> None:
    for key in table:
        if key not in known:
            raise fail(f"{label} has unknown key {key!r}", hint=f"known keys: {', '.join(sorted(known))}")


def _tables(fail, entries: Any, name: str, keys, required: tuple[str, ...]):
    """(position, label, table) of each [[name]] table, once it has only known keys and every
    required one."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise fail(f"{name} must be a list of [[{name}]] tables")
    for position, entry in enumerate(entries, 1):
        label = f"[[{name}]] #{position}"
        _no_unknown(fail, entry, keys, label)
        for key in required:
            if key not in entry:
                raise fail(f"{label} has no {key}")
        yield position, label, entry


def _get(fail, table: dict, key: str, kind: type, label: str) -> Any:
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise fail(f"{label} {key} must be {names[kind]}, not {value!r}")
    return value


def _disc_profile(fail, value) -> str:
    """A profile name of DISC_PROFILES, or an MMC-6 profile number (kept as its hex text) of an
    optical disc the tool knows."""
    if isinstance(value, int) and not isinstance(value, bool):
        if family_of(value) is None:
            raise fail(f"[disc] profile {value:#06x} is not an optical-disc profile of MMC-6",
                       hint="give a name such as \"dvd-r-dl-jump\" or a number such as 0x0016")
        return f"0x{value:04X}"
    if not isinstance(value, str) or value not in DISC_PROFILES:
        raise fail(f"[disc] profile {value!r} is unknown", hint=f"give one of {', '.join(DISC_PROFILES)}, or a number")
    return value
