"""The disc as recorded: tracks, sessions, and the extents that hold no data, from what the drive says.

Built before the copy from READ CAPACITY, READ TOC (formats 0 and 2), READ DISC INFORMATION, READ
TRACK INFORMATION of every track and, on a DVD, the physical format's data area. The imaging layer
marks each not-recorded extent in the sector map (rescue.sectormap.State.NOT_RECORDED) so that no
engine reads there, and keeps every figure with any disagreement between them in the record
(docs/imaging.md "Discs as recorded"). Not rescue/geometry.py's DiscLayout, which is the spiral.

Kinds of not-recorded extents (docs/reference/mmc.md "Multisession and TAO"):
    run-out       the 2 blocks ending a TAO data track, counted in its size: on a CD-R/RW the last
                  2 sectors of every data track are candidates, probed alone before the copy (a
                  sector a drive refuses as illegal or blank is run-out; one that reads is data;
                  a medium error is left to the engine as damage)
    link          between two tracks of one session (link and run-in blocks, the next pre-gap)
    session-gap   between sessions (lead-out + lead-in + pre-gap; DVD±R border-out + border-in)
    unrecorded    past the last recorded track, up to READ CAPACITY
    audio         an audio track: recorded, but not 2048-byte user data (not in the ISO image)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MalformedResponse
from . import mmc
from .device import Drive, Medium

RUN_OUT, LINK, SESSION_GAP, UNRECORDED, AUDIO = "run-out", "link", "session-gap", "unrecorded", "audio"
KINDS = (RUN_OUT, LINK, SESSION_GAP, UNRECORDED, AUDIO)
RUN_OUT_BLOCKS = 2                    # Orange Book: a TAO data track ends in 2 run-out blocks
RECORDABLE_CD = (0x0009, 0x000A)      # CD-R, CD-RW: where TAO tracks exist
MAX_TRACKS = 99


@dataclass(frozen=True, slots=True)
class LayoutTrack:
    number: int
    session: int
    start: int
    end: int                          # exclusive; a TAO track's run-out counted, as drives count it
    audio: bool = False
    data_mode: int | None = None      # READ TRACK INFORMATION's data mode (1, 2), when given
    source: str = "track information"


@dataclass(frozen=True, slots=True)
class LayoutSession:
    number: int
    start: int
    end: int                          # exclusive: where its lead-out starts
    tracks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NotRecorded:
    start: int
    count: int
    kind: str                         # one of KINDS
    why: str                          # the figures that showed it

    @property
    def end(self) -> int:
        return self.start + self.count


@dataclass(frozen=True, slots=True)
class RecordedLayout:
    """What is recorded where; `sectors` is the image's size (the recorded end, or READ CAPACITY
    when more: the map then says which sectors hold nothing)."""

    sectors: int
    capacity: int
    tracks: tuple[LayoutTrack, ...]
    sessions: tuple[LayoutSession, ...]
    not_recorded: tuple[NotRecorded, ...]
    run_out_candidates: tuple[tuple[int, int], ...] = ()   # (start, count) to probe before the copy
    figures: dict[str, int | str | None] = field(default_factory=dict)
    disagreements: tuple[str, ...] = ()
    appendable: bool = False

    @property
    def recorded_end(self) -> int:
        return max((t.end for t in self.tracks), default=self.capacity)

    def data_session_starts(self) -> list[int]:
        """Each session's first data track's start: where its file system's descriptors are sought
        (an audio session holds none)."""
        return sorted({min(t.start for t in self.tracks if t.session == s.number and not t.audio)
                       for s in self.sessions if any(t.session == s.number and not t.audio for t in self.tracks)})

    def session_of(self, lba: int) -> int | None:
        return next((s.number for s in self.sessions if s.start <= lba < s.end), None)

    def as_dict(self) -> dict:
        return {"sectors": self.sectors, "capacity": self.capacity, "appendable": self.appendable,
                "sessions": [{"session": s.number, "start": s.start, "end": s.end, "tracks": list(s.tracks)}
                             for s in self.sessions],
                "tracks": [{"track": t.number, "session": t.session, "start": t.start, "end": t.end,
                            "audio": t.audio, "data_mode": t.data_mode, "source": t.source} for t in self.tracks],
                "not_recorded": [{"start": n.start, "count": n.count, "kind": n.kind, "why": n.why}
                                 for n in self.not_recorded],
                "run_out_candidates": [list(c) for c in self.run_out_candidates],
                "figures": dict(self.figures), "disagreements": list(self.disagreements)}


@dataclass(frozen=True, slots=True)
class DiscFacts:
    """The drive's answers the layout is built from (None: the drive refused or gave nothing)."""

    capacity: int
    profile: int
    family: str
    toc: mmc.Toc | None = None
    full_toc: mmc.FullToc | None = None
    disc_information: mmc.DiscInformation | None = None
    track_information: tuple[mmc.TrackInformation, ...] = ()
    dvd_data_end: int | None = None   # sectors the DVD physical format's data area holds
    raw: dict[str, str] = field(default_factory=dict)   # command -> response hex, for the record


# -- asking the drive ---------------------------------------------------------------------------

def read_facts(drive: Drive, medium: Medium) -> DiscFacts:
    """Every answer the layout needs; a command the drive refuses is a fallback, not an error."""
    raw: dict[str, str] = {}

    def ask(cdb: bytes, length: int, what: str, parser):
        data = drive.data(cdb, length, what=what)
        if data is None:
            return None
        raw[what] = bytes(data).hex()
        try:
            return parser(data)
        except MalformedResponse:
            return None

    full = None
    if medium.family == "cd":
        # the full TOC's addresses are MSF (Red Book Q); ask with the MSF bit set, as cdrdao and
        # libcdio do: QEMU's scsi-cd answers 4-byte LBAs in the MSF fields when it is clear
        full = ask(mmc.read_toc(mmc.TOC_FORMAT_FULL, msf=True, allocation_length=4096), 4096,
                   "READ TOC format 2", mmc.parse_full_toc)
        # an SFF-8020 drive (QEMU's ide-cd) answers format 0 whatever byte 2 asks: a full TOC has an
        # A0h entry in every session, and nothing else would give one
        if full is not None and not any(e.point == mmc.POINT_FIRST_TRACK for e in full.entries):
            full = None
        if full is not None and not _plausible_full_toc(full):
            full = None
    di = medium.disc_information
    last = _last_track_number(medium.toc, di)
    infos = []
    for number in range(1, min(last, MAX_TRACKS) + 1):
        info = ask(mmc.read_track_information(number), 48, f"READ TRACK INFORMATION track {number}",
                   mmc.parse_track_information)
        if info is None:
            break                             # QEMU answers 05/20/00: the TOC alone then
        infos.append(info)
    dvd_end = None
    if medium.family == "dvd":
        pfi = ask(mmc.read_disc_structure(mmc.DISC_STRUCTURE_PHYSICAL, allocation_length=2052), 2052,
                  "READ DISC STRUCTURE 00h", mmc.parse_dvd_physical_format)
        if pfi is not None and pfi.data_end >= pfi.data_start and pfi.layers == 1:
            dvd_end = pfi.data_end - pfi.data_start + 1
    return DiscFacts(medium.capacity, medium.profile, medium.family, medium.toc, full, di, tuple(infos), dvd_end, raw)


def _last_track_number(toc: mmc.Toc | None, di: mmc.DiscInformation | None) -> int:
    numbers = [e.track for e in toc.entries if e.track != mmc.LEADOUT_TRACK] if toc is not None else []
    last = max(numbers, default=0)
    if di is not None:
        last = max(last, di.last_track_in_last_session)
    return last


# -- the layout ---------------------------------------------------------------------------------

def build_layout(facts: DiscFacts) -> RecordedLayout:
    """The layout these answers describe (see the module docstring); never raises on odd answers."""
    tracks = _tracks(facts)
    figures: dict[str, int | str | None] = {"read_capacity": facts.capacity}
    disagreements: list[str] = []
    if not tracks:       # nothing to go by: one track over the capacity, as before layouts
        tracks = [LayoutTrack(1, 1, 0, facts.capacity, source="read capacity")]
    recorded_end = max(t.end for t in tracks)
    sectors = max(facts.capacity, recorded_end)
    sessions = _sessions(tracks)
    gaps = _gaps(tracks, sectors)
    _figures(facts, tracks, recorded_end, figures, disagreements)
    candidates = ()
    if facts.family == "cd" and facts.profile in RECORDABLE_CD:
        candidates = tuple((t.end - RUN_OUT_BLOCKS, RUN_OUT_BLOCKS) for t in tracks
                           if not t.audio and t.end - t.start > RUN_OUT_BLOCKS)
    di = facts.disc_information
    return RecordedLayout(sectors, facts.capacity, tuple(tracks), tuple(sessions), tuple(gaps), candidates, figures,
                          tuple(disagreements), bool(di is not None and di.appendable))


def _plausible_full_toc(full: mmc.FullToc) -> bool:
    """Every track and lead-out address a valid MSF (seconds < 60, frames < 75) at or after LBA 0:
    an answer that is not MSF (LBAs where MSF belongs) is not a full TOC to build a layout from."""
    points = [e for e in full.entries
              if e.adr == 1 and (1 <= e.point <= 99 or e.point == mmc.POINT_LEADOUT)]
    return bool(points) and all(e.psec < 60 and e.pframe < 75 and e.pmsf_lba >= 0 for e in points)


def _tracks(facts: DiscFacts) -> list[LayoutTrack]:
    """From READ TRACK INFORMATION (start, size, session), else the TOC (the full TOC's lead-outs
    end each session's last track; other tracks end where the next starts)."""
    infos = [i for i in facts.track_information if not i.blank and i.size > 0]
    if infos:
        return [LayoutTrack(i.track, i.session or 1, i.start_lba, i.start_lba + i.size, not i.track_mode & 0x04,
                            i.data_mode if i.data_mode in (1, 2) else None) for i in infos]
    if facts.full_toc is not None:
        out = []
        for session in facts.full_toc.sessions():
            starts = sorted(session.tracks, key=lambda t: t[2])
            for k, (number, control, start) in enumerate(starts):
                end = starts[k + 1][2] if k + 1 < len(starts) else session.leadout_lba
                if end is not None and end > start:
                    out.append(LayoutTrack(number, session.number, start, end, not control & 0x04, source="full TOC"))
        if out:
            return out
    toc = facts.toc
    if toc is None or toc.leadout_lba is None:
        return []
    entries = sorted((e for e in toc.entries if e.track != mmc.LEADOUT_TRACK), key=lambda e: e.start_lba)
    ends = [e.start_lba for e in entries[1:]] + [toc.leadout_lba]
    return [LayoutTrack(e.track, 1, e.start_lba, end, not e.is_data, source="TOC") for e, end in zip(entries, ends)
            if end > e.start_lba >= 0]


def _sessions(tracks: list[LayoutTrack]) -> list[LayoutSession]:
    out = []
    for number in sorted({t.session for t in tracks}):
        mine = [t for t in tracks if t.session == number]
        out.append(LayoutSession(number, min(t.start for t in mine), max(t.end for t in mine),
                                 tuple(t.number for t in mine)))
    return out


def _gaps(tracks: list[LayoutTrack], sectors: int) -> list[NotRecorded]:
    out = []
    ordered = sorted(tracks, key=lambda t: t.start)
    if ordered[0].start > 0:
        out.append(NotRecorded(0, ordered[0].start, LINK, f"track {ordered[0].number} starts at {ordered[0].start}"))
    for a, b in zip(ordered, ordered[1:]):
        if b.start > a.end:
            kind = LINK if a.session == b.session else SESSION_GAP
            why = (f"track {a.number} ends at {a.end - 1}, track {b.number} starts at {b.start}"
                   + ("" if kind == LINK else f" (sessions {a.session} and {b.session})"))
            out.append(NotRecorded(a.end, b.start - a.end, kind, why))
    for t in ordered:
        if t.audio:
            out.append(NotRecorded(t.start, t.end - t.start, AUDIO, f"track {t.number} is audio"))
    last = ordered[-1]
    if sectors > last.end:
        out.append(NotRecorded(last.end, sectors - last.end, UNRECORDED,
                               f"the last track ends at {last.end - 1}, READ CAPACITY reports {sectors} sectors"))
    return sorted(out, key=lambda n: n.start)


def _figures(facts: DiscFacts, tracks: list[LayoutTrack], recorded_end: int, figures: dict, out: list[str]) -> None:
    """Every size the drive gave, and each disagreement with the recorded end, as a sentence."""
    figures["recorded_end"] = recorded_end
    figures["tracks_from"] = tracks[0].source
    if facts.toc is not None and facts.toc.leadout_lba is not None:
        figures["toc_leadout"] = facts.toc.leadout_lba
        if facts.toc.leadout_lba < recorded_end:
            out.append(f"the TOC's lead-out ({facts.toc.leadout_lba}) is before the last recorded sector "
                       f"({recorded_end - 1}): a session is not in the TOC (an open session)")
    if facts.full_toc is not None:
        for session in facts.full_toc.sessions():
            figures[f"full_toc_session_{session.number}_leadout"] = session.leadout_lba
            if session.next_program_area_lba is not None:
                figures[f"full_toc_session_{session.number}_next_program_area"] = session.next_program_area_lba
    di = facts.disc_information
    if di is not None:
        figures.update(disc_status=di.disc_status, last_session_state=di.last_session_state,
                       disc_information_sessions=di.sessions)
        recorded_sessions = len({t.session for t in tracks})
        expected = recorded_sessions + (1 if di.disc_status == 1 and di.last_session_state == 0 else 0)
        if di.sessions != expected and tracks[0].source == "track information":
            out.append(f"disc information counts {di.sessions} sessions, the tracks {recorded_sessions}")
    if facts.capacity < recorded_end:
        out.append(f"READ CAPACITY ({facts.capacity}) ends before the last recorded sector ({recorded_end - 1}): "
                   f"the image runs to {recorded_end}")
    if facts.dvd_data_end is not None:
        figures["dvd_physical_data_area"] = facts.dvd_data_end
        if facts.dvd_data_end != facts.capacity:
            out.append(f"the DVD physical format's data area ({facts.dvd_data_end}) is not READ CAPACITY "
                       f"({facts.capacity})")


def layout_of(drive: Drive, medium: Medium) -> RecordedLayout:
    return build_layout(read_facts(drive, medium))
