"""The sector map: maximal runs, per-state totals, and GNU ddrescue mapfiles (ddrescuelog as the oracle)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from acquire.rescue.sectormap import Run, SectorMap, State

U, T, S, B, F = State.UNTRIED, State.NON_TRIMMED, State.NON_SCRAPED, State.BAD, State.FINISHED


def runs(smap: SectorMap) -> list[tuple[int, int, str]]:
    return [(r.start, r.count, r.state.char) for r in smap.runs()]


# -- State ---------------------------------------------------------------------------------
def test_states_use_ddrescue_block_status_characters_in_order_of_progress():
    assert [s.char for s in State] == ["?", "*", "/", "-", "+", "+"]
    assert [State.from_char(c) for c in "?*/-+"] == [U, T, S, B, F]
    assert U < T < S < B < F < State.NOT_RECORDED and U == 0


def test_not_recorded_is_written_finished_and_named_in_a_comment_that_reads_back():
    m = SectorMap(10, F)
    m.set(6, 4, State.NOT_RECORDED)
    text = m.to_ddrescue()
    assert "# not-recorded 0x00003000  0x00002000" in text.splitlines()
    assert "0x00003000  0x00002000  +" in text.splitlines()
    assert SectorMap.from_ddrescue(text) == m


def test_unknown_status_character_is_refused():
    with pytest.raises(ValueError):
        State.from_char("x")


# -- set: merging, splitting ----------------------------------------------------------------
def test_new_map_is_one_run_in_the_given_state():
    assert runs(SectorMap(10)) == [(0, 10, "?")]
    assert runs(SectorMap(10, F)) == [(0, 10, "+")]
    assert len(SectorMap(0)) == 0 and list(SectorMap(0).runs()) == []


def test_set_in_the_middle_splits_one_run_into_three():
    m = SectorMap(100)
    m.set(40, 10, B)
    assert runs(m) == [(0, 40, "?"), (40, 10, "-"), (50, 50, "?")]
    assert len(m) == 3


def test_set_at_either_edge_splits_into_two():
    m = SectorMap(100)
    m.set(0, 10, F)
    m.set(90, 10, B)
    assert runs(m) == [(0, 10, "+"), (10, 80, "?"), (90, 10, "-")]


def test_sequential_appends_grow_one_finished_run():
    m = SectorMap(1000)
    for lba in range(0, 1000, 32):
        m.set(lba, min(32, 1000 - lba), F)
        assert len(m) == (1 if lba + 32 >= 1000 else 2)
    assert runs(m) == [(0, 1000, "+")]


def test_reverse_appends_grow_the_run_after():
    m = SectorMap(100)
    for lba in range(90, -1, -10):
        m.set(lba, 10, F)
    assert runs(m) == [(0, 100, "+")]


def test_set_merges_with_equal_neighbours_on_both_sides():
    m = SectorMap(30)
    m.set(0, 10, F)
    m.set(20, 10, F)
    m.set(10, 10, F)
    assert runs(m) == [(0, 30, "+")]


def test_set_across_several_runs_replaces_them():
    m = SectorMap(100)
    for lba in range(10, 90, 10):
        m.set(lba, 5, B)
    m.set(12, 70, S)
    assert runs(m) == [(0, 10, "?"), (10, 2, "-"), (12, 70, "/"), (82, 3, "-"), (85, 15, "?")]


def test_set_over_a_run_of_the_same_state_and_beyond_merges():
    m = SectorMap(100)
    m.set(10, 20, B)
    m.set(20, 30, B)
    assert runs(m) == [(0, 10, "?"), (10, 40, "-"), (50, 50, "?")]


def test_set_to_the_same_state_changes_nothing():
    m = SectorMap(100)
    m.set(10, 20, B)
    before = m.copy()
    m.set(15, 5, B)
    assert m == before


def test_set_of_zero_sectors_changes_nothing():
    m = SectorMap(10)
    m.set(5, 0, F)
    assert runs(m) == [(0, 10, "?")]


def test_whole_map_set_is_one_run():
    m = SectorMap(50)
    m.set(5, 5, B)
    m.set(30, 5, T)
    m.set(0, 50, F)
    assert runs(m) == [(0, 50, "+")] and m.count(F) == 50


@pytest.mark.parametrize("start,count", [(-1, 2), (0, 11), (10, 1), (5, -1), (11, 0)])
def test_set_outside_the_map_is_refused(start, count):
    m = SectorMap(10)
    with pytest.raises(ValueError):
        m.set(start, count, F)
    assert runs(m) == [(0, 10, "?")]


def test_set_accepts_a_plain_int_state_and_refuses_a_wrong_one():
    m = SectorMap(10)
    m.set(0, 5, 4)
    assert m.state_at(0) is F
    with pytest.raises(ValueError):
        m.set(0, 5, 7)
    with pytest.raises(ValueError):
        m.set(0, 5, -1)


# -- questions -------------------------------------------------------------------------------
def sample() -> SectorMap:
    # 0-9 +, 10-19 ?, 20-24 -, 25-29 +, 30-39 /, 40-49 ?
    m = SectorMap(50)
    m.set(0, 10, F)
    m.set(20, 5, B)
    m.set(25, 5, F)
    m.set(30, 10, S)
    return m


def test_state_at_each_sector_and_outside():
    m = sample()
    assert [m.state_at(x) for x in (0, 9, 10, 19, 20, 24, 25, 29, 30, 39, 40, 49)] == \
        [F, F, U, U, B, B, F, F, S, S, U, U]
    for lba in (-1, 50):
        with pytest.raises(ValueError):
            m.state_at(lba)


def test_runs_are_clipped_to_the_range_asked():
    m = sample()
    assert list(m.runs(5, 22)) == [Run(5, 5, F), Run(10, 10, U), Run(20, 2, B)]
    assert list(m.runs(12, 14)) == [Run(12, 2, U)]
    assert list(m.runs(45)) == [Run(45, 5, U)]
    assert list(m.runs(20, 20)) == [] and list(m.runs(-5, 3)) == [Run(0, 3, F)]
    assert list(m.runs(48, 500)) == [Run(48, 2, U)]


def test_runs_of_filters_states_and_walks_backwards_when_asked():
    m = sample()
    assert list(m.runs_of(F)) == [Run(0, 10, F), Run(25, 5, F)]
    assert list(m.runs_of(U, B, start=15)) == [Run(15, 5, U), Run(20, 5, B), Run(40, 10, U)]
    assert list(m.runs_of(U, B, start=15, end=42, reverse=True)) == [Run(40, 2, U), Run(20, 5, B), Run(15, 5, U)]
    assert list(m.runs_of(T)) == []


def test_runs_of_sees_changes_made_while_walking():
    m = sample()
    seen = []
    for run in m.runs_of(U, B):
        seen.append(run)
        m.set(run.start, run.count, F)
        if run.start == 10:
            m.set(20, 5, F)           # the bad run ahead is read before the walk reaches it
    assert seen == [Run(10, 10, U), Run(40, 10, U)]
    assert m.count(U, B) == 0 and len(m) == 3


def test_next_run_of_forward_clips_to_start_at_the_position():
    m = sample()
    assert m.next_run_of(U, at=0) == Run(10, 10, U)
    assert m.next_run_of(U, at=15) == Run(15, 5, U)
    assert m.next_run_of(U, at=20) == Run(40, 10, U)
    assert m.next_run_of(F, B, at=12) == Run(20, 5, B)
    assert m.next_run_of(T, at=0) is None
    assert m.next_run_of(U, at=50) is None and m.next_run_of(U, at=10_000) is None
    assert m.next_run_of(F, at=-5) == Run(0, 10, F)


def test_next_run_of_reverse_clips_to_end_after_the_position():
    m = sample()
    assert m.next_run_of(U, at=49, reverse=True) == Run(40, 10, U)
    assert m.next_run_of(U, at=44, reverse=True) == Run(40, 5, U)
    assert m.next_run_of(U, at=39, reverse=True) == Run(10, 10, U)
    assert m.next_run_of(U, at=15, reverse=True) == Run(10, 6, U)
    assert m.next_run_of(U, at=9, reverse=True) is None
    assert m.next_run_of(F, at=0, reverse=True) == Run(0, 1, F)
    assert m.next_run_of(F, at=-1, reverse=True) is None
    assert m.next_run_of(U, at=10_000, reverse=True) == Run(40, 10, U)


def test_counts_per_state_and_for_several_states():
    m = sample()
    assert m.counts() == {U: 20, T: 0, S: 10, B: 5, F: 15, State.NOT_RECORDED: 0}
    assert m.count(F) == 15 and m.count(U, B) == 25 and m.count(U, U) == 20 and m.count() == 0


def test_copy_is_independent_and_equal():
    m = sample()
    c = m.copy()
    assert c == m and c is not m
    c.set(0, 1, B)
    assert c != m and m.state_at(0) is F and m.count(B) == 5


def test_maps_of_different_size_are_not_equal():
    assert SectorMap(10) != SectorMap(11) and SectorMap(10) == SectorMap(10)
    assert SectorMap(10) != "map"


def test_a_mostly_finished_bd_xl_costs_runs_not_sectors():
    sectors = 48_878_592  # BD-XL 100 GB
    m = SectorMap(sectors)
    m.set(0, sectors, F)
    for lba in range(1_000_000, 1_000_100, 10):
        m.set(lba, 3, B)
    assert len(m) == 21 and m.count(B) == 30 and m.count(F) == sectors - 30


# -- from_runs -------------------------------------------------------------------------------
def test_from_runs_merges_neighbours_and_accepts_any_order_and_int_states():
    m = SectorMap.from_runs(30, [(20, 10, 4), (0, 10, 0), (10, 10, 0)])
    assert runs(m) == [(0, 20, "?"), (20, 10, "+")]
    assert m.counts()[U] == 20 and len(m) == 2


@pytest.mark.parametrize("bad", [
    [(0, 10, 0), (12, 18, 0)],          # a gap
    [(0, 10, 0), (8, 22, 0)],           # an overlap
    [(0, 10, 0), (10, 10, 0)],          # short
    [(0, 10, 0), (10, 30, 0)],          # too long
    [(0, 0, 0), (0, 30, 0)],            # an empty run
    [(0, 30, 9)],                       # no such state
    [],
])
def test_from_runs_refuses_runs_that_do_not_tile_the_map(bad):
    with pytest.raises(ValueError):
        SectorMap.from_runs(30, bad)


# -- model-based properties --------------------------------------------------------------------
def check_invariants(m: SectorMap, model: list[State] | None = None) -> None:
    rs = list(m.runs())
    assert len(rs) == len(m)
    pos = 0
    for a, b in zip(rs, rs[1:]):
        assert a.state != b.state, "runs are maximal"
    for r in rs:
        assert r.start == pos and r.count > 0, "runs are disjoint and cover the map"
        pos = r.end
    assert pos == m.sectors
    totals = {s: 0 for s in State}
    for r in rs:
        totals[r.state] += r.count
    assert m.counts() == totals
    if model is not None:
        assert [m.state_at(i) for i in range(m.sectors)] == model
        expanded = [r.state for r in rs for _ in range(r.count)]
        assert expanded == model


set_calls = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n), st.sampled_from(list(State))), max_size=40)))


@given(set_calls)
def test_any_sequence_of_sets_agrees_with_a_list_of_sectors(case):
    n, calls = case
    m, model = SectorMap(n), [U] * n
    for start, count, state in calls:
        count = min(count, n - start)
        m.set(start, count, state)
        model[start:start + count] = [state] * count
        check_invariants(m, model)


class SectorMapMachine(RuleBasedStateMachine):
    @initialize(n=st.integers(1, 80), state=st.sampled_from(list(State)))
    def start(self, n, state):
        self.m, self.model = SectorMap(n, state), [state] * n

    @rule(data=st.data(), state=st.sampled_from(list(State)))
    def set(self, data, state):
        n = self.m.sectors
        start = data.draw(st.integers(0, n - 1))
        count = data.draw(st.integers(0, n - start))
        self.m.set(start, count, state)
        self.model[start:start + count] = [state] * count

    @rule(data=st.data(), states=st.sets(st.sampled_from(list(State)), min_size=1), reverse=st.booleans())
    def next_run_of(self, data, states, reverse):
        n = self.m.sectors
        at = data.draw(st.integers(-2, n + 2))
        got = self.m.next_run_of(*states, at=at, reverse=reverse)
        # the model: the nearest sector in those states, and the stretch of equal state from it
        lbas = range(min(at, n - 1), -1, -1) if reverse else range(max(at, 0), n)
        first = next((i for i in lbas if self.model[i] in states), None)
        if first is None:
            assert got is None
            return
        s = self.model[first]
        lo = hi = first
        if reverse:
            while lo > 0 and self.model[lo - 1] == s:
                lo -= 1
        else:
            while hi + 1 < n and self.model[hi + 1] == s:
                hi += 1
        assert got == Run(lo, hi - lo + 1, s)

    @rule(data=st.data(), states=st.sets(st.sampled_from(list(State)), min_size=1), reverse=st.booleans())
    def runs_of(self, data, states, reverse):
        n = self.m.sectors
        start = data.draw(st.integers(-1, n))
        end = data.draw(st.integers(start, n + 1))
        got = list(self.m.runs_of(*states, start=start, end=end, reverse=reverse))
        covered = [i for r in got for i in range(r.start, r.end)]
        expect = [i for i in range(max(start, 0), min(end, n)) if self.model[i] in states]
        assert sorted(covered) == expect
        assert all(self.model[i] == r.state for r in got for i in range(r.start, r.end))
        assert got == sorted(got, key=lambda r: r.start, reverse=reverse)

    @rule()
    def round_trip_through_copy_and_runs(self):
        assert self.m.copy() == self.m
        assert SectorMap.from_runs(self.m.sectors, [(r.start, r.count, r.state) for r in self.m.runs()]) == self.m

    @invariant()
    def runs_tile_the_map_and_match_the_model(self):
        if hasattr(self, "m"):
            check_invariants(self.m, self.model)
            for s in State:
                assert self.m.count(s) == self.model.count(s)


TestSectorMapMachine = SectorMapMachine.TestCase
TestSectorMapMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


# -- ddrescue mapfiles -----------------------------------------------------------------------
def random_map(n: int, calls) -> SectorMap:
    m = SectorMap(n)
    for start, count, state in calls:
        m.set(start, min(count, n - start), state)
    return m


@given(set_calls, st.sampled_from([512, 2048, 2352]), st.integers(0, 10**6),
       st.sampled_from(list("?*/-FG+")), st.integers(1, 99))
def test_to_ddrescue_then_from_ddrescue_gives_the_same_map(case, sector_size, pos, status, pass_no):
    m = random_map(*case)
    text = m.to_ddrescue(sector_size=sector_size, current_pos=pos, current_status=status,
                         current_pass=pass_no, command_line="acquire image sim:x disc.iso",
                         comment_lines=("case 17", "# already a comment", "two\nlines"))
    assert SectorMap.from_ddrescue(text, sector_size=sector_size) == m
    assert SectorMap.from_ddrescue(text, sector_size=sector_size, sectors=m.sectors) == m


def test_mapfile_looks_like_the_one_ddrescue_writes():
    m = SectorMap(16)
    m.set(0, 8, F)
    m.set(8, 1, B)
    text = m.to_ddrescue(current_pos=9, current_status="?", current_pass=1,
                         command_line="acquire image /dev/sr0 d.iso", comment_lines=["case 17"])
    assert text.splitlines() == [
        "# Mapfile. Created by acquire version 0.1.0",
        "# Command line: acquire image /dev/sr0 d.iso",
        "# case 17",
        "# current_pos  current_status  current_pass",
        "0x00004800     ?               1",
        "#      pos        size  status",
        "0x00000000  0x00004000  +",
        "0x00004000  0x00000800  -",
        "0x00004800  0x00003800  ?",
    ]


def test_to_ddrescue_refuses_an_unknown_current_status():
    with pytest.raises(ValueError):
        SectorMap(4).to_ddrescue(current_status="x")


# ddrescue 1.27's own mapfile of `ddrescue /dev/zero x.img x.map -s 2Mi`: the size was given, but
# the map still ends with a non-tried block to the largest position
DDRESCUE_MAPFILE = """\
# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue /dev/zero x.img x.map -s 2Mi
# Start time:   2026-11-24 09:43:57
# Current time: 2026-11-24 09:43:57
# Finished
# current_pos  current_status  current_pass
0x001F0000     +               1
#      pos        size  status
0x00000000  0x00200000  +
0x00200000  0x7FFFFFFFFFDFFFFF  ?
"""


def test_from_ddrescue_reads_ddrescues_own_map_cut_to_the_disc():
    m = SectorMap.from_ddrescue(DDRESCUE_MAPFILE, sectors=1024)
    assert runs(m) == [(0, 1024, "+")]
    m = SectorMap.from_ddrescue(DDRESCUE_MAPFILE, sectors=2048)
    assert runs(m) == [(0, 1024, "+"), (1024, 1024, "?")]


def test_from_ddrescue_without_sectors_needs_an_aligned_end():
    with pytest.raises(ValueError, match="sector boundaries"):
        SectorMap.from_ddrescue(DDRESCUE_MAPFILE)


def test_from_ddrescue_fills_a_short_map_with_untried_as_ddrescue_does():
    text = "0x0 ?\n0x0 0x1000 +\n"                       # pre-1.20 status line: no pass
    assert runs(SectorMap.from_ddrescue(text, sectors=5)) == [(0, 2, "+"), (2, 3, "?")]


@pytest.mark.parametrize("text,why", [
    ("0x0 + 1\n0x0 0x800 +\n0x1000 0x800 -\n", "gap"),
    ("0x0 + 1\n0x0 0x1000 +\n0x800 0x800 -\n", "overlaps"),
    ("0x0 + 1\n0x800 0x800 +\n", "gap"),
    ("0x0 + 1\n0x0 0x900 +\n", "boundaries"),
    ("0x0 + 1\n0x0 0x800 x\n", "block status"),
    ("0x0 + 1\n0x0 0x800\n", "pos size status"),
    ("0x0 + 1\n0x0 zz +\n", "not a number"),
    ("0x0 q 1\n", "status line"),
    ("# only comments\n", "no status line"),
])
def test_from_ddrescue_refuses_broken_mapfiles(text, why):
    with pytest.raises(ValueError, match=why):
        SectorMap.from_ddrescue(text)


def test_from_ddrescue_reads_decimal_and_octal_as_ddrescue_does():
    m = SectorMap.from_ddrescue("0 + 1\n0 2048 +\n04000 0x800 -\n", sectors=2)
    assert runs(m) == [(0, 1, "+"), (1, 1, "-")]


# -- ddrescuelog as an independent oracle -------------------------------------------------------
DDRESCUELOG = shutil.which("ddrescuelog")
needs_ddrescuelog = pytest.mark.skipif(DDRESCUELOG is None,
                                       reason="ddrescuelog is not installed (Debian: apt install gddrescue)")


def ddrescuelog(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([DDRESCUELOG, *args], input=stdin, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"ddrescuelog {' '.join(args)} refused our mapfile: {done.stderr}"
    return done.stdout


def listed(mapfile: Path, chars: str, sector_size: int = 2048) -> list[int]:
    return [int(x) for x in ddrescuelog(f"-b{sector_size}", f"-l{chars}", str(mapfile)).split()]


def damaged_map() -> SectorMap:
    m = SectorMap(3000)
    m.set(0, 3000, F)
    m.set(100, 7, B)
    m.set(1000, 1, B)
    m.set(1500, 40, T)
    m.set(1520, 3, B)
    m.set(2000, 64, S)
    m.set(2900, 100, U)
    m.set(2999, 1, B)
    return m


@needs_ddrescuelog
def test_ddrescuelog_lists_exactly_our_bad_sectors(tmp_path):
    m = damaged_map()
    path = tmp_path / "disc.map"
    path.write_text(m.to_ddrescue(current_status="-", current_pass=2, command_line="acquire test"))
    bad = [lba for r in m.runs_of(B) for lba in range(r.start, r.end)]
    assert listed(path, "-") == bad == [*range(100, 107), 1000, 1520, 1521, 1522, 2999]


@needs_ddrescuelog
@pytest.mark.parametrize("state", list(State))
def test_ddrescuelog_lists_exactly_our_sectors_of_each_state(tmp_path, state):
    m = damaged_map()
    path = tmp_path / "disc.map"
    path.write_text(m.to_ddrescue())
    assert listed(path, state.char) == [lba for r in m.runs_of(*same_char(state)) for lba in range(r.start, r.end)]


def same_char(state: State) -> list[State]:
    """The states a mapfile writes with `state`'s character (not recorded is written '+')."""
    return [s for s in State if s.char == state.char]


def si(size_bytes: int) -> str:
    """A size as ddrescuelog -t prints it: divided by 1000 while above 999999 (ddrescue's format_num)."""
    prefixes = iter(["k", "M", "G", "T", "P", "E"])
    unit = ""
    while size_bytes > 999_999:
        size_bytes //= 1000
        unit = next(prefixes)
    return f"{size_bytes} {unit}B"


@needs_ddrescuelog
def test_ddrescuelog_summary_agrees_with_our_counts(tmp_path):
    m = damaged_map()
    path = tmp_path / "disc.map"
    path.write_text(m.to_ddrescue(current_pos=1521, current_status="/"))
    summary = ddrescuelog("-t", str(path))
    names = {U: "non-tried", T: "non-trimmed", S: "non-scraped", B: "bad-sector", F: "rescued"}
    figures = {}
    for line in summary.splitlines():
        name, _, rest = line.strip().partition(":")
        if name in names.values():
            size, _, areas = rest.partition(",")
            figures[name] = (size.strip(), int(areas.split()[1]))
    assert figures == {name: (si(m.count(state) * 2048), len(list(m.runs_of(state))))
                       for state, name in names.items()}
    flat = " ".join(summary.split())
    assert f"current pos: {si(1521 * 2048)}, current status: scraping" in flat
    assert f"mapfile extent: {si(m.sectors * 2048)}, in {len(m)} area(s)" in flat


@needs_ddrescuelog
def test_ddrescuelog_rejects_what_we_reject(tmp_path):
    # the oracle agrees that a gap makes a mapfile invalid (exit 2: corrupt or invalid input)
    path = tmp_path / "gap.map"
    path.write_text("0x0 + 1\n0x0 0x800 +\n0x1000 0x800 -\n")
    done = subprocess.run([DDRESCUELOG, "-t", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    with pytest.raises(ValueError):
        SectorMap.from_ddrescue(path.read_text())


@needs_ddrescuelog
@settings(max_examples=25, deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_map_created_by_ddrescuelog_from_a_block_list_reads_back_the_same_blocks(case):
    # the other direction: ddrescuelog writes (-c: listed blocks finished, the others bad), we read
    n, good = case
    text = ddrescuelog("-b2048", f"-s{n * 2048}", "-c", "-", stdin="".join(f"{b}\n" for b in sorted(good)))
    m = SectorMap.from_ddrescue(text, sectors=n)
    assert [lba for r in m.runs_of(F) for lba in range(r.start, r.end)] == sorted(good)
    assert m.count(B) == n - len(good) and m.count(F) == len(good)


@needs_ddrescuelog
@settings(max_examples=25, deadline=None)
@given(set_calls)
def test_ddrescuelog_accepts_any_map_we_write_and_counts_the_same(tmp_path_factory, case):
    m = random_map(*case)
    path = tmp_path_factory.mktemp("maps") / "any.map"
    path.write_text(m.to_ddrescue())
    for state in State:
        assert listed(path, state.char) == [lba for r in m.runs_of(*same_char(state)) for lba in range(r.start, r.end)]

