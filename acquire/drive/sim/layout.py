"""The simulated disc's layout: which LBAs hold which track's data, and which are not recorded.

Built once from the profile (profile.py). A disc without [[track]]s is one mode 1 track over the
whole disc; tracks beside a [disc] image partition it (one session, no gaps). Tracks with their
own images are placed at their `start`s, and every LBA between them is not recorded:

    run-out       the 2 blocks after a TAO data track's data (Orange Book; counted in its size)
    link          between two tracks of one session (link, run-in and the next one's pre-gap)
    session-gap   between sessions: lead-out + next lead-in + pre-gap (CD ~11,400 after the
                  first session, ~6,900 after later ones; DVD±R border-out + border-in)
    unrecorded    past the last track, up to READ CAPACITY (an appendable disc's blank area)

A READ touching them fails with NOT_RECORDED_SENSE (docs/simulated-drive.md gives the sources),
or what [disc] runout_sense / gap_sense / unrecorded_sense say.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from .profile import AUDIO, MODE1, Profile

RUN_OUT, LINK, SESSION_GAP, UNRECORDED = "run-out", "link", "session-gap", "unrecorded"
# kind -> (SK, ASC, ASCQ) a real drive answers a READ there with (docs/simulated-drive.md "Not recorded")
NOT_RECORDED_SENSE: dict[str, tuple[int, int, int]] = {
    RUN_OUT: (0x05, 0x64, 0x00),       # kernel log of a TAO CD-R's run-out READ: "Illegal mode for this track"
    LINK: (0x05, 0x64, 0x00),
    SESSION_GAP: (0x05, 0x64, 0x00),   # DiscImageCreator issue 70: READ CD between sessions, 05/64/00
    UNRECORDED: (0x08, 0x00, 0x00),    # BLANK CHECK: "encountered blank medium ... while reading"
}
_OVERRIDE_KIND = {RUN_OUT: "run-out", LINK: "gap", SESSION_GAP: "gap", UNRECORDED: "unrecorded"}


@dataclass(frozen=True, slots=True)
class Span:
    """One track as laid out: its data [start, data_end), then its run-out up to `end`."""

    number: int
    session: int
    mode: str
    start: int
    data_end: int
    end: int
    image: Path | None = None
    write: str = "sao"
    open: bool = False

    @property
    def size(self) -> int:
        return self.end - self.start


class SimLayout:
    def __init__(self, profile: Profile) -> None:
        self.capacity = profile.capacity              # what READ CAPACITY reports
        self.end = profile.addressable                # what a READ may name
        self.finalized = profile.finalized
        self.spans = _spans(profile)
        gaps: list[tuple[int, int, str]] = []
        for a, b in zip(self.spans, self.spans[1:]):
            if a.end > a.data_end:
                gaps.append((a.data_end, a.end, RUN_OUT))
            if b.start > a.end:
                gaps.append((a.end, b.start, LINK if a.session == b.session else SESSION_GAP))
        last = self.spans[-1]
        if last.end > last.data_end:
            gaps.append((last.data_end, last.end, RUN_OUT))
        if self.end > last.end:
            gaps.append((last.end, self.end, UNRECORDED))
        self.gaps = gaps
        self._gap_firsts = [g[0] for g in gaps]
        self._starts = [s.start for s in self.spans]
        overrides = dict(profile.not_recorded_sense)
        self.sense = {kind: overrides.get(_OVERRIDE_KIND[kind], sense) for kind, sense in NOT_RECORDED_SENSE.items()}

    # -- questions --------------------------------------------------------------------------------
    def not_recorded(self, lba: int, count: int) -> tuple[int, str] | None:
        """(first LBA, kind) of the first not-recorded sector in [lba, lba + count), or None."""
        i = max(bisect.bisect_right(self._gap_firsts, lba) - 1, 0)
        for first, end, kind in self.gaps[i:]:
            if first >= lba + count:
                return None
            if end > lba:
                return max(first, lba), kind
        return None

    def span_at(self, lba: int) -> Span | None:
        i = bisect.bisect_right(self._starts, lba) - 1
        if i >= 0 and self.spans[i].start <= lba < self.spans[i].end:
            return self.spans[i]
        return None

    @property
    def sessions(self) -> list[int]:
        return sorted({s.session for s in self.spans})

    def session_spans(self, session: int) -> list[Span]:
        return [s for s in self.spans if s.session == session]

    @property
    def last_open(self) -> bool:
        return self.spans[-1].open

    @property
    def appendable(self) -> bool:
        """Sessions may still be added: not finalized, an open session, or blank space left."""
        return not self.finalized or self.last_open or self.end > self.spans[-1].end

    @property
    def toc_spans(self) -> list[Span]:
        """What READ TOC lists: the closed sessions' tracks (an open session is in no TOC yet,
        only in the PMA and READ TRACK INFORMATION), or the open tracks when nothing is closed."""
        closed = [s for s in self.spans if not s.open]
        return closed or self.spans

    @property
    def has_mode2(self) -> bool:
        return any(s.mode not in (MODE1, AUDIO) for s in self.spans)


def _spans(profile: Profile) -> list[Span]:
    tracks = profile.tracks
    if not tracks:
        return [Span(1, 1, MODE1, 0, profile.capacity, profile.capacity)]
    if not profile.laid_out:
        ends = [t.start for t in tracks[1:]] + [profile.capacity]
        return [Span(t.number, 1, t.mode, t.start, end, end) for t, end in zip(tracks, ends)]
    return [Span(t.number, t.session, t.mode, t.start, t.start + t.sectors, t.start + t.sectors + t.runout,
                 t.image, t.write, t.open) for t in tracks]
