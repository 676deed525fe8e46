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
from .checks import MAKE_FIXTURES_HINT, _get, _no_unknown, _table, _tables
from .codes import SECTOR_BYTES
from .audio_profile import KEYS as _AUDIO_KEYS, AudioDrive, parse_audio_drive
from .quirks import KEYS as _QUIRK_KEYS, Quirks, parse_quirks
from .tracks import (AUDIO, AUDIO_SECTOR_BYTES, MODE1, MODE2_FORM1, TRACK_MODES, WRITE_TYPES, Track,  # noqa: F401
                     _laid_out_capacity, _not_recorded_sense, _own_tracks, _structures, _tracks, _tracks_end)

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

DAMAGE_KINDS = ("unreadable", "flaky", "slow", "unstable")
# a confused drive (docs/simulated-drive.md "Events"): every READ GOOD with zeros, or every READ failing
CONFUSED_KINDS = ("confused-zeros", "confused-errors")
EVENT_KINDS = ("disconnect", "media-change", "not-ready", "hang", *CONFUSED_KINDS)
DEFAULT_SENSE = (0x03, 0x11, 0x00)       # MEDIUM ERROR, unrecovered read error
DEFAULT_NOT_READY_COUNT = 3
_SECTIONS = {"drive", "disc", "timing", "damage", "event", "track"}
_DRIVE_KEYS = {"vendor", "product", "revision", "serial", "trace", *_QUIRK_KEYS, *_AUDIO_KEYS}
_DISC_KEYS = {"profile", "image", "sectors", "capacity", "finalized", "runout_sense", "gap_sense",
              "unrecorded_sense", "cd_text_title", "cd_text_performer", "cd_text_songwriter", "cd_text_composer",
              "cd_text_arranger", "cd_text_message", "cd_text_packs", "bca", "mcn", "linear_density", "track_density",
              "channel_length"}
_TIMING_KEYS = {"speed_x", "error_delay_s", "seek_base_s", "seek_full_s", "overhead_s", "sleep_scale"}
_DAMAGE_KEYS = {"lbas", "kind", "sense", "failures", "delay_s", "readable_by", "max_speed_x", "c2"}
# a [[damage]] key of one kind only -> (that kind, its type, its least value, how that is said)
_KIND_KEYS = {"failures": ("flaky", int, 1, "at least 1"), "delay_s": ("slow", float, 0, "zero or more"),
              "max_speed_x": ("flaky", float, 1, "at least 1")}
_EVENT_KEYS = {"after_commands", "kind", "count", "after_errors"}
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
    max_speed_x: float | None = None     # flaky: every READ faster than this fails (a sector that reads
                                         # only slowly); at or below it, `failures` as usual (default 0)
    c2: bool = True                      # audio (sim/audio.py): corrupted samples carry C2 flags

    def in_drive(self, serial: str | None, product: str) -> bool:
        """Whether this damage is there in the drive so named: a disc read in two drives differs."""
        return not any(name in (serial, product) for name in self.readable_by)

    @property
    def sense_text(self) -> str:
        return sense_text(*self.sense)


@dataclass(frozen=True, slots=True)
class Event:
    after_commands: int
    kind: str                            # disconnect | media-change | not-ready | hang
    count: int = DEFAULT_NOT_READY_COUNT  # not-ready: commands answered 02/04/01
    after_errors: int = 0                # and only once this many READs have failed (a burst first)


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
    audio: AudioDrive = AudioDrive()      # audio_profile.py: read offset, C2, subchannel, overread
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
    cd_text_disc: tuple[tuple[str, str], ...] = ()   # [disc] cd_text_*: (title | performer | songwriter, text)
    cd_text_packs: bytes | None = None   # [disc] cd_text_packs: READ TOC format 5's packs verbatim (any type, block)
    bca: bytes | None = None             # READ DISC STRUCTURE 03h: the DVD's BCA; None: none
    mcn: str | None = None               # READ SUB-CHANNEL 02h: the media catalogue number (13 digits)
    linear_density: int = 0              # a DVD's PFI byte 3 bits 7-4 (ECMA-267: 0 0.267, 1 0.293 um/bit)
    track_density: int = 0               # a DVD's PFI byte 3 bits 3-0 (0 0.74, 1 0.80 um/track)
    channel_length: int = 1              # a BD's DI unit byte 13 bits 3-0 (1 74.5 nm: 25 GB, 2 69.0 nm: 27 GB)

    @property
    def cd_text(self) -> dict[str, dict[int, str]]:
        """title | performer | songwriter -> track (0: the disc) -> its CD-TEXT string."""
        out: dict[str, dict[int, str]] = {}
        for track, strings in ((0, self.cd_text_disc), *((t.number, t.cd_text) for t in self.tracks)):
            for key, text in strings:
                out.setdefault(key, {})[track] = text
        return out

    @property
    def isrc(self) -> dict[int, str]:
        """track -> its ISRC (READ SUB-CHANNEL 03h)."""
        return {t.number: t.isrc for t in self.tracks if t.isrc}

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
    fields["audio"] = parse_audio_drive(fail, drive)
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
        if "c2" in entry:
            if kind not in ("flaky", "unstable"):
                raise fail(f"{label} c2 applies to flaky and unstable damage only, not {kind}")
            extra["c2"] = _get(fail, entry, "c2", bool, label)
        if "readable_by" in entry:
            extra["readable_by"] = _drive_names(fail, entry["readable_by"], label)
        if "max_speed_x" in extra and "failures" not in extra:
            extra["failures"] = 0            # speed-dependent: reads at the first slow enough attempt
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
            raise fail(f"{label} kind {kind!r} is unknown", hint=f"give one of {', '.join(EVENT_KINDS)}")
        count = DEFAULT_NOT_READY_COUNT
        if "count" in entry:
            if kind != "not-ready":
                raise fail(f"{label} count applies to not-ready events only, not {kind}")
            count = _get(fail, entry, "count", int, label)
            if count < 1:
                raise fail(f"{label} count must be at least 1, not {count}")
        after_errors = _get(fail, entry, "after_errors", int, label) if "after_errors" in entry else 0
        if after_errors < 0:
            raise fail(f"{label} after_errors must be zero or more, not {after_errors}")
        out.append(Event(after, kind, count, after_errors))
    return tuple(sorted(out, key=lambda e: e.after_commands))


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
