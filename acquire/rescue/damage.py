"""The damage model of the adaptive engine: which untried sectors are likely bad, and why.

All it knows is the sector map (so a resumed run re-learns exactly what it had) and the spiral
fitted from where failures fell (geometry.py). A sector is predicted bad when, looking along its
radius (the same angle on the neighbouring revolutions, up to `turns` away, inwards and
outwards), the nearest two sectors whose state is known are both failed: a scratch or a smudge
repeats at the same angle on every turn, and asking for two known neighbours intersects their
angular extents (a sector is 1/9 to 1/21 of a turn on a CD), so the prediction narrows to the
damage's real angle. Unknown (untried) neighbours are looked past, so a prediction can carry over
skipped arcs, but never further than `turns` revolutions from a confirmed failure: past that the
engine reads again and re-anchors. On a DVD or BD the error-correction unit fails together, so a
unit holding a failed sector is predicted bad as a whole.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from .coherence import coherence, fit_coherent
from .geometry import Geometry, chains, fit
from .sectormap import SectorMap, State

FAILED = (State.NON_TRIMMED, State.NON_SCRAPED, State.BAD)
_FAILED = frozenset(FAILED)
BAD, GOOD, UNKNOWN = 1, 0, -1
FIT_POINTS = 1600                # failures used for a fit, in blocks spread over the disc
FIT_BLOCK = 50


@dataclass(frozen=True, slots=True)
class Prediction:
    fraction: float              # of the unit's samples predicted bad (0..1)
    share: float                 # of the predicted-bad samples of this unit and its two neighbours
    source: int | None           # a failed LBA that the prediction rests on
    turns: int                   # how many revolutions away that failure is

    @property
    def likely_bad(self) -> bool:
        return max(self.fraction, self.share) >= 0.5

    def because(self) -> str:
        if self.source is None:
            return "its error-correction unit failed"
        return f"failed LBA {self.source} lies at the same angle {self.turns} turn(s) away"


NO_PREDICTION = Prediction(0.0, 0.0, None, 0)


class DamageModel:
    def __init__(self, smap: SectorMap, family: str, unit: int, *, turns: int = 12, depth: int = 2,
                 prior: Geometry | None = None) -> None:
        self.smap, self.family, self.turns, self.depth = smap, family, turns, depth
        self.geom = prior or Geometry.nominal(family)
        self._runs_at_fit = -1
        self.fits = 0
        self.set_unit(unit)

    def set_unit(self, unit: int) -> None:
        """The failure unit: the ECC unit, or 1 once the drive is seen to return partial units."""
        self.unit = max(1, unit)
        self.samples = max(8, self.unit)       # at least one a sector: an intersection is narrow
        self.tolerance = 0.05 if self.unit == 1 else 0.5

    # -- learning ------------------------------------------------------------------------------
    def failure_points(self) -> list[float]:
        points = [(r.start + r.end) / 2 for r in self.smap.runs_of(*FAILED)]
        if len(points) > FIT_POINTS:
            # blocks of neighbours spread over the disc: a chain needs its neighbouring turns
            blocks = FIT_POINTS // FIT_BLOCK
            step = (len(points) - FIT_BLOCK) / (blocks - 1)
            points = [x for i in range(blocks) for x in points[int(i * step):int(i * step) + FIT_BLOCK]]
        return points

    def failed_units(self) -> list[tuple[int, int]]:
        """Each ECC unit holding a failed sector, as (start, end), when it is alone (two units side
        by side are a turn or more at a DVD's inner edge: no angle to tell)."""
        units: list[int] = []
        for r in self.smap.runs_of(*FAILED):
            for u in range(_down(r.start, self.unit), r.end, self.unit):
                if not units or units[-1] != u:
                    units.append(u)
        alone = [u for i, u in enumerate(units) if (i == 0 or units[i - 1] != u - self.unit)
                 and (i + 1 == len(units) or units[i + 1] != u + self.unit)]
        return [(u, u + self.unit) for u in alone]

    def learn(self, *, force: bool = False) -> None:
        """Refit the spiral when enough new failures have come in (every one at first)."""
        runs = sum(1 for _ in self.smap.runs_of(*FAILED)) if force or self._runs_at_fit < 64 else None
        if runs is None:
            runs = len(self.smap) // 2
        due = force or runs != self._runs_at_fit and (runs < 64 or runs >= self._runs_at_fit * 1.25)
        if not due:
            return
        self._runs_at_fit = runs
        if self.unit > 1:            # failures as ECC units: fit their intervals, not their centres
            intervals = self.failed_units()
            candidates = [self.geom, fit_coherent(intervals, self.geom)]
            points = [(u + v) / 2 for u, v in intervals]
            if len(points) >= 3:           # the chains of unit centres, when units are narrow enough
                candidates.append(fit(points, self.geom, max_turns=self.turns * 2))
            self.geom = max(candidates, key=lambda g: coherence(intervals, g))     # ties: the earlier
            self.fits += 1
            return
        points = self.failure_points()
        if len(points) >= 3:
            new = fit(points, self.geom, max_turns=self.turns * 2)
            # keep whichever spiral puts more failures on radial lines: a refit never unlearns
            if new != self.geom and _linked(points, new, self.turns) >= _linked(points, self.geom, self.turns):
                self.geom = new
            self.fits += 1

    # -- questions ----------------------------------------------------------------------------
    def near_damage(self, start: int, end: int) -> bool:
        """Any failure within `turns` revolutions (in LBA) of [start, end)."""
        reach = int(self.turns * self.geom.sectors_per_rev(end) * 1.1) + 2 * self.unit
        lo, hi = max(0, start - reach), min(self.smap.sectors, end + reach)
        return next(self.smap.runs_of(*FAILED, start=lo, end=hi), None) is not None

    def state_near(self, x: float, tol: float) -> int:
        """BAD if a failed sector covers [x - tol, x + tol], else UNKNOWN if an untried one does, else GOOD."""
        smap = self.smap
        lo, hi = max(0, math.floor(x - tol)), min(smap.sectors, math.floor(x + tol) + 1)
        if lo >= hi:
            return UNKNOWN
        starts, states = smap._starts, smap._states         # read-only; a hot path
        k = bisect_right(starts, lo) - 1
        seen_untried = False
        n = len(starts)
        while k < n and starts[k] < hi:
            s = states[k]
            if s in _FAILED:
                return BAD
            if s is State.UNTRIED:
                seen_untried = True
            k += 1
        return UNKNOWN if seen_untried else GOOD

    def sample(self, x: float, directions: tuple[int, ...]) -> tuple[bool, int | None, int]:
        """Is the point at (fractional) LBA x predicted bad? With the failed LBA and turns it rests on."""
        found: list[tuple[int, float, int]] = []
        for d in directions:
            got = 0
            for k in range(1, self.turns + 1):
                y = self.geom.same_angle(x, d * k)
                if not 0 <= y < self.smap.sectors:
                    break
                state = self.state_near(y, self.tolerance + 0.01 * k)
                if state == UNKNOWN:
                    continue
                if state == GOOD:
                    return False, None, 0
                found.append((state, y, k))
                got += 1
                if got == self.depth:
                    break
        if not found:
            return False, None, 0
        _, y, k = found[0]
        return True, int(y), k

    def predict(self, start: int, count: int, directions: tuple[int, ...] = (-1,), *,
                share: bool = True) -> Prediction:
        """How likely the unit [start, start+count) is bad, from its ECC unit and its radius."""
        if next(self.smap.runs_of(*FAILED, start=_down(start, self.unit),
                                  end=min(self.smap.sectors, _down(start, self.unit) + self.unit)), None):
            if self.unit > 1:
                return Prediction(1.0, 1.0, None, 0)
        own, src, turns = self.bad_samples(start, count, directions)
        if not own:
            return NO_PREDICTION
        n = self.samples
        if not share:
            return Prediction(own / n, 0.0, src, turns)
        around = own
        for s in (start - count, start + count):
            if 0 <= s and s + count <= self.smap.sectors:
                around += self.bad_samples(s, count, directions)[0]
        return Prediction(own / n, own / around, src, turns)

    def bad_samples(self, start: int, count: int, directions) -> tuple[int, int | None, int]:
        n, bad, src, turns = self.samples, 0, None, 0
        for i in range(n):
            hit, y, k = self.sample(start + (i + 0.5) * count / n, directions)
            if hit:
                bad += 1
                if src is None:
                    src, turns = y, k
        return bad, src, turns


def _linked(points: list[float], geom: Geometry, turns: int) -> int:
    return sum(len(c) for c in chains(points, geom, max_turns=2 * turns, tolerance=0.12) if len(c) >= 3)


def _down(lba: int, unit: int) -> int:
    return lba - lba % unit
