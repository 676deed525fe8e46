"""The sector map of a rescue: the state of every sector, stored as maximal runs.

A run is a stretch of consecutive sectors in one state. The map keeps two parallel lists, the
sorted run starts and their states; a run ends where the next begins (the last at `sectors`).
Memory and time follow the number of runs, not of sectors: a 100 GB BD-XL (48 million
sectors) that is mostly read costs a few kilobytes.

The map speaks GNU ddrescue's mapfile format (ddrescue 1.27 manual, "Mapfile structure"), so
that ddrescuelog and ddrescueview can read what we write, and a ddrescue map can seed a rescue.
"""
from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["State", "Run", "SectorMap", "SETTLED", "DDRESCUE_STATES"]


class State(enum.IntEnum):
    """How far a sector got. The order matters: a larger value is further along."""

    UNTRIED = 0       # must stay 0: a zero-filled map reads as "not tried"
    NON_TRIMMED = 1   # failed inside a large read; its edges are not yet trimmed
    NON_SCRAPED = 2   # trimmed; not yet read sector by sector
    BAD = 3           # read alone, and failed
    FINISHED = 4      # read, and written to the image
    NOT_RECORDED = 5  # holds no data by design (run-out, link, session gap, unrecorded, audio):
                      # set from the disc's layout before the copy, never read, zero in the image;
                      # neither good nor damaged (docs/rescue.md "Not recorded")

    @property
    def char(self) -> str:
        """The block status character GNU ddrescue writes in a mapfile."""
        return _CHARS[self]

    @classmethod
    def from_char(cls, c: str) -> State:
        try:
            return _FROM_CHAR[c]
        except KeyError:
            raise ValueError(f"{c!r} is not a ddrescue block status (one of {''.join(_CHARS)!r})") from None


# ddrescue 1.27 manual, "Mapfile structure": '?' non-tried, '*' non-trimmed, '/' non-scraped,
# '-' bad-sector, '+' finished. ddrescue has no status for "nothing recorded here": such a block
# is written '+' (its bytes in the image, zeros, are what the disc holds there: nothing to
# rescue, nothing damaged) and named again in a "# not-recorded POS SIZE KIND" comment line,
# which from_ddrescue reads back (ddrescue and ddrescuelog skip comments).
_CHARS = ("?", "*", "/", "-", "+", "+")
_FROM_CHAR = {c: State(i) for i, c in enumerate(_CHARS[:5])}
_STATES = tuple(State)
DDRESCUE_STATES = _STATES[:5]            # the states a ddrescue mapfile can tell apart
# a sector in one of these needs no more reading: a run is complete when every sector is settled
SETTLED = frozenset({State.FINISHED, State.NOT_RECORDED})
_NOT_RECORDED_COMMENT = "# not-recorded"

# the current_status of a mapfile's status line (same manual section): copying, trimming,
# scraping, retrying, filling, generating, finished
_CURRENT_STATUS_CHARS = "?*/-FG+"


@dataclass(frozen=True, slots=True)
class Run:
    start: int
    count: int
    state: State

    @property
    def end(self) -> int:
        """The first sector after the run (exclusive)."""
        return self.start + self.count


class SectorMap:
    """The state of each of `sectors` sectors, kept as maximal runs (no two neighbours share a state)."""

    __slots__ = ("sectors", "_starts", "_states", "_counts")

    def __init__(self, sectors: int, state: State = State.UNTRIED) -> None:
        if sectors < 0:
            raise ValueError(f"a sector map cannot have {sectors} sectors")
        state = State(state)
        self.sectors = sectors
        self._starts: list[int] = [0] if sectors else []
        self._states: list[State] = [state] if sectors else []
        self._counts = [0] * len(_STATES)
        self._counts[state] = sectors

    # -- changes ----------------------------------------------------------------------------
    def set(self, start: int, count: int, state: State) -> None:
        """Put sectors [start, start+count) in `state`, merging with neighbours of that state."""
        end = start + count
        if start < 0 or count < 0 or end > self.sectors:
            raise ValueError(f"sectors {start}..{end - 1} are outside the map's 0..{self.sectors - 1}")
        if count == 0:
            return
        if state.__class__ is not State:
            state = State(state)
        i = bisect_right(self._starts, start) - 1          # the run holding `start`
        if not self._grow_neighbour(i, start, end, state):
            self._replace(i, start, end, state)

    def _grow_neighbour(self, i: int, start: int, end: int, state: State) -> bool:
        """The fast paths, when [start, end) lies inside run i: nothing to do, or a neighbour of
        `state` grows over it (the usual copy step forward or reverse). False when neither fits."""
        starts, states, counts = self._starts, self._states, self._counts
        n = len(starts)
        i_end = starts[i + 1] if i + 1 < n else self.sectors
        old = states[i]
        if end > i_end:
            return False
        if old is state:
            return True
        if start == starts[i] and i and states[i - 1] is state and end < i_end:
            starts[i] = end                                 # grow the run before
        elif end == i_end and start > starts[i] and i + 1 < n and states[i + 1] is state:
            starts[i + 1] = start                           # grow the run after
        else:
            return False
        counts[old] -= end - start
        counts[state] += end - start
        return True

    def _replace(self, i: int, start: int, end: int, state: State) -> None:
        """Replace runs i..j (j holds end - 1) with what is left of them around one run of `state`."""
        starts, states, counts = self._starts, self._states, self._counts
        n = len(starts)
        old, count = states[i], end - start
        j = bisect_right(starts, end - 1, i) - 1            # the run holding `end - 1`
        j_end = starts[j + 1] if j + 1 < n else self.sectors
        # take the old sectors out of the totals
        for k in range(i, j + 1):
            k_start = starts[k] if k > i else start
            k_end = (starts[k + 1] if k + 1 < n else self.sectors) if k < j else end
            counts[states[k]] -= k_end - k_start
        counts[state] += count
        # the runs that replace runs i..j: what is left of run i, the new run, what is left of run j
        new_starts: list[int] = []
        new_states: list[State] = []
        if starts[i] < start:
            new_starts.append(starts[i])
            new_states.append(old)
        new_starts.append(start)
        new_states.append(state)
        if end < j_end:
            new_starts.append(end)
            new_states.append(states[j])
        lo, hi = i, j + 1
        # merge with equal neighbours, inside and outside the replaced span
        if new_states[0] is state and lo > 0 and states[lo - 1] is state:
            lo -= 1
            new_starts[0] = starts[lo]
        if len(new_states) > 1 and new_states[1] is state and new_states[0] is state:
            del new_starts[1], new_states[1]
        if hi < n and states[hi] is new_states[-1]:
            hi += 1
        if len(new_states) > 1 and new_states[-1] is state and new_states[-2] is state:
            del new_starts[-1], new_states[-1]
        starts[lo:hi] = new_starts
        states[lo:hi] = new_states

    # -- questions --------------------------------------------------------------------------
    def state_at(self, lba: int) -> State:
        if not 0 <= lba < self.sectors:
            raise ValueError(f"sector {lba} is outside the map's 0..{self.sectors - 1}")
        return self._states[bisect_right(self._starts, lba) - 1]

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[Run]:
        """The maximal runs in order, clipped to [start, end)."""
        return self._runs(start, end, None, False)

    def runs_of(self, *states: State, start: int = 0, end: int | None = None,
                reverse: bool = False) -> Iterator[Run]:
        """The runs in any of `states`, clipped to [start, end); last first when `reverse`."""
        return self._runs(start, end, frozenset(states), reverse)

    def next_run_of(self, *states: State, at: int, reverse: bool = False) -> Run | None:
        """The first run in any of `states` that holds a sector at or after `at`, clipped to start
        there; with `reverse`, the last one holding a sector at or before `at` (inclusive), clipped
        to end at `at + 1`. None when there is none, or `at` is past the end it walks towards."""
        if reverse:
            if at < 0 or not self.sectors:
                return None
            return next(self._runs(0, min(at, self.sectors - 1) + 1, frozenset(states), True), None)
        if at >= self.sectors:
            return None
        return next(self._runs(max(at, 0), None, frozenset(states), False), None)

    def count(self, *states: State) -> int:
        """How many sectors are in any of `states` (each state counted once)."""
        return sum(self._counts[s] for s in set(states))

    def counts(self) -> dict[State, int]:
        return {s: self._counts[s] for s in _STATES}

    def _runs(self, start: int, end: int | None, wanted: frozenset | None, reverse: bool) -> Iterator[Run]:
        # Walk by sector position, finding the run again after each yield: the caller may change
        # the map between two runs, and then gets the map as it is now from there on.
        end = self.sectors if end is None else min(end, self.sectors)
        start = max(start, 0)
        starts, states = self._starts, self._states
        if reverse:
            pos = end                                   # exclusive
            while pos > start:
                k = bisect_right(starts, pos - 1) - 1
                if wanted is not None:
                    while k >= 0 and states[k] not in wanted:
                        k -= 1
                    if k < 0:
                        return
                k_end = starts[k + 1] if k + 1 < len(starts) else self.sectors
                r_start, r_end = max(starts[k], start), min(k_end, pos)
                if r_start >= r_end:
                    return
                yield Run(r_start, r_end - r_start, states[k])
                pos = r_start
        else:
            pos = start
            while pos < end:
                k = bisect_right(starts, pos) - 1
                if wanted is not None:
                    while k < len(states) and states[k] not in wanted:
                        k += 1
                    if k == len(states):
                        return
                k_end = starts[k + 1] if k + 1 < len(starts) else self.sectors
                r_start, r_end = max(starts[k], pos), min(k_end, end)
                if r_start >= r_end:
                    return
                yield Run(r_start, r_end - r_start, states[k])
                pos = r_end

    # -- the usual object protocol ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SectorMap):
            return NotImplemented
        return (self.sectors == other.sectors and self._starts == other._starts
                and self._states == other._states)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        shown = ", ".join(f"{r.start}+{r.count}{r.state.char}" for _, r in zip(range(8), self.runs()))
        more = ", ..." if len(self) > 8 else ""
        return f"SectorMap({self.sectors} sectors, {len(self)} runs: {shown}{more})"

    def copy(self) -> SectorMap:
        new = SectorMap.__new__(SectorMap)
        new.sectors = self.sectors
        new._starts = self._starts.copy()
        new._states = self._states.copy()
        new._counts = self._counts.copy()
        return new

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def from_runs(cls, sectors: int, runs: Iterable[tuple[int, int, State | int]]) -> SectorMap:
        """A map from (start, count, state) triples, as the record stores them. They must cover
        [0, sectors) exactly, without overlap; they may come in any order, and neighbours of
        the same state are merged."""
        triples = sorted((int(start), int(count), State(state)) for start, count, state in runs)
        smap = cls(sectors)
        starts: list[int] = []
        states: list[State] = []
        counts = [0] * len(_STATES)
        pos = 0
        for start, count, state in triples:
            if count <= 0:
                raise ValueError(f"the run at sector {start} has a count of {count}")
            if start != pos:
                what = "overlaps the one before" if start < pos else f"leaves sectors {pos}..{start - 1} out"
                raise ValueError(f"the run at sector {start} {what}")
            if not states or states[-1] is not state:
                starts.append(start)
                states.append(state)
            counts[state] += count
            pos = start + count
        if pos != sectors:
            raise ValueError(f"the runs end at sector {pos}, the map has {sectors} sectors")
        smap._starts, smap._states, smap._counts = starts, states, counts
        return smap

    # -- GNU ddrescue mapfiles --------------------------------------------------------------
    def to_ddrescue(self, *, sector_size: int = 2048, current_pos: int = 0, current_status: str = "+",
                    current_pass: int = 1, command_line: str = "",
                    comment_lines: Iterable[str] = ()) -> str:
        """The map as a GNU ddrescue mapfile; positions and sizes in bytes.

        `current_pos` is a sector (LBA), like every position of this class; it is written in
        bytes. `current_status` is one of ddrescue's ``?*/-FG+``. Each of `comment_lines` becomes
        a '#' line of its own."""
        if current_status not in tuple(_CURRENT_STATUS_CHARS):
            raise ValueError(f"{current_status!r} is not a ddrescue current_status "
                             f"(one of {_CURRENT_STATUS_CHARS!r})")
        if sector_size <= 0 or current_pos < 0 or current_pass < 1:
            raise ValueError("sector_size and current_pass must be positive, current_pos not negative")
        from .. import __version__   # the package root only: no upward import
        lines = [f"# Mapfile. Created by acquire version {__version__}"]
        if command_line:
            lines.append(f"# Command line: {_one_line(command_line)}")
        for comment in comment_lines:
            for part in str(comment).splitlines() or [""]:
                lines.append(part if part.startswith("#") else f"# {part}")
        # the widths follow ddrescue 1.27's own mapfiles ("0x%08llX     %c               %d")
        for run in self.runs_of(State.NOT_RECORDED):
            lines.append(f"{_NOT_RECORDED_COMMENT} 0x{run.start * sector_size:08X}  0x{run.count * sector_size:08X}")
        lines.append("# current_pos  current_status  current_pass")
        lines.append(f"0x{current_pos * sector_size:08X}     {current_status}               {current_pass}")
        lines.append("#      pos        size  status")
        for run in self.runs():
            lines.append(f"0x{run.start * sector_size:08X}  0x{run.count * sector_size:08X}  {run.state.char}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_ddrescue(cls, text: str, *, sector_size: int = 2048, sectors: int | None = None) -> SectorMap:
        """A map from a GNU ddrescue mapfile.

        Every block must start on a sector boundary and follow the one before without a gap or
        overlap, from position 0. `sectors` defaults to where the last block ends (which must
        then be a sector boundary). Given `sectors`, blocks past its end are cut there (ddrescue
        ends a map of unknown size with a block reaching 0x7FFFFFFFFFFFFFFF), and a map that
        ends early leaves the rest untried, as ddrescue itself does."""
        if sector_size <= 0:
            raise ValueError(f"sector size {sector_size} is not positive")
        status_seen = False
        triples: list[tuple[int, int, State]] = []
        not_recorded: list[tuple[int, int]] = []
        limit = None if sectors is None else sectors * sector_size
        pos = 0
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            where = f"mapfile line {number}"
            if line.startswith(_NOT_RECORDED_COMMENT):
                fields = line[len(_NOT_RECORDED_COMMENT):].split()
                if len(fields) >= 2:
                    not_recorded.append((_number(fields[0], where), _number(fields[1], where)))
                continue
            if not line or line.startswith("#"):
                continue
            if not status_seen:
                _status_line(line, where)
                status_seen = True
                continue
            block_pos, size, state = _block_line(line, where)
            if block_pos != pos:
                what = "overlaps the block before" if block_pos < pos else f"leaves a gap from byte {pos:#x}"
                raise ValueError(f"{where}: the block at byte {block_pos:#x} {what}")
            pos = block_pos + size
            if limit is not None:
                if block_pos >= limit:
                    continue
                size = min(size, limit - block_pos)
            if block_pos % sector_size or size % sector_size:
                raise ValueError(f"{where}: the block {block_pos:#x}+{size:#x} does not fall on "
                                 f"{sector_size}-byte sector boundaries")
            if size:
                triples.append((block_pos // sector_size, size // sector_size, state))
        if not status_seen:
            raise ValueError("not a ddrescue mapfile: no status line")
        if sectors is None:
            sectors = pos // sector_size
        else:
            covered = min(pos, sectors * sector_size) // sector_size
            if covered < sectors:
                triples.append((covered, sectors - covered, State.UNTRIED))
        smap = cls.from_runs(sectors, triples)
        for block_pos, size in not_recorded:     # only over what the blocks call finished
            first, last = block_pos // sector_size, min((block_pos + size) // sector_size, sectors)
            for run in list(smap.runs_of(State.FINISHED, start=first, end=last)):
                smap.set(run.start, run.count, State.NOT_RECORDED)
        return smap


def _status_line(line: str, where: str) -> None:
    """current_pos  current_status  [current_pass]; before ddrescue 1.20 there was no pass."""
    fields = line.split()
    if len(fields) not in (2, 3) or len(fields[1]) != 1 or fields[1] not in _CURRENT_STATUS_CHARS:
        raise ValueError(f"{where}: expected the status line 'current_pos current_status "
                         f"current_pass', found {line!r}")
    _number(fields[0], where)
    if len(fields) == 3:
        _number(fields[2], where)


def _block_line(line: str, where: str) -> tuple[int, int, State]:
    """pos  size  status: one block, in bytes."""
    fields = line.split()
    if len(fields) != 3 or len(fields[2]) != 1:
        raise ValueError(f"{where}: expected 'pos size status', found {line!r}")
    block_pos, size = _number(fields[0], where), _number(fields[1], where)
    state = _FROM_CHAR.get(fields[2])
    if state is None:
        raise ValueError(f"{where}: {fields[2]!r} is not a block status (one of {''.join(_CHARS)!r})")
    return block_pos, size, state


def _number(field: str, where: str) -> int:
    """A mapfile number: ddrescue reads them with "%lli", so hex (0x), octal (0) or decimal."""
    text = field.lower()
    try:
        if text.startswith("0x"):
            value = int(text[2:], 16)
        elif len(text) > 1 and text.startswith("0"):
            value = int(text[1:], 8)
        else:
            value = int(text, 10)
    except ValueError:
        raise ValueError(f"{where}: {field!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{where}: {field!r} is negative")
    return value


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())
