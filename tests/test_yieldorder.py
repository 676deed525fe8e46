"""The yield order of the last reads: classes by the run a failed sector lies in, and rates learnt
from this disc's reads (acquire/rescue/yieldorder.py)."""
from hypothesis import given, strategies as st

from acquire.rescue.sectormap import SectorMap, State
from acquire.rescue.yieldorder import EDGE, INNER, LONE, PRIOR_RATE, YieldStats, classify

F, U, S, B, N = State.FINISHED, State.UNTRIED, State.NON_SCRAPED, State.BAD, State.NOT_RECORDED


def test_classes_by_the_run_of_not_finished_sectors():
    # 0-9 good | 10 bad | 11-19 good | 20-21 bad, untried | 22-29 good | 30-34 bad/non-scraped/untried
    # | 35-39 good | 40-41 bad then not recorded (no damage: a boundary) | 42-49 good
    smap = SectorMap.from_runs(50, [(0, 10, F), (10, 1, B), (11, 9, F), (20, 1, B), (21, 1, U), (22, 8, F),
                                    (30, 2, B), (32, 1, S), (33, 2, U), (35, 5, F), (40, 2, B), (42, 1, N),
                                    (43, 7, F)])
    got = classify(smap, [10, 20, 21, 30, 31, 32, 33, 34, 40, 41])
    assert got == {10: LONE, 20: EDGE, 21: EDGE, 30: EDGE, 31: INNER, 32: INNER, 33: INNER, 34: EDGE,
                   40: EDGE, 41: EDGE}


def test_a_run_at_the_ends_of_the_disc_has_its_edges_there():
    smap = SectorMap.from_runs(10, [(0, 3, B), (3, 5, F), (8, 2, U)])
    assert classify(smap, [0, 1, 2, 8, 9]) == {0: EDGE, 1: INNER, 2: EDGE, 8: EDGE, 9: EDGE}
    assert classify(SectorMap.from_runs(1, [(0, 1, B)]), [0]) == {0: LONE}


@given(st.lists(st.sampled_from([F, U, S, B, N]), min_size=1, max_size=80), st.data())
def test_classify_agrees_with_a_sector_by_sector_reading(states, data):
    smap = SectorMap.from_runs(len(states), [(i, 1, s) for i, s in enumerate(states)])
    damaged = [i for i, s in enumerate(states) if s not in (F, N)]
    wanted = data.draw(st.lists(st.sampled_from(damaged), unique=True)) if damaged else []

    def bad(i):
        return 0 <= i < len(states) and states[i] not in (F, N)
    expected = {x: LONE if not bad(x - 1) and not bad(x + 1) else INNER if bad(x - 1) and bad(x + 1) else EDGE
                for x in wanted}
    assert classify(smap, wanted) == expected


def test_a_class_not_yet_read_is_tried_before_one_that_keeps_failing():
    stats = YieldStats()
    assert stats.rate(LONE) == stats.rate(EDGE, 1) == PRIOR_RATE
    assert stats.best([(EDGE, 0), (LONE, 0), (INNER, 0)]) == (LONE, 0)        # no reads: lone first
    for _ in range(6):
        stats.add(LONE, 0, False)
    assert stats.best([(EDGE, 0), (LONE, 0)]) == (EDGE, 0)
    for ok in (True, False, True):
        stats.add(EDGE, 0, ok)
    assert stats.rate(EDGE, 0) > PRIOR_RATE > stats.rate(LONE, 0)


def test_an_attempt_not_yet_read_starts_from_its_class_rate():
    stats = YieldStats()
    for ok in (True, True, True, False):
        stats.add(EDGE, 1, ok)
    for _ in range(8):
        stats.add(LONE, 1, False)
    # the second retry of each class: no reads yet, each drawn from what its class showed
    assert stats.rate(EDGE, 2) > PRIOR_RATE > stats.rate(LONE, 2)
    assert stats.best([(LONE, 2), (EDGE, 2)]) == (EDGE, 2)
