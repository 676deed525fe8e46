"""Which failed sectors to read again first, learnt from this disc's reads.

When a drive fails sector by sector (a CD; a DVD or BD drive that returns the good sectors of a
failed ECC block), the reads alone still owed and the retries are most of a damaged disc's drive
time, at 8 to 30 s a failure. Whether a failed sector reads on a second try depends on where it
lies in the damage, and how differs with the damage:

- a narrow scratch on a CD crosses each turn in one to three sectors: a crossing of one sector is
  its bad core, the ends of a wider one are its marginal edges (they read on a retry far more often);
- a ring, edge rot or dye fade fails hundreds of sectors in a row: their insides never read, the
  lone failures beside them (a speck, a flaky sector) often do;
- a smudge or a fingerprint: marginal all over.

So each sector still owed a read is in one class by the run of not-finished sectors it lies in:
lone (a run of one), edge (an end of a longer run), inner (the rest); the next reads go to the class
and the attempt whose reads alone have succeeded most often on this disc (with a prior, so a
class not yet tried is tried), a few at a time, and the classes are re-drawn after each read that succeeds (its
neighbours become edges). Every sector still gets every read it is owed: only the order changes.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from .sectormap import SectorMap, State

LONE, EDGE, INNER = "lone", "edge", "inner"
CLASSES = (LONE, EDGE, INNER)          # the order on a tie (no reads yet: lone first, as before)
PRIOR_RATE, PRIOR_WEIGHT = 0.25, 2.0   # as if each class had read 1 in 4 of 2 reads: tried before written off
CHUNK = 16                             # reads before the classes are ranked again
HOLD = 1.5                             # the current class and attempt go on while within this factor of the best
NOT_DAMAGE = (State.FINISHED, State.NOT_RECORDED)


def class_at(smap: SectorMap, lba: int) -> str:
    """The class of a not-finished sector: lone, edge or inner, by whether its neighbours are
    damage (a not-finished state) or not (finished, not recorded, the disc's ends)."""
    damaged = sum(0 <= x < smap.sectors and smap.state_at(x) not in NOT_DAMAGE for x in (lba - 1, lba + 1))
    return (LONE, EDGE, INNER)[damaged]


def classify(smap: SectorMap, wanted: Iterable[int]) -> dict[int, str]:
    """lba -> class, for the `wanted` sectors (each not finished)."""
    return {x: class_at(smap, x) for x in wanted}


class YieldQueue:
    """The sectors still owed a read, by (class, attempt), each kept in LBA order, so that a
    chunk is taken from where the head is in O(log n) and a sector moves in O(n) memmove: a BD
    with 100,000 failed sectors makes 300,000 moves."""

    def __init__(self) -> None:
        self.lists: dict[tuple[str, int], list[int]] = {}
        self.key_of: dict[int, tuple[str, int]] = {}

    def __bool__(self) -> bool:
        return bool(self.key_of)

    def put(self, lba: int, key: tuple[str, int]) -> None:
        if self.key_of.get(lba) == key:
            return
        self.drop(lba)
        insort(self.lists.setdefault(key, []), lba)
        self.key_of[lba] = key

    def drop(self, lba: int) -> None:
        key = self.key_of.pop(lba, None)
        if key is None:
            return
        lbas = self.lists[key]
        del lbas[bisect_left(lbas, lba)]
        if not lbas:
            del self.lists[key]

    def take(self, key: tuple[str, int], pos: int, n: int) -> list[int]:
        """Up to n sectors of `key` in LBA order from `pos`, going round to the start."""
        lbas = self.lists[key]
        i = bisect_left(lbas, pos)
        out = lbas[i:i + n]
        return out + lbas[:n - len(out)] if len(out) < n else out


class YieldStats:
    """What this disc's reads have shown: per class and attempt (a flaky sector reads after a set
    number of failures, so the second retry of an edge is another question than its first), drawn
    towards the class's first reads alone or its retries (the first also find the good sectors a
    failed read of several hid, the retries only flaky ones), the rate the next read is expected
    to succeed at."""

    def __init__(self) -> None:
        self.reads: dict[tuple[str, object], list[int]] = {}     # (class, key) -> [reads, good]

    def add(self, cls: str, attempt: int, ok: bool) -> None:
        for key in (attempt, _kind(attempt), None):
            n = self.reads.setdefault((cls, key), [0, 0])
            n[0] += 1
            n[1] += ok

    def _rate(self, cls: str, key: object, prior: float) -> float:
        n, good = self.reads.get((cls, key), (0, 0))
        return (good + prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)

    def rate(self, cls: str, attempt: int | None = None) -> float:
        """The class's rate over all its reads; for an attempt, that attempt's reads drawn towards
        the class's reads of its kind (first reads alone, or retries), those towards the prior."""
        if attempt is None:
            return self._rate(cls, None, PRIOR_RATE)
        return self._rate(cls, attempt, self._rate(cls, _kind(attempt), PRIOR_RATE))

    def best(self, buckets: Iterable[tuple[str, int]]) -> tuple[str, int]:
        """The (class, attempt) likeliest to read; on a tie the class likelier over all, then the
        fewer attempts, then lone before edge before inner."""
        return max(buckets, key=lambda b: (round(self.rate(*b), 9), round(self.rate(b[0]), 9), -b[1],
                                           -CLASSES.index(b[0])))


def _kind(attempt: int) -> str:
    return "alone" if attempt == 0 else "retry"
